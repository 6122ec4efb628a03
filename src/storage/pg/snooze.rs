//! Snooze records (`storage::snooze`) in table `snooze` (`migrations/0004_snooze.sql`),
//! indexed by wake time for the next due record and by account for its list. Every write
//! is one statement, durable when it returns; every node reads the table, so a record
//! one node wrote is woken by any (the waker copes with a record another node woke
//! first: its message is no longer where the record says).

use postgres::Row;

use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::snooze::{SnoozeRecord, SnoozeStore};
use crate::storage::StorageError;

pub(crate) const COLUMNS: &str = "id, account, wake, folder, from_uid, snoozed_uid, email_id";

fn uid(n: i64) -> Result<u32, StorageError> {
    u32::try_from(n).map_err(|_| StorageError::Encoding(format!("snoozed UID {n} is out of range")))
}

pub(crate) fn record_of(row: &Row) -> Result<SnoozeRecord, StorageError> {
    let id: i64 = row.get("id");
    Ok(SnoozeRecord {
        id: u64::try_from(id)
            .map_err(|_| StorageError::Encoding(format!("snooze id {id} is out of range")))?,
        account: row.get("account"),
        wake: row.get("wake"),
        folder: row.get("folder"),
        from_uid: uid(row.get("from_uid"))?,
        snoozed_uid: row
            .get::<_, Option<i64>>("snoozed_uid")
            .map(uid)
            .transpose()?,
        email_id: row.get("email_id"),
    })
}

/// Stores `rec`, replacing the record of its id (`storage migrate` calls it too).
pub(crate) fn insert(c: &mut impl Db, rec: &SnoozeRecord) -> Result<(), StorageError> {
    rec.validate()?;
    let id = rec.id as i64;
    let from_uid = i64::from(rec.from_uid);
    let snoozed_uid = rec.snoozed_uid.map(i64::from);
    let account = rec.account.to_ascii_lowercase();
    c.execute(
        "INSERT INTO snooze (id, account, wake, folder, from_uid, snoozed_uid, email_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET account = EXCLUDED.account,
         wake = EXCLUDED.wake, folder = EXCLUDED.folder, from_uid = EXCLUDED.from_uid,
         snoozed_uid = EXCLUDED.snoozed_uid, email_id = EXCLUDED.email_id",
        &[
            &id,
            &account,
            &rec.wake,
            &rec.folder,
            &from_uid,
            &snoozed_uid,
            &rec.email_id,
        ],
    )
    .map_err(pg_error)?;
    Ok(())
}

impl PgStore {
    /// The records `sql` (a `WHERE … ORDER BY …` tail) selects with `params`.
    fn snooze_select(
        &self,
        tail: &str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<SnoozeRecord>, StorageError> {
        let sql = format!("SELECT {COLUMNS} FROM snooze {tail}");
        self.pool().with(|c| {
            c.query(&sql, params)
                .map_err(pg_error)?
                .iter()
                .map(record_of)
                .collect()
        })
    }
}

impl SnoozeStore for PgStore {
    fn snooze_put(&self, rec: &SnoozeRecord) -> Result<(), StorageError> {
        self.pool().with(|c| insert(c, rec))
    }

    fn snooze_get(&self, id: u64) -> Result<Option<SnoozeRecord>, StorageError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        Ok(self
            .snooze_select("WHERE id = $1", &[&id])?
            .into_iter()
            .next())
    }

    fn snooze_delete(&self, id: u64) -> Result<bool, StorageError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(false);
        };
        self.pool().with(|c| {
            let n = c
                .execute("DELETE FROM snooze WHERE id = $1", &[&id])
                .map_err(pg_error)?;
            Ok(n > 0)
        })
    }

    fn snooze_due(&self, now: i64, max: usize) -> Result<Vec<SnoozeRecord>, StorageError> {
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.snooze_select("WHERE wake <= $1 ORDER BY wake, id LIMIT $2", &[&now, &max])
    }

    fn snooze_next(&self) -> Result<Option<i64>, StorageError> {
        self.pool().with(|c| {
            let row = c
                .query_one("SELECT min(wake) FROM snooze", &[])
                .map_err(pg_error)?;
            Ok(row.get::<_, Option<i64>>(0))
        })
    }

    fn snooze_of(&self, account: &str) -> Result<Vec<SnoozeRecord>, StorageError> {
        let account = account.to_ascii_lowercase();
        self.snooze_select("WHERE account = $1 ORDER BY wake, id", &[&account])
    }

    fn snooze_list(&self) -> Result<Vec<SnoozeRecord>, StorageError> {
        self.snooze_select("ORDER BY wake, id", &[])
    }
}
