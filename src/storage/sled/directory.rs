//! Domains, accounts (argon2id password hashes) and aliases, and recipient resolution.
//!
//! Names are stored lowercase: domains are case-insensitive (RFC 5321 §2.4), and although local
//! parts may be case-sensitive, every mail server in use treats them as not, and so do we.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::acl::tx_remove_acl_entry;
use super::blobrefs::RefDelta;
use super::folders::{tx_create_folder, tx_drop_folder};
use super::keys::{self, tx_get, tx_put, TreeIx};
use super::quota::{tx_drop_quota, tx_init_quota};
use super::sender_rights::tx_drop_sender_rights;
use super::{abort, now_secs, SledStore, StorageError};
use crate::storage::directory::*;
use crate::storage::folders::DEFAULT_FOLDERS;

/// Alias chains deeper than this are cut (and logged).
const MAX_ALIAS_DEPTH: usize = 10;

#[derive(Serialize, Deserialize)]
pub(crate) struct DomainRecord {
    pub(crate) created: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct AccountRecord {
    pub(crate) address: String,
    /// PHC string.
    pub(crate) hash: String,
    pub(crate) admin: bool,
    pub(crate) created: u64,
}

impl AccountRecord {
    fn account(&self) -> Account {
        Account {
            address: self.address.clone(),
            admin: self.admin,
            created: self.created,
        }
    }
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

impl SledStore {
    fn account_record(&self, address: &str) -> Result<Option<AccountRecord>, StorageError> {
        match normalize_address(address) {
            Ok(a) => keys::get(self.tree(TreeIx::Accounts), a.as_bytes(), "account"),
            Err(_) => Ok(None),
        }
    }

    fn alias_targets(&self, alias: &str) -> Result<Option<Vec<String>>, StorageError> {
        keys::get(self.tree(TreeIx::Aliases), alias.as_bytes(), "alias")
    }

    fn expand(
        &self,
        address: &str,
        depth: usize,
        seen: &mut HashSet<String>,
        out: &mut Vec<Destination>,
    ) -> Result<(), StorageError> {
        if depth > MAX_ALIAS_DEPTH {
            tracing::warn!(address, "alias chain deeper than {MAX_ALIAS_DEPTH}; cut");
            return Ok(());
        }
        if !seen.insert(address.to_string()) {
            return Ok(()); // a loop, or a second path to the same address
        }
        if !self.is_local_domain(domain_of(address))? {
            push_unique(out, Destination::Remote(address.to_string()));
            return Ok(());
        }
        if self.expand_exact(address, depth, seen, out)? {
            return Ok(());
        }
        if let Some((local, domain)) = address.rsplit_once('@') {
            if let Some((base, _tag)) = local.split_once('+') {
                if !base.is_empty() {
                    let base = format!("{base}@{domain}");
                    if seen.insert(base.clone()) {
                        self.expand_exact(&base, depth, seen, out)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Expand `address` if it is an account or an alias; false if it is neither.
    fn expand_exact(
        &self,
        address: &str,
        depth: usize,
        seen: &mut HashSet<String>,
        out: &mut Vec<Destination>,
    ) -> Result<bool, StorageError> {
        if self
            .tree(TreeIx::Accounts)
            .contains_key(address.as_bytes())?
        {
            push_unique(out, Destination::Local(address.to_string()));
            return Ok(true);
        }
        match self.alias_targets(address)? {
            Some(targets) => {
                for t in targets {
                    self.expand(&t, depth + 1, seen, out)?;
                }
                Ok(true)
            }
            None => Ok(false),
        }
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
        if password.is_empty() {
            return Err(StorageError::Invalid(
                "the password must not be empty".into(),
            ));
        }
        let hash = hash_password(password)?;
        let domain = domain_of(&address).to_string();
        let _admin = self.admin_lock();
        self.transact(|tx| {
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
            };
            tx_put(accounts, address.as_bytes(), &rec)?;
            for (name, special_use) in DEFAULT_FOLDERS {
                tx_create_folder(tx, &address, name, special_use)?;
            }
            tx_init_quota(tx, &address)?;
            Ok(rec.account())
        })
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
            let zeroed = self.transact(|tx| {
                let mut refs = RefDelta::default();
                for snap in &snaps {
                    tx_drop_folder(tx, &mut refs, snap)?;
                }
                for (folder, _) in &granted {
                    tx_remove_acl_entry(tx, *folder, &address)?;
                }
                tx_drop_quota(tx, &address)?;
                tx_drop_sender_rights(tx, &address)?;
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
            self.drop_fetch_sources(&address)
        })
    }

    pub(crate) fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        if password.is_empty() {
            return Err(StorageError::Invalid(
                "the password must not be empty".into(),
            ));
        }
        let hash = hash_password(password)?;
        self.transact(|tx| {
            let tree = tx.tree(TreeIx::Accounts);
            let Some(mut rec) = tx_get::<AccountRecord>(tree, address.as_bytes(), "account")?
            else {
                return abort(StorageError::NotFound(format!("account {address}")));
            };
            rec.hash = hash.clone();
            tx_put(tree, address.as_bytes(), &rec)
        })
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.tree(TreeIx::Accounts)
            .iter()
            .values()
            .map(|v| Ok(keys::decode::<AccountRecord>(&v?, "account")?.account()))
            .collect()
    }

    pub(crate) fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        Ok(self.account_record(address)?.map(|r| r.account()))
    }

    pub(crate) fn account_stamp(
        &self,
        login: &str,
    ) -> Result<Option<(String, [u8; 32])>, StorageError> {
        use sha2::{Digest, Sha256};
        let Ok(address) = normalize_address(login) else {
            return Ok(None);
        };
        let Some(raw) = self.tree(TreeIx::Accounts).get(address.as_bytes())? else {
            return Ok(None);
        };
        Ok(Some((address, Sha256::digest(&raw).into())))
    }

    pub(crate) fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<AuthOutcome, StorageError> {
        match self.account_record(login)? {
            Some(rec) => {
                if password_matches(password, &rec.hash)? {
                    Ok(AuthOutcome::Ok(rec.account()))
                } else {
                    Ok(AuthOutcome::BadPassword {
                        address: rec.address,
                    })
                }
            }
            None => {
                password_matches(password, dummy_hash()?)?;
                Ok(AuthOutcome::NoSuchAccount)
            }
        }
    }

    // ---- aliases ----
    pub(crate) fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        let alias = normalize_address(alias)?;
        let target = normalize_address(target)?;
        if alias == target {
            return Err(StorageError::Invalid(format!(
                "alias {alias} cannot point to itself"
            )));
        }
        let domain = domain_of(&alias).to_string();
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
        let address = normalize_address(address)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.expand(&address, 0, &mut seen, &mut out)?;
        Ok(out)
    }

    pub(crate) fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        let address = normalize_address(address)?;
        if !self.is_local_domain(domain_of(&address))? {
            return Ok(RecipientKind::Remote);
        }
        if self.resolve_recipient(&address)?.is_empty() {
            Ok(RecipientKind::UnknownLocal)
        } else {
            Ok(RecipientKind::Local)
        }
    }
}

fn push_unique(out: &mut Vec<Destination>, d: Destination) {
    if !out.contains(&d) {
        out.push(d);
    }
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
