//! `ImapSessionActor`: the IMAP adapter of the session shell (`session::shell`) around
//! [`crate::protocols::imap::session::Session`]. The shell reads bytes and performs the common actions
//! (write, STARTTLS, COMPRESS, password check, close); here is what is IMAP's own: folder
//! watches, and the changes of the watched folder and of NOTIFY's accounts as they are
//! broadcast — which is how an IDLE client hears of new mail within a moment of its
//! delivery. Reads are 4 KiB (thousands of idle sessions each hold a buffer), except while
//! an APPEND message literal streams in: then the shell gathers up to 256 KiB of it before
//! each hop to the blocking pool, where the session writes it to disk. Output is bounded
//! the other way round: a big FETCH comes from the session in chunks, each written (waiting
//! for the client to take it) before the next is asked for, and no input is read meanwhile
//! (fetch_stream.rs).

use std::borrow::Cow;
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::account_events::{AccountChanged, EventQueue};
use super::auth::Checked;
use super::folder::{MailboxChanged, Subscribe, Unsubscribe};
use super::imap_backend::StoreBackend;
use super::imap_notify::{NotifyLink, NOTIFY_QUEUE};
use super::session::shell::{Opening, ProtocolSession, SessionActor, ShellAction};
use super::ServerContext;
use crate::config::ImapConfig;
use crate::net::conn::{on_blocking_pool, Conn};
use crate::net::deadline::{earliest, UnitDeadline};
use crate::protocols::imap::session::{Action, FolderChange, Session, SessionConfig};
use crate::storage::FolderId;

pub type ImapSessionActor = SessionActor<ImapSession>;

/// The IMAP session with its folder watches and deadlines.
pub struct ImapSession {
    session: Session,
    sctx: Arc<ServerContext>,
    backend: StoreBackend,
    limits: ImapConfig,
    /// The login must be done within `login_timeout` of connecting (the TLS handshake
    /// included), however the bytes trickle in; see `deadline`.
    login: UnitDeadline,
    literal: UnitDeadline,
    /// A logged-in client's command must arrive whole within `idle_timeout` of its first
    /// byte: the per-read idle timeout alone would let a command dripped a byte at a time
    /// hold the session for ever.
    command: UnitDeadline,
    watched: Option<FolderId>,
    subscribed: HashSet<FolderId>,
    wiring: Wiring,
}

/// The actor's end of the folder and account broadcasts.
#[derive(Default)]
pub struct Links {
    changes: Option<mpsc::UnboundedSender<MailboxChanged>>,
    events: Option<Arc<EventQueue>>,
}

/// The IO loop's end of the folder and account broadcasts.
pub struct Wiring {
    me: Recipient<MailboxChanged>,
    changes: mpsc::UnboundedReceiver<MailboxChanged>,
    link: NotifyLink,
}

/// A broadcast the session hears.
pub enum Event {
    Folder(MailboxChanged),
    Account(AccountChanged),
}

impl ProtocolSession for ImapSession {
    /// Whether TLS is implicit (imaps).
    type Params = bool;
    type Action = Action;
    type Own = Own;
    type Links = Links;
    type Wiring = Wiring;
    type Event = Event;
    /// IMAP commands are small; big APPEND literals arrive over several reads (and stream
    /// in pieces, see the shell). Kept small because thousands of IDLE sessions each hold
    /// one.
    const READ_BUFFER: usize = 4 * 1024;

    fn implicit_tls(params: &bool) -> bool {
        *params
    }

    fn span(service: &'static str, id: &str, peer: SocketAddr) -> tracing::Span {
        tracing::info_span!("imap", service, session = %id, peer = %peer)
    }

    fn wire(ctx: &mut Context<ImapSessionActor>, links: &mut Links) -> Wiring {
        let (tx, changes) = mpsc::unbounded_channel();
        links.changes = Some(tx);
        let (queue, events) = EventQueue::new(NOTIFY_QUEUE);
        let queue = Arc::new(queue);
        links.events = Some(queue.clone());
        Wiring {
            me: ctx.address().recipient::<MailboxChanged>(),
            changes,
            link: NotifyLink::new(ctx.address().recipient(), queue, events),
        }
    }

