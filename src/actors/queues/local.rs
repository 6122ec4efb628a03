//! The local queue: delivers into each recipient's folder through its folder actor.
//!
//! Local delivery consumes the queue recipient in the same transaction that appends to the
//! folder, so it happens exactly once even when retried after a crash. A record being
//! delivered is in `in_flight`; a [`Change`] to it answers busy.

use std::collections::HashSet;
use std::sync::Arc;

use actix::prelude::*;

use super::change::{self, Change, Changed, Refused};
use super::messages::{path, Queued, QueuedRecord, Rescan};
use crate::actors::folder::{AppendMessage, FolderError};
use crate::actors::stats::Stats;
use crate::actors::supervisor::{apply_backoff, guarded, in_actor};
use crate::actors::ServerContext;
use crate::delivery::route::target_folder;
use crate::storage::{Flags, NewMessage, QueueId, QueueName, QueueRecord, StorageError};

pub struct LocalQueueActor {
    pub(super) ctx: Arc<ServerContext>,
    /// Records being delivered (or changed by a [`Change`]).
    pub(super) in_flight: HashSet<QueueId>,
}

/// One recipient's delivery result.
enum Outcome {
    Delivered,
    NoMailbox(String),
    Retry(String),
    /// The record is no longer in the local queue (another attempt delivered it whole, or
    /// the console deleted or moved it): nothing to deliver or report.
    Gone,
}

impl Actor for LocalQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(QueueName::Local), ctx);
        // At boot the first scan waits for the queue addresses (`set_queues`); after a
        // restart they are known and the actor rescans at once.
        if self.ctx.queues_ready() {
            ctx.notify(Rescan);
        }
        let every = self.ctx.config().queue.local_retry_interval;
        ctx.run_interval(every, |_, ctx| ctx.notify(Rescan));
    }
}

impl Supervised for LocalQueueActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::info!("local queue restarting");
        self.in_flight.clear();
    }
}

impl Handler<Rescan> for LocalQueueActor {
    type Result = ();

    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match super::load(&self.ctx, QueueName::Local) {
            Ok(recs) => {
                let settling = super::settling(&self.ctx);
                recs.iter()
                    .filter(|r| !settling.contains(r.id))
                    .for_each(|r| ctx.notify(Queued(r.id)))
            }
            Err(e) => tracing::error!("cannot read the local queue: {e}"),
        }
    }
}

impl Handler<Queued> for LocalQueueActor {
    type Result = ();

    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        self.start(msg.0, None, ctx);
    }
}

impl Handler<QueuedRecord> for LocalQueueActor {
    type Result = ();

    /// The record as it was committed: no read of it here.
    fn handle(&mut self, msg: QueuedRecord, ctx: &mut Self::Context) {
        self.start(msg.0.id, Some(*msg.0), ctx);
    }
}

impl LocalQueueActor {
    /// Delivers record `id`: `given` when the writer handed it over, else read from storage.
    fn start(&mut self, id: QueueId, given: Option<QueueRecord>, ctx: &mut Context<Self>) {
        if !self.in_flight.insert(id) {
            return;
        }
        let sctx = self.ctx.clone();
        let loaded = guarded::<Self, _>(&sctx.registry, "queue/local", ctx, || {
            sctx.faults.hit("local.deliver");
            match given {
                Some(rec) => Ok(Some(rec)),
                None => sctx.store.queue_get(QueueName::Local, id),
            }
        });
        let rec = match loaded {
            Ok(Ok(Some(rec))) => rec,
            Ok(Ok(None)) => {
                self.in_flight.remove(&id);
                return;
            }
            Ok(Err(e)) => {
                tracing::error!(id, "cannot read local queue record: {e}");
                self.in_flight.remove(&id);
                return;
            }
            Err(_) => return, // restarting
        };
        // A panic in the delivery stops the actor (its Supervisor restarts it and rescans):
        // the record keeps its recipients not yet consumed, so nothing is delivered twice
        // and nothing is lost.
        let fut = in_actor(
            sctx.clone(),
            path(QueueName::Local),
            deliver_record(sctx, rec),
        )
        .map(move |res, act: &mut Self, _ctx| {
            act.in_flight.remove(&id);
            if let Ok(Err(e)) = res {
                tracing::warn!(id, "local delivery will be retried: {e}");
            }
        });
        ctx.spawn(fut);
    }
}

