//! SMTP server side: a pure, sans-IO command codec and session state machine.
//!
//! The actor shell owns the socket, TLS, timers and storage. It feeds the bytes it reads to
//! [`Session::receive`] and performs the [`Action`]s it gets back: write bytes, start TLS, check
//! credentials, persist a message, close. Answers to `Authenticate`/`Enqueue` come back through
//! [`Session::resume`]. Nothing here blocks, allocates without a bound, or panics on input.
//!
//! # Files
//!
//! - `reply.rs`: [`Reply`], reply codes as named constants (`R250_OK`), the wire mapping of errors.
//! - `command.rs`: command line → [`Command`], MAIL/RCPT parameters, mailbox syntax, xtext.
//! - `data.rs`: DATA content decoding (dot-unstuffing, terminator, size cap).
//! - `session.rs`: the session: input loop, state, DATA/BDAT, STARTTLS, replies to answers.
//! - `handlers.rs`: one function per command, with the states it runs in.
//! - `received.rs`: the `Received:` trace header and RFC 5322 dates.
//!
//! # Implementation notes
//!
//! RFCs implemented: RFC 5321 (SMTP), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 2920
//! (PIPELINING), RFC 2034/3463 (ENHANCEDSTATUSCODES), RFC 3030 (CHUNKING; BINARYMIME is not
//! offered), RFC 3461 (DSN parameters: RET, ENVID, NOTIFY, ORCPT; generation of DSNs lives in the
//! queue), RFC 6531 (SMTPUTF8), RFC 3207 (STARTTLS), RFC 4954 (AUTH PLAIN/LOGIN; RFC 4616 PLAIN),
//! RFC 3848 (protocol names for `Received:`), RFC 5322 §3.3 (date), RFC 8689 (REQUIRETLS: offered
//! in EHLO over TLS only, `MAIL FROM:<…> REQUIRETLS` accepted over TLS only, 530 5.7.10 otherwise;
//! the flag is kept on the queue record).
//!
//! Commands and the states they are legal in ("helo" = after HELO/EHLO, "tx" = after MAIL):
//!
//! | command       | legal when                                     | otherwise            |
//! |---------------|------------------------------------------------|----------------------|
//! | EHLO, HELO    | always (resets the transaction)                |                      |
//! | MAIL          | helo, no tx                                    | 503 5.5.1            |
//! | RCPT          | tx, before any BDAT chunk                      | 503 5.5.1            |
//! | DATA          | tx with ≥1 accepted RCPT, no BDAT yet          | 503 5.5.1            |
//! | BDAT          | tx with ≥1 accepted RCPT (bytes always read)   | 503 5.5.1            |
//! | AUTH          | after EHLO, not authenticated, no tx           | 503 5.5.1            |
//! | STARTTLS      | TLS not active and a certificate configured    | 503 / 502 5.5.1      |
//! | RSET NOOP QUIT VRFY EXPN HELP | always                         |                      |
//!
//! Deliberate deviations and choices:
//!
//! - Paths must be in angle brackets (`MAIL FROM:<a@b>`); a space after the colon is accepted
//!   because many clients send it. Source routes (`<@x,@y:a@b>`) are accepted and ignored
//!   (RFC 5321 §4.1.2). `RCPT TO:<Postmaster>` is read as `postmaster@<hostname>` (§4.5.1).
//! - RCPT with a quoted local part (`"a b"@dom`) is refused with 550 5.1.3 and one with an
//!   address literal as domain (`a@[192.0.2.1]`) with 550 5.1.2: no account has such an
//!   address, and such addresses are not relayed.
//! - After AUTH, MAIL FROM is checked with [`Directory::check_sender`] (550 5.7.1 when the
//!   user may not use the address); the From:/Sender: fields are checked by the shell at
//!   enqueue, with the same rule.
//! - A command line ending in a bare LF is refused (500 5.5.2), never executed.
//! - In DATA a bare LF is stored as CRLF, but only a real CRLF starts a line: the terminator is
//!   `CRLF . CRLF` and nothing else (SMTP smuggling defence), and dot-unstuffing only applies
//!   after CRLF. A bare CR is kept as is.
//! - `max_line_length` below 512 (RFC 5321 §4.5.3.1.4) is raised to 512, `max_recipients` below
//!   100 (§4.5.3.1.8) is raised to 100.
//! - Every 5xx reply counts as an error; at [`MAX_ERRORS`] the session answers 421 4.7.0 and
//!   closes (this also bounds recipient guessing).
//! - A BDAT chunk is answered after all of its octets are read, also when the answer is 503.
//!   A BDAT whose size would take the message over `drop_size` is answered 552 and closed at
//!   once. After a chunk goes over `max_message_size`, each further chunk is answered 552 and
//!   the transaction ends at `BDAT … LAST` (or RSET).
//! - AUTH requires EHLO; AUTH on a listener without AUTH is 503; AUTH without TLS where
//!   plaintext is not allowed is 538 5.7.11.
//! - After STARTTLS, `Session` ignores input until [`Session::tls_established`]; input read in
//!   the same packet as STARTTLS is discarded (RFC 3207 §4.2, plaintext injection).
//!
//! Invariants for maintainers:
//!
//! - While an `Authenticate` or `Enqueue` is pending ([`Session::is_waiting`]) no input is
//!   processed; it is buffered up to [`Session::pending_limit`]. More than that is refused with
//!   421 after the pending answer is sent (a well-behaved shell stops reading while waiting).
//! - Outside waiting, the input buffer holds at most one partial command line (< max line
//!   length) plus one read chunk: DATA/BDAT content is consumed as it arrives.
//! - The message body never grows beyond `max_message_size` (it is freed once over it).
//! - Replies come in command order; a `Send` is never reordered after a later action.
//! - Passwords appear only in `Action::Authenticate` and never in `Debug` output.

