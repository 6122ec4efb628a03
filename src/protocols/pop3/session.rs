//! The POP3 session: state machine and command handlers (RFC 1939 §3-7, RFC 2449, RFC 5034,
//! RFC 2595 §4, RFC 6856). The table of which command runs in which state is in the module
//! notes (`mod.rs`) and in [`Session::dispatch`].
//!
//! Input bytes go through the [`LineFramer`] and the command parser; each command answers
//! at once, in order (PIPELINING, RFC 2449 §6.6: a pipelined batch is answered command by
//! command). Two things leave the session as actions instead of calls, and the session
//! processes no further input until the shell answers: password checks (argon2 is slow; the
//! shell runs them off the session's thread: [`Session::resume_auth`]) and the STLS
//! handshake ([`Session::tls_established`]).

use base64::Engine;

use super::backend::{Backend, BackendError, Update};
use super::command::{parse, Command, Secret, MAX_SASL_LINE};
use super::framer::{LineEvent, LineFramer};
use super::message::{write_message, write_top};

/// Logins that may fail before the connection is closed (as the IMAP server does).
pub const MAX_AUTH_FAILURES: u32 = 3;

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub hostname: String,
    /// A certificate is configured: STLS is offered on the plain port.
    pub starttls_available: bool,
    /// USER/PASS and AUTH allowed without TLS (otherwise refused until STLS).
    pub allow_plaintext: bool,
}

/// What the shell must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Send(Vec<u8>),
    /// "+OK" to STLS was queued: flush, handshake, then call `tls_established`.
    StartTls,
    /// Check a password; answer with `resume_auth`. The password is a [`Secret`] so that
    /// `Debug` output of an action (a trace log) never shows it.
    Authenticate {
        login: String,
        password: Secret,
    },
    Close,
}

/// The shell's answer to [`Action::Authenticate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthAnswer {
    /// The credentials are good: the account's address.
    Account(String),
    /// Wrong login or password (already in the auth-failure log).
    Rejected,
    /// The check could not run: try again later.
    Unavailable,
}

/// A message of the maildrop, as this session marks it.
#[derive(Debug, Clone)]
struct Msg {
    uid: u32,
    size: u64,
    deleted: bool,
    retrieved: bool,
}

/// The TRANSACTION state's data (RFC 1939 §5).
#[derive(Debug)]
struct Transaction {
    uidvalidity: u32,
    messages: Vec<Msg>,
}

impl Transaction {
    /// (count, octets) of the messages not marked deleted.
    fn totals(&self) -> (usize, u64) {
        self.messages
            .iter()
            .filter(|m| !m.deleted)
            .fold((0, 0), |(n, s), m| (n + 1, s + m.size))
    }

    /// The index of message number `n`, or the -ERR text (RFC 1939 §5: a deleted message
    /// may not be referred to).
    fn find(&self, n: u32) -> Result<usize, String> {
        let i = (n as usize).wrapping_sub(1);
        match self.messages.get(i) {
            None => Err(format!("No such message: {n}")),
            Some(m) if m.deleted => Err(format!("Message {n} is already deleted")),
            Some(_) => Ok(i),
        }
    }

    fn uidl(&self, i: usize) -> String {
        uidl(self.uidvalidity, self.messages[i].uid)
    }
}

/// The unique-id of a message (RFC 1939 §7: 1-70 characters 0x21-0x7E, never reused for
/// another message of the maildrop): UID and UIDVALIDITY in hex, Dovecot's default layout.
pub fn uidl(uidvalidity: u32, uid: u32) -> String {
    format!("{uid:08X}{uidvalidity:08X}")
}

#[derive(Debug)]
enum State {
    Authorization,
    Transaction(Box<Transaction>),
    /// After QUIT, a fatal error or too many failures: nothing more is read.
    Closed,
}

/// An AUTH exchange in progress (RFC 5034 §4).
#[derive(Debug)]
enum Sasl {
    Plain,
    /// LOGIN: the user name once it came.
    Login(Option<String>),
}

pub struct Session {
    config: SessionConfig,
    framer: LineFramer,
    state: State,
    tls: bool,
    /// RFC 6856 UTF8 was issued.
    utf8: bool,
    /// The name given by USER, waiting for PASS.
    user: Option<String>,
    sasl: Option<Sasl>,
    /// A password check or the TLS handshake is out.
    waiting: bool,
    auth_failures: u32,
}

type Out = Vec<u8>;

