//! Webmail, first slice (issue 14): log in, the folder tree, a folder's message list and
//! the reader, on the public `http` and `https` listeners (docs/architecture.md §5).
//!
//! Implementation notes:
//!
//! - Logins are the dashboard's (`http::login_steps`, `http::session`, `http::csrf`): the
//!   same session cookie, CSRF token, per-address failure limit, screening reports, TOTP
//!   step and `[http] session_idle` / `session_max` expiry. Any account may log in here.
//!   Only the session cookie counts: HTTP Basic is exempt from the CSRF check, so it must
//!   not open a mailbox in a browser. The form posts to `/login`, so the plain-HTTP
//!   password rule of `http::security` applies to it.
//! - Mail goes through the IMAP session's backend (`actors::imap_backend::StoreBackend`):
//!   reads from the store's index and body files, every change (flags, move to Trash)
//!   through the folder's `MailboxFolderActor`, which tells IMAP IDLE and NOTIFY
//!   sessions. Its calls block (they wait for the actor), so they run on the blocking
//!   pool ([`call`]).
//! - Folders are named by id and messages by UID in URLs. Every request checks the
//!   caller's ACL rights on the folder (RFC 4314: `r` to read, `s` for \Seen, `w` for
//!   \Flagged, `t`+`e` to delete); a folder the caller may not read is 404, the same as
//!   one that does not exist, so ids of other people's folders tell nothing.
//! - A message's HTML is sanitised with ammonia ([`render`]) and served from its own URL
//!   with its own Content-Security-Policy (no scripts, images only as `data:` URLs made
//!   from the message's own `cid:` parts, sandboxed) into an `<iframe sandbox>`: remote
//!   images are loaded only once the user allows them for the message or its sender
//!   ([`images`]), and links showing one host but going to another are flagged
//!   ([`links`]). Plain text is escaped, its links made clickable. Categories are IMAP
//!   keywords ([`categories`]).
//!
//! - The open list follows the folder live ([`live`]: server-sent events, the folder
//!   actor's subscription as IMAP IDLE's), and acts on many messages at once ([`bulk`]).
//!
//! - The message list sorts, searches and groups conversations with the IMAP SORT, SEARCH
//!   and THREAD=REFERENCES code ([`list_query`], `protocols::imap::query`); the live
//!   updates run on the plain list (newest first), where new mail goes at the top.
//!
//! - `/settings` ([`settings`]): display name, signature and time zone ([`prefs`], kept as
//!   the account's RFC 5464 metadata; list and reader dates show in the user's zone), the password
//!   and two-factor enrolment (the dashboard's `admin::twofa`);
//!   `/folders` ([`manage`]): create, rename, delete and (un)subscribe own folders through
//!   the backend calls of IMAP's CREATE/RENAME/DELETE/SUBSCRIBE.
//!
//! - Compose, reply, forward, drafts and attachments: [`compose`] (the form),
//!   [`compose_send`] (through the SMTP submission pipeline), drafts, [`uploads`]; rich
//!   text as multipart/alternative: [`compose_rich`].
//!
//! - Snooze ([`snooze`]): messages put away to the `Snoozed` folder until a chosen time,
//!   brought back unread by `actors::snooze`'s waker.
//! - Calendar ([`calendar`], [`calendar_event`], [`calendar_ical`], new times proposed
//!   and answered: [`calendar_counter`]) and contacts ([`contacts`], [`contacts_card`])
//!   on the CalDAV/CardDAV store (`storage::davstore`), shared collections included
//!   ([`shared`]);
//!   compose suggests recipients from the contacts (`/contacts/suggest`).
//! - Remembered devices ([`remember`]): "Remember this device" on the code step leaves a
//!   long-lived token that lets later logins skip the code (never the password);
//!   `/settings/devices` ([`devices`]) lists and forgets them.

mod bulk;
mod calendar;
mod calendar_counter;
mod calendar_event;
mod calendar_ical;
#[cfg(test)]
mod calendar_tests;
mod categories;
mod compose;
mod compose_form;
#[cfg(test)]
mod compose_limits_tests;
mod compose_multipart;
#[cfg(test)]
mod compose_multipart_tests;
mod compose_rich;
#[cfg(test)]
mod compose_rich_tests;
mod compose_send;
#[cfg(test)]
mod compose_tests;
mod contacts;
mod contacts_card;
#[cfg(test)]
mod contacts_tests;
#[cfg(test)]
mod counter_tests;
mod devices;
mod folders;
mod images;
mod links;
#[cfg(test)]
mod links_tests;
mod list_query;
#[cfg(test)]
mod list_tests;
mod live;
#[cfg(test)]
mod live_tests;
mod login;
mod manage;
pub mod prefs;
mod reader;
#[cfg(test)]
mod reader_tests;
mod remember;
#[cfg(test)]
mod remember_tests;
mod render;
mod rows;
mod settings;
#[cfg(test)]
mod settings_tests;
mod shared;
#[cfg(test)]
mod shared_tests;
mod snooze;
#[cfg(test)]
mod snooze_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod uploads;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use crate::actors::imap_backend::StoreBackend;
use crate::http::dashboard::Ctx;
use crate::http::session;
use crate::protocols::imap::backend::{Backend, BackendError, FolderInfo, FolderRef};

