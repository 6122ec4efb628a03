//! DKIM signing keys (RFC 6376 §3.6) in the `dkim_keys` table: several selectors per
//! domain, one of them active.
//!
//! Unlike the embedded backend, which keeps each private key in a 0600 file of its data
//! directory, the private key is a column of the key's row: every node of a cluster signs
//! with the keys any node made, and a key and its private half are written and deleted in
//! one statement (no window where one exists without the other).
//!
//! Invariants, as with the embedded backend:
//! - At most one key per domain is active (also enforced by the `dkim_one_active` index);
//!   the first key of a domain becomes active, later ones only by [`PgStore::dkim_activate`].
//! - The active key cannot be deleted while the domain has other keys.
//!
//! Every write of one domain's keys takes the advisory lock "dkim DOMAIN" first, so those
//! checks hold with several nodes writing at once, and notifies the settings channel
//! ("NODE dkim") so that other nodes sign with the new key set.

use postgres::Row;

use super::pool::{pg_error, Db};
use super::settings::lock_named;
use super::PgStore;
use crate::storage::dkim::{dkim_domain, normalize_selector};
use crate::storage::{DkimAlgorithm, DkimKey, StorageError};

/// The columns [`key_of`] reads, in its order.
pub(super) const KEY_COLUMNS: &str = "domain, selector, algorithm, created, active, public_key";

pub(super) fn key_of(row: &Row) -> Result<DkimKey, StorageError> {
    let algorithm: &str = row.get(2);
    Ok(DkimKey {
        domain: row.get(0),
        selector: row.get(1),
        algorithm: DkimAlgorithm::parse(algorithm).ok_or_else(|| {
            StorageError::Encoding(format!("DKIM key: unknown algorithm {algorithm:?}"))
        })?,
        created: row.get(3),
        active: row.get(4),
        public_key: row.get(5),
    })
}

fn not_found(domain: &str, selector: &str) -> StorageError {
    StorageError::NotFound(format!("DKIM selector {selector} for {domain}"))
}

/// The keys of `domain` by selector (byte order, as the embedded backend lists them).
fn list(c: &mut impl Db, domain: &str) -> Result<Vec<DkimKey>, StorageError> {
    c.query(
        &format!(
            "SELECT {KEY_COLUMNS} FROM dkim_keys WHERE domain = $1
             ORDER BY selector COLLATE \"C\""
        ),
        &[&domain],
    )
    .map_err(pg_error)?
    .iter()
    .map(key_of)
    .collect()
}

/// Writes the row of `key` with its private key (`storage migrate` copies keys with it).
pub(super) fn insert_key(
    c: &mut impl Db,
    key: &DkimKey,
    private_pem: &[u8],
) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO dkim_keys
         (domain, selector, algorithm, created, active, public_key, private_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &key.domain,
            &key.selector,
            &key.algorithm.as_str(),
            &key.created,
            &key.active,
            &key.public_key,
            &private_pem,
        ],
    )
    .map_err(pg_error)?;
    Ok(())
}

impl PgStore {
    pub(crate) fn dkim_add(
        &self,
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        public_key: &str,
        private_pem: &[u8],
        created: i64,
    ) -> Result<DkimKey, StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        self.pool().tx(|tx| {
            lock_named(tx, &format!("dkim {domain}"))?;
            // Shares the domain's row lock: a concurrent `domain del` waits (or went first).
            let local = tx
                .query_opt(
                    "SELECT 1 FROM domains WHERE name = $1 FOR KEY SHARE",
                    &[&domain],
                )
                .map_err(pg_error)?
                .is_some();
            if !local {
                return Err(StorageError::Invalid(format!(
                    "{domain} is not a local domain (add it with 'domain add' first)"
                )));
            }
            let keys = list(tx, &domain)?;
            if keys.iter().any(|k| k.selector == selector) {
                return Err(StorageError::Exists(format!(
                    "DKIM selector {selector} for {domain}"
                )));
            }
            let key = DkimKey {
                domain: domain.clone(),
                selector: selector.clone(),
                algorithm,
                created,
                active: keys.is_empty(),
                public_key: public_key.to_string(),
            };
            insert_key(tx, &key, private_pem)?;
            self.notify_settings(tx, "dkim")?;
            Ok(key)
        })
    }

    pub(crate) fn dkim_list(&self, domain: &str) -> Result<Vec<DkimKey>, StorageError> {
        let domain = dkim_domain(domain)?;
        self.pool().with(|c| list(c, &domain))
    }

    pub(crate) fn dkim_active(&self, domain: &str) -> Result<Option<DkimKey>, StorageError> {
        let Ok(domain) = dkim_domain(domain) else {
            return Ok(None);
        };
        self.pool().with(|c| {
            c.query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM dkim_keys WHERE domain = $1 AND active"),
                &[&domain],
            )
            .map_err(pg_error)?
            .as_ref()
            .map(key_of)
            .transpose()
        })
    }

    pub(crate) fn dkim_activate(
        &self,
        domain: &str,
        selector: &str,
    ) -> Result<DkimKey, StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        self.pool().tx(|tx| {
            lock_named(tx, &format!("dkim {domain}"))?;
            let params: [&(dyn postgres::types::ToSql + Sync); 2] = [&domain, &selector];
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM dkim_keys WHERE domain = $1 AND selector = $2",
                    &params,
                )
                .map_err(pg_error)?
                .is_some();
            if !exists {
                return Err(not_found(&domain, &selector));
            }
            // Two statements: the one-active index is checked row by row, so the old key is
            // switched off before the new one is switched on.
            tx.execute(
                "UPDATE dkim_keys SET active = false
                 WHERE domain = $1 AND selector <> $2 AND active",
                &params,
            )
            .map_err(pg_error)?;
            let row = tx
                .query_one(
                    &format!(
                        "UPDATE dkim_keys SET active = true WHERE domain = $1 AND selector = $2
                         RETURNING {KEY_COLUMNS}"
                    ),
                    &params,
                )
                .map_err(pg_error)?;
            self.notify_settings(tx, "dkim")?;
            key_of(&row)
        })
    }

    pub(crate) fn dkim_delete(&self, domain: &str, selector: &str) -> Result<(), StorageError> {
        let domain = dkim_domain(domain)?;
        let selector = normalize_selector(selector)?;
        self.pool().tx(|tx| {
            lock_named(tx, &format!("dkim {domain}"))?;
            let keys = list(tx, &domain)?;
            let Some(target) = keys.iter().find(|k| k.selector == selector) else {
                return Err(not_found(&domain, &selector));
            };
            if target.active && keys.len() > 1 {
                return Err(StorageError::Conflict(format!(
                    "{selector} is the active DKIM key of {domain}; activate another selector first"
                )));
            }
            tx.execute(
                "DELETE FROM dkim_keys WHERE domain = $1 AND selector = $2",
                &[&domain, &selector],
            )
            .map_err(pg_error)?;
            self.notify_settings(tx, "dkim")
        })
    }

    /// The private key from the key's row (whichever node made it).
    pub(crate) fn dkim_private_key(&self, key: &DkimKey) -> Result<Vec<u8>, StorageError> {
        self.pool().with(|c| {
            c.query_opt(
                "SELECT private_key FROM dkim_keys WHERE domain = $1 AND selector = $2",
                &[&key.domain, &key.selector],
            )
            .map_err(pg_error)?
            .map(|row| row.get(0))
            .ok_or_else(|| {
                StorageError::NotFound(format!(
                    "DKIM private key of selector {} for {}",
                    key.selector, key.domain
                ))
            })
        })
    }
}
