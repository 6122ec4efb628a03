//! Per-account sender rights: the "may send as" list and the domains an account
//! administers. The rule that uses them is `mailauth::sender`; this file only stores them.
//!
//! One record per account in `v1/sender_rights` (an account without one has no extra
//! rights). It is deleted with its account, and a deleted domain is taken off every list.

use super::keys::{self, tx_get, tx_put, TreeIx};
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::directory::{normalize_address, normalize_domain};
use crate::storage::sender_rights::*;
use crate::storage::traits::SenderRightsStore;

/// Called when an account is deleted, inside its transaction.
pub(crate) fn tx_drop_sender_rights(tx: &Tx, account: &str) -> TxResult<()> {
    tx.tree(TreeIx::SenderRights).remove(account.as_bytes())?;
    Ok(())
}

impl SledStore {
    fn change_rights(
        &self,
        account: &str,
        list: RightsList,
        value: String,
        add: bool,
    ) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx.tree(TreeIx::Accounts).get(account.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("account {account}")));
            }
            let tree = tx.tree(TreeIx::SenderRights);
            let mut rights: SenderRights =
                tx_get(tree, account.as_bytes(), "sender rights")?.unwrap_or_default();
            if let Err(e) = rights.change(&account, list, &value, add) {
                return abort(e);
            }
            if rights.is_empty() {
                tree.remove(account.as_bytes())?;
                Ok(())
            } else {
                tx_put(tree, account.as_bytes(), &rights)
            }
        })
    }

    /// Called when a domain is deleted: no account administers it or may send as `@domain`
    /// any more, so that a domain re-created later starts with no rights granted.
    pub(crate) fn drop_domain_rights(&self, domain: &str) -> Result<(), StorageError> {
        for (account, mut rights) in self.list_sender_rights()? {
            if !rights.drop_domain(domain) {
                continue;
            }
            let tree = self.tree(TreeIx::SenderRights);
            if rights.is_empty() {
                tree.remove(account.as_bytes())?;
            } else {
                tree.insert(account.as_bytes(), keys::encode(&rights)?)?;
            }
        }
        Ok(())
    }
}

impl SenderRightsStore for SledStore {
    fn sender_rights(&self, account: &str) -> Result<SenderRights, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(SenderRights::default());
        };
        Ok(keys::get(
            self.tree(TreeIx::SenderRights),
            account.as_bytes(),
            "sender rights",
        )?
        .unwrap_or_default())
    }

    fn list_sender_rights(&self) -> Result<Vec<(String, SenderRights)>, StorageError> {
        keys::list_named(self.tree(TreeIx::SenderRights), "sender rights")
    }

    fn add_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let entry = SenderEntry::parse(entry)?.as_stored();
        self.change_rights(account, RightsList::SendAs, entry, true)
    }

    fn del_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let entry = SenderEntry::parse(entry)?.as_stored();
        self.change_rights(account, RightsList::SendAs, entry, false)
    }

    fn add_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let domain = normalize_domain(domain)?;
        if !self.is_local_domain(&domain)? {
            return Err(StorageError::NotFound(format!("domain {domain}")));
        }
        self.change_rights(account, RightsList::Domains, domain, true)
    }

    fn del_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let domain = normalize_domain(domain)?;
        self.change_rights(account, RightsList::Domains, domain, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;

    #[test]
    fn lists_are_kept_per_account_and_dropped_with_it() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("a.example").unwrap();
        store.add_domain("b.example").unwrap();
        store.add_account("bob@a.example", "pw", false).unwrap();
        assert_eq!(
            store.sender_rights("bob@a.example").unwrap(),
            SenderRights::default()
        );
        store
            .add_send_as("bob@a.example", "Info@B.example")
            .unwrap();
        store.add_send_as("bob@a.example", "@b.example").unwrap();
        store
            .add_domain_admin("bob@a.example", "B.example")
            .unwrap();
        assert!(matches!(
            store.add_send_as("bob@a.example", "info@b.example"),
            Err(StorageError::Exists(_))
        ));
        assert!(matches!(
            store.add_domain_admin("bob@a.example", "nowhere.example"),
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            store.add_send_as("nobody@a.example", "x@b.example"),
            Err(StorageError::NotFound(_))
        ));
        assert!(matches!(
            store.add_send_as("bob@a.example", "not an address"),
            Err(StorageError::Invalid(_))
        ));
        let rights = store.sender_rights("BOB@a.example").unwrap();
        assert_eq!(rights.send_as, ["@b.example", "info@b.example"]);
        assert_eq!(rights.domains, ["b.example"]);
        store.del_send_as("bob@a.example", "@b.example").unwrap();
        assert!(matches!(
            store.del_send_as("bob@a.example", "@b.example"),
            Err(StorageError::NotFound(_))
        ));
        assert_eq!(store.list_sender_rights().unwrap().len(), 1);

        store.0.del_account("bob@a.example").unwrap();
        assert!(store.list_sender_rights().unwrap().is_empty());
    }

    #[test]
    fn deleting_a_domain_takes_it_off_every_list() {
        let (_dir, store) = crate::storage::testutil::store();
        store.add_domain("a.example").unwrap();
        store.add_domain("b.example").unwrap();
        store.add_account("bob@a.example", "pw", false).unwrap();
        store
            .add_domain_admin("bob@a.example", "b.example")
            .unwrap();
        store.add_send_as("bob@a.example", "@b.example").unwrap();
        store
            .add_send_as("bob@a.example", "x@remote.example")
            .unwrap();
        store.del_domain("b.example").unwrap();
        let rights = store.sender_rights("bob@a.example").unwrap();
        assert_eq!(rights.send_as, ["x@remote.example"]);
        assert!(rights.domains.is_empty());
    }
}
