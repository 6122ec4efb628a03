//! The reader of one message, its parts and the changes made from it.
//!
//! - `GET /mail/{folder}/{uid}`: headers, the body (HTML in a sandboxed frame, else the
//!   plain text with links), the attachments and the actions. Opening a message sets
//!   \Seen when the caller holds the `s` right, as IMAP's FETCH BODY[] does.
//! - `GET …/html`: the sanitised HTML as a document of its own, with a CSP of its own
//!   ([`FRAME_CSP`], or [`images::FRAME_CSP_IMAGES`] when remote images are allowed) and
//!   framing allowed from this origin only. Both this and the page take `?images=1`
//!   (remote images for this message, [`super::images`]).
//! - The page notes the remote images blocked (with the choices to show them) and the
//!   links whose text names another host ([`super::links`]); inline images the HTML
//!   shows are not listed again as attachments (their part numbers stay as they were);
//!   the message's keywords show as categories ([`super::categories`]).
//! - `GET …/part/{n}`: attachment `n`, decoded, as `Content-Disposition: attachment`
//!   and `application/octet-stream` (never rendered by the browser).
//! - `GET …/source`: the message as stored, as plain text.
//! - `POST /mail/{folder}/{uid}`: `action` = `seen`, `unseen`, `flag`, `unflag` or
//!   `delete` (move to the caller's Trash; deleting in Trash expunges), through the
//!   folder's actor.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use mail_parser::{MessageParser, MimeHeaders};

use super::images;
use super::links::Suspicious;
use super::login::field;
use super::render::{
    attachment_disposition, content_id, frame_document, inline_image_ids, inline_images, linkify,
    sanitize_html,
};
use super::rows::{format_size, tree, FolderLink};
use super::{call, display_name, readable, to_login, user, MailError};
use crate::http::dashboard::{redirect, render, Chrome, Ctx};
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp, FolderRef};

/// The CSP of the message frame: nothing but `data:` images (the message's own inline
/// parts, [`super::render`]), no script, no style, no form, no plugin, and the browser's
/// sandbox even when the URL is opened on its own; only this origin may frame it.
pub const FRAME_CSP: &str = "default-src 'none'; img-src data:; frame-ancestors 'self'; \
base-uri 'none'; form-action 'none'; sandbox allow-popups allow-popups-to-escape-sandbox";

/// An attachment as the reader lists it.
pub struct Attachment {
    pub index: usize,
    pub name: String,
    pub size: String,
}

#[derive(Template)]
#[template(path = "mail/message.html")]
struct MessagePage {
    chrome: Chrome,
    css: String,
    tree: Vec<FolderLink>,
    folder: FolderRef,
    folder_name: String,
    uid: u32,
    from: String,
    to: String,
    cc: String,
    date: String,
    subject: String,
    has_html: bool,
    /// The plain text, escaped and linked (`render::linkify`).
    text_html: String,
    attachments: Vec<Attachment>,
    seen: bool,
    flagged: bool,
    /// `?images=1`: remote images shown for this message (passed on to the frame).
    images_asked: bool,
    blocked_images: usize,
    /// The sender as the image allow-list knows it (empty: none).
    sender: String,
    sender_allowed: bool,
    suspicious: Vec<Suspicious>,
    /// The message's keywords, shown as categories.
    keywords: Vec<String>,
    can_write: bool,
}

/// What the page needs of the message, read on the blocking pool.
struct Shown {
    tree: Vec<FolderLink>,
    folder_name: String,
    from: String,
    to: String,
    cc: String,
    date: String,
    subject: String,
    has_html: bool,
    text_html: String,
    attachments: Vec<Attachment>,
    seen: bool,
    flagged: bool,
    blocked_images: usize,
    sender: String,
    sender_allowed: bool,
    suspicious: Vec<Suspicious>,
    keywords: Vec<String>,
    can_write: bool,
}

type MsgPath = web::Path<(FolderRef, u32)>;

/// The raw message `uid` of `folder` when `me` may read the folder (else NotFound).
fn content(b: &impl Backend, me: &str, folder: FolderRef, uid: u32) -> Result<Vec<u8>, MailError> {
    readable_by(b, me, folder)?;
    if b.message_meta(folder, uid)?.is_none() {
        return Err(MailError::NotFound);
    }
    Ok(b.message_content(folder, uid)?)
}

fn readable_by(b: &impl Backend, me: &str, folder: FolderRef) -> Result<String, MailError> {
    readable(b, me, folder).map(|(_, rights)| rights)
}

