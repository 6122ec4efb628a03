//! Fetch sources (MultiPOP / DomainPOP: mail collected from remote POP3/IMAP mailboxes) and
//! what a fetch round hands to storage: the values every backend stores and returns.

use serde::{Deserialize, Serialize};

use super::blobs::BlobId;
use super::queue::{QueueId, QueueName, QueueRecord};

pub type SourceId = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchProtocol {
    Pop3,
    Imap,
}

impl FetchProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchProtocol::Pop3 => "pop3",
            FetchProtocol::Imap => "imap",
        }
    }

    pub fn parse(s: &str) -> Option<FetchProtocol> {
        match s.to_ascii_lowercase().as_str() {
            "pop3" | "pop" => Some(FetchProtocol::Pop3),
            "imap" => Some(FetchProtocol::Imap),
            _ => None,
        }
    }

    /// The standard port for a protocol and TLS mode (RFC 8314 §7 for implicit TLS).
    pub fn default_port(self, tls: TlsMode) -> u16 {
        match (self, tls) {
            (FetchProtocol::Pop3, TlsMode::Implicit) => 995,
            (FetchProtocol::Pop3, _) => 110,
            (FetchProtocol::Imap, TlsMode::Implicit) => 993,
            (FetchProtocol::Imap, _) => 143,
        }
    }
}

/// How the connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TlsMode {
    /// Plain text throughout (only for trusted networks).
    None,
    /// STLS (POP3, RFC 2595) or STARTTLS (IMAP) before logging in; refused if not offered.
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "implicit",
        }
    }

    pub fn parse(s: &str) -> Option<TlsMode> {
        match s.to_ascii_lowercase().as_str() {
            "none" | "plain" => Some(TlsMode::None),
            "starttls" | "stls" => Some(TlsMode::StartTls),
            "implicit" | "tls" | "ssl" => Some(TlsMode::Implicit),
            _ => None,
        }
    }
}

/// Whose mail a source holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceOwner {
    /// MultiPOP: everything goes to this account.
    Account(String),
    /// DomainPOP: recipients are found in the headers (see `DomainPop`).
    Domain(String),
}

impl SourceOwner {
    pub fn name(&self) -> &str {
        match self {
            SourceOwner::Account(a) | SourceOwner::Domain(a) => a,
        }
    }
}

/// Where DomainPOP mail for recipients that are not local goes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UnknownTarget {
    Account(String),
    BadQueue,
}

/// DomainPOP settings (MDaemon's "DomainPOP Mail Collection").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainPop {
    /// Header kinds to look for recipients in, in order; an entry may group kinds with `/`
    /// ("To/Cc/Bcc"). The first entry that yields a local recipient decides.
    pub headers: Vec<String>,
    pub unknown: UnknownTarget,
    /// Suppress a second copy of one Message-ID to one recipient within this many seconds.
    pub dedup_window: Option<u64>,
    /// Also write every fetched message, as fetched, to `data_dir/<folder>/`.
    pub raw_copy: Option<String>,
}

/// One outside mailbox.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchSource {
    pub id: SourceId,
    pub owner: SourceOwner,
    pub protocol: FetchProtocol,
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Check the server's certificate chain and name (off only for test servers).
    pub verify_cert: bool,
    pub user: String,
    /// Sealed with the data directory's key; see [`Store::open_secret`].
    pub password: Vec<u8>,
    /// Leave fetched mail on the server (else delete it once it is safely here).
    pub leave_on_server: bool,
    /// Seconds between runs.
    pub interval: u64,
    pub domainpop: Option<DomainPop>,
}

impl std::fmt::Debug for FetchSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchSource")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("protocol", &self.protocol)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// How the runs of a source went (shown by `source status`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchStatus {
    pub last_run: Option<i64>,
    pub last_success: Option<i64>,
    /// Messages taken in by the last run, and by all runs.
    pub last_fetched: u64,
    pub total_fetched: u64,
    /// Messages deleted on the server, all runs.
    pub total_deleted: u64,
    pub last_error: Option<String>,
    /// Failed runs in a row (drives the back-off).
    pub failures: u32,
    /// When the next run is due.
    pub next_run: Option<i64>,
}

/// Suppress duplicates of `message_id` per recipient for `window` seconds.
#[derive(Clone, Debug)]
pub struct Dedup {
    pub message_id: String,
    pub window: u64,
}

/// One fetched message, ready to be taken in (see [`Store::fetch_accept`]).
#[derive(Clone, Debug)]
pub struct FetchedMessage {
    pub source: SourceId,
    /// What identifies it on the server: the UIDL, or "UIDVALIDITY:UID".
    pub mark: String,
    pub blob: BlobId,
    /// New records (in inbound or bad) holding `blob`.
    pub records: Vec<QueueRecord>,
    pub dedup: Option<Dedup>,
    pub now: i64,
}

/// What `fetch_accept` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// The records written, and how many recipients duplicate suppression dropped.
    New {
        records: Vec<(QueueName, QueueId)>,
        suppressed: usize,
    },
    /// The mark was there already: nothing was written.
    AlreadySeen,
}

/// Deletes the sources owned by `owner` (an account or a domain being deleted).
pub(crate) fn drop_sources_of(
    store: &impl super::traits::FetchStore,
    owner: &str,
) -> Result<(), super::StorageError> {
    for s in store.fetch_sources()? {
        if s.owner.name().eq_ignore_ascii_case(owner) {
            store.fetch_del_source(s.id)?;
        }
    }
    Ok(())
}
