//! Remembered devices (`storage::devices`) in `remembered_devices`, see
//! `migrations/0005_devices.sql`. The table references `accounts` with `ON DELETE CASCADE`,
//! so an account's deletion takes its devices and no node can add one for an account that
//! is gone. Rows are read at each login (no per-node cache), so a change needs no
//! announcement to the other nodes.

use postgres::Row;

use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::devices::{DeviceRecord, DeviceStore};
use crate::storage::directory::normalize_address;
use crate::storage::StorageError;

const COLUMNS: &str = "account, id, digest, label, created, last_used, expires";

fn int(n: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(n).map_err(|_| StorageError::Invalid(format!("{what} {n} is out of range")))
}

fn uint(n: i64, what: &str) -> Result<u64, StorageError> {
    u64::try_from(n).map_err(|_| StorageError::Encoding(format!("{what} {n} is out of range")))
}

fn device_of(row: &Row) -> Result<DeviceRecord, StorageError> {
    Ok(DeviceRecord {
        account: row.get("account"),
        id: row.get("id"),
        digest: row.get("digest"),
        label: row.get("label"),
        created: uint(row.get("created"), "device creation time")?,
        last_used: uint(row.get("last_used"), "device use time")?,
        expires: uint(row.get("expires"), "device expiry")?,
    })
}

/// Inserts a new device; false when its account is no account (`storage migrate` too).
pub(crate) fn put_device(c: &mut impl Db, d: &DeviceRecord) -> Result<bool, StorageError> {
    let n = c
        .execute(
            "INSERT INTO remembered_devices (account, id, digest, label, created, last_used, expires)
             SELECT address, $2, $3, $4, $5, $6, $7 FROM accounts WHERE address = $1",
            &[
                &d.account,
                &d.id,
                &d.digest,
                &d.label,
                &int(d.created, "device creation time")?,
                &int(d.last_used, "device use time")?,
                &int(d.expires, "device expiry")?,
            ],
        )
        .map_err(pg_error)?;
    Ok(n == 1)
}

/// Every device, by account then id.
pub(crate) fn device_rows(c: &mut impl Db) -> Result<Vec<DeviceRecord>, StorageError> {
    c.query(
        &format!(
            "SELECT {COLUMNS} FROM remembered_devices
             ORDER BY account COLLATE \"C\", id COLLATE \"C\""
        ),
        &[],
    )
    .map_err(pg_error)?
    .iter()
    .map(device_of)
    .collect()
}

impl DeviceStore for PgStore {
    fn device_add(&self, device: &DeviceRecord) -> Result<(), StorageError> {
        let device = DeviceRecord {
            account: normalize_address(&device.account)?,
            ..device.clone()
        };
        self.pool().tx(|tx| {
            let taken = tx
                .query_opt(
                    "SELECT 1 FROM remembered_devices WHERE account = $1 AND id = $2",
                    &[&device.account, &device.id],
                )
                .map_err(pg_error)?;
            if taken.is_some() {
                return Err(StorageError::Exists(format!("device {}", device.id)));
            }
            if put_device(tx, &device)? {
                Ok(())
            } else {
                Err(StorageError::NotFound(format!(
                    "account {}",
                    device.account
                )))
            }
        })
    }

    fn device_get(&self, account: &str, id: &str) -> Result<Option<DeviceRecord>, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(None);
        };
        self.pool().with(|c| {
            c.query_opt(
                &format!("SELECT {COLUMNS} FROM remembered_devices WHERE account = $1 AND id = $2"),
                &[&account, &id],
            )
            .map_err(pg_error)?
            .map(|row| device_of(&row))
            .transpose()
        })
    }

    fn device_list(&self, account: Option<&str>) -> Result<Vec<DeviceRecord>, StorageError> {
        let Some(account) = account else {
            return self.pool().with(device_rows);
        };
        let Ok(account) = normalize_address(account) else {
            return Ok(Vec::new());
        };
        self.pool().with(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM remembered_devices WHERE account = $1
                     ORDER BY id COLLATE \"C\""
                ),
                &[&account],
            )
            .map_err(pg_error)?
            .iter()
            .map(device_of)
            .collect()
        })
    }

    fn device_touch(&self, account: &str, id: &str, at: u64) -> Result<(), StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(());
        };
        let at = int(at, "device use time")?;
        self.pool().with(|c| {
            c.execute(
                "UPDATE remembered_devices SET last_used = $3 WHERE account = $1 AND id = $2",
                &[&account, &id, &at],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    fn device_delete(&self, account: &str, id: &str) -> Result<bool, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(false);
        };
        self.pool().with(|c| {
            let n = c
                .execute(
                    "DELETE FROM remembered_devices WHERE account = $1 AND id = $2",
                    &[&account, &id],
                )
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn device_delete_all(&self, account: &str) -> Result<u64, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(0);
        };
        self.pool().with(|c| {
            c.execute(
                "DELETE FROM remembered_devices WHERE account = $1",
                &[&account],
            )
            .map_err(pg_error)
        })
    }
}
