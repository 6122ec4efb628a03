//! SMTP client side: a pure, sans-IO codec for delivering messages to another server.
//!
//! The shell (`outbound::deliver`) owns the socket, TLS and timers. It feeds what it reads to
//! [`Client::receive`] and performs the [`Event`]s it gets back: write bytes, start TLS, hand
//! over the next message ([`Client::send_message`]) when the session is [`Event::Ready`], read
//! the per-recipient results ([`Event::Delivered`]), close. Nothing here blocks, allocates
//! without a bound, or panics on input.
//!
//! # Implementation notes
//!
//! RFCs implemented (client side): RFC 5321 (greeting, EHLO with HELO fallback, MAIL/RCPT/DATA,
//! RSET, QUIT, multi-line replies), RFC 2920 (PIPELINING: MAIL, every RCPT and DATA go out as
//! one group), RFC 1870 (SIZE: `SIZE=` sent, a message over the peer's limit is refused before
//! anything is sent), RFC 6152 (8BITMIME: `BODY=8BITMIME`), RFC 6531 (SMTPUTF8), RFC 3461
//! (NOTIFY, ORCPT, RET, ENVID passed on when the peer offers DSN), RFC 3207 (STARTTLS; all
//! knowledge from before TLS is discarded and EHLO is sent again), RFC 4954 with RFC 4616
//! (AUTH PLAIN, else AUTH LOGIN), RFC 2034/3463 (enhanced status codes read from replies),
//! RFC 8689 (REQUIRETLS passed on; a REQUIRETLS message is refused here, 5.7.10, without TLS
//! and, 5.7.30, to a peer that does not offer REQUIRETLS).
//!
//! Session flow and the state each reply is read in:
//!
//! | state     | sent                      | 2xx/3xx                     | otherwise                     |
//! |-----------|---------------------------|-----------------------------|-------------------------------|
//! | Greeting  | (connect)                 | 220: EHLO                   | session failed                |
//! | Ehlo      | EHLO                      | capabilities; STARTTLS/AUTH | 5xx: HELO; 4xx: failed        |
//! | Helo      | HELO                      | no extensions: Ready        | session failed                |
//! | StartTls  | STARTTLS                  | 220: [`Event::StartTls`]    | opportunistic: go on in clear |
//! | Auth      | AUTH PLAIN / LOGIN steps  | 334: next step; 235: Ready  | session failed                |
//! | Tx        | MAIL, RCPT…, DATA         | per-recipient results       | per-recipient results         |
//! | Data      | content, "."              | accepted recipients done    | accepted recipients failed    |
//! | Rset      | RSET (after a failed tx)  | Ready                       | session failed                |
//! | Quit      | QUIT                      | Closed                      | Closed                        |
//!
//! Deliberate choices:
//!
//! - Refusals decided here, before anything is sent, carry a reply made up locally
//!   ([`ServerReply::local`]): SIZE over the peer's limit is 552 5.3.4; a message that needs
//!   SMTPUTF8 (a non-ASCII address or header) to a peer without it is 553 5.6.7 — never a silent
//!   downgrade; 8-bit content to a peer without 8BITMIME is 554 5.6.3 (RFC 6152 §3: convert or
//!   return; we do not convert).
//! - Credentials are only sent over TLS unless the config allows plaintext AUTH (tests,
//!   loopback relays). A host that offers no AUTH is used without it.
//! - After STARTTLS, input before the handshake is discarded (RFC 3207 §4.2 injection).
//! - Message content is dot-stuffed and every line end is sent as CRLF (a bare CR or LF becomes
//!   CRLF: no ambiguity about where the content ends, SMTP smuggling).
//! - A reply line may be up to [`MAX_REPLY_LINE`] octets and a reply [`MAX_REPLY_LINES`]
//!   lines; beyond that, or on a malformed line, the session fails with a protocol error.
//!
//! Invariants for maintainers:
//!
//! - Every message handed to [`Client::send_message`] gets exactly one [`Event::Delivered`]
//!   with one result per recipient, in order — or, when the connection dies first, the shell
//!   calls [`Client::connection_lost`], which returns the results for the recipients not yet
//!   decided.
//! - Replies are matched to commands strictly in order (RFC 2920 §3.1).

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use super::command::{xtext_encode, DsnNotify, DsnRet};

