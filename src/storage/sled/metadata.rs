//! METADATA entries (RFC 5464): per-mailbox and server annotations, `/private` (one user's)
//! and `/shared` (everyone's).
//!
//! Tree `v1/metadata`, value [`MetadataRecord`] (bincode):
//!
//! | key                         | holds                                                     |
//! |-----------------------------|-----------------------------------------------------------|
//! | folder id u64 BE            | every entry of that folder: each user's private ones and the shared ones |
//! | `0u64` BE                   | the server's shared entries                               |
//! | `0u64` BE ++ account        | that account's private server entries                     |
//!
//! Folder ids start at 1, so 0 is free for the server. A folder's entries are one record so
//! that DELETE removes them in the same transaction as the folder (sled transactions cannot
//! scan a prefix): [`super::folders`] removes the key wherever it empties a folder. RENAME
//! keeps the id, so the entries follow the folder; RENAME INBOX makes a new folder, which
//! starts with none. Deleting an account drops its private server entries; its private
//! entries on other users' shared folders go with those folders.
//!
//! Names are stored lower-case (RFC 5464 §3.2: entry names are case-insensitive) with their
//! `/private` or `/shared` prefix. Limits are the caller's (the IMAP layer): this module
//! stores what it is given.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::folder_record::tx_load_folder;
use crate::storage::metadata::*;

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{SledStore, StorageError};
use crate::storage::folders::FolderId;

/// Stored value of `v1/metadata`: (user, entry name) → value; user is "" for `/shared`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct MetadataRecord {
    pub(crate) entries: BTreeMap<(String, String), Vec<u8>>,
}

/// The record key holding `name` for `user`.
fn record_key(on: MetadataOwner, user: &str, private: bool) -> Vec<u8> {
    match on {
        MetadataOwner::Folder(id) => id.to_be_bytes().to_vec(),
        MetadataOwner::Server => {
            let mut k = 0u64.to_be_bytes().to_vec();
            if private {
                k.extend_from_slice(user.to_ascii_lowercase().as_bytes());
            }
            k
        }
    }
}

/// The user an entry is filed under in its record.
fn entry_user(user: &str, private: bool) -> String {
    if private {
        user.to_ascii_lowercase()
    } else {
        String::new()
    }
}

impl SledStore {
    /// Forgets `account`'s private server entries (the account is being deleted).
    pub(crate) fn drop_server_metadata(&self, account: &str) -> Result<(), StorageError> {
        let key = record_key(MetadataOwner::Server, account, true);
        self.tree(TreeIx::Metadata).remove(key)?;
        Ok(())
    }
}

impl SledStore {
    pub(crate) fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let tree = self.tree(TreeIx::Metadata);
        let mut keys = vec![record_key(on, user, false)];
        if on == MetadataOwner::Server {
            keys.push(record_key(on, user, true));
        }
        let me = user.to_ascii_lowercase();
        let mut out = Vec::new();
        for k in keys {
            let Some(rec) = keys::get::<MetadataRecord>(tree, &k, "metadata")? else {
                continue;
            };
            out.extend(
                rec.entries
                    .into_iter()
                    .filter(|((u, _), _)| u.is_empty() || *u == me)
                    .map(|((_, name), value)| (name, value)),
            );
        }
        out.sort();
        Ok(out)
    }
}

impl SledStore {
    pub(crate) fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError> {
        for (name, _) in changes {
            check_entry_name(name)?;
        }
        self.transact(|tx| {
            if let MetadataOwner::Folder(id) = on {
                tx_load_folder(tx, id)?;
            }
            let tree = tx.tree(TreeIx::Metadata);
            // At most two records change (server private and shared); load each once.
            let mut records: Vec<(Vec<u8>, MetadataRecord)> = Vec::new();
            for (name, value) in changes {
                let private = is_private(name);
                let key = record_key(on, user, private);
                let at = match records.iter().position(|(k, _)| *k == key) {
                    Some(i) => i,
                    None => {
                        let rec = tx_get::<MetadataRecord>(tree, &key, "metadata")?;
                        records.push((key, rec.unwrap_or_default()));
                        records.len() - 1
                    }
                };
                let entry = (entry_user(user, private), name.to_ascii_lowercase());
                let rec = &mut records[at].1;
                match value {
                    Some(v) => rec.entries.insert(entry, v.clone()),
                    None => rec.entries.remove(&entry),
                };
            }
            for (key, rec) in &records {
                if rec.entries.is_empty() {
                    tree.remove(key.as_slice())?;
                } else {
                    tx_put(tree, key, rec)?;
                }
            }
            Ok(())
        })
    }
}

