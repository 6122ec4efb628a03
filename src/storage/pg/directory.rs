//! Domains, accounts (argon2id password hashes) and aliases, and recipient resolution, in the
//! `domains`, `accounts` and `aliases` tables. The rules (names, hashing, alias expansion)
//! are the ones every backend shares (`storage::directory`); this file only stores.
//!
//! Several nodes may change the directory at once. Every change to a domain's accounts or
//! aliases first locks the domain's row, so the checks that keep an address from being both
//! an account and an alias, and a domain from being deleted under a new account, hold across
//! nodes; the primary keys back them up (a unique violation is reported as Exists). Every
//! change notifies the settings channel with `"{node} directory"` so that other nodes reload.

use super::dircache::{CachedLookup, Lookup};
use super::directory_helpers::{exists_on_unique, from_db, notify_directory, to_db};
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::directory::*;
use crate::storage::folders::DEFAULT_FOLDERS;
use crate::storage::{now_secs, StorageError};

/// Locks domain `name`'s row until the end of the transaction: NotFound if there is none.
fn lock_domain(tx: &mut Tx<'_>, name: &str) -> Result<(), StorageError> {
    let found = tx
        .query_opt("SELECT 1 FROM domains WHERE name = $1 FOR UPDATE", &[&name])
        .map_err(pg_error)?;
    match found {
        Some(_) => Ok(()),
        None => Err(StorageError::NotFound(format!("domain {name}"))),
    }
}

fn exists(c: &mut impl Db, sql: &str, key: &str) -> Result<bool, StorageError> {
    Ok(c.query_opt(sql, &[&key]).map_err(pg_error)?.is_some())
}

fn is_account(c: &mut impl Db, address: &str) -> Result<bool, StorageError> {
    exists(c, "SELECT 1 FROM accounts WHERE address = $1", address)
}

fn is_alias(c: &mut impl Db, address: &str) -> Result<bool, StorageError> {
    exists(c, "SELECT 1 FROM aliases WHERE alias = $1 LIMIT 1", address)
}

/// The stored record of a normalised address.
pub(crate) fn account_record(
    c: &mut impl Db,
    address: &str,
) -> Result<Option<AccountRecord>, StorageError> {
    let row = c
        .query_opt(
            "SELECT address, hash, admin, created, disabled FROM accounts WHERE address = $1",
            &[&address],
        )
        .map_err(pg_error)?;
    Ok(row.map(|r| AccountRecord {
        address: r.get(0),
        hash: r.get(1),
        admin: r.get(2),
        created: from_db(r.get(3)),
        disabled: r.get(4),
    }))
}

impl PgStore {
    // ---- domains ----
    pub(crate) fn add_domain(&self, name: &str) -> Result<(), StorageError> {
        let name = normalize_domain(name)?;
        self.dir_tx(|tx| {
            let inserted = tx
                .execute(
                    "INSERT INTO domains (name, created) VALUES ($1, $2)
                     ON CONFLICT (name) DO NOTHING",
                    &[&name, &to_db(now_secs())],
                )
                .map_err(pg_error)?;
            if inserted == 0 {
                return Err(StorageError::Exists(format!("domain {name}")));
            }
            notify_directory(self, tx)
        })
    }

    pub(crate) fn del_domain(&self, name: &str) -> Result<(), StorageError> {
        let name = normalize_domain(name)?;
        self.dir_tx(|tx| {
            lock_domain(tx, &name)?;
            let accounts: i64 = tx
                .query_one("SELECT count(*) FROM accounts WHERE domain = $1", &[&name])
                .map_err(pg_error)?
                .get(0);
            if accounts > 0 {
                return Err(StorageError::Conflict(format!(
                    "domain {name} still has {accounts} account(s); delete them first"
                )));
            }
            tx.execute(
                "DELETE FROM aliases WHERE right(alias, length($1) + 1) = '@' || $1",
                &[&name],
            )
            .map_err(pg_error)?;
            tx.execute("DELETE FROM domains WHERE name = $1", &[&name])
                .map_err(pg_error)?;
            super::sender_rights::drop_domain_rights(tx, &name)?;
            super::fetch::drop_sources_tx(self, tx, &name)?;
            notify_directory(self, tx)
        })
    }

    pub(crate) fn list_domains(&self) -> Result<Vec<String>, StorageError> {
        self.pool().with(|c| {
            Ok(
                c.query("SELECT name FROM domains ORDER BY name COLLATE \"C\"", &[])
                    .map_err(pg_error)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect(),
            )
        })
    }

