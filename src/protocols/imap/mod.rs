//! IMAP server side (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1): a pure, sans-IO grammar and
//! session state machine (issue 3).
//!
//! - `framer.rs`: the byte stream → complete commands (literals, LITERAL+/-, line bounds).
//! - `parser/`: a command → [`types::Command`]; `mutf7.rs` modified UTF-7 names.
//! - `session.rs`: the session's state (imports no command module); `mailboxes.rs` and
//!   `messages.rs` the commands, as `impl Session` blocks above it; `dispatch.rs`, above
//!   them all, the entry points the shell calls and the routing of each command;
//!   `append.rs` APPEND with its message literals streamed to the backend;
//!   `updates.rs` untagged updates; `names.rs` namespaces and LIST patterns.
//! - `message/`: ENVELOPE, BODYSTRUCTURE, sections, BINARY, PREVIEW over the raw bytes;
//!   `search_text.rs`, `sort.rs`, `thread.rs` for SEARCH, SORT and THREAD;
//!   `response.rs` wire encoding.
//! - `context.rs`: RFC 5267 CONTEXT=SEARCH/SORT, results kept up to date.
//! - `catenate.rs`: RFC 4469 APPEND CATENATE with RFC 5092 URLs.
//! - `metadata.rs`: RFC 5464 GETMETADATA/SETMETADATA.
//! - `notify.rs`: RFC 5465 NOTIFY (events of other mailboxes, at once).
//! - `urlauth.rs`: RFC 4467 URLAUTH (RESETKEY, GENURLAUTH, URLFETCH; RFC 5524 parameters).
//! - `objectid.rs`: RFC 8474 MAILBOXID, EMAILID and THREADID.
//! - `uidonly.rs`: RFC 9586 UIDONLY (UIDFETCH, VANISHED, `[UIDREQUIRED]`).
//! - `backend.rs`: the trait through which the session reads and changes mail.
//! - `fuzz.rs`: the session under arbitrary input with an in-memory backend (fuzz target and
//!   seed replay).
//!
//! We write our own grammar rather than use imap-codec 2.0-alpha: the server needs ACL,
//! ESEARCH/SEARCHRES, LIST-EXTENDED/LIST-STATUS, PREVIEW, APPENDLIMIT, CREATE-SPECIAL-USE,
//! MULTIAPPEND and QRESYNC parameters, which imap-codec does not parse.

mod append;
pub mod backend;
pub mod catenate;
mod compress;
mod context;
mod dispatch;
#[cfg(test)]
mod ext_tests;
mod fetch_items;
mod fetch_stream;
pub mod framer;
pub mod fuzz;
pub mod mailboxes;
pub mod message;
pub mod messages;
pub mod metadata;
pub mod mutf7;
pub mod names;
pub mod notify;
pub mod objectid;
pub mod parser;
mod partial;
pub mod query;
#[cfg(test)]
mod read_ahead_tests;
mod replace;
pub mod response;
pub mod search_text;
pub mod session;
pub mod sort;
pub mod thread;
pub mod types;
mod uidonly;
mod unauthenticate;
mod updates;
pub mod urlauth;
