//! Queue records: one message on its way (inbound, remote, bounce, …) and the six queues.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::blobs::BlobId;
use super::envelope::{BodyType, DsnRet, NotifyList};
use super::StorageError;

pub type QueueId = u64;

/// The queues, named as MDaemon names them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub enum QueueName {
    Inbound,
    Local,
    Remote,
    Deferred,
    ToArchive,
    Bad,
}

impl QueueName {
    pub const ALL: [QueueName; 6] = [
        QueueName::Inbound,
        QueueName::Local,
        QueueName::Remote,
        QueueName::Deferred,
        QueueName::ToArchive,
        QueueName::Bad,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Inbound => "inbound",
            QueueName::Local => "local",
            QueueName::Remote => "remote",
            QueueName::Deferred => "deferred",
            QueueName::ToArchive => "toarchive",
            QueueName::Bad => "bad",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for QueueName {
    type Err = StorageError;

    /// The `as_str` names, case-insensitive; "archive" also names ToArchive.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if lower == "archive" {
            return Ok(QueueName::ToArchive);
        }
        QueueName::ALL
            .into_iter()
            .find(|q| q.as_str() == lower)
            .ok_or_else(|| {
                StorageError::Invalid(format!(
                    "unknown queue {s:?} (known: inbound, local, remote, deferred, toarchive, bad)"
                ))
            })
    }
}

/// One message in a queue, with its envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecord {
    pub id: QueueId,
    pub queue: QueueName,
    pub blob: BlobId,
    pub size: u64,
    /// "" is the null sender.
    pub mail_from: String,
    pub recipients: Vec<QueueRecipient>,
    pub params: EnvelopeParams,
    pub received_at: i64,
    pub due: Option<i64>,
    pub attempts: u32,
    /// Why the record is where it is (for example the reason for the bad queue).
    pub last_error: Option<String>,
    /// Where it came from, e.g. "smtp from [1.2.3.4] helo x".
    pub origin: String,
    pub auth_as: Option<String>,
    /// Where local delivery puts the message instead of INBOX (the DMARC quarantine policy
    /// sends it to "Junk"). Missing folders fall back to INBOX.
    pub folder: Option<String>,
    /// The results of the last [`HISTORY_ATTEMPTS`] delivery attempts, oldest first, one
    /// entry per recipient tried (records written before it have none: see
    /// `storage::queue_codec`).
    #[serde(default)]
    pub history: Vec<DeliveryAttempt>,
}

/// How many delivery attempts a record's `history` keeps (the older ones are dropped).
pub const HISTORY_ATTEMPTS: u32 = 20;

/// What one attempt did for one recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    Delivered,
    /// A temporary failure: tried again later.
    Deferred,
    /// A permanent failure, or the last temporary one: bounced.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Deferred => "deferred",
            AttemptOutcome::Failed => "failed",
        }
    }
}

/// One recipient's result of one delivery attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// Unix seconds, the server clock.
    pub at: i64,
    /// The attempt's number (1 for the first).
    pub attempt: u32,
    pub recipient: String,
    /// The server that answered (the MX or smarthost), when one did.
    pub host: Option<String>,
    /// RFC 3463 status ("4.2.0").
    pub status: String,
    /// The reply or the reason, in one line ("451 4.2.0 try later", "connection refused").
    pub text: String,
    pub outcome: AttemptOutcome,
}

impl QueueRecord {
    /// Adds `entries` to the history, dropping the entries of attempts older than the last
    /// [`HISTORY_ATTEMPTS`].
    pub fn record_attempts(&mut self, entries: impl IntoIterator<Item = DeliveryAttempt>) {
        self.history.extend(entries);
        if let Some(last) = self.history.iter().map(|a| a.attempt).max() {
            let oldest_kept = last.saturating_sub(HISTORY_ATTEMPTS - 1);
            self.history.retain(|a| a.attempt >= oldest_kept);
        }
    }
}

impl QueueRecord {
    /// A new record for the inbound queue, with default envelope parameters.
    pub fn inbound(
        id: QueueId,
        blob: BlobId,
        size: u64,
        mail_from: String,
        recipients: Vec<QueueRecipient>,
        origin: String,
        received_at: i64,
    ) -> QueueRecord {
        QueueRecord {
            id,
            queue: QueueName::Inbound,
            blob,
            size,
            mail_from,
            recipients,
            params: EnvelopeParams::default(),
            received_at,
            due: None,
            attempts: 0,
            last_error: None,
            origin,
            auth_as: None,
            folder: None,
            history: Vec::new(),
        }
    }
}

/// One envelope recipient and its delivery state.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRecipient {
    pub address: String,
    /// The address as the client gave it.
    pub original: String,
    /// RFC 3461 ORCPT.
    pub orcpt: Option<String>,
    /// RFC 3461 NOTIFY.
    pub notify: Option<NotifyList>,
    pub delivered: bool,
    pub last_error: Option<String>,
}

impl QueueRecipient {
    /// An undelivered recipient with `original` = `address`.
    pub fn new(address: &str) -> QueueRecipient {
        QueueRecipient {
            address: address.to_string(),
            original: address.to_string(),
            ..QueueRecipient::default()
        }
    }
}

/// MAIL FROM parameters to carry along (RFC 6152 BODY, RFC 6531 SMTPUTF8, RFC 3461 RET/ENVID,
/// RFC 8689 REQUIRETLS).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvelopeParams {
    pub body: Option<BodyType>,
    pub smtputf8: bool,
    pub ret: Option<DsnRet>,
    pub envid: Option<String>,
    pub requiretls: bool,
}
