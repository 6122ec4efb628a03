//! Access control lists (RFC 4314): per folder, a list of (identifier, rights) in `v1/acl`,
//! mirrored in `v1/acl_index` keyed (identifier, folder) so that "which folders may this user
//! see" is a prefix scan, not a walk over every folder.
//!
//! Identifiers are account addresses (lowercase) and `anyone`. Negative rights ("-user") are
//! not supported (RFC 4314 §2 makes them optional). The owner of a folder always has every
//! right; public folders ([`crate::storage::PUBLIC_OWNER`]) have no owner, only their ACL.

use std::collections::BTreeSet;

use super::keys::{self, acl_index_key, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::acl::*;
use crate::storage::directory::normalize_address;
use crate::storage::folders::{FolderId, FolderState};

type Acl = Vec<(String, String)>;

fn tx_acl(tx: &Tx, folder: FolderId) -> TxResult<Acl> {
    Ok(tx_get(tx.tree(TreeIx::Acl), &folder.to_be_bytes(), "acl")?.unwrap_or_default())
}

/// Replace `folder`'s ACL `old` by `new`, keeping the index in step.
fn tx_write_acl(tx: &Tx, folder: FolderId, old: &Acl, new: &Acl) -> TxResult<()> {
    let index = tx.tree(TreeIx::AclIndex);
    for (id, _) in old {
        index.remove(acl_index_key(id, folder))?;
    }
    for (id, rights) in new {
        tx_put(index, &acl_index_key(id, folder), rights)?;
    }
    if new.is_empty() {
        tx.tree(TreeIx::Acl).remove(&folder.to_be_bytes())?;
        Ok(())
    } else {
        tx_put(tx.tree(TreeIx::Acl), &folder.to_be_bytes(), new)
    }
}

/// Give `child` a copy of `parent`'s ACL (at creation: MDaemon semantics).
pub(crate) fn tx_inherit_acl(tx: &Tx, parent: FolderId, child: FolderId) -> TxResult<()> {
    let acl = tx_acl(tx, parent)?;
    if acl.is_empty() {
        return Ok(());
    }
    let old = tx_acl(tx, child)?;
    tx_write_acl(tx, child, &old, &acl)
}

/// Remove `folder`'s ACL and its index entries.
pub(crate) fn tx_drop_acl(tx: &Tx, folder: FolderId) -> TxResult<()> {
    let old = tx_acl(tx, folder)?;
    tx_write_acl(tx, folder, &old, &Vec::new())
}

/// Remove `identifier`'s entry from `folder`'s ACL.
pub(crate) fn tx_remove_acl_entry(tx: &Tx, folder: FolderId, identifier: &str) -> TxResult<()> {
    let old = tx_acl(tx, folder)?;
    let new: Acl = old
        .iter()
        .filter(|(id, _)| id != identifier)
        .cloned()
        .collect();
    tx_write_acl(tx, folder, &old, &new)
}

impl SledStore {
    /// The folders whose ACL names `identifier` (from the index).
    pub(crate) fn acl_folders_of(
        &self,
        identifier: &str,
    ) -> Result<Vec<(FolderId, String)>, StorageError> {
        let mut out = Vec::new();
        for entry in self
            .tree(TreeIx::AclIndex)
            .scan_prefix(keys::account_prefix(identifier))
        {
            let (k, v) = entry?;
            out.push((
                keys::folder_of_acl_index_key(&k)?,
                keys::decode(&v, "acl rights")?,
            ));
        }
        Ok(out)
    }
}

impl SledStore {
    pub(crate) fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError> {
        self.folder_state(folder)?;
        let acl: Option<Acl> = keys::get(self.tree(TreeIx::Acl), &folder.to_be_bytes(), "acl")?;
        Ok(acl.unwrap_or_default())
    }

    pub(crate) fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError> {
        let state = self.folder_state(folder)?;
        effective_rights(&state.account, user, &self.get_acl(folder)?)
    }

    pub(crate) fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError> {
        let user = normalize_address(user)?;
        let mut ids = BTreeSet::new();
        for identifier in [user.as_str(), ANYONE] {
            for (folder, rights) in self.acl_folders_of(identifier)? {
                if rights.contains('l') {
                    ids.insert(folder);
                }
            }
        }
        let mut out = Vec::new();
        for id in ids {
            match self.folder_state(id) {
                Ok(state) if state.account != user => out.push(state),
                Ok(_) => {}
                // Deleted between the index scan and now.
                Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| (&a.account, &a.name).cmp(&(&b.account, &b.name)));
        Ok(out)
    }
}

impl SledStore {
    pub(crate) fn set_acl(
        &self,
        folder: FolderId,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        let identifier = check_acl_change(identifier, rights)?;
        self.transact(|tx| {
            super::folder_record::tx_load_folder(tx, folder)?;
            let old = tx_acl(tx, folder)?;
            let new = match acl_after(&old, &identifier, rights) {
                Ok(new) => new,
                Err(e) => return abort(e),
            };
            tx_write_acl(tx, folder, &old, &new)
        })
    }

    pub(crate) fn delete_acl(
        &self,
        folder: FolderId,
        identifier: &str,
    ) -> Result<(), StorageError> {
        let identifier = normalize_identifier(identifier)?;
        self.transact(|tx| {
            super::folder_record::tx_load_folder(tx, folder)?;
            tx_remove_acl_entry(tx, folder, &identifier)
        })
    }
}
