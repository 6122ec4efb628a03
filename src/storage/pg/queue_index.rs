//! PostgreSQL's queue domain index (`storage::queue_index`): the `domains` array column of
//! each `queue` row (migration 0010, GIN-indexed), written by `queue::insert_tx` in the
//! statement that writes the record; a move keeps its row and so its entries. Rows of an
//! older build have NULL there: [`PgStore::ensure_queue_index`] fills them when the store
//! opens, and views take NULL rows as candidates until then.
//!
//! No view loads a whole queue at once: an unrestricted view reads the rows [`BATCH`] at a
//! time in id order (`id > last`), a domain view first the candidates' ids (the GIN index)
//! and then their records [`BATCH`] at a time.

use std::collections::VecDeque;

use postgres::Row;

use super::pool::{pg_error, Conn, Db};
use super::queue::{queue_of, record_of, sql_id};
use super::PgStore;
use crate::storage::queue_index::{
    select_ids, select_view, stored_domains, view_domains, PageStart, QueueIndex, QueueView,
};
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError};

/// Rows read per query.
pub(crate) const BATCH: i64 = 1000;

/// A row selected as `(id, record)`: the record's bytes.
struct Stored(Row);

impl AsRef<[u8]> for Stored {
    fn as_ref(&self) -> &[u8] {
        self.0.get(1)
    }
}

/// The candidates of `view` in `queue`, `(id, record)` in id order, read in batches.
fn candidates<'c>(
    c: &'c mut Conn,
    queue: QueueName,
    view: &QueueView<'_>,
) -> Result<impl Iterator<Item = Result<(QueueId, Stored), StorageError>> + 'c, StorageError> {
    // A domain view: the ids first (small), then their rows a batch at a time.
    let ids: Option<VecDeque<i64>> = match view.domains {
        None => None,
        Some(domains) => Some(
            c.query(
                "SELECT id FROM queue WHERE queue = $1 AND (domains && $2 OR domains IS NULL)
                 ORDER BY id",
                &[&queue.as_str(), &view_domains(domains)],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| r.get::<_, i64>(0))
            .collect(),
        ),
    };
    let mut state = Batches {
        ids,
        after: -1,
        done: false,
        rows: VecDeque::new(),
    };
    Ok(std::iter::from_fn(move || state.next(c, queue)))
}

struct Batches {
    /// The ids still to read (a domain view); `None`: every row of the queue.
    ids: Option<VecDeque<i64>>,
    /// The last id read (an unrestricted view).
    after: i64,
    done: bool,
    rows: VecDeque<Row>,
}

impl Batches {
    fn next(
        &mut self,
        c: &mut Conn,
        queue: QueueName,
    ) -> Option<Result<(QueueId, Stored), StorageError>> {
        if self.rows.is_empty() && !self.done {
            if let Err(e) = self.fill(c, queue) {
                self.done = true;
                return Some(Err(e));
            }
        }
        let row = self.rows.pop_front()?;
        let id: i64 = row.get(0);
        Some(Ok((id as QueueId, Stored(row))))
    }

    fn fill(&mut self, c: &mut Conn, queue: QueueName) -> Result<(), StorageError> {
        let rows = match &mut self.ids {
            Some(ids) => {
                let n = ids.len().min(BATCH as usize);
                let batch: Vec<i64> = ids.drain(..n).collect();
                self.done = ids.is_empty();
                if batch.is_empty() {
                    return Ok(());
                }
                // A record gone meanwhile is simply not returned.
                c.query(
                    "SELECT id, record FROM queue WHERE id = ANY($1) AND queue = $2 ORDER BY id",
                    &[&batch, &queue.as_str()],
                )
                .map_err(pg_error)?
            }
            None => {
                let rows = c
                    .query(
                        "SELECT id, record FROM queue WHERE queue = $1 AND id > $2
                         ORDER BY id LIMIT $3",
                        &[&queue.as_str(), &self.after, &BATCH],
                    )
                    .map_err(pg_error)?;
                self.done = (rows.len() as i64) < BATCH;
                if let Some(last) = rows.last() {
                    self.after = last.get(0);
                }
                rows
            }
        };
        self.rows.extend(rows);
        Ok(())
    }
}

