//! Writing mail: the compose form, filled for a reply, a forward or a reopened draft, and
//! what its buttons do.
//!
//! - `GET /compose`: an empty form; `?reply=F/U`, `?replyall=F/U`, `?forward=F/U` (the text
//!   quoted, the original's attachments carried over), `?forward=F/U&as=attachment` (the
//!   original whole, as a `message/rfc822` part), `?draft=F/U` (a draft reopened: sending
//!   or saving replaces it). `F/U` is a folder id and a UID, as in the reader's URLs.
//! - `POST /compose`: `action` = `send` ([`super::compose_send`]), `save` (to Drafts,
//!   [`super::drafts`]; compose.js posts it every ~10 s when the form changed, with
//!   `ajax=1` for a short JSON answer), `discard` (the draft and the uploads go), or
//!   `remove-N` (drop attachment `N`, for the form without a script).
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
use askama::Template;
use mail_parser::{Message, MessageParser, MimeHeaders};

use super::folders::{format_date, format_size, tree, FolderLink};
use super::uploads::{self, Upload};
use super::{call, readable, to_login, user, MailError};
use crate::http::dashboard::{render, Chrome, Ctx};
use crate::protocols::imap::backend::{Backend, FolderRef};

/// The METADATA entry holding the recent recipients, one address a line, newest first.
pub const RECENT_ENTRY: &str = "/private/vendor/ferrymail/recent-recipients";
/// How many recent recipients are kept.
pub const RECENT_MAX: usize = 50;
/// The header a draft keeps its origin in (`reply F/U` or `forward F/U`), so the flag is set
/// on the original when the reopened draft is sent. Only ever in the Drafts copy.
pub const ORIGIN_HEADER: &str = "X-Ferrymail-Origin";

/// What the form holds, posted or prefilled.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// The compose id (its uploads directory).
    pub cid: String,
    pub from: String,
    pub to: String,
    pub cc: String,
    pub bcc: String,
    pub subject: String,
    pub body: String,
    pub requiretls: bool,
    pub in_reply_to: String,
    pub references: String,
    /// `reply F/U` or `forward F/U`: whose flag to set once sent.
    pub origin: String,
    /// The draft this compose replaces, `F/U`; empty before the first save.
    pub draft: String,
}

impl Form {
    /// The form from a url-encoded body.
    pub fn parse(body: &[u8]) -> Form {
        let mut f = Form::default();
        for (k, v) in form_urlencoded::parse(body) {
            let v = v.into_owned();
            match &*k {
                "cid" => f.cid = v,
                "from" => f.from = v,
                "to" => f.to = v,
                "cc" => f.cc = v,
                "bcc" => f.bcc = v,
                "subject" => f.subject = v,
                // Browsers send CRLF; the builder writes CRLF itself.
                "body" => f.body = v.replace("\r\n", "\n"),
                "requiretls" => f.requiretls = !v.is_empty(),
                "in_reply_to" => f.in_reply_to = v,
                "references" => f.references = v,
                "origin" => f.origin = v,
                "draft" => f.draft = v,
                _ => {}
            }
        }
        f
    }
}

/// `F/U` as a folder id and UID.
pub fn message_ref(s: &str) -> Option<(FolderRef, u32)> {
    let (f, u) = s.split_once('/')?;
    Some((f.parse().ok()?, u.parse().ok()?))
}

/// One address of an address field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub name: Option<String>,
    pub address: String,
}

/// A comma-separated address field: each `addr` or `Name <addr>`; Invalid naming the first
/// address the SMTP grammar refuses.
pub fn parse_addresses(field: &str, label: &str) -> Result<Vec<Addr>, MailError> {
    let mut out = Vec::new();
    for item in split_addresses(field) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        let (name, address) = match (item.rfind('<'), item.ends_with('>')) {
            (Some(i), true) => {
                let name = item[..i].trim().trim_matches('"').trim();
                let name = (!name.is_empty()).then(|| name.to_string());
                (name, item[i + 1..item.len() - 1].trim().to_string())
            }
            _ => (None, item.to_string()),
        };
        if !crate::protocols::smtp::is_mailbox(&address) {
            return Err(MailError::Invalid(format!(
                "{label}: \"{item}\" is not an email address"
            )));
        }
        out.push(Addr { name, address });
    }
    Ok(out)
}

