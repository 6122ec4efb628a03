//! The remote queue: delivers mail for other domains over SMTP (issue 5).
//!
//! A record arriving here ([`Queued`]) is first split, in one transaction, into one record
//! per destination (a recipient domain, or the smarthost). Each destination has a line of
//! waiting records; a connection worker for it opens one session (MX hosts in order, see
//! `outbound::deliver`) and takes the destination's records one after another
//! ([`NextJob`]) over that session, settling each message's results in storage
//! (`outbound::settle`) right after its final reply. Workers are bounded per destination
//! (`max_connections_per_domain`) and in total (`max_connections`).
//!
//! Invariants:
//! - A record is handled by at most one worker: `queued` holds every id that is waiting or
//!   in flight, and a record leaves the remote queue only in the transaction that settles it,
//!   which this actor writes ([`Settle`]: the worker decides with `outbound::settle`).
//! - A record in flight (`in_flight`: taken by a worker, not yet settled) is not changed by
//!   the console: a [`Change`] to it answers busy. One still waiting leaves its line first.
//! - Persist, then notify: records made by settling (deferred, DSNs, bad) are committed
//!   before their queues hear of them.
//! - On restart everything in memory is dropped (workers die with the actor's context) and
//!   the queue is scanned again; a message in flight at a crash is sent again (at least once).
//! - A panic while a worker delivers a record is contained there (`supervisor::contained`):
//!   counted under `queue/remote`, the connection dropped unfinished, the record (still in
//!   storage, not settled) handed back to the queue after the back-off, and a new worker
//!   started for it. The other workers go on. A panic elsewhere in a worker stops the actor
//!   (`supervisor::in_actor`), which restarts and rescans.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;

use super::change::{self, Change, Changed, Refused};
use super::messages::{path, Enqueue, Queued, Rescan};
use crate::actors::stats::Stats;
use crate::actors::supervisor::{apply_backoff, contained, guarded, in_actor};
use crate::actors::ServerContext;
use crate::outbound::deliver::{self, destination};
use crate::outbound::dns::{self, Resolver};
use crate::outbound::session::Connection;
use crate::outbound::settle::{self, Attempt};
use crate::outbound::tlsrpt;
use crate::protocols::smtp::client::Outcome;
use crate::storage::{QueueId, QueueName, QueueRecord, StorageError, Store};

/// How often the remote queue is scanned for records nobody told it about.
const RESCAN_EVERY: Duration = Duration::from_secs(60);
/// How often finished days' TLS reports (RFC 8460) are looked for.
const TLS_REPORTS_EVERY: Duration = Duration::from_secs(3600);
/// The TLS-report job's name in the supervision registry.
const TLS_REPORTS_TASK: &str = "task/tls-reports";
/// Messages one connection carries before it is closed and the destination queued afresh.
const MAX_MESSAGES_PER_CONNECTION: usize = 1000;

pub struct RemoteQueueActor {
    ctx: Arc<ServerContext>,
    resolver: Option<Arc<Resolver>>,
    /// Records waiting for a worker, per destination.
    waiting: BTreeMap<String, VecDeque<QueueId>>,
    /// Workers per destination.
    workers: BTreeMap<String, usize>,
    total_workers: usize,
    /// Every record waiting or in flight.
    queued: HashSet<QueueId>,
    /// The records a worker has taken and not yet settled (or a [`Change`] is applying).
    in_flight: HashSet<QueueId>,
}

impl RemoteQueueActor {
    pub fn new(ctx: Arc<ServerContext>) -> RemoteQueueActor {
        RemoteQueueActor {
            ctx,
            resolver: None,
            waiting: BTreeMap::new(),
            workers: BTreeMap::new(),
            total_workers: 0,
            queued: HashSet::new(),
            in_flight: HashSet::new(),
        }
    }

    /// Starts workers where records wait and the limits allow.
    fn dispatch(&mut self, ctx: &mut Context<Self>) {
        let config = self.ctx.config();
        let (per_dest, total) = (
            config.delivery.max_connections_per_domain,
            config.delivery.max_connections,
        );
        let dests: Vec<String> = self.waiting.keys().cloned().collect();
        for dest in dests {
            let waiting = self.waiting.get(&dest).map_or(0, VecDeque::len);
            let mut running = self.workers.get(&dest).copied().unwrap_or(0);
            while running < per_dest && running < waiting && self.total_workers < total {
                running += 1;
                self.total_workers += 1;
                self.workers.insert(dest.clone(), running);
                let worker = run_worker(
                    ctx.address(),
                    self.ctx.clone(),
                    self.resolver.clone(),
                    dest.clone(),
                );
                let remote = path(QueueName::Remote);
                ctx.spawn(in_actor(self.ctx.clone(), remote, worker).map(|_, _, _| ()));
            }
        }
    }
}

