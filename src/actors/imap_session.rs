//! `ImapSessionActor`: the IO shell around [`protocols::imap::Session`]. It reads bytes,
//! feeds them to the session, performs its actions (write, STARTTLS, password check, watch a
//! folder) and hands it the changes of the watched folder as they are broadcast — which is
//! how an IDLE client hears of new mail within a moment of its delivery. Reads are 4 KiB
//! (thousands of idle sessions each hold a buffer), except while an APPEND message literal
//! streams in: then the shell gathers up to 256 KiB of it before each hop to the blocking
//! pool, where the session writes it to disk. Output is bounded the other way round: a big
//! FETCH comes from the session in chunks, each written (waiting for the client to take
//! it) before the next is asked for, and no input is read meanwhile (fetch_stream.rs).

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::account_events::{AccountChanged, EventQueue};
use super::auth::{check_password, Checked};
use super::folder::{MailboxChanged, Subscribe, Unsubscribe};
use super::imap_backend::StoreBackend;
use super::imap_notify::{NotifyLink, NOTIFY_QUEUE};
use super::listener::ConnGuard;
use super::supervisor::session_future;
use super::ServerContext;
use crate::net::conn::{on_blocking_pool, Conn};
use crate::net::deadline::{earliest, read_before, Read, UnitDeadline};
use crate::protocols::imap::session::{Action, FolderChange, Session, SessionConfig};
use crate::storage::FolderId;

/// IMAP commands are small; big APPEND literals arrive over several reads. Kept small
/// because thousands of IDLE sessions each hold one.
const READ_BUFFER: usize = 4 * 1024;
/// While an APPEND message literal streams in, the shell gathers up to this much of it
/// before handing it to the session on the blocking pool (one hop and one file write per
/// piece, not per 4 KiB or per TLS record). Allocated only while streaming.
const STREAM_PIECE: usize = 256 * 1024;

pub struct ImapSessionActor {
    ctx: Arc<ServerContext>,
    name: &'static str,
    io: Option<SessionIo>,
    changes: Option<mpsc::UnboundedSender<MailboxChanged>>,
    events: Option<Arc<EventQueue>>,
}

struct SessionIo {
    implicit_tls: bool,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    _guard: ConnGuard,
}

impl ImapSessionActor {
    pub fn new(
        ctx: Arc<ServerContext>,
        name: &'static str,
        implicit_tls: bool,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        guard: ConnGuard,
    ) -> ImapSessionActor {
        ImapSessionActor {
            ctx,
            name,
            io: Some(SessionIo {
                implicit_tls,
                stream,
                peer,
                _guard: guard,
            }),
            changes: None,
            events: None,
        }
    }
}

impl Actor for ImapSessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ctx.stats.session_opened(self.name);
        let Some(io) = self.io.take() else {
            ctx.stop();
            return;
        };
        let (tx, rx) = mpsc::unbounded_channel();
        self.changes = Some(tx);
        let sctx = self.ctx.clone();
        let me = ctx.address().recipient::<MailboxChanged>();
        let (queue, events) = EventQueue::new(NOTIFY_QUEUE);
        let queue = Arc::new(queue);
        self.events = Some(queue.clone());
        let link = NotifyLink::new(ctx.address().recipient(), queue, events);
        let id = sctx.new_session_id();
        let span = tracing::info_span!("imap", service = self.name, session = %id, peer = %io.peer);
        let fut = async move {
            if let Err(e) = run(sctx, io, id, me, rx, link).await {
                tracing::debug!("session ended: {e}");
            }
        }
        .instrument(span);
        ctx.spawn(session_future(self.ctx.clone(), self.name, fut));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.ctx.stats.session_closed(self.name);
    }
}

impl Handler<MailboxChanged> for ImapSessionActor {
    type Result = ();

    fn handle(&mut self, msg: MailboxChanged, _ctx: &mut Self::Context) {
        if let Some(tx) = &self.changes {
            let _ = tx.send(msg);
        }
    }
}

impl Handler<AccountChanged> for ImapSessionActor {
    type Result = ();