/// Longest reply line accepted, CRLF included (RFC 5321 §4.5.3.1.5 says 512; be lenient).
pub const MAX_REPLY_LINE: usize = 8192;
/// Most lines in one reply (an EHLO reply has a few dozen at most).
pub const MAX_REPLY_LINES: usize = 256;

/// What to do about STARTTLS (the TLS policy of the destination decides; see
/// `outbound::tls::TlsPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Never start TLS.
    Off,
    /// Start TLS when offered, otherwise go on in the clear.
    Opportunistic,
    /// Fail the session when the peer does not offer STARTTLS or refuses it.
    Required,
}

/// A user name and password for AUTH. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Settings of one client session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientConfig {
    /// Our name in EHLO/HELO.
    pub ehlo_name: String,
    pub tls: TlsMode,
    /// The connection is already encrypted (implicit TLS): no STARTTLS.
    pub tls_active: bool,
    /// Used when the peer offers AUTH.
    pub credentials: Option<Credentials>,
    /// Send credentials without TLS (off for the Internet).
    pub allow_plaintext_auth: bool,
}

/// The service extensions a peer announced in its EHLO reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    /// EHLO was answered (HELO peers have no extensions).
    pub esmtp: bool,
    pub pipelining: bool,
    /// RFC 1870: `Some(0)` is "SIZE without a limit".
    pub size: Option<u64>,
    pub eightbitmime: bool,
    pub smtputf8: bool,
    pub starttls: bool,
    pub dsn: bool,
    pub enhanced_status_codes: bool,
    /// RFC 8689 REQUIRETLS.
    pub requiretls: bool,
    /// SASL mechanisms, upper case.
    pub auth: Vec<String>,
}

impl Capabilities {
    /// Reads the lines of an EHLO reply after the first (RFC 5321 §4.1.1.1 `ehlo-line`).
    fn from_ehlo(reply: &ServerReply) -> Capabilities {
        let mut caps = Capabilities {
            esmtp: true,
            ..Capabilities::default()
        };
        for line in reply.lines.iter().skip(1) {
            let mut words = line.split_ascii_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            let keyword = keyword.to_ascii_uppercase();
            match keyword.as_str() {
                "PIPELINING" => caps.pipelining = true,
                "SIZE" => caps.size = Some(words.next().and_then(|n| n.parse().ok()).unwrap_or(0)),
                "8BITMIME" => caps.eightbitmime = true,
                "SMTPUTF8" => caps.smtputf8 = true,
                "STARTTLS" => caps.starttls = true,
                "DSN" => caps.dsn = true,
                "REQUIRETLS" => caps.requiretls = true,
                "ENHANCEDSTATUSCODES" => caps.enhanced_status_codes = true,
                // "AUTH=PLAIN LOGIN" is the form some old servers use.
                k if k == "AUTH" || k.starts_with("AUTH=") => {
                    let first = k.strip_prefix("AUTH=").filter(|m| !m.is_empty());
                    for m in first
                        .map(str::to_string)
                        .into_iter()
                        .chain(words.map(|w| w.to_ascii_uppercase()))
                    {
                        if !caps.auth.contains(&m) {
                            caps.auth.push(m);
                        }
                    }
                }
                _ => {}
            }
        }
        caps
    }
}

/// One reply of the peer (RFC 5321 §4.2), or one made up locally for a refusal decided here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerReply {
    pub code: u16,
    /// Enhanced status code ("5.1.1"), when the first line carries one of the reply's class.
    pub status: Option<String>,
    /// The text of each line, status code stripped.
    pub lines: Vec<String>,
    /// Made up by this client, not received from the peer.
    pub local: bool,
}

impl ServerReply {
    /// A reply decided locally (no peer said it).
    pub fn local(code: u16, status: &str, text: &str) -> ServerReply {
        ServerReply {
            code,
            status: Some(status.to_string()),
            lines: vec![text.to_string()],
            local: true,
        }
    }

