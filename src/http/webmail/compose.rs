//! Writing mail: the compose form, filled for a reply, a forward or a reopened draft, and
//! what its buttons do.
//!
//! - `GET /compose`: an empty form; `?reply=F/U`, `?replyall=F/U`, `?forward=F/U` (the text
//!   quoted, the original's attachments carried over), `?forward=F/U&as=attachment` (the
//!   original whole, as a `message/rfc822` part), `?draft=F/U` (a draft reopened: sending
//!   or saving replaces it). `F/U` is a folder id and a UID, as in the reader's URLs.
//! - Rich text ([`super::compose_rich`]): an HTML original is quoted as HTML, and such a
//!   compose, a draft holding HTML, or any compose of a user who chose rich text opens in
//!   the editor; `POST /compose` with `action=mode` and `mode=rich|plain` remembers the choice.
//! - `POST /compose`: `action` = `send` ([`super::compose_send`]), `save` (to Drafts,
//!   [`super::compose_send`]; compose.js posts it every ~10 s when the form changed, with
//!   `ajax=1` for a short JSON answer), `discard` (the draft and the uploads go), or
//!   `remove-N` (drop attachment `N`, for the form without a script), `attach` (the
//!   form again once its file inputs' files are stored). The form is
//!   `multipart/form-data` ([`super::compose_multipart`]); scripts post it url-encoded.
//! - Attachments live on disk per compose until the message is sent ([`super::uploads`]).
//!
//! Implementation notes:
//!
//! - Addresses are comma-separated `addr` or `Name <addr>`, each checked with the SMTP
//!   session's mailbox grammar (`protocols::smtp::is_mailbox`, RFC 5321 §4.1.2 with RFC
//!   6531 UTF-8), so the form refuses what RCPT TO would.
//! - Reply: "Re: " once (RFC 5322 §3.6.5), In-Reply-To the original's Message-ID,
//!   References its References plus that id (§3.6.4). The original gets \Answered, a
//!   forwarded one `$Forwarded`, once the message is queued.
//! - Recent recipients (the `<datalist>` of the address fields) are the last 50 addresses
//!   the account sent to, kept as a private RFC 5464 METADATA entry on its INBOX
//!   ([`RECENT_ENTRY`]): storage the account already has, durable, and an IMAP client
//!   with METADATA sees the same list.
//! - Every failure shows the form again with what was typed and the error (nothing lost).

use actix_web::{web, HttpRequest, HttpResponse};
use mail_parser::{Message, MessageParser, MimeHeaders};

use super::compose_rich;
use super::prefs::format_date;
use super::uploads::{self};
use super::{call, readable, to_login, user, MailError};
use crate::http::dashboard::Ctx;
use crate::protocols::imap::backend::{Backend, FolderRef};

use super::compose_form::{message_ref, page, prefixed, Form, ORIGIN_HEADER};

#[derive(serde::Deserialize, Default)]
pub struct ComposeQuery {
    reply: Option<String>,
    replyall: Option<String>,
    forward: Option<String>,
    #[serde(rename = "as")]
    forward_as: Option<String>,
    draft: Option<String>,
    sent: Option<String>,
}

/// What the form starts from.
enum Start {
    Empty,
    Reply { at: (FolderRef, u32), all: bool },
    Forward { at: (FolderRef, u32), attach: bool },
    Draft((FolderRef, u32)),
}

fn at(s: &str) -> Result<(FolderRef, u32), MailError> {
    message_ref(s).ok_or(MailError::NotFound)
}