/// Delivers every undelivered recipient of a local record; recipients whose mailbox does
/// not exist are moved to the bad queue with the reason. Temporary failures stay for the
/// next scan.
async fn deliver_record(sctx: Arc<ServerContext>, rec: QueueRecord) -> Result<(), String> {
    let mut no_mailbox = Vec::new();
    let mut retry = None;
    let mut delivered = Vec::new();
    // The record as stored after each delivery here, so that the append can write it
    // without reading it first (`FolderWrites::append_delivery`).
    let mut seen = Arc::new(rec.clone());
    for (i, r) in rec.recipients.iter().enumerate() {
        if r.delivered {
            continue;
        }
        match deliver_one(&sctx, &seen, i, &r.address).await {
            Outcome::Gone => {
                // Delivered whole elsewhere, deleted or moved: no report, no side effects,
                // and no recipient of it is moved to the bad queue from here.
                tracing::info!(
                    id = format!("{:016X}", rec.id),
                    "no longer in the local queue: delivery dropped"
                );
                no_mailbox.clear();
                retry = None;
                break;
            }
            Outcome::Delivered => {
                if let Some(s) = Arc::make_mut(&mut seen).recipients.get_mut(i) {
                    s.delivered = true;
                    s.last_error = None;
                }
                // Test hook: a failure between two recipients' deliveries.
                sctx.faults.hit("local.delivered");
                crate::scheduling::inbound::after_local_delivery(
                    &sctx,
                    &r.address,
                    &r.original,
                    &rec,
                );
                delivered.push(i);
                Stats::add(&sctx.stats.messages_delivered, 1);
                sctx.stats
                    .local_delivered_after(sctx.clock.now() - rec.received_at);
                tracing::info!(
                    id = format!("{:016X}", rec.id),
                    to = %r.address,
                    "delivered to {}",
                    rec.folder.as_deref().unwrap_or("INBOX")
                );
            }
            Outcome::NoMailbox(why) => no_mailbox.push((i, why)),
            Outcome::Retry(why) => retry = Some(why),
        }
    }
    if !no_mailbox.is_empty() {
        move_recipients_to_bad(&sctx, rec.id, &no_mailbox).map_err(|e| e.to_string())?;
        // Best effort after the move, as for success reports: a crash in between loses the
        // report, never the message (it waits in the bad queue).
        if let Err(e) = report(&sctx, |cx| {
            crate::outbound::settle::local_failure_report(cx, &rec, &no_mailbox)
        })
        .await
        {
            tracing::warn!(id = rec.id, "cannot send the failure report: {e}");
        }
    }
    if !delivered.is_empty() {
        // Best effort after the delivery: a crash in between loses the report, never mail.
        if let Err(e) = report(&sctx, |cx| {
            crate::outbound::settle::delivered_report(cx, &rec, &delivered)
        })
        .await
        {
            tracing::warn!(id = rec.id, "cannot send the success report: {e}");
        }
    }
    retry.map_or(Ok(()), Err)
}

/// Queues the delivery report `build` makes (success or failure DSN, if any is due) through
/// the inbound queue.
async fn report(
    sctx: &Arc<ServerContext>,
    build: impl FnOnce(&crate::outbound::settle::Context) -> Result<Option<QueueRecord>, StorageError>,
) -> Result<(), StorageError> {
    let config = sctx.config();
    let cx = crate::outbound::settle::Context {
        store: &sctx.store,
        hostname: &config.hostname,
        delivery: &config.delivery,
        now: sctx.clock.now(),
    };
    let Some(report) = build(&cx)? else {
        return Ok(());
    };
    super::writer(sctx).queue_put(&report)?;
    sctx.store.commit_async().await?;
    sctx.queues().notify(QueueName::Inbound, report.id);
    Ok(())
}

async fn deliver_one(
    sctx: &Arc<ServerContext>,
    rec: &Arc<QueueRecord>,
    i: usize,
    account: &str,
) -> Outcome {
    // A target folder gone since it was looked up (a cached id whose account was deleted
    // and made again) fails the append before it writes anything: looked up once more.
    let mut reply = append_to_target(sctx, rec, i, account).await;
    if let Ok(Ok(Err(FolderError::Storage(StorageError::NotFound(_))))) = &reply {
        reply = append_to_target(sctx, rec, i, account).await;
    }
    let reply = match reply {
        Ok(reply) => reply,
        Err(outcome) => return outcome,
    };
    match reply {
        Ok(Ok(_)) => Outcome::Delivered,
        // Already consumed by an earlier attempt: delivered exactly once.
        Ok(Err(FolderError::Storage(StorageError::Conflict(_)))) => Outcome::Delivered,
        Ok(Err(FolderError::Storage(StorageError::Gone(_)))) => Outcome::Gone,
        // The mailbox filled up after RCPT was accepted: the message goes to the bad queue
        // with the reason, and the sender gets a failure report.
        Ok(Err(FolderError::Storage(StorageError::OverQuota { resource }))) => Outcome::NoMailbox(
            format!("552 5.2.2 mailbox {account} is full ({resource} quota)"),
        ),
        Ok(Err(e)) => Outcome::Retry(e.to_string()),
        Err(e) => Outcome::Retry(format!("folder actor: {e}")),
    }
}