fn addresses(a: Option<&mail_parser::Address<'_>>) -> String {
    let Some(a) = a else { return String::new() };
    a.iter()
        .map(|x| match (x.name(), x.address()) {
            (Some(n), Some(ad)) => format!("{n} <{ad}>"),
            (None, Some(ad)) => ad.to_string(),
            (Some(n), None) => n.to_string(),
            (None, None) => String::new(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether the URL asks for remote images (`?images=1`, [`super::images`]).
fn images_asked(req: &HttpRequest) -> bool {
    form_urlencoded::parse(req.query_string().as_bytes()).any(|(k, v)| k == "images" && v == "1")
}

/// `GET /mail/{folder}/{uid}`.
pub async fn show(ctx: Ctx, req: HttpRequest, path: MsgPath) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let images_asked = images_asked(&req);
    let who = me.clone();
    let s = call(&ctx, move |b| {
        let (info, rights) = readable(b, &who, folder)?;
        let meta = b.message_meta(folder, uid)?.ok_or(MailError::NotFound)?;
        let raw = b.message_content(folder, uid)?;
        let mut seen = meta.flags & flag_bits::SEEN != 0;
        if !seen && rights.contains('s') {
            b.store_flags(folder, &[uid], FlagOp::Add, flag_bits::SEEN, &[], None)?;
            seen = true;
        }
        let m = MessageParser::new()
            .parse(&raw)
            .ok_or_else(|| MailError::Invalid("the message cannot be parsed".into()))?;
        let has_html = m.html_part(0).is_some_and(|p| p.is_text_html());
        let text = if has_html {
            Default::default()
        } else {
            m.body_text(0).unwrap_or_default()
        };
        let sender = images::sender(&m);
        let sender_allowed = match &sender {
            Some(s) => images::sender_allowed(b, &who, s)?,
            None => false,
        };
        // Sanitised here only for what the page says about it (blocked images, suspicious
        // links, inline parts shown); the frame's own request makes the markup it shows.
        let cleaned = has_html.then(|| {
            let html = m.body_html(0).unwrap_or_default();
            sanitize_html(&html, inline_image_ids(&m), images_asked || sender_allowed)
        });
        let shown_cids = cleaned
            .as_ref()
            .map(|c| c.shown_cids.clone())
            .unwrap_or_default();
        let attachments = m
            .attachments()
            .enumerate()
            .filter(|(_, p)| !content_id(p).is_some_and(|id| shown_cids.contains(&id)))
            .map(|(index, p)| Attachment {
                index,
                name: p.attachment_name().unwrap_or("(no name)").to_string(),
                size: format_size(p.contents().len() as u64),
            })
            .collect();
        Ok(Shown {
            tree: tree(b, &who, folder)?,
            folder_name: display_name(&who, &info),
            from: addresses(m.from()),
            to: addresses(m.to()),
            cc: addresses(m.cc()),
            date: super::prefs::format_for(
                &super::prefs::load(b, &who)?,
                m.date().map_or(meta.internal_date, |d| d.to_timestamp()),
            ),
            subject: m.subject().unwrap_or("(no subject)").to_string(),
            has_html,
            text_html: linkify(&text),
            attachments,
            seen,
            flagged: meta.flags & flag_bits::FLAGGED != 0,
            blocked_images: cleaned.as_ref().map_or(0, |c| c.blocked_images),
            sender: sender.unwrap_or_default(),
            sender_allowed,
            suspicious: cleaned.map(|c| c.suspicious).unwrap_or_default(),
            keywords: meta.keywords,
            can_write: rights.contains('w'),
        })
    })
    .await?;
    let mut chrome = Chrome::anonymous(&req, "/mail");
    chrome.who = me;
    let t = MessagePage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        tree: s.tree,
        folder,
        folder_name: s.folder_name,
        uid,
        from: s.from,
        to: s.to,
        cc: s.cc,
        date: s.date,
        subject: s.subject,
        has_html: s.has_html,
        text_html: s.text_html,
        attachments: s.attachments,
        seen: s.seen,
        flagged: s.flagged,
        images_asked,
        blocked_images: s.blocked_images,
        sender: s.sender,
        sender_allowed: s.sender_allowed,
        suspicious: s.suspicious,
        keywords: s.keywords,
        can_write: s.can_write,
    };
    Ok(render(&req, &t.chrome, &t))
}

/// `GET /mail/{folder}/{uid}/html`: the frame's document (module comment).
pub async fn html(ctx: Ctx, req: HttpRequest, path: MsgPath) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let asked = images_asked(&req);
    let (doc, remote) = call(&ctx, move |b| {
        let raw = content(b, &me, folder, uid)?;
        let m = MessageParser::new()
            .parse(&raw)
            .ok_or(MailError::NotFound)?;
        if !m.html_part(0).is_some_and(|p| p.is_text_html()) {
            return Err(MailError::NotFound);
        }
        let remote = asked
            || match images::sender(&m) {
                Some(s) => images::sender_allowed(b, &me, &s)?,
                None => false,
            };
        let html = m.body_html(0).unwrap_or_default();
        let cleaned = sanitize_html(&html, inline_images(&m), remote);
        Ok((frame_document(&cleaned.html), remote))
    })
    .await?;
    let csp = if remote {
        images::FRAME_CSP_IMAGES
    } else {
        FRAME_CSP
    };
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_FRAME_OPTIONS, "SAMEORIGIN"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(doc))
}

