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
//!   in flight, and a record leaves the remote queue only in the transaction that settles it.
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

use super::queues::{path, Queued, Rescan};
use super::supervisor::{apply_backoff, contained, guarded, in_actor};
use super::ServerContext;
use crate::outbound::deliver::{self, destination};
use crate::outbound::dns::{self, Resolver};
use crate::outbound::session::Connection;
use crate::outbound::settle::{self, Attempt};
use crate::outbound::tlsrpt;
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
    }
}

impl Handler<Rescan> for RemoteQueueActor {
    type Result = ();

    fn handle(&mut self, _: Rescan, ctx: &mut Self::Context) {
        match self.ctx.store.queue_list(QueueName::Remote) {
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
        let id = msg.id;
        ctx.run_later(msg.after, move |_, ctx| ctx.notify(Queued(id)));
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
        store.queue_delete(QueueName::Remote, id)?;
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
    store.queue_replace(QueueName::Remote, id, &records)?;
    Ok(Split::Many(records.iter().map(|r| r.id).collect()))
}

/// Sends the TLS reports of finished days (or forgets old counts when reports are off).
async fn send_tls_reports(sctx: Arc<ServerContext>, resolver: Option<Arc<Resolver>>) {
    let Some(resolver) = resolver else {
        return;
    };
    let config = sctx.config();
    let now = sctx.clock.now();
    let sent = tlsrpt::send_due(
        &sctx.store,
        &resolver,
        &config.hostname,
        now,
        config.delivery.tls_reports,
    )
    .await;
    match sent {
        Ok(ids) => {
            if let Err(e) = sctx.store.commit_async().await {
                tracing::error!("flush after queueing TLS reports failed: {e}");
            }
            for id in ids {
                tracing::info!(id = format!("{id:016X}"), "TLS report queued");
                sctx.queues().notify(QueueName::Inbound, id);
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
        let delivery = deliver_record(&sctx, resolver.as_ref(), &dest, id, &mut conn, &mut down);
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
    // On the blocking pool: settling may write a DSN body, and a body put waits for its
    // sync round (docs/architecture.md §4), which must not stall this worker's thread.
    let settled = {
        let (store, config, now) = (store.clone(), config.clone(), sctx.clock.now());
        let rec = rec.clone();
        tokio::task::spawn_blocking(move || {
            let cx = settle::Context {
                store: &store,
                hostname: &config.hostname,
                delivery: &config.delivery,
                now,
            };
            settle::settle(&cx, &rec, &attempts)
        })
        .await
        .unwrap_or_else(|e| match e.try_into_panic() {
            // Contained and counted by the worker's supervision, as before.
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => Err(StorageError::Io(std::io::Error::other(e.to_string()))),
        })
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
