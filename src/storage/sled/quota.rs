//! Per-account quota (RFC 9208): limits on the storage (bytes) and on the number of messages,
//! and the usage counters, kept in `v1/quota` and changed in the same transactions as the
//! messages they count. Public folders ([`crate::storage::PUBLIC_OWNER`]) count against no quota.
//!
//! Storage is counted in bytes; IMAP reports KiB (rounding is the session's job).

use serde::{Deserialize, Serialize};

use super::folder_record::tx_load_folder;
use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::directory::normalize_address;
use crate::storage::folders::FolderId;
use crate::storage::quota::*;

/// Stored value of `v1/quota`.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
struct QuotaRecord {
    storage_used: u64,
    messages_used: u64,
    storage_limit: Option<u64>,
    messages_limit: Option<u64>,
}

impl QuotaRecord {
    pub(crate) fn quota(self) -> Quota {
        Quota {
            storage_used: self.storage_used,
            storage_limit: self.storage_limit,
            messages_used: self.messages_used,
            messages_limit: self.messages_limit,
        }
    }
}

/// Add `bytes` and `messages` (either may be negative) to `owner`'s usage inside a transaction.
/// A positive change that would take the usage over a limit aborts with OverQuota (RFC 9208
/// §4.2: a command that would exceed a limit fails as a whole). No-op for public folders.
pub(crate) fn tx_add_usage(tx: &Tx, owner: &str, bytes: i64, messages: i64) -> TxResult<()> {
    if owner.is_empty() || (bytes == 0 && messages == 0) {
        return Ok(());
    }
    let tree = tx.tree(TreeIx::Quota);
    let mut rec: QuotaRecord = tx_get(tree, owner.as_bytes(), "quota")?.unwrap_or_default();
    let mut quota = rec.quota();
    if let Err(e) = quota.charge(bytes, messages) {
        return abort(e);
    }
    rec.storage_used = quota.storage_used;
    rec.messages_used = quota.messages_used;
    tx_put(tree, owner.as_bytes(), &rec)
}

/// Give a new account an empty quota record (no limits, nothing used).
pub(crate) fn tx_init_quota(tx: &Tx, owner: &str) -> TxResult<()> {
    tx_put(
        tx.tree(TreeIx::Quota),
        owner.as_bytes(),
        &QuotaRecord::default(),
    )
}

/// Forget `owner`'s quota (when the account is deleted).
pub(crate) fn tx_drop_quota(tx: &Tx, owner: &str) -> TxResult<()> {
    tx.tree(TreeIx::Quota).remove(owner.as_bytes())?;
    Ok(())
}

impl SledStore {
    /// Set `owner`'s usage to the sum of its folders' counters (read in the same transaction).
    pub(crate) fn resum_usage(&self, owner: &str) -> Result<(), StorageError> {
        let mut ids: Vec<FolderId> = Vec::new();
        for v in self
            .tree(TreeIx::FolderNames)
            .scan_prefix(keys::account_prefix(owner))
            .values()
        {
            ids.push(keys::decode_u64(&v?, "folder id")?);
        }
        // WebDAV files count against the storage limit too (storage::davfiles); callers
        // hold the admin lock, which every file-store write takes.
        let files: u64 = self
            .dav_subtree(owner, "")?
            .iter()
            .filter_map(|n| n.body.as_ref().map(|b| b.size))
            .sum();
        self.transact(|tx| {
            let (mut bytes, mut messages) = (files, 0u64);
            for id in &ids {
                let folder = tx_load_folder(tx, *id)?;
                bytes = bytes.saturating_add(folder.ext.size);
                messages = messages.saturating_add(u64::from(folder.rec.exists));
            }
            let tree = tx.tree(TreeIx::Quota);
            let mut rec: QuotaRecord = tx_get(tree, owner.as_bytes(), "quota")?.unwrap_or_default();
            rec.storage_used = bytes;
            rec.messages_used = messages;
            tx_put(tree, owner.as_bytes(), &rec)
        })
    }
}

impl SledStore {
    pub(crate) fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError> {
        let account = quota_account(account)?;
        self.transact(|tx| {
            if tx.tree(TreeIx::Accounts).get(account.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("account {account}")));
            }
            let tree = tx.tree(TreeIx::Quota);
            let mut rec: QuotaRecord =
                tx_get(tree, account.as_bytes(), "quota")?.unwrap_or_default();
            rec.storage_limit = storage_bytes;
            rec.messages_limit = messages;
            tx_put(tree, account.as_bytes(), &rec)
        })
    }

    pub(crate) fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        for folder in self.list_folders(&account)? {
            self.rebuild_counters(folder.id)?;
        }
        self.resum_usage(&account)?;
        self.quota(&account)
    }
}

impl SledStore {
    pub(crate) fn quota(&self, account: &str) -> Result<Quota, StorageError> {
        let account = normalize_address(account)?;
        if self.get_account(&account)?.is_none() {
            return Err(StorageError::NotFound(format!("account {account}")));
        }
        let rec: Option<QuotaRecord> =
            keys::get(self.tree(TreeIx::Quota), account.as_bytes(), "quota")?;
        Ok(rec.unwrap_or_default().quota())
    }
}
