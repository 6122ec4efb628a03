//! Queue records in the `queue` table (`record` is the bincode [`QueueRecord`]).

use postgres::Transaction;

use super::blobrefs::RefDelta;
use super::changes::to_i64;
use super::pool::pg_error;
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError};

fn not_in_queue(queue: QueueName, id: QueueId) -> String {
    format!("queue record {id} is not in the {queue} queue")
}

/// Marks recipient `rcpt` of record `id` in `queue` delivered inside `tx` (a local delivery
/// appending the message in the same transaction, so that a retried delivery never
/// duplicates), deleting the record — and releasing its blob reference in `refs` — when it
/// was the last. Conflict if the record is not there or the recipient was already delivered.
pub(crate) fn consume_recipient_tx(
    tx: &mut Transaction<'_>,
    queue: QueueName,
    id: QueueId,
    rcpt: usize,
    refs: &mut RefDelta,
) -> Result<(), StorageError> {
    let key = to_i64(id, "queue id")?;
    let Some(row) = tx
        .query_opt(
            "SELECT record FROM queue WHERE id = $1 AND queue = $2 FOR UPDATE",
            &[&key, &queue.as_str()],
        )
        .map_err(pg_error)?
    else {
        return Err(StorageError::Conflict(not_in_queue(queue, id)));
    };
    let bytes: Vec<u8> = row.get(0);
    let mut rec: QueueRecord = bincode::deserialize(&bytes)
        .map_err(|e| StorageError::Encoding(format!("queue record {id}: {e}")))?;
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
    if rec.recipients.iter().all(|r| r.delivered) {
        tx.execute("DELETE FROM queue WHERE id = $1", &[&key])
            .map_err(pg_error)?;
        refs.release(rec.blob);
    } else {
        let bytes = bincode::serialize(&rec)
            .map_err(|e| StorageError::Encoding(format!("queue record {id}: {e}")))?;
        tx.execute(
            "UPDATE queue SET record = $2 WHERE id = $1",
            &[&key, &bytes],
        )
        .map_err(pg_error)?;
    }
    Ok(())
}
