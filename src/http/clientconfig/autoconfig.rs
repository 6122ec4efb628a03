//! Thunderbird autoconfig: the Mozilla ISPDB format, `clientConfig` version 1.1, served
//! where Thunderbird looks for it on the domain's own servers:
//! `https://autoconfig.<domain>/mail/config-v1.1.xml?emailaddress=…` and
//! `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=…`.
//!
//! One `incomingServer` per IMAP and POP3 listener (implicit TLS first, then STARTTLS: the
//! client takes the first it can reach, RFC 8314 §3.3 prefers implicit TLS) and one
//! `outgoingServer` per submission listener, all at `hostname`; `socketType` is `SSL` for
//! implicit TLS and `STARTTLS` otherwise; never plain, as the server refuses passwords
//! without TLS by default. The username is the address the client sent (escaped by the
//! XML writer), or Thunderbird's `%EMAILADDRESS%` placeholder when it sent none: logins
//! are full addresses.
//!
//! With an `https` listener, the document also carries the `addressBook type="carddav"` and
//! `calendar type="caldav"` elements of the format (children of `clientConfig`, after
//! `emailProvider`: `username`, `authentication` `http-basic`, `serverURL`), pointing at
//! `/dav/`, where clients find their principal (`current-user-principal`).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::xml::{self, W};
use super::{domain_of_host, hosted, not_hosted, plain, Address, Endpoint, Offer};
use crate::actors::ServerContext;

/// The query Thunderbird sends.
#[derive(Debug, serde::Deserialize)]
pub struct Query {
    emailaddress: Option<String>,
}

/// `GET …/config-v1.1.xml[?emailaddress=…]`.
pub async fn serve(
    ctx: web::Data<Arc<ServerContext>>,
    req: HttpRequest,
    query: web::Query<Query>,
) -> HttpResponse {
    let given = query
        .emailaddress
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    let (domain, username) = match given {
        Some(s) => match Address::parse(s) {
            Some(a) => (a.domain, a.full),
            None => return plain(400, "emailaddress is not an address\n"),
        },
        None => match domain_of_host(&req) {
            Some(d) => (d, "%EMAILADDRESS%".to_string()),
            None => return not_hosted(),
        },
    };
    match hosted(&ctx, &domain).await {
        Ok(true) => {}
        Ok(false) => return not_hosted(),
        Err(resp) => return resp,
    }
    match document(&Offer::of(&ctx), &domain, &username) {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!("autoconfig: {e}");
            plain(500, "the answer could not be written\n")
        }
    }
}

/// The `clientConfig` document for `domain`, with `username` as every server's login.
pub fn document(offer: &Offer, domain: &str, username: &str) -> std::io::Result<Vec<u8>> {
    xml::document(|w| {
        w.create_element("clientConfig")
            .with_attribute(("version", "1.1"))
            .write_inner_content(|w| {
                w.create_element("emailProvider")
                    .with_attribute(("id", domain))
                    .write_inner_content(|w| {
                        xml::text(w, "domain", domain)?;
                        xml::text(w, "displayName", &format!("{domain} mail"))?;
                        xml::text(w, "displayShortName", domain)?;
                        for ep in offer.imap_endpoints() {
                            server(w, "incomingServer", "imap", &offer.host, ep, username)?;
                        }
                        for ep in offer.pop3_endpoints() {
                            server(w, "incomingServer", "pop3", &offer.host, ep, username)?;
                        }
                        for ep in offer.smtp_endpoints() {
                            server(w, "outgoingServer", "smtp", &offer.host, ep, username)?;
                        }
                        Ok(())
                    })?;
                if let Some(url) = dav_url(offer) {
                    for (element, kind) in [("addressBook", "carddav"), ("calendar", "caldav")] {
                        w.create_element(element)
                            .with_attribute(("type", kind))
                            .write_inner_content(|w| {
                                xml::text(w, "username", username)?;
                                xml::text(w, "authentication", "http-basic")?;
                                xml::text(w, "serverURL", &url)
                            })?;
                    }
                }
                Ok(())
            })?;
        Ok(())
    })
}

/// The CalDAV/CardDAV root on the `https` listener (`https://host[:port]/dav/`), when
/// there is one.
pub fn dav_url(offer: &Offer) -> Option<String> {
    let port = offer.https?;
    Some(if port == 443 {
        format!("https://{}/dav/", offer.host)
    } else {
        format!("https://{}:{port}/dav/", offer.host)
    })
}

fn server(
    w: &mut W,
    element: &str,
    kind: &str,
    host: &str,
    ep: Endpoint,
    username: &str,
) -> std::io::Result<()> {
    w.create_element(element)
        .with_attribute(("type", kind))
        .write_inner_content(|w| {
            xml::text(w, "hostname", host)?;
            xml::text(w, "port", &ep.port.to_string())?;
            let socket = if ep.implicit_tls { "SSL" } else { "STARTTLS" };
            xml::text(w, "socketType", socket)?;
            xml::text(w, "authentication", "password-cleartext")?;
            xml::text(w, "username", username)
        })?;
    Ok(())
}