impl Actor for RemoteQueueActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &path(QueueName::Remote), ctx);
        match dns::resolver(&self.ctx.config().dns) {
            Ok(r) => self.resolver = Some(Arc::new(r)),
            Err(e) => tracing::error!("remote delivery has no DNS resolver: {e}"),
        }
        if self.ctx.queues_ready() {
            ctx.notify(Rescan);
        }
        ctx.run_interval(RESCAN_EVERY, |_, ctx| ctx.notify(Rescan));
        // The TLS-report job is a task of its own in the registry: a panic in it is counted
        // there and the next period's run is the job made anew, without disturbing delivery.
        self.ctx.registry.register(TLS_REPORTS_TASK, "task");
        ctx.run_interval(TLS_REPORTS_EVERY, |act, ctx| {
            let sctx = act.ctx.clone();
            let job = send_tls_reports(sctx.clone(), act.resolver.clone());
            let job = async move {
                let _ = contained(&sctx.registry, TLS_REPORTS_TASK, job).await;
            };
            ctx.spawn(job.into_actor(act));
        });
    }
}

impl Supervised for RemoteQueueActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::info!("remote queue restarting");
        self.waiting.clear();
        self.workers.clear();
        self.total_workers = 0;
        self.queued.clear();
        self.in_flight.clear();
    }
}

impl Handler<Rescan> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match super::load(&self.ctx, QueueName::Remote) {
            Ok(recs) => recs.iter().for_each(|r| ctx.notify(Queued(r.id))),
            Err(e) => tracing::error!("cannot read the remote queue: {e}"),
        }
    }
}

impl Handler<Queued> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, msg: Queued, ctx: &mut Self::Context) {
        let id = msg.0;
        if self.queued.contains(&id) {
            return;
        }
        let sctx = self.ctx.clone();
        let split = guarded::<Self, _>(&sctx.registry, "queue/remote", ctx, || {
            sctx.faults.hit("remote.queue");
            split_by_destination(&sctx, id)
        });
        match split {
            Ok(Ok(Split::One(dest))) => {
                self.queued.insert(id);
                self.waiting.entry(dest).or_default().push_back(id);
                self.dispatch(ctx);
            }
            Ok(Ok(Split::Many(ids))) => ids.into_iter().for_each(|n| ctx.notify(Queued(n))),
            Ok(Ok(Split::Gone)) => {}
            Ok(Err(e)) => tracing::error!(id, "cannot read remote queue record: {e}"),
            Err(_) => {} // restarting: the rescan on start picks it up
        }
    }
}

/// A worker asks for the next record of its destination; `None`: none left.
#[derive(Message)]
#[rtype(result = "Option<QueueId>")]
pub struct NextJob(pub String);

impl Handler<NextJob> for RemoteQueueActor {
    type Result = Option<QueueId>;

    fn handle(&mut self, msg: NextJob, _: &mut Self::Context) -> Option<QueueId> {
        let line = self.waiting.get_mut(&msg.0)?;
        let id = line.pop_front();
        if line.is_empty() {
            self.waiting.remove(&msg.0);
        }
        if let Some(id) = id {
            self.in_flight.insert(id);
        }
        id
    }
}

/// A worker settled record `id` (or gave up on it until the next scan).
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobDone(pub QueueId);

impl Handler<JobDone> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, msg: JobDone, _: &mut Self::Context) {
        self.queued.remove(&msg.0);
        self.in_flight.remove(&msg.0);
    }
}

/// A worker's delivery of record `id` panicked: the record is still in storage, unsettled;
/// it is queued again after `after` (the back-off), for a new worker.
#[derive(Message)]
#[rtype(result = "()")]
pub struct JobFailed {
    pub id: QueueId,
    pub after: Duration,
}

impl Handler<JobFailed> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, msg: JobFailed, ctx: &mut Self::Context) {
        self.queued.remove(&msg.id);
        self.in_flight.remove(&msg.id);
        let id = msg.id;
        ctx.run_later(msg.after, move |_, ctx| ctx.notify(Queued(id)));
    }
}

/// A worker's decision on record `id` (`outbound::settle`): `records` take its place, in
/// one transaction written here. Reply: where they went, to notify once committed.
#[derive(Message)]
#[rtype(result = "Result<settle::Moved, StorageError>")]
pub struct Settle {
    pub id: QueueId,
    pub records: Vec<QueueRecord>,
}

impl Handler<Settle> for RemoteQueueActor {
    type Result = Result<settle::Moved, StorageError>;

    fn handle(&mut self, msg: Settle, _: &mut Self::Context) -> Self::Result {
        super::writer(&self.ctx).queue_replace(QueueName::Remote, msg.id, &msg.records)?;
        Ok(settle::moved(&msg.records))
    }
}

impl Handler<Change> for RemoteQueueActor {
    type Result = ResponseActFuture<Self, Result<Changed, Refused>>;