    pub fn is_positive(&self) -> bool {
        (200..400).contains(&self.code)
    }

    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// The outcome of a recipient that got this reply.
    pub fn outcome(&self) -> Outcome {
        if (200..300).contains(&self.code) {
            Outcome::Delivered
        } else if self.code >= 500 {
            Outcome::Permanent
        } else {
            Outcome::Temporary
        }
    }

    /// The enhanced status to report: the peer's, else one derived from the reply class.
    pub fn status_or_default(&self) -> String {
        self.status.clone().unwrap_or_else(|| {
            match self.code / 100 {
                2 => "2.0.0",
                4 => "4.0.0",
                _ => "5.0.0",
            }
            .to_string()
        })
    }

    /// One line for logs, queue listings and DSN Diagnostic-Code: "550 5.1.1 text more text".
    pub fn one_line(&self) -> String {
        let mut s = self.code.to_string();
        if let Some(st) = &self.status {
            s.push(' ');
            s.push_str(st);
        }
        for l in &self.lines {
            if !l.is_empty() {
                s.push(' ');
                s.push_str(l);
            }
        }
        s
    }
}

impl fmt::Display for ServerReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.one_line())
    }
}

/// How a recipient's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again later.
    Temporary,
    /// Bounce.
    Permanent,
}

/// One recipient's result and the reply it rests on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcptResult {
    pub outcome: Outcome,
    pub reply: ServerReply,
}

impl RcptResult {
    fn from_reply(reply: &ServerReply) -> RcptResult {
        RcptResult {
            outcome: reply.outcome(),
            reply: reply.clone(),
        }
    }
}

/// One envelope recipient to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingRecipient {
    pub address: String,
    /// RFC 3461 NOTIFY, in the order to send it.
    pub notify: Option<Vec<DsnNotify>>,
    /// RFC 3461 ORCPT as "addr-type;address", the address decoded.
    pub orcpt: Option<String>,
}

/// One message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// "" is the null sender.
    pub mail_from: String,
    pub recipients: Vec<OutgoingRecipient>,
    /// The message as stored (CRLF line ends), not yet dot-stuffed.
    pub content: Vec<u8>,
    /// The content has octets over 127: BODY=8BITMIME.
    pub eight_bit: bool,
    /// An address or header is non-ASCII: SMTPUTF8 needed.
    pub needs_smtputf8: bool,
    /// RFC 3461 RET.
    pub ret: Option<DsnRet>,
    /// RFC 3461 ENVID, decoded.
    pub envid: Option<String>,
    /// RFC 8689: the message may only go over TLS to a peer that offers REQUIRETLS, and the
    /// parameter is passed on. (That the certificate was authenticated is the shell's check.)
    pub requiretls: bool,
}

/// What the shell must do, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum Event {
    /// Bytes to write.
    Send(Vec<u8>),
    /// STARTTLS was accepted: handshake, then call [`Client::tls_established`].
    StartTls,
    /// The session can take a message ([`Client::send_message`]) or be ended ([`Client::quit`]).
    Ready,
    /// The results of the message in progress, one per recipient in order.
    Delivered(Vec<RcptResult>),
    /// The session cannot go on (greeting refused, EHLO/HELO refused, TLS required but
    /// missing, AUTH failed, protocol error): close the connection.
    Failed(ServerReply),
    /// QUIT answered: close the connection.
    Closed,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Redacts AUTH payloads (they carry the password).
            Event::Send(b) if b.starts_with(b"AUTH ") => f.write_str("Send(AUTH <redacted>)"),
            Event::Send(b) => write!(f, "Send({:?})", String::from_utf8_lossy(b)),
            Event::StartTls => f.write_str("StartTls"),
            Event::Ready => f.write_str("Ready"),
            Event::Delivered(r) => f.debug_tuple("Delivered").field(r).finish(),
            Event::Failed(r) => write!(f, "Failed({r})"),
            Event::Closed => f.write_str("Closed"),
        }
    }
}

/// What a pipelined reply answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Mail,
    Rcpt(usize),
    Data,
}

/// A transaction in progress.
#[derive(Debug)]
struct Tx {
    msg: OutgoingMessage,
    /// Commands not yet sent (only without PIPELINING, one at a time).
    unsent: VecDeque<(Expect, Vec<u8>)>,
    /// Sent, reply not yet read, in order.
    awaiting: VecDeque<Expect>,
    mail: Option<ServerReply>,
    rcpts: Vec<Option<ServerReply>>,
}