pub mod client;
mod command;
mod data;
mod enqueue_error;
mod handlers;
mod received;
mod reply;
pub mod requiretls;
mod session;

pub mod fuzz;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::IpAddr;

pub(crate) use command::is_mailbox;
pub use command::{
    parse_command, xtext_decode, xtext_encode, BodyType, Command, CommandError, DsnNotify, DsnRet,
    MailParams, RcptParams,
};
pub use enqueue_error::EnqueueError;
pub use received::{received_header, rfc5322_date};
pub use reply::Reply;
pub use session::{Session, MAX_ERRORS};

/// Reply codes and enhanced status codes, as named constants.
pub mod replies {
    pub use super::reply::*;
}

/// Which listener a session belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Port 25, MTA to MTA.
    Smtp,
    /// Port 587, message submission (RFC 6409), STARTTLS.
    Submission,
    /// Port 465, submission over implicit TLS (RFC 8314).
    Smtps,
}

/// Per-listener settings for a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our name, in the greeting, EHLO and `Received:`.
    pub hostname: String,
    pub service: Service,
    /// SIZE limit advertised; over it: 552 5.3.4.
    pub max_message_size: u64,
    /// Above this many bytes of DATA/BDAT: 552 and close (disk-fill defence).
    pub drop_size: u64,
    /// At least 100 (RFC 5321 §4.5.3.1.8); over it: 452 4.5.3.
    pub max_recipients: usize,
    /// Whether AUTH is offered at all on this listener.
    pub auth_enabled: bool,
    /// MAIL FROM without AUTH gets 530 5.7.0.
    pub auth_required: bool,
    /// If false, AUTH is advertised/accepted only once TLS is active (else 538 5.7.11).
    pub allow_plaintext_auth: bool,
    /// A certificate is configured: STARTTLS is advertised while TLS is not active.
    pub starttls_available: bool,
    /// Command line limit including CRLF (RFC 5321 minimum 512).
    pub max_line_length: usize,
}

impl SessionConfig {
    /// Defaults for a listener: AUTH on submission ports only (and required there), STARTTLS
    /// available, 50 MiB messages, connections dropped past twice that.
    pub fn for_service(hostname: &str, service: Service) -> SessionConfig {
        let submission = service != Service::Smtp;
        SessionConfig {
            hostname: hostname.to_string(),
            service,
            max_message_size: 50 * 1024 * 1024,
            drop_size: 100 * 1024 * 1024,
            max_recipients: 1000,
            auth_enabled: submission,
            auth_required: submission,
            allow_plaintext_auth: false,
            starttls_available: true,
            max_line_length: 4096,
        }
    }
}