/// The folder actor's answer to the append of recipient `i` into `account`'s target folder
/// (looked up now), or the outcome when there is no folder to append to.
async fn append_to_target(
    sctx: &Arc<ServerContext>,
    rec: &Arc<QueueRecord>,
    i: usize,
    account: &str,
) -> Result<Result<Result<(u32, u64), FolderError>, MailboxError>, Outcome> {
    let folder = match target_folder(&sctx.store, account, rec.folder.as_deref()) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Err(Outcome::NoMailbox(format!(
                "550 5.1.1 mailbox {account} does not exist"
            )))
        }
        Err(e) => return Err(Outcome::Retry(e.to_string())),
    };
    let addr = match sctx.folders.get(sctx, folder) {
        Ok(a) => a,
        // No such folder (any more): as the append's own NotFound.
        Err(e @ FolderError::Storage(StorageError::NotFound(_))) => return Ok(Ok(Err(e))),
        Err(e) => return Err(Outcome::Retry(e.to_string())),
    };
    let append = || AppendMessage {
        message: NewMessage {
            blob: rec.blob,
            size: rec.size,
            flags: Flags::default(),
            internal_date: sctx.clock.now(),
        },
        consume: Some((QueueName::Local, rec.id, i)),
        seen: Some(rec.clone()),
    };
    let mut reply = addr.send(append()).await;
    // The folder actor died for good: the registry's watchdog starts a new one (with the
    // old one's subscribers) and the append goes there. The consume mark makes an append
    // the dead actor had stored a Conflict, never a second copy. The answer of a dying
    // actor can come back before its mailbox is seen closed, so the registry may still
    // hand out the dying address: asked again a bounded number of times, a little later.
    for _ in 0..50 {
        if !matches!(reply, Err(MailboxError::Closed)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        if let Ok(addr) = sctx.folders.get(sctx, folder) {
            reply = addr.send(append()).await;
            // The dead actor may have stored it, consuming the last recipient: that is
            // this delivery done, not a record gone from under it. Only then: with another
            // recipient still undelivered, its append could not have removed the record,
            // so Gone means the record went (console, another delivery) and stays Gone.
            let last = rec
                .recipients
                .iter()
                .enumerate()
                .all(|(j, r)| j == i || r.delivered);
            if let (true, Ok(Err(FolderError::Storage(StorageError::Gone(why))))) = (last, &reply) {
                reply = Ok(Err(FolderError::Storage(StorageError::Conflict(
                    why.clone(),
                ))));
            }
        }
    }
    Ok(reply)
}

/// Splits the failed recipients off a local record into a bad-queue record, in one
/// transaction.
fn move_recipients_to_bad(
    sctx: &ServerContext,
    id: QueueId,
    failed: &[(usize, String)],
) -> Result<(), StorageError> {
    let store = &sctx.store;
    let Some(rec) = store.queue_get(QueueName::Local, id)? else {
        return Ok(());
    };
    let mut keep = rec.clone();
    let mut bad = QueueRecord {
        id: store.next_queue_id()?,
        queue: QueueName::Bad,
        recipients: Vec::new(),
        ..rec.clone()
    };
    for (i, why) in failed {
        if let Some(r) = keep.recipients.get_mut(*i) {
            if !r.delivered {
                let mut moved = r.clone();
                moved.last_error = Some(why.clone());
                bad.recipients.push(moved);
                // Marked delivered here: this recipient now lives in the bad record.
                r.delivered = true;
                r.last_error = Some(format!("moved to bad queue: {why}"));
            }
        }
    }
    bad.last_error = failed.first().map(|(_, w)| w.clone());
    let mut new = vec![bad];
    if keep.recipients.iter().any(|r| !r.delivered) {
        new.push(keep);
    }
    super::writer(sctx).queue_replace(QueueName::Local, id, &new)?;
    sctx.queues().notify(QueueName::Bad, new[0].id);
    Ok(())
}

impl Handler<Change> for LocalQueueActor {
    type Result = ResponseActFuture<Self, Result<Changed, Refused>>;

    fn handle(&mut self, msg: Change, _ctx: &mut Self::Context) -> Self::Result {
        let id = msg.id();
        if !self.in_flight.insert(id) {
            return Box::pin(actix::fut::ready(Err(Refused::Busy(id, QueueName::Local))));
        }
        Box::pin(change::apply(self.ctx.clone(), QueueName::Local, msg).map(
            move |res, act: &mut Self, ctx| {
                act.in_flight.remove(&id);
                // Still here when the change was refused: delivered now, not at the rescan.
                ctx.notify(Queued(id));
                res
            },
        ))
    }
}
