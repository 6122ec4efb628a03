//! The inbound queue: takes new messages in (sessions, fetchers, reports) and routes each
//! to the local, remote and bad queues by the rules of `delivery::route`. A message for
//! local accounts only is routed as it is taken in, and its record written straight into
//! the local queue in the same transaction (see [`InboundQueueActor`]'s `Enqueue`).

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use super::change::{self, Change, Changed, Refused};
use super::messages::{path, Enqueue, EnqueueFetched, QueueError, Queued, Rescan};
use crate::actors::supervisor::{apply_backoff, in_actor, Panicked};
use crate::actors::ServerContext;
use crate::delivery::route;
use crate::storage::{
    Accepted, BlobId, BlobPin, QueueId, QueueName, QueueRecord, QueueWriter, StorageError, Store,
};

pub struct InboundQueueActor {
    pub(super) ctx: Arc<ServerContext>,
    /// Records being routed now.
    pub(super) routing: HashSet<QueueId>,
}

impl Actor for InboundQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(QueueName::Inbound), ctx);
        // At boot the first scan waits for the queue addresses (`set_queues`); after a
        // restart they are known and the actor rescans at once.
        if self.ctx.queues_ready() {
            ctx.notify(Rescan);
        }
    }
}

impl Supervised for InboundQueueActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::info!("inbound queue restarting");
        // The routings in flight were dropped with the old context; the rescan redoes them.
        self.routing.clear();
    }
}

/// A record an intake wrote: its queue, its id, and the record itself when the queue's
/// actor is to get it whole (see [`super::QueuedRecord`]).
type Written = (QueueName, QueueId, Option<Box<QueueRecord>>);

impl InboundQueueActor {
    /// Writes with `put` (one transaction) and makes it durable, then tells each queue that
    /// got a record. The caller hears back only when it is all durable. `put` runs on the
    /// commit thread after the round's body sync (`Store::write_after_sync`): an SMTP body
    /// is written without its own sync (`BlobStore::write_pinned`), and its record must not
    /// reach the index before it is durable; one round covers both. When the flush fails and
    /// `withdraw` is set, the records are deleted again: the sender gets a 4xx and will send
    /// again, so delivering this copy too would duplicate the message.
    fn accept<T: Send + 'static>(
        &mut self,
        withdraw: bool,
        put: impl FnOnce(&QueueWriter) -> Result<(T, Vec<Written>), StorageError> + Send + 'static,
    ) -> ResponseActFuture<Self, Result<T, QueueError>> {
        let store = self.ctx.store.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let writer = super::writer(&self.ctx).clone();
        let put_writer = writer.clone();
        let commit = store.write_after_sync(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || put(&put_writer),
            )));
        });
        let written = async move {
            let committed = commit.await;
            let written = match rx.await {
                Ok(Ok(written)) => written?,
                // Counted and the actor restarted by `in_actor`, as a panic on its thread.
                Ok(Err(panic)) => std::panic::resume_unwind(panic),
                // Not run: the body sync failed (the round's error), or the commit thread
                // has stopped.
                Err(_) => {
                    return Err(committed
                        .err()
                        .unwrap_or_else(|| {
                            StorageError::Io(std::io::Error::other("the record write did not run"))
                        })
                        .into())
                }
            };
            if let Err(e) = committed {
                if withdraw {
                    for (queue, id, _) in &written.1 {
                        if let Err(e) = writer.queue_delete(*queue, *id) {
                            tracing::error!(id, %queue, error = %e, "cannot withdraw a record whose commit failed");
                        }
                    }
                }
                return Err(e.into());
            }
            Ok::<_, QueueError>(written)
        };
        Box::pin(
            in_actor(self.ctx.clone(), path(QueueName::Inbound), written).map(
                |res: Result<Result<_, QueueError>, Panicked>, act: &mut Self, ctx| {
                    let (value, records) = res??;
                    for (queue, id, rec) in records {
                        match (queue, rec) {
                            (QueueName::Inbound, _) => ctx.notify(Queued(id)),
                            (_, Some(rec)) => act.ctx.queues().notify_record(rec),
                            (other, None) => act.ctx.queues().notify(other, id),
                        }
                    }
                    Ok(value)
                },
            ),
        )
    }
}

impl Handler<Enqueue> for InboundQueueActor {
    type Result = ResponseActFuture<Self, Result<QueueId, QueueError>>;

    /// A record whose recipients are all local accounts is routed here and written straight
    /// into the local queue, under its own id ([`routed_at_once`]): one transaction, one
    /// queue read and one id fewer than a stop in inbound. Others wait in inbound for
    /// [`route_record`]. Either way the record is durable before the caller hears back.
    fn handle(&mut self, msg: Enqueue, _ctx: &mut Self::Context) -> Self::Result {
        let id = msg.0.id;
        let sctx = self.ctx.clone();
        // Held from the write until the round's answer is handled (see `Settling`).
        let guard = std::sync::Arc::new(std::sync::Mutex::new(None));
        let held = guard.clone();
        let settling = super::settling(&self.ctx).clone();
        let accepted = self.accept(true, move |store| {
            let rec = routed_at_once(&sctx, &msg.0).unwrap_or(msg.0);
            if rec.queue == QueueName::Local {
                *held.lock().unwrap_or_else(|e| e.into_inner()) = Some(settling.hold(rec.id));
            }
            store.queue_put(&rec)?;
            // A record routed at once goes to the local queue whole (it need not read it).
            let written = match rec.queue {
                QueueName::Local => (rec.queue, rec.id, Some(Box::new(rec))),
                queue => (queue, rec.id, None),
            };
            Ok((id, vec![written]))
        });
        Box::pin(accepted.map(move |res, _act, _ctx| {
            drop(guard);
            res
        }))
    }
}

