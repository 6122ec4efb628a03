//! TOTP state (`totp`) and API keys (`api_keys`) of `storage::webauth`, see
//! `migrations/0002_webauth.sql`. Both tables reference `accounts` with `ON DELETE CASCADE`,
//! so an account's deletion takes them in its transaction and no node can add one for an
//! account that is gone. They are read at each use (no per-node cache), so a change needs
//! no announcement to the other nodes.

use postgres::Row;

use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::directory::normalize_address;
use crate::storage::traits::WebAuth;
use crate::storage::webauth::{ApiKeyRecord, TotpState};
use crate::storage::StorageError;

const KEY_COLUMNS: &str = "id, name, owner, scope, digest, created, last_used";

fn int(n: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(n).map_err(|_| StorageError::Invalid(format!("{what} {n} is out of range")))
}

fn uint(n: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(|_| StorageError::Encoding(format!("{what} {n} is out of range")))
}

fn totp_of(row: &Row) -> Result<TotpState, StorageError> {
    Ok(TotpState {
        secret: row.get("secret"),
        enabled: row.get("enabled"),
        recovery: row.get("recovery"),
        last_step: uint(row.get("last_step"), "TOTP step")?,
    })
}

fn key_of(row: &Row) -> Result<ApiKeyRecord, StorageError> {
    Ok(ApiKeyRecord {
        id: row.get("id"),
        name: row.get("name"),
        owner: row.get("owner"),
        scope: row.get("scope"),
        digest: row.get("digest"),
        created: uint(row.get("created"), "API key creation time")?,
        last_used: row
            .get::<_, Option<i64>>("last_used")
            .map(|t| uint(t, "API key use time"))
            .transpose()?,
    })
}

/// Inserts `account`'s TOTP state, replacing any; false when there is no such account.
pub(crate) fn put_totp(
    c: &mut impl Db,
    account: &str,
    state: &TotpState,
) -> Result<bool, StorageError> {
    let n = c
        .execute(
            "INSERT INTO totp (account, secret, enabled, recovery, last_step)
             SELECT address, $2, $3, $4, $5 FROM accounts WHERE address = $1
             ON CONFLICT (account) DO UPDATE SET secret = EXCLUDED.secret,
               enabled = EXCLUDED.enabled, recovery = EXCLUDED.recovery,
               last_step = EXCLUDED.last_step",
            &[
                &account,
                &state.secret,
                &state.enabled,
                &state.recovery,
                &int(state.last_step, "TOTP step")?,
            ],
        )
        .map_err(pg_error)?;
    Ok(n == 1)
}

/// Inserts a new API key; false when its owner is no account.
pub(crate) fn put_key(c: &mut impl Db, key: &ApiKeyRecord) -> Result<bool, StorageError> {
    let n = c
        .execute(
            "INSERT INTO api_keys (id, name, owner, scope, digest, created, last_used)
             SELECT $1, $2, address, $4, $5, $6, $7 FROM accounts WHERE address = $3",
            &[
                &key.id,
                &key.name,
                &key.owner,
                &key.scope,
                &key.digest,
                &int(key.created, "API key creation time")?,
                &key.last_used
                    .map(|t| int(t, "API key use time"))
                    .transpose()?,
            ],
        )
        .map_err(pg_error)?;
    Ok(n == 1)
}

/// Every account's TOTP state, by account.
pub(crate) fn totp_rows(c: &mut impl Db) -> Result<Vec<(String, TotpState)>, StorageError> {
    c.query(
        "SELECT account, secret, enabled, recovery, last_step FROM totp
         ORDER BY account COLLATE \"C\"",
        &[],
    )
    .map_err(pg_error)?
    .iter()
    .map(|row| Ok((row.get("account"), totp_of(row)?)))
    .collect()
}

/// Every API key, by id.
pub(crate) fn key_rows(c: &mut impl Db) -> Result<Vec<ApiKeyRecord>, StorageError> {
    c.query(
        &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY id COLLATE \"C\""),
        &[],
    )
    .map_err(pg_error)?
    .iter()
    .map(key_of)
    .collect()
}

