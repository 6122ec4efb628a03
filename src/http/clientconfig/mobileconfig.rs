//! Apple configuration profiles: `GET /mobileconfig` gives the logged-in account a
//! `.mobileconfig` that sets up Apple Mail (macOS, iOS) with its IMAP (or POP3) and SMTP
//! servers in one tap, signed with the server's certificate ([`super::sign`]).
//!
//! Implementation notes:
//!
//! - Who: the account's own credentials, HTTP Basic through `http::login` (its limits,
//!   screening reports and two-factor rule, and on the `http` listener the plain-text
//!   password rule of `http::security`), or a web session (webmail will link here). API
//!   keys are for the management API, not for this.
//! - What: a `Configuration` profile with one `com.apple.mail.managed` payload; incoming
//!   is IMAP when offered (else POP3), implicit TLS preferred over STARTTLS (RFC 8314
//!   §3.3), outgoing is submission; `…UseSSL` is always true (Apple Mail starts TLS on the
//!   STARTTLS ports when it is set). No password is inside: the device asks for it.
//! - With an `https` listener, also a `com.apple.caldav.account` and a
//!   `com.apple.carddav.account` payload: host, port, SSL, the principal URL
//!   `/dav/principals/<address>/` and the address as username (no password either).
//! - Identifiers are derived from the host and the address, so downloading the profile
//!   again replaces the installed one instead of adding a second.
//! - The profile is signed as CMS SignedData; should signing fail (a key type ring cannot
//!   sign with), the profile is served unsigned and the failure logged, since an unsigned
//!   profile still installs (the device shows it as not verified).

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};
use plist::{Dictionary, Value};

use super::sign::Signer;
use super::{plain, Offer};
use crate::actors::ServerContext;
use crate::http::auth::{self, Via};
use crate::http::error::ApiError;

/// The media type Apple devices install profiles from.
pub const CONTENT_TYPE: &str = "application/x-apple-aspen-config";

/// `GET /mobileconfig`.
pub async fn serve(ctx: web::Data<Arc<ServerContext>>, req: HttpRequest) -> HttpResponse {
    let who = match auth::principal(&ctx, &req).await {
        Ok(Some(p)) if matches!(p.via, Via::Basic | Via::Session) => p,
        Ok(Some(_)) => {
            return ApiError::forbidden("log in with the account's own password").error_response()
        }
        Ok(None) => {
            return ApiError::unauthorized("log in with the account's address and password")
                .error_response()
        }
        Err(e) => return e.error_response(),
    };
    let offer = Offer::of(&ctx);
    let Some(profile) = profile(&offer, &who.address) else {
        return plain(
            404,
            "this server offers no IMAP/POP3 and submission listeners\n",
        );
    };
    let mut xml = Vec::new();
    if let Err(e) = Value::Dictionary(profile).to_writer_xml(&mut xml) {
        tracing::error!("mobileconfig: {e}");
        return plain(500, "the profile could not be written\n");
    }
    let c = ctx.get_ref().clone();
    let now = u64::try_from(ctx.clock.now()).unwrap_or(0);
    let body = match web::block(move || sign(&c, &xml, now).map_err(|e| (e, xml))).await {
        Ok(Ok(signed)) => signed,
        Ok(Err((e, xml))) => {
            tracing::warn!("mobileconfig: served unsigned: {e}");
            xml
        }
        Err(_) => return plain(503, "the profile could not be made now\n"),
    };
    let domain = who.address.rsplit('@').next().unwrap_or("mail").to_string();
    HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            header::ContentDisposition::attachment(format!("{domain}.mobileconfig")),
        ))
        .body(body)
}

/// Signs `xml` with the certificate the TLS listeners use.
fn sign(ctx: &ServerContext, xml: &[u8], now: u64) -> Result<Vec<u8>, String> {
    let paths = crate::net::tls::ensure_certificate(&ctx.config()).map_err(|e| e.to_string())?;
    let signer = Signer::from_files(&paths.cert, &paths.key).map_err(|e| e.to_string())?;
    signer.sign(xml, now).map_err(|e| e.to_string())
}