/// Removes a folder's entries inside the transaction that deletes (or empties) it.
pub(crate) fn tx_drop_metadata(tx: &super::Tx, id: FolderId) -> super::TxResult<()> {
    tx.tree(TreeIx::Metadata).remove(&id.to_be_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store_with_bob;
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;

    fn set(store: &SledStore, on: MetadataOwner, user: &str, name: &str, v: Option<&str>) {
        store
            .set_metadata(on, user, &[(name.into(), v.map(|s| s.as_bytes().to_vec()))])
            .unwrap();
    }

    fn names(store: &SledStore, on: MetadataOwner, user: &str) -> Vec<(String, String)> {
        store
            .metadata(on, user)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8(v).unwrap()))
            .collect()
    }

    #[test]
    fn private_entries_are_per_user_and_shared_ones_for_all() {
        let (_dir, store) = store_with_bob();
        let work = store
            .create_folder("bob@example.com", "Work", None)
            .unwrap();
        let on = MetadataOwner::Folder(work);
        set(
            &store,
            on,
            "bob@example.com",
            "/private/comment",
            Some("mine"),
        );
        set(
            &store,
            on,
            "alice@example.com",
            "/private/comment",
            Some("hers"),
        );
        set(
            &store,
            on,
            "bob@example.com",
            "/shared/Comment",
            Some("ours"),
        );
        assert_eq!(
            names(&store, on, "BOB@example.com"),
            vec![
                ("/private/comment".into(), "mine".into()),
                ("/shared/comment".into(), "ours".into())
            ]
        );
        assert_eq!(names(&store, on, "alice@example.com")[0].1, "hers");
        set(&store, on, "bob@example.com", "/private/comment", None);
        assert_eq!(names(&store, on, "bob@example.com").len(), 1);
        assert!(store
            .set_metadata(on, "bob@example.com", &[("/other/x".into(), None)])
            .is_err());
        assert!(store
            .set_metadata(on, "bob@example.com", &[("/shared".into(), None)])
            .is_err());
    }

    #[test]
    fn server_entries_survive_reopen_and_account_deletion_drops_private_ones() {
        let (dir, store) = store_with_bob();
        let s = MetadataOwner::Server;
        set(
            &store,
            s,
            "bob@example.com",
            "/private/vendor/x/theme",
            Some("dark"),
        );
        set(
            &store,
            s,
            "admin@example.com",
            "/shared/admin",
            Some("mailto:a@b"),
        );
        store.commit().unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(
            names(&store, s, "bob@example.com"),
            vec![
                ("/private/vendor/x/theme".into(), "dark".into()),
                ("/shared/admin".into(), "mailto:a@b".into())
            ]
        );
        assert_eq!(names(&store, s, "carol@example.com").len(), 1);
        store.del_account("bob@example.com").unwrap();
        assert_eq!(names(&store, s, "bob@example.com").len(), 1);
    }

    #[test]
    fn entries_follow_renames_and_go_with_the_folder() {
        let (_dir, store) = store_with_bob();
        let bob = "bob@example.com";
        let a = store.create_folder(bob, "A", None).unwrap();
        let b = store.create_folder(bob, "B/Child", None).unwrap();
        let parent = store.folder_id(bob, "B").unwrap().unwrap();
        set(
            &store,
            MetadataOwner::Folder(a),
            bob,
            "/shared/comment",
            Some("a"),
        );
        set(
            &store,
            MetadataOwner::Folder(parent),
            bob,
            "/shared/comment",
            Some("b"),
        );
        store.rename_folder(a, "Renamed").unwrap();
        assert_eq!(names(&store, MetadataOwner::Folder(a), bob).len(), 1);
        store.delete_folder(a).unwrap();
        assert!(names(&store, MetadataOwner::Folder(a), bob).is_empty());
        assert!(store
            .set_metadata(
                MetadataOwner::Folder(a),
                bob,
                &[("/shared/comment".into(), Some(b"x".to_vec()))]
            )
            .is_err());
        // A folder with children becomes a \Noselect placeholder: its entries go too, and
        // CREATE of the name again starts without them.
        store.delete_folder(parent).unwrap();
        assert!(names(&store, MetadataOwner::Folder(parent), bob).is_empty());
        store.create_folder(bob, "B", None).unwrap();
        assert!(names(&store, MetadataOwner::Folder(parent), bob).is_empty());
        let _ = b;
    }
}
