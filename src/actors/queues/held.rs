//! The queues that hold records: deferred (until their due time, then back to inbound),
//! bad (until an administrator retries, moves or deletes them) and ToArchive (an archive
//! copy under data/archive/YYYY-MM/, then the record is deleted).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::change::{self, Change, Changed, Refused};
use super::messages::{path, QueueError, Queued, ReleaseDue, Rescan};
use crate::actors::supervisor::{apply_backoff, guarded};
use crate::actors::ServerContext;
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError};

pub struct DeferredQueueActor {
    pub(super) ctx: Arc<ServerContext>,
}

impl Actor for DeferredQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(QueueName::Deferred), ctx);
        let every = self.ctx.config().queue.deferred_check_interval;
        ctx.run_interval(every, |act, _| {
            if let Err(e) = release_due(&act.ctx) {
                tracing::error!("deferred queue: {e}");
            }
        });
    }
}

impl Supervised for DeferredQueueActor {}

impl Handler<ReleaseDue> for DeferredQueueActor {
    type Result = Result<usize, QueueError>;

    fn handle(&mut self, _: ReleaseDue, ctx: &mut Self::Context) -> Self::Result {
        let sctx = self.ctx.clone();
        Ok(guarded::<Self, _>(
            &sctx.registry,
            "queue/deferred",
            ctx,
            || release_due(&sctx),
        )??)
    }
}

impl Handler<Queued> for DeferredQueueActor {
    type Result = ();
    fn handle(&mut self, _: Queued, _: &mut Self::Context) {}
}

impl Handler<Rescan> for DeferredQueueActor {
    type Result = ();
    fn handle(&mut self, _: Rescan, _: &mut Self::Context) {
        if let Err(e) = release_due(&self.ctx) {
            tracing::error!("deferred queue: {e}");
        }
    }
}

/// Moves every deferred record whose due time has passed back to inbound.
fn release_due(sctx: &ServerContext) -> Result<usize, StorageError> {
    let now = sctx.clock.now();
    let mut n = 0;
    for rec in super::load(sctx, QueueName::Deferred)? {
        if rec.due.is_some_and(|due| due > now) {
            continue;
        }
        let released = QueueRecord {
            queue: QueueName::Inbound,
            due: None,
            ..rec
        };
        super::writer(sctx).queue_replace(
            QueueName::Deferred,
            released.id,
            std::slice::from_ref(&released),
        )?;
        sctx.queues().notify(QueueName::Inbound, released.id);
        n += 1;
    }
    Ok(n)
}

// ---------------------------------------------------------------------------------------
// bad: hold records until an admin retries, moves or deletes them (remote delivery is
// remote_queue.rs)
// ---------------------------------------------------------------------------------------

pub struct HoldQueueActor {
    pub(super) ctx: Arc<ServerContext>,
    pub(super) queue: QueueName,
}

impl Actor for HoldQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(self.queue), ctx);
        if let Ok(n) = self.ctx.store.queue_depth(self.queue) {
            if n > 0 {
                tracing::info!(queue = self.queue.as_str(), n, "records held");
            }
        }
    }
}

impl Supervised for HoldQueueActor {}

impl Handler<Queued> for HoldQueueActor {
    type Result = ();
    fn handle(&mut self, msg: Queued, _: &mut Self::Context) {
        tracing::info!(
            queue = self.queue.as_str(),
            id = msg.0,
            "held for an administrator"
        );
    }
}

impl Handler<Rescan> for HoldQueueActor {
    type Result = ();
    fn handle(&mut self, _: Rescan, _: &mut Self::Context) {}
}

// ---------------------------------------------------------------------------------------
// ToArchive: write an archive copy under data/archive/YYYY-MM/, then delete the record
// ---------------------------------------------------------------------------------------

pub struct ArchiveQueueActor {
    pub(super) ctx: Arc<ServerContext>,
}

impl Actor for ArchiveQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(QueueName::ToArchive), ctx);
        // At boot the first scan waits for the queue addresses (`set_queues`); after a
        // restart they are known and the actor rescans at once.
        if self.ctx.queues_ready() {
            ctx.notify(Rescan);
        }
    }
}

impl Supervised for ArchiveQueueActor {}

impl Handler<Rescan> for ArchiveQueueActor {
    type Result = ();
    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match super::load(&self.ctx, QueueName::ToArchive) {
            Ok(recs) => recs.iter().for_each(|r| ctx.notify(Queued(r.id))),
            Err(e) => tracing::error!("cannot read the ToArchive queue: {e}"),
        }
    }
}

impl Handler<Queued> for ArchiveQueueActor {
    type Result = ();
    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        let sctx = self.ctx.clone();
        let res = guarded::<Self, _>(&sctx.registry, "queue/toarchive", ctx, || {
            archive(&sctx, msg.0)
        });
        if let Ok(Err(e)) = res {
            tracing::error!(id = msg.0, "archiving failed, will retry: {e}");
            ctx.run_later(Duration::from_secs(60), move |_, ctx| {
                ctx.notify(Queued(msg.0))
            });
        }
    }
}

/// Archives a copy (written, fsynced) and only then deletes the queue record.
fn archive(sctx: &ServerContext, id: QueueId) -> Result<(), StorageError> {
    let store = &sctx.store;
    let Some(rec) = store.queue_get(QueueName::ToArchive, id)? else {
        return Ok(());
    };
    let (y, m, ..) = crate::clock::civil(rec.received_at);
    let dir = sctx
        .config()
        .data_dir
        .join("archive")
        .join(format!("{y:04}-{m:02}"));
    std::fs::create_dir_all(&dir)?;
    let body = store.blobs().get(&rec.blob)?;
    let path = dir.join(format!("{id:016X}.eml"));
    let mut f = std::fs::File::create(&path)?;
    f.write_all(&body)?;
    f.sync_all()?;
    std::fs::File::open(&dir)?.sync_all()?;
    super::writer(sctx).queue_delete(QueueName::ToArchive, id)?;
    tracing::info!(id, path = %path.display(), "archived");
    Ok(())
}

/// A change to a held record: nothing of these queues' own has it in flight (their work
/// is synchronous in the actor; a record that moves meanwhile is refused as moved).
macro_rules! changes_held_records {
    ($actor:ty) => {
        impl Handler<Change> for $actor {
            type Result = ResponseActFuture<Self, Result<Changed, Refused>>;

            fn handle(&mut self, msg: Change, _ctx: &mut Self::Context) -> Self::Result {
                Box::pin(change::apply(self.ctx.clone(), self.held_queue(), msg))
            }
        }
    };
}

changes_held_records!(DeferredQueueActor);
changes_held_records!(HoldQueueActor);
changes_held_records!(ArchiveQueueActor);

impl DeferredQueueActor {
    fn held_queue(&self) -> QueueName {
        QueueName::Deferred
    }
}

impl HoldQueueActor {
    fn held_queue(&self) -> QueueName {
        self.queue
    }
}

impl ArchiveQueueActor {
    fn held_queue(&self) -> QueueName {
        QueueName::ToArchive
    }
}
