//! The session shell: one actor and one IO loop for every protocol's session (SMTP, IMAP,
//! POP3). The protocol's pure session (src/protocols) turns input into actions; the shell
//! reads the socket, performs what is the same in every protocol (write, close, STARTTLS,
//! COMPRESS, password check), holds the whole-unit read deadlines (`deadline`) and the
//! output stall timeout, and asks the protocol's adapter ([`ProtocolSession`]) for the rest:
//! how to feed input, which deadline applies now, what its own actions mean (SMTP's enqueue,
//! IMAP's folder watches), and which messages from other actors the session must hear.
//!
//! The loop, once per round: perform the queued actions; on server shutdown let the session
//! say goodbye (when it may); write the output (waiting for the client to take it, at most
//! `stall` without progress); let the session produce more output if it streams some (a
//! big FETCH) before reading again; then read until the earliest deadline, or take an event
//! from another actor, or hear of the shutdown.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use tokio::io::AsyncRead;
use tokio::time::Instant;
use tracing::Instrument;

use super::limits::ConnGuard;
use crate::actors::auth::{check_password, Checked};
use crate::actors::supervisor::session_future;
use crate::actors::ServerContext;
use crate::config::Config;
use crate::net::conn::Conn;
use crate::net::deadline::{read_before, Read};

/// While a literal streams in (IMAP APPEND), the shell gathers up to this much of it before
/// handing it to the session (one hop to the blocking pool and one file write per piece,
/// not per read or per TLS record). Allocated only while streaming.
const STREAM_PIECE: usize = 256 * 1024;

/// A big response grows the output buffer; an idle session does not keep more than this.
const KEEP_OUTPUT: usize = 64 * 1024;

/// What the shell does for an action of the protocol: the adapter sorts each of its
/// protocol's actions into one of these ([`ProtocolSession::classify`]).
pub enum ShellAction<O> {
    /// Bytes to write.
    Send(Vec<u8>),
    /// Write what is pending (the "go ahead"), do the TLS handshake, then
    /// [`ProtocolSession::tls_established`].
    StartTls,
    /// Write what is pending (uncompressed, RFC 4978 §3), then deflate both directions,
    /// inflating `pending` (input read after the command) first; then
    /// [`ProtocolSession::compression_started`].
    Compress { pending: Vec<u8> },
    /// Check a password (`auth::check_password`, which logs failures under `protocol`),
    /// then [`ProtocolSession::authenticated`].
    Authenticate {
        protocol: String,
        login: String,
        password: String,
    },
    /// Write what is pending and close.
    Close,
    /// An action only this protocol has: [`ProtocolSession::perform`].
    Own(O),
}

/// What a new session is told about its connection.
pub struct Opening<'a> {
    pub sctx: &'a Arc<ServerContext>,
    /// The configuration as it was when the connection came: the session keeps it.
    pub config: &'a Arc<Config>,
    pub id: &'a str,
    pub peer: SocketAddr,
    pub implicit_tls: bool,
    /// Whether a certificate is configured (STARTTLS may be offered).
    pub tls_available: bool,
}

