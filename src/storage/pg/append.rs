//! A message append in one statement: the `ferry_append` function of migration 0012 does
//! what [`super::changes::Changes`] does for one added message (lock the folder row, insert
//! the message with uid = UIDNEXT and the next modseq, consume the queue recipient, write the
//! folder's counters and notify the other nodes, charge the owner's quota) on the server, so
//! that a local delivery is `BEGIN`, one call and `COMMIT` instead of eight round trips,
//! each made while the folder's row is locked (docs/benchmarks.md, k4). What needs Rust
//! stays here: the queue record's recipient check (a bincode record) is made on the record
//! as the caller last saw it, and the function writes the result in place only when the
//! stored bytes are still those (else Rust checks the stored record and updates or deletes
//! it in the same transaction: one more statement); the quota limits, and the blob
//! reference counts (`RefDelta`, with its 0 → 1 file check). Any refusal returns an error
//! before the commit, so the transaction rolls back whole.
//!
//! Messages with keywords take the statement-by-statement path (`Changes`), which keeps the
//! folder's keyword list.

use super::blobrefs::RefDelta;
use super::changes::to_i64;
use super::folders::db_id;
use super::pool::{pg_error, Db};
use super::queue::{blob_of, decode, encode, mark_delivered, not_in_queue, sql_id};
use super::PgStore;
use crate::storage::folders::{folder_not_found, Flags, FolderId, NewMessage};
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError};

/// The stored bytes expected, and what replaces them (`None`: the row is deleted).
type Expected = (Vec<u8>, Option<Vec<u8>>);

/// The record bytes the caller expects stored, and what to store instead (`None`: delete,
/// no recipient left), from `seen`, the record as the caller last saw it; `None` when
/// `seen` cannot consume `rcpt` (the stored record decides then).
fn expectation(
    seen: Option<&QueueRecord>,
    queue: QueueName,
    rcpt: usize,
) -> Result<Option<Expected>, StorageError> {
    let Some(seen) = seen else { return Ok(None) };
    if seen.queue != queue {
        return Ok(None);
    }
    let expected = encode(seen)?;
    let mut next = seen.clone();
    match mark_delivered(&mut next, rcpt) {
        Ok(true) => Ok(Some((expected, None))),
        Ok(false) => Ok(Some((expected, Some(encode(&next)?)))),
        Err(_) => Ok(None),
    }
}

/// The call: parameters in the order of the function's signature.
const APPEND: &str =
    "SELECT * FROM ferry_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)";

