//! `Pop3SessionActor`: the POP3 adapter of the session shell (`session::shell`) around
//! [`crate::protocols::pop3::Session`]. The shell reads bytes and performs the common actions
//! (write, STLS — RFC 2595 §4; the session has already dropped input that came before the
//! handshake —, password check, close); here is what is POP3's own. The session's backend
//! ([`Pop3StoreBackend`]) holds the maildrop lock; it is dropped with the session, so the
//! lock never outlives the connection.
//!
//! Timeouts: the login must be done within `[pop3] login_timeout` of connecting (a whole-unit
//! deadline, see `deadline`), then `idle_timeout` between reads (RFC 1939 §3: at least 10
//! minutes). On server shutdown the session says so and closes without UPDATE.

use std::borrow::Cow;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use actix::Context;
use tokio::time::Instant;

use super::auth::Checked;
use super::pop3_backend::Pop3StoreBackend;
use super::session::shell::{no_event, Opening, ProtocolSession, SessionActor, ShellAction};
use crate::config::Pop3Config;
use crate::net::conn::{on_blocking_pool, Conn};
use crate::net::deadline::{earliest, UnitDeadline};
use crate::protocols::pop3::{Action, AuthAnswer, Session, SessionConfig};

pub type Pop3SessionActor = SessionActor<Pop3Session>;

/// The POP3 session with its backend and deadlines.
pub struct Pop3Session {
    session: Session,
    backend: Pop3StoreBackend,
    limits: Pop3Config,
    /// The login must be done within `login_timeout` of connecting (the TLS handshake
    /// included), however the bytes trickle in; see `deadline`.
    login: UnitDeadline,
    /// A logged-in client's command line must arrive whole within `idle_timeout` of its
    /// first byte (a line dripped a byte at a time would restart the per-read timeout).
    command: UnitDeadline,
}

impl ProtocolSession for Pop3Session {
    /// Whether TLS is implicit (pop3s).
    type Params = bool;
    type Action = Action;
    type Own = Infallible;
    type Links = ();
    type Wiring = ();
    type Event = Infallible;
    /// POP3 commands are short lines; the buffer bounds how much pipelined input one read
    /// takes.
    const READ_BUFFER: usize = 4 * 1024;

    fn implicit_tls(params: &bool) -> bool {
        *params
    }

    fn span(service: &'static str, id: &str, peer: SocketAddr) -> tracing::Span {
        tracing::info_span!("pop3", service, session = %id, peer = %peer)
    }

    fn wire(_ctx: &mut Context<SessionActor<Self>>, _links: &mut ()) {}

    fn new(opening: &Opening<'_>, implicit_tls: bool, _wiring: ()) -> Pop3Session {
        let limits = opening.config.pop3.clone();
        let session = Session::new(
            SessionConfig {
                hostname: opening.config.hostname.clone(),
                starttls_available: opening.tls_available,
                // Plaintext logins only ever from this machine, as for IMAP; everyone else
                // must use TLS.
                allow_plaintext: limits.allow_plaintext_login && opening.peer.ip().is_loopback(),
            },
            implicit_tls,
        );
        Pop3Session {
            session,
            backend: Pop3StoreBackend::new(opening.sctx.clone()),
            login: UnitDeadline::starting_now(limits.login_timeout),
            command: UnitDeadline::default(),
            limits,
        }
    }

    fn greeting(&mut self) -> Vec<Action> {
        self.session.greeting()
    }

    fn classify(action: Action) -> ShellAction<Infallible> {
        match action {
            Action::Send(bytes) => ShellAction::Send(bytes),
            Action::StartTls => ShellAction::StartTls,
            Action::Authenticate { login, password } => ShellAction::Authenticate {
                protocol: "pop3".into(),
                login,
                password: password.0,
            },
            Action::Close => ShellAction::Close,
        }
    }

    fn stall(&self) -> Duration {
        self.limits.output_timeout
    }

    async fn receive(self, input: Cow<'_, [u8]>) -> io::Result<(Self, Vec<Action>)> {
        // RETR reads bodies and QUIT waits for the expunge's commit: off the arbiter, so
        // the sessions sharing it are not held up.
        let bytes = input.into_owned();
        self.off_arbiter(move |s, b| s.receive(&bytes, b)).await
    }

    async fn authenticated(self, checked: Checked) -> io::Result<(Self, Vec<Action>)> {
        let answer = match checked {
            Checked::Ok(a) => AuthAnswer::Account(a),
            Checked::Failed => AuthAnswer::Rejected,
            Checked::Unavailable => AuthAnswer::Unavailable,
        };
        // The login takes the maildrop's snapshot: storage work, off the arbiter.
        self.off_arbiter(move |s, b| s.resume_auth(answer, b)).await
    }

    fn tls_established(&mut self) -> Vec<Action> {
        self.session.tls_established(&mut self.backend)
    }

    async fn perform(&mut self, action: Infallible, _conn: &Conn) -> Vec<Action> {
        match action {}
    }

    fn deadline(&mut self, _replied: bool) -> Option<Instant> {
        if self.session.is_authenticated() {
            self.login.stop();
            let idle = self.limits.idle_timeout;
            self.command.track(self.session.buffered() > 0, idle);
            earliest(Some(idle), &[self.command])
        } else {
            self.login.at()
        }
    }

    fn log_expiry(&self) {
        tracing::info!(
            authenticated = self.session.is_authenticated(),
            "deadline passed; closing"
        );
    }

    fn timeout(&mut self) -> Vec<Action> {
        self.session.timeout(&mut self.backend)
    }

    fn shutdown(&mut self) -> Vec<Action> {
        self.session.shutdown(&mut self.backend)
    }

    async fn next_event(&mut self) -> Infallible {
        no_event().await
    }

    fn on_event(&mut self, event: Infallible) -> Vec<Action> {
        match event {}
    }
}

impl Pop3Session {
    /// Runs `work` on the session and its backend on the blocking pool.
    async fn off_arbiter(
        mut self,
        work: impl FnOnce(&mut Session, &mut Pop3StoreBackend) -> Vec<Action> + Send + 'static,
    ) -> io::Result<(Self, Vec<Action>)> {
        let ((s, b), acts) =
            on_blocking_pool((self.session, self.backend), move |(s, b)| work(s, b)).await?;
        (self.session, self.backend) = (s, b);
        Ok((self, acts))
    }
}
