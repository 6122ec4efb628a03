//! Live updates of an open message list: `GET /mail/{folder}/events`, a stream of
//! server-sent events (HTML Living Standard §9.2, `text/event-stream`) read by
//! `web/static/mail-live.js`.
//!
//! Events (data is JSON):
//!
//! | event      | when                                   | data                                   |
//! |------------|----------------------------------------|----------------------------------------|
//! | `new`      | a message arrived in the folder        | the list row: uid, from, subject, date, size, seen, flagged |
//! | `flags`    | a message's flags changed              | uid, seen, flagged                     |
//! | `expunged` | messages left the folder               | uids                                   |
//! | `unread`   | a folder's unread count may have moved | folder, unseen                         |
//! | `resync`   | the page missed changes                | `{}`: reload the list                  |
//!
//! Implementation notes:
//!
//! - The stream hears the folder exactly as an IMAP IDLE session does: a small actor
//!   ([`LiveListener`]) is subscribed to the folder's actor (`actors::folder::Subscribe`,
//!   [`MailboxChanged`]) and listens to the account's changes
//!   (`actors::account_events`, for the unread counts of the caller's other folders). It
//!   hands what it hears to the stream through a bounded queue; the folder actor and the
//!   account registry drop a recipient that is no longer connected.
//! - The listener stops as soon as the stream is dropped (the browser went away, the
//!   server stops): it waits on its queue's closing, so no subscription outlives its
//!   stream. The stream ends when the session ends (idle or maximum age, logout does not
//!   reach a stream already open, but the cookie it was opened with expires): the session
//!   is checked before each event and each heartbeat.
//! - Resync: every `new`, `flags` and `expunged` event carries the folder's modseq as its
//!   `id`. The page says the modseq it was read at (`?since=`); a reconnecting
//!   `EventSource` sends the id of the last event it had (`Last-Event-ID`), which wins.
//!   When that is not the folder's modseq once subscribed, changes were missed and the
//!   first event is `resync`; the same when the queue overflowed (a slow reader). The
//!   unread counts of the caller's folders are sent on every (re)connection.
//! - The user's preferences (the time zone of a `new` row's date) are read once, when the
//!   stream opens: a change in the settings shows from the next (re)connection.
//! - A heartbeat comment every [`HEARTBEAT`] keeps proxies from closing an idle stream;
//!   the response headers are those of the dashboard's streams (no-store, no proxy
//!   buffering).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use mail_parser::MessageParser;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use super::rows::row;
use super::{call, readable, user, MailError};
use crate::actors::account_events::{AccountChanged, AccountEvent};
use crate::actors::folder::{MailboxChanged, Subscribe};
use crate::http::dashboard::Ctx;
use crate::protocols::imap::backend::{flag_bits, Backend, FolderRef};

/// How often an idle stream sends a comment, so that proxies keep it open.
pub const HEARTBEAT: Duration = Duration::from_secs(15);
/// Changes a stream may fall behind by before it tells the page to reload.
const QUEUE: usize = 256;
/// How long the browser waits before it reconnects (the `retry` field, milliseconds).
const RETRY_MS: u32 = 5000;

/// What the listener hands to its stream.
#[derive(Debug)]
enum Heard {
    /// A change of the open folder.
    Folder(MailboxChanged),
    /// A change in another folder of the caller's account.
    Other(FolderRef),
}

/// The IDLE-like subscriber of one stream (module notes).
pub struct LiveListener {
    folder: FolderRef,
    tx: mpsc::Sender<Heard>,
    overflow: Arc<AtomicBool>,
}

impl LiveListener {
    fn offer(&self, heard: Heard, ctx: &mut Context<Self>) {
        match self.tx.try_send(heard) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.overflow.store(true, Ordering::SeqCst),
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }
}

impl Actor for LiveListener {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // The stream owns the receiver: once it is dropped, stop, so that the folder
        // actor and the account registry see this recipient disconnected.
        let tx = self.tx.clone();
        ctx.spawn(
            async move { tx.closed().await }
                .into_actor(self)
                .map(|(), _, ctx| ctx.stop()),
        );
    }
}

impl Handler<MailboxChanged> for LiveListener {
    type Result = ();

    fn handle(&mut self, msg: MailboxChanged, ctx: &mut Context<Self>) {
        let folder = match &msg {
            MailboxChanged::Added { folder, .. }
            | MailboxChanged::Expunged { folder, .. }
            | MailboxChanged::Flags { folder, .. } => *folder,
        };
        if folder == self.folder {
            self.offer(Heard::Folder(msg), ctx);
        }
    }
}

impl Handler<AccountChanged> for LiveListener {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, ctx: &mut Context<Self>) {
        // The open folder's own changes come through its subscription (which also covers
        // a folder shared by another account).
        if let AccountEvent::Message { folder, .. } = msg.0 {
            if folder != self.folder {
                self.offer(Heard::Other(folder), ctx);
            }
        }
    }
}

/// One SSE event; `id` is the folder's modseq after the change.
fn event(name: &str, id: Option<u64>, data: &serde_json::Value) -> String {
    let id = id.map(|m| format!("id: {m}\n")).unwrap_or_default();
    format!("{id}event: {name}\ndata: {data}\n\n")
}

fn unread(folder: FolderRef, unseen: u32) -> String {
    event(
        "unread",
        None,
        &json!({ "folder": folder, "unseen": unseen }),
    )
}

fn resync(id: Option<u64>) -> String {
    event("resync", id, &json!({}))
}

