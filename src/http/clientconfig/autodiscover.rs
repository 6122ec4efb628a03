//! Outlook Autodiscover, the two forms Outlook and many phones use to find an account's
//! servers from its address:
//!
//! - POX ([MS-OXDSCLI] §2.2.3, "plain old XML"): `POST /autodiscover/autodiscover.xml` with
//!   an `Autodiscover/Request` holding `EMailAddress` and `AcceptableResponseSchema`.
//!   Answered in the Outlook response schema (`…/outlook/responseschema/2006a`) with one
//!   `Protocol` of `Type` IMAP, POP3 and SMTP for each service offered: the preferred
//!   endpoint of each (implicit TLS, RFC 8314 §3.3), `SSL` on and `Encryption` `SSL` (TLS
//!   from the first byte) or `TLS` (STARTTLS), the address as `LoginName`. A request for
//!   another response schema (ActiveSync's `mobilesync`, which does not exist here yet) is
//!   answered with the POX error 601 ("provider not available"); a body that is not an
//!   Autodiscover request, with error 600 ("invalid request"), as Exchange does, in HTTP 200.
//! - v2 (JSON): `GET /autodiscover/autodiscover.json?Email=…&Protocol=…` or
//!   `…/autodiscover.json/v1.0/<address>?Protocol=…`: `{"Protocol","Url"}` for the protocols
//!   served here, which is `AutodiscoverV1` (the POX endpoint above on the `https`
//!   listener). Protocols Microsoft defines but this server does not serve yet (ActiveSync,
//!   EWS, REST, …) get 404 with a JSON error, an unknown protocol value 400
//!   (`InvalidProtocol`), as Exchange Online answers.
//!
//! Outlook sends the paths in any letter case; the routes match them case-insensitively
//! (`super::configure`). Only hosted domains are answered (others: 404), whatever the local
//! part: the answer does not tell whether the account exists.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::xml::{self, W};
use super::{hosted, not_hosted, plain, Address, Endpoint, Offer};
use crate::actors::ServerContext;

/// The POX response envelope's namespace.
pub const RESPONSE_NS: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";
/// The Outlook response schema, the one this server answers in.
pub const OUTLOOK_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// Largest request body read: a real request is a few hundred bytes.
const MAX_BODY: usize = 16 * 1024;

/// What an Autodiscover POX request asks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoxRequest {
    pub email: Option<String>,
    pub schema: Option<String>,
}

/// Reads a POX request: the text of `Request/EMailAddress` and
/// `Request/AcceptableResponseSchema`, whatever namespace prefix the client uses. `None`
/// for a body that is not well-formed XML.
pub fn parse_request(body: &[u8]) -> Option<PoxRequest> {
    let mut reader = Reader::from_reader(body);
    let mut out = PoxRequest::default();
    let mut path: Vec<String> = Vec::new();
    // The text of the innermost element so far: the parser hands text over in pieces
    // (entity and character references come apart from the text around them).
    let mut text = String::new();
    // Bounded by the body's size: every event consumes input.
    loop {
        match reader.read_event() {
            Err(_) => return None,
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                path.push(e.local_name().as_ref().to_ascii_lowercase());
                text.clear();
            }
            Ok(Event::End(_)) => {
                let n = path.len();
                if n >= 2 && path[n - 2] == "request" {
                    let value = Some(text.trim().to_string());
                    match path[n - 1].as_str() {
                        "emailaddress" => out.email = value,
                        "acceptableresponseschema" => out.schema = value,
                        _ => {}
                    }
                }
                path.pop();
                text.clear();
            }
            Ok(Event::Text(t)) => text.push_str(&t.xml10_content()),
            Ok(Event::CData(t)) => text.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) => {
                if let Some(c) = r.resolve_char_ref().ok()? {
                    text.push(c);
                } else {
                    text.push_str(resolve_xml_entity(&r.xml10_content())?);
                }
            }
            Ok(_) => {}
        }
    }
    // A document cut short (`<a><b>`) is no request.
    if !path.is_empty() {
        return None;
    }
    Some(out)
}

/// `POST /autodiscover/autodiscover.xml`.
pub async fn pox(ctx: web::Data<Arc<ServerContext>>, body: web::Bytes) -> HttpResponse {
    if body.len() > MAX_BODY {
        return plain(413, "an Autodiscover request is smaller than this\n");
    }
    let Some(request) = parse_request(&body) else {
        return xml_answer(error_document(600, "Invalid Request"));
    };
    let Some(address) = request.email.as_deref().and_then(Address::parse) else {
        return xml_answer(error_document(600, "Invalid Request"));
    };
    match hosted(&ctx, &address.domain).await {
        Ok(true) => {}
        Ok(false) => return not_hosted(),
        Err(resp) => return resp,
    }
    // Outlook names its schema; a client that names none gets the Outlook answer too.
    let schema = request.schema.as_deref().unwrap_or(OUTLOOK_SCHEMA);
    if !schema.eq_ignore_ascii_case(OUTLOOK_SCHEMA) {
        return xml_answer(error_document(601, "Provider is not available"));
    }
    xml_answer(settings_document(&Offer::of(&ctx), &address.full))
}

fn xml_answer(doc: std::io::Result<Vec<u8>>) -> HttpResponse {
    match doc {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/xml; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!("autodiscover: {e}");
            plain(500, "the answer could not be written\n")
        }
    }
}

