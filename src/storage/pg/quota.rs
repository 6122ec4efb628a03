//! Per-account quota (RFC 9208) in the `quota` table: the limits and the usage counters,
//! changed in the same transactions as the messages they count ([`tx_add_usage`]), after
//! the folder rows those transactions lock. Public folders count against no quota.
//!
//! Storage is counted in bytes; IMAP reports KiB (rounding is the session's job).

use postgres::Row;

use super::directory_helpers::{from_db, notify_directory, to_db};
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::directory::normalize_address;
use crate::storage::quota::{quota_account, Quota};
use crate::storage::StorageError;

/// The quota of a row (storage_used, messages_used, storage_limit, messages_limit), where
/// a missing quota row (NULL usage) reads as nothing used and no limits.
fn quota_of(row: &Row) -> Quota {
    let used = |i: usize| row.get::<_, Option<i64>>(i).map(from_db).unwrap_or(0);
    let limit = |i: usize| row.get::<_, Option<i64>>(i).map(from_db);
    Quota {
        storage_used: used(0),
        messages_used: used(1),
        storage_limit: limit(2),
        messages_limit: limit(3),
    }
}

/// `account`'s quota; NotFound when there is no such account.
fn read_quota(c: &mut impl Db, account: &str) -> Result<Quota, StorageError> {
    let row = c
        .query_opt(
            "SELECT q.storage_used, q.messages_used, q.storage_limit, q.messages_limit
             FROM accounts a LEFT JOIN quota q ON q.account = a.address
             WHERE a.address = $1",
            &[&account],
        )
        .map_err(pg_error)?
        .ok_or_else(|| StorageError::NotFound(format!("account {account}")))?;
    Ok(quota_of(&row))
}

