//! `/folders`: the logged-in account manages its own folders: create (at the top or under
//! a parent), rename, delete, subscribe and unsubscribe.
//!
//! Implementation notes:
//!
//! - Every change is the backend call IMAP's command makes
//!   (`protocols::imap::mailboxes`: CREATE, RENAME, DELETE, SUBSCRIBE, UNSUBSCRIBE), with
//!   the same checks, so an IMAP client sees it at its next LIST or LSUB (and NOTIFY
//!   sessions at once):
//!   - CREATE (RFC 9051 §6.3.4): no empty level, not INBOX, not an existing folder; the
//!     folder and any parents it makes are left unsubscribed, as CREATE leaves them.
//!   - DELETE (§6.3.5): never INBOX; a folder with messages is deleted with them, as IMAP
//!     allows; one with children becomes a `\Noselect` level (the store decides).
//!   - RENAME (§6.3.6): not onto an existing name. Renaming INBOX (which IMAP defines as
//!     moving its messages) is not offered here.
//!   - SUBSCRIBE/UNSUBSCRIBE (§6.3.7–8) work on names; the default folders carry theirs
//!     as a flag, cleared too on UNSUBSCRIBE.
//! - Only own folders are listed and changed: the folders of others (ACL `k`/`x` rights)
//!   stay for IMAP clients.
//! - Forms post to `/folders` with an `action` and the CSRF token; the answer is a redirect
//!   back with a flash message.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::login::field;
use super::{call, to_login, user, MailError};
use crate::http::dashboard::{redirect_with, render, Chrome, Ctx};
use crate::protocols::imap::backend::{Backend, BackendError, FolderInfo, FolderRef};
use crate::protocols::imap::names::{self, SEPARATOR};

/// One of the account's folders on the page.
pub struct Managed {
    pub id: FolderRef,
    pub name: String,
    pub depth: usize,
    pub messages: u32,
    pub subscribed: bool,
    pub inbox: bool,
    pub noselect: bool,
}

#[derive(Template)]
#[template(path = "mail/folders.html")]
struct FoldersPage {
    chrome: Chrome,
    css: String,
    folders: Vec<Managed>,
}

/// The account's folders, INBOX first then by name, with their subscription state.
fn managed(b: &impl Backend, me: &str) -> Result<Vec<Managed>, MailError> {
    let listed = b.subscription_list(me)?;
    let mut all = b.folders(me)?;
    all.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
    Ok(all
        .into_iter()
        .map(|f| Managed {
            id: f.id,
            depth: f.name.matches(SEPARATOR).count(),
            messages: f.exists,
            subscribed: f.subscribed || listed.contains(&f.name),
            inbox: f.name == "INBOX",
            noselect: f.noselect,
            name: f.name,
        })
        .collect())
}

/// `GET /folders`.
pub async fn page(ctx: Ctx, req: HttpRequest) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(to_login());
    };
    let who = me.clone();
    let folders = call(&ctx, move |b| managed(b, &who)).await?;
    let mut chrome = Chrome::anonymous(&req, "/folders");
    chrome.who = me;
    let t = FoldersPage {
        chrome,
        css: crate::http::dashboard::asset_url("mail.css"),
        folders,
    };
    Ok(render(&req, &t.chrome, &t))
}

/// `POST /folders`: `action` = `create` (`parent` id or empty, `name`), `rename` (`folder`,
/// `name`: the whole new name), `delete`, `subscribe` or `unsubscribe` (`folder`).
pub async fn submit(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some(me) = user(&ctx, &req) else {
        return to_login();
    };
    let action = field(&body, "action");
    let name = field(&body, "name");
    let folder = field(&body, "folder").parse::<FolderRef>().ok();
    let parent = field(&body, "parent");
    let result = call(&ctx, move |b| match action.as_str() {
        "create" => create(b, &me, &parent, &name),
        "rename" => rename(b, &me, own(b, &me, folder)?, &name),
        "delete" => delete(b, own(b, &me, folder)?),
        "subscribe" => subscribe(b, &me, own(b, &me, folder)?, true),
        "unsubscribe" => subscribe(b, &me, own(b, &me, folder)?, false),
        other => Err(MailError::Invalid(format!("unknown action {other:?}"))),
    })
    .await;
    redirect_with(&req, "/folders", result.map_err(|e| e.to_string()))
}