/// The Outlook-schema answer for `login`.
pub fn settings_document(offer: &Offer, login: &str) -> std::io::Result<Vec<u8>> {
    let protocols = [
        ("IMAP", offer.imap_endpoints().first().copied()),
        ("POP3", offer.pop3_endpoints().first().copied()),
        ("SMTP", offer.smtp_endpoints().first().copied()),
    ];
    xml::document(|w| {
        w.create_element("Autodiscover")
            .with_attribute(("xmlns", RESPONSE_NS))
            .write_inner_content(|w| {
                w.create_element("Response")
                    .with_attribute(("xmlns", OUTLOOK_SCHEMA))
                    .write_inner_content(|w| {
                        w.create_element("Account").write_inner_content(|w| {
                            xml::text(w, "AccountType", "email")?;
                            xml::text(w, "Action", "settings")?;
                            for (kind, ep) in protocols {
                                if let Some(ep) = ep {
                                    protocol(w, kind, &offer.host, ep, login)?;
                                }
                            }
                            Ok(())
                        })?;
                        Ok(())
                    })?;
                Ok(())
            })?;
        Ok(())
    })
}

fn protocol(w: &mut W, kind: &str, host: &str, ep: Endpoint, login: &str) -> std::io::Result<()> {
    w.create_element("Protocol").write_inner_content(|w| {
        xml::text(w, "Type", kind)?;
        xml::text(w, "Server", host)?;
        xml::text(w, "Port", &ep.port.to_string())?;
        xml::text(w, "DomainRequired", "off")?;
        xml::text(w, "LoginName", login)?;
        xml::text(w, "SPA", "off")?;
        xml::text(w, "SSL", "on")?;
        // "SSL": TLS from the first byte; "TLS": STARTTLS (MS-OXDSCLI §2.2.4.1.1.2.4.1.20).
        let encryption = if ep.implicit_tls { "SSL" } else { "TLS" };
        xml::text(w, "Encryption", encryption)?;
        xml::text(w, "AuthRequired", "on")
    })?;
    Ok(())
}

/// A POX error answer (`Response/Error/ErrorCode`, MS-OXDSCLI §2.2.4.2).
pub fn error_document(code: u16, message: &str) -> std::io::Result<Vec<u8>> {
    xml::document(|w| {
        w.create_element("Autodiscover")
            .with_attribute(("xmlns", RESPONSE_NS))
            .write_inner_content(|w| {
                w.create_element("Response").write_inner_content(|w| {
                    w.create_element("Error").write_inner_content(|w| {
                        xml::text(w, "ErrorCode", &code.to_string())?;
                        xml::text(w, "Message", message)
                    })?;
                    Ok(())
                })?;
                Ok(())
            })?;
        Ok(())
    })
}

/// Protocols Autodiscover v2 defines that this server does not serve (yet): 404, not 400.
const KNOWN_UNSERVED: &[&str] = &[
    "activesync",
    "ews",
    "rest",
    "substrate",
    "substratesearchservice",
    "substratenotificationservice",
    "outlookmeetingscheduler",
    "actions",
    "connectors",
    "notesclient",
    "ows",
];

/// `GET /autodiscover/autodiscover.json?Email=…&Protocol=…`.
pub async fn json(ctx: web::Data<Arc<ServerContext>>, req: HttpRequest) -> HttpResponse {
    let email = query_value(&req, "email");
    v2(
        &ctx,
        email.as_deref(),
        query_value(&req, "protocol").as_deref(),
    )
    .await
}

/// `GET /autodiscover/autodiscover.json/v1.0/<address>?Protocol=…`.
pub async fn json_path(
    ctx: web::Data<Arc<ServerContext>>,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> HttpResponse {
    let email = path.into_inner().3;
    v2(&ctx, Some(&email), query_value(&req, "protocol").as_deref()).await
}

/// A query parameter, its name matched case-insensitively (Outlook writes `Email`, others
/// `email`).
fn query_value(req: &HttpRequest, name: &str) -> Option<String> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.into_owned())
}

async fn v2(ctx: &Arc<ServerContext>, email: Option<&str>, protocol: Option<&str>) -> HttpResponse {
    let Some(address) = email.and_then(Address::parse) else {
        return v2_error(400, "InvalidEmailAddress", "Email is not an address".into());
    };
    match hosted(ctx, &address.domain).await {
        Ok(true) => {}
        Ok(false) => {
            return v2_error(
                404,
                "NotFound",
                "no mail service for this domain here".into(),
            )
        }
        Err(resp) => return resp,
    }
    let protocol = protocol.unwrap_or("").trim();
    let offer = Offer::of(ctx);
    match v2_answer(&offer, protocol) {
        Ok(body) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body),
        Err((status, code, message)) => v2_error(status, code, message),
    }
}

/// The v2 answer for `protocol`, or (status, error code, message).
pub fn v2_answer(
    offer: &Offer,
    protocol: &str,
) -> Result<serde_json::Value, (u16, &'static str, String)> {
    let lower = protocol.to_ascii_lowercase();
    if lower == "autodiscoverv1" {
        let Some(port) = offer.https else {
            return Err((
                404,
                "ProtocolNotSupported",
                "AutodiscoverV1 needs the https listener, which is off".into(),
            ));
        };
        let authority = match port {
            443 => offer.host.clone(),
            p => format!("{}:{p}", offer.host),
        };
        return Ok(serde_json::json!({
            "Protocol": "AutodiscoverV1",
            "Url": format!("https://{authority}/autodiscover/autodiscover.xml"),
        }));
    }
    if KNOWN_UNSERVED.contains(&lower.as_str()) {
        return Err((
            404,
            "ProtocolNotSupported",
            format!("{protocol} is not served by this server; use AutodiscoverV1"),
        ));
    }
    Err((
        400,
        "InvalidProtocol",
        "The given protocol value is invalid. Supported values are 'AutodiscoverV1'".into(),
    ))
}

fn v2_error(status: u16, code: &str, message: String) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(status)
        .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST);
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "ErrorCode": code, "ErrorMessage": message }))
}
