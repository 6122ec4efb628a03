//! Domains, accounts (argon2id password hashes) and aliases, and recipient resolution.
//!
//! Names are stored lowercase: domains are case-insensitive (RFC 5321 §2.4), and although local
//! parts may be case-sensitive, every mail server in use treats them as not, and so do we.

use serde::{Deserialize, Serialize};

use super::acl::tx_remove_acl_entry;
use super::blobrefs::RefDelta;
use super::devices::tx_drop_devices;
use super::folders::{tx_create_folder, tx_drop_folder};
use super::keys::{self, tx_get, tx_put, TreeIx};
use super::quota::{tx_drop_quota, tx_init_quota};
use super::sender_rights::tx_drop_sender_rights;
use super::webauth::tx_drop_webauth;
use super::{abort, now_secs, SledStore, StorageError};
use crate::storage::directory::*;
use crate::storage::folders::DEFAULT_FOLDERS;

#[derive(Serialize, Deserialize)]
pub(crate) struct DomainRecord {
    pub(crate) created: u64,
}

/// Recipient resolution reads the trees directly.
struct Lookup<'a>(&'a SledStore);

impl RecipientLookup for Lookup<'_> {
    fn is_local_domain(&mut self, domain: &str) -> Result<bool, StorageError> {
        self.0.is_local_domain(domain)
    }

    fn is_account(&mut self, address: &str) -> Result<bool, StorageError> {
        Ok(self
            .0
            .tree(TreeIx::Accounts)
            .contains_key(address.as_bytes())?)
    }

    fn alias_targets(&mut self, alias: &str) -> Result<Option<Vec<String>>, StorageError> {
        keys::get(self.0.tree(TreeIx::Aliases), alias.as_bytes(), "alias")
    }
}

impl SledStore {
    fn account_record(&self, address: &str) -> Result<Option<AccountRecord>, StorageError> {
        match normalize_address(address) {
            Ok(a) => match self.tree(TreeIx::Accounts).get(a.as_bytes())? {
                Some(raw) => AccountRecord::decode(&raw).map(Some),
                None => Ok(None),
            },
            Err(_) => Ok(None),
        }
    }
}

/// The account record under `address` in a transaction, of either stored layout.
pub(crate) fn tx_account(
    tree: &sled::transaction::TransactionalTree,
    address: &str,
) -> super::TxResult<Option<AccountRecord>> {
    match tree.get(address.as_bytes())? {
        None => Ok(None),
        Some(raw) => match AccountRecord::decode(&raw) {
            Ok(rec) => Ok(Some(rec)),
            Err(e) => abort(e),
        },
    }
}

