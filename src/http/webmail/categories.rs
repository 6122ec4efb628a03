//! Categories: a message's IMAP keywords (RFC 9051 §2.3.2), shown as chips on the reader
//! and the list, added and removed from the reader.
//!
//! - `POST /mail/{folder}/{uid}/categories`: `op` = `add` or `remove`, `name` = the
//!   keyword. The change goes through the folder's actor (`Backend::store_flags` with the
//!   keyword), as an IMAP `STORE +FLAGS (name)` would: IMAP clients see it in FETCH FLAGS,
//!   and in FLAGS / PERMANENTFLAGS once the folder knows the keyword.
//! - A keyword is an `atom` (RFC 9051 §9: `flag-keyword = "$MDNSent" / "$Forwarded" / … /
//!   atom`): printable ASCII without `(){ %*"\]`, not starting with `\` (system flags are
//!   not categories). `$label1`-style names are atoms too. Keywords are case-insensitive
//!   in IMAP; the name is sent as typed and the store matches case as it does for IMAP.
//! - Changing keywords needs the `w` right (RFC 4314 §4), like \Flagged.

use actix_web::{web, HttpRequest, HttpResponse};

use super::login::field;
use super::{call, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, Ctx};
use crate::protocols::imap::backend::{Backend, FlagOp, FolderRef};

/// The longest category name accepted (IMAP has no limit; a list chip needs one).
pub const MAX_LEN: usize = 64;

/// `atom` of RFC 9051 §9: one or more `ATOM-CHAR`, i.e. any CHAR except atom-specials
/// (`(` `)` `{` SP CTL `%` `*` `"` `\` `]`).
pub fn is_keyword(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b > 0x20 && b < 0x7f && !b"(){%*\"\\]".contains(&b))
}

/// `POST /mail/{folder}/{uid}/categories` (module comment); back to the message.
pub async fn change(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(FolderRef, u32)>,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let op = match field(&body, "op").as_str() {
        "add" => FlagOp::Add,
        "remove" => FlagOp::Remove,
        _ => return Err(MailError::Invalid("unknown change".into())),
    };
    let name = field(&body, "name").trim().to_string();
    if !is_keyword(&name) {
        return Err(MailError::Invalid(format!(
            "a category is 1 to {MAX_LEN} letters, digits or marks, without spaces or ( ) {{ % * \" \\ ]"
        )));
    }
    call(&ctx, move |b| {
        let (_, rights) = readable(b, &me, folder)?;
        if b.message_meta(folder, uid)?.is_none() {
            return Err(MailError::NotFound);
        }
        if !rights.contains('w') {
            return Err(MailError::Forbidden("change categories"));
        }
        b.store_flags(folder, &[uid], op, 0, &[name], None)?;
        Ok(())
    })
    .await?;
    Ok(redirect(&format!("/mail/{folder}/{uid}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_atoms() {
        for ok in ["$label1", "Work", "$Forwarded", "a.b-c_d+e", "x!#&'"] {
            assert!(is_keyword(ok), "{ok}");
        }
        let long = "a".repeat(MAX_LEN + 1);
        for bad in [
            "",
            "two words",
            "a(b",
            "a)b",
            "a{b",
            "a%b",
            "a*b",
            "a\"b",
            "\\Seen",
            "a]b",
            "caf\u{e9}",
            "tab\t",
            &long,
        ] {
            assert!(!is_keyword(bad), "{bad:?}");
        }
    }
}
