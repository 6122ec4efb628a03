//! Outbound TLS policy state: the MTA-STS policy cache (RFC 8461 §5.1, table `mta_sts`) and
//! the per-day TLS report counters (RFC 8460 §4, table `tlsrpt`). Shared by the nodes, so a
//! policy one node fetched serves every node, and the day's report counts every node's
//! deliveries. A cache and statistics: no notifications.

use super::pool::{pg_error, Db};
use super::settings::{decode, encode};
use super::PgStore;
use crate::storage::tlspolicy::add_result;
use crate::storage::{CachedStsPolicy, StorageError, TlsPolicyCounts, TlsResult};

impl PgStore {
    pub(crate) fn mta_sts_get(
        &self,
        domain: &str,
    ) -> Result<Option<CachedStsPolicy>, StorageError> {
        let domain = domain.to_ascii_lowercase();
        self.pool().with(|c| {
            Ok(c.query_opt(
                "SELECT id, text, fetched_at, expires_at FROM mta_sts WHERE domain = $1",
                &[&domain],
            )
            .map_err(pg_error)?
            .map(|row| CachedStsPolicy {
                id: row.get(0),
                text: row.get(1),
                fetched_at: row.get(2),
                expires_at: row.get(3),
            }))
        })
    }

    pub(crate) fn mta_sts_put(
        &self,
        domain: &str,
        p: &CachedStsPolicy,
    ) -> Result<(), StorageError> {
        let domain = domain.to_ascii_lowercase();
        self.pool().with(|c| {
            c.execute(
                "INSERT INTO mta_sts (domain, id, text, fetched_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (domain) DO UPDATE SET id = EXCLUDED.id, text = EXCLUDED.text,
                 fetched_at = EXCLUDED.fetched_at, expires_at = EXCLUDED.expires_at",
                &[&domain, &p.id, &p.text, &p.fetched_at, &p.expires_at],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    /// Adds `r` to the day's counts under the row's lock, so that nodes counting at once
    /// add up (the row is made empty first when it is the day's first result).
    pub(crate) fn tlsrpt_add(
        &self,
        day: u32,
        domain: &str,
        r: &TlsResult,
    ) -> Result<(), StorageError> {
        let domain = domain.to_ascii_lowercase();
        let day = i64::from(day);
        let empty = encode(&Vec::<TlsPolicyCounts>::new())?;
        self.pool().tx(|tx| {
            tx.execute(
                "INSERT INTO tlsrpt (day, domain, counts) VALUES ($1, $2, $3)
                 ON CONFLICT (day, domain) DO NOTHING",
                &[&day, &domain, &empty],
            )
            .map_err(pg_error)?;
            let row = tx
                .query_one(
                    "SELECT counts FROM tlsrpt WHERE day = $1 AND domain = $2 FOR UPDATE",
                    &[&day, &domain],
                )
                .map_err(pg_error)?;
            // Counts that cannot be read are started afresh (these are statistics).
            let mut counts: Vec<TlsPolicyCounts> =
                decode(row.get(0), "TLS report").unwrap_or_default();
            add_result(&mut counts, r);
            tx.execute(
                "UPDATE tlsrpt SET counts = $3 WHERE day = $1 AND domain = $2",
                &[&day, &domain, &encode(&counts)?],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    pub(crate) fn tlsrpt_list(
        &self,
    ) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError> {
        self.pool().with(|c| {
            c.query(
                "SELECT day, domain, counts FROM tlsrpt ORDER BY day, domain COLLATE \"C\"",
                &[],
            )
            .map_err(pg_error)?
            .iter()
            .map(|row| {
                let day: i64 = row.get(0);
                let day = u32::try_from(day).map_err(|_| {
                    StorageError::Encoding(format!("TLS report day {day} out of range"))
                })?;
                Ok((day, row.get(1), decode(row.get(2), "TLS report")?))
            })
            .collect()
        })
    }

    pub(crate) fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError> {
        let domain = domain.to_ascii_lowercase();
        self.pool().with(|c| {
            c.execute(
                "DELETE FROM tlsrpt WHERE day = $1 AND domain = $2",
                &[&i64::from(day), &domain],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }
}