/// The profile for `address`, or `None` when the server offers no incoming or no outgoing
/// service.
pub fn profile(offer: &Offer, address: &str) -> Option<Dictionary> {
    let (kind, incoming) = match offer.imap_endpoints().first() {
        Some(ep) => ("EmailTypeIMAP", *ep),
        None => ("EmailTypePOP", *offer.pop3_endpoints().first()?),
    };
    let outgoing = *offer.smtp_endpoints().first()?;
    let identifier = format!(
        "{}.mail.{}",
        reverse_dns(&offer.host),
        uuid(offer, address, "id")
    );

    let mut mail = Dictionary::new();
    put(&mut mail, "PayloadType", "com.apple.mail.managed".into());
    put(&mut mail, "PayloadVersion", Value::Integer(1.into()));
    put(
        &mut mail,
        "PayloadIdentifier",
        format!("{identifier}.account").into(),
    );
    put(
        &mut mail,
        "PayloadUUID",
        uuid(offer, address, "account").into(),
    );
    put(
        &mut mail,
        "PayloadDisplayName",
        format!("Mail: {address}").into(),
    );
    put(&mut mail, "EmailAccountDescription", address.into());
    put(&mut mail, "EmailAccountType", kind.into());
    put(&mut mail, "EmailAddress", address.into());
    put(
        &mut mail,
        "IncomingMailServerAuthentication",
        "EmailAuthPassword".into(),
    );
    put(
        &mut mail,
        "IncomingMailServerHostName",
        offer.host.as_str().into(),
    );
    put(
        &mut mail,
        "IncomingMailServerPortNumber",
        Value::Integer(i64::from(incoming.port).into()),
    );
    put(&mut mail, "IncomingMailServerUseSSL", true.into());
    put(&mut mail, "IncomingMailServerUsername", address.into());
    put(
        &mut mail,
        "OutgoingMailServerAuthentication",
        "EmailAuthPassword".into(),
    );
    put(
        &mut mail,
        "OutgoingMailServerHostName",
        offer.host.as_str().into(),
    );
    put(
        &mut mail,
        "OutgoingMailServerPortNumber",
        Value::Integer(i64::from(outgoing.port).into()),
    );
    put(&mut mail, "OutgoingMailServerUseSSL", true.into());
    put(&mut mail, "OutgoingMailServerUsername", address.into());
    put(
        &mut mail,
        "OutgoingPasswordSameAsIncomingPassword",
        true.into(),
    );

    let mut payloads = vec![Value::Dictionary(mail)];
    if let Some(port) = offer.https {
        for kind in ["caldav", "carddav"] {
            payloads.push(Value::Dictionary(dav_payload(
                offer,
                address,
                &identifier,
                kind,
                port,
            )));
        }
    }
    let mut top = Dictionary::new();
    put(&mut top, "PayloadContent", Value::Array(payloads));
    put(
        &mut top,
        "PayloadDisplayName",
        format!("Mail on {}", offer.host).into(),
    );
    put(
        &mut top,
        "PayloadDescription",
        format!("Sets up {address} (IMAP/POP3 and SMTP at {}).", offer.host).into(),
    );
    put(&mut top, "PayloadIdentifier", identifier.into());
    put(&mut top, "PayloadType", "Configuration".into());
    put(
        &mut top,
        "PayloadUUID",
        uuid(offer, address, "profile").into(),
    );
    put(&mut top, "PayloadVersion", Value::Integer(1.into()));
    put(&mut top, "PayloadRemovalDisallowed", false.into());
    Some(top)
}

/// A `com.apple.caldav.account` or `com.apple.carddav.account` payload (`kind` is
/// `caldav` or `carddav`): the account on the `https` listener at `port`.
fn dav_payload(
    offer: &Offer,
    address: &str,
    identifier: &str,
    kind: &str,
    port: u16,
) -> Dictionary {
    let (prefix, what) = match kind {
        "caldav" => ("CalDAV", "Calendars"),
        _ => ("CardDAV", "Contacts"),
    };
    let mut d = Dictionary::new();
    put(
        &mut d,
        "PayloadType",
        format!("com.apple.{kind}.account").into(),
    );
    put(&mut d, "PayloadVersion", Value::Integer(1.into()));
    put(
        &mut d,
        "PayloadIdentifier",
        format!("{identifier}.{kind}").into(),
    );
    put(&mut d, "PayloadUUID", uuid(offer, address, kind).into());
    put(
        &mut d,
        "PayloadDisplayName",
        format!("{what}: {address}").into(),
    );
    put(
        &mut d,
        &format!("{prefix}AccountDescription"),
        format!("{what} of {address}").into(),
    );
    put(
        &mut d,
        &format!("{prefix}HostName"),
        offer.host.as_str().into(),
    );
    put(
        &mut d,
        &format!("{prefix}Port"),
        Value::Integer(i64::from(port).into()),
    );
    put(&mut d, &format!("{prefix}UseSSL"), true.into());
    put(
        &mut d,
        &format!("{prefix}PrincipalURL"),
        format!("/dav/principals/{address}/").into(),
    );
    put(&mut d, &format!("{prefix}Username"), address.into());
    d
}

fn put(d: &mut Dictionary, k: &str, v: Value) {
    d.insert(k.to_string(), v);
}

/// `mail.example.com` → `com.example.mail`: Apple's reverse-DNS identifiers.
fn reverse_dns(host: &str) -> String {
    host.split('.').rev().collect::<Vec<_>>().join(".")
}

/// A UUID derived from the host, the address and `what` (RFC 9562 version 8: a
/// name-based UUID whose hash is SHA-256), so that the same profile keeps its identity.
fn uuid(offer: &Offer, address: &str, what: &str) -> String {
    let seed = format!("ferrymail mobileconfig\0{}\0{address}\0{what}", offer.host);
    let d = ring::digest::digest(&ring::digest::SHA256, seed.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d.as_ref()[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode_upper(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}