    fn handle(&mut self, msg: Change, _: &mut Self::Context) -> Self::Result {
        let id = msg.id();
        if self.in_flight.contains(&id) {
            return Box::pin(actix::fut::ready(Err(Refused::Busy(id, QueueName::Remote))));
        }
        // Waiting in a line: it leaves the line, and no worker takes it while it changes.
        for line in self.waiting.values_mut() {
            line.retain(|w| *w != id);
        }
        self.waiting.retain(|_, line| !line.is_empty());
        self.queued.insert(id);
        self.in_flight.insert(id);
        Box::pin(change::apply(self.ctx.clone(), QueueName::Remote, msg).map(
            move |res, act: &mut Self, ctx| {
                act.queued.remove(&id);
                act.in_flight.remove(&id);
                // Still here when the change was refused: back in its line.
                ctx.notify(Queued(id));
                res
            },
        ))
    }
}

/// A worker closed its connection.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WorkerEnded(pub String);

impl Handler<WorkerEnded> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, msg: WorkerEnded, ctx: &mut Self::Context) {
        if let Some(n) = self.workers.get_mut(&msg.0) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.workers.remove(&msg.0);
            }
        }
        self.total_workers = self.total_workers.saturating_sub(1);
        self.dispatch(ctx);
    }
}

enum Split {
    /// The record has one destination.
    One(String),
    /// It was split into these records.
    Many(Vec<QueueId>),
    /// Not in the remote queue (any more), or nothing left to deliver.
    Gone,
}

/// Splits record `id` into one record per destination, in one transaction.
fn split_by_destination(sctx: &ServerContext, id: QueueId) -> Result<Split, StorageError> {
    let store = &sctx.store;
    let Some(rec) = store.queue_get(QueueName::Remote, id)? else {
        return Ok(Split::Gone);
    };
    let config = sctx.config();
    let mut by_dest: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, r) in rec.recipients.iter().enumerate() {
        if !r.delivered {
            by_dest
                .entry(destination(&config, &r.address))
                .or_default()
                .push(i);
        }
    }
    if by_dest.is_empty() {
        super::writer(sctx).queue_delete(QueueName::Remote, id)?;
        return Ok(Split::Gone);
    }
    let all_pending = rec.recipients.iter().all(|r| !r.delivered);
    if by_dest.len() == 1 && all_pending {
        let dest = by_dest.into_keys().next().unwrap_or_default();
        return Ok(Split::One(dest));
    }
    let mut records = Vec::new();
    for indexes in by_dest.values() {
        records.push(QueueRecord {
            id: store.next_queue_id()?,
            recipients: indexes
                .iter()
                .filter_map(|i| rec.recipients.get(*i).cloned())
                .collect(),
            ..rec.clone()
        });
    }
    super::writer(sctx).queue_replace(QueueName::Remote, id, &records)?;
    Ok(Split::Many(records.iter().map(|r| r.id).collect()))
}

/// Sends the TLS reports of finished days (or forgets old counts when reports are off).
async fn send_tls_reports(sctx: Arc<ServerContext>, resolver: Option<Arc<Resolver>>) {
    let Some(resolver) = resolver else {
        return;
    };
    let config = sctx.config();
    let now = sctx.clock.now();
    let inbound = sctx.queues().inbound.clone();
    // Each report goes in through the inbound queue, committed when it answers.
    let enqueue = |rec| {
        let inbound = inbound.clone();
        async move {
            match inbound.send(Enqueue(rec)).await {
                Ok(Ok(id)) => Ok(id),
                Ok(Err(e)) => Err(StorageError::Io(std::io::Error::other(e.to_string()))),
                Err(e) => Err(StorageError::Io(std::io::Error::other(format!(
                    "the inbound queue does not answer: {e}"
                )))),
            }
        }
    };
    let sent = tlsrpt::send_due(
        &sctx.store,
        &resolver,
        &config.hostname,
        now,
        config.delivery.tls_reports,
        enqueue,
    )
    .await;
    match sent {
        Ok(ids) => {
            // The forgotten counts.
            if let Err(e) = sctx.store.commit_async().await {
                tracing::error!("flush after queueing TLS reports failed: {e}");
            }
            for id in ids {
                tracing::info!(id = format!("{id:016X}"), "TLS report queued");
            }
        }
        Err(e) => tracing::warn!("cannot send the TLS reports: {e}"),
    }
}