    pub(crate) fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        if self.dir_cache().active() {
            return CachedLookup::new(self).is_local_domain(name);
        }
        self.pool().with(|c| Lookup(c).is_local_domain(name))
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
        self.dir_tx(|tx| {
            lock_domain(tx, &domain)?;
            if is_account(tx, &address)? {
                return Err(StorageError::Exists(format!("account {address}")));
            }
            if is_alias(tx, &address)? {
                return Err(StorageError::Exists(format!("alias {address}")));
            }
            let rec = AccountRecord {
                address: address.clone(),
                hash: hash.clone(),
                admin,
                created: now_secs(),
                disabled: false,
            };
            tx.execute(
                "INSERT INTO accounts (address, domain, hash, admin, created)
                 VALUES ($1, $2, $3, $4, $5)",
                &[&address, &domain, &rec.hash, &admin, &to_db(rec.created)],
            )
            .map_err(exists_on_unique(format!("account {address}")))?;
            for (name, special_use) in DEFAULT_FOLDERS {
                super::folders::create_folder_tx(self, tx, &address, name, special_use)?;
            }
            super::quota::init_quota(tx, &address)?;
            super::davstore::make_defaults(tx, &address)?;
            notify_directory(self, tx)?;
            Ok(rec.account())
        })
    }

    pub(crate) fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        let hash = new_password_hash(password)?;
        self.dir_tx(|tx| {
            let changed = tx
                .execute(
                    "UPDATE accounts SET hash = $2 WHERE address = $1",
                    &[&address, &hash],
                )
                .map_err(pg_error)?;
            if changed == 0 {
                return Err(StorageError::NotFound(format!("account {address}")));
            }
            notify_directory(self, tx)
        })
    }

    pub(crate) fn set_admin(&self, address: &str, admin: bool) -> Result<(), StorageError> {
        self.set_account_flag(
            address,
            "UPDATE accounts SET admin = $2 WHERE address = $1",
            admin,
        )
    }

    pub(crate) fn set_disabled(&self, address: &str, disabled: bool) -> Result<(), StorageError> {
        self.set_account_flag(
            address,
            "UPDATE accounts SET disabled = $2 WHERE address = $1",
            disabled,
        )
    }

    /// Runs `sql` (`$1` the address, `$2` the value) and tells the other nodes.
    fn set_account_flag(&self, address: &str, sql: &str, value: bool) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        self.dir_tx(|tx| {
            let changed = tx.execute(sql, &[&address, &value]).map_err(pg_error)?;
            if changed == 0 {
                return Err(StorageError::NotFound(format!("account {address}")));
            }
            notify_directory(self, tx)
        })
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        self.pool().with(|c| {
            Ok(c.query(
                "SELECT address, admin, created, disabled FROM accounts
                 ORDER BY address COLLATE \"C\"",
                &[],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| Account {
                address: r.get(0),
                admin: r.get(1),
                created: from_db(r.get(2)),
                disabled: r.get(3),
            })
            .collect())
        })
    }

    /// The record a login names (`None` for no account, or a login that is no address).
    fn login_record(&self, login: &str) -> Result<Option<AccountRecord>, StorageError> {
        let Ok(address) = normalize_address(login) else {
            return Ok(None);
        };
        self.pool().with(|c| account_record(c, &address))
    }

    pub(crate) fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        Ok(self.login_record(address)?.map(|r| r.account()))
    }

    pub(crate) fn account_stamp(
        &self,
        login: &str,
    ) -> Result<Option<(String, [u8; 32])>, StorageError> {
        stamp_of(self.login_record(login)?)
    }

    pub(crate) fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<AuthOutcome, StorageError> {
        check_login(self.login_record(login)?, password)
    }

    // ---- aliases ----
    pub(crate) fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        let (alias, target, domain) = alias_pair(alias, target)?;
        self.dir_tx(|tx| {
            lock_domain(tx, &domain)?;
            if is_account(tx, &alias)? {
                return Err(StorageError::Conflict(format!(
                    "{alias} is an account; an address cannot be both an account and an alias"
                )));
            }
            let exists = format!("alias {alias} -> {target}");
            let inserted = tx
                .execute(
                    "INSERT INTO aliases (alias, target, pos)
                     SELECT $1, $2, coalesce(max(pos) + 1, 0) FROM aliases WHERE alias = $1
                     ON CONFLICT (alias, target) DO NOTHING",
                    &[&alias, &target],
                )
                .map_err(exists_on_unique(exists.clone()))?;
            if inserted == 0 {
                return Err(StorageError::Exists(exists));
            }
            notify_directory(self, tx)
        })
    }

    pub(crate) fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
        let alias = normalize_address(alias)?;
        let target = target.map(normalize_address).transpose()?;
        self.dir_tx(|tx| {
            let deleted = match &target {
                Some(t) => tx.execute(
                    "DELETE FROM aliases WHERE alias = $1 AND target = $2",
                    &[&alias, t],
                ),
                None => tx.execute("DELETE FROM aliases WHERE alias = $1", &[&alias]),
            }
            .map_err(pg_error)?;
            if deleted == 0 {
                let whole = target.is_none() || !is_alias(tx, &alias)?;
                return Err(StorageError::NotFound(match (&target, whole) {
                    (Some(t), false) => format!("alias {alias} -> {t}"),
                    _ => format!("alias {alias}"),
                }));
            }
            notify_directory(self, tx)
        })
    }

    pub(crate) fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        let rows = self.pool().with(|c| {
            c.query(
                "SELECT alias, target FROM aliases ORDER BY alias COLLATE \"C\", pos",
                &[],
            )
            .map_err(pg_error)
        })?;
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in rows {
            let (alias, target): (String, String) = (r.get(0), r.get(1));
            match out.last_mut() {
                Some((last, targets)) if *last == alias => targets.push(target),
                _ => out.push((alias, vec![target])),
            }
        }
        Ok(out)
    }

    pub(crate) fn resolve_recipient(
        &self,
        address: &str,
    ) -> Result<Vec<Destination>, StorageError> {
        let address = normalize_address(address)?;
        if self.dir_cache().active() {
            return resolve(&mut CachedLookup::new(self), &address);
        }
        self.pool().with(|c| resolve(&mut Lookup(c), &address))
    }

    pub(crate) fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        let address = normalize_address(address)?;
        if self.dir_cache().active() {
            return classify(&mut CachedLookup::new(self), &address);
        }
        self.pool().with(|c| classify(&mut Lookup(c), &address))
    }
}

#[cfg(test)]
#[path = "directory_tests.rs"]
mod tests;
