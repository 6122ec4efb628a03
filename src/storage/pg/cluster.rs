//! The queue side of several nodes: the heartbeat, queue leases and the node list.
//!
//! A queue record is worked on by the node holding its lease (`queue.lease_owner`, until
//! `queue.lease_until`). Every queue write leases the record to the writing node
//! (`queue.rs`); the heartbeat renews all of a node's leases at once; a node starting
//! claims what is its own, free or expired ([`PgStore::queue_claim_startup`]); a running
//! node takes over the records of a node that stopped renewing
//! ([`PgStore::queue_claim_orphans`]). Every time is the database's `now()`, so the nodes'
//! clocks do not matter.
//!
//! # At least once
//!
//! A lease is a promise with a deadline, not a lock: a node that stalls for longer than
//! the lease without a heartbeat (a long pause, a network partition from the database) may
//! find, when it resumes, that another node claimed its record and is delivering it too.
//! A message can then be delivered twice (at-least-once, never lost). The window is
//! bounded by how the stalled node's next write fares: a record the other node already
//! moved or deleted makes its `queue_replace`/`queue_move`/`queue_delete` fail with
//! Conflict/NotFound, and a local recipient already consumed makes its delivery abort
//! (`consume_recipient_tx`). Keep the heartbeat well inside the lease (a third of it).

use postgres::types::ToSql;

use super::pool::{pg_error, Db};
use super::queue::{lease_millis, queue_of, record_of};
use super::PgStore;
use crate::storage::{Lease, NodeInfo, QueueName, QueueRecord, StorageError};

impl PgStore {
    /// One statement: this node's `nodes` row seen now (made again if someone deleted it)
    /// and every record leased to it renewed.
    pub(crate) fn heartbeat(&self) -> Result<(), StorageError> {
        let lease = lease_millis(self);
        self.pool().with(|c| {
            c.execute(
                "WITH node AS (
                     INSERT INTO nodes (name, started, seen, version) VALUES ($1, now(), now(), $3)
                     ON CONFLICT (name) DO UPDATE SET seen = now()
                 )
                 UPDATE queue SET lease_until = now() + $2::bigint * interval '1 millisecond'
                 WHERE lease_owner = $1",
                &[&self.node(), &lease, &env!("CARGO_PKG_VERSION")],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    /// Leases to this node the records of `queue` matching `which` (a condition on the
    /// `queue` row, `$1` being this node's name) and returns them in id order; at most
    /// `max`. Rows another transaction holds are skipped (`SKIP LOCKED`): a record being
    /// written or claimed elsewhere is not claimed twice.
    fn claim(
        &self,
        queue: QueueName,
        which: &str,
        max: Option<i64>,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let lease = lease_millis(self);
        let sql = format!(
            "UPDATE queue SET lease_owner = $1,
                 lease_until = now() + $2::bigint * interval '1 millisecond'
             WHERE id IN (
                 SELECT id FROM queue WHERE queue = $3 AND ({which})
                 ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED)
             RETURNING id, queue, record"
        );
        let params: [&(dyn ToSql + Sync); 4] = [&self.node(), &lease, &queue.as_str(), &max];
        let rows = self
            .pool()
            .with(|c| c.query(&sql, &params).map_err(pg_error))?;
        let mut claimed = rows
            .iter()
            .map(|row| Ok((row.get::<_, i64>(0), record_of(row, 1)?)))
            .collect::<Result<Vec<_>, StorageError>>()?;
        claimed.sort_by_key(|(id, _)| *id);
        Ok(claimed.into_iter().map(|(_, rec)| rec).collect())
    }

    /// Records this node's previous run held, never leased (written by `storage migrate`)
    /// or whose lease expired.
    pub(crate) fn queue_claim_startup(
        &self,
        queue: QueueName,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        self.claim(
            queue,
            "lease_owner IS NULL OR lease_owner = $1 OR lease_until IS NULL
             OR lease_until < now()",
            None,
        )
    }

    /// Records whose lease expired (their node stopped renewing) or that were never leased.
    /// Never this node's own, even expired: its queue actors hold those already, and its
    /// next heartbeat renews them.
    pub(crate) fn queue_claim_orphans(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        self.claim(
            queue,
            "lease_owner IS NULL OR (lease_owner <> $1
             AND (lease_until IS NULL OR lease_until < now()))",
            Some(i64::try_from(max).unwrap_or(i64::MAX)),
        )
    }

    pub(crate) fn cluster_nodes(&self) -> Result<Vec<NodeInfo>, StorageError> {
        let rows = self.pool().with(|c| {
            c.query(
                "SELECT n.name, extract(epoch FROM n.started)::bigint,
                     extract(epoch FROM n.seen)::bigint, n.version,
                     (SELECT count(*) FROM queue q WHERE q.lease_owner = n.name)
                 FROM nodes n ORDER BY n.name",
                &[],
            )
            .map_err(pg_error)
        })?;
        Ok(rows
            .iter()
            .map(|row| NodeInfo {
                name: row.get(0),
                started: row.get(1),
                seen: row.get(2),
                version: row.get(3),
                leases: u64::try_from(row.get::<_, i64>(4)).unwrap_or(0),
            })
            .collect())
    }

    /// Every record with an owner, expired leases included (their node's records still
    /// waiting for a claimer), by queue (in [`QueueName::ALL`] order) and id.
    pub(crate) fn queue_leases(&self) -> Result<Vec<Lease>, StorageError> {
        let rows = self.pool().with(|c| {
            c.query(
                "SELECT queue, id, lease_owner,
                     coalesce(extract(epoch FROM lease_until)::bigint, 0)
                 FROM queue WHERE lease_owner IS NOT NULL",
                &[],
            )
            .map_err(pg_error)
        })?;
        let mut leases = rows
            .iter()
            .map(|row| {
                let id: i64 = row.get(1);
                Ok(Lease {
                    queue: queue_of(row.get(0))?,
                    id: u64::try_from(id)
                        .map_err(|_| StorageError::Encoding(format!("queue id {id}")))?,
                    owner: row.get(2),
                    until: row.get(3),
                })
            })
            .collect::<Result<Vec<_>, StorageError>>()?;
        leases.sort_by_key(|l| (l.queue, l.id));
        Ok(leases)
    }
}