    fn new(opening: &Opening<'_>, implicit_tls: bool, wiring: Wiring) -> ImapSession {
        let limits = opening.config.imap.clone();
        let session = Session::new(
            SessionConfig {
                hostname: opening.config.hostname.clone(),
                starttls_available: opening.tls_available,
                // Plaintext logins only ever from this machine (issue 3: "unless config
                // allows plaintext on loopback"); everyone else must use TLS.
                allow_plaintext: limits.allow_plaintext_login && opening.peer.ip().is_loopback(),
                append_limit: limits.append_limit,
                unauthenticate: limits.unauthenticate,
                max_line: limits.max_line_length,
            },
            implicit_tls,
        );
        ImapSession {
            session,
            sctx: opening.sctx.clone(),
            backend: StoreBackend {
                ctx: opening.sctx.clone(),
            },
            login: UnitDeadline::starting_now(limits.login_timeout),
            literal: UnitDeadline::default(),
            command: UnitDeadline::default(),
            limits,
            watched: None,
            subscribed: HashSet::new(),
            wiring,
        }
    }

    fn greeting(&mut self) -> Vec<Action> {
        self.session.greeting()
    }

    fn classify(action: Action) -> ShellAction<Own> {
        match action {
            Action::Send(bytes) => ShellAction::Send(bytes),
            Action::StartTls => ShellAction::StartTls,
            Action::Compress { pending } => ShellAction::Compress { pending },
            Action::Authenticate { login, password } => ShellAction::Authenticate {
                protocol: "imap".into(),
                login,
                password: String::from_utf8_lossy(&password.0).into_owned(),
            },
            Action::Close => ShellAction::Close,
            Action::Watch(folder) => ShellAction::Own(Own::Watch(folder)),
            Action::UnwatchAll => ShellAction::Own(Own::UnwatchAll),
            Action::WatchAccounts(owners) => ShellAction::Own(Own::WatchAccounts(owners)),
        }
    }

    fn stall(&self) -> Duration {
        self.limits.output_timeout
    }

    async fn receive(self, input: Cow<'_, [u8]>) -> io::Result<(Self, Vec<Action>)> {
        // Off the arbiter: a long FETCH or SEARCH must not hold up the quick commands
        // (NOOP, IDLE's DONE) of the sessions sharing it.
        let bytes = input.into_owned();
        self.off_arbiter(move |s, b| s.receive(&bytes, b)).await
    }

    async fn authenticated(mut self, checked: Checked) -> io::Result<(Self, Vec<Action>)> {
        let account = match checked {
            Checked::Ok(a) => Some(a),
            Checked::Failed | Checked::Unavailable => None,
        };
        let acts = self.session.resume_auth(account, &self.backend);
        Ok((self, acts))
    }

    fn tls_established(&mut self) -> Vec<Action> {
        self.session.tls_established(&self.backend)
    }

    fn compression_started(&mut self) -> Vec<Action> {
        self.session.compression_started(&self.backend)
    }

    async fn perform(&mut self, action: Own, _conn: &Conn) -> Vec<Action> {
        match action {
            Own::UnwatchAll => {
                self.watched = None;
                for f in self.subscribed.drain() {
                    if let Ok(addr) = self.sctx.folders.get(&self.sctx, f) {
                        addr.do_send(Unsubscribe(self.wiring.me.clone()));
                    }
                }
            }
            Own::WatchAccounts(owners) => self.wiring.link.watch(&self.sctx, owners),
            Own::Watch(folder) => {
                self.watched = folder;
                if let Some(f) = folder {
                    // One subscription per folder for the session's life; changes of
                    // folders no longer selected are dropped by `to_change`.
                    if self.subscribed.insert(f) {
                        match self.sctx.folders.get(&self.sctx, f) {
                            Ok(addr) => addr.do_send(Subscribe(self.wiring.me.clone())),
                            Err(e) => tracing::warn!("cannot watch folder {f}: {e}"),
                        }
                    }
                }
            }
        }
        Vec::new()
    }

