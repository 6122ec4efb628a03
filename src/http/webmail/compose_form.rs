//! The compose form: what it holds (addresses checked with the SMTP grammar), the page
//! that shows it, and the recent recipients it offers. Shared by the handlers
//! ([`super::compose`]) and by sending and saving drafts ([`super::compose_send`]).

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::rows::{format_size, tree, FolderLink};
use super::uploads::{self, Upload};
use super::{call, MailError};
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
    /// The rich editor's HTML (`html` field), sent only when `rich` ([`super::compose_rich`]).
    pub html: String,
    /// The editor was in rich mode (`mode=rich`, set by compose-rich.js only).
    pub rich: bool,
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
                "html" => f.html = v,
                "mode" => f.rich = v == "rich",
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
    pub rich_js: String,
    /// Recipients suggested from the contacts (`super::contacts`).
    pub suggest_js: String,
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
        rich_js: crate::http::dashboard::asset_url("compose-rich.js"),
        suggest_js: crate::http::dashboard::asset_url("suggest.js"),
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
