//! METADATA entries (RFC 5464) in the `metadata` table: one row per (folder, owner, name),
//! folder 0 for the server's entries, owner "" for `/shared` ones and the user (lower case)
//! for `/private` ones. Names are stored lower-case (RFC 5464 §3.2) with their prefix.
//!
//! A folder's entries go with it (DELETE, and emptying into a `\Noselect` placeholder: see
//! `folders.rs`); RENAME keeps the id, so they follow the folder; RENAME INBOX makes a new
//! folder, which starts with none. Deleting an account drops its private server entries;
//! its private entries on other users' folders go with those folders. Limits are the
//! caller's (the IMAP layer).

use super::folders::{db_id, load_state};
use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::metadata::*;
use crate::storage::StorageError;

/// The `folder` column of `on`'s entries.
fn folder_of(on: MetadataOwner) -> Result<i64, StorageError> {
    match on {
        MetadataOwner::Server => Ok(0),
        MetadataOwner::Folder(id) => db_id(id),
    }
}

impl PgStore {
    pub(crate) fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let folder = folder_of(on)?;
        let mut out: Vec<(String, Vec<u8>)> = self.pool().with(|c| {
            let rows = c
                .query(
                    "SELECT name, value FROM metadata
                     WHERE folder = $1 AND (owner = '' OR owner = $2)",
                    &[&folder, &user.to_ascii_lowercase()],
                )
                .map_err(pg_error)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        out.sort();
        Ok(out)
    }

    pub(crate) fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError> {
        check_entry_names(changes)?;
        let folder = folder_of(on)?;
        let me = user.to_ascii_lowercase();
        self.pool().tx(|tx| {
            if let MetadataOwner::Folder(id) = on {
                // FOR SHARE: a DELETE of the folder meanwhile is waited for, then NotFound.
                load_state(tx, id, "FOR SHARE")?;
            }
            for (name, value) in changes {
                let owner = if is_private(name) { me.as_str() } else { "" };
                let name = name.to_ascii_lowercase();
                match value {
                    Some(v) => tx.execute(
                        "INSERT INTO metadata (folder, owner, name, value) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (folder, owner, name) DO UPDATE SET value = EXCLUDED.value",
                        &[&folder, &owner, &name, v],
                    ),
                    None => tx.execute(
                        "DELETE FROM metadata WHERE folder = $1 AND owner = $2 AND name = $3",
                        &[&folder, &owner, &name],
                    ),
                }
                .map_err(pg_error)?;
            }
            Ok(())
        })
    }
}