/// The state of one stream.
struct Stream {
    ctx: Ctx,
    req: HttpRequest,
    me: String,
    folder: FolderRef,
    rx: mpsc::Receiver<Heard>,
    overflow: Arc<AtomicBool>,
    stop: watch::Receiver<bool>,
    /// Events ready to send, oldest first.
    pending: VecDeque<String>,
    /// The user's preferences (the dates' time zone of a `new` row), read once per stream
    /// rather than once per message: a burst of arrivals would read them each time.
    prefs: Arc<super::prefs::Prefs>,
}

impl Stream {
    /// The next text to send; `None` ends the stream.
    async fn next(&mut self) -> Option<String> {
        loop {
            if *self.stop.borrow() || user(&self.ctx, &self.req).as_deref() != Some(&self.me) {
                return None;
            }
            if self.overflow.swap(false, Ordering::SeqCst) {
                self.pending.clear();
                return Some(resync(None));
            }
            if let Some(text) = self.pending.pop_front() {
                return Some(text);
            }
            let heard = tokio::select! {
                _ = self.stop.changed() => continue,
                r = tokio::time::timeout(HEARTBEAT, self.rx.recv()) => r,
            };
            match heard {
                Err(_) => return Some(": heartbeat\n\n".into()),
                Ok(None) => return None,
                Ok(Some(h)) => {
                    let texts = self.describe(h).await;
                    self.pending.extend(texts);
                }
            }
        }
    }

    /// The events telling the page of one change.
    async fn describe(&self, heard: Heard) -> Vec<String> {
        let folder = self.folder;
        let prefs = Arc::clone(&self.prefs);
        let work = move |b: &crate::actors::imap_backend::StoreBackend| {
            let mut out = Vec::new();
            match heard {
                Heard::Other(other) => {
                    out.push(unread(other, b.folder(other)?.unseen));
                    return Ok(out);
                }
                Heard::Folder(MailboxChanged::Added { uid, modseq, .. }) => {
                    let meta = b.message_meta(folder, uid)?;
                    let r = match meta {
                        Some(m) => row(b, folder, &m, &MessageParser::new(), &prefs)?,
                        None => None,
                    };
                    // Gone again already: its expunge follows.
                    if let Some(r) = r {
                        let data = json!({
                            "uid": r.uid, "from": r.from, "subject": r.subject,
                            "date": r.date, "size": r.size, "seen": r.seen,
                            "flagged": r.flagged,
                        });
                        out.push(event("new", Some(modseq), &data));
                    }
                }
                Heard::Folder(MailboxChanged::Flags {
                    uid, flags, modseq, ..
                }) => {
                    let data = json!({
                        "uid": uid,
                        "seen": flags.system & flag_bits::SEEN != 0,
                        "flagged": flags.system & flag_bits::FLAGGED != 0,
                    });
                    out.push(event("flags", Some(modseq), &data));
                }
                Heard::Folder(MailboxChanged::Expunged { uids, modseq, .. }) => {
                    out.push(event("expunged", Some(modseq), &json!({ "uids": uids })));
                }
            }
            out.push(unread(folder, b.folder(folder)?.unseen));
            Ok(out)
        };
        match call(&self.ctx, work).await {
            Ok(out) => out,
            // The folder went away or cannot be read now: the page reloads and shows why.
            Err(_) => vec![resync(None)],
        }
    }
}

#[derive(serde::Deserialize)]
pub struct EventsQuery {
    /// The folder's modseq when the page was read.
    since: Option<u64>,
}

/// `GET /mail/{folder}/events`: the stream of the module notes; 401 without a session,
/// 404 for a folder the caller may not read.
pub async fn events(
    ctx: Ctx,
    req: HttpRequest,
    path: web::Path<FolderRef>,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, MailError> {
    let Some(me) = user(&ctx, &req) else {
        return Ok(HttpResponse::Unauthorized()
            .content_type("text/plain; charset=utf-8")
            .body("log in again\n"));
    };
    let folder = path.into_inner();
    let since = req
        .headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(query.since);
    let who = me.clone();
    let actor = call(&ctx, move |b| {
        readable(b, &who, folder)?;
        b.ctx.folders.get(&b.ctx, folder).map_err(|e| {
            tracing::warn!("webmail: live updates of folder {folder}: {e}");
            MailError::Unavailable
        })
    })
    .await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    let overflow = Arc::new(AtomicBool::new(false));
    let listener = LiveListener {
        folder,
        tx,
        overflow: overflow.clone(),
    }
    .start();
    actor
        .send(Subscribe(listener.clone().recipient()))
        .await
        .map_err(|_| MailError::Unavailable)?;
    ctx.account_events.listen(&me, listener.recipient());
    // Read after subscribing: whatever changes later is heard.
    let who = me.clone();
    let (modseq, counts, prefs) = call(&ctx, move |b| {
        let (info, _) = readable(b, &who, folder)?;
        let mut counts = vec![(folder, info.unseen)];
        counts.extend(
            b.folders(&who)?
                .into_iter()
                .filter(|f| f.id != folder && !f.noselect)
                .map(|f| (f.id, f.unseen)),
        );
        let prefs = super::prefs::load(b, &who)?;
        Ok((info.highest_modseq, counts, Arc::new(prefs)))
    })
    .await?;
    let mut pending = VecDeque::new();
    pending.push_back(format!("retry: {RETRY_MS}\n: open\n\n"));
    if since.is_some_and(|s| s != modseq) {
        pending.push_back(resync(Some(modseq)));
    }
    pending.extend(counts.into_iter().map(|(f, n)| unread(f, n)));
    let state = Stream {
        stop: ctx.shutdown_signal(),
        ctx,
        req,
        me,
        folder,
        rx,
        overflow,
        pending,
        prefs,
    };
    let body = futures_util::stream::unfold(state, |mut s| async move {
        let text = s.next().await?;
        Some((Ok::<_, actix_web::Error>(web::Bytes::from(text)), s))
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
