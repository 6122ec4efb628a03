//! Snoozed messages (webmail's Snooze, issue 14): one record per message put away until a
//! wake time, kept by every backend behind [`SnoozeStore`], read back in wake order so that
//! the waker (`actors::snooze`) finds the next due one without a scan of everything.
//!
//! A record is written *before* its message moves to the account's `Snoozed` folder and
//! rewritten with the message's UID there once it has moved (see `actors::snooze` for
//! the order and what the waker does with a record whose move never happened). So a
//! crash at any point leaves either a record or nothing moved, never a snoozed message
//! that nobody will wake.

use serde::{Deserialize, Serialize};

use super::StorageError;

/// The folder snoozed messages wait in, one per account (made on first use).
pub const SNOOZED_FOLDER: &str = "Snoozed";

/// One snoozed message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnoozeRecord {
    /// Unique among the records (chosen by the caller, below 2^63 so every backend can
    /// keep it as a signed integer).
    pub id: u64,
    /// The owner of both folders (lowercase address).
    pub account: String,
    /// Unix seconds: when the message comes back.
    pub wake: i64,
    /// The folder (by name, of `account`) the message came from and returns to. By name, so
    /// that a folder deleted and made again still gets it back.
    pub folder: String,
    /// The message's UID in `folder` before the move (where it still is when the move
    /// never happened).
    pub from_uid: u32,
    /// The message's UID in the `Snoozed` folder; `None` until the move is done.
    pub snoozed_uid: Option<u32>,
    /// The message's RFC 8474 EMAILID (its content's digest): a UID is only trusted when
    /// the message there is still this one.
    pub email_id: String,
}

impl SnoozeRecord {
    /// Refuses what no backend should store (an id out of range, an empty account).
    pub fn validate(&self) -> Result<(), StorageError> {
        if self.id > i64::MAX as u64 {
            return Err(StorageError::Invalid(format!(
                "snooze id {} is out of range",
                self.id
            )));
        }
        if self.account.is_empty() || self.folder.is_empty() {
            return Err(StorageError::Invalid(
                "a snooze record names its account and folder".into(),
            ));
        }
        Ok(())
    }
}

/// Snooze records: a small store of its own, every write one record (durable at the next
/// commit round, like the directory).
pub trait SnoozeStore: Send + Sync {
    /// Stores `rec`, replacing the record with the same id (its wake time may change).
    fn snooze_put(&self, rec: &SnoozeRecord) -> Result<(), StorageError>;

    /// The record `id`.
    fn snooze_get(&self, id: u64) -> Result<Option<SnoozeRecord>, StorageError>;

    /// Forgets record `id`; whether there was one.
    fn snooze_delete(&self, id: u64) -> Result<bool, StorageError>;

    /// Up to `max` records whose wake time is at or before `now`, earliest first (ties by
    /// id).
    fn snooze_due(&self, now: i64, max: usize) -> Result<Vec<SnoozeRecord>, StorageError>;

    /// The earliest wake time of all records (`None`: there are none).
    fn snooze_next(&self) -> Result<Option<i64>, StorageError>;

    /// `account`'s records, earliest wake first.
    fn snooze_of(&self, account: &str) -> Result<Vec<SnoozeRecord>, StorageError>;

    /// Every record, earliest wake first (for copies between backends and dumps).
    fn snooze_list(&self) -> Result<Vec<SnoozeRecord>, StorageError>;
}
