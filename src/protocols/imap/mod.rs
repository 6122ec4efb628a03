//! IMAP server side (RFC 9051 IMAP4rev2 and RFC 3501 IMAP4rev1): a pure, sans-IO grammar and
//! session state machine, in progress (issue 3).
//!
//! Files: `types.rs` the command grammar as types.

pub mod framer;
pub mod mutf7;
pub mod parser;
pub mod message;
pub mod response;
pub mod search_text;
pub mod sort;
pub mod thread;
pub mod types;