impl Tx {
    fn accepted(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.rcpts.len()).filter(|i| {
            self.rcpts[*i].as_ref().is_some_and(|r| r.code / 100 == 2)
                && self.mail.as_ref().is_some_and(|m| m.code / 100 == 2)
        })
    }

    /// Results when the transaction ends with `last` (DATA's or the final reply) for the
    /// accepted recipients; the others keep the reply that refused them.
    fn results(&self, last: &ServerReply) -> Vec<RcptResult> {
        let accepted: Vec<usize> = self.accepted().collect();
        (0..self.rcpts.len())
            .map(|i| {
                if accepted.contains(&i) {
                    return RcptResult::from_reply(last);
                }
                match (&self.mail, &self.rcpts[i]) {
                    (Some(m), _) if m.code / 100 != 2 => RcptResult::from_reply(m),
                    (_, Some(r)) => RcptResult::from_reply(r),
                    _ => RcptResult::from_reply(last),
                }
            })
            .collect()
    }
}

#[derive(Debug)]
enum AuthStep {
    Plain,
    LoginUser,
    LoginPassword,
    LoginDone,
}

#[derive(Debug)]
enum State {
    Greeting,
    Ehlo,
    Helo,
    StartTls,
    Handshake,
    Auth(AuthStep),
    Ready,
    Tx(Box<Tx>),
    Data(Box<Tx>),
    /// A "." was sent to end DATA that nobody should have accepted; then RSET.
    AbortData,
    Rset,
    Quit,
    Closed,
}

/// The client session.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    caps: Capabilities,
    tls: bool,
    state: State,
    buf: Vec<u8>,
    /// Lines of the reply being read.
    partial: Vec<(u16, bool, String)>,
}

