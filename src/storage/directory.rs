//! Domains, accounts (argon2id password hashes) and aliases, and recipient resolution.
//!
//! Names are stored lowercase: domains are case-insensitive (RFC 5321 §2.4), and although local
//! parts may be case-sensitive, every mail server in use treats them as not, and so do we.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};

use super::acl::tx_remove_acl_entry;
use super::blobs::RefDelta;
use super::folders::{tx_create_folder, tx_drop_folder, DEFAULT_FOLDERS};
use super::keys::{self, tx_get, tx_put, TreeIx};
use super::quota::{tx_drop_quota, tx_init_quota};
use super::sender_rights::tx_drop_sender_rights;
use super::{abort, now_secs, StorageError, Store};

/// Alias chains deeper than this are cut (and logged).
const MAX_ALIAS_DEPTH: usize = 10;

static FAST_HASHING: AtomicBool = AtomicBool::new(false);

/// Use cheap argon2 parameters (m=256 KiB, t=1, p=1) for hashes made from now on. For tests
/// only: hashes made either way verify either way, since PHC strings carry their parameters.
pub fn set_fast_password_hashing_for_tests(fast: bool) {
    FAST_HASHING.store(fast, Ordering::Relaxed);
}

fn hasher() -> Argon2<'static> {
    if FAST_HASHING.load(Ordering::Relaxed) {
        if let Ok(params) = Params::new(256, 1, 1, None) {
            return Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        }
    }
    Argon2::default()
}

fn hash_password(password: &str) -> Result<String, StorageError> {
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>())
        .map_err(|e| StorageError::Invalid(format!("cannot make a password salt: {e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StorageError::Invalid(format!("cannot hash the password: {e}")))
}

/// Verify in constant time (argon2 compares its outputs in constant time).
fn password_matches(password: &str, phc: &str) -> Result<bool, StorageError> {
    let parsed = PasswordHash::new(phc)
        .map_err(|e| StorageError::Encoding(format!("stored password hash: {e}")))?;
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when the login names no account, so that a miss costs as much as a
/// wrong password. One per parameter set.
fn dummy_hash() -> Result<&'static str, StorageError> {
    static FAST: OnceLock<String> = OnceLock::new();
    static NORMAL: OnceLock<String> = OnceLock::new();
    let cell = if FAST_HASHING.load(Ordering::Relaxed) {
        &FAST
    } else {
        &NORMAL
    };
    if let Some(h) = cell.get() {
        return Ok(h);
    }
    let h = hash_password(&hex::encode(rand::random::<[u8; 16]>()))?;
    Ok(cell.get_or_init(|| h))
}

/// An account as callers see it (the hash stays inside storage).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub address: String,
    pub admin: bool,
    /// Unix seconds.
    pub created: u64,
}

/// The result of checking a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    Ok(Account),
    BadPassword { address: String },
    NoSuchAccount,
}

/// Where a recipient's mail goes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Destination {
    /// A local account's address.
    Local(String),
    /// An address in a domain that is not local.
    Remote(String),
}

/// What RCPT TO needs to know about an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecipientKind {
    /// A local domain, and the address resolves to at least one destination.
    Local,
    /// A local domain, but no such user.
    UnknownLocal,
    /// The domain is not local.
    Remote,
}

#[derive(Serialize, Deserialize)]
struct DomainRecord {
    created: u64,
}

#[derive(Serialize, Deserialize)]
struct AccountRecord {
    address: String,
    /// PHC string.
    hash: String,
    admin: bool,
    created: u64,
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

/// Lowercase and check a domain name: dot-separated labels of letters, digits and inner
/// hyphens (RFC 1035 §2.3.1; non-ASCII letters allowed for SMTPUTF8 domains), at most 253
/// characters. A trailing dot is dropped.
pub(crate) fn normalize_domain(name: &str) -> Result<String, StorageError> {
    let lower = name.strip_suffix('.').unwrap_or(name).to_lowercase();
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    if lower.is_empty() || lower.len() > 253 || !lower.split('.').all(label_ok) {
        return Err(StorageError::Invalid(format!(
            "invalid domain name {name:?}"
        )));
    }
    Ok(lower)
}

/// Lowercase and check `local@domain` (the last `@` splits). The local part is 1 to 64 bytes
/// without spaces, controls or the specials that need quoting (RFC 5321 §4.1.2 dot-string).
pub(crate) fn normalize_address(address: &str) -> Result<String, StorageError> {
    let invalid = || StorageError::Invalid(format!("invalid address {address:?}"));
    let (local, domain) = address.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !local
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"(),:;<>@[\\]".contains(c));
    if !local_ok {
        return Err(invalid());
    }
    let domain = normalize_domain(domain).map_err(|_| invalid())?;
    Ok(format!("{}@{domain}", local.to_lowercase()))
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

impl Store {
    // ---- domains ----