impl SledStore {
    // ---- domains ----
    pub(crate) fn add_domain(&self, name: &str) -> Result<(), StorageError> {
        let name = normalize_domain(name)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Domains);
            if tree.get(name.as_bytes())?.is_some() {
                return abort(StorageError::Exists(format!("domain {name}")));
            }
            tx_put(
                tree,
                name.as_bytes(),
                &DomainRecord {
                    created: now_secs(),
                },
            )
        })
    }

    pub(crate) fn del_domain(&self, name: &str) -> Result<(), StorageError> {
        let name = normalize_domain(name)?;
        let _admin = self.admin_lock();
        let in_domain = |ix: TreeIx| -> Result<Vec<sled::IVec>, StorageError> {
            let mut out = Vec::new();
            for k in self.tree(ix).iter().keys() {
                let k = k?;
                if domain_of(&String::from_utf8_lossy(&k)) == name {
                    out.push(k);
                }
            }
            Ok(out)
        };
        let accounts = in_domain(TreeIx::Accounts)?.len();
        if accounts > 0 {
            return Err(StorageError::Conflict(format!(
                "domain {name} still has {accounts} account(s); delete them first"
            )));
        }
        let aliases = in_domain(TreeIx::Aliases)?;
        self.transact(|tx| {
            if tx.tree(TreeIx::Domains).remove(name.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("domain {name}")));
            }
            for a in &aliases {
                tx.tree(TreeIx::Aliases).remove(a)?;
            }
            Ok(())
        })?;
        self.drop_domain_rights(&name)?;
        self.drop_fetch_sources(&name)
    }

    pub(crate) fn list_domains(&self) -> Result<Vec<String>, StorageError> {
        self.tree(TreeIx::Domains)
            .iter()
            .keys()
            .map(|k| {
                let k = k?;
                String::from_utf8(k.to_vec())
                    .map_err(|_| StorageError::Encoding("domain name is not UTF-8".into()))
            })
            .collect()
    }

    pub(crate) fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        match normalize_domain(name) {
            Ok(name) => Ok(self.tree(TreeIx::Domains).contains_key(name.as_bytes())?),
            Err(_) => Ok(false),
        }
    }

    // ---- accounts ----
    pub(crate) fn add_account(
        &self,
        address: &str,
        password: &str,
        admin: bool,
    ) -> Result<Account, StorageError> {
        let address = normalize_address(address)?;
        let hash = new_password_hash(password)?;
        let domain = domain_of(&address).to_string();
        let _admin = self.admin_lock();
        let account = self.transact(|tx| {
            if tx.tree(TreeIx::Domains).get(domain.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("domain {domain}")));
            }
            let accounts = tx.tree(TreeIx::Accounts);
            if accounts.get(address.as_bytes())?.is_some() {
                return abort(StorageError::Exists(format!("account {address}")));
            }
            if tx.tree(TreeIx::Aliases).get(address.as_bytes())?.is_some() {
                return abort(StorageError::Exists(format!("alias {address}")));
            }
            let rec = AccountRecord {
                address: address.clone(),
                hash: hash.clone(),
                admin,
                created: now_secs(),
                disabled: false,
            };
            tx_put(accounts, address.as_bytes(), &rec)?;
            for (name, special_use) in DEFAULT_FOLDERS {
                tx_create_folder(tx, &address, name, special_use)?;
            }
            tx_init_quota(tx, &address)?;
            Ok(rec.account())
        })?;
        // Outside the account's transaction (other trees); a crash in between is mended
        // when the account's collections are first listed.
        self.dav_make_defaults(&address)?;
        Ok(account)
    }

    pub(crate) fn del_account(&self, address: &str) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        let _admin = self.admin_lock();
        if self.get_account(&address)?.is_none() {
            return Err(StorageError::NotFound(format!("account {address}")));
        }
        self.retry_while_changing(|| {
            let mut snaps = Vec::new();
            for v in self
                .tree(TreeIx::FolderNames)
                .scan_prefix(keys::account_prefix(&address))
                .values()
            {
                snaps.push(self.folder_snapshot(keys::decode_u64(&v?, "folder id")?)?);
            }
            let granted = self.acl_folders_of(&address)?;
            let api_keys = self.apikeys_of(&address)?;
            let devices = self.device_keys_of(&address)?;
            let dav = self.dav_subtree(&address, "")?;
            let zeroed = self.transact(|tx| {
                let mut refs = RefDelta::default();
                super::davfiles::tx_drop_dav(tx, &address, &dav, &mut refs)?;
                for snap in &snaps {
                    tx_drop_folder(tx, &mut refs, snap)?;
                }
                for (folder, _) in &granted {
                    tx_remove_acl_entry(tx, *folder, &address)?;
                }
                tx_drop_quota(tx, &address)?;
                tx_drop_sender_rights(tx, &address)?;
                tx_drop_webauth(tx, &address, &api_keys)?;
                tx_drop_devices(tx, &devices)?;
                if tx
                    .tree(TreeIx::Accounts)
                    .remove(address.as_bytes())?
                    .is_none()
                {
                    return abort(StorageError::NotFound(format!("account {address}")));
                }
                refs.apply(tx, self.blobs())
            })?;
            self.collect_after_commit(&zeroed);
            self.drop_subscriptions(&address)?;
            self.drop_server_metadata(&address)?;
            self.dav_drop_owner(&address)?;
            self.drop_fetch_sources(&address)
        })
    }

    pub(crate) fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        let hash = new_password_hash(password)?;
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Accounts);
            let Some(mut rec) = tx_account(tree, &address)? else {
                return abort(StorageError::NotFound(format!("account {address}")));
            };
            rec.hash = hash.clone();
            tx_put(tree, address.as_bytes(), &rec)
        })
    }

    /// Changes one field of an account's record (rewritten in the current layout).
    fn update_account(
        &self,
        address: &str,
        change: impl Fn(&mut AccountRecord),
    ) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Accounts);
            let Some(mut rec) = tx_account(tree, &address)? else {
                return abort(StorageError::NotFound(format!("account {address}")));
            };
            change(&mut rec);
            tx_put(tree, address.as_bytes(), &rec)
        })
    }

    pub(crate) fn set_admin(&self, address: &str, admin: bool) -> Result<(), StorageError> {
        self.update_account(address, |rec| rec.admin = admin)
    }

    pub(crate) fn set_disabled(&self, address: &str, disabled: bool) -> Result<(), StorageError> {
        self.update_account(address, |rec| rec.disabled = disabled)
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.tree(TreeIx::Accounts)
            .iter()
            .values()
            .map(|v| Ok(AccountRecord::decode(&v?)?.account()))
            .collect()
    }

    pub(crate) fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        Ok(self.account_record(address)?.map(|r| r.account()))
    }

    pub(crate) fn account_stamp(
        &self,
        login: &str,
    ) -> Result<Option<(String, [u8; 32])>, StorageError> {
        stamp_of(self.account_record(login)?)
    }

    pub(crate) fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<AuthOutcome, StorageError> {
        check_login(self.account_record(login)?, password)
    }

    // ---- aliases ----
    pub(crate) fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        let (alias, target, domain) = alias_pair(alias, target)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            if tx.tree(TreeIx::Domains).get(domain.as_bytes())?.is_none() {
                return abort(StorageError::NotFound(format!("domain {domain}")));
            }
            if tx.tree(TreeIx::Accounts).get(alias.as_bytes())?.is_some() {
                return abort(StorageError::Conflict(format!(
                    "{alias} is an account; an address cannot be both an account and an alias"
                )));
            }
            let tree = tx.tree(TreeIx::Aliases);
            let mut targets: Vec<String> =
                tx_get(tree, alias.as_bytes(), "alias")?.unwrap_or_default();
            if targets.contains(&target) {
                return abort(StorageError::Exists(format!("alias {alias} -> {target}")));
            }
            targets.push(target.clone());
            tx_put(tree, alias.as_bytes(), &targets)
        })
    }

    pub(crate) fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
        let alias = normalize_address(alias)?;
        let target = target.map(normalize_address).transpose()?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Aliases);
            let Some(mut targets) = tx_get::<Vec<String>>(tree, alias.as_bytes(), "alias")? else {
                return abort(StorageError::NotFound(format!("alias {alias}")));
            };
            if let Some(t) = &target {
                let before = targets.len();
                targets.retain(|x| x != t);
                if targets.len() == before {
                    return abort(StorageError::NotFound(format!("alias {alias} -> {t}")));
                }
            } else {
                targets.clear();
            }
            if targets.is_empty() {
                tree.remove(alias.as_bytes())?;
                Ok(())
            } else {
                tx_put(tree, alias.as_bytes(), &targets)
            }
        })
    }

    pub(crate) fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        keys::list_named(self.tree(TreeIx::Aliases), "alias")
    }

    pub(crate) fn resolve_recipient(
        &self,
        address: &str,
    ) -> Result<Vec<Destination>, StorageError> {
        resolve(&mut Lookup(self), &normalize_address(address)?)
    }

    pub(crate) fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        classify(&mut Lookup(self), &normalize_address(address)?)
    }
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
