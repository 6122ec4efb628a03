//! What a POP3 session needs from the rest of the server, as a trait the protocol defines
//! and the actor layer implements (docs/architecture.md §2: the arrow points from storage to here).
//!
//! A backend serves one session: [`Backend::open`] takes the maildrop's lock (RFC 1939 §8:
//! one session per maildrop) and a snapshot of the INBOX; the lock is held until
//! [`Backend::release`] or until the backend is dropped. Reads come from storage; the UPDATE
//! state's changes go through the folder's actor, so IMAP sessions see them.

/// One message of the snapshot taken at login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageInfo {
    pub uid: u32,
    /// Octets as sent (see [`super::message::wire_size`]).
    pub size: u64,
}

/// The maildrop as the session sees it for its whole life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildrop {
    /// The INBOX's UIDVALIDITY: with a UID it makes the UIDL, stable across sessions and
    /// restarts for as long as the folder lives.
    pub uidvalidity: u32,
    /// In UID order; message number n is `messages[n - 1]`.
    pub messages: Vec<MessageInfo>,
}

/// What QUIT in TRANSACTION asks the backend to do (RFC 1939 §6).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Update {
    /// Marked with DELE: expunged, and only these (a message an IMAP client flagged
    /// \Deleted stays).
    pub deleted: Vec<u32>,
    /// Retrieved with RETR and not deleted: flagged \Seen.
    pub seen: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// Another POP3 session holds the maildrop ([IN-USE], RFC 2449 §8.1.1).
    #[error("{0}")]
    InUse(String),
    /// The message is gone (expunged by another client since the snapshot).
    #[error("{0}")]
    Gone(String),
    /// A problem that will not go away by itself ([SYS/PERM], RFC 3206 §4).
    #[error("{0}")]
    Permanent(String),
    /// Storage failed or a folder actor is restarting: try again ([SYS/TEMP]).
    #[error("{0}")]
    Unavailable(String),
}

/// The session's window on the maildrop. None of the methods may panic.
pub trait Backend {
    /// Locks `account`'s maildrop for this session and takes the snapshot.
    fn open(&mut self, account: &str) -> Result<Maildrop, BackendError>;
    /// The raw message, as stored.
    fn message(&mut self, uid: u32) -> Result<Vec<u8>, BackendError>;
    /// The UPDATE state: applies `update` through the folder's actor, durably.
    fn commit(&mut self, update: &Update) -> Result<(), BackendError>;
    /// Releases the maildrop's lock (also done on drop).
    fn release(&mut self);
}