/// Splits at commas outside double quotes (`"Doe, Jane" <j@example.com>`).
fn split_addresses(field: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in field.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' | ';' if !quoted => {
                parts.push(&field[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&field[start..]);
    parts
}

/// `prefix` ("Re:" or "Fwd:") once in front of `subject`: "Re: Re: x" stays "Re: x".
pub fn prefixed(prefix: &str, subject: &str) -> String {
    let alts: &[&str] = if prefix.eq_ignore_ascii_case("re:") {
        &["re:"]
    } else {
        &["fwd:", "fw:"]
    };
    let mut s = subject.trim();
    while let Some(p) = alts
        .iter()
        .find(|p| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
    {
        s = s[p.len()..].trim_start();
    }
    format!("{prefix} {s}")
}

#[derive(Template)]
#[template(path = "mail/compose.html")]
pub struct ComposePage {
    pub chrome: Chrome,
    pub css: String,
    pub js: String,
    pub tree: Vec<FolderLink>,
    pub form: Form,
    pub attachments: Vec<Upload>,
    pub sizes: Vec<String>,
    pub recent: Vec<String>,
    pub error: String,
    pub notice: String,
    pub max_size: String,
}

/// The page for `form`, with the error or notice shown above it.
pub async fn page(
    ctx: &Ctx,
    req: &HttpRequest,
    me: &str,
    form: Form,
    error: String,
    notice: String,
) -> Result<HttpResponse, MailError> {
    let who = me.to_string();
    let (tree, recent) = call(ctx, move |b| Ok((tree(b, &who, 0)?, recent(b, &who)?))).await?;
    let dir = uploads::dir(ctx, me, &form.cid)?;
    let attachments = web::block(move || uploads::list(&dir))
        .await
        .map_err(|_| MailError::Unavailable)??;
    let mut chrome = Chrome::anonymous(req, "/compose");
    chrome.who = me.to_string();
    let t = ComposePage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        js: crate::http::dashboard::asset_url("compose.js"),
        tree,
        sizes: attachments.iter().map(|a| format_size(a.size)).collect(),
        attachments,
        form,
        recent,
        error,
        notice,
        max_size: format_size(ctx.config().smtp.max_message_size),
    };
    let mut res = render(req, &t.chrome, &t);
    if !t.error.is_empty() {
        *res.status_mut() = actix_web::http::StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(res)
}

/// The account's recent recipients, newest first.
pub fn recent(b: &impl Backend, me: &str) -> Result<Vec<String>, MailError> {
    let Some(inbox) = b.find_folder(me, "INBOX")? else {
        return Ok(Vec::new());
    };
    let entries = b.metadata(Some(inbox.id), me)?;
    Ok(entries
        .into_iter()
        .find(|(k, _)| k == RECENT_ENTRY)
        .map(|(_, v)| {
            String::from_utf8_lossy(&v)
                .lines()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default())
}

/// Puts `sent` in front of the recent recipients (each once), keeping [`RECENT_MAX`].
pub fn remember(b: &impl Backend, me: &str, sent: &[String]) -> Result<(), MailError> {
    let Some(inbox) = b.find_folder(me, "INBOX")? else {
        return Ok(());
    };
    let mut list: Vec<String> = Vec::new();
    for a in sent.iter().cloned().chain(recent(b, me)?) {
        if !list.iter().any(|x| x.eq_ignore_ascii_case(&a)) {
            list.push(a);
        }
    }
    list.truncate(RECENT_MAX);
    let value = list.join("\n").into_bytes();
    b.set_metadata(
        Some(inbox.id),
        me,
        &[(RECENT_ENTRY.to_string(), Some(value))],
    )?;
    Ok(())
}

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
            f.body = format!("\n\n{sep}{sig}{}", f.body);
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
                carry_attachments(&m, dir, cap)?;
            }
            f.origin = format!("forward {}/{}", at.0, at.1);
        }
        Start::Draft(at) => {
            let drafts = super::drafts::folder(b, me)?;
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

/// `POST /compose` (module comment).
pub async fn submit(
    ctx: Ctx,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let action = super::login::field(&body, "action");
    let ajax = super::login::field(&body, "ajax") == "1";
    let mut form = Form::parse(&body);
    let dir = uploads::dir(&ctx, &me, &form.cid)?;
    match action.as_str() {
        "send" => super::compose_send::send(&ctx, &req, &me, form, dir).await,
        "save" => {
            let saved = super::drafts::save(&ctx, &me, &form, &dir).await;
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
        "discard" => {
            let draft = form.draft.clone();
            let who = me.clone();
            call(&ctx, move |b| super::drafts::delete(b, &who, &draft)).await?;
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
