//! IMAP subscriptions (RFC 9051 §6.3.7–8): a per-account list of mailbox names, kept apart
//! from the folders themselves, because a subscription outlives its folder (RFC 3501
//! §6.3.6: the server SHOULD NOT remove a name from the list when the folder goes) and may
//! name a folder that does not exist, or one shared by someone else.
//!
//! Tree `v1/subscriptions`: key = account ++ 0x00 ++ name (as the client names it), empty
//! value. The folders' own `subscribed` flag (set on the default folders at account
//! creation) counts too; see the IMAP backend.

use super::keys::TreeIx;
use super::{SledStore, StorageError};

pub(crate) fn key(account: &str, name: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + 1 + name.len());
    k.extend_from_slice(account.to_ascii_lowercase().as_bytes());
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

impl SledStore {
    /// Forgets `account`'s whole list (the account is being deleted).
    pub(crate) fn drop_subscriptions(&self, account: &str) -> Result<(), StorageError> {
        let tree = self.tree(TreeIx::Subscriptions);
        for k in tree.scan_prefix(key(account, "")).keys() {
            tree.remove(k?)?;
        }
        Ok(())
    }
}

impl SledStore {
    pub(crate) fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError> {
        crate::storage::folders::check_subscription_name(name)?;
        self.tree(TreeIx::Subscriptions)
            .insert(key(account, name), &[][..])?;
        Ok(())
    }

    pub(crate) fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError> {
        Ok(self
            .tree(TreeIx::Subscriptions)
            .remove(key(account, name))?
            .is_some())
    }
}

impl SledStore {
    pub(crate) fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError> {
        let prefix = key(account, "");
        let mut names = Vec::new();
        for entry in self.tree(TreeIx::Subscriptions).scan_prefix(&prefix) {
            let (k, _) = entry?;
            names.push(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store;

    #[test]
    fn subscriptions_are_per_account_and_survive_reopen() {
        let (dir, store) = store();
        store.subscribe("bob@example.com", "Lists/rust").unwrap();
        store.subscribe("bob@example.com", "Gone").unwrap();
        store.subscribe("alice@example.com", "Other").unwrap();
        assert!(store.unsubscribe("bob@example.com", "Gone").unwrap());
        assert!(!store.unsubscribe("bob@example.com", "Gone").unwrap());
        assert!(store.subscribe("bob@example.com", "").is_err());
        store.commit().unwrap();
        drop(store);
        let store = super::super::SledStore::open(dir.path()).unwrap();
        assert_eq!(
            store.subscriptions("bob@example.com").unwrap(),
            vec!["Lists/rust"]
        );
        assert_eq!(
            store.subscriptions("alice@example.com").unwrap(),
            vec!["Other"]
        );
    }
}
