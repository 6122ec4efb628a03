//! What the three session actors (SMTP, IMAP, POP3) share: the one IO shell that runs a
//! protocol's pure session over a connection ([`shell`]), and the connection limits the
//! listeners take a place in for each session ([`limits`]).
//!
//! Layering: `listener` starts sessions and uses both; the per-protocol adapters
//! (`smtp_session`, `imap_session`, `pop3_session`) implement [`shell::ProtocolSession`];
//! nothing here imports the listener or an adapter.

pub mod limits;
pub mod shell;
