//! The six queues in the `queue` table: one row per record (the bincode [`QueueRecord`] in
//! `record`, its body id repeated in `blob`), each row holding one reference on its body, as
//! the embedded backend's queue trees do.
//!
//! Every write here also leases the record to this node (`lease_owner`, `lease_until =
//! now() + lease`, the database's clock): the node that wrote a record is the one whose
//! queue actor works on it. `cluster.rs` renews and hands over leases.
//!
//! Queue ids are unique across the queues (the primary key), as the id generator makes
//! them; a record put into one queue while its id is in another is refused with Conflict
//! instead of silently moving it.

use postgres::types::ToSql;
use postgres::Row;

use super::blobrefs::RefDelta;
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::{BlobId, QueueId, QueueName, QueueRecord, StorageError};

pub(crate) fn not_in_queue(queue: QueueName, id: QueueId) -> String {
    format!("queue record {id} is not in the {queue} queue")
}

/// A queue id as the `bigint` it is stored as.
pub(crate) fn sql_id(id: QueueId) -> Result<i64, StorageError> {
    i64::try_from(id).map_err(|_| StorageError::Invalid(format!("queue id {id} is out of range")))
}

pub(crate) fn encode(rec: &QueueRecord) -> Result<Vec<u8>, StorageError> {
    crate::storage::queue_codec::encode_record(rec)
}

/// The record in a row's `record` column, placed in `queue` (the row's queue is the truth,
/// as the tree a sled record sits in is).
pub(crate) fn decode(bytes: &[u8], queue: QueueName) -> Result<QueueRecord, StorageError> {
    let mut rec = crate::storage::queue_codec::decode_record(bytes)?;
    rec.queue = queue;
    Ok(rec)
}

/// A row's `queue` column as a [`QueueName`].
pub(crate) fn queue_of(name: &str) -> Result<QueueName, StorageError> {
    name.parse()
        .map_err(|_| StorageError::Encoding(format!("queue row: unknown queue {name:?}")))
}

/// The record of a row selected as `(queue, record)` from column `first` on.
pub(crate) fn record_of(row: &Row, first: usize) -> Result<QueueRecord, StorageError> {
    let queue: &str = row.get(first);
    let bytes: &[u8] = row.get(first + 1);
    decode(bytes, queue_of(queue)?)
}

pub(crate) fn blob_of(bytes: &[u8]) -> Result<BlobId, StorageError> {
    bytes
        .try_into()
        .map(BlobId)
        .map_err(|_| StorageError::Encoding("queue row: blob id is not 32 bytes".into()))
}

/// The lease length in milliseconds, for `now() + $n * interval '1 millisecond'`.
pub(crate) fn lease_millis(store: &PgStore) -> i64 {
    i64::try_from(store.lease().as_millis()).unwrap_or(i64::MAX)
}

/// Record `id` of `queue`, locked for the rest of the transaction.
fn lock_record(
    tx: &mut Tx<'_>,
    queue: QueueName,
    id: QueueId,
) -> Result<Option<QueueRecord>, StorageError> {
    tx.query_opt(
        "SELECT queue, record FROM queue WHERE id = $1 AND queue = $2 FOR UPDATE",
        &[&sql_id(id)?, &queue.as_str()],
    )
    .map_err(pg_error)?
    .map(|row| record_of(&row, 0))
    .transpose()
}

/// Removes record `id` from `queue` inside `tx`, releasing its blob into `refs`; the record
/// removed, or `None` when it was not there.
fn remove_tx(
    tx: &mut Tx<'_>,
    refs: &mut RefDelta,
    queue: QueueName,
    id: QueueId,
) -> Result<Option<QueueRecord>, StorageError> {
    let row = tx
        .query_opt(
            "DELETE FROM queue WHERE id = $1 AND queue = $2 RETURNING queue, record, blob",
            &[&sql_id(id)?, &queue.as_str()],
        )
        .map_err(pg_error)?;
    let Some(row) = row else {
        return Ok(None);
    };
    refs.release(blob_of(row.get(2))?);
    record_of(&row, 0).map(Some)
}