fn ok(out: &mut Out, text: &str) {
    out.extend_from_slice(b"+OK ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn err(out: &mut Out, text: &str) {
    out.extend_from_slice(b"-ERR ");
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The -ERR text of a backend failure, with its response code (RFC 2449 §8, RFC 3206).
fn backend_err(e: &BackendError) -> String {
    match e {
        BackendError::InUse(m) => format!("[IN-USE] {m}"),
        BackendError::Gone(m) => m.clone(),
        BackendError::Permanent(m) => format!("[SYS/PERM] {m}"),
        BackendError::Unavailable(m) => format!("[SYS/TEMP] {m}"),
    }
}

impl Session {
    pub fn new(config: SessionConfig, tls_active: bool) -> Session {
        Session {
            config,
            framer: LineFramer::new(MAX_SASL_LINE),
            state: State::Authorization,
            tls: tls_active,
            utf8: false,
            user: None,
            sasl: None,
            waiting: false,
            auth_failures: 0,
        }
    }

    pub fn greeting(&self) -> Vec<Action> {
        vec![Action::Send(
            format!("+OK {} Ferrymail POP3 ready\r\n", self.config.hostname).into_bytes(),
        )]
    }

    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Transaction(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Input bytes held, not yet consumed (bounded by the framer).
    pub fn buffered(&self) -> usize {
        self.framer.buffered()
    }

    fn plaintext_ok(&self) -> bool {
        self.tls || self.config.allow_plaintext
    }

    /// The CAPA list for the current state (RFC 2449 §5-6).
    pub fn capabilities(&self) -> Vec<&'static str> {
        let mut caps = vec!["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING"];
        // RFC 2449 §6.7: EXPIRE NEVER, we never delete mail by ourselves; §6.5 LOGIN-DELAY
        // 0, a client may log in as often as it likes.
        caps.extend(["EXPIRE NEVER", "LOGIN-DELAY 0"]);
        if !self.is_authenticated() {
            if self.plaintext_ok() {
                caps.extend(["USER", "SASL PLAIN LOGIN"]);
            }
            // RFC 2595 §4: STLS only before login, only without TLS.
            if !self.tls && self.config.starttls_available {
                caps.push("STLS");
            }
            caps.push("UTF8 USER");
        }
        caps.push("IMPLEMENTATION Ferrymail");
        caps
    }

    /// Feeds bytes read from the client; returns what to do.
    pub fn receive(&mut self, input: &[u8], backend: &mut dyn Backend) -> Vec<Action> {
        if self.is_closed() {
            return Vec::new();
        }
        self.framer.push(input);
        self.process(backend)
    }

    fn process(&mut self, backend: &mut dyn Backend) -> Vec<Action> {
        let mut actions = Vec::new();
        let mut out = Vec::new();
        while !self.is_closed() && !self.waiting {
            let Some(event) = self.framer.next() else {
                break;
            };
            match event {
                LineEvent::TooLong => {
                    if self.sasl.take().is_some() {
                        err(&mut out, "Authentication response too long");
                    } else {
                        err(&mut out, "Command line too long (255 octets at most)");
                    }
                }
                LineEvent::Line(line) if self.sasl.is_some() => {
                    self.sasl_continue(&line, &mut out, &mut actions)
                }
                LineEvent::Line(line) => match parse(&line) {
                    Ok(cmd) => self.dispatch(cmd, backend, &mut out, &mut actions),
                    Err(e) => err(&mut out, &e.0),
                },
            }
        }
        flush(&mut out, &mut actions);
        coalesce(actions)
    }

    /// Runs one command in the current state (the table in the module notes).
    fn dispatch(
        &mut self,
        cmd: Command,
        backend: &mut dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        // RFC 1939 §7: PASS must come right after USER.
        if !matches!(cmd, Command::Pass(_)) {
            self.user = None;
        }
        match cmd {
            Command::Capa => self.capa(out),
            Command::Quit => self.quit(backend, out, actions),
            cmd => match &mut self.state {
                State::Transaction(t) => transaction(t, cmd, backend, out),
                _ => self.authorization(cmd, out, actions),
            },
        }
    }

    /// The AUTHORIZATION state (RFC 1939 §4).
    fn authorization(&mut self, cmd: Command, out: &mut Out, actions: &mut Vec<Action>) {
        let name = cmd.name();
        match cmd {
            // Answered by `dispatch` in every state.
            Command::Capa | Command::Quit => {}
            Command::Utf8 => {
                self.utf8 = true;
                ok(out, "UTF8 enabled");
            }
            Command::Stls => self.stls(out, actions),
            Command::Auth {
                mechanism: None, ..
            } => mechanisms(out),
            Command::User(_) | Command::Pass(_) | Command::Auth { .. } if !self.plaintext_ok() => {
                err(
                    out,
                    "[AUTH] Plaintext authentication is disabled: use STLS first (or port 995)",
                );
            }
            Command::User(u) => {
                ok(out, "Send the password with PASS");
                self.user = Some(u);
            }
            Command::Pass(p) => match self.user.take() {
                Some(login) => self.authenticate(login, p, out, actions),
                None => err(out, "Send USER first"),
            },
            Command::Auth {
                mechanism: Some(m),
                initial,
            } => self.start_sasl(&m, initial, out, actions),
            Command::Stat
            | Command::List(_)
            | Command::Retr(_)
            | Command::Dele(_)
            | Command::Noop
            | Command::Rset
            | Command::Top { .. }
            | Command::Uidl(_) => err(out, &format!("{name} is only valid after login")),
        }
    }

    fn capa(&self, out: &mut Out) {
        ok(out, "Capability list follows");
        for c in self.capabilities() {
            out.extend_from_slice(c.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }

    /// RFC 2595 §4.
    fn stls(&mut self, out: &mut Out, actions: &mut Vec<Action>) {
        if self.tls {
            return err(out, "TLS is already active");
        }
        if !self.config.starttls_available {
            return err(out, "STLS is not available");
        }
        ok(out, "Begin TLS negotiation");
        // Nothing the client sent after STLS is used (command injection, CVE-2011-0411).
        self.framer.clear();
        self.user = None;
        self.waiting = true;
        flush(out, actions);
        actions.push(Action::StartTls);
    }

    fn authenticate(
        &mut self,
        login: String,
        password: Secret,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        flush(out, actions);
        actions.push(Action::Authenticate { login, password });
        self.waiting = true;
    }

    fn start_sasl(
        &mut self,
        mechanism: &str,
        initial: Option<Secret>,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) {
        let sasl = match mechanism {
            "PLAIN" => Sasl::Plain,
            "LOGIN" => Sasl::Login(None),
            other => return err(out, &format!("Unsupported mechanism {other}")),
        };
        self.sasl = Some(sasl);
        match initial {
            // RFC 5034 §4: "=" is a zero-length initial response.
            Some(i) => self.sasl_continue(i.0.as_bytes(), out, actions),
            None => match self.sasl {
                Some(Sasl::Login(_)) => out.extend_from_slice(b"+ VXNlcm5hbWU6\r\n"),
                _ => out.extend_from_slice(b"+ \r\n"),
            },
        }
    }

    /// One client response of the exchange (base64, `*` cancels, `=` is empty).
    fn sasl_continue(&mut self, line: &[u8], out: &mut Out, actions: &mut Vec<Action>) {
        if line == b"*" {
            self.sasl = None;
            return err(out, "Authentication cancelled");
        }
        let data = if line == b"=" {
            Ok(Vec::new())
        } else {
            base64::engine::general_purpose::STANDARD.decode(line)
        };
        let Ok(data) = data else {
            self.sasl = None;
            return err(out, "Invalid base64 in authentication response");
        };
        match self.sasl.take() {
            Some(Sasl::Plain) => self.sasl_plain(&data, out, actions),
            Some(Sasl::Login(None)) => match String::from_utf8(data) {
                Ok(user) => {
                    self.sasl = Some(Sasl::Login(Some(user)));
                    out.extend_from_slice(b"+ UGFzc3dvcmQ6\r\n");
                }
                Err(_) => err(out, "User name is not valid UTF-8"),
            },
            Some(Sasl::Login(Some(user))) => match String::from_utf8(data) {
                Ok(p) => self.authenticate(user, Secret(p), out, actions),
                Err(_) => err(out, "Password is not valid UTF-8"),
            },
            None => {}
        }
    }

    /// RFC 4616: `[authzid] NUL authcid NUL passwd`.
    fn sasl_plain(&mut self, data: &[u8], out: &mut Out, actions: &mut Vec<Action>) {
        let parts: Vec<&[u8]> = data.split(|b| *b == 0).collect();
        let [authzid, authcid, passwd] = parts[..] else {
            return err(out, "Malformed PLAIN response");
        };
        let (Ok(authzid), Ok(login), Ok(password)) = (
            std::str::from_utf8(authzid),
            std::str::from_utf8(authcid),
            std::str::from_utf8(passwd),
        ) else {
            return err(out, "PLAIN response is not valid UTF-8");
        };
        // RFC 4616 §2: acting as someone else is not allowed to anybody.
        if !authzid.is_empty() && !authzid.eq_ignore_ascii_case(login) {
            return err(out, "[AUTH] Cannot act as another user");
        }
        self.authenticate(
            login.to_string(),
            Secret(password.to_string()),
            out,
            actions,
        );
    }

    /// The answer to `Action::Authenticate`. On success the maildrop is locked and its
    /// snapshot taken (RFC 1939 §4: the session enters TRANSACTION).
    pub fn resume_auth(&mut self, answer: AuthAnswer, backend: &mut dyn Backend) -> Vec<Action> {
        if !self.waiting || self.is_closed() {
            return Vec::new();
        }
        self.waiting = false;
        let mut out = Vec::new();
        let mut actions = Vec::new();
        match answer {
            AuthAnswer::Account(account) => match backend.open(&account) {
                Ok(maildrop) => {
                    let t = Transaction {
                        uidvalidity: maildrop.uidvalidity,
                        messages: maildrop
                            .messages
                            .iter()
                            .map(|m| Msg {
                                uid: m.uid,
                                size: m.size,
                                deleted: false,
                                retrieved: false,
                            })
                            .collect(),
                    };
                    let (n, size) = t.totals();
                    self.state = State::Transaction(Box::new(t));
                    ok(
                        &mut out,
                        &format!("Logged in, maildrop has {n} messages ({size} octets)"),
                    );
                }
                Err(e) => err(&mut out, &backend_err(&e)),
            },
            AuthAnswer::Rejected => {
                self.auth_failures += 1;
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    err(
                        &mut out,
                        "[AUTH] Invalid login or password; too many failures, closing",
                    );
                    self.close(backend, &mut out, &mut actions);
                    return actions;
                }
                err(&mut out, "[AUTH] Invalid login or password");
            }
            AuthAnswer::Unavailable => err(
                &mut out,
                "[SYS/TEMP] Cannot check the password now; try again later",
            ),
        }
        actions.push(Action::Send(out));
        actions.extend(self.process(backend));
        coalesce(actions)
    }

    /// Called by the shell after the STLS handshake.
    pub fn tls_established(&mut self, backend: &mut dyn Backend) -> Vec<Action> {
        self.tls = true;
        self.waiting = false;
        self.process(backend)
    }

    /// QUIT (RFC 1939 §6): in TRANSACTION, the UPDATE state.
    fn quit(&mut self, backend: &mut dyn Backend, out: &mut Out, actions: &mut Vec<Action>) {
        let State::Transaction(t) = &self.state else {
            ok(
                out,
                &format!("{} Ferrymail POP3 signing off", self.config.hostname),
            );
            return self.close(backend, out, actions);
        };
        let mut update = Update::default();
        for m in &t.messages {
            if m.deleted {
                update.deleted.push(m.uid);
            } else if m.retrieved {
                update.seen.push(m.uid);
            }
        }
        let left = t.messages.len() - update.deleted.len();
        match backend.commit(&update) {
            Ok(()) => ok(
                out,
                &format!(
                    "{} Ferrymail POP3 signing off ({} deleted, {left} left)",
                    self.config.hostname,
                    update.deleted.len()
                ),
            ),
            Err(e) => err(
                out,
                &format!("{}; nothing deleted or marked seen", backend_err(&e)),
            ),
        }
        self.close(backend, out, actions);
    }

    fn close(&mut self, backend: &mut dyn Backend, out: &mut Out, actions: &mut Vec<Action>) {
        self.state = State::Closed;
        self.sasl = None;
        backend.release();
        flush(out, actions);
        actions.push(Action::Close);
    }

    /// The autologout timer ran out (RFC 1939 §3): close without entering UPDATE.
    pub fn timeout(&mut self, backend: &mut dyn Backend) -> Vec<Action> {
        let mut out = Vec::new();
        let mut actions = Vec::new();
        err(&mut out, "Autologout: idle for too long");
        self.close(backend, &mut out, &mut actions);
        actions
    }

    /// The server is stopping: close without entering UPDATE.
    pub fn shutdown(&mut self, backend: &mut dyn Backend) -> Vec<Action> {
        let mut out = Vec::new();
        let mut actions = Vec::new();
        err(&mut out, "[SYS/TEMP] Server shutting down");
        self.close(backend, &mut out, &mut actions);
        actions
    }

    /// Whether UTF8 (RFC 6856) was issued.
    pub fn utf8(&self) -> bool {
        self.utf8
    }
}

/// The TRANSACTION state (RFC 1939 §5, §7).
fn transaction(t: &mut Transaction, cmd: Command, backend: &mut dyn Backend, out: &mut Out) {
    let name = cmd.name();
    match cmd {
        // Answered by `dispatch` in every state.
        Command::Capa | Command::Quit => {}
        Command::Stat => {
            let (n, size) = t.totals();
            ok(out, &format!("{n} {size}"));
        }
        Command::List(m) => list(t, m, out),
        Command::Uidl(m) => uidl_cmd(t, m, out),
        Command::Retr(n) => retrieve(t, n, None, backend, out),
        Command::Top { msg, lines } => retrieve(t, msg, Some(lines), backend, out),
        Command::Dele(n) => match t.find(n) {
            Ok(i) => {
                t.messages[i].deleted = true;
                ok(out, &format!("Message {n} deleted"));
            }
            Err(e) => err(out, &e),
        },
        Command::Noop => ok(out, "Nothing happens"),
        Command::Rset => {
            for m in &mut t.messages {
                m.deleted = false;
                m.retrieved = false;
            }
            let (n, size) = t.totals();
            ok(out, &format!("Maildrop has {n} messages ({size} octets)"));
        }
        Command::User(_)
        | Command::Pass(_)
        | Command::Auth { .. }
        | Command::Stls
        | Command::Utf8 => err(out, &format!("{name} is only valid before login")),
    }
}

/// `AUTH` without arguments (RFC 1734, still asked by old clients).
fn mechanisms(out: &mut Out) {
    ok(out, "Mechanisms follow");
    out.extend_from_slice(b"PLAIN\r\nLOGIN\r\n.\r\n");
}

/// LIST (RFC 1939 §5).
fn list(t: &Transaction, m: Option<u32>, out: &mut Out) {
    match m {
        Some(n) => match t.find(n) {
            Ok(i) => ok(out, &format!("{n} {}", t.messages[i].size)),
            Err(e) => err(out, &e),
        },
        None => {
            let (n, size) = t.totals();
            ok(out, &format!("{n} messages ({size} octets)"));
            for (i, m) in t.messages.iter().enumerate().filter(|(_, m)| !m.deleted) {
                out.extend_from_slice(format!("{} {}\r\n", i + 1, m.size).as_bytes());
            }
            out.extend_from_slice(b".\r\n");
        }
    }
}

/// UIDL (RFC 1939 §7).
fn uidl_cmd(t: &Transaction, m: Option<u32>, out: &mut Out) {
    match m {
        Some(n) => match t.find(n) {
            Ok(i) => ok(out, &format!("{n} {}", t.uidl(i))),
            Err(e) => err(out, &e),
        },
        None => {
            ok(out, "Unique-ID listing follows");
            for (i, _) in t.messages.iter().enumerate().filter(|(_, m)| !m.deleted) {
                out.extend_from_slice(format!("{} {}\r\n", i + 1, t.uidl(i)).as_bytes());
            }
            out.extend_from_slice(b".\r\n");
        }
    }
}

/// RETR (`lines` None) and TOP (RFC 1939 §5, §7). Only RETR marks the message retrieved.
fn retrieve(
    t: &mut Transaction,
    n: u32,
    lines: Option<u32>,
    backend: &mut dyn Backend,
    out: &mut Out,
) {
    let i = match t.find(n) {
        Ok(i) => i,
        Err(e) => return err(out, &e),
    };
    let content = match backend.message(t.messages[i].uid) {
        Ok(c) => c,
        Err(BackendError::Gone(_)) => {
            return err(out, &format!("Message {n} was removed by another client"))
        }
        Err(e) => return err(out, &backend_err(&e)),
    };
    match lines {
        None => {
            t.messages[i].retrieved = true;
            ok(out, &format!("{} octets", t.messages[i].size));
            write_message(out, &content);
        }
        Some(l) => {
            ok(out, "Top of message follows");
            write_top(out, &content, l);
        }
    }
}

fn flush(out: &mut Out, actions: &mut Vec<Action>) {
    if !out.is_empty() {
        actions.push(Action::Send(std::mem::take(out)));
    }
}

/// Merges adjacent sends into one write.
fn coalesce(actions: Vec<Action>) -> Vec<Action> {
    let mut merged: Vec<Action> = Vec::with_capacity(actions.len());
    for a in actions {
        match (merged.last_mut(), a) {
            (_, Action::Send(b)) if b.is_empty() => {}
            (Some(Action::Send(prev)), Action::Send(b)) => prev.extend_from_slice(&b),
            (_, a) => merged.push(a),
        }
    }
    merged
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