impl Client {
    /// A session on a fresh connection; the first input is the greeting.
    pub fn new(config: ClientConfig) -> Client {
        let tls = config.tls_active;
        Client {
            config,
            caps: Capabilities::default(),
            tls,
            state: State::Greeting,
            buf: Vec::new(),
            partial: Vec::new(),
        }
    }

    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// TLS is active on the connection.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The content was sent and its final reply is awaited (the long DATA timeout applies).
    pub fn in_data(&self) -> bool {
        matches!(self.state, State::Data(_))
    }

    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// Bytes read from the peer.
    pub fn receive(&mut self, input: &[u8]) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Handshake | State::Closed) {
            return out;
        }
        self.buf.extend_from_slice(input);
        loop {
            if matches!(self.state, State::Handshake | State::Closed) {
                self.buf.clear();
                break;
            }
            match self.next_reply() {
                Ok(Some(reply)) => self.on_reply(reply, &mut out),
                Ok(None) => break,
                Err(why) => {
                    self.fail(ServerReply::local(421, "4.5.0", &why), &mut out);
                    break;
                }
            }
        }
        out
    }

    /// The TLS handshake after STARTTLS succeeded: EHLO again (RFC 3207 §4.2).
    pub fn tls_established(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        if matches!(self.state, State::Handshake) {
            self.tls = true;
            self.caps = Capabilities::default();
            self.buf.clear();
            self.send_ehlo(&mut out);
        }
        out
    }

    /// Starts sending `msg`; only when the session is ready.
    pub fn send_message(&mut self, msg: OutgoingMessage) -> Vec<Event> {
        let mut out = Vec::new();
        if !matches!(self.state, State::Ready) {
            let r = ServerReply::local(451, "4.3.0", "client session not ready for a message");
            out.push(Event::Delivered(all(&msg, &r)));
            return out;
        }
        if let Some(refusal) = self.refusal(&msg) {
            out.push(Event::Delivered(all(&msg, &refusal)));
            out.push(Event::Ready);
            return out;
        }
        let mut cmds: VecDeque<(Expect, Vec<u8>)> = VecDeque::new();
        cmds.push_back((Expect::Mail, self.mail_command(&msg)));
        for (i, r) in msg.recipients.iter().enumerate() {
            cmds.push_back((Expect::Rcpt(i), self.rcpt_command(r)));
        }
        cmds.push_back((Expect::Data, b"DATA\r\n".to_vec()));
        let mut tx = Box::new(Tx {
            rcpts: vec![None; msg.recipients.len()],
            msg,
            unsent: cmds,
            awaiting: VecDeque::new(),
            mail: None,
        });
        if self.caps.pipelining {
            let mut group = Vec::new();
            while let Some((e, bytes)) = tx.unsent.pop_front() {
                group.extend_from_slice(&bytes);
                tx.awaiting.push_back(e);
            }
            out.push(Event::Send(group));
        } else {
            send_next(&mut tx, &mut out);
        }
        self.state = State::Tx(tx);
        out
    }

    /// Ends the session politely.
    pub fn quit(&mut self) -> Vec<Event> {
        match self.state {
            State::Closed | State::Quit => Vec::new(),
            _ => {
                self.state = State::Quit;
                vec![Event::Send(b"QUIT\r\n".to_vec())]
            }
        }
    }

    /// The connection broke (read error, timeout, EOF). Returns the results for the message in
    /// progress, if any: its undecided recipients failed temporarily with `why`.
    pub fn connection_lost(&mut self, why: &str) -> Option<Vec<RcptResult>> {
        let state = std::mem::replace(&mut self.state, State::Closed);
        let r = ServerReply::local(451, "4.4.2", why);
        match state {
            State::Tx(tx) | State::Data(tx) => Some(tx.results(&r)),
            _ => None,
        }
    }

    fn refusal(&self, msg: &OutgoingMessage) -> Option<ServerReply> {
        // RFC 8689 §4.2.1 and §5: never in the clear; only to a peer that carries the
        // requirement on.
        if msg.requiretls && !self.tls {
            return Some(ServerReply::local(
                550,
                "5.7.10",
                "REQUIRETLS: the receiving server offers no TLS, and the message must not go in the clear",
            ));
        }
        if msg.requiretls && !self.caps.requiretls {
            return Some(ServerReply::local(
                550,
                "5.7.30",
                "REQUIRETLS support required: the receiving server does not offer REQUIRETLS",
            ));
        }
        if msg.needs_smtputf8 && !self.caps.smtputf8 {
            return Some(ServerReply::local(
                553,
                "5.6.7",
                "the message needs SMTPUTF8 and the receiving server does not support it",
            ));
        }
        if let Some(limit) = self.caps.size.filter(|n| *n > 0) {
            if msg.content.len() as u64 > limit {
                return Some(ServerReply::local(
                    552,
                    "5.3.4",
                    &format!("message size exceeds the receiving server's limit of {limit} octets"),
                ));
            }
        }
        if msg.eight_bit && !self.caps.eightbitmime {
            return Some(ServerReply::local(
                554,
                "5.6.3",
                "8-bit content and the receiving server does not support 8BITMIME",
            ));
        }
        None
    }

    fn mail_command(&self, msg: &OutgoingMessage) -> Vec<u8> {
        let mut cmd = format!("MAIL FROM:<{}>", msg.mail_from);
        if self.caps.size.is_some() {
            cmd.push_str(&format!(" SIZE={}", msg.content.len()));
        }
        if msg.eight_bit && self.caps.eightbitmime {
            cmd.push_str(" BODY=8BITMIME");
        }
        if msg.needs_smtputf8 && self.caps.smtputf8 {
            cmd.push_str(" SMTPUTF8");
        }
        if self.caps.dsn {
            if let Some(ret) = msg.ret {
                cmd.push_str(&format!(" RET={}", ret.keyword()));
            }
            if let Some(envid) = &msg.envid {
                cmd.push_str(&format!(" ENVID={}", xtext_encode(envid)));
            }
        }
        if msg.requiretls && self.caps.requiretls {
            cmd.push_str(" REQUIRETLS");
        }
        cmd.push_str("\r\n");
        cmd.into_bytes()
    }

    fn rcpt_command(&self, r: &OutgoingRecipient) -> Vec<u8> {
        let mut cmd = format!("RCPT TO:<{}>", r.address);
        if self.caps.dsn {
            if let Some(n) = &r.notify {
                let keywords: Vec<&str> = n.iter().map(|k| k.keyword()).collect();
                cmd.push_str(&format!(" NOTIFY={}", keywords.join(",")));
            }
            if let Some((kind, addr)) = r.orcpt.as_deref().and_then(|o| o.split_once(';')) {
                cmd.push_str(&format!(" ORCPT={kind};{}", xtext_encode(addr)));
            }
        }
        cmd.push_str("\r\n");
        cmd.into_bytes()
    }

    /// Reads one complete reply from the buffer, if there is one.
    fn next_reply(&mut self) -> Result<Option<ServerReply>, String> {
        loop {
            let Some(end) = self.buf.iter().position(|&b| b == b'\n') else {
                if self.buf.len() > MAX_REPLY_LINE {
                    return Err("reply line too long".into());
                }
                return Ok(None);
            };
            if end + 1 > MAX_REPLY_LINE {
                return Err("reply line too long".into());
            }
            let mut line: Vec<u8> = self.buf.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let (code, last, text) = parse_reply_line(&line)?;
            if let Some((first, ..)) = self.partial.first() {
                if *first != code {
                    return Err(format!(
                        "reply code changed from {first} to {code} within a reply"
                    ));
                }
            }
            self.partial.push((code, last, text));
            if self.partial.len() > MAX_REPLY_LINES {
                return Err("reply has too many lines".into());
            }
            if last {
                let lines: Vec<(u16, bool, String)> = std::mem::take(&mut self.partial);
                return Ok(Some(make_reply(lines)));
            }
        }
    }

    fn fail(&mut self, reply: ServerReply, out: &mut Vec<Event>) {
        // A message in progress gets its results first, so none is ever lost.
        let state = std::mem::replace(&mut self.state, State::Closed);
        if let State::Tx(tx) | State::Data(tx) = state {
            out.push(Event::Delivered(tx.results(&reply)));
        }
        out.push(Event::Failed(reply));
    }

    fn send_ehlo(&mut self, out: &mut Vec<Event>) {
        out.push(Event::Send(
            format!("EHLO {}\r\n", self.config.ehlo_name).into_bytes(),
        ));
        self.state = State::Ehlo;
    }

    fn on_reply(&mut self, reply: ServerReply, out: &mut Vec<Event>) {
        let state = std::mem::replace(&mut self.state, State::Closed);
        match state {
            State::Greeting if reply.code == 220 => self.send_ehlo(out),
            State::Ehlo if reply.code == 250 => {
                self.caps = Capabilities::from_ehlo(&reply);
                self.after_hello(out);
            }
            // RFC 5321 §3.2: a server that does not know EHLO answers 500/502; try HELO.
            State::Ehlo if reply.code >= 500 => {
                out.push(Event::Send(
                    format!("HELO {}\r\n", self.config.ehlo_name).into_bytes(),
                ));
                self.state = State::Helo;
            }
            State::Helo if reply.code == 250 => {
                self.caps = Capabilities::default();
                self.after_hello(out);
            }
            State::StartTls if reply.code == 220 => {
                self.state = State::Handshake;
                self.buf.clear();
                out.push(Event::StartTls);
            }
            State::StartTls if self.config.tls == TlsMode::Required => self.fail(reply, out),
            State::StartTls => self.after_tls(out),
            State::Auth(step) => self.on_auth(step, reply, out),
            State::Tx(tx) => self.on_tx_reply(tx, reply, out),
            State::Data(tx) => {
                out.push(Event::Delivered(tx.results(&reply)));
                self.ready(out);
            }
            State::AbortData => {
                out.push(Event::Send(b"RSET\r\n".to_vec()));
                self.state = State::Rset;
            }
            State::Rset if reply.code == 250 => self.ready(out),
            State::Quit | State::Closed => {
                self.state = State::Closed;
                out.push(Event::Closed);
            }
            // Greeting, EHLO 4xx, HELO, RSET refused; an unexpected reply while ready.
            _ => self.fail(reply, out),
        }
    }

    /// After EHLO/HELO: STARTTLS if wanted, else AUTH if possible, else ready.
    fn after_hello(&mut self, out: &mut Vec<Event>) {
        if !self.tls && self.config.tls != TlsMode::Off {
            if self.caps.starttls {
                out.push(Event::Send(b"STARTTLS\r\n".to_vec()));
                self.state = State::StartTls;
                return;
            }
            if self.config.tls == TlsMode::Required {
                self.fail(
                    ServerReply::local(
                        421,
                        "4.7.10",
                        "TLS is required for this destination and the server does not offer STARTTLS",
                    ),
                    out,
                );
                return;
            }
        }
        self.after_tls(out);
    }

    fn after_tls(&mut self, out: &mut Vec<Event>) {
        let Some(cred) = self.config.credentials.clone() else {
            return self.ready(out);
        };
        if self.caps.auth.is_empty() || !(self.tls || self.config.allow_plaintext_auth) {
            return self.ready(out);
        }
        if self.caps.auth.iter().any(|m| m == "PLAIN") {
            // RFC 4616: authzid NUL authcid NUL passwd, as an initial response (RFC 4954 §4).
            let token = BASE64.encode(format!("\0{}\0{}", cred.user, cred.password));
            out.push(Event::Send(format!("AUTH PLAIN {token}\r\n").into_bytes()));
            self.state = State::Auth(AuthStep::Plain);
        } else if self.caps.auth.iter().any(|m| m == "LOGIN") {
            out.push(Event::Send(b"AUTH LOGIN\r\n".to_vec()));
            self.state = State::Auth(AuthStep::LoginUser);
        } else {
            self.ready(out);
        }
    }

    fn on_auth(&mut self, step: AuthStep, reply: ServerReply, out: &mut Vec<Event>) {
        let Some(cred) = self.config.credentials.clone() else {
            return self.fail(reply, out);
        };
        match (step, reply.code) {
            (AuthStep::Plain | AuthStep::LoginDone, 235) => self.ready(out),
            (AuthStep::LoginUser, 334) => {
                let line = format!("{}\r\n", BASE64.encode(&cred.user));
                out.push(Event::Send(line.into_bytes()));
                self.state = State::Auth(AuthStep::LoginPassword);
            }
            (AuthStep::LoginPassword, 334) => {
                let line = format!("{}\r\n", BASE64.encode(&cred.password));
                out.push(Event::Send(line.into_bytes()));
                self.state = State::Auth(AuthStep::LoginDone);
            }
            _ => self.fail(reply, out),
        }
    }

    fn ready(&mut self, out: &mut Vec<Event>) {
        self.state = State::Ready;
        out.push(Event::Ready);
    }

    fn on_tx_reply(&mut self, mut tx: Box<Tx>, reply: ServerReply, out: &mut Vec<Event>) {
        let Some(expect) = tx.awaiting.pop_front() else {
            return self.fail(reply, out);
        };
        let last = reply.clone();
        match expect {
            Expect::Mail => {
                tx.mail = Some(reply);
                if last.code / 100 != 2 && !self.caps.pipelining {
                    // Nothing else was sent: the transaction is over, no RSET needed.
                    out.push(Event::Delivered(tx.results(&last)));
                    return self.ready(out);
                }
            }
            Expect::Rcpt(i) => {
                if let Some(slot) = tx.rcpts.get_mut(i) {
                    *slot = Some(reply);
                }
            }
            Expect::Data => return self.on_data_reply(tx, reply, out),
        }
        if !self.caps.pipelining && tx.awaiting.is_empty() {
            if matches!(tx.unsent.front(), Some((Expect::Data, _))) && tx.accepted().count() == 0 {
                // Without PIPELINING, DATA is not sent when no recipient was accepted.
                out.push(Event::Delivered(tx.results(&last)));
                out.push(Event::Send(b"RSET\r\n".to_vec()));
                self.state = State::Rset;
                return;
            }
            send_next(&mut tx, out);
        }
        self.state = State::Tx(tx);
    }

    fn on_data_reply(&mut self, tx: Box<Tx>, reply: ServerReply, out: &mut Vec<Event>) {
        let accepted = tx.accepted().count();
        if reply.code == 354 && accepted > 0 {
            out.push(Event::Send(dot_stuff(&tx.msg.content)));
            self.state = State::Data(tx);
            return;
        }
        if reply.code == 354 {
            // RFC 2920 §3.1: DATA accepted with no valid recipient; end the empty content.
            let refusal = tx
                .rcpts
                .iter()
                .flatten()
                .find(|r| r.code / 100 != 2)
                .cloned()
                .or_else(|| tx.mail.clone())
                .unwrap_or(reply);
            out.push(Event::Delivered(tx.results(&refusal)));
            out.push(Event::Send(b".\r\n".to_vec()));
            self.state = State::AbortData;
            return;
        }
        out.push(Event::Delivered(tx.results(&reply)));
        if tx.mail.as_ref().is_some_and(|m| m.code / 100 == 2) {
            out.push(Event::Send(b"RSET\r\n".to_vec()));
            self.state = State::Rset;
        } else {
            self.ready(out);
        }
    }
}