/// Gives a new account an empty quota row (no limits, nothing used), replacing any left over.
pub(crate) fn init_quota(tx: &mut Tx<'_>, account: &str) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO quota (account) VALUES ($1)
         ON CONFLICT (account) DO UPDATE SET storage_used = 0, messages_used = 0,
         storage_limit = NULL, messages_limit = NULL",
        &[&account],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Adds `bytes` and `messages` (either may be negative) to `owner`'s usage inside a message
/// write's transaction. A positive change that would take the usage over a limit is
/// OverQuota, and the caller's transaction should abort (RFC 9208 §4.2). No-op for public
/// folders (owner "").
pub(crate) fn tx_add_usage(
    tx: &mut Tx<'_>,
    owner: &str,
    bytes: i64,
    messages: i64,
) -> Result<(), StorageError> {
    if owner.is_empty() || (bytes == 0 && messages == 0) {
        return Ok(());
    }
    // One statement: the row is locked, changed (never below 0, as `Quota::charge` clamps)
    // and read back; a limit passed aborts the caller's transaction with the error.
    let row = tx
        .query_one(
            "INSERT INTO quota AS q (account, storage_used, messages_used)
             VALUES ($1, GREATEST($2::bigint, 0), GREATEST($3::bigint, 0))
             ON CONFLICT (account) DO UPDATE
             SET storage_used = GREATEST(q.storage_used + $2::bigint, 0),
                 messages_used = GREATEST(q.messages_used + $3::bigint, 0)
             RETURNING storage_used, messages_used, storage_limit, messages_limit",
            &[&owner, &bytes, &messages],
        )
        .map_err(pg_error)?;
    let quota = quota_of(&row);
    if bytes > 0
        && quota
            .storage_limit
            .is_some_and(|limit| quota.storage_used > limit)
    {
        return Err(StorageError::OverQuota {
            resource: "STORAGE",
        });
    }
    if messages > 0
        && quota
            .messages_limit
            .is_some_and(|limit| quota.messages_used > limit)
    {
        return Err(StorageError::OverQuota {
            resource: "MESSAGE",
        });
    }
    Ok(())
}

/// Writes `quota`'s usage (not its limits) for `account`.
fn set_usage(tx: &mut Tx<'_>, account: &str, quota: &Quota) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO quota (account, storage_used, messages_used) VALUES ($1, $2, $3)
         ON CONFLICT (account) DO UPDATE SET storage_used = EXCLUDED.storage_used,
         messages_used = EXCLUDED.messages_used",
        &[
            &account,
            &to_db(quota.storage_used),
            &to_db(quota.messages_used),
        ],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Recounts folder `id` from its messages and expunge records, as the embedded backend's
/// repair does: the counters follow the messages; known keywords are kept and those found
/// added; the \Recent watermark never passes UIDNEXT. Returns (size, messages).
fn recount_folder(tx: &mut Tx<'_>, id: i64) -> Result<(u64, u64), StorageError> {
    let row = tx
        .query_one(
            "SELECT count(*), coalesce(sum(size), 0)::bigint,
                    count(*) FILTER (WHERE system_flags & 1 = 0),
                    count(*) FILTER (WHERE system_flags & 8 <> 0)
             FROM messages WHERE folder = $1",
            &[&id],
        )
        .map_err(pg_error)?;
    let (exists, size, unseen, deleted): (i64, i64, i64, i64) =
        (row.get(0), row.get(1), row.get(2), row.get(3));
    let mut keywords: Vec<String> = tx
        .query_one("SELECT keywords FROM folders WHERE id = $1", &[&id])
        .map_err(pg_error)?
        .get(0);
    for row in tx
        .query(
            "SELECT k FROM messages, unnest(keywords) AS k WHERE folder = $1 ORDER BY uid",
            &[&id],
        )
        .map_err(pg_error)?
    {
        let k: String = row.get(0);
        if !keywords.iter().any(|x| x.eq_ignore_ascii_case(&k)) {
            keywords.push(k);
        }
    }
    tx.execute(
        "UPDATE folders SET exists_count = $2, size = $3, unseen = $4, deleted = $5,
         keywords = $6, recent_from = least(recent_from, uidnext),
         expunged_count = (SELECT count(*) FROM expunged WHERE folder = $1)
         WHERE id = $1",
        &[&id, &exists, &size, &unseen, &deleted, &keywords],
    )
    .map_err(pg_error)?;
    Ok((from_db(size), from_db(exists)))
}

impl PgStore {
    pub(crate) fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError> {
        let account = quota_account(account)?;
        let (storage, count) = (storage_bytes.map(to_db), messages.map(to_db));
        self.pool().tx(|tx| {
            if tx
                .query_opt("SELECT 1 FROM accounts WHERE address = $1", &[&account])
                .map_err(pg_error)?
                .is_none()
            {
                return Err(StorageError::NotFound(format!("account {account}")));
            }
            tx.execute(
                "INSERT INTO quota (account, storage_limit, messages_limit) VALUES ($1, $2, $3)
                 ON CONFLICT (account) DO UPDATE SET storage_limit = EXCLUDED.storage_limit,
                 messages_limit = EXCLUDED.messages_limit",
                &[&account, &storage, &count],
            )
            .map_err(pg_error)?;
            notify_directory(self, tx)
        })
    }

    /// Recounts every folder of `account` and sets its usage to their sum, in one
    /// transaction holding the folders' rows (so no message write of theirs runs meanwhile).
    pub(crate) fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError> {
        let account = normalize_address(account)?;
        self.pool().tx(|tx| {
            read_quota(tx, &account)?;
            let ids: Vec<i64> = tx
                .query(
                    "SELECT id FROM folders WHERE account = $1 ORDER BY id FOR UPDATE",
                    &[&account],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let mut usage = Quota::default();
            for id in ids {
                let (size, count) = recount_folder(tx, id)?;
                usage.storage_used = usage.storage_used.saturating_add(size);
                usage.messages_used = usage.messages_used.saturating_add(count);
            }
            // WebDAV files count against the storage limit too (storage::davfiles).
            let files: i64 = tx
                .query_one(
                    "SELECT COALESCE(SUM(size), 0)::bigint FROM dav_files WHERE account = $1",
                    &[&account],
                )
                .map_err(pg_error)?
                .get(0);
            usage.storage_used = usage.storage_used.saturating_add(from_db(files));
            set_usage(tx, &account, &usage)?;
            read_quota(tx, &account)
        })
    }

    pub(crate) fn quota(&self, account: &str) -> Result<Quota, StorageError> {
        let account = normalize_address(account)?;
        self.pool().with(|c| read_quota(c, &account))
    }
}
