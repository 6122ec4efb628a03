//! Account quota (RFC 9208): limits and usage as callers see them, and the arithmetic every
//! backend applies to them.

use super::StorageError;

/// An account's quota as GETQUOTA reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// Bytes.
    pub storage_used: u64,
    pub storage_limit: Option<u64>,
    pub messages_used: u64,
    pub messages_limit: Option<u64>,
}

impl Quota {
    /// Adds `bytes` and `messages` (either may be negative, usage never goes below 0) to the
    /// usage. A positive change that would take the usage over a limit is OverQuota and
    /// changes nothing (RFC 9208 §4.2: a command that would exceed a limit fails as a whole).
    pub(crate) fn charge(&mut self, bytes: i64, messages: i64) -> Result<(), StorageError> {
        let storage = apply(self.storage_used, bytes);
        let count = apply(self.messages_used, messages);
        if bytes > 0 && self.storage_limit.is_some_and(|limit| storage > limit) {
            return Err(StorageError::OverQuota {
                resource: "STORAGE",
            });
        }
        if messages > 0 && self.messages_limit.is_some_and(|limit| count > limit) {
            return Err(StorageError::OverQuota {
                resource: "MESSAGE",
            });
        }
        self.storage_used = storage;
        self.messages_used = count;
        Ok(())
    }
}

fn apply(used: u64, delta: i64) -> u64 {
    if delta >= 0 {
        used.saturating_add(delta.unsigned_abs())
    } else {
        used.saturating_sub(delta.unsigned_abs())
    }
}