impl PgStore {
    /// Runs `change` on `account`'s enabled TOTP state with its row locked; it answers
    /// whether to store the changed state (and so the call's answer).
    fn totp_change(
        &self,
        account: &str,
        change: impl Fn(&mut TotpState) -> bool + Send + Sync,
    ) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        self.pool().tx(|tx| {
            let Some(row) = tx
                .query_opt(
                    "SELECT secret, enabled, recovery, last_step FROM totp
                     WHERE account = $1 FOR UPDATE",
                    &[&account],
                )
                .map_err(pg_error)?
            else {
                return Ok(false);
            };
            let mut state = totp_of(&row)?;
            if !state.enabled || !change(&mut state) {
                return Ok(false);
            }
            tx.execute(
                "UPDATE totp SET recovery = $2, last_step = $3 WHERE account = $1",
                &[
                    &account,
                    &state.recovery,
                    &int(state.last_step, "TOTP step")?,
                ],
            )
            .map_err(pg_error)?;
            Ok(true)
        })
    }
}

impl WebAuth for PgStore {
    fn totp_get(&self, account: &str) -> Result<Option<TotpState>, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(None);
        };
        self.pool().with(|c| {
            c.query_opt(
                "SELECT secret, enabled, recovery, last_step FROM totp WHERE account = $1",
                &[&account],
            )
            .map_err(pg_error)?
            .map(|row| totp_of(&row))
            .transpose()
        })
    }

    fn totp_put(&self, account: &str, state: &TotpState) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        if self.pool().with(|c| put_totp(c, &account, state))? {
            Ok(())
        } else {
            Err(StorageError::NotFound(format!("account {account}")))
        }
    }

    fn totp_delete(&self, account: &str) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        self.pool().with(|c| {
            let n = c
                .execute("DELETE FROM totp WHERE account = $1", &[&account])
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn totp_claim_step(&self, account: &str, step: u64) -> Result<bool, StorageError> {
        self.totp_change(account, |state| {
            if step <= state.last_step {
                return false;
            }
            state.last_step = step;
            true
        })
    }

    fn totp_use_recovery(&self, account: &str, digest: &[u8]) -> Result<bool, StorageError> {
        let digest = digest.to_vec();
        self.totp_change(account, move |state| {
            let before = state.recovery.len();
            state.recovery.retain(|d| *d != digest);
            state.recovery.len() != before
        })
    }

    fn totp_list(&self) -> Result<Vec<(String, TotpState)>, StorageError> {
        self.pool().with(totp_rows)
    }

    fn apikey_add(&self, key: &ApiKeyRecord) -> Result<(), StorageError> {
        let key = ApiKeyRecord {
            owner: normalize_address(&key.owner)?,
            ..key.clone()
        };
        self.pool().tx(|tx| {
            let taken = tx
                .query_opt("SELECT 1 FROM api_keys WHERE id = $1", &[&key.id])
                .map_err(pg_error)?;
            if taken.is_some() {
                return Err(StorageError::Exists(format!("API key {}", key.id)));
            }
            if put_key(tx, &key)? {
                Ok(())
            } else {
                Err(StorageError::NotFound(format!("account {}", key.owner)))
            }
        })
    }

    fn apikey_get(&self, id: &str) -> Result<Option<ApiKeyRecord>, StorageError> {
        self.pool().with(|c| {
            c.query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1"),
                &[&id],
            )
            .map_err(pg_error)?
            .map(|row| key_of(&row))
            .transpose()
        })
    }

    fn apikey_list(&self) -> Result<Vec<ApiKeyRecord>, StorageError> {
        self.pool().with(key_rows)
    }

    fn apikey_delete(&self, id: &str) -> Result<(), StorageError> {
        self.pool().with(|c| {
            let n = c
                .execute("DELETE FROM api_keys WHERE id = $1", &[&id])
                .map_err(pg_error)?;
            if n == 0 {
                return Err(StorageError::NotFound(format!("API key {id}")));
            }
            Ok(())
        })
    }

    fn apikey_touch(&self, id: &str, at: u64) -> Result<(), StorageError> {
        let at = int(at, "API key use time")?;
        self.pool().with(|c| {
            c.execute(
                "UPDATE api_keys SET last_used = $2 WHERE id = $1",
                &[&id, &at],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }
}
