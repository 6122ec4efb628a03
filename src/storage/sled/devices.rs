//! Remembered devices (`storage::devices`): `v1/devices` keyed `account 0x00 id`, so an
//! account's devices are one prefix scan. In the transactional set like `v1/totp`: an
//! account's deletion takes its devices in its own transaction, and a device is never
//! written for an account that a concurrent deletion has just removed (adds hold the admin
//! lock and check the account inside the transaction).

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::devices::{DeviceRecord, DeviceStore};
use crate::storage::directory::normalize_address;

fn key(account: &str, id: &str) -> Vec<u8> {
    let mut k = keys::account_prefix(account);
    k.extend_from_slice(id.as_bytes());
    k
}

/// Called when an account is deleted, inside its transaction, with the keys of its devices
/// (found by [`SledStore::device_keys_of`] before the transaction, under the admin lock).
pub(crate) fn tx_drop_devices(tx: &Tx, keys: &[Vec<u8>]) -> TxResult<()> {
    for k in keys {
        tx.tree(TreeIx::Devices).remove(k.as_slice())?;
    }
    Ok(())
}

impl SledStore {
    /// The keys of `account`'s devices (a prefix scan).
    pub(crate) fn device_keys_of(&self, account: &str) -> Result<Vec<Vec<u8>>, StorageError> {
        self.tree(TreeIx::Devices)
            .scan_prefix(keys::account_prefix(account))
            .keys()
            .map(|k| Ok(k?.to_vec()))
            .collect()
    }
}

impl DeviceStore for SledStore {
    fn device_add(&self, device: &DeviceRecord) -> Result<(), StorageError> {
        let device = DeviceRecord {
            account: normalize_address(&device.account)?,
            ..device.clone()
        };
        let k = key(&device.account, &device.id);
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx
                .tree(TreeIx::Accounts)
                .get(device.account.as_bytes())?
                .is_none()
            {
                return abort(StorageError::NotFound(format!(
                    "account {}",
                    device.account
                )));
            }
            let tree = tx.tree(TreeIx::Devices);
            if tree.get(&k)?.is_some() {
                return abort(StorageError::Exists(format!("device {}", device.id)));
            }
            tx_put(tree, &k, &device)
        })
    }

    fn device_get(&self, account: &str, id: &str) -> Result<Option<DeviceRecord>, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(None);
        };
        keys::get(self.tree(TreeIx::Devices), &key(&account, id), "device")
    }

    fn device_list(&self, account: Option<&str>) -> Result<Vec<DeviceRecord>, StorageError> {
        let tree = self.tree(TreeIx::Devices);
        let entries = match account {
            Some(a) => {
                let Ok(a) = normalize_address(a) else {
                    return Ok(Vec::new());
                };
                tree.scan_prefix(keys::account_prefix(&a))
            }
            None => tree.scan_prefix(b""),
        };
        entries
            .values()
            .map(|v| keys::decode(&v?, "device"))
            .collect()
    }

    fn device_touch(&self, account: &str, id: &str, at: u64) -> Result<(), StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(());
        };
        let k = key(&account, id);
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Devices);
            if let Some(mut device) = tx_get::<DeviceRecord>(tree, &k, "device")? {
                device.last_used = at;
                tx_put(tree, &k, &device)?;
            }
            Ok(())
        })
    }

    fn device_delete(&self, account: &str, id: &str) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        Ok(self
            .tree(TreeIx::Devices)
            .remove(key(&account, id))?
            .is_some())
    }

    fn device_delete_all(&self, account: &str) -> Result<u64, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(0);
        };
        let keys = self.device_keys_of(&account)?;
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Devices);
            let mut n = 0;
            for k in &keys {
                if tree.remove(k.as_slice())?.is_some() {
                    n += 1;
                }
            }
            Ok(n)
        })
    }
}