/// Inserts (or overwrites) `rec` in its queue inside `tx`, leased to `node` for
/// `lease_ms`: takes a reference on its blob and releases the one of a record it replaces.
/// Conflict when `rec.id` is in another queue. Also for `fetch_accept`.
pub(crate) fn insert_tx(
    tx: &mut Tx<'_>,
    refs: &mut RefDelta,
    rec: &QueueRecord,
    node: &str,
    lease_ms: i64,
) -> Result<(), StorageError> {
    let id = sql_id(rec.id)?;
    let bytes = encode(rec)?;
    // Its entries in the domain index (storage::queue_index), in the same row.
    let domains: Vec<String> = crate::storage::record_domains(rec).into_iter().collect();
    let params: [&(dyn ToSql + Sync); 7] = [
        &id,
        &rec.queue.as_str(),
        &&rec.blob.0[..],
        &bytes,
        &node,
        &lease_ms,
        &domains,
    ];
    // A new id (the usual case) is one statement; an id already present is locked and
    // checked below.
    let inserted = tx
        .execute(
            "INSERT INTO queue (id, queue, blob, record, lease_owner, lease_until, domains)
             VALUES ($1, $2, $3, $4, $5, now() + $6::bigint * interval '1 millisecond', $7)
             ON CONFLICT (id) DO NOTHING",
            &params,
        )
        .map_err(pg_error)?;
    if inserted == 0 {
        let row = tx
            .query_one(
                "SELECT queue, blob FROM queue WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .map_err(pg_error)?;
        let queue: &str = row.get(0);
        if queue != rec.queue.as_str() {
            return Err(StorageError::Conflict(format!(
                "queue record {} is in the {queue} queue, not the {} queue",
                rec.id, rec.queue
            )));
        }
        refs.release(blob_of(row.get(1))?);
        tx.execute(
            "UPDATE queue SET queue = $2, blob = $3, record = $4, lease_owner = $5,
             lease_until = now() + $6::bigint * interval '1 millisecond', domains = $7
             WHERE id = $1",
            &params,
        )
        .map_err(pg_error)?;
    }
    refs.add(rec.blob);
    Ok(())
}

/// Marks recipient `rcpt` of record `id` in `queue` delivered inside `tx` (local delivery
/// appending the message in the same transaction), deleting the record and releasing its
/// blob into `refs` when no recipient is left undelivered. Conflict when the record or the
/// recipient is missing or already delivered, so that a retried delivery aborts instead of
/// duplicating. The record's lease is left as it is.
pub(crate) fn consume_recipient_tx(
    tx: &mut Tx<'_>,
    queue: QueueName,
    id: QueueId,
    rcpt: usize,
    refs: &mut RefDelta,
) -> Result<(), StorageError> {
    let Some(mut rec) = lock_record(tx, queue, id)? else {
        return Err(StorageError::Gone(not_in_queue(queue, id)));
    };
    if mark_delivered(&mut rec, rcpt)? {
        tx.execute("DELETE FROM queue WHERE id = $1", &[&sql_id(id)?])
            .map_err(pg_error)?;
        refs.release(rec.blob);
    } else {
        tx.execute(
            "UPDATE queue SET record = $2 WHERE id = $1",
            &[&sql_id(id)?, &encode(&rec)?],
        )
        .map_err(pg_error)?;
    }
    Ok(())
}

/// Marks recipient `rcpt` of `rec` delivered; whether no recipient is left undelivered.
/// Conflict when the recipient is missing or already delivered (a retried delivery).
pub(crate) fn mark_delivered(rec: &mut QueueRecord, rcpt: usize) -> Result<bool, StorageError> {
    let id = rec.id;
    match rec.recipients.get_mut(rcpt) {
        Some(r) if !r.delivered => {
            r.delivered = true;
            r.last_error = None;
        }
        Some(r) => {
            return Err(StorageError::Conflict(format!(
                "recipient {} of queue record {id} was already delivered",
                r.address
            )))
        }
        None => {
            return Err(StorageError::Conflict(format!(
                "queue record {id} has no recipient #{rcpt}"
            )))
        }
    }
    Ok(rec.recipients.iter().all(|r| r.delivered))
}

/// The records of a `SELECT queue, record …`.
fn records(rows: Vec<Row>) -> Result<Vec<QueueRecord>, StorageError> {
    rows.iter().map(|row| record_of(row, 0)).collect()
}

impl PgStore {
    /// Runs `f` in one transaction with a [`RefDelta`] applied at its end, then hands the
    /// blobs whose count reached 0 to the collector.
    fn queue_tx(
        &self,
        f: impl Fn(&mut Tx<'_>, &mut RefDelta) -> Result<(), StorageError> + Send + Sync,
    ) -> Result<(), StorageError> {
        let zeroed = self.pool().tx(|tx| {
            let mut refs = RefDelta::default();
            f(tx, &mut refs)?;
            refs.apply(tx, self.blobs())
        })?;
        self.collect_after_commit(&zeroed);
        Ok(())
    }

    pub(crate) fn next_queue_id(&self) -> Result<QueueId, StorageError> {
        self.pool().with(|c| {
            let id: i64 = c
                .query_one("SELECT nextval('queue_ids')", &[])
                .map_err(pg_error)?
                .get(0);
            u64::try_from(id)
                .map_err(|_| StorageError::Encoding(format!("queue id sequence gave {id}")))
        })
    }

    pub(crate) fn queue_get(
        &self,
        queue: QueueName,
        id: QueueId,
    ) -> Result<Option<QueueRecord>, StorageError> {
        self.pool().with(|c| {
            c.query_opt(
                "SELECT queue, record FROM queue WHERE id = $1 AND queue = $2",
                &[&sql_id(id)?, &queue.as_str()],
            )
            .map_err(pg_error)?
            .map(|row| record_of(&row, 0))
            .transpose()
        })
    }

    pub(crate) fn queue_find(&self, id: QueueId) -> Result<Option<QueueRecord>, StorageError> {
        self.pool().with(|c| {
            c.query_opt(
                "SELECT queue, record FROM queue WHERE id = $1",
                &[&sql_id(id)?],
            )
            .map_err(pg_error)?
            .map(|row| record_of(&row, 0))
            .transpose()
        })
    }

    pub(crate) fn queue_list(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
        self.pool().with(|c| {
            records(
                c.query(
                    "SELECT queue, record FROM queue WHERE queue = $1 ORDER BY id",
                    &[&queue.as_str()],
                )
                .map_err(pg_error)?,
            )
        })
    }

    /// One page in id order, through the `(queue, id)` index.
    pub(crate) fn queue_page(
        &self,
        queue: QueueName,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.pool().with(|c| {
            records(
                c.query(
                    "SELECT queue, record FROM queue WHERE queue = $1 ORDER BY id OFFSET $2 LIMIT $3",
                    &[&queue.as_str(), &as_i64(offset), &as_i64(limit)],
                )
                .map_err(pg_error)?,
            )
        })
    }

    /// The heads of the queue's records are tested here, in id order, and only the page
    /// is decoded whole; the rows come [`super::queue_index::BATCH`] at a time.
    pub(crate) fn queue_select(
        &self,
        queue: QueueName,
        keep: crate::storage::Keep<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError> {
        use crate::storage::QueueIndex;
        self.queue_view(
            queue,
            &crate::storage::QueueView::all(keep),
            crate::storage::PageStart::Offset(offset),
            limit,
        )
    }

    /// Counted by the `(queue, id)` index: exact on every node, and no counter row that
    /// every queue write of every node would have to lock (which would order all queue
    /// writes of the cluster one after another). Measured with 100,000 records spread over
    /// the six queues (`queue_tests::queue_depth_cost`, a 2-core machine under load): all six
    /// depths in 36-53 ms, one queue of 16,700 records in about 5 ms; the callers are
    /// `/health`, the console's `status` and a held queue's start, not per message.
    pub(crate) fn queue_depth(&self, queue: QueueName) -> Result<usize, StorageError> {
        self.pool().with(|c| count_queue(c, queue))
    }

    pub(crate) fn queue_put(&self, rec: &QueueRecord) -> Result<(), StorageError> {
        let lease = lease_millis(self);
        self.queue_tx(|tx, refs| insert_tx(tx, refs, rec, self.node(), lease))
    }

    pub(crate) fn queue_replace(
        &self,
        from: QueueName,
        id: QueueId,
        new_records: &[QueueRecord],
    ) -> Result<(), StorageError> {
        let lease = lease_millis(self);
        self.queue_tx(|tx, refs| {
            if remove_tx(tx, refs, from, id)?.is_none() {
                return Err(StorageError::Conflict(not_in_queue(from, id)));
            }
            for rec in new_records {
                insert_tx(tx, refs, rec, self.node(), lease)?;
            }
            Ok(())
        })
    }

    pub(crate) fn queue_move(
        &self,
        id: QueueId,
        from: QueueName,
        to: QueueName,
    ) -> Result<(), StorageError> {
        let lease = lease_millis(self);
        // The record keeps its id, body and reference: only its row's queue (the truth, see
        // `decode`) and lease change, in one statement.
        let moved = self.pool().with(|c| {
            c.execute(
                "UPDATE queue SET queue = $3, lease_owner = $4,
                 lease_until = now() + $5::bigint * interval '1 millisecond'
                 WHERE id = $1 AND queue = $2",
                &[
                    &sql_id(id)?,
                    &from.as_str(),
                    &to.as_str(),
                    &self.node(),
                    &lease,
                ],
            )
            .map_err(pg_error)
        })?;
        if moved == 0 {
            return Err(StorageError::Conflict(not_in_queue(from, id)));
        }
        Ok(())
    }

    pub(crate) fn queue_delete(&self, queue: QueueName, id: QueueId) -> Result<(), StorageError> {
        self.queue_tx(|tx, refs| {
            if remove_tx(tx, refs, queue, id)?.is_none() {
                return Err(StorageError::NotFound(format!(
                    "queue record {id} in the {queue} queue"
                )));
            }
            Ok(())
        })
    }
}

/// The number of records in `queue`.
fn count_queue(c: &mut impl Db, queue: QueueName) -> Result<usize, StorageError> {
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM queue WHERE queue = $1",
            &[&queue.as_str()],
        )
        .map_err(pg_error)?
        .get(0);
    Ok(usize::try_from(n).unwrap_or(0))
}