impl Handler<EnqueueFetched> for InboundQueueActor {
    type Result = ResponseActFuture<Self, Result<Accepted, QueueError>>;

    fn handle(&mut self, msg: EnqueueFetched, _ctx: &mut Self::Context) -> Self::Result {
        // Not withdrawn: the seen mark of the same transaction would then keep the message
        // from being fetched again.
        self.accept(false, move |store| {
            let accepted = store.fetch_accept(&msg.0)?;
            let records = match &accepted {
                Accepted::New { records, .. } => {
                    records.iter().map(|(q, id)| (*q, *id, None)).collect()
                }
                Accepted::AlreadySeen => Vec::new(),
            };
            Ok((accepted, records))
        })
    }
}

/// Writes a message body file, off the actor threads, not yet durable: its record goes in
/// through [`EnqueueFetched`], whose write runs after the commit round's sync
/// (`Store::write_after_sync`). Hold the pin until that transaction is done (see
/// `BlobStore::put_pinned`).
pub async fn store_body(
    store: &Store,
    content: Vec<u8>,
) -> Result<(BlobId, BlobPin), StorageError> {
    let blobs = store.clone();
    tokio::task::spawn_blocking(move || blobs.blobs().write_pinned(&content))
        .await
        .map_err(|e| StorageError::Io(std::io::Error::other(e.to_string())))?
}

impl Handler<Queued> for InboundQueueActor {
    type Result = ();

    /// Routes the record on a blocking thread, not on the core arbiter: with a database
    /// server routing is several round trips, which must not hold up the other queues. A
    /// record already being routed is not routed twice at once.
    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        let id = msg.0;
        if !self.routing.insert(id) {
            return;
        }
        let sctx = self.ctx.clone();
        let work = sctx.clone();
        let routing = async move {
            let routed = tokio::task::spawn_blocking(move || {
                work.faults.hit("inbound.route");
                route_record(&work.store, super::writer(&work), id)
            })
            .await;
            match routed {
                Ok(r) => r,
                // A panic while routing is the actor's, as it was when routing ran in it.
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(e) => Err(StorageError::Backend(format!("routing stopped: {e}"))),
            }
        };
        let fut = in_actor(sctx.clone(), path(QueueName::Inbound), routing).map(
            move |res, act: &mut Self, ctx| {
                act.routing.remove(&id);
                match res {
                    Ok(Ok(records)) => {
                        for (queue, to) in records {
                            tracing::debug!(from = id, to = queue.as_str(), id = to, "routed");
                            sctx.queues().notify(queue, to);
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(id, "routing failed, will retry: {e}");
                        let retry = sctx.config().queue.local_retry_interval;
                        ctx.run_later(retry, move |_, ctx| ctx.notify(Queued(id)));
                    }
                    Err(_) => {} // restarting: the rescan on start routes it
                }
            },
        );
        ctx.spawn(fut);
    }
}

impl Handler<Rescan> for InboundQueueActor {
    type Result = ();

    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match super::load(&self.ctx, QueueName::Inbound) {
            Ok(recs) => recs.iter().for_each(|r| ctx.notify(Queued(r.id))),
            Err(e) => tracing::error!("cannot read the inbound queue: {e}"),
        }
    }
}

/// Routes inbound record `id` (`delivery::route`): one local record for the local accounts,
/// one remote record for remote addresses, one bad record for recipients that resolve to
/// nothing; all in one transaction. Returns where the new records went. A record no longer
/// in inbound (already routed) yields nothing.
fn route_record(
    store: &Store,
    writer: &QueueWriter,
    id: QueueId,
) -> Result<Vec<(QueueName, QueueId)>, StorageError> {
    let Some(rec) = store.queue_get(QueueName::Inbound, id)? else {
        return Ok(Vec::new());
    };
    let records = route::route(store, &rec)?.into_records(&rec, || store.next_queue_id())?;
    writer.queue_replace(QueueName::Inbound, id, &records)?;
    Ok(records.iter().map(|r| (r.queue, r.id)).collect())
}

/// `rec` routed as [`route_record`] would route it, when that gives a single local record
/// (every recipient a local account, each once): that record, keeping `rec`'s id. `None`
/// (the record goes to inbound as received) for anything else: a remote or unknown
/// recipient, a lookup that failed, or the test hook `inbound.route` armed (which fails the
/// routing in the inbound queue actor).
fn routed_at_once(sctx: &ServerContext, rec: &QueueRecord) -> Option<QueueRecord> {
    if sctx.faults.is_armed("inbound.route") {
        return None;
    }
    let routes = match route::route(&sctx.store, rec) {
        Ok(routes) => routes,
        Err(e) => {
            tracing::debug!(id = rec.id, "routed later: {e}");
            return None;
        }
    };
    if routes.local.is_empty() || !routes.remote.is_empty() || !routes.bad.is_empty() {
        return None;
    }
    let mut records = routes.into_records(rec, || Ok(rec.id)).ok()?;
    match records.pop() {
        Some(local) if records.is_empty() && local.queue == QueueName::Local => Some(local),
        _ => None,
    }
}

impl Handler<Change> for InboundQueueActor {
    type Result = ResponseActFuture<Self, Result<Changed, Refused>>;

    fn handle(&mut self, msg: Change, _ctx: &mut Self::Context) -> Self::Result {
        Box::pin(change::apply(self.ctx.clone(), QueueName::Inbound, msg))
    }
}