/// The routes of the `http` and `https` listeners' webmail.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(login::home))
        .route("/login", web::post().to(login::submit))
        .route("/login/code", web::get().to(login::code_form))
        .route("/login/code", web::post().to(login::code_submit))
        .route("/logout", web::post().to(login::logout))
        .route("/mail", web::get().to(folders::inbox))
        .route("/mail/{folder}", web::get().to(folders::list))
        // Before `/mail/{folder}/{uid}`, which would take these names as a UID.
        .route("/mail/{folder}/events", web::get().to(live::events))
        .route("/mail/{folder}/bulk", web::post().to(bulk::act))
        .route("/mail/{folder}/snooze", web::post().to(snooze::snooze))
        .route("/mail/{folder}/wake", web::post().to(snooze::wake_now))
        .route("/mail/{folder}/{uid}", web::get().to(reader::show))
        .route("/mail/{folder}/{uid}", web::post().to(reader::act))
        .route("/mail/{folder}/{uid}/html", web::get().to(reader::html))
        .route(
            "/mail/{folder}/{uid}/part/{n}",
            web::get().to(reader::attachment),
        )
        .route("/mail/{folder}/{uid}/source", web::get().to(reader::source))
        .route("/mail/{folder}/{uid}/images", web::post().to(images::set))
        .route(
            "/mail/{folder}/{uid}/categories",
            web::post().to(categories::change),
        )
        .route("/settings", web::get().to(settings::page))
        .route("/settings", web::post().to(settings::submit))
        .route("/settings/devices", web::get().to(devices::page))
        .route("/settings/devices", web::post().to(devices::submit))
        .route("/calendar", web::get().to(calendar::view))
        .route("/calendar/event", web::get().to(calendar_event::form))
        .route("/calendar/event", web::post().to(calendar_event::submit))
        .route("/contacts", web::get().to(contacts::list))
        .route("/contacts/card", web::get().to(contacts::form))
        .route("/contacts/card", web::post().to(contacts::submit))
        .route("/contacts/suggest", web::get().to(contacts::suggest))
        .route("/folders", web::get().to(manage::page))
        .route("/folders", web::post().to(manage::submit))
        .service(
            web::resource("/compose")
                .app_data(web::PayloadConfig::new(uploads::CHUNK_LIMIT))
                .route(web::get().to(compose::show))
                .route(web::post().to(compose::submit)),
        )
        .service(
            web::resource("/compose/{cid}/upload/{n}")
                .app_data(web::PayloadConfig::new(uploads::CHUNK_LIMIT))
                .route(web::put().to(uploads::put))
                .route(web::delete().to(uploads::delete)),
        );
}

/// Why a webmail request failed, as the user sees it.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// No such folder or message, or not one the caller may see.
    #[error("not found")]
    NotFound,
    /// The caller may see it but not do this (missing ACL right).
    #[error("you may not {0} in this folder")]
    Forbidden(&'static str),
    /// A form or path the handlers do not know.
    #[error("{0}")]
    Invalid(String),
    /// Storage or a folder actor failed; try again.
    #[error("the mailbox cannot be read now; try again later")]
    Unavailable,
}

impl From<BackendError> for MailError {
    fn from(e: BackendError) -> MailError {
        match e {
            BackendError::NotFound(_) => MailError::NotFound,
            BackendError::Invalid(m) | BackendError::Conflict(m) | BackendError::Exists(m) => {
                MailError::Invalid(m)
            }
            BackendError::OverQuota(r) => MailError::Invalid(format!("quota exceeded ({r})")),
            BackendError::Unavailable(m) => {
                tracing::warn!("webmail: {m}");
                MailError::Unavailable
            }
        }
    }
}

impl ResponseError for MailError {
    fn status_code(&self) -> StatusCode {
        match self {
            MailError::NotFound => StatusCode::NOT_FOUND,
            MailError::Forbidden(_) => StatusCode::FORBIDDEN,
            MailError::Invalid(_) => StatusCode::BAD_REQUEST,
            MailError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code())
            .content_type("text/plain; charset=utf-8")
            .body(format!("{self}\n"))
    }
}

/// The logged-in account (second factor done); `None`: answer [`to_login`].
pub(crate) fn user(ctx: &Ctx, req: &HttpRequest) -> Option<String> {
    session::current(ctx, req)
        .filter(|s| s.mfa_done)
        .map(|s| s.address)
}

/// The answer without a session: to the login page.
pub(crate) fn to_login() -> HttpResponse {
    crate::http::dashboard::redirect("/")
}

/// Runs `work` on the mail backend on the blocking pool (its calls wait for folder actors).
pub(crate) async fn call<T, F>(ctx: &Ctx, work: F) -> Result<T, MailError>
where
    T: Send + 'static,
    F: FnOnce(&StoreBackend) -> Result<T, MailError> + Send + 'static,
{
    let backend = StoreBackend {
        ctx: Arc::clone(ctx.get_ref()),
    };
    web::block(move || work(&backend)).await.map_err(|e| {
        tracing::error!("webmail: blocking call failed: {e}");
        MailError::Unavailable
    })?
}

/// The folder `id` with the caller's rights on it, when `user` may read it (else NotFound).
pub(crate) fn readable(
    b: &impl Backend,
    user: &str,
    id: FolderRef,
) -> Result<(FolderInfo, String), MailError> {
    let info = b.folder(id)?;
    let rights = b.rights(id, user)?;
    if info.noselect || !rights.contains('r') {
        return Err(MailError::NotFound);
    }
    Ok((info, rights))
}

/// The name the user sees for a folder: its own name, `Other Users/<owner>/<name>` or
/// `Public Folders/<name>` (the IMAP namespaces, `protocols::imap::names`).
pub(crate) fn display_name(user: &str, f: &FolderInfo) -> String {
    use crate::protocols::imap::backend::PUBLIC_OWNER;
    use crate::protocols::imap::names::{OTHER_USERS, PUBLIC};
    if f.owner == user {
        f.name.clone()
    } else if f.owner == PUBLIC_OWNER {
        format!("{PUBLIC}/{}", f.name)
    } else {
        format!("{OTHER_USERS}/{}/{}", f.owner, f.name)
    }
}