impl PgStore {
    /// Fills the domains of the rows an older build wrote (NULL), a batch at a time.
    pub(crate) fn ensure_queue_index(&self) -> Result<(), StorageError> {
        let mut filled = 0usize;
        loop {
            let n = self.pool().tx(|tx| {
                let rows = tx
                    .query(
                        "SELECT id, record FROM queue WHERE domains IS NULL ORDER BY id LIMIT $1
                         FOR UPDATE SKIP LOCKED",
                        &[&BATCH],
                    )
                    .map_err(pg_error)?;
                for row in &rows {
                    let id: i64 = row.get(0);
                    let domains: Vec<String> =
                        stored_domains(row.get::<_, &[u8]>(1)).into_iter().collect();
                    tx.execute(
                        "UPDATE queue SET domains = $2 WHERE id = $1",
                        &[&id, &domains],
                    )
                    .map_err(pg_error)?;
                }
                Ok(rows.len())
            })?;
            filled += n;
            if n == 0 {
                break;
            }
        }
        if filled > 0 {
            tracing::info!(records = filled, "queue domain index filled");
        }
        Ok(())
    }
}

impl QueueIndex for PgStore {
    fn queue_page_after(
        &self,
        queue: QueueName,
        after: QueueId,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let Ok(after) = sql_id(after) else {
            return Ok(Vec::new());
        };
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.pool().with(|c| {
            c.query(
                "SELECT queue, record FROM queue WHERE queue = $1 AND id > $2 ORDER BY id LIMIT $3",
                &[&queue.as_str(), &after, &limit],
            )
            .map_err(pg_error)?
            .iter()
            .map(|row| record_of(row, 0))
            .collect()
        })
    }

    fn queue_view(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        start: PageStart,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError> {
        self.pool()
            .with(|c| select_view(candidates(c, queue, view)?, queue, view, start, limit))
    }

    fn queue_view_ids(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        max: usize,
    ) -> Result<Vec<QueueId>, StorageError> {
        self.pool()
            .with(|c| select_ids(candidates(c, queue, view)?, view, max))
    }

    fn queue_index_problems(&self) -> Result<Vec<String>, StorageError> {
        let mut problems = Vec::new();
        let mut after = -1i64;
        loop {
            let rows = self.pool().with(|c| {
                c.query(
                    "SELECT id, queue, record, domains FROM queue WHERE id > $1
                     ORDER BY id LIMIT $2",
                    &[&after, &BATCH],
                )
                .map_err(pg_error)
            })?;
            for row in &rows {
                let id: i64 = row.get(0);
                let queue = queue_of(row.get(1))?;
                let want: Vec<String> =
                    stored_domains(row.get::<_, &[u8]>(2)).into_iter().collect();
                match row.get::<_, Option<Vec<String>>>(3) {
                    None => problems.push(format!(
                        "queue record {id:016X} in {queue} is missing its index entries"
                    )),
                    Some(mut have) => {
                        have.sort();
                        have.dedup();
                        for d in want.iter().filter(|d| !have.contains(d)) {
                            problems.push(format!(
                                "queue record {id:016X} in {queue} is missing its index entry for {d}"
                            ));
                        }
                        for d in have.iter().filter(|d| !want.contains(d)) {
                            problems.push(format!(
                                "queue index entry {queue}/{d}/{id:016X} names no record of that queue"
                            ));
                        }
                    }
                }
            }
            match rows.last() {
                Some(last) if rows.len() as i64 == BATCH => after = last.get(0),
                _ => break,
            }
        }
        Ok(problems)
    }
}
