//! Cross-site request forgery: a state-changing request (POST, PUT, PATCH, DELETE) that is
//! authenticated by the session cookie must also carry the session's token, in the
//! `X-CSRF-Token` header (scripts) or the `csrf` field of a url-encoded or
//! `multipart/form-data` form (templates put [`token`] in a hidden field); otherwise 403
//! `csrf`. A multipart form is read only until its `csrf` part (templates put it first) and
//! at most [`MULTIPART_HEAD`] bytes: the rest of the body, file uploads included, streams
//! on to the handler untouched and is never held here. A page of another site can make the
//! browser send the cookie (SameSite=Strict already stops most of that) but cannot read the
//! token. Requests with an `Authorization` header (HTTP Basic, API keys) are not
//! authenticated by the cookie and need no token; but a browser may have cached Basic
//! credentials, so every state-changing request, with or without them, is refused (403
//! `csrf`) when the browser says it comes from elsewhere ([`foreign_origin`]:
//! `Sec-Fetch-Site` `cross-site`/`same-site`, or an `Origin` not the listener's own).

use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, ResponseError};

use super::error::ApiError;
use super::multipart::Event;
use super::session;
use crate::actors::ServerContext;

/// The header a script sends the token in.
pub const HEADER: &str = "X-CSRF-Token";
/// The form field a form sends it in.
pub const FIELD: &str = "csrf";
/// Forms larger than this are not read for the token (send the header instead).
const FORM_LIMIT: usize = 1024 * 1024;
/// How much of a multipart form is read looking for the token.
pub const MULTIPART_HEAD: usize = 64 * 1024;

/// The CSRF token of the request's session, for templates (`None`: no session).
pub fn token(req: &HttpRequest) -> Option<String> {
    let ctx = req.app_data::<web::Data<Arc<ServerContext>>>()?;
    session::current(ctx, req).map(|s| s.csrf)
}

/// Whether the method changes state.
fn changes_state(method: &Method) -> bool {
    [Method::POST, Method::PUT, Method::PATCH, Method::DELETE].contains(method)
}

/// Equal byte strings, compared in time independent of where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `csrf` field of a url-encoded form body.
fn form_field(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let pairs = web::Query::<Vec<(String, String)>>::from_query(text).ok()?;
    pairs
        .into_inner()
        .into_iter()
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v)
}

/// The `csrf` part of a multipart body, read from its start (module comment); the body is
/// put back whole for the handler, what was read followed by the rest of the stream.
async fn multipart_field(req: &mut ServiceRequest, boundary: &str) -> Option<String> {
    use actix_web::HttpMessage;
    use futures_util::StreamExt;
    let mut payload = req.take_payload();
    let mut head = web::BytesMut::new();
    let mut parser = super::multipart::Parser::new(boundary);
    let (mut in_token, mut value, mut found) = (false, Vec::new(), None);
    'read: while head.len() < MULTIPART_HEAD {
        let Some(Ok(piece)) = payload.next().await else {
            break;
        };
        head.extend_from_slice(&piece);
        let Ok(events) = parser.feed(&piece) else {
            break;
        };
        for e in events {
            match e {
                Event::Part(h) => in_token = h.name == FIELD && h.filename.is_none(),
                Event::Data(d) if in_token => value.extend(d),
                Event::End if in_token => {
                    found = String::from_utf8(std::mem::take(&mut value)).ok();
                    break 'read;
                }
                _ => {}
            }
        }
    }
    let head = head.freeze();
    let rest = futures_util::stream::once(async move { Ok(head) }).chain(payload);
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(rest),
    });
    found
}

/// Why a state-changing request is refused for its browser-given origin: `Sec-Fetch-Site`
/// `cross-site` or `same-site` (another port of this host is same-site), or, from a browser
/// that sends no `Sec-Fetch-Site`, an `Origin` that is not this listener's own
/// scheme://host[:port] (`null` included). `Sec-Fetch-Site: same-origin` is believed over
/// `Origin`: under our `Referrer-Policy: no-referrer` Chromium sends `Origin: null` with
/// our own pages' forms. `None`: no such header says so.
pub(crate) fn foreign_origin(req: &HttpRequest) -> Option<&'static str> {
    let headers = req.headers();
    let site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase());
    match site.as_deref() {
        Some("cross-site" | "same-site") => {
            return Some("a state-changing request from another site's page is refused")
        }
        // The browser vouches for it: our own page (or the user typing the address).
        Some("same-origin" | "none") => return None,
        _ => {}
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or("null").trim();
    let scheme = if super::session::tls(req) {
        "https"
    } else {
        "http"
    };
    let info = req.connection_info();
    let own = format!("{scheme}://{}", info.host());
    if origin.eq_ignore_ascii_case(&own) {
        None
    } else {
        Some("a state-changing request from another origin is refused")
    }
}

/// Middleware: the check of the module comment.
pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let pass = |req: ServiceRequest, next: Next<_>| async move {
        next.call(req)
            .await
            .map(ServiceResponse::map_into_left_body)
    };
    if !changes_state(req.method()) {
        return pass(req, next).await;
    }
    // A browser says where a request comes from; another site's (or another port's) page
    // is refused whatever credentials ride along (a cached Basic login included). API
    // clients such as curl send neither header.
    if let Some(why) = foreign_origin(req.request()) {
        let err = ApiError::new(StatusCode::FORBIDDEN, "csrf", why);
        return Ok(req
            .into_response(err.error_response())
            .map_into_right_body());
    }
    // `/dav/` ignores the session cookie (HTTP Basic only, `http::dav`): nothing to forge.
    if req.headers().contains_key(header::AUTHORIZATION)
        || req.path() == "/dav"
        || req.path().starts_with("/dav/")
    {
        return pass(req, next).await;
    }
    let Some(ctx) = req
        .app_data::<web::Data<Arc<ServerContext>>>()
        .map(|d| d.get_ref().clone())
    else {
        return pass(req, next).await;
    };
    let Some(session) = session::current(&ctx, req.request()) else {
        return pass(req, next).await;
    };
    let mut presented = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if presented.is_none() && is_form {
        // Read the form for its field, then put the body back for the handler.
        let body = req
            .extract::<web::Bytes>()
            .await
            .unwrap_or_else(|_| web::Bytes::new());
        if body.len() <= FORM_LIMIT {
            presented = form_field(&body);
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    let boundary = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(super::multipart::boundary);
    if let (None, Some(boundary)) = (&presented, boundary) {
        presented = multipart_field(&mut req, &boundary).await;
    }
    if presented.is_some_and(|t| same(t.as_bytes(), session.csrf.as_bytes())) {
        return pass(req, next).await;
    }
    let err = ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf",
        "missing or wrong CSRF token (send the X-CSRF-Token header or the csrf form field)",
    );
    Ok(req
        .into_response(err.error_response())
        .map_into_right_body())
}
