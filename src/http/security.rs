//! The middleware every web answer passes through: security headers (a strict
//! Content-Security-Policy, no framing, no sniffing, no referrer; HSTS on TLS listeners),
//! the dynamic-screening refusal, and the plain-HTTP password rule.
//!
//! Passwords and keys must not cross the network in clear: on the plain `http` listener,
//! from another machine and unless `[http] allow_plaintext_login = true`,
//!
//! - a browser's login flow goes to the `https` listener: the login pages (`GET /`,
//!   `/login`, `/login/code`) answer 302 and a posted login form (a POST to a path ending
//!   in `/login`, or to `/login/code`) 303 to the same path there, so the browser asks for
//!   the page over TLS (a 303 makes it GET, so the form is not sent again). Without an
//!   `https` listener they answer a 403 page saying so;
//! - any other request carrying credentials (an `Authorization` header: the API, DAV,
//!   profiles) gets 308 to `https` for GET and HEAD, and 403 `plaintext_login` as JSON
//!   otherwise (a redirect would make the client resend the credentials in clear).
//!
//! Loopback is always allowed: a proxy on the same machine terminating TLS is the usual
//! setup.

use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpResponse};

use super::error::ApiError;
use super::front::{Front, Listener};
use crate::actors::ServerContext;

/// The Content-Security-Policy of every answer: only this origin, no inline script or
/// style, no framing, no plugins.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
form-action 'self'; object-src 'none'";

/// HSTS on answers over TLS: a year, this host only.
pub const HSTS: &str = "max-age=31536000";

/// Adds the security headers to an answer (HSTS only when `tls`); headers a handler set
/// itself are kept.
pub fn add_headers(headers: &mut actix_web::http::header::HeaderMap, tls: bool) {
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CSP);
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    if tls {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

/// Middleware: the security headers on every answer, error answers included. Outermost,
/// so the refusals of the other middleware carry them too.
pub async fn headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let tls = front(&req).is_some_and(|f| f.tls());
    // Handlers' and extractors' errors arrive here as answers; the middleware inside
    // answers its refusals itself.
    let mut res = next.call(req).await?;
    add_headers(res.headers_mut(), tls);
    Ok(res)
}

