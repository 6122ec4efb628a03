//! The SMTP server session: input framing, connection state, DATA/BDAT content, and the
//! answers to pending `Authenticate`/`Enqueue` actions. Command handlers are in `handlers.rs`.

use super::command::{parse_command, MailParams};
use super::data::{BodyBuf, DotDecoder};
use super::reply::{self, Reply};
use super::{Action, Answer, Directory, Envelope, PeerInfo, Recipient, SessionConfig};

/// After this many 5xx replies the session says 421 4.7.0 and closes.
pub const MAX_ERRORS: u32 = 20;

/// Input is processed in slices of this size, so the buffer never holds a whole large read.
const CHUNK: usize = 16 * 1024;

/// The greeting name the client gave, and whether it used EHLO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Helo {
    pub(crate) name: String,
    pub(crate) extended: bool,
}

/// A mail transaction, from MAIL until end of data or RSET (RFC 5321 §3.3).
#[derive(Debug)]
pub(crate) struct Transaction {
    pub(crate) mail_from: String,
    pub(crate) params: MailParams,
    pub(crate) recipients: Vec<Recipient>,
    pub(crate) body: BodyBuf,
    /// A BDAT chunk was received: DATA and RCPT are no longer allowed.
    pub(crate) chunking: bool,
    /// Content octets read so far, as sent (before unstuffing), for `drop_size`.
    pub(crate) received: u64,
}

/// What the next input bytes are.
#[derive(Debug)]
pub(crate) enum Mode {
    /// Command lines.
    Command,
    /// The rest of an over-long line, up to LF, is thrown away.
    DiscardLine,
    /// AUTH PLAIN sent 334; the next line is the response.
    AuthPlain,
    /// AUTH LOGIN asked for the user name.
    AuthLoginUser,
    /// AUTH LOGIN asked for the password of `login`.
    AuthLoginPass { login: String },
    /// DATA content.
    Data(DotDecoder),
    /// `remaining` octets of a BDAT chunk of `size`; `reject` is the reply to give once they
    /// are read, when the chunk cannot be accepted.
    Bdat {
        size: u64,
        remaining: u64,
        last: bool,
        reject: Option<Reply>,
    },
    /// An action was emitted; nothing is processed until `resume`.
    Waiting(Pending),
    /// STARTTLS accepted; input is ignored until `tls_established`.
    TlsPending,
    /// Close was emitted.
    Closed,
}

/// What `resume` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pending {
    Auth,
    Enqueue,
}

/// One SMTP server connection, without IO. See the module documentation.
#[derive(Debug)]
pub struct Session {
    pub(crate) config: SessionConfig,
    pub(crate) peer: PeerInfo,
    pub(crate) tls: bool,
    pub(crate) helo: Option<Helo>,
    pub(crate) auth: Option<String>,
    pub(crate) tx: Option<Transaction>,
    pub(crate) mode: Mode,
    /// Unprocessed input: a partial line, or input that arrived while waiting.
    inbuf: Vec<u8>,
    /// Input arrived while waiting beyond `pending_limit` and was dropped.
    overflowed: bool,
    errors: u32,
}

impl Session {
    /// A session for a new connection; `tls_active` for implicit TLS (port 465).
    pub fn new(mut config: SessionConfig, peer: PeerInfo, tls_active: bool) -> Session {
        // RFC 5321 §4.5.3.1.4 and §4.5.3.1.8: the minimums a server must support.
        config.max_line_length = config.max_line_length.max(512);
        config.max_recipients = config.max_recipients.max(100);
        Session {
            config,
            peer,
            tls: tls_active,
            helo: None,
            auth: None,
            tx: None,
            mode: Mode::Command,
            inbuf: Vec::new(),
            overflowed: false,
            errors: 0,
        }
    }

    /// The 220 greeting.
    pub fn greeting(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(self.mode, Mode::Closed) {
            let greeting = reply::r220_greeting(&self.config.hostname);
            self.reply(&mut out, greeting);
        }
        out
    }

