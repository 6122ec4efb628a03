//! TOTP state and API keys (`storage::webauth`): `v1/totp` keyed by account, `v1/api_keys`
//! keyed by key id. Both are in the transactional set, so that an account's deletion takes
//! its state and keys in its own transaction, and a record is never written for an account
//! that a concurrent deletion has just removed (writes hold the admin lock and check the
//! account inside the transaction). Durable at the next commit round, as the directory is.

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::directory::normalize_address;
use crate::storage::traits::WebAuth;
use crate::storage::webauth::{ApiKeyRecord, TotpState};

/// Called when an account is deleted, inside its transaction, with the ids of the keys it
/// owns (found by a scan before the transaction, under the admin lock).
pub(crate) fn tx_drop_webauth(tx: &Tx, account: &str, keys: &[String]) -> TxResult<()> {
    tx.tree(TreeIx::Totp).remove(account.as_bytes())?;
    for id in keys {
        tx.tree(TreeIx::ApiKeys).remove(id.as_bytes())?;
    }
    Ok(())
}

impl SledStore {
    /// The ids of the keys `owner` owns (a scan; call under the admin lock).
    pub(crate) fn apikeys_of(&self, owner: &str) -> Result<Vec<String>, StorageError> {
        Ok(self
            .apikey_list()?
            .into_iter()
            .filter(|k| k.owner == owner)
            .map(|k| k.id)
            .collect())
    }

    /// Runs `change` on `account`'s enabled TOTP state in one transaction; it answers
    /// whether to store the changed state (and so the call's answer).
    fn totp_change(
        &self,
        account: &str,
        change: impl Fn(&mut TotpState) -> bool,
    ) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Totp);
            let Some(mut state) = tx_get::<TotpState>(tree, account.as_bytes(), "TOTP state")?
            else {
                return Ok(false);
            };
            if !state.enabled || !change(&mut state) {
                return Ok(false);
            }
            tx_put(tree, account.as_bytes(), &state)?;
            Ok(true)
        })
    }
}

impl WebAuth for SledStore {
    fn totp_get(&self, account: &str) -> Result<Option<TotpState>, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(None);
        };
        keys::get(self.tree(TreeIx::Totp), account.as_bytes(), "TOTP state")
    }

    fn totp_put(&self, account: &str, state: &TotpState) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx.tree(TreeIx::Accounts).get(account.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("account {account}")));
            }
            tx_put(tx.tree(TreeIx::Totp), account.as_bytes(), state)
        })
    }

    fn totp_delete(&self, account: &str) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        Ok(self
            .tree(TreeIx::Totp)
            .remove(account.as_bytes())?
            .is_some())
    }

    fn totp_claim_step(&self, account: &str, step: u64) -> Result<bool, StorageError> {
        self.totp_change(account, |state| {
            if step <= state.last_step {
                return false;
            }
            state.last_step = step;
            true
        })
    }

    fn totp_use_recovery(&self, account: &str, digest: &[u8]) -> Result<bool, StorageError> {
        self.totp_change(account, |state| {
            let before = state.recovery.len();
            state.recovery.retain(|d| d.as_slice() != digest);
            state.recovery.len() != before
        })
    }

    fn totp_list(&self) -> Result<Vec<(String, TotpState)>, StorageError> {
        keys::list_named(self.tree(TreeIx::Totp), "TOTP state")
    }

    fn apikey_add(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let owner = normalize_address(&key.owner)?;
        let key = ApiKeyRecord {
            owner,
            ..key.clone()
        };
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx
                .tree(TreeIx::Accounts)
                .get(key.owner.as_bytes())?
                .is_none()
            {
                return abort(StorageError::NotFound(format!("account {}", key.owner)));
            }
            let tree = tx.tree(TreeIx::ApiKeys);
            if tree.get(key.id.as_bytes())?.is_some() {
                return abort(StorageError::Exists(format!("API key {}", key.id)));
            }
            tx_put(tree, key.id.as_bytes(), &key)
        })
    }

    fn apikey_get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        keys::get(self.tree(TreeIx::ApiKeys), id.as_bytes(), "API key")
    }

    fn apikey_list(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        Ok(keys::list_named(self.tree(TreeIx::ApiKeys), "API key")?
            .into_iter()
            .map(|(_, k)| k)
            .collect())
    }

    fn apikey_delete(&self, id: &str) -> Result<(), StorageError> {
        match self.tree(TreeIx::ApiKeys).remove(id.as_bytes())? {
            Some(_) => Ok(()),
            None => Err(StorageError::NotFound(format!("API key {id}"))),
        }
    }

    fn apikey_touch(&self, id: &str, at: u64) -> Result<(), StorageError> {
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::ApiKeys);
            if let Some(mut key) = tx_get::<ApiKeyRecord>(tree, id.as_bytes(), "API key")? {
                key.last_used = Some(at);
                tx_put(tree, id.as_bytes(), &key)?;
            }
            Ok(())
        })
    }
}
