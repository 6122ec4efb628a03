//! Account quota (RFC 9208): limits and usage as callers see them.

/// An account's quota as GETQUOTA reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Quota {
    /// Bytes.
    pub storage_used: u64,
    pub storage_limit: Option<u64>,
    pub messages_used: u64,
    pub messages_limit: Option<u64>,
}