impl PgStore {
    /// Appends `msg` (its `flags` normalised and without keywords) to `folder`, consuming
    /// recipient `consume` of a queue record in the same transaction: one function call
    /// when the stored record is `seen` (the record as the caller last saw it), one more
    /// statement when it is not.
    pub(crate) fn append_one_call(
        &self,
        folder: FolderId,
        msg: &NewMessage,
        flags: &Flags,
        consume: Option<(QueueName, QueueId, usize)>,
        seen: Option<&QueueRecord>,
    ) -> Result<(u32, u64), StorageError> {
        let folder_key = db_id(folder)?;
        let system = i16::from(flags.system);
        let unseen = i64::from(!flags.has(Flags::SEEN));
        let deleted = i64::from(flags.has(Flags::DELETED));
        let size = to_i64(msg.size, "message size")?;
        let now = i64::try_from(crate::storage::now_secs()).unwrap_or(i64::MAX);
        let (queue_id, queue_name) = match consume {
            Some((queue, id, _)) => (Some(sql_id(id)?), Some(queue.as_str())),
            None => (None, None),
        };
        let expected = match consume {
            Some((queue, id, rcpt)) if seen.is_some_and(|s| s.id == id) => {
                expectation(seen, queue, rcpt)?
            }
            _ => None,
        };
        let (expected, replacement) = match &expected {
            Some((bytes, next)) => (Some(&bytes[..]), next.as_deref()),
            None => (None, None),
        };
        let channel = self.channel("folders");
        let node = self.node();
        let (out, zeroed) = self.pool().tx(|tx| {
            let row = tx
                .query_one(
                    APPEND,
                    &[
                        &folder_key,
                        &system,
                        &unseen,
                        &deleted,
                        &size,
                        &msg.internal_date,
                        &now,
                        &&msg.blob.0[..],
                        &queue_id,
                        &queue_name,
                        &channel,
                        &node,
                        &expected,
                        &replacement,
                    ],
                )
                .map_err(pg_error)?;
            let status: &str = row.get("o_status");
            let account = || {
                row.get::<_, Option<String>>("o_account")
                    .unwrap_or_default()
            };
            let name = || row.get::<_, Option<String>>("o_name").unwrap_or_default();
            match status {
                "ok" => {}
                "nofolder" => return Err(folder_not_found(folder)),
                "noselect" => {
                    return Err(StorageError::Invalid(format!(
                        "folder {} of {} is \\Noselect",
                        name(),
                        account()
                    )))
                }
                "uids" => {
                    return Err(StorageError::Invalid(format!(
                        "folder {} of {} has used up its UIDs",
                        name(),
                        account()
                    )))
                }
                "noqueue" => {
                    let (queue, id, _) = consume.expect("a consumed record");
                    return Err(StorageError::Gone(not_in_queue(queue, id)));
                }
                other => {
                    return Err(StorageError::Encoding(format!(
                        "ferry_append answered {other:?}"
                    )))
                }
            }
            let uid: i64 = row.get("o_uid");
            let modseq: i64 = row.get("o_modseq");
            let uid = u32::try_from(uid)
                .map_err(|_| StorageError::Encoding(format!("ferry_append gave uid {uid}")))?;
            let modseq = u64::try_from(modseq).map_err(|_| {
                StorageError::Encoding(format!("ferry_append gave modseq {modseq}"))
            })?;
            let mut refs = RefDelta::default();
            refs.add(msg.blob);
            if let Some((queue, id, rcpt)) = consume {
                let blob = blob_of(row.get("o_blob"))?;
                let consumed: Option<&str> = row.get("o_consumed");
                match consumed {
                    Some("updated") => {}
                    Some("deleted") => refs.release(blob),
                    Some("stale") => {
                        // The stored record is not the one the caller saw: it decides. The
                        // function holds its row locked; it is updated or deleted in place.
                        let mut rec = decode(row.get("o_record"), queue)?;
                        if mark_delivered(&mut rec, rcpt)? {
                            tx.execute("DELETE FROM queue WHERE id = $1", &[&sql_id(id)?])
                                .map_err(pg_error)?;
                            refs.release(blob);
                        } else {
                            tx.execute(
                                "UPDATE queue SET record = $2 WHERE id = $1",
                                &[&sql_id(id)?, &encode(&rec)?],
                            )
                            .map_err(pg_error)?;
                        }
                    }
                    other => {
                        return Err(StorageError::Encoding(format!(
                            "ferry_append consumed {other:?}"
                        )))
                    }
                }
            }
            // The quota limits, as `quota::tx_add_usage` checks them (no row for public
            // folders).
            let used: Option<i64> = row.get("o_storage_used");
            let limit: Option<i64> = row.get("o_storage_limit");
            if size > 0 && used.zip(limit).is_some_and(|(u, l)| u > l) {
                return Err(StorageError::OverQuota {
                    resource: "STORAGE",
                });
            }
            let used: Option<i64> = row.get("o_messages_used");
            let limit: Option<i64> = row.get("o_messages_limit");
            if used.zip(limit).is_some_and(|(u, l)| u > l) {
                return Err(StorageError::OverQuota {
                    resource: "MESSAGE",
                });
            }
            let zeroed = refs.apply(tx, self.blobs())?;
            Ok(((uid, modseq), zeroed))
        })?;
        self.collect_after_commit(&zeroed);
        Ok(out)
    }
}