/// `GET /mail/{folder}/{uid}/part/{n}`: attachment `n`, byte for byte as decoded.
pub async fn attachment(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<(FolderRef, u32, usize)>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid, n) = path.into_inner();
    let (name, bytes) = call(&ctx, move |b| {
        let raw = content(b, &me, folder, uid)?;
        let mut m = MessageParser::new()
            .parse(&raw)
            .ok_or(MailError::NotFound)?;
        let id = *m.attachments.get(n).ok_or(MailError::NotFound)? as usize;
        let part = m.parts.get_mut(id).ok_or(MailError::NotFound)?;
        let name = part.attachment_name().unwrap_or("attachment").to_string();
        Ok((name, take_contents(part)))
    })
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CONTENT_DISPOSITION, attachment_disposition(&name)))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

/// The decoded contents of `part`, moved out of the parsed message rather than copied: a
/// decoded (base64, quoted-printable) body is already owned, so a large attachment is not
/// held a second time while it is sent.
fn take_contents(part: &mut mail_parser::MessagePart<'_>) -> Vec<u8> {
    use mail_parser::PartType;
    match std::mem::take(&mut part.body) {
        PartType::Binary(b) | PartType::InlineBinary(b) => b.into_owned(),
        PartType::Text(t) | PartType::Html(t) => t.into_owned().into_bytes(),
        PartType::Message(m) => m.raw_message().to_vec(),
        PartType::Multipart(_) => Vec::new(),
    }
}

/// `GET /mail/{folder}/{uid}/source`: the message as stored.
pub async fn source(ctx: Ctx, req: HttpRequest, path: MsgPath) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let raw = call(&ctx, move |b| content(b, &me, folder, uid)).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(raw))
}

/// What a form asks of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Seen(bool),
    Flagged(bool),
    Delete,
}

impl Action {
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "seen" => Action::Seen(true),
            "unseen" => Action::Seen(false),
            "flag" => Action::Flagged(true),
            "unflag" => Action::Flagged(false),
            "delete" => Action::Delete,
            _ => return None,
        })
    }
}

/// `POST /mail/{folder}/{uid}`: an action of the module comment; back to the message, or
/// to the list (`back=list`, always after a delete) at `page`, with the sort and search of
/// the form's `list` field.
pub async fn act(
    ctx: Ctx,
    req: HttpRequest,
    path: MsgPath,
    body: web::Bytes,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let (folder, uid) = path.into_inner();
    let action = Action::parse(&field(&body, "action"))
        .ok_or_else(|| MailError::Invalid("unknown action".into()))?;
    call(&ctx, move |b| apply(b, &me, folder, uid, action)).await?;
    let page = field(&body, "page").parse::<usize>().unwrap_or(1).max(1);
    Ok(
        if action == Action::Delete || field(&body, "back") == "list" {
            let back = super::list_query::back_tail(&field(&body, "list"));
            redirect(&format!("/mail/{folder}?page={page}{back}"))
        } else {
            redirect(&format!("/mail/{folder}/{uid}"))
        },
    )
}

/// Runs `action` on one message, checking the right it needs (RFC 4314 §4).
fn apply(
    b: &impl Backend,
    me: &str,
    folder: FolderRef,
    uid: u32,
    action: Action,
) -> Result<(), MailError> {
    let rights = readable_by(b, me, folder)?;
    if b.message_meta(folder, uid)?.is_none() {
        return Err(MailError::NotFound);
    }
    let op = |on: bool| if on { FlagOp::Add } else { FlagOp::Remove };
    match action {
        Action::Seen(on) => {
            need(&rights, 's', "change \\Seen")?;
            b.store_flags(folder, &[uid], op(on), flag_bits::SEEN, &[], None)?;
        }
        Action::Flagged(on) => {
            need(&rights, 'w', "flag messages")?;
            b.store_flags(folder, &[uid], op(on), flag_bits::FLAGGED, &[], None)?;
        }
        Action::Delete => {
            need(&rights, 't', "delete messages")?;
            need(&rights, 'e', "delete messages")?;
            let trash = trash(b, me)?;
            if trash == folder {
                b.store_flags(folder, &[uid], FlagOp::Add, flag_bits::DELETED, &[], None)?;
                b.expunge(folder, &[uid])?;
            } else {
                b.move_messages(folder, &[uid], trash)?;
            }
        }
    }
    Ok(())
}

pub(super) fn need(rights: &str, right: char, what: &'static str) -> Result<(), MailError> {
    if rights.contains(right) {
        Ok(())
    } else {
        Err(MailError::Forbidden(what))
    }
}

/// The caller's Trash: the folder marked `\Trash` (RFC 6154), else the one named Trash,
/// else a new one.
pub(super) fn trash(b: &impl Backend, me: &str) -> Result<FolderRef, MailError> {
    let folders = b.folders(me)?;
    let marked = folders
        .iter()
        .find(|f| f.special_use.as_deref() == Some("\\Trash"))
        .or_else(|| {
            folders
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case("Trash"))
        });
    match marked {
        Some(f) => Ok(f.id),
        None => Ok(b.create_folder(me, "Trash", Some("\\Trash"))?),
    }
}
