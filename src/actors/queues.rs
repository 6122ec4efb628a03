//! The six queues of MDaemon — inbound, local, remote, deferred, ToArchive, bad — each an
//! actor over its persistent records in storage (docs/architecture.md §1).
//!
//! Invariants:
//! - A queue record is in exactly one queue: every move is one storage transaction
//!   (`queue_replace`), never a copy followed by a delete.
//! - Persist first, then notify: a notification ([`Queued`]) only tells an actor where to
//!   look; a lost one costs a delay, never a message, because every actor rescans its
//!   queue when it starts or restarts and on a timer.
//! - Local delivery consumes the queue recipient in the same transaction that appends to
//!   the folder, so it happens exactly once even when retried after a crash.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::folder::{AppendMessage, FolderError};
use super::supervisor::{apply_backoff, guarded, in_actor, Panicked};
use super::ServerContext;
use crate::storage::{
    Accepted, BlobId, BlobPin, Destination, FetchedMessage, Flags, FolderId, NewMessage, QueueId,
    QueueName, QueueRecipient, QueueRecord, StorageError, Store,
};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Failed(#[from] Panicked),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// Accept a new message into the inbound queue (SMTP DATA, fetchers). Sent by sessions;
/// the reply comes only after the record is durably committed: then the sender may
/// acknowledge (RFC 5321 §6.1).
#[derive(Message, Debug)]
#[rtype(result = "Result<QueueId, QueueError>")]
pub struct Enqueue(pub QueueRecord);

/// Take in a fetched message (MultiPOP/DomainPOP fetchers): its records and its seen mark
/// in one transaction ([`Store::fetch_accept`]), answered after the commit, so the fetcher
/// may then delete the remote copy.
#[derive(Message, Debug)]
#[rtype(result = "Result<Accepted, QueueError>")]
pub struct EnqueueFetched(pub FetchedMessage);

/// A record is waiting in the receiving actor's queue (after a move by another actor or the
/// console). Each queue does its own work with it: route, deliver, archive, or hold.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Queued(pub QueueId);

/// Reload the queue from storage and work through everything in it.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Rescan;

/// Release deferred records whose time has come (the deferred queue's timer sends it; tests
/// send it after moving a `ManualClock`). Reply: how many were released.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<usize, QueueError>")]
pub struct ReleaseDue;

/// The queue actors' addresses.
#[derive(Clone)]
pub struct QueueAddrs {
    pub inbound: Addr<InboundQueueActor>,
    pub local: Addr<LocalQueueActor>,
    pub remote: Addr<super::remote_queue::RemoteQueueActor>,
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
        let inbound = Supervisor::start_in_arbiter(arb, move |_| InboundQueueActor { ctx: c });
        let c = ctx.clone();
        let local = Supervisor::start_in_arbiter(arb, move |_| LocalQueueActor {
            ctx: c,
            in_flight: HashSet::new(),
        });
        let c = ctx.clone();
        let remote = Supervisor::start_in_arbiter(arb, move |_| {
            super::remote_queue::RemoteQueueActor::new(c)
        });
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

pub fn path(q: QueueName) -> String {
    format!("queue/{}", q.as_str())
}

// ---------------------------------------------------------------------------------------
// inbound: resolve recipients (aliases, plus-addressing) and route to local/remote/bad
// ---------------------------------------------------------------------------------------

pub struct InboundQueueActor {
    ctx: Arc<ServerContext>,
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
    }
}

impl InboundQueueActor {
    /// Writes with `put` (one transaction) and makes it durable, then tells each queue that
    /// got a record. The caller hears back only when it is all durable. `put` runs on the
    /// commit thread after the round's body sync (`Store::write_after_sync`): an SMTP body
    /// is written without its own sync (`BlobStore::write_pinned`), and its record must not
    /// reach sled before it is durable; one round covers both. When the flush fails and
    /// `withdraw` is set, the records are deleted again: the sender gets a 4xx and will send
    /// again, so delivering this copy too would duplicate the message.
    fn accept<T: Send + 'static>(
        &mut self,
        withdraw: bool,
        put: impl FnOnce(&Store) -> Result<(T, Vec<(QueueName, QueueId)>), StorageError>
            + Send
            + 'static,
    ) -> ResponseActFuture<Self, Result<T, QueueError>> {
        let store = self.ctx.store.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let writer = store.clone();
        let commit = store.write_after_sync(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(
                || put(&writer),
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
                    for (queue, id) in &written.1 {
                        if let Err(e) = store.queue_delete(*queue, *id) {
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
                    for (queue, id) in records {
                        match queue {
                            QueueName::Inbound => ctx.notify(Queued(id)),
                            other => act.ctx.queues().notify(other, id),
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

    fn handle(&mut self, msg: Enqueue, _ctx: &mut Self::Context) -> Self::Result {
        let id = msg.0.id;
        self.accept(true, move |store| {
            store.queue_put(&msg.0)?;
            Ok((id, vec![(QueueName::Inbound, id)]))
        })
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
                Accepted::New { records, .. } => records.clone(),
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

    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        let sctx = self.ctx.clone();
        let routed = guarded::<Self, _>(&sctx.registry, "queue/inbound", ctx, || {
            sctx.faults.hit("inbound.route");
            route(&sctx.store, msg.0)
        });
        match routed {
            Ok(Ok(records)) => {
                for (queue, id) in records {
                    tracing::debug!(from = msg.0, to = queue.as_str(), id, "routed");
                    sctx.queues().notify(queue, id);
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(id = msg.0, "routing failed, will retry: {e}");
                let retry = sctx.config().queue.local_retry_interval;
                ctx.run_later(retry, move |_, ctx| ctx.notify(Queued(msg.0)));
            }
            Err(_) => {} // restarting: the rescan on start routes it
        }
    }
}

impl Handler<Rescan> for InboundQueueActor {
    type Result = ();

    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match self.ctx.store.queue_list(QueueName::Inbound) {
            Ok(recs) => recs.iter().for_each(|r| ctx.notify(Queued(r.id))),
            Err(e) => tracing::error!("cannot read the inbound queue: {e}"),
        }
    }
}

/// Routes inbound record `id`: one local record for the local accounts, one remote record
/// for remote addresses, one bad record for recipients that resolve to nothing; all in one
/// transaction. Returns where the new records went. A record no longer in inbound (already
/// routed) yields nothing.
pub fn route(store: &Store, id: QueueId) -> Result<Vec<(QueueName, QueueId)>, StorageError> {
    let Some(rec) = store.queue_get(QueueName::Inbound, id)? else {
        return Ok(Vec::new());
    };
    let mut local: Vec<QueueRecipient> = Vec::new();
    let mut remote: Vec<QueueRecipient> = Vec::new();
    let mut bad: Vec<QueueRecipient> = Vec::new();
    let mut seen = HashSet::new();
    for r in rec.recipients.iter().filter(|r| !r.delivered) {
        let dests = store.resolve_recipient(&r.address)?;
        if dests.is_empty() {
            bad.push(QueueRecipient {
                last_error: Some("550 5.1.1 no such mailbox".into()),
                ..r.clone()
            });
        }
        for d in dests {
            let (list, address) = match d {
                Destination::Local(a) => (&mut local, a),
                Destination::Remote(a) => (&mut remote, a),
            };
            if seen.insert(address.clone()) {
                list.push(QueueRecipient {
                    address,
                    delivered: false,
                    last_error: None,
                    ..r.clone()
                });
            }
        }
    }
    let mut out = Vec::new();
    let mut records = Vec::new();
    for (queue, recipients) in [
        (QueueName::Local, local),
        (QueueName::Remote, remote),
        (QueueName::Bad, bad),
    ] {
        if recipients.is_empty() {
            continue;
        }
        let new_id = store.next_queue_id()?;
        let last_error = (queue == QueueName::Bad).then(|| "no such mailbox".to_string());
        records.push(QueueRecord {
            id: new_id,
            queue,
            recipients,
            last_error,
            ..rec.clone()
        });
        out.push((queue, new_id));
    }
    store.queue_replace(QueueName::Inbound, id, &records)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// local: deliver into each recipient's INBOX through its folder actor
// ---------------------------------------------------------------------------------------

pub struct LocalQueueActor {
    ctx: Arc<ServerContext>,
    in_flight: HashSet<QueueId>,
}

/// One recipient's delivery result.
enum Outcome {
    Delivered,
    NoMailbox(String),
    Retry(String),
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
        match self.ctx.store.queue_list(QueueName::Local) {
            Ok(recs) => recs.iter().for_each(|r| ctx.notify(Queued(r.id))),
            Err(e) => tracing::error!("cannot read the local queue: {e}"),
        }
    }
}

impl Handler<Queued> for LocalQueueActor {
    type Result = ();

    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        let id = msg.0;
        if !self.in_flight.insert(id) {
            return;
        }
        let sctx = self.ctx.clone();
        let loaded = guarded::<Self, _>(&sctx.registry, "queue/local", ctx, || {
            sctx.faults.hit("local.deliver");
            sctx.store.queue_get(QueueName::Local, id)
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
    for (i, r) in rec.recipients.iter().enumerate() {
        if r.delivered {
            continue;
        }
        match deliver_one(&sctx, &rec, i, &r.address).await {
            Outcome::Delivered => {
                // Test hook: a failure between two recipients' deliveries.
                sctx.faults.hit("local.delivered");
                delivered.push(i);
                Stats::add(&sctx.stats.messages_delivered, 1);
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
    sctx.store.queue_put(&report)?;
    sctx.store.commit_async().await?;
    sctx.queues().notify(QueueName::Inbound, report.id);
    Ok(())
}

use super::stats::Stats;

async fn deliver_one(
    sctx: &Arc<ServerContext>,
    rec: &QueueRecord,
    i: usize,
    account: &str,
) -> Outcome {
    let folder = match target_folder(&sctx.store, account, rec.folder.as_deref()) {
        Ok(Some(f)) => f,
        Ok(None) => {
            return Outcome::NoMailbox(format!("550 5.1.1 mailbox {account} does not exist"))
        }
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let addr = match sctx.folders.get(sctx, folder) {
        Ok(a) => a,
        Err(e) => return Outcome::Retry(e.to_string()),
    };
    let append = || AppendMessage {
        message: NewMessage {
            blob: rec.blob,
            size: rec.size,
            flags: Flags::default(),
            internal_date: sctx.clock.now(),
        },
        consume: Some((QueueName::Local, rec.id, i)),
    };
    let mut reply = addr.send(append()).await;
    if let Err(MailboxError::Closed) = reply {
        // The folder actor died for good: the registry's watchdog starts a new one (with
        // the old one's subscribers) and the append goes there. The consume mark makes an
        // append the dead actor had stored a Conflict, never a second copy.
        if let Ok(addr) = sctx.folders.get(sctx, folder) {
            reply = addr.send(append()).await;
        }
    }
    match reply {
        Ok(Ok(_)) => Outcome::Delivered,
        // Already consumed by an earlier attempt: delivered exactly once.
        Ok(Err(FolderError::Storage(StorageError::Conflict(_)))) => Outcome::Delivered,
        // The mailbox filled up after RCPT was accepted: the message goes to the bad queue
        // with the reason, and the sender gets a failure report.
        Ok(Err(FolderError::Storage(StorageError::OverQuota { resource }))) => Outcome::NoMailbox(
            format!("552 5.2.2 mailbox {account} is full ({resource} quota)"),
        ),
        Ok(Err(e)) => Outcome::Retry(e.to_string()),
        Err(e) => Outcome::Retry(format!("folder actor: {e}")),
    }
}

/// The folder a local record is delivered to: INBOX, or the record's `folder` hint (a DMARC
/// quarantine sets "Junk"). A hinted folder the account does not have is looked up by
/// special use (`\\Junk` for "Junk", whatever the user renamed it to), then INBOX: the
/// message is delivered either way. `None` when the account has no INBOX (no such mailbox).
fn target_folder(
    store: &Store,
    account: &str,
    hint: Option<&str>,
) -> Result<Option<FolderId>, StorageError> {
    if let Some(name) = hint {
        if let Some(f) = store.folder_id(account, name)? {
            return Ok(Some(f));
        }
        let special = format!("\\{name}");
        if let Ok(folders) = store.list_folders(account) {
            if let Some(f) = folders
                .iter()
                .find(|f| f.special_use.as_deref() == Some(special.as_str()) && !f.noselect)
            {
                return Ok(Some(f.id));
            }
        }
    }
    store.folder_id(account, "INBOX")
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
    store.queue_replace(QueueName::Local, id, &new)?;
    sctx.queues().notify(QueueName::Bad, new[0].id);
    Ok(())
}

// ---------------------------------------------------------------------------------------
// deferred: hold records until their due time, then release them to inbound
// ---------------------------------------------------------------------------------------

pub struct DeferredQueueActor {
    ctx: Arc<ServerContext>,
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
    for rec in sctx.store.queue_list(QueueName::Deferred)? {
        if rec.due.is_some_and(|due| due > now) {
            continue;
        }
        let released = QueueRecord {
            queue: QueueName::Inbound,
            due: None,
            ..rec
        };
        sctx.store.queue_replace(
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
    ctx: Arc<ServerContext>,
    queue: QueueName,
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
    ctx: Arc<ServerContext>,
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
        match self.ctx.store.queue_list(QueueName::ToArchive) {
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
    store.queue_delete(QueueName::ToArchive, id)?;
    tracing::info!(id, path = %path.display(), "archived");
    Ok(())
}