/// One connection to `dest`, carrying its records until none is left.
async fn run_worker(
    addr: Addr<RemoteQueueActor>,
    sctx: Arc<ServerContext>,
    resolver: Option<Arc<Resolver>>,
    dest: String,
) {
    let mut conn: Option<Connection> = None;
    // Once the destination failed as a whole, the records taken after get the same result
    // without another try in this round.
    let mut down: Option<deliver::DestinationFailure> = None;
    for _ in 0..MAX_MESSAGES_PER_CONNECTION {
        let Ok(Some(id)) = addr.send(NextJob(dest.clone())).await else {
            break;
        };
        let delivery = deliver_record(
            &addr,
            &sctx,
            resolver.as_ref(),
            &dest,
            id,
            &mut conn,
            &mut down,
        );
        let remote = path(QueueName::Remote);
        if contained(&sctx.registry, &remote, delivery).await.is_err() {
            // Where the session stood is unknown: close it without QUIT (the peer drops the
            // unfinished transaction) and end this worker; the record goes back to the
            // queue, and a new worker takes it after the back-off.
            conn = None;
            let after = sctx.registry.restart_delay(&remote);
            addr.do_send(JobFailed { id, after });
            break;
        }
        addr.do_send(JobDone(id));
        if sctx.is_shutting_down() {
            break;
        }
    }
    if let Some(c) = conn {
        c.quit().await;
    }
    addr.do_send(WorkerEnded(dest));
}

/// The body of `rec`, read on the blocking pool: the workers share the core arbiter with
/// every queue and folder actor, which a large body read from a cold disk would stall.
async fn read_body(store: &Store, rec: &QueueRecord) -> Result<Vec<u8>, StorageError> {
    let (store, blob) = (store.clone(), rec.blob);
    tokio::task::spawn_blocking(move || store.blobs().get(&blob))
        .await
        .unwrap_or_else(|e| Err(StorageError::Io(std::io::Error::other(e.to_string()))))
}

async fn deliver_record(
    addr: &Addr<RemoteQueueActor>,
    sctx: &Arc<ServerContext>,
    resolver: Option<&Arc<Resolver>>,
    dest: &str,
    id: QueueId,
    conn: &mut Option<Connection>,
    down: &mut Option<deliver::DestinationFailure>,
) {
    let store = &sctx.store;
    let rec = match store.queue_get(QueueName::Remote, id) {
        Ok(Some(rec)) => rec,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(id, "cannot read remote queue record: {e}");
            return;
        }
    };
    let config = sctx.config();
    let indexes: Vec<usize> = (0..rec.recipients.len())
        .filter(|i| !rec.recipients[*i].delivered)
        .collect();
    if conn.is_none() && down.is_none() {
        let env = deliver::Env {
            config: &config,
            resolver,
            store,
            now: sctx.clock.now(),
        };
        match deliver::connect(&env, dest).await {
            Ok(c) => {
                tracing::info!(dest, host = %c.host, addr = %c.addr, tls = c.is_tls(), "connected");
                *conn = Some(c);
            }
            Err(f) => *down = Some(f),
        }
    }
    let attempts: Vec<Attempt> = match down.as_ref() {
        Some(f) => indexes.iter().map(|i| f.attempt(*i)).collect(),
        None => match read_body(store, &rec).await {
            Ok(content) => {
                // Test hook: a failure mid-delivery (connected, body read, nothing sent).
                sctx.faults.hit("remote.deliver");
                deliver::send(conn, &rec, &indexes, content).await
            }
            Err(e) => {
                tracing::error!(id, "cannot read the message body: {e}");
                return;
            }
        },
    };
    for a in &attempts {
        if a.outcome == Outcome::Delivered {
            Stats::add(&sctx.stats.messages_out, 1);
            sctx.stats
                .remote_delivered_after(sctx.clock.now() - rec.received_at);
        }
        if let Some(r) = rec.recipients.get(a.index) {
            tracing::info!(
                id = format!("{id:016X}"),
                to = %r.address,
                outcome = ?a.outcome,
                "{}",
                a.text
            );
        }
    }
    // Decided off this worker's thread (a DSN body put waits for its sync round).
    let settled = change::settle_off_thread(sctx, rec.clone(), attempts)
        .await
        .unwrap_or_else(|e| match e.try_into_panic() {
            // Contained and counted by the worker's supervision, as before.
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => Err(StorageError::Io(std::io::Error::other(e.to_string()))),
        });
    // The decision is written by the queue actor, which alone writes queue records.
    let settled = match settled {
        Ok(records) => match addr.send(Settle { id, records }).await {
            Ok(written) => written,
            Err(e) => Err(StorageError::Io(std::io::Error::other(format!(
                "the remote queue does not answer: {e}"
            )))),
        },
        Err(e) => Err(e),
    };
    match settled {
        Ok(moved) => {
            if let Err(e) = store.commit_async().await {
                tracing::error!(id, "flush after delivery failed: {e}");
            }
            for (q, new) in moved {
                sctx.queues().notify(q, new);
            }
        }
        // Left in the remote queue: the next scan tries it again (at least once).
        Err(e) => tracing::error!(id, "cannot record the delivery results: {e}"),
    }
}