/// `GET /compose` (module comment).
pub async fn show(
    ctx: Ctx,
    req: HttpRequest,
    query: web::Query<ComposeQuery>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let q = query.into_inner();
    let start = if let Some(r) = &q.reply {
        Start::Reply {
            at: at(r)?,
            all: false,
        }
    } else if let Some(r) = &q.replyall {
        Start::Reply {
            at: at(r)?,
            all: true,
        }
    } else if let Some(r) = &q.forward {
        Start::Forward {
            at: at(r)?,
            attach: q.forward_as.as_deref() == Some("attachment"),
        }
    } else if let Some(r) = &q.draft {
        Start::Draft(at(r)?)
    } else {
        Start::Empty
    };
    let sweep_ctx = ctx.clone();
    let sweep_me = me.clone();
    // Old composes of this account go first (uploads' module comment).
    let _ = web::block(move || uploads::sweep(&sweep_ctx, &sweep_me)).await;
    let cid = uploads::new_cid();
    let dir = uploads::dir(&ctx, &me, &cid)?;
    let cap = ctx.config().smtp.max_message_size;
    let who = me.clone();
    let form = call(&ctx, move |b| {
        // The user's signature from the settings, its macros expanded (`prefs`).
        let signature = super::prefs::signature_for(&b.ctx, &who);
        let rich = compose_rich::load_rich(b, &who)?;
        let mut f = prefill(b, &who, start, &dir, cap)?;
        f.cid = cid;
        if f.from.is_empty() {
            f.from = who.clone();
        }
        if let Some(sig) = signature.filter(|_| f.draft.is_empty()) {
            // The textarea's line ends; the separator line "-- " (RFC 3676 §4.3) once,
            // whether or not the user wrote it into the signature.
            let sig = sig.replace("\r\n", "\n");
            let sep = if sig.starts_with("-- \n") {
                ""
            } else {
                "-- \n"
            };
            let block = format!("\n\n{sep}{sig}");
            f.body = format!("{block}{}", f.body);
            if !f.html.is_empty() {
                f.html = format!("{}{}", compose_rich::from_text(&block), f.html);
            }
        }
        // The remembered choice; an HTML original or draft opened rich already.
        f.rich |= rich;
        if f.rich && f.html.is_empty() {
            f.html = compose_rich::from_text(&f.body);
        }
        Ok(f)
    })
    .await?;
    let notice = if q.sent.is_some() {
        "Your message was sent.".to_string()
    } else {
        String::new()
    };
    page(&ctx, &req, &me, form, String::new(), notice).await
}

/// The original message `at` when `me` may read it, parsed later by the caller.
fn original(b: &impl Backend, me: &str, at: (FolderRef, u32)) -> Result<Vec<u8>, MailError> {
    readable(b, me, at.0)?;
    if b.message_meta(at.0, at.1)?.is_none() {
        return Err(MailError::NotFound);
    }
    Ok(b.message_content(at.0, at.1)?)
}

fn parse(raw: &[u8]) -> Result<Message<'_>, MailError> {
    MessageParser::new()
        .parse(raw)
        .ok_or_else(|| MailError::Invalid("the message cannot be parsed".into()))
}

/// The addresses of a header as a form field.
fn field_of(a: Option<&mail_parser::Address<'_>>) -> Vec<String> {
    let Some(a) = a else { return Vec::new() };
    a.iter()
        .filter_map(|x| {
            let ad = x.address()?;
            Some(match x.name() {
                Some(n) if !n.is_empty() => format!("{} <{ad}>", n.replace([',', ';', '"'], " ")),
                _ => ad.to_string(),
            })
        })
        .collect()
}

fn bare(item: &str) -> String {
    match (item.rfind('<'), item.ends_with('>')) {
        (Some(i), true) => item[i + 1..item.len() - 1].to_string(),
        _ => item.to_string(),
    }
}

/// Message-IDs of a header, each `<…>`.
fn ids(v: &mail_parser::HeaderValue<'_>) -> Vec<String> {
    v.as_text_list()
        .map(|l| l.iter().map(|s| format!("<{s}>")).collect())
        .unwrap_or_default()
}

