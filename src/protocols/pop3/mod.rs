//! POP3 server side: a pure, sans-IO command grammar and session state machine (issue 4).
//!
//! RFCs implemented:
//! - RFC 1939 POP3: USER, PASS, STAT, LIST, RETR, DELE, NOOP, RSET, QUIT, TOP, UIDL.
//!   APOP is not offered (it needs the plaintext password on the server).
//! - RFC 2449 extension mechanism: CAPA, response codes, PIPELINING, EXPIRE NEVER (mail is
//!   never expired by the server), LOGIN-DELAY 0, TOP, UIDL, USER, IMPLEMENTATION.
//! - RFC 3206 response codes [SYS/TEMP], [SYS/PERM], [AUTH] (AUTH-RESP-CODE).
//! - RFC 5034 SASL: AUTH PLAIN and LOGIN, with initial response; `*` cancels.
//! - RFC 2595 §4 STLS (input buffered before the handshake is discarded).
//! - RFC 6856 UTF8 (with USER: UTF-8 user names and passwords are always accepted).
//!
//! Modules:
//! - `framer.rs`: the byte stream → lines, bounded before anything is buffered.
//! - `command.rs`: a line → [`command::Command`], with the RFC 2449 §4 length bounds.
//! - `message.rs`: a stored message → the wire (CRLF line ends, dot-stuffing, TOP, octet
//!   counts).
//! - `session.rs`: the state machine; `backend.rs` the trait through which it reads and
//!   changes the maildrop.
//! - `fuzz.rs`: the session under arbitrary input with an in-memory backend.
//!
//! States (RFC 1939 §3) and the commands legal in each:
//!
//! | command                          | AUTHORIZATION | TRANSACTION | UPDATE |
//! |----------------------------------|---------------|-------------|--------|
//! | CAPA, QUIT                       | yes           | yes         | —      |
//! | USER, PASS, AUTH, STLS, UTF8     | yes           | -ERR        | —      |
//! | STAT, LIST, RETR, DELE, NOOP,    | -ERR          | yes         | —      |
//! | RSET, TOP, UIDL                  |               |             |        |
//!
//! UPDATE is entered only by QUIT in TRANSACTION and ends the session: marked messages are
//! expunged and retrieved ones flagged \Seen (as Dovecot does), then the connection closes.
//! A connection lost in TRANSACTION changes nothing (RFC 1939 §6).
//!
//! Deliberate deviations and choices:
//! - Lines may end in a bare LF (hand-typed sessions); commands are at most 255 octets with
//!   CRLF (RFC 2449 §4), except AUTH with an initial response and SASL responses, which may
//!   be up to 12,288 octets (the bound RFC 4954 sets for SMTP AUTH).
//! - Messages are sent as stored (8-bit clean) whether or not UTF8 was issued; RFC 6856's
//!   downgrading is not done. Octet counts are those of the message as sent: every line end
//!   a CRLF, before dot-stuffing.
//! - RSET also forgets which messages were retrieved, so they are not flagged \Seen.
//! - The maildrop is a snapshot taken at login: mail arriving during the session waits for
//!   the next one. A message expunged meanwhile by an IMAP client answers -ERR.
//! - After three failed logins the connection is closed (like the IMAP server).

pub mod backend;
pub mod command;
pub mod framer;
pub mod fuzz;
pub mod message;
pub mod session;

pub use session::{Action, AuthAnswer, Session, SessionConfig};