/// Where the client connects from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    pub ip: IpAddr,
    pub port: u16,
    pub session_id: String,
}

/// What the session needs to know about addresses; implemented by storage in the actor layer.
pub trait Directory {
    fn check_recipient(&self, address: &str) -> RecipientCheck;
    /// Told when a client sends AUTH where it is not offered (the smtp port): a probe for
    /// a submission service, which the actor layer's screening counts.
    fn auth_not_offered(&self) {}
    /// Whether the authenticated `account` may use `address` (without `<>`, "" for the
    /// null sender) as reverse-path; the rule is `mailauth::sender`.
    fn check_sender(&self, account: &str, address: &str) -> SenderCheck;
}

/// Result of a sender check at MAIL FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SenderCheck {
    Allowed,
    /// 550 5.7.1 with this reason.
    Refused(String),
    /// Lookup failed for now: 451 4.3.0.
    TempFail,
}

/// Result of a recipient lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientCheck {
    /// A mailbox or alias we deliver to.
    Local,
    /// A local domain, but no such user: 550 5.1.1.
    UnknownLocal,
    /// Not ours: relayed for authenticated clients only.
    Remote,
    /// Lookup failed for now: 451 4.3.0.
    TempFail,
    /// The mailbox is over its quota: 452 4.2.2 (RFC 3463), the sender retries later.
    MailboxFull,
}

/// What the shell must do, in order.
#[derive(Clone, PartialEq, Eq)]
pub enum Action {
    /// Bytes to write: one or more full reply lines, CRLF-terminated.
    Send(Vec<u8>),
    /// The 220 reply was already emitted in a previous `Send`: flush, handshake, then call
    /// [`Session::tls_established`].
    StartTls,
    /// Check credentials, answer with [`Answer::Auth`] or [`Answer::AuthTempFail`].
    Authenticate {
        mechanism: String,
        authzid: Option<String>,
        login: String,
        password: String,
    },
    /// Persist durably, answer with [`Answer::Enqueued`].
    Enqueue(Envelope),
    /// Flush pending sends and close.
    Close,
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Send(bytes) => write!(f, "Send({:?})", String::from_utf8_lossy(bytes)),
            Action::StartTls => f.write_str("StartTls"),
            Action::Authenticate {
                mechanism,
                authzid,
                login,
                ..
            } => f
                .debug_struct("Authenticate")
                .field("mechanism", mechanism)
                .field("authzid", authzid)
                .field("login", login)
                .field("password", &"<redacted>")
                .finish(),
            Action::Enqueue(env) => f.debug_tuple("Enqueue").field(env).finish(),
            Action::Close => f.write_str("Close"),
        }
    }
}

/// The shell's answer to a pending `Authenticate` or `Enqueue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `Some(account)`: 235 2.7.0; `None`: 535 5.7.8.
    Auth(Option<String>),
    /// 454 4.7.0.
    AuthTempFail,
    /// `Ok(queue id)`: 250 2.0.0 Ok: queued as <id>.
    Enqueued(Result<String, EnqueueError>),
}

/// A message as received, ready for the inbound queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// Reverse-path without <>, "" for the null sender.
    pub mail_from: String,
    /// Accepted recipients in order (duplicates removed).
    pub recipients: Vec<Recipient>,
    /// Exactly as received: dot-unstuffed (DATA), no terminator; BDAT chunks concatenated.
    pub body: Vec<u8>,
    pub size_declared: Option<u64>,
    pub body_type: BodyType,
    pub smtputf8: bool,
    pub ret: Option<DsnRet>,
    /// RFC 3461 ENVID, xtext-decoded.
    pub envid: Option<String>,
    /// RFC 8689 REQUIRETLS on MAIL FROM.
    pub requiretls: bool,
    pub auth_as: Option<String>,
    pub helo: String,
    pub tls: bool,
    pub peer: PeerInfo,
    /// RFC 3848 name: "SMTP", "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA".
    pub protocol: &'static str,
}

/// One accepted RCPT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    /// RFC 3461 NOTIFY.
    pub notify: Option<Vec<DsnNotify>>,
    /// RFC 3461 ORCPT as "addr-type;address", the address xtext-decoded.
    pub orcpt: Option<String>,
}
