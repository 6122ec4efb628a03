//! Remote images: blocked until the user allows them for one message or for its sender.
//!
//! - For one message: the reader's "Show remote images" link adds `?images=1` to the
//!   message's URL, which passes it on to the frame's URL. Nothing is stored.
//! - For a sender: `POST /mail/{folder}/{uid}/images` with `sender=allow` (or `forget`)
//!   stores (or removes) the message's `From` address in the account's allow-list, the
//!   server METADATA entries (RFC 5464, `MetadataOwner::Server`)
//!   `/private/vendor/ferrymail/webmail/images/<address>`, kept by both storage backends
//!   and private to the account. The address is lower case, and every byte other than a
//!   letter, digit or `.@_+-` is written `=XX` (entry names may not hold `%` or `*`).
//! - When allowed, the frame's document keeps `http(s)` image sources and its response
//!   carries [`FRAME_CSP_IMAGES`] (`img-src data: https:`) instead of
//!   [`super::reader::FRAME_CSP`]; no other response changes.

use actix_web::{web, HttpRequest, HttpResponse};
use mail_parser::Message;

use super::login::field;
use super::{call, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, Ctx};
use crate::protocols::imap::backend::{Backend, FolderRef};

/// Where the allowed senders live, one entry per address.
pub const PREFIX: &str = "/private/vendor/ferrymail/webmail/images/";

/// The frame's CSP when remote images are allowed: [`super::reader::FRAME_CSP`] with
/// `https:` images (plain `http:` ones stay blocked: the page is served over HTTPS).
pub const FRAME_CSP_IMAGES: &str = "default-src 'none'; img-src data: https:; \
frame-ancestors 'self'; base-uri 'none'; form-action 'none'; \
sandbox allow-popups allow-popups-to-escape-sandbox";

/// The message's sender as the allow-list knows it: its first `From` address, lower case.
pub fn sender(m: &Message<'_>) -> Option<String> {
    m.from()?
        .first()?
        .address()
        .map(|a| a.trim().to_lowercase())
        .filter(|a| !a.is_empty())
}

/// The entry name of `address` (module comment).
fn entry(address: &str) -> String {
    let mut name = String::from(PREFIX);
    for b in address.to_lowercase().bytes() {
        if b.is_ascii_alphanumeric() || b".@_+-".contains(&b) {
            name.push(b as char);
        } else {
            name.push_str(&format!("={b:02X}"));
        }
    }
    name
}

/// Whether `user` allowed remote images from `address`.
pub fn sender_allowed(b: &impl Backend, user: &str, address: &str) -> Result<bool, MailError> {
    let name = entry(address);
    Ok(b.metadata(None, user)?.iter().any(|(n, _)| *n == name))
}

/// Adds `address` to `user`'s allow-list (`on`) or takes it off, durably.
pub fn set_sender(b: &impl Backend, user: &str, address: &str, on: bool) -> Result<(), MailError> {
    let value = on.then(|| b"1".to_vec());
    b.set_metadata(None, user, &[(entry(address), value)])?;
    Ok(())
}

/// `POST /mail/{folder}/{uid}/images`: `sender=allow` or `sender=forget` for the message's
/// sender; back to the message.
pub async fn set(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(FolderRef, u32)>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let on = match field(&body, "sender").as_str() {
        "allow" => true,
        "forget" => false,
        _ => return Err(MailError::Invalid("unknown choice".into())),
    };
    call(&ctx, move |b| {
        readable(b, &me, folder)?;
        if b.message_meta(folder, uid)?.is_none() {
            return Err(MailError::NotFound);
        }
        let raw = b.message_header(folder, uid)?;
        let m = mail_parser::MessageParser::new()
            .parse_headers(&raw)
            .ok_or(MailError::NotFound)?;
        let from =
            sender(&m).ok_or_else(|| MailError::Invalid("the message has no sender".into()))?;
        set_sender(b, &me, &from, on)
    })
    .await?;
    Ok(redirect(&format!("/mail/{folder}/{uid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_hold_no_wildcards_or_slashes() {
        assert_eq!(
            entry("Bob.Smith+news@Example.COM"),
            format!("{PREFIX}bob.smith+news@example.com")
        );
        assert_eq!(entry("a/b%c*d@x"), format!("{PREFIX}a=2Fb=25c=2Ad@x"));
    }
}