    /// Bytes from the client: processed as far as possible, the rest buffered.
    pub fn receive(&mut self, input: &[u8], dir: &dyn Directory) -> Vec<Action> {
        let mut out = Vec::new();
        for chunk in input.chunks(CHUNK) {
            match self.mode {
                Mode::Closed => break,
                Mode::TlsPending => continue,
                Mode::Waiting(_) => self.buffer_while_waiting(chunk),
                _ => {
                    self.inbuf.extend_from_slice(chunk);
                    self.drain(dir, &mut out);
                }
            }
        }
        out
    }

    /// The answer to the pending `Authenticate`/`Enqueue`; then buffered input is processed.
    pub fn resume(&mut self, answer: Answer, dir: &dyn Directory) -> Vec<Action> {
        let mut out = Vec::new();
        let Mode::Waiting(pending) = self.mode else {
            return out;
        };
        self.mode = Mode::Command;
        let r = match (pending, answer) {
            (Pending::Auth, Answer::Auth(Some(account))) => {
                self.auth = Some(account);
                reply::R235_AUTH_OK
            }
            (Pending::Auth, Answer::Auth(None)) => reply::R535_AUTH_FAILED,
            (Pending::Auth, _) => reply::R454_AUTH_TEMPFAIL,
            (Pending::Enqueue, Answer::Enqueued(Ok(id))) => reply::r250_queued(&id),
            (Pending::Enqueue, Answer::Enqueued(Err(e))) => Reply::from(&e),
            (Pending::Enqueue, _) => reply::R451_LOCAL_ERROR,
        };
        self.reply(&mut out, r);
        if self.overflowed {
            let r = reply::r421_input_overflow(&self.config.hostname);
            self.close_with(&mut out, r);
        } else {
            self.drain(dir, &mut out);
        }
        out
    }

    /// The TLS handshake after STARTTLS completed: back to the state after the greeting
    /// (RFC 3207 §4.2: forget HELO, AUTH and the transaction); the client sends EHLO again.
    pub fn tls_established(&mut self, dir: &dyn Directory) -> Vec<Action> {
        let mut out = Vec::new();
        if matches!(self.mode, Mode::TlsPending) {
            self.tls = true;
            self.helo = None;
            self.auth = None;
            self.tx = None;
            self.inbuf.clear();
            self.mode = Mode::Command;
            self.drain(dir, &mut out);
        }
        out
    }

    /// The shell's read timer fired.
    pub fn timeout(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        if !matches!(self.mode, Mode::Closed) {
            let r = reply::r421_timeout(&self.config.hostname);
            self.close_with(&mut out, r);
        }
        out
    }

    /// The server is stopping: 421 and close when between commands; nothing while a message
    /// is being read or an answer is pending (the shell calls again later).
    pub fn shutdown(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        match self.mode {
            Mode::Closed
            | Mode::Waiting(_)
            | Mode::TlsPending
            | Mode::Data(_)
            | Mode::Bdat { .. } => {}
            _ => {
                let r = reply::r421_shutdown(&self.config.hostname);
                self.close_with(&mut out, r);
            }
        }
        out
    }

    /// An `Authenticate`/`Enqueue` answer is pending.
    pub fn is_waiting(&self) -> bool {
        matches!(self.mode, Mode::Waiting(_))
    }

    /// Reading DATA/BDAT content (the shell uses the data timeout then).
    pub fn in_data(&self) -> bool {
        matches!(self.mode, Mode::Data(_) | Mode::Bdat { .. })
    }

    /// The account the client authenticated as.
    pub fn authenticated_as(&self) -> Option<&str> {
        self.auth.as_deref()
    }

    /// Close was emitted; further input is ignored.
    pub fn is_closed(&self) -> bool {
        matches!(self.mode, Mode::Closed)
    }

    /// TLS is active on this connection.
    pub fn tls_active(&self) -> bool {
        self.tls
    }

    /// Bytes of unprocessed input held; never more than [`Session::pending_limit`].
    pub fn buffered(&self) -> usize {
        self.inbuf.len()
    }

    /// The most input buffered while waiting (also a bound on a partial line plus one chunk).
    pub fn pending_limit(&self) -> usize {
        (256 * 1024).max(4 * self.config.max_line_length + CHUNK)
    }

