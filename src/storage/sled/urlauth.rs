//! URLAUTH mailbox access keys (RFC 4467 §3): the secret under which a user's URLAUTH
//! tokens for one mailbox are made. RESETKEY replaces it, which revokes every URL made so far.
//!
//! Tree `v1/urlauth`, key folder id u64 BE, value [`KeyRecord`] (bincode): the key of each
//! user who made URLs for that folder (a shared folder can hold several users' keys).
//!
//! One record per folder so that DELETE removes the keys in the transaction that removes the
//! folder ([`super::folders`] calls [`tx_drop_keys`] wherever it empties one; sled
//! transactions cannot scan a prefix). RENAME keeps the folder id, so the keys (and the URLs,
//! which name the mailbox) follow it only as far as the URL text does: a URL names the old
//! name and no longer resolves. Keys are 32 random octets from the operating system's
//! generator. The caller makes a new key durable ([`SledStore::commit`]) before a URL made with
//! it is handed out, and a removal durable before RESETKEY answers OK.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::folder_record::tx_load_folder;

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{SledStore, StorageError};
use crate::storage::folders::FolderId;

#[cfg(test)]
use crate::storage::urlauth::KEY_LEN;

/// Stored value of `v1/urlauth`: user (lower-case) → access key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct KeyRecord {
    pub(crate) keys: BTreeMap<String, Vec<u8>>,
}

impl SledStore {
    pub(crate) fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let user = user.to_ascii_lowercase();
        let key = folder.to_be_bytes();
        let rec = keys::get::<KeyRecord>(self.tree(TreeIx::UrlAuth), &key, "urlauth keys")?;
        if let Some(k) = rec.and_then(|r| r.keys.get(&user).cloned()) {
            return Ok(Some(k));
        }
        if !create {
            return Ok(None);
        }
        let fresh = crate::storage::urlauth::new_key()?;
        self.transact(|tx| {
            tx_load_folder(tx, folder)?;
            let tree = tx.tree(TreeIx::UrlAuth);
            let mut rec = tx_get::<KeyRecord>(tree, &key, "urlauth keys")?.unwrap_or_default();
            // Another session may have made one meanwhile: theirs stands.
            let k = rec
                .keys
                .entry(user.clone())
                .or_insert_with(|| fresh.clone())
                .clone();
            tx_put(tree, &key, &rec)?;
            Ok(Some(k))
        })
    }

    pub(crate) fn reset_urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
    ) -> Result<(), StorageError> {
        let user = user.to_ascii_lowercase();
        let key = folder.to_be_bytes();
        self.transact(|tx| {
            tx_load_folder(tx, folder)?;
            let tree = tx.tree(TreeIx::UrlAuth);
            let Some(mut rec) = tx_get::<KeyRecord>(tree, &key, "urlauth keys")? else {
                return Ok(());
            };
            if rec.keys.remove(&user).is_none() {
                return Ok(());
            }
            if rec.keys.is_empty() {
                tree.remove(&key)?;
            } else {
                tx_put(tree, &key, &rec)?;
            }
            Ok(())
        })
    }
}

/// Removes a folder's keys inside the transaction that deletes (or empties) it.
pub(crate) fn tx_drop_keys(tx: &super::Tx, id: FolderId) -> super::TxResult<()> {
    tx.tree(TreeIx::UrlAuth).remove(&id.to_be_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store_with_bob;

    const BOB: &str = "bob@example.com";

    #[test]
    fn keys_are_made_once_per_user_and_reset() {
        let (dir, store) = store_with_bob();
        let work = store.create_folder(BOB, "Work", None).unwrap();
        assert_eq!(store.urlauth_key(work, BOB, false).unwrap(), None);
        let k = store.urlauth_key(work, BOB, true).unwrap().unwrap();
        assert_eq!(k.len(), super::KEY_LEN);
        assert_eq!(
            store.urlauth_key(work, "BOB@example.com", true).unwrap(),
            Some(k.clone())
        );
        let other = store
            .urlauth_key(work, "alice@example.com", true)
            .unwrap()
            .unwrap();
        assert_ne!(k, other);
        store.commit().unwrap();
        drop(store);
        let store = super::super::SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.urlauth_key(work, BOB, false).unwrap(),
            Some(k.clone())
        );
        store.reset_urlauth_key(work, BOB).unwrap();
        assert_eq!(store.urlauth_key(work, BOB, false).unwrap(), None);
        assert_eq!(
            store.urlauth_key(work, "alice@example.com", false).unwrap(),
            Some(other)
        );
        let fresh = store.urlauth_key(work, BOB, true).unwrap().unwrap();
        assert_ne!(fresh, k);
    }

    #[test]
    fn keys_go_with_the_folder() {
        let (_dir, store) = store_with_bob();
        let work = store.create_folder(BOB, "Work", None).unwrap();
        store.urlauth_key(work, BOB, true).unwrap();
        store.delete_folder(work).unwrap();
        assert_eq!(store.urlauth_key(work, BOB, false).unwrap(), None);
        assert!(store.urlauth_key(work, BOB, true).is_err());
        assert!(store.reset_urlauth_key(work, BOB).is_err());
    }
}