/// The form for `start`: the quoted text, the headers, and attachments copied into `dir`.
fn prefill(
    b: &impl Backend,
    me: &str,
    start: Start,
    dir: &std::path::Path,
    cap: u64,
) -> Result<Form, MailError> {
    let mut f = Form::default();
    match start {
        Start::Empty => {}
        Start::Reply { at, all } => {
            let raw = original(b, me, at)?;
            let m = parse(&raw)?;
            let mut to = field_of(m.reply_to().or(m.from()));
            let mut cc = Vec::new();
            if all {
                to.extend(field_of(m.to()));
                cc = field_of(m.cc());
            }
            // Not to oneself, not twice.
            let mut seen: Vec<String> = vec![me.to_lowercase()];
            let mut keep = |list: Vec<String>| -> Vec<String> {
                list.into_iter()
                    .filter(|a| {
                        let k = bare(a).to_lowercase();
                        if seen.contains(&k) {
                            false
                        } else {
                            seen.push(k);
                            true
                        }
                    })
                    .collect()
            };
            let mut to = keep(to);
            let cc = keep(cc);
            if to.is_empty() && !all {
                // A reply to one's own message goes to its recipients.
                to = field_of(m.to());
            }
            f.to = to.join(", ");
            f.cc = cc.join(", ");
            f.subject = prefixed("Re:", m.subject().unwrap_or(""));
            let id = m.message_id().map(|i| format!("<{i}>"));
            let mut refs = ids(m.references());
            if refs.is_empty() {
                refs = ids(m.in_reply_to());
            }
            if let Some(id) = &id {
                f.in_reply_to = id.clone();
                refs.push(id.clone());
            }
            f.references = refs.join(" ");
            let who = field_of(m.from()).join(", ");
            let when = m
                .date()
                .map(|d| format_date(d.to_timestamp()))
                .unwrap_or_default();
            let text = m.body_text(0).unwrap_or_default();
            let quoted: String = text.lines().map(|l| format!("> {l}\n")).collect();
            f.body = format!("\n\nOn {when}, {who} wrote:\n{quoted}");
            if let Some(html) = compose_rich::html_of(&m) {
                f.html = compose_rich::quote(&format!("On {when}, {who} wrote:"), &html);
                f.rich = true;
            }
            f.origin = format!("reply {}/{}", at.0, at.1);
        }
        Start::Forward { at, attach } => {
            let raw = original(b, me, at)?;
            let m = parse(&raw)?;
            let subject = m.subject().unwrap_or("").to_string();
            f.subject = prefixed("Fwd:", &subject);
            if attach {
                let name = format!(
                    "{}.eml",
                    if subject.is_empty() {
                        "message"
                    } else {
                        subject.as_str()
                    }
                );
                uploads::add(dir, &name, "message/rfc822", &raw, cap)?;
            } else {
                let head = format!(
                    "\n\n---------- Forwarded message ----------\nFrom: {}\nDate: {}\nSubject: {}\nTo: {}\n\n",
                    field_of(m.from()).join(", "),
                    m.date().map(|d| format_date(d.to_timestamp())).unwrap_or_default(),
                    subject,
                    field_of(m.to()).join(", "),
                );
                f.body = format!("{head}{}", m.body_text(0).unwrap_or_default());
                if let Some(html) = compose_rich::html_of(&m) {
                    f.html = compose_rich::from_text(&head) + &compose_rich::sanitize(&html);
                    f.rich = true;
                }
                carry_attachments(&m, dir, cap)?;
            }
            f.origin = format!("forward {}/{}", at.0, at.1);
        }
        Start::Draft(at) => {
            let drafts = super::compose_send::folder(b, me)?;
            if at.0 != drafts {
                return Err(MailError::NotFound);
            }
            let raw = original(b, me, at)?;
            let m = parse(&raw)?;
            f.from = field_of(m.from()).join(", ");
            f.to = field_of(m.to()).join(", ");
            f.cc = field_of(m.cc()).join(", ");
            f.bcc = field_of(m.bcc()).join(", ");
            f.subject = m.subject().unwrap_or("").to_string();
            f.body = m.body_text(0).unwrap_or_default().replace("\r\n", "\n");
            if let Some(html) = compose_rich::html_of(&m) {
                f.html = compose_rich::sanitize(&html);
                f.rich = true;
            }
            f.in_reply_to = ids(m.in_reply_to()).join(" ");
            f.references = ids(m.references()).join(" ");
            f.origin = m
                .header_raw(ORIGIN_HEADER)
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            f.draft = format!("{}/{}", at.0, at.1);
            carry_attachments(&m, dir, cap)?;
        }
    }
    Ok(f)
}

