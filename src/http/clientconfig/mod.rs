//! Clients that configure themselves: the answers mail clients fetch to set up an account
//! from nothing but an address, on the public `http` and `https` listeners.
//!
//! | route | client | format |
//! |---|---|---|
//! | `GET /.well-known/autoconfig/mail/config-v1.1.xml`, `GET /mail/config-v1.1.xml` | Thunderbird (and K-9, Evolution, …) | Mozilla ISPDB `clientConfig` 1.1 ([`autoconfig`]) |
//! | `POST /autodiscover/autodiscover.xml` | Outlook, many phones | Autodiscover POX, the Outlook response schema 2006a ([`autodiscover`]) |
//! | `GET /autodiscover/autodiscover.json` | Outlook (v2) | `{"Protocol","Url"}` ([`autodiscover`]) |
//! | `GET /mobileconfig` | Apple Mail, iOS | a configuration profile, CMS-signed ([`mobileconfig`], [`sign`]) |
//!
//! Implementation notes:
//!
//! - What is offered comes from the configuration in force ([`Offer::of`]): only the
//!   `[listeners]` that are configured (a missing or empty entry disables a service) and,
//!   for a port-0 listener, the port it was actually bound to ([`record_bound`]). The host
//!   clients are told to use is `hostname`, the name the certificate is made for and SMTP
//!   announces: the server's public name.
//! - The published SRV records (RFC 6186, RFC 8314 §5.1, the dashboard's DNS page) and
//!   these answers come from the same [`Offer`], so they cannot disagree.
//! - Only domains the server hosts are answered; any other gets 404. The account part is
//!   never looked up, so the answers do not tell which accounts exist (the same answer for
//!   every local part). An address a client sends is written back only through the XML
//!   writer (quick-xml escapes text), never pasted into markup.
//! - Passwords are never part of an answer: clients ask the user. `/mobileconfig` needs the
//!   account's own credentials (HTTP Basic through `http::login`, or a web session), like
//!   everything on the web front, and holds no password either.

pub mod autoconfig;
pub mod autodiscover;
pub mod mobileconfig;
pub mod records;
pub mod sign;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, Weak};

use actix_web::{web, HttpRequest, HttpResponse};

use crate::actors::supervisor::lock;
use crate::actors::ServerContext;
use crate::config::Config;

/// The routes of this module on the public listeners. Outlook sends the Autodiscover paths
/// in whatever case it likes (`/Autodiscover/Autodiscover.xml`), so they match
/// case-insensitively.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/.well-known/autoconfig/mail/config-v1.1.xml",
        web::get().to(autoconfig::serve),
    )
    .route("/mail/config-v1.1.xml", web::get().to(autoconfig::serve))
    .route(
        "/{a:(?i)autodiscover}/{b:(?i)autodiscover\\.xml}",
        web::post().to(autodiscover::pox),
    )
    .route(
        "/{a:(?i)autodiscover}/{b:(?i)autodiscover\\.json}",
        web::get().to(autodiscover::json),
    )
    .route(
        "/{a:(?i)autodiscover}/{b:(?i)autodiscover\\.json}/{v:(?i)v1\\.0}/{email}",
        web::get().to(autodiscover::json_path),
    )
    .route("/mobileconfig", web::get().to(mobileconfig::serve));
}

/// A mail service clients may be told about: where, and how TLS starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    pub port: u16,
    /// TLS from the first byte (RFC 8314 "implicit TLS"); otherwise STARTTLS/STLS.
    pub implicit_tls: bool,
}

/// The mail services this server offers to clients, and its public name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The host name clients connect to (`hostname`).
    pub host: String,
    pub imaps: Option<Endpoint>,
    pub imap: Option<Endpoint>,
    pub pop3s: Option<Endpoint>,
    pub pop3: Option<Endpoint>,
    pub smtps: Option<Endpoint>,
    pub submission: Option<Endpoint>,
    /// The `https` listener's port (Autodiscover v2 points clients there).
    pub https: Option<u16>,
}

impl Offer {
    /// What `ctx` offers now (module comment).
    pub fn of(ctx: &Arc<ServerContext>) -> Offer {
        let config = ctx.config();
        let bound = bound_ports(ctx);
        Offer::from_config(&config, &bound)
    }

    /// What `config` offers, with the ports of port-0 listeners taken from `bound`.
    pub fn from_config(config: &Config, bound: &BTreeMap<String, u16>) -> Offer {
        let l = &config.listeners;
        let port = |service: &str, addr: Option<SocketAddr>| -> Option<u16> {
            let addr = addr?;
            match addr.port() {
                0 => bound.get(service).copied().filter(|p| *p != 0),
                p => Some(p),
            }
        };
        let ep = |service: &str, addr, implicit_tls| {
            port(service, addr).map(|port| Endpoint { port, implicit_tls })
        };
        Offer {
            host: config.hostname.clone(),
            imaps: ep("imaps", l.imaps, true),
            imap: ep("imap", l.imap, false),
            pop3s: ep("pop3s", l.pop3s, true),
            pop3: ep("pop3", l.pop3, false),
            smtps: ep("smtps", l.smtps, true),
            submission: ep("submission", l.submission, false),
            https: port("https", l.https),
        }
    }