/// Middleware: 403 to addresses that dynamic screening bans (`actors::screen`), before any
/// handler runs.
pub async fn screening(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let banned = match (ctx(&req), req.peer_addr()) {
        (Some(ctx), Some(peer)) => ctx.screen.banned(&ctx.config().screening, peer.ip()),
        _ => false,
    };
    if banned {
        let refused = HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("Your address is blocked for now.\n");
        return Ok(req.into_response(refused).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// What the plain-HTTP password rule says about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plaintext {
    /// Let it through.
    Pass,
    /// 308 to this https URL (GET/HEAD).
    Redirect(String),
    /// A browser's login flow: 303 (a posted form) or 302 (the page) to this https URL.
    Login(String),
    /// A browser's login flow with no https listener to send it to: a 403 page.
    LoginRefused,
    /// 403 `plaintext_login`; the https URL to use instead, when there is an https listener.
    Refuse(Option<String>),
}

/// The plain-HTTP password rule (module comment) for a request on `front` from `peer`.
/// `host` is the Host the client used (its port is replaced by the https listener's);
/// `path_and_query` is kept in the URL the client is sent to.
pub fn plaintext_rule(
    front: &Front,
    allow_plaintext_login: bool,
    peer: Option<IpAddr>,
    method: &Method,
    path_and_query: &str,
    host: &str,
    has_credentials: bool,
) -> Plaintext {
    if front.listener != Listener::Http || allow_plaintext_login {
        return Plaintext::Pass;
    }
    if peer.is_some_and(|ip| ip.to_canonical().is_loopback()) {
        return Plaintext::Pass;
    }
    let path = path_and_query.split('?').next().unwrap_or("");
    let trimmed = path.trim_end_matches('/');
    let page = *method == Method::GET || *method == Method::HEAD;
    let login_form =
        *method == Method::POST && (trimmed.ends_with("/login") || trimmed == "/login/code");
    let login_page = page && LOGIN_PAGES.contains(&path);
    if !has_credentials && !login_form && !login_page {
        return Plaintext::Pass;
    }
    let target = front.https_port.map(|port| {
        let name = host_name(host);
        if port == 443 {
            format!("https://{name}{path_and_query}")
        } else {
            format!("https://{name}:{port}{path_and_query}")
        }
    });
    match target {
        Some(url) if login_form || login_page => Plaintext::Login(url),
        None if login_form || login_page => Plaintext::LoginRefused,
        Some(url) if page => Plaintext::Redirect(url),
        other => Plaintext::Refuse(other),
    }
}

/// The login pages of the public web front (webmail's `/`, and the code step), sent to
/// https before a password is typed into them.
const LOGIN_PAGES: [&str; 3] = ["/", "/login", "/login/code"];

/// The host part of a Host header (`name`, `name:port`, `[v6]:port`).
fn host_name(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Middleware: the plain-HTTP password rule, on the `http` listener.
pub async fn plaintext(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let (Some(front), Some(ctx)) = (front(&req), ctx(&req)) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_left_body);
    };
    let allow = ctx.config().http.allow_plaintext_login;
    let path_and_query = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let host = req.connection_info().host().to_string();
    let has_credentials = req.headers().contains_key(header::AUTHORIZATION);
    let verdict = plaintext_rule(
        &front,
        allow,
        req.peer_addr().map(|a| a.ip()),
        req.method(),
        &path_and_query,
        &host,
        has_credentials,
    );
    let answer = match verdict {
        Plaintext::Pass => {
            return next
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        }
        Plaintext::Redirect(url) => HttpResponse::build(StatusCode::PERMANENT_REDIRECT)
            .insert_header((header::LOCATION, url))
            .finish(),
        Plaintext::Login(url) => {
            let status = if req.method() == Method::POST {
                StatusCode::SEE_OTHER
            } else {
                StatusCode::FOUND
            };
            HttpResponse::build(status)
                .insert_header((header::LOCATION, url))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Plaintext::LoginRefused => HttpResponse::Forbidden()
            .content_type("text/html; charset=utf-8")
            .body(PLAINTEXT_PAGE),
        Plaintext::Refuse(url) => {
            let err = ApiError::new(
                StatusCode::FORBIDDEN,
                "plaintext_login",
                "passwords are not accepted over plain HTTP from other machines; use HTTPS",
            );
            let mut res = actix_web::ResponseError::error_response(&err);
            if let Some(url) = url.and_then(|u| HeaderValue::from_str(&u).ok()) {
                res.headers_mut().insert(header::LOCATION, url);
            }
            res
        }
    };
    Ok(req.into_response(answer).map_into_right_body())
}

/// The answer to a browser's login flow over plain HTTP when there is no https listener.
const PLAINTEXT_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Use HTTPS</title></head><body><h1>Use HTTPS</h1><p>This server does not accept \
passwords over plain HTTP from other machines. Open this page over HTTPS.</p></body></html>\n";

fn ctx(req: &ServiceRequest) -> Option<Arc<ServerContext>> {
    req.app_data::<web::Data<Arc<ServerContext>>>()
        .map(|d| d.get_ref().clone())
}

fn front(req: &ServiceRequest) -> Option<Front> {
    req.app_data::<web::Data<Front>>().map(|d| *d.get_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http_front() -> Front {
        Front {
            listener: Listener::Http,
            https_port: Some(8443),
        }
    }

    #[test]
    fn plaintext_rule_sends_remote_credentials_to_https() {
        let remote: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
        let rule = |front: &Front, allow, peer, method: &Method, path: &str, creds| {
            plaintext_rule(front, allow, peer, method, path, "mail.test:3000", creds)
        };
        // Basic over GET from another machine: a permanent redirect, path and query kept.
        assert_eq!(
            rule(
                &http_front(),
                false,
                remote,
                &Method::GET,
                "/api/v1/x?a=1",
                true
            ),
            Plaintext::Redirect("https://mail.test:8443/api/v1/x?a=1".into())
        );
        // A login form POSTed, or a login page asked for: the browser goes to https.
        assert_eq!(
            rule(
                &http_front(),
                false,
                remote,
                &Method::POST,
                "/mail/login",
                false
            ),
            Plaintext::Login("https://mail.test:8443/mail/login".into())
        );
        for page in ["/", "/login", "/login/code?x=1"] {
            assert_eq!(
                rule(&http_front(), false, remote, &Method::GET, page, false),
                Plaintext::Login(format!("https://mail.test:8443{page}")),
                "{page}"
            );
        }
        // A POST with credentials that is not a login form: a JSON refusal.
        assert_eq!(
            rule(
                &http_front(),
                false,
                remote,
                &Method::POST,
                "/api/v1/x",
                true
            ),
            Plaintext::Refuse(Some("https://mail.test:8443/api/v1/x".into()))
        );
        // Other pages without credentials, from loopback, when allowed, or on TLS
        // listeners: passes.
        assert_eq!(
            rule(
                &http_front(),
                false,
                remote,
                &Method::GET,
                "/mail/login",
                false
            ),
            Plaintext::Pass
        );
        assert_eq!(
            rule(&http_front(), false, remote, &Method::GET, "/health", false),
            Plaintext::Pass
        );
        let loopback = Some("::ffff:127.0.0.1".parse().unwrap());
        assert_eq!(
            rule(
                &http_front(),
                false,
                loopback,
                &Method::POST,
                "/login",
                true
            ),
            Plaintext::Pass
        );
        assert_eq!(
            rule(&http_front(), true, remote, &Method::POST, "/login", true),
            Plaintext::Pass
        );
        let https = Front {
            listener: Listener::Https,
            https_port: Some(8443),
        };
        assert_eq!(
            rule(&https, false, remote, &Method::POST, "/login", true),
            Plaintext::Pass
        );
        // No https listener: refused, with nowhere to point.
        let alone = Front {
            listener: Listener::Http,
            https_port: None,
        };
        assert_eq!(
            rule(&alone, false, remote, &Method::GET, "/x", true),
            Plaintext::Refuse(None)
        );
        assert_eq!(
            rule(&alone, false, remote, &Method::POST, "/login", false),
            Plaintext::LoginRefused
        );
        // Port 443 is left out of the URL; IPv6 hosts keep their brackets.
        let standard = Front {
            listener: Listener::Http,
            https_port: Some(443),
        };
        assert_eq!(
            plaintext_rule(
                &standard,
                false,
                remote,
                &Method::HEAD,
                "/dav/",
                "[2001:db8::1]:80",
                true
            ),
            Plaintext::Redirect("https://[2001:db8::1]/dav/".into())
        );
    }
}
