//! Small helpers of the directory's writers (accounts, aliases, sender rights, quota): the
//! settings notification, unsigned values in bigint columns, and unique violations read as
//! Exists. A module of their own so that those writers do not import each other in a circle.

use postgres::error::SqlState;

use super::pool::{pg_error, Tx};
use super::PgStore;
use crate::storage::StorageError;

/// An unsigned count or time as stored in a bigint.
pub(crate) fn to_db(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A bigint read back as unsigned (negative values, which no writer stores, read as 0).
pub(crate) fn from_db(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `pg_error`, except that a unique violation is `Exists(what)`: another node inserted the
/// same key first.
pub(crate) fn exists_on_unique(what: String) -> impl FnOnce(postgres::Error) -> StorageError {
    move |e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StorageError::Exists(what)
        } else {
            pg_error(e)
        }
    }
}

/// Tells the other nodes that the directory changed (delivered when `tx` commits).
pub(crate) fn notify_directory(store: &PgStore, tx: &mut Tx<'_>) -> Result<(), StorageError> {
    store.notify_settings(tx, "directory")
}