    async fn more_output(self) -> io::Result<(Self, Option<Vec<Action>>)> {
        if !self.session.has_more_output() {
            return Ok((self, None));
        }
        // The next chunk of a FETCH (fetch_stream.rs).
        let (back, acts) = self.off_arbiter(|s, b| s.resume(b)).await?;
        Ok((back, Some(acts)))
    }

    fn sending(&self, bytes: usize) {
        self.sctx.stats.imap_output_queued(bytes);
    }

    fn deadline(&mut self, _replied: bool) -> Option<Instant> {
        let l = &self.limits;
        let (authenticated, in_literal) =
            (self.session.is_authenticated(), self.session.in_literal());
        // After UNAUTHENTICATE (RFC 8437) the next login has `login_timeout` again.
        self.login.track(!authenticated, l.login_timeout);
        self.literal.track(in_literal, l.literal_timeout);
        self.command.track(
            authenticated && self.session.mid_command() && !in_literal,
            l.idle_timeout,
        );
        if authenticated {
            earliest(Some(l.idle_timeout), &[self.literal, self.command])
        } else {
            earliest(None, &[self.login, self.literal])
        }
    }

    fn streaming(&self) -> Option<u64> {
        self.session.streaming()
    }

    fn log_expiry(&self) {
        tracing::info!(
            authenticated = self.session.is_authenticated(),
            in_literal = self.session.in_literal(),
            "deadline passed; closing"
        );
    }

    fn timeout(&mut self) -> Vec<Action> {
        self.session.timeout()
    }

    fn shutdown(&mut self) -> Vec<Action> {
        self.session.shutdown()
    }

    async fn next_event(&mut self) -> Event {
        let w = &mut self.wiring;
        tokio::select! {
            Some(change) = w.changes.recv() => Event::Folder(change),
            Some(event) = w.link.rx.recv() => Event::Account(event),
            else => std::future::pending().await,
        }
    }

    fn on_event(&mut self, event: Event) -> Vec<Action> {
        match event {
            Event::Folder(change) => match to_change(change, self.watched) {
                Some(c) => self.session.folder_changed(c, &self.backend),
                None => Vec::new(),
            },
            Event::Account(event) => {
                self.wiring
                    .link
                    .deliver(event, &mut self.session, &self.backend)
            }
        }
    }
}

/// IMAP's own actions: which folder and accounts the session hears of.
pub enum Own {
    Watch(Option<FolderId>),
    UnwatchAll,
    WatchAccounts(Vec<String>),
}

impl ImapSession {
    /// Runs `work` on the session on the blocking pool.
    async fn off_arbiter(
        mut self,
        work: impl FnOnce(&mut Session, &StoreBackend) -> Vec<Action> + Send + 'static,
    ) -> io::Result<(Self, Vec<Action>)> {
        let b = StoreBackend {
            ctx: self.sctx.clone(),
        };
        let (session, acts) = on_blocking_pool(self.session, move |s| work(s, &b)).await?;
        self.session = session;
        Ok((self, acts))
    }
}

impl Handler<MailboxChanged> for ImapSessionActor {
    type Result = ();

    fn handle(&mut self, msg: MailboxChanged, _ctx: &mut Self::Context) {
        if let Some(tx) = &self.links().changes {
            let _ = tx.send(msg);
        }
    }
}

impl Handler<AccountChanged> for ImapSessionActor {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, _ctx: &mut Self::Context) {
        if let Some(q) = &self.links().events {
            q.offer(msg);
        }
    }
}

fn to_change(m: MailboxChanged, watched: Option<FolderId>) -> Option<FolderChange> {
    let (folder, change) = match m {
        MailboxChanged::Added { folder, uid, .. } => (folder, FolderChange::Added { uid }),
        MailboxChanged::Expunged { folder, uids, .. } => (folder, FolderChange::Expunged { uids }),
        MailboxChanged::Flags {
            folder,
            uid,
            flags,
            modseq,
        } => (
            folder,
            FolderChange::Flags {
                uid,
                flags: flags.system,
                keywords: flags.keywords,
                modseq,
            },
        ),
    };
    (Some(folder) == watched).then_some(change)
}