    fn buffer_while_waiting(&mut self, chunk: &[u8]) {
        let room = self.pending_limit().saturating_sub(self.inbuf.len());
        if chunk.len() > room {
            self.overflowed = true;
        }
        self.inbuf
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }

    /// Process the buffered input as far as possible and keep the rest.
    fn drain(&mut self, dir: &dyn Directory, out: &mut Vec<Action>) {
        let buf = std::mem::take(&mut self.inbuf);
        let used = self.process(&buf, dir, out);
        self.inbuf = buf;
        self.inbuf.drain(..used.min(self.inbuf.len()));
        if matches!(self.mode, Mode::Closed) {
            self.inbuf = Vec::new();
        }
    }

    /// Returns how many bytes of `buf` were used up.
    fn process(&mut self, buf: &[u8], dir: &dyn Directory, out: &mut Vec<Action>) -> usize {
        let mut pos = 0;
        while pos < buf.len() {
            let rest = &buf[pos..];
            match self.mode {
                Mode::Closed | Mode::Waiting(_) => break,
                Mode::TlsPending => return buf.len(),
                Mode::Data(_) => pos += self.data_content(rest, out),
                Mode::Bdat { .. } => pos += self.bdat_content(rest, out),
                Mode::DiscardLine => match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        pos += i + 1;
                        self.mode = Mode::Command;
                    }
                    None => return buf.len(),
                },
                _ => match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        pos += i + 1;
                        self.line(&rest[..=i], dir, out);
                    }
                    None if rest.len() >= self.config.max_line_length => {
                        // Already too long without its LF: answer now, drop the rest of it.
                        self.end_line_mode(out, reply::R500_LINE_TOO_LONG);
                        if matches!(self.mode, Mode::Command) {
                            self.mode = Mode::DiscardLine;
                        }
                        return buf.len();
                    }
                    None => break,
                },
            }
        }
        pos
    }

    /// One complete line (with its LF) in command or AUTH-response mode.
    fn line(&mut self, line: &[u8], dir: &dyn Directory, out: &mut Vec<Action>) {
        if line.len() > self.config.max_line_length {
            return self.end_line_mode(out, reply::R500_LINE_TOO_LONG);
        }
        let Some(content) = line.strip_suffix(b"\r\n") else {
            return self.end_line_mode(out, reply::R500_BARE_LF);
        };
        match std::mem::replace(&mut self.mode, Mode::Command) {
            Mode::AuthPlain => self.auth_plain_response(content, out),
            Mode::AuthLoginUser => self.auth_login_user(content, out),
            Mode::AuthLoginPass { login } => self.auth_login_pass(login, content, out),
            _ => match parse_command(content) {
                Ok(cmd) => self.command(cmd, dir, out),
                Err(e) => self.reply(out, Reply::from(&e)),
            },
        }
    }

    /// A line that is not usable: the reply, and an AUTH exchange in progress ends.
    fn end_line_mode(&mut self, out: &mut Vec<Action>, r: Reply) {
        if matches!(
            self.mode,
            Mode::AuthPlain | Mode::AuthLoginUser | Mode::AuthLoginPass { .. }
        ) {
            self.mode = Mode::Command;
        }
        self.reply(out, r);
    }

    /// DATA content; returns the bytes used.
    fn data_content(&mut self, input: &[u8], out: &mut Vec<Action>) -> usize {
        let drop_size = self.config.drop_size;
        let (Mode::Data(decoder), Some(tx)) = (&mut self.mode, &mut self.tx) else {
            self.mode = Mode::Command;
            return 0;
        };
        // Never read past drop_size + 1 octets, so the drop decision does not depend on how
        // the input was split.
        let allowed = drop_size.saturating_sub(tx.received).saturating_add(1);
        let take = usize::try_from(allowed)
            .unwrap_or(usize::MAX)
            .min(input.len());
        let end = decoder.feed(&input[..take], &mut tx.body);
        let used = end.unwrap_or(take);
        tx.received = tx.received.saturating_add(used as u64);
        if tx.received > drop_size {
            self.close_with(out, reply::R552_TOO_BIG);
        } else if end.is_some() {
            self.mode = Mode::Command;
            self.end_of_message(out);
        }
        used
    }

    /// BDAT chunk octets; returns the bytes used.
    fn bdat_content(&mut self, input: &[u8], out: &mut Vec<Action>) -> usize {
        let Mode::Bdat {
            remaining, reject, ..
        } = &mut self.mode
        else {
            return 0;
        };
        let take = usize::try_from(*remaining)
            .unwrap_or(usize::MAX)
            .min(input.len());
        *remaining -= take as u64;
        let done = *remaining == 0;
        if reject.is_none() {
            if let Some(tx) = &mut self.tx {
                tx.body.push(&input[..take]);
                tx.received = tx.received.saturating_add(take as u64);
            }
        }
        if done {
            self.end_of_chunk(out);
        }
        take
    }

    /// All octets of a BDAT chunk are in (RFC 3030 §2: the reply follows the chunk).
    pub(crate) fn end_of_chunk(&mut self, out: &mut Vec<Action>) {
        let Mode::Bdat {
            size, last, reject, ..
        } = std::mem::replace(&mut self.mode, Mode::Command)
        else {
            return;
        };
        let overflow = self.tx.as_ref().is_some_and(|tx| tx.body.overflow());
        match reject {
            Some(r) => self.reply(out, r),
            None if last => self.end_of_message(out),
            None if overflow => self.reply(out, reply::R552_TOO_BIG),
            None => self.reply(out, reply::r250_chunk(size)),
        }
    }

    /// End of DATA or `BDAT … LAST`: the transaction ends here whatever happens
    /// (RFC 5321 §4.1.1.4); the message goes to the queue unless it was too big.
    fn end_of_message(&mut self, out: &mut Vec<Action>) {
        let Some(tx) = self.tx.take() else {
            return self.reply(out, reply::R503_NEED_MAIL);
        };
        if tx.body.overflow() {
            return self.reply(out, reply::R552_TOO_BIG);
        }
        let helo = self.helo.clone().unwrap_or(Helo {
            name: String::new(),
            extended: false,
        });
        let protocol = match (helo.extended, self.tls, self.auth.is_some()) {
            (false, _, _) => "SMTP",
            (true, false, false) => "ESMTP",
            (true, true, false) => "ESMTPS",
            (true, false, true) => "ESMTPA",
            (true, true, true) => "ESMTPSA",
        };
        let envelope = Envelope {
            mail_from: tx.mail_from,
            recipients: tx.recipients,
            body: tx.body.into_inner(),
            size_declared: tx.params.size,
            body_type: tx.params.body.unwrap_or_default(),
            smtputf8: tx.params.smtputf8,
            ret: tx.params.ret,
            envid: tx.params.envid,
            requiretls: tx.params.requiretls,
            auth_as: self.auth.clone(),
            helo: helo.name,
            tls: self.tls,
            peer: self.peer.clone(),
            protocol,
        };
        self.mode = Mode::Waiting(Pending::Enqueue);
        out.push(Action::Enqueue(envelope));
    }

    /// Emit a reply; 5xx replies count toward [`MAX_ERRORS`].
    pub(crate) fn reply(&mut self, out: &mut Vec<Action>, r: Reply) {
        let error = r.is_permanent_error();
        let bytes = r.to_bytes();
        match out.last_mut() {
            Some(Action::Send(prev)) => prev.extend_from_slice(&bytes),
            _ => out.push(Action::Send(bytes)),
        }
        if error && !matches!(self.mode, Mode::Closed) {
            self.errors += 1;
            if self.errors >= MAX_ERRORS {
                let r = reply::r421_too_many_errors(&self.config.hostname);
                self.close_with(out, r);
            }
        }
    }

    /// Emit a last reply and close.
    pub(crate) fn close_with(&mut self, out: &mut Vec<Action>, r: Reply) {
        self.mode = Mode::Closed;
        self.reply(out, r);
        out.push(Action::Close);
        self.inbuf.clear();
        self.tx = None;
    }
}