    pub fn add_domain(&self, name: &str) -> Result<(), StorageError> {
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

    /// Delete a domain and its aliases. Conflict while accounts remain in it.
    pub fn del_domain(&self, name: &str) -> Result<(), StorageError> {
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

    /// Local domains, sorted.
    pub fn list_domains(&self) -> Result<Vec<String>, StorageError> {
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

    pub fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        match normalize_domain(name) {
            Ok(name) => Ok(self.tree(TreeIx::Domains).contains_key(name.as_bytes())?),
            Err(_) => Ok(false),
        }
    }

    // ---- accounts ----

    /// Create an account in an existing domain, with its default folders (INBOX, Drafts, Sent,
    /// Trash, Junk, Archive), in one transaction.
    pub fn add_account(
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

    /// Delete an account with its folders and messages (their blob references released), its
    /// quota, and its entries in other folders' ACLs. Aliases pointing at it stay (they then
    /// resolve to nothing there).
    pub fn del_account(&self, address: &str) -> Result<(), StorageError> {
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

    pub fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
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

    /// Every account, sorted by address.
    pub fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.tree(TreeIx::Accounts)
            .iter()
            .values()
            .map(|v| Ok(keys::decode::<AccountRecord>(&v?, "account")?.account()))
            .collect()
    }

    pub fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        Ok(self.account_record(address)?.map(|r| r.account()))
    }

    fn account_record(&self, address: &str) -> Result<Option<AccountRecord>, StorageError> {
        match normalize_address(address) {
            Ok(a) => keys::get(self.tree(TreeIx::Accounts), a.as_bytes(), "account"),
            Err(_) => Ok(None),
        }
    }

    /// The address of the account a login names and a SHA-256 digest of its stored record
    /// (password hash included); `None` when no account has that name. The credential cache
    /// keeps the digest with a verified login and trusts it only while the digest is
    /// unchanged, so any change to the account — a new password, a flag added later such
    /// as a disable switch — or its deletion ends the cached login, whichever path made it.
    pub fn account_stamp(&self, login: &str) -> Result<Option<(String, [u8; 32])>, StorageError> {
        use sha2::{Digest, Sha256};
        let Ok(address) = normalize_address(login) else {
            return Ok(None);
        };
        let Some(raw) = self.tree(TreeIx::Accounts).get(address.as_bytes())? else {
            return Ok(None);
        };
        Ok(Some((address, Sha256::digest(&raw).into())))
    }

    /// Check a login (the account address, any case). A login naming no account is verified
    /// against a dummy hash so that it takes as long as a wrong password.
    pub fn verify_password(
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

    /// Add `target` to alias `alias`. The alias's domain must be local and the alias must not
    /// be an account; the target is a local account, another alias or a remote address.
    pub fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
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

    /// Remove one target of an alias, or (with `None`) the whole alias.
    pub fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
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

    /// Every alias with its targets, sorted by alias.
    pub fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        keys::list_named(self.tree(TreeIx::Aliases), "alias")
    }

    fn alias_targets(&self, alias: &str) -> Result<Option<Vec<String>>, StorageError> {
        keys::get(self.tree(TreeIx::Aliases), alias.as_bytes(), "alias")
    }

    /// Resolve a recipient to its destinations: domain and local part compared lowercase,
    /// aliases followed recursively (each address once, at most 10 deep), plus-addressing
    /// (`user+tag@dom` reaches `user@dom` unless an account or alias is named exactly
    /// `user+tag@dom`). Deduplicated, in discovery order. Empty for a local domain means "no
    /// such user".
    pub fn resolve_recipient(&self, address: &str) -> Result<Vec<Destination>, StorageError> {
        let address = normalize_address(address)?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.expand(&address, 0, &mut seen, &mut out)?;
        Ok(out)
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

    /// Classify a recipient for RCPT TO.
    pub fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
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