    fn handle(&mut self, msg: AccountChanged, _ctx: &mut Self::Context) {
        if let Some(q) = &self.events {
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

async fn run(
    sctx: Arc<ServerContext>,
    io: SessionIo,
    id: String,
    me: Recipient<MailboxChanged>,
    mut changes: mpsc::UnboundedReceiver<MailboxChanged>,
    mut link: NotifyLink,
) -> std::io::Result<()> {
    let config = sctx.config();
    let tls = sctx.tls();
    let limits = &config.imap;
    // The login must be done within `login_timeout` of connecting (the TLS handshake
    // included), however the bytes trickle in; see `deadline`.
    let mut login = UnitDeadline::starting_now(limits.login_timeout);
    let mut literal = UnitDeadline::default();
    // A logged-in client's command must arrive whole within `idle_timeout` of its first
    // byte: the per-read idle timeout alone would let a command dripped a byte at a time
    // hold the session for ever.
    let mut command = UnitDeadline::default();
    let Some(mut conn) = Conn::accept(io.stream, io.implicit_tls, tls.clone()).await? else {
        return Ok(());
    };
    let mut session = Session::new(
        SessionConfig {
            hostname: config.hostname.clone(),
            starttls_available: tls.is_some(),
            // Plaintext logins only ever from this machine (issue 3: "unless config allows
            // plaintext on loopback"); everyone else must use TLS.
            allow_plaintext: limits.allow_plaintext_login && io.peer.ip().is_loopback(),
            append_limit: limits.append_limit,
            unauthenticate: limits.unauthenticate,
            max_line: limits.max_line_length,
        },
        io.implicit_tls,
    );
    let backend = StoreBackend { ctx: sctx.clone() };
    let mut watched: Option<FolderId> = None;
    let mut subscribed: HashSet<FolderId> = HashSet::new();
    let mut shutdown = sctx.shutdown_signal();
    let mut actions: VecDeque<Action> = session.greeting().into();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        while let Some(action) = actions.pop_front() {
            match action {
                // A FETCH chunk is taken over, not copied.
                Action::Send(bytes) if out.is_empty() => out = bytes,
                Action::Send(bytes) => out.extend_from_slice(&bytes),
                Action::Close => return conn.close_with(&mut out, limits.output_timeout).await,
                Action::StartTls => {
                    let Some(upgraded) = conn
                        .start_tls(&mut out, tls.clone(), limits.output_timeout)
                        .await?
                    else {
                        return Ok(());
                    };
                    conn = upgraded;
                    actions.extend(session.tls_established(&backend));
                }
                Action::UnwatchAll => {
                    watched = None;
                    for f in subscribed.drain() {
                        if let Ok(addr) = sctx.folders.get(&sctx, f) {
                            addr.do_send(Unsubscribe(me.clone()));
                        }
                    }
                }
                Action::Compress { pending } => {
                    // RFC 4978 §3: the tagged OK goes out uncompressed, all after it not.
                    conn.send(&mut out, limits.output_timeout).await?;
                    conn = conn.compress(pending);
                    actions.extend(session.compression_started(&backend));
                }
                Action::Authenticate { login, password } => {
                    let password = String::from_utf8_lossy(&password.0).into_owned();
                    let account =
                        match check_password(&sctx, "imap", &id, io.peer, login, password).await {
                            Checked::Ok(a) => Some(a),
                            Checked::Failed | Checked::Unavailable => None,
                        };
                    actions.extend(session.resume_auth(account, &backend));
                }
                Action::WatchAccounts(owners) => link.watch(&sctx, owners),
                Action::Watch(folder) => {
                    watched = folder;
                    if let Some(f) = folder {
                        // One subscription per folder for the session's life; changes of
                        // folders no longer selected are dropped by `to_change`.
                        if subscribed.insert(f) {
                            match sctx.folders.get(&sctx, f) {
                                Ok(addr) => addr.do_send(Subscribe(me.clone())),
                                Err(e) => tracing::warn!("cannot watch folder {f}: {e}"),
                            }
                        }
                    }
                }
            }
        }
        if !out.is_empty() {
            sctx.stats.imap_output_queued(out.len());
            // Waits for the socket: a client that reads slowly holds up the next chunk of
            // a FETCH, never makes the session hold more.
            conn.send(&mut out, limits.output_timeout).await?;
        }
        if session.has_more_output() {
            // The next chunk of a FETCH (fetch_stream.rs); no input is read meanwhile, so
            // pipelined commands wait in the session's bounded input buffer.
            let b = StoreBackend { ctx: sctx.clone() };
            let (back, acts) = on_blocking_pool(session, move |s| s.resume(&b)).await?;
            session = back;
            actions.extend(acts);
            continue;
        }
        // A big response grew the buffer; an idle session should not keep it.
        if out.capacity() > 64 * 1024 {
            out = Vec::with_capacity(4096);
        }
        // After UNAUTHENTICATE (RFC 8437) the next login has `login_timeout` again.
        login.track(!session.is_authenticated(), limits.login_timeout);
        literal.track(session.in_literal(), limits.literal_timeout);
        command.track(
            session.is_authenticated() && session.mid_command() && !session.in_literal(),
            limits.idle_timeout,
        );
        let until = if session.is_authenticated() {
            earliest(Some(limits.idle_timeout), &[literal, command])
        } else {
            earliest(None, &[login, literal])
        };
        if let Some(owed) = session.streaming() {
            // The client owes these bytes whatever happens, so waiting for a whole piece
            // cannot stall it; no select! here, which could drop a half-read piece.
            match read_piece(&mut conn, owed, until).await? {
                Piece::Eof => return Ok(()),
                Piece::TimedOut => actions.extend(session.timeout()),
                Piece::Bytes(bytes) => {
                    let b = StoreBackend { ctx: sctx.clone() };
                    let (back, acts) =
                        on_blocking_pool(session, move |s| s.receive(&bytes, &b)).await?;
                    session = back;
                    actions.extend(acts);
                }
            }
            continue;
        }
        tokio::select! {
            read = read_before(&mut conn, &mut buf, until) => match read? {
                Read::Expired => {
                    tracing::info!(
                        authenticated = session.is_authenticated(),
                        in_literal = session.in_literal(),
                        "deadline passed; closing"
                    );
                    actions.extend(session.timeout());
                }
                Read::Eof => return Ok(()),
                Read::Bytes(n) => {
                    // Off the arbiter: a long FETCH or SEARCH must not hold up the
                    // quick commands (NOOP, IDLE's DONE) of the sessions sharing it.
                    let bytes = buf[..n].to_vec();
                    let b = StoreBackend { ctx: sctx.clone() };
                    let (back, acts) =
                        on_blocking_pool(session, move |s| s.receive(&bytes, &b)).await?;
                    session = back;
                    actions.extend(acts);
                }
            },
            Some(change) = changes.recv() => {
                if let Some(c) = to_change(change, watched) {
                    actions.extend(session.folder_changed(c, &backend));
                }
            }
            Some(event) = link.rx.recv() => {
                actions.extend(link.deliver(event, &mut session, &backend));
            }
            _ = shutdown.changed() => actions.extend(session.shutdown()),
        }
    }
}

/// What [`read_piece`] got.
enum Piece {
    Bytes(Vec<u8>),
    Eof,
    TimedOut,
}

/// Reads up to [`STREAM_PIECE`] bytes of a streaming literal, `owed` being what is left of
/// it: as many reads as it takes to fill the piece (or to finish the literal).
async fn read_piece(
    conn: &mut Conn,
    owed: u64,
    until: Option<tokio::time::Instant>,
) -> std::io::Result<Piece> {
    let want = usize::try_from(owed).map_or(STREAM_PIECE, |o| o.clamp(1, STREAM_PIECE));
    let mut piece = vec![0u8; want];
    let mut got = 0;
    while got < want {
        match read_before(conn, &mut piece[got..], until).await? {
            Read::Expired if got == 0 => return Ok(Piece::TimedOut),
            Read::Eof if got == 0 => return Ok(Piece::Eof),
            Read::Expired | Read::Eof => break,
            Read::Bytes(n) => got += n,
        }
    }
    piece.truncate(got);
    Ok(Piece::Bytes(piece))
}
