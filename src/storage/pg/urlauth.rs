//! URLAUTH mailbox access keys (RFC 4467 §3) in the `urlauth` table: per (folder, user) the
//! secret under which that user's URLAUTH tokens for the folder are made; RESETKEY deletes
//! it, which revokes every URL made so far. The rows go with their folder (a foreign key
//! with ON DELETE CASCADE, and explicitly when a folder becomes a `\Noselect` placeholder),
//! so a new folder of the name honours no old URL. Keys are made by `storage::urlauth`; a committed key is durable, so the caller may hand out a
//! URL made with it at once.

use super::folders::{db_id, load_state};
use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::folders::FolderId;
use crate::storage::StorageError;

impl PgStore {
    pub(crate) fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let user = user.to_ascii_lowercase();
        let id = db_id(folder)?;
        let existing: Option<Vec<u8>> = self.pool().with(|c| {
            let row = c
                .query_opt(
                    "SELECT key FROM urlauth WHERE folder = $1 AND \"user\" = $2",
                    &[&id, &user],
                )
                .map_err(pg_error)?;
            Ok(row.map(|r| r.get(0)))
        })?;
        if existing.is_some() || !create {
            return Ok(existing);
        }
        let fresh = crate::storage::urlauth::new_key()?;
        self.pool().tx(|tx| {
            load_state(tx, folder, "FOR SHARE")?;
            // Another session (or node) may have made one meanwhile: theirs stands.
            tx.execute(
                "INSERT INTO urlauth (folder, \"user\", key) VALUES ($1, $2, $3)
                 ON CONFLICT (folder, \"user\") DO NOTHING",
                &[&id, &user, &fresh],
            )
            .map_err(pg_error)?;
            let row = tx
                .query_one(
                    "SELECT key FROM urlauth WHERE folder = $1 AND \"user\" = $2",
                    &[&id, &user],
                )
                .map_err(pg_error)?;
            Ok(Some(row.get(0)))
        })
    }

    pub(crate) fn reset_urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
    ) -> Result<(), StorageError> {
        let user = user.to_ascii_lowercase();
        self.pool().tx(|tx| {
            load_state(tx, folder, "FOR SHARE")?;
            tx.execute(
                "DELETE FROM urlauth WHERE folder = $1 AND \"user\" = $2",
                &[&db_id(folder)?, &user],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }
}
