//! Fetching mail from other servers: MDaemon's MultiPOP (each account collects from its own
//! outside mailboxes) and DomainPOP (a domain's mail arrives in one provider mailbox and is
//! sorted to local recipients by its headers).
//!
//! Modules:
//! - [`conn`]: a line-oriented client connection with a timeout on every read and a bound
//!   on every line, and the STARTTLS upgrade.
//! - [`pop3`]: the POP3 client (RFC 1939, 2449, 2595, 5034).
//! - [`imap`]: a small IMAP client (RFC 9051/3501, 4315 UIDPLUS, 4959 SASL-IR).
//! - [`recipients`]: DomainPOP's recipient rule and the loop stamp.
//! - [`deliver`]: what a fetched message becomes here (stamp, queue records, raw copy).
//! - [`fuzz`]: both clients under arbitrary server bytes (the `fetch_clients` fuzz target).
//! - [`remote`]: one protocol-neutral view of an outside mailbox (list, fetch, delete,
//!   finish) over either client, as the fetcher actor uses it.
//!
//! The actor that runs a source on schedule, takes messages in and keeps the status is
//! `actors::fetcher`; the sources themselves are in `storage::fetch`.
//!
//! Implementation notes:
//! - Exactly once: a message's seen mark (its UIDL, or UIDVALIDITY:UID) is written in the
//!   same storage transaction as its queue records, and the remote copy is deleted only after
//!   that transaction is durable. A crash at any point either refetches a message whose
//!   records were lost with their mark, or deletes remotely, on the next run, one that is
//!   marked. A message is never taken in twice and never deleted unread.
//! - The clients are written against [`conn::LineConn`] over any byte stream, so they are
//!   tested without sockets against scripted servers (see the `*_tests.rs` files).
//! - Deviations: no APOP (MD5 of a shared secret; TLS is the answer), no SASL mechanisms
//!   other than PLAIN; UIDL is required (without it exactly-once is impossible) and a
//!   server without it is reported as an error.

pub mod conn;
pub mod deliver;
pub mod fuzz;
pub mod imap;
pub mod pop3;
pub mod recipients;
pub mod remote;
#[cfg(test)]
mod testing;

/// Why a run against an outside mailbox failed, as the status shows it.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server did not answer in time")]
    Timeout,
    #[error("the server closed the connection")]
    Closed,
    #[error("TLS failed: {0}")]
    Tls(String),
    #[error("login refused: {0}")]
    Auth(String),
    #[error("server error: {0}")]
    Server(String),
    #[error("protocol error: {0}")]
    Protocol(String),
    #[error("message larger than the limit of {0} bytes")]
    TooBig(u64),
    #[error("{0}")]
    Local(String),
}

/// Bound on a listing (POP3 UIDL or LIST, IMAP's UID FETCH of every UID and size), in
/// bytes: ~80 bytes an entry gives room for 200,000 messages.
pub const MAX_LISTING_BYTES: u64 = 16 * 1024 * 1024;
/// Bound on the entries of a listing: a mailbox with more is not collected (the error
/// says so) rather than held in memory whatever its size.
pub const MAX_LISTING_ENTRIES: usize = 200_000;

/// What a multi-line answer may still hold: bytes, and for a listing entries too. Every
/// line or response read is taken from it, so no server can make a client buffer more.
#[derive(Debug)]
pub struct Budget {
    bytes: u64,
    max_bytes: u64,
    /// `Some((left, max, name))` for a listing.
    entries: Option<(usize, usize, &'static str)>,
}

impl Budget {
    /// A message or other payload of at most `max_bytes`: more is [`FetchError::TooBig`].
    pub fn bytes(max_bytes: u64) -> Budget {
        Budget {
            bytes: max_bytes,
            max_bytes,
            entries: None,
        }
    }

    /// The listing `name` (e.g. "UIDL"): at most `max_bytes` and [`MAX_LISTING_ENTRIES`]
    /// entries, more is a protocol error naming the listing.
    pub fn listing(name: &'static str, max_bytes: u64) -> Budget {
        Budget {
            entries: Some((MAX_LISTING_ENTRIES, MAX_LISTING_ENTRIES, name)),
            ..Budget::bytes(max_bytes)
        }
    }

    /// Takes one entry of `len` bytes.
    pub fn take(&mut self, len: usize) -> Result<(), FetchError> {
        let len = u64::try_from(len).unwrap_or(u64::MAX);
        let over_bytes = len > self.bytes;
        self.bytes = self.bytes.saturating_sub(len);
        match &mut self.entries {
            None if over_bytes => Err(FetchError::TooBig(self.max_bytes)),
            None => Ok(()),
            Some((left, max, name)) => {
                if over_bytes || *left == 0 {
                    return Err(FetchError::Protocol(format!(
                        "the server's answer to {name} is longer than the limit of {} bytes \
                         or {max} entries",
                        self.max_bytes
                    )));
                }
                *left -= 1;
                Ok(())
            }
        }
    }
}

impl FetchError {
    /// A server's refusal of a login command is a login error (the status says so).
    pub fn refused(self) -> FetchError {
        match self {
            FetchError::Server(text) => FetchError::Auth(text),
            other => other,
        }
    }
}
