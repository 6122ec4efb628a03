//! `Pop3SessionActor`: the IO shell around [`protocols::pop3::Session`]. It reads bytes,
//! feeds them to the session and performs its actions: write, STLS (RFC 2595 §4; the
//! session has already dropped input that came before the handshake), password check,
//! close. The session's backend ([`Pop3StoreBackend`]) holds the maildrop lock; it is
//! dropped with the session, so the lock never outlives the connection.
//!
//! Timeouts: the login must be done within `[pop3] login_timeout` of connecting (a whole-unit
//! deadline, see `deadline`), then `idle_timeout` between reads (RFC 1939 §3: at least 10
//! minutes). On server shutdown the session says so and closes without UPDATE.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

use actix::prelude::*;
use tracing::Instrument;

use super::auth::{check_password, Checked};
use super::listener::ConnGuard;
use super::pop3_backend::Pop3StoreBackend;
use super::supervisor::session_future;
use super::ServerContext;
use crate::net::conn::{on_blocking_pool, Conn};
use crate::net::deadline::{earliest, read_before, Read, UnitDeadline};
use crate::protocols::pop3::{Action, AuthAnswer, Session, SessionConfig};

/// POP3 commands are short lines; the buffer bounds how much pipelined input one read takes.
const READ_BUFFER: usize = 4 * 1024;

pub struct Pop3SessionActor {
    ctx: Arc<ServerContext>,
    name: &'static str,
    io: Option<SessionIo>,
}

struct SessionIo {
    implicit_tls: bool,
    stream: std::net::TcpStream,
    peer: SocketAddr,
    _guard: ConnGuard,
}

impl Pop3SessionActor {
    pub fn new(
        ctx: Arc<ServerContext>,
        name: &'static str,
        implicit_tls: bool,
        stream: std::net::TcpStream,
        peer: SocketAddr,
        guard: ConnGuard,
    ) -> Pop3SessionActor {
        Pop3SessionActor {
            ctx,
            name,
            io: Some(SessionIo {
                implicit_tls,
                stream,
                peer,
                _guard: guard,
            }),
        }
    }
}

impl Actor for Pop3SessionActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        self.ctx.stats.session_opened(self.name);
        let Some(io) = self.io.take() else {
            ctx.stop();
            return;
        };
        let sctx = self.ctx.clone();
        let id = sctx.new_session_id();
        let span = tracing::info_span!("pop3", service = self.name, session = %id, peer = %io.peer);
        let fut = async move {
            if let Err(e) = run(sctx, io, id).await {
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

async fn run(sctx: Arc<ServerContext>, io: SessionIo, id: String) -> std::io::Result<()> {
    let config = sctx.config();
    let tls = sctx.tls();
    let limits = &config.pop3;
    // The login must be done within `login_timeout` of connecting (the TLS handshake
    // included), however the bytes trickle in; see `deadline`.
    let mut login = UnitDeadline::starting_now(limits.login_timeout);
    // A logged-in client's command line must arrive whole within `idle_timeout` of its
    // first byte (a line dripped a byte at a time would restart the per-read timeout).
    let mut command = UnitDeadline::default();
    let Some(mut conn) = Conn::accept(io.stream, io.implicit_tls, tls.clone()).await? else {
        return Ok(());
    };
    let mut session = Session::new(
        SessionConfig {
            hostname: config.hostname.clone(),
            starttls_available: tls.is_some(),
            // Plaintext logins only ever from this machine, as for IMAP; everyone else must
            // use TLS.
            allow_plaintext: limits.allow_plaintext_login && io.peer.ip().is_loopback(),
        },
        io.implicit_tls,
    );
    let mut backend = Pop3StoreBackend::new(sctx.clone());
    let mut shutdown = sctx.shutdown_signal();
    let mut actions: VecDeque<Action> = session.greeting().into();
    let mut out: Vec<u8> = Vec::with_capacity(4096);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        while let Some(action) = actions.pop_front() {
            match action {
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
                    actions.extend(session.tls_established(&mut backend));
                }
                Action::Authenticate { login, password } => {
                    let answer = match check_password(
                        &sctx, "pop3", &id, io.peer, login, password.0,
                    )
                    .await
                    {
                        Checked::Ok(a) => AuthAnswer::Account(a),
                        Checked::Failed => AuthAnswer::Rejected,
                        Checked::Unavailable => AuthAnswer::Unavailable,
                    };
                    // The login takes the maildrop's snapshot: storage work, off the arbiter.
                    let ((s, b), acts) = on_blocking_pool((session, backend), move |(s, b)| {
                        s.resume_auth(answer, b)
                    })
                    .await?;
                    (session, backend) = (s, b);
                    actions.extend(acts);
                }
            }
        }
        if !out.is_empty() {
            conn.send(&mut out, limits.output_timeout).await?;
            // A big RETR grew the buffer; do not keep megabytes between commands.
            if out.capacity() > 64 * 1024 {
                out = Vec::with_capacity(4096);
            }
        }
        let until = if session.is_authenticated() {
            login.stop();
            command.track(session.buffered() > 0, limits.idle_timeout);
            earliest(Some(limits.idle_timeout), &[command])
        } else {
            login.at()
        };
        tokio::select! {
            read = read_before(&mut conn, &mut buf, until) => match read? {
                Read::Expired => {
                    tracing::info!(
                        authenticated = session.is_authenticated(),
                        "deadline passed; closing"
                    );
                    actions.extend(session.timeout(&mut backend));
                }
                Read::Eof => return Ok(()),
                Read::Bytes(n) => {
                    // RETR reads bodies and QUIT waits for the expunge's commit: off the
                    // arbiter, so the sessions sharing it are not held up.
                    let bytes = buf[..n].to_vec();
                    let ((s, b), acts) = on_blocking_pool((session, backend), move |(s, b)| {
                        s.receive(&bytes, b)
                    })
                    .await?;
                    (session, backend) = (s, b);
                    actions.extend(acts);
                }
            },
            _ = shutdown.changed() => actions.extend(session.shutdown(&mut backend)),
        }
    }
}
