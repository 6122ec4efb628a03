//! The DNS page: per domain the caller may see (all for an admin, a domain admin's own
//! otherwise), the records to publish so that mail and mail clients find this server
//! (`http::clientconfig::records`), and the domain's DKIM records, which the DKIM page
//! manages.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{gate, render, visible_domains, Chrome, Ctx, Need};
use crate::http::clientconfig::records::{records, Record};
use crate::http::clientconfig::Offer;

#[derive(Template)]
#[template(path = "dns.html")]
struct DnsPage {
    chrome: Chrome,
    host: String,
    domains: Vec<DomainRecords>,
    error: Option<String>,
}

struct DomainRecords {
    name: String,
    records: Vec<Record>,
    /// The DKIM TXT records (name, value) of the domain's keys.
    dkim: Vec<(String, String)>,
}

/// `GET /dns`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let offer = Offer::of(ctx.get_ref());
    let (names, error) = match visible_domains(&ctx, &who) {
        Ok(d) => (d, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    let domains = names
        .into_iter()
        .map(|name| {
            let dkim = ctx
                .store
                .dkim_list(&name)
                .unwrap_or_default()
                .iter()
                .map(|k| (k.dns_name(), k.dns_record()))
                .collect();
            DomainRecords {
                records: records(&offer, &name),
                dkim,
                name,
            }
        })
        .collect();
    let t = DnsPage {
        chrome: Chrome::new(&req, &who, "/dns"),
        host: offer.host.clone(),
        domains,
        error,
    };
    render(&req, &t.chrome, &t)
}
