//! The six queues of MDaemon — inbound, local, remote, deferred, ToArchive, bad — each an
//! actor over its persistent records in storage (docs/architecture.md §1).
//!
//! The actors of this module are the only writers of queue records: sessions, fetchers,
//! the console and the delivery workers send them typed messages ([`Enqueue`],
//! [`EnqueueFetched`], [`Change`], the remote workers' `Settle`), and they decide with the
//! plain rules of `delivery::route` and `outbound::settle`. The types enforce it: the
//! store's queue writes are a [`QueueWriter`] that only [`RecordWriter`]'s private field
//! holds, and `Store` has no queue-write methods.
//!
//! Invariants:
//! - A queue record is in exactly one queue: every move is one storage transaction
//!   (`queue_replace`), never a copy followed by a delete.
//! - Persist first, then notify: a notification ([`Queued`]) only tells an actor where to
//!   look; a lost one costs a delay, never a message, because every actor rescans its
//!   queue when it starts or restarts and on a timer.
//! - A record being delivered is not moved or deleted under its worker: a [`Change`] to it
//!   answers busy (see [`change`]).
//! - Local delivery consumes the queue recipient in the same transaction that appends to
//!   the folder, so it happens exactly once even when retried after a crash.

mod change;
mod held;
mod inbound;
mod local;
mod messages;
pub mod remote;

use std::sync::Arc;

use actix::prelude::*;

use super::ServerContext;
use crate::storage::{QueueId, QueueName, QueueRecord, QueueWriter, StorageError};

pub use change::{apply_offline, change, Change, Changed, Done, Refused};
pub use held::{ArchiveQueueActor, DeferredQueueActor, HoldQueueActor};
pub use inbound::{store_body, InboundQueueActor};
pub use local::LocalQueueActor;
pub use messages::{
    path, Enqueue, EnqueueFetched, QueueError, Queued, QueuedRecord, ReleaseDue, Rescan,
};

/// The store's queue writes, held by [`ServerContext`] for the queue actors. Its field is
/// private to this module, so no code outside the queue actors can write a queue record:
/// others send typed messages (`Enqueue`, `Change`, …).
pub struct RecordWriter(QueueWriter, Settling);

impl RecordWriter {
    /// Wraps the handle made with the store at server start.
    pub fn new(writer: QueueWriter) -> RecordWriter {
        RecordWriter(writer, Settling::default())
    }
}

/// Local records the inbound queue wrote on intake whose commit round has not finished
/// (its flush may still fail, and then the record is withdrawn and the sender told 4xx).
/// The local queue's periodic rescan leaves them alone: delivering one in that window and
/// then withdrawing it would deliver the message twice once the sender retries. The
/// inbound queue notifies the local queue of each once it is durable.
#[derive(Default, Clone)]
pub(crate) struct Settling(Arc<std::sync::Mutex<std::collections::HashSet<QueueId>>>);

impl Settling {
    /// Marks `id` settling until the guard is dropped (the commit round's answer handled,
    /// or the future dropped with its actor).
    pub(crate) fn hold(&self, id: QueueId) -> SettlingGuard {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
        SettlingGuard(self.clone(), id)
    }

    pub(crate) fn contains(&self, id: QueueId) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&id)
    }
}

pub(crate) struct SettlingGuard(Settling, QueueId);

impl Drop for SettlingGuard {
    fn drop(&mut self) {
        (self.0)
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.1);
    }
}

/// The records settling on intake (see [`Settling`]).
fn settling(sctx: &ServerContext) -> &Settling {
    &sctx.queue_records.1
}

impl RecordWriter {
    /// The queue writes, for integration tests that seed queue records directly (test
    /// builds only: see `ServerContext::writers_for_tests`).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn for_tests(&self) -> &QueueWriter {
        &self.0
    }
}

/// The queue writes, for the queue actors.
fn writer(sctx: &ServerContext) -> &QueueWriter {
    &sctx.queue_records.0
}

/// The records of `queue` this node works on, now leased to it
/// ([`crate::storage::Cluster::queue_claim_startup`]): on one node, every record; with
/// several nodes on one database, this node's, those never leased and those whose node's
/// lease ran out. Every load and rescan of a queue actor goes through it, so that two nodes
/// never work on one record.
fn load(sctx: &ServerContext, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
    sctx.store.queue_claim_startup(queue)
}