    /// IMAP endpoints, the preferred first (implicit TLS, RFC 8314 §3.3).
    pub fn imap_endpoints(&self) -> Vec<Endpoint> {
        self.imaps.into_iter().chain(self.imap).collect()
    }

    /// POP3 endpoints, the preferred first.
    pub fn pop3_endpoints(&self) -> Vec<Endpoint> {
        self.pop3s.into_iter().chain(self.pop3).collect()
    }

    /// Submission endpoints, the preferred first.
    pub fn smtp_endpoints(&self) -> Vec<Endpoint> {
        self.smtps.into_iter().chain(self.submission).collect()
    }
}

/// The ports that port-0 listeners of each server were bound to, by service name. Kept
/// beside the context (as `http::login`'s limiters are) so that the actors layer does not
/// carry the web front's needs; entries of stopped servers are dropped.
static BOUND: Mutex<Vec<(Weak<ServerContext>, Ports)>> = Mutex::new(Vec::new());

/// Ports by service name.
type Ports = BTreeMap<String, u16>;

/// Records where the services of `ctx` listen (called once they are bound).
pub fn record_bound(ctx: &Arc<ServerContext>, addrs: &BTreeMap<String, SocketAddr>) {
    let ports = addrs.iter().map(|(s, a)| (s.clone(), a.port())).collect();
    let mut all = lock(&BOUND);
    all.retain(|(w, _)| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(ctx)));
    all.push((Arc::downgrade(ctx), ports));
}

fn bound_ports(ctx: &Arc<ServerContext>) -> BTreeMap<String, u16> {
    lock(&BOUND)
        .iter()
        .find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(ctx)))
        .map(|(_, ports)| ports.clone())
        .unwrap_or_default()
}

/// An address as a client sent it, split at its last `@`; the domain lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The address as given (trimmed): what the client logs in with.
    pub full: String,
    pub domain: String,
}

/// Longest address taken (RFC 5321 §4.5.3.1.3: a path is at most 256 octets).
const MAX_ADDRESS: usize = 320;

impl Address {
    /// Reads `s`, or `None` when it is no address: no `@`, an empty side, too long, or a
    /// control character (which XML 1.0 cannot carry, escaped or not).
    pub fn parse(s: &str) -> Option<Address> {
        let s = s.trim();
        if s.len() > MAX_ADDRESS || s.chars().any(char::is_control) {
            return None;
        }
        let (local, domain) = s.rsplit_once('@')?;
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if local.is_empty() || domain.is_empty() || !is_domain_name(&domain) {
            return None;
        }
        Some(Address {
            full: s.to_string(),
            domain,
        })
    }
}

/// Letters, digits, `-` and dots: a host name as DNS and the store spell it.
fn is_domain_name(d: &str) -> bool {
    d.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b >= 0x80)
    })
}

/// Whether the server hosts `domain` (a local domain).
pub async fn hosted(ctx: &Arc<ServerContext>, domain: &str) -> Result<bool, HttpResponse> {
    let (c, d) = (ctx.clone(), domain.to_string());
    match web::block(move || c.store.is_local_domain(&d)).await {
        Ok(Ok(yes)) => Ok(yes),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "client configuration: domain lookup failed");
            Err(plain(
                503,
                "the directory cannot be read now; try again later\n",
            ))
        }
        Err(_) => Err(plain(503, "the directory lookup did not run\n")),
    }
}

/// The domain named by the request's host when it is `autoconfig.<domain>` or
/// `autodiscover.<domain>` (or the domain itself): how a client that sends no address
/// still names its domain.
pub fn domain_of_host(req: &HttpRequest) -> Option<String> {
    let info = req.connection_info();
    let host = info.host();
    // Strip a port; an IPv6 literal is no domain.
    if host.starts_with('[') {
        return None;
    }
    let host = host
        .split(':')
        .next()?
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let domain = host
        .strip_prefix("autoconfig.")
        .or_else(|| host.strip_prefix("autodiscover."))
        .unwrap_or(&host);
    is_domain_name(domain).then(|| domain.to_string())
}

/// A small plain-text answer.
pub fn plain(status: u16, text: &'static str) -> HttpResponse {
    let status =
        actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::OK);
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(text)
}

/// The 404 of a domain the server does not host (the same for every local part).
pub fn not_hosted() -> HttpResponse {
    plain(404, "no mail service for this domain here\n")
}

/// XML answers through quick-xml's writer: every text and attribute value is escaped by
/// the writer, so nothing a client sends can become markup.
pub mod xml {
    use std::io;

    use quick_xml::events::{BytesDecl, BytesText, Event};
    use quick_xml::Writer;

    pub type W = Writer<Vec<u8>>;

    /// A document: the UTF-8 declaration, then what `body` writes.
    pub fn document(body: impl FnOnce(&mut W) -> io::Result<()>) -> io::Result<Vec<u8>> {
        let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
        w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
        body(&mut w)?;
        let mut out = w.into_inner();
        out.push(b'\n');
        Ok(out)
    }

    /// `<name>value</name>`, the value escaped.
    pub fn text(w: &mut W, name: &str, value: &str) -> io::Result<()> {
        w.create_element(name)
            .write_text_content(BytesText::new(value))?;
        Ok(())
    }
}
