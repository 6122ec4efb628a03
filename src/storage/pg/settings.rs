//! What the smaller stores (DKIM keys, fetch sources, TLS policy, screening) share: telling
//! the other nodes that a setting changed, serializing one kind of write across nodes, and
//! the bincode values kept in `bytea` columns.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::StorageError;

impl PgStore {
    /// Queues the notification "`node` `what`" on the settings channel inside the caller's
    /// transaction (PostgreSQL delivers it at commit, and drops it on a rollback). `what`
    /// is one of `directory`, `dkim`, `screening`, `fetch`.
    pub(crate) fn notify_settings(&self, c: &mut impl Db, what: &str) -> Result<(), StorageError> {
        c.execute(
            "SELECT pg_notify($1, $2)",
            &[
                &self.channel("settings"),
                &format!("{} {what}", self.node()),
            ],
        )
        .map_err(pg_error)?;
        Ok(())
    }
}

/// Takes the transaction-scoped advisory lock named `name` (e.g. "dkim example.com"): writes
/// that must not interleave on any node take the same name. The key is the first 8 bytes of
/// the name's SHA-256, so unrelated names practically never share a lock.
pub(crate) fn lock_named(c: &mut impl Db, name: &str) -> Result<(), StorageError> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(name.as_bytes());
    let mut key = [0u8; 8];
    key.copy_from_slice(&digest[..8]);
    c.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&i64::from_be_bytes(key)],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// A value for a `bytea` column, in bincode as the embedded backend stores it.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    bincode::serialize(value).map_err(|e| StorageError::Encoding(e.to_string()))
}

/// A value read from a `bytea` column; `what` names it in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StorageError> {
    bincode::deserialize(bytes).map_err(|e| StorageError::Encoding(format!("{what}: {e}")))
}
