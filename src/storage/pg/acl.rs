//! Access control lists (RFC 4314) in the `acl` table: one row per (folder, identifier),
//! with the index on `identifier` answering "which folders may this user see". Identifiers
//! and rights follow `storage::acl` (shared with the embedded backend); the owner of a folder
//! always has every right, public folders only their ACL.
//!
//! An ACL change locks the folder row (ordering it against every other write of the folder)
//! and notifies the other nodes with the folder's highest modseq.

use super::folders::{db_id, load_state, state_of, STATE_COLUMNS};
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::acl::*;
use crate::storage::directory::normalize_address;
use crate::storage::folders::{FolderId, FolderState};
use crate::storage::StorageError;

/// The rights of `identifier` on `folder` ("" when it has no entry).
fn entry(tx: &mut Tx<'_>, folder: FolderId, identifier: &str) -> Result<String, StorageError> {
    let row = tx
        .query_opt(
            "SELECT rights FROM acl WHERE folder = $1 AND identifier = $2",
            &[&db_id(folder)?, &identifier],
        )
        .map_err(pg_error)?;
    Ok(row.map(|r| r.get(0)).unwrap_or_default())
}

impl PgStore {
    pub(crate) fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError> {
        let rows = self.pool().with(|c| {
            load_state(c, folder, "")?;
            c.query(
                "SELECT identifier, rights FROM acl WHERE folder = $1",
                &[&db_id(folder)?],
            )
            .map_err(pg_error)
        })?;
        let mut acl: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        // Byte order, as the embedded backend keeps it (not the database collation's).
        acl.sort();
        Ok(acl)
    }

    pub(crate) fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError> {
        let state = self.folder_state(folder)?;
        effective_rights(&state.account, user, &self.get_acl(folder)?)
    }

    pub(crate) fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError> {
        let user = normalize_address(user)?;
        let rows = self.pool().with(|c| {
            c.query(
                &format!(
                    "SELECT {STATE_COLUMNS} FROM folders WHERE account <> $1 AND id IN (
                         SELECT folder FROM acl
                         WHERE identifier IN ($1, $2) AND strpos(rights, 'l') > 0)"
                ),
                &[&user, &ANYONE],
            )
            .map_err(pg_error)
        })?;
        let mut out = rows.iter().map(state_of).collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (&a.account, &a.name).cmp(&(&b.account, &b.name)));
        Ok(out)
    }

    pub(crate) fn set_acl(
        &self,
        folder: FolderId,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        let identifier = check_acl_change(identifier, rights)?;
        self.pool().tx(|tx| {
            let state = load_state(tx, folder, "FOR UPDATE")?;
            let wanted = changed_rights(&entry(tx, folder, &identifier)?, rights)?;
            if wanted.is_empty() {
                tx.execute(
                    "DELETE FROM acl WHERE folder = $1 AND identifier = $2",
                    &[&db_id(folder)?, &identifier],
                )
                .map_err(pg_error)?;
            } else {
                tx.execute(
                    "INSERT INTO acl (folder, identifier, rights) VALUES ($1, $2, $3)
                     ON CONFLICT (folder, identifier) DO UPDATE SET rights = EXCLUDED.rights",
                    &[&db_id(folder)?, &identifier, &wanted],
                )
                .map_err(pg_error)?;
            }
            self.notify_folder(tx, folder, state.highest_modseq)
        })
    }

    pub(crate) fn delete_acl(
        &self,
        folder: FolderId,
        identifier: &str,
    ) -> Result<(), StorageError> {
        let identifier = normalize_identifier(identifier)?;
        self.pool().tx(|tx| {
            let state = load_state(tx, folder, "FOR UPDATE")?;
            let removed = tx
                .execute(
                    "DELETE FROM acl WHERE folder = $1 AND identifier = $2",
                    &[&db_id(folder)?, &identifier],
                )
                .map_err(pg_error)?;
            if removed > 0 {
                self.notify_folder(tx, folder, state.highest_modseq)?;
            }
            Ok(())
        })
    }
}