fn all(msg: &OutgoingMessage, r: &ServerReply) -> Vec<RcptResult> {
    msg.recipients
        .iter()
        .map(|_| RcptResult::from_reply(r))
        .collect()
}

fn send_next(tx: &mut Tx, out: &mut Vec<Event>) {
    if let Some((e, bytes)) = tx.unsent.pop_front() {
        tx.awaiting.push_back(e);
        out.push(Event::Send(bytes));
    }
}

/// `Reply-line = *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF`
/// (RFC 5321 §4.2). Returns (code, is last line, text).
fn parse_reply_line(line: &[u8]) -> Result<(u16, bool, String), String> {
    let bad = || format!("malformed reply line {:?}", String::from_utf8_lossy(line));
    if line.len() < 3 || !line[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    if !(b'2'..=b'5').contains(&line[0]) {
        return Err(bad());
    }
    let code =
        (line[0] - b'0') as u16 * 100 + (line[1] - b'0') as u16 * 10 + (line[2] - b'0') as u16;
    let (last, text) = match line.get(3) {
        None => (true, &line[3..3]),
        Some(b' ') => (true, &line[4..]),
        Some(b'-') => (false, &line[4..]),
        Some(_) => return Err(bad()),
    };
    Ok((code, last, String::from_utf8_lossy(text).into_owned()))
}

fn make_reply(lines: Vec<(u16, bool, String)>) -> ServerReply {
    let code = lines.first().map_or(0, |l| l.0);
    let class = (code / 100) as u8;
    let status = lines
        .first()
        .and_then(|(_, _, t)| enhanced_status(t, class));
    let lines = lines
        .into_iter()
        .map(|(_, _, text)| match &status {
            Some(st) => text
                .strip_prefix(st.as_str())
                .map_or(text.clone(), |rest| rest.trim_start().to_string()),
            None => text,
        })
        .collect();
    ServerReply {
        code,
        status,
        lines,
        local: false,
    }
}

/// RFC 3463 `status-code = class "." subject "." detail` at the start of `text`, when its
/// class matches the reply's.
fn enhanced_status(text: &str, class: u8) -> Option<String> {
    let word = text.split_ascii_whitespace().next()?;
    let mut parts = word.split('.');
    let (c, s, d) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |p: &str, max: usize| {
        !p.is_empty() && p.len() <= max && p.bytes().all(|b| b.is_ascii_digit())
    };
    let ok = parts.next().is_none()
        && c.len() == 1
        && c.as_bytes()[0] == b'0' + class
        && digits(s, 3)
        && digits(d, 3);
    ok.then(|| word.to_string())
}

/// The content as sent after DATA: every line end CRLF, a leading "." doubled, the last line
/// ended, then ".CRLF" (RFC 5321 §4.5.2).
pub fn dot_stuff(content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + content.len() / 64 + 5);
    let mut at_line_start = true;
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        match b {
            b'\r' => {
                out.extend_from_slice(b"\r\n");
                // CRLF is one line end; a bare CR is made one.
                if content.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
                at_line_start = true;
            }
            b'\n' => {
                out.extend_from_slice(b"\r\n");
                at_line_start = true;
            }
            _ => {
                if at_line_start && b == b'.' {
                    out.push(b'.');
                }
                out.push(b);
                at_line_start = false;
            }
        }
        i += 1;
    }
    if !at_line_start {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}