/// Copies `m`'s attachments into the compose's uploads.
fn carry_attachments(m: &Message<'_>, dir: &std::path::Path, cap: u64) -> Result<(), MailError> {
    for p in m.attachments() {
        let ctype = p
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{s}", c.ctype()),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        let name = p.attachment_name().unwrap_or("attachment");
        uploads::add(dir, name, &ctype, p.contents(), cap)?;
    }
    Ok(())
}

/// The body of a url-encoded post, at most `limit` bytes.
async fn read_limited(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, MailError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(piece) = payload.next().await {
        let piece =
            piece.map_err(|e| MailError::Invalid(format!("the form was cut short: {e}")))?;
        if body.len() + piece.len() > limit {
            return Err(MailError::Invalid("the form is too large".into()));
        }
        body.extend_from_slice(&piece);
    }
    Ok(body)
}

/// `POST /compose` (module comment): url-encoded (the script's posts), or
/// `multipart/form-data` with files (the form without a script,
/// [`super::compose_multipart`]).
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let boundary = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::http::multipart::boundary);
    let (body, refused) = match boundary {
        Some(b) => {
            let posted = super::compose_multipart::read(&ctx, &me, &b, payload).await?;
            (posted.fields, posted.refused)
        }
        None => (read_limited(payload, uploads::CHUNK_LIMIT).await?, None),
    };
    let body = web::Bytes::from(body);
    if let Some(e) = refused {
        // Over the cap: the form again, with what was typed and the error.
        let form = Form::parse(&body);
        let mut res = page(&ctx, &req, &me, form, e.to_string(), String::new()).await?;
        *res.status_mut() = actix_web::http::StatusCode::PAYLOAD_TOO_LARGE;
        return Ok(res);
    }
    let action = super::login::field(&body, "action");
    if action == "mode" {
        // The plain/rich switch of compose-rich.js (compose_rich's module comment).
        let rich = super::login::field(&body, "mode") == "rich";
        call(&ctx, move |b| compose_rich::save_rich(b, &me, rich)).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let ajax = super::login::field(&body, "ajax") == "1";
    let mut form = Form::parse(&body);
    let dir = uploads::dir(&ctx, &me, &form.cid)?;
    match action.as_str() {
        "send" => super::compose_send::send(&ctx, &req, &me, form, dir).await,
        "save" => {
            let saved = super::compose_send::save(&ctx, &me, &form, &dir).await;
            match (saved, ajax) {
                (Ok(draft), true) => Ok(HttpResponse::Ok()
                    .content_type("application/json")
                    .body(serde_json::json!({ "draft": draft }).to_string())),
                (Err(e), true) => Err(e),
                (Ok(draft), false) => {
                    form.draft = draft;
                    page(&ctx, &req, &me, form, String::new(), "Draft saved.".into()).await
                }
                (Err(e), false) => page(&ctx, &req, &me, form, e.to_string(), String::new()).await,
            }
        }
        // Files chosen without a script are stored by now: the form again, with them.
        "attach" => page(&ctx, &req, &me, form, String::new(), String::new()).await,
        "discard" => {
            let draft = form.draft.clone();
            let who = me.clone();
            call(&ctx, move |b| {
                super::compose_send::delete_draft(b, &who, &draft)
            })
            .await?;
            let _ = web::block(move || uploads::discard(&dir)).await;
            Ok(crate::http::dashboard::redirect("/mail"))
        }
        other => {
            let Some(n) = other.strip_prefix("remove-").and_then(|n| n.parse().ok()) else {
                return Err(MailError::Invalid("unknown action".into()));
            };
            web::block(move || uploads::remove(&dir, n))
                .await
                .map_err(|_| MailError::Unavailable)??;
            page(&ctx, &req, &me, form, String::new(), String::new()).await
        }
    }
}
