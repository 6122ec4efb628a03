//! The folder catalog. For now only what account creation needs: creating a folder inside
//! the caller's transaction (the rest of the catalog is still to come).

use postgres::Transaction;

use super::directory::exists_on_unique;
use super::pool::pg_error;
use super::PgStore;
use crate::storage::folders::FolderId;
use crate::storage::StorageError;

/// Creates folder `name` (already canonical) of `account` inside `tx`, with a fresh
/// UIDVALIDITY (seeded by the clock, greater than any handed out before, as with the
/// embedded backend). Exists when the account already has a folder of that name.
pub(crate) fn create_folder_tx(
    _store: &PgStore,
    tx: &mut Transaction<'_>,
    account: &str,
    name: &str,
    special_use: Option<&str>,
) -> Result<FolderId, StorageError> {
    let uidvalidity: i64 = tx
        .query_one(
            "INSERT INTO counters (name, value)
             VALUES ('uidvalidity', greatest(extract(epoch FROM now())::bigint, 1))
             ON CONFLICT (name) DO UPDATE SET value = greatest(counters.value + 1,
                 extract(epoch FROM now())::bigint)
             RETURNING value",
            &[],
        )
        .map_err(pg_error)?
        .get(0);
    let id: i64 = tx
        .query_one(
            "INSERT INTO folders (id, account, name, name_key, special_use, uidvalidity,
                 uidnext, highest_modseq, subscribed)
             VALUES (nextval('folder_ids'), $1, $2, $2, $3, $4, 1, 1, true)
             RETURNING id",
            &[&account, &name, &special_use, &uidvalidity],
        )
        .map_err(exists_on_unique(format!("folder {name} of {account}")))?
        .get(0);
    u64::try_from(id).map_err(|_| StorageError::Encoding(format!("folder id {id}")))
}