/// The caller's own folder `id` (another's, or none: NotFound).
fn own(b: &impl Backend, me: &str, id: Option<FolderRef>) -> Result<FolderInfo, MailError> {
    let f = b.folder(id.ok_or(MailError::NotFound)?)?;
    if f.owner != me {
        return Err(MailError::NotFound);
    }
    Ok(f)
}

/// A folder name as IMAP's CREATE and RENAME accept it (owner-relative): no empty level,
/// INBOX in any case spelt `INBOX`.
fn checked_name(name: &str) -> Result<String, MailError> {
    let name = names::normalise_inbox(name.trim());
    if name.is_empty() || name.split(SEPARATOR).any(|p| p.trim().is_empty()) {
        return Err(MailError::Invalid(format!(
            "{name:?} is not a folder name (levels are separated by {SEPARATOR} and none may be empty)"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(MailError::Invalid(
            "a folder name has no control characters".into(),
        ));
    }
    Ok(name)
}

fn create(b: &impl Backend, me: &str, parent: &str, leaf: &str) -> Result<String, MailError> {
    let leaf = leaf.trim();
    if leaf.contains(SEPARATOR) {
        return Err(MailError::Invalid(format!(
            "the name is one level: pick the parent to put it under (no {SEPARATOR})"
        )));
    }
    let full = match parent.parse::<FolderRef>() {
        Ok(p) => format!("{}{SEPARATOR}{leaf}", own(b, me, Some(p))?.name),
        Err(_) => leaf.to_string(),
    };
    let name = checked_name(&full)?;
    if name == "INBOX" {
        return Err(MailError::Invalid("INBOX always exists".into()));
    }
    if let Some(existing) = b.find_folder(me, &name)? {
        if !existing.noselect {
            return Err(MailError::Invalid(format!("{name} exists already")));
        }
    }
    // As CREATE: the levels this makes stay unsubscribed (the store subscribes new ones).
    let mut made = Vec::new();
    let mut level = Some(name.as_str());
    while let Some(n) = level {
        if b.find_folder(me, n)?.is_none() {
            made.push(n.to_string());
        }
        level = names::parent(n);
    }
    b.create_folder(me, &name, None)?;
    for n in made {
        if let Some(f) = b.find_folder(me, &n)? {
            b.set_subscribed(f.id, false)?;
        }
    }
    Ok(format!("Folder {name} created."))
}

fn rename(b: &impl Backend, me: &str, f: FolderInfo, to: &str) -> Result<String, MailError> {
    if f.name == "INBOX" {
        return Err(MailError::Invalid("INBOX cannot be renamed".into()));
    }
    let to = checked_name(to)?;
    if to == "INBOX" || b.find_folder(me, &to)?.is_some() {
        return Err(MailError::Invalid(format!("{to} exists already")));
    }
    b.rename_folder(f.id, &to)?;
    Ok(format!("Folder {} renamed to {to}.", f.name))
}

fn delete(b: &impl Backend, f: FolderInfo) -> Result<String, MailError> {
    if f.name == "INBOX" {
        return Err(MailError::Invalid("INBOX cannot be deleted".into()));
    }
    b.delete_folder(f.id)?;
    Ok(format!("Folder {} deleted.", f.name))
}

fn subscribe(b: &impl Backend, me: &str, f: FolderInfo, on: bool) -> Result<String, MailError> {
    if !on {
        b.set_subscribed(f.id, false)?;
    }
    match b.set_subscription(me, &f.name, on) {
        Ok(()) => {}
        // Nothing on the list to remove: the flag above was the subscription.
        Err(BackendError::NotFound(_)) if !on => {}
        Err(e) => return Err(e.into()),
    }
    Ok(format!(
        "{} {}.",
        f.name,
        if on { "subscribed" } else { "unsubscribed" }
    ))
}