/// A protocol's side of the shell: its pure session, with what the shell needs to drive it.
/// Methods that take `self` may move the session to the blocking pool
/// (`conn::on_blocking_pool`) and hand it back.
// The loop runs on the session's own arbiter (`ctx.spawn`), so its futures need not be Send.
#[allow(async_fn_in_trait)]
pub trait ProtocolSession: Sized + Unpin + 'static {
    /// What the listener passes to each session (SMTP: its service; IMAP, POP3: whether
    /// TLS is implicit).
    type Params: Send + Unpin + 'static;
    /// The protocol's actions, as its session returns them.
    type Action;
    /// Actions only this protocol has ([`ShellAction::Own`]).
    type Own;
    /// What the actor keeps to pass messages from other actors on to the IO loop.
    type Links: Default + Unpin;
    /// The IO loop's end of those links, given to [`ProtocolSession::new`].
    type Wiring;
    /// A message from another actor, as [`ProtocolSession::next_event`] yields it.
    type Event;
    /// The read buffer: small where thousands of idle sessions each hold one.
    const READ_BUFFER: usize;

    fn implicit_tls(params: &Self::Params) -> bool;
    /// The tracing span of the session (the name is the protocol's).
    fn span(service: &'static str, id: &str, peer: SocketAddr) -> tracing::Span;
    /// Sets up what the actor passes on (called in `started`).
    fn wire(ctx: &mut Context<SessionActor<Self>>, links: &mut Self::Links) -> Self::Wiring;
    /// The session, before the connection is accepted (a login deadline starting here
    /// includes the TLS handshake of an implicit-TLS port).
    fn new(opening: &Opening<'_>, params: Self::Params, wiring: Self::Wiring) -> Self;
    /// The connection is accepted (and its implicit TLS done).
    fn connected(&mut self) {}
    fn greeting(&mut self) -> Vec<Self::Action>;
    fn classify(action: Self::Action) -> ShellAction<Self::Own>;
    /// How long a write may make no progress before the client is given up on.
    fn stall(&self) -> Duration;
    /// Feeds input read from the client.
    async fn receive(self, input: Cow<'_, [u8]>) -> io::Result<(Self, Vec<Self::Action>)>;
    /// The answer to [`ShellAction::Authenticate`].
    async fn authenticated(self, checked: Checked) -> io::Result<(Self, Vec<Self::Action>)>;
    fn tls_established(&mut self) -> Vec<Self::Action>;
    fn compression_started(&mut self) -> Vec<Self::Action> {
        Vec::new()
    }
    async fn perform(&mut self, action: Self::Own, conn: &Conn) -> Vec<Self::Action>;
    /// The next piece of output the session streams (a big FETCH, written before the next
    /// is made and before any input is read); `None` when it has none.
    async fn more_output(self) -> io::Result<(Self, Option<Vec<Self::Action>>)> {
        Ok((self, None))
    }
    /// `bytes` are about to be written.
    fn sending(&self, _bytes: usize) {}
    /// When the next read gives up (`None`: never); `replied` says whether this round wrote
    /// a reply.
    fn deadline(&mut self, replied: bool) -> Option<Instant>;
    /// Bytes of a literal the client still owes, while one streams in: read them in pieces
    /// of up to `STREAM_PIECE`.
    fn streaming(&self) -> Option<u64> {
        None
    }
    /// Logs that a read deadline passed (the shell then calls `timeout`).
    fn log_expiry(&self);
    /// A deadline passed: the protocol's goodbye.
    fn timeout(&mut self) -> Vec<Self::Action>;
    /// The server is stopping: the protocol's goodbye, or nothing while it may not stop
    /// yet (the shell asks again after the next round).
    fn shutdown(&mut self) -> Vec<Self::Action>;
    /// The next message from another actor; never, for a protocol that has none.
    async fn next_event(&mut self) -> Self::Event;
    fn on_event(&mut self, event: Self::Event) -> Vec<Self::Action>;
}

/// The session actor of protocol `P`: one per connection, on a session arbiter.
pub struct SessionActor<P: ProtocolSession> {
    ctx: Arc<ServerContext>,
    name: &'static str,
    io: Option<SessionIo<P::Params>>,
    links: P::Links,
}

struct SessionIo<T> {
    params: T,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    _guard: ConnGuard,
}

impl<P: ProtocolSession> SessionActor<P> {
    pub fn new(
        ctx: Arc<ServerContext>,
        name: &'static str,
        params: P::Params,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        guard: ConnGuard,
    ) -> SessionActor<P> {
        SessionActor {
            ctx,
            name,
            io: Some(SessionIo {
                params,
                stream,
                peer,
                _guard: guard,
            }),
            links: P::Links::default(),
        }
    }

    /// What the actor passes on to the IO loop (see [`ProtocolSession::wire`]).
    pub fn links(&self) -> &P::Links {
        &self.links
    }
}

impl<P: ProtocolSession> Actor for SessionActor<P> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ctx.stats.session_opened(self.name);
        let Some(io) = self.io.take() else {
            ctx.stop();
            return;
        };
        let wiring = P::wire(ctx, &mut self.links);
        let sctx = self.ctx.clone();
        let id = sctx.new_session_id();
        let span = P::span(self.name, &id, io.peer);
        let fut = async move {
            if let Err(e) = run::<P>(sctx, io, id, wiring).await {
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

async fn run<P: ProtocolSession>(
    sctx: Arc<ServerContext>,
    io: SessionIo<P::Params>,
    id: String,
    wiring: P::Wiring,
) -> io::Result<()> {
    let config = sctx.config();
    let tls = sctx.tls();
    let implicit_tls = P::implicit_tls(&io.params);
    let opening = Opening {
        sctx: &sctx,
        config: &config,
        id: &id,
        peer: io.peer,
        implicit_tls,
        tls_available: tls.is_some(),
    };
    let mut proto = P::new(&opening, io.params, wiring);
    let Some(mut conn) = Conn::accept(io.stream, implicit_tls, tls.clone()).await? else {
        return Ok(());
    };
    proto.connected();
    let mut shutdown = sctx.shutdown_signal();
    let mut shutting_down = sctx.is_shutting_down();
    let mut actions: VecDeque<P::Action> = proto.greeting().into();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut buf = vec![0u8; P::READ_BUFFER];
    let stall = proto.stall();
    loop {
        let mut replied = false;
        while let Some(action) = actions.pop_front() {
            match P::classify(action) {
                ShellAction::Send(bytes) => {
                    replied = true;
                    // A FETCH chunk is taken over, not copied.
                    if out.is_empty() {
                        out = bytes;
                    } else {
                        out.extend_from_slice(&bytes);
                    }
                }
                ShellAction::Close => return conn.close_with(&mut out, stall).await,
                ShellAction::StartTls => {
                    let Some(upgraded) = conn.start_tls(&mut out, tls.clone(), stall).await? else {
                        return Ok(());
                    };
                    conn = upgraded;
                    tracing::debug!(tls = ?conn.tls_info(), "STARTTLS done");
                    actions.extend(proto.tls_established());
                }
                ShellAction::Compress { pending } => {
                    conn.send(&mut out, stall).await?;
                    conn = conn.compress(pending);
                    actions.extend(proto.compression_started());
                }
                ShellAction::Authenticate {
                    protocol,
                    login,
                    password,
                } => {
                    let checked =
                        check_password(&sctx, &protocol, &id, io.peer, login, password).await;
                    let (p, acts) = proto.authenticated(checked).await?;
                    proto = p;
                    actions.extend(acts);
                }
                ShellAction::Own(action) => actions.extend(proto.perform(action, &conn).await),
            }
        }
        if shutting_down {
            actions.extend(proto.shutdown());
            if !actions.is_empty() {
                continue;
            }
        }
        if !out.is_empty() {
            proto.sending(out.len());
            // Waits for the socket: a client that reads slowly holds up the next piece of
            // a streamed response, never makes the session hold more.
            conn.send(&mut out, stall).await?;
        }
        let (p, more) = proto.more_output().await?;
        proto = p;
        if let Some(acts) = more {
            // No input is read meanwhile: pipelined commands wait in the session's
            // bounded input buffer.
            actions.extend(acts);
            continue;
        }
        if out.capacity() > KEEP_OUTPUT {
            out = Vec::with_capacity(4096);
        }
        let until = proto.deadline(replied);
        if let Some(owed) = proto.streaming() {
            // The client owes these bytes whatever happens, so waiting for a whole piece
            // cannot stall it; no select! here, which could drop a half-read piece.
            match read_piece(&mut conn, owed, until).await? {
                Piece::Eof => return Ok(()),
                Piece::TimedOut => actions.extend(proto.timeout()),
                Piece::Bytes(bytes) => {
                    let (p, acts) = proto.receive(Cow::Owned(bytes)).await?;
                    proto = p;
                    actions.extend(acts);
                }
            }
            continue;
        }
        tokio::select! {
            read = read_before(&mut conn, &mut buf, until) => match read? {
                Read::Expired => {
                    proto.log_expiry();
                    actions.extend(proto.timeout());
                }
                Read::Eof => return Ok(()),
                Read::Bytes(n) => {
                    let (p, acts) = proto.receive(Cow::Borrowed(&buf[..n])).await?;
                    proto = p;
                    actions.extend(acts);
                }
            },
            event = proto.next_event() => actions.extend(proto.on_event(event)),
            _ = shutdown.changed(), if !shutting_down => shutting_down = true,
        }
    }
}

/// For a protocol that hears nothing from other actors: an event that never comes.
pub async fn no_event() -> Infallible {
    std::future::pending().await
}

/// What [`read_piece`] got.
enum Piece {
    Bytes(Vec<u8>),
    Eof,
    TimedOut,
}

/// Reads up to [`STREAM_PIECE`] bytes of a streaming literal, `owed` being what is left of
/// it: as many reads as it takes to fill the piece (or to finish the literal).
async fn read_piece<R: AsyncRead + Unpin>(
    conn: &mut R,
    owed: u64,
    until: Option<Instant>,
) -> io::Result<Piece> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    fn bytes(p: Piece) -> Vec<u8> {
        match p {
            Piece::Bytes(b) => b,
            Piece::Eof => panic!("unexpected end of input"),
            Piece::TimedOut => panic!("unexpected timeout"),
        }
    }

    /// A piece gathers several reads, stops at what the literal still owes, and leaves the
    /// rest of the input (the next command) unread.
    #[tokio::test]
    async fn a_piece_gathers_reads_up_to_what_is_owed() {
        let (mut client, mut server) = tokio::io::duplex(16);
        let writer = tokio::spawn(async move {
            for chunk in [&b"hello "[..], b"wor", b"ld", b"\r\nA1 NOOP\r\n"] {
                client.write_all(chunk).await.unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let got = bytes(read_piece(&mut server, 11, None).await.unwrap());
        assert_eq!(got, b"hello world");
        let _client = writer.await.unwrap();
        let rest = bytes(read_piece(&mut server, 1, None).await.unwrap());
        assert_eq!(rest, b"\r", "only what is owed is read");
    }

    /// A piece never takes more than [`STREAM_PIECE`] bytes, whatever is owed.
    #[tokio::test]
    async fn a_piece_is_bounded() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            let data = vec![b'x'; STREAM_PIECE + 100];
            client.write_all(&data).await.unwrap();
            client
        });
        let got = bytes(read_piece(&mut server, u64::MAX, None).await.unwrap());
        assert_eq!(got.len(), STREAM_PIECE);
        let _client = writer.await.unwrap();
    }

    /// Nothing read before the deadline is a timeout; input that ends is the end; a piece
    /// cut short by either still hands over what came.
    #[tokio::test]
    async fn timeout_and_end_of_input() {
        let (client, mut server) = tokio::io::duplex(64);
        let soon = Some(Instant::now() + Duration::from_millis(50));
        assert!(matches!(
            read_piece(&mut server, 10, soon).await.unwrap(),
            Piece::TimedOut
        ));
        let mut client = client;
        client.write_all(b"abc").await.unwrap();
        drop(client);
        assert_eq!(
            bytes(read_piece(&mut server, 10, None).await.unwrap()),
            b"abc"
        );
        assert!(matches!(
            read_piece(&mut server, 10, None).await.unwrap(),
            Piece::Eof
        ));
    }
}