/// The queue actors' addresses.
#[derive(Clone)]
pub struct QueueAddrs {
    pub inbound: Addr<InboundQueueActor>,
    pub local: Addr<LocalQueueActor>,
    pub remote: Addr<remote::RemoteQueueActor>,
    pub deferred: Addr<DeferredQueueActor>,
    pub toarchive: Addr<ArchiveQueueActor>,
    pub bad: Addr<HoldQueueActor>,
}

impl QueueAddrs {
    /// Starts the six queue actors on the core arbiter, under supervision.
    pub fn start(ctx: &Arc<ServerContext>) -> QueueAddrs {
        let arb = ctx.core_arbiter();
        for q in QueueName::ALL {
            ctx.registry.register(&path(q), "queue");
        }
        let c = ctx.clone();
        let inbound = Supervisor::start_in_arbiter(arb, move |_| InboundQueueActor {
            ctx: c,
            routing: Default::default(),
        });
        let c = ctx.clone();
        let local = Supervisor::start_in_arbiter(arb, move |_| LocalQueueActor {
            ctx: c,
            in_flight: Default::default(),
        });
        let c = ctx.clone();
        let remote = Supervisor::start_in_arbiter(arb, move |_| remote::RemoteQueueActor::new(c));
        let c = ctx.clone();
        let deferred = Supervisor::start_in_arbiter(arb, move |_| DeferredQueueActor { ctx: c });
        let c = ctx.clone();
        let toarchive = Supervisor::start_in_arbiter(arb, move |_| ArchiveQueueActor { ctx: c });
        let c = ctx.clone();
        let bad = Supervisor::start_in_arbiter(arb, move |_| HoldQueueActor {
            ctx: c,
            queue: QueueName::Bad,
        });
        QueueAddrs {
            inbound,
            local,
            remote,
            deferred,
            toarchive,
            bad,
        }
    }

    /// Tell the actor of `queue` that record `id` is waiting there.
    /// Asks every queue to scan its stored records (at boot, see `ServerContext::set_queues`).
    pub fn rescan_all(&self) {
        self.inbound.do_send(Rescan);
        self.local.do_send(Rescan);
        self.remote.do_send(Rescan);
        self.deferred.do_send(Rescan);
        self.toarchive.do_send(Rescan);
        self.bad.do_send(Rescan);
    }

    pub fn notify(&self, queue: QueueName, id: QueueId) {
        match queue {
            QueueName::Inbound => tell(&self.inbound, queue, id),
            QueueName::Local => tell(&self.local, queue, id),
            QueueName::Remote => tell(&self.remote, queue, id),
            QueueName::Deferred => tell(&self.deferred, queue, id),
            QueueName::ToArchive => tell(&self.toarchive, queue, id),
            QueueName::Bad => tell(&self.bad, queue, id),
        }
    }

    /// Tell the actor of `rec.queue` that `rec`, just committed, is waiting there: the local
    /// queue gets the record itself ([`QueuedRecord`]), the others its id.
    pub fn notify_record(&self, rec: Box<QueueRecord>) {
        if rec.queue != QueueName::Local {
            return self.notify(rec.queue, rec.id);
        }
        if self.local.connected() {
            self.local.do_send(QueuedRecord(rec));
        } else {
            tell(&self.local, QueueName::Local, rec.id);
        }
    }
}

/// Sends `Queued(id)` to a queue actor. Supervision keeps each queue actor's address alive
/// across restarts (messages wait in its mailbox meanwhile); should an actor still be gone
/// for good, the notification is not dropped unseen: the record stays stored and the
/// failure is logged.
fn tell<A>(addr: &Addr<A>, queue: QueueName, id: QueueId)
where
    A: Actor + Handler<Queued>,
    A::Context: actix::dev::ToEnvelope<A, Queued>,
{
    if addr.connected() {
        addr.do_send(Queued(id));
    } else {
        tracing::error!(
            queue = queue.as_str(),
            id,
            "queue actor is gone; the record stays stored for its next start"
        );
    }
}

#[cfg(test)]
mod tests;
