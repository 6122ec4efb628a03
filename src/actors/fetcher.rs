//! `FetcherActor`: one per fetch source (MultiPOP or DomainPOP), supervised like the queue
//! actors. It runs its source on schedule (the server clock against the source's
//! `next_run`) or when told to (`source run`, `domainpop run`), and hands each new message
//! to the inbound queue with `EnqueueFetched`, so routing, filters and archiving apply.
//!
//! A run: connect and log in ([`Remote`]), list, then for each message not yet marked as
//! seen: fetch it, stamp it, build its queue records (`fetch::deliver`: one to the account;
//! for DomainPOP by the recipient rule of `fetch::recipients`), take it in (records and seen
//! mark in one transaction, answered after the commit), and only then, in delete mode,
//! delete it on the server. Marked messages still on the server are deleted first (a run
//! that was cut short after the commit). The status (last run, counts, last error, next run) is written after
//! every run; failures back off exponentially from the source's interval.
//!
//! Panics (the fault hooks `fetch.accept` and `fetch.delete` make them in tests) are
//! contained at the run's boundary: the failure is counted in the supervision registry and
//! the actor stops, `actix::Supervisor` restarts it, and the run starts again after the
//! back-off. Nothing is lost or doubled: the seen marks are in storage.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::prelude::*;

use super::queues::{store_body, EnqueueFetched};
use super::supervisor::{apply_backoff, in_actor, lock};
use super::ServerContext;
use crate::fetch::deliver::{domainpop_records, return_path, stamped, to_bad, write_raw_copy};
use crate::fetch::recipients::{self, STAMP_HEADER};
use crate::fetch::remote::{Limits, Remote, RemoteMessage};
use crate::fetch::FetchError;
use crate::storage::{
    Accepted, FetchSource, FetchedMessage, QueueRecipient, QueueRecord, SourceId, SourceOwner,
};

/// The running fetchers and the limit on how many fetch at once.
pub struct Fetchers {
    actors: Mutex<HashMap<SourceId, Addr<FetcherActor>>>,
    running: Mutex<HashSet<SourceId>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl Fetchers {
    pub fn new(max_concurrent: usize) -> Fetchers {
        Fetchers {
            actors: Mutex::default(),
            running: Mutex::default(),
            permits: Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
        }
    }

    pub fn is_running(&self, id: SourceId) -> bool {
        lock(&self.running).contains(&id)
    }
}

pub fn path(id: SourceId) -> String {
    format!("fetch/{id}")
}

/// Starts a fetcher for every stored source (at boot).
pub fn start_all(sctx: &Arc<ServerContext>) {
    match sctx.store.fetch_sources() {
        Ok(sources) => sources.iter().for_each(|s| {
            ensure(sctx, s.id);
        }),
        Err(e) => tracing::error!("cannot read the fetch sources: {e}"),
    }
}

/// Starts the fetchers of sources added and stops those of sources deleted elsewhere (by
/// another node of a cluster), so that this node fetches what the store lists, as at boot.
pub fn sync_with_store(sctx: &Arc<ServerContext>) {
    let sources = match sctx.store.fetch_sources() {
        Ok(sources) => sources,
        Err(e) => return tracing::error!("cannot read the fetch sources: {e}"),
    };
    let gone: Vec<SourceId> = lock(&sctx.fetchers.actors)
        .keys()
        .filter(|id| !sources.iter().any(|s| s.id == **id))
        .copied()
        .collect();
    for id in gone {
        remove(sctx, id);
    }
    for s in &sources {
        ensure(sctx, s.id);
    }
}

/// Starts the fetcher of `id` unless it runs; returns its address.
pub fn ensure(sctx: &Arc<ServerContext>, id: SourceId) -> Addr<FetcherActor> {
    let mut actors = lock(&sctx.fetchers.actors);
    if let Some(a) = actors.get(&id).filter(|a| a.connected()) {
        return a.clone();
    }
    sctx.registry.register(&path(id), "fetcher");
    let c = sctx.clone();
    let addr = Supervisor::start_in_arbiter(sctx.session_arbiter(), move |_| FetcherActor {
        sctx: c,
        id,
        running: false,
    });
    actors.insert(id, addr.clone());
    addr
}

/// Stops the fetcher of a deleted source.
pub fn remove(sctx: &Arc<ServerContext>, id: SourceId) {
    if let Some(addr) = forget(sctx, id) {
        addr.do_send(StopFetcher);
    }
}

/// Drops the registry's address of fetcher `id`: once it stops, its Supervisor has no
/// reason to restart it (actix restarts only actors someone still holds an address of).
fn forget(sctx: &ServerContext, id: SourceId) -> Option<Addr<FetcherActor>> {
    sctx.registry.unregister(&path(id));
    lock(&sctx.fetchers.actors).remove(&id)
}

/// Runs source `id` now and waits for the outcome.
pub async fn run_now(sctx: &Arc<ServerContext>, id: SourceId) -> Result<RunReport, String> {
    let addr = ensure(sctx, id);
    addr.send(RunNow)
        .await
        .map_err(|e| format!("fetcher {id}: {e}"))?
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Messages on the server when the run began.
    pub on_server: usize,
    pub fetched: u64,
    pub deleted: u64,
    /// Recipients dropped by DomainPOP duplicate suppression.
    pub suppressed: u64,
    /// Messages carrying our own stamp, put in the bad queue.
    pub loops: u64,
    /// Messages over `[fetch] max_message_size`, left on the server.
    pub too_big: u64,
}

impl std::fmt::Display for RunReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} on the server, {} fetched, {} deleted",
            self.on_server, self.fetched, self.deleted
        )?;
        for (n, what) in [
            (self.suppressed, "duplicate copies suppressed"),
            (self.loops, "loops to the bad queue"),
            (self.too_big, "too big, left on the server"),
        ] {
            if n > 0 {
                write!(f, ", {n} {what}")?;
            }
        }
        Ok(())
    }
}

/// Run the source now (console). Reply: what the run did, or why it failed.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<RunReport, String>")]
pub struct RunNow;

/// The source was deleted: stop for good.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct StopFetcher;

pub struct FetcherActor {
    sctx: Arc<ServerContext>,
    id: SourceId,
    running: bool,
}

/// How often a fetcher looks at the clock to see whether its run is due.
const TICK: Duration = Duration::from_secs(1);

impl Actor for FetcherActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.sctx.registry, &path(self.id), ctx);
        ctx.run_interval(TICK, |act, ctx| act.tick(ctx));
    }

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        lock(&self.sctx.fetchers.running).remove(&self.id);
    }
}

impl Supervised for FetcherActor {
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::info!(source = self.id, "fetcher restarting");
        self.running = false;
        lock(&self.sctx.fetchers.running).remove(&self.id);
    }
}

impl FetcherActor {
    fn tick(&mut self, ctx: &mut Context<Self>) {
        if self.running {
            return;
        }
        let store = &self.sctx.store;
        match store.fetch_source(self.id) {
            Ok(Some(_)) => {}
            Ok(None) => {
                // Deleted with its account or domain.
                forget(&self.sctx, self.id);
                return ctx.stop();
            }
            Err(e) => return tracing::error!(source = self.id, "cannot read the source: {e}"),
        }
        let due = store
            .fetch_status(self.id)
            .map(|s| s.next_run.is_none_or(|t| self.sctx.clock.now() >= t))
            .unwrap_or(false);
        if due {
            let run = self.run(ctx).map(|_, _, _| ());
            ctx.spawn(run);
        }
    }

    /// One run, with panics contained: a panic is counted, recorded in the status, and
    /// stops the actor (its Supervisor restarts it, after the back-off).
    fn run(
        &mut self,
        _ctx: &mut Context<Self>,
    ) -> impl ActorFuture<Self, Output = Result<RunReport, String>> {
        self.running = true;
        lock(&self.sctx.fetchers.running).insert(self.id);
        let sctx = self.sctx.clone();
        let id = self.id;
        in_actor(sctx.clone(), path(id), run_and_record(sctx, id)).map(
            move |res, act: &mut Self, _| {
                act.running = false;
                lock(&act.sctx.fetchers.running).remove(&id);
                res.unwrap_or_else(|failed| {
                    record_panic(&act.sctx, id, &failed.reason);
                    Err(failed.to_string())
                })
            },
        )
    }
}

impl Handler<RunNow> for FetcherActor {
    type Result = ResponseActFuture<Self, Result<RunReport, String>>;

    fn handle(&mut self, _: RunNow, ctx: &mut Self::Context) -> Self::Result {
        if self.running {
            let busy = Err(format!("source {} is being fetched right now", self.id));
            return Box::pin(actix::fut::ready(busy));
        }
        Box::pin(self.run(ctx))
    }
}

impl Handler<StopFetcher> for FetcherActor {
    type Result = ();

    fn handle(&mut self, _: StopFetcher, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// After a contained panic: the status says so, and the run is due again at once.
fn record_panic(sctx: &ServerContext, id: SourceId, reason: &str) {
    let store = &sctx.store;
    let mut st = store.fetch_status(id).unwrap_or_default();
    st.last_run = Some(sctx.clock.now());
    st.failures += 1;
    st.last_error = Some(format!("fetcher failed: {reason}"));
    st.next_run = Some(sctx.clock.now());
    if let Err(e) = store.fetch_set_status(id, &st) {
        tracing::error!(source = id, "cannot write the fetch status: {e}");
    }
}

/// The wait before the next run after `failures` failed runs in a row: the interval,
/// doubled per failure, at most `max`.
pub fn backoff(interval: u64, failures: u32, max: Duration) -> u64 {
    let doubled = interval.saturating_mul(1u64 << failures.min(20));
    doubled.min(max.as_secs().max(interval))
}

/// Runs the source once and writes its status.
async fn run_and_record(sctx: Arc<ServerContext>, id: SourceId) -> Result<RunReport, String> {
    let store = sctx.store.clone();
    let source = store
        .fetch_source(id)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("source {id} no longer exists"))?;
    let permits = sctx.fetchers.permits.clone();
    let _permit = permits
        .acquire_owned()
        .await
        .map_err(|_| "the server is stopping".to_string())?;
    let started = sctx.clock.now();
    let mut report = RunReport::default();
    let result = run_once(&sctx, &source, &mut report).await;
    let cfg = sctx.config().fetch.clone();
    let interval = source.interval.max(cfg.min_interval.as_secs());
    let now = sctx.clock.now();
    if !matches!(store.fetch_source(id), Ok(Some(_))) {
        // Deleted while it ran: nothing to record.
        return result.map(|()| report).map_err(|e| e.to_string());
    }
    let mut st = store.fetch_status(id).unwrap_or_default();
    st.last_run = Some(started);
    st.last_fetched = report.fetched;
    st.total_fetched += report.fetched;
    st.total_deleted += report.deleted;
    match &result {
        Ok(()) => {
            st.last_success = Some(now);
            st.failures = 0;
            st.last_error = (report.too_big > 0).then(|| {
                format!(
                    "{} message(s) larger than {} bytes left on the server",
                    report.too_big, cfg.max_message_size
                )
            });
            st.next_run = Some(now + interval as i64);
            tracing::info!(source = id, owner = source.owner.name(), %report, "fetched");
        }
        Err(e) => {
            st.failures += 1;
            st.last_error = Some(e.to_string());
            st.next_run = Some(now + backoff(interval, st.failures - 1, cfg.max_backoff) as i64);
            tracing::warn!(
                source = id,
                owner = source.owner.name(),
                host = %source.host,
                failures = st.failures,
                "fetch failed: {e}"
            );
        }
    }
    if let Err(e) = store.fetch_set_status(id, &st) {
        tracing::error!(source = id, "cannot write the fetch status: {e}");
    }
    result.map(|()| report).map_err(|e| e.to_string())
}

fn local(e: impl std::fmt::Display) -> FetchError {
    FetchError::Local(e.to_string())
}

async fn run_once(
    sctx: &Arc<ServerContext>,
    source: &FetchSource,
    report: &mut RunReport,
) -> Result<(), FetchError> {
    let cfg = sctx.config().fetch.clone();
    let store = &sctx.store;
    let password = store.open_secret(&source.password).map_err(local)?;
    let limits = Limits {
        timeout: cfg.timeout,
        max_message: cfg.max_message_size,
    };
    let mut remote = Remote::connect(source, &password, limits).await?;
    drop(password);
    let listed = remote.list().await?;
    report.on_server = listed.len();
    let seen = store.fetch_seen(source.id).map_err(local)?;
    if let Some(window) = source.domainpop.as_ref().and_then(|d| d.dedup_window) {
        store
            .fetch_expire_dedup(source.id, window, sctx.clock.now())
            .map_err(local)?;
    }
    for m in &listed {
        if seen.contains(&m.mark) {
            // Taken in by an earlier run that did not get to delete it.
            if !source.leave_on_server {
                remote.delete(m).await?;
                report.deleted += 1;
            }
            continue;
        }
        if m.size > cfg.max_message_size {
            report.too_big += 1;
            continue;
        }
        let Some(raw) = remote.fetch(m, cfg.max_message_size).await? else {
            continue;
        };
        sctx.faults.hit("fetch.accept");
        take_in(sctx, source, m, raw, remote.protocol_name(), report).await?;
        sctx.faults.hit("fetch.delete");
        if !source.leave_on_server {
            remote.delete(m).await?;
            report.deleted += 1;
        }
    }
    let marks: HashSet<String> = listed.into_iter().map(|m| m.mark).collect();
    store.fetch_forget_gone(source.id, &marks).map_err(local)?;
    remote.finish().await
}

/// Stamps, stores and enqueues one fetched message; returns once it is durable.
async fn take_in(
    sctx: &Arc<ServerContext>,
    source: &FetchSource,
    m: &RemoteMessage,
    raw: Vec<u8>,
    protocol: &str,
    report: &mut RunReport,
) -> Result<(), FetchError> {
    let store = &sctx.store;
    let hostname = sctx.config().hostname.clone();
    let now = sctx.clock.now();
    if let Some(folder) = source
        .domainpop
        .as_ref()
        .and_then(|d| d.raw_copy.as_deref())
    {
        write_raw_copy(store, folder, source.id, &m.mark, &raw).map_err(local)?;
    }
    let looped = recipients::has_stamp(&raw, &hostname);
    let id = store.next_queue_id().map_err(local)?;
    let content = stamped(&raw, &hostname, source, protocol, id, now);
    let size = content.len() as u64;
    // The pin lives until this function's enqueue has referenced the body.
    let (blob, _pin) = store_body(store, content).await.map_err(local)?;
    let base = QueueRecord::inbound(
        id,
        blob,
        size,
        return_path(&raw),
        Vec::new(),
        format!(
            "{} fetch from {}@{}:{} (source {})",
            protocol.to_ascii_lowercase(),
            source.user,
            source.host,
            source.port,
            source.id
        ),
        now,
    );
    let (records, dedup) = if looped {
        let to = match &source.owner {
            SourceOwner::Account(a) => a.clone(),
            SourceOwner::Domain(d) => format!("postmaster@{d}"),
        };
        let why = format!("mail loop: already carries {STAMP_HEADER}: {hostname}");
        (
            vec![to_bad(base, vec![QueueRecipient::new(&to)], why)],
            None,
        )
    } else {
        match (&source.owner, &source.domainpop) {
            (SourceOwner::Domain(domain), Some(dp)) => {
                domainpop_records(store, domain, dp, &raw, base).map_err(local)?
            }
            (owner, _) => {
                let to = vec![QueueRecipient::new(owner.name())];
                (
                    vec![QueueRecord {
                        recipients: to,
                        ..base
                    }],
                    None,
                )
            }
        }
    };
    let msg = FetchedMessage {
        source: source.id,
        mark: m.mark.clone(),
        blob,
        records,
        dedup,
        now,
    };
    let accepted = sctx
        .queues()
        .inbound
        .send(EnqueueFetched(msg))
        .await
        .map_err(|e| local(format!("inbound queue: {e}")))?
        .map_err(local)?;
    if let Accepted::New {
        records,
        suppressed,
    } = accepted
    {
        report.fetched += 1;
        report.suppressed += suppressed as u64;
        if looped {
            report.loops += 1;
        }
        tracing::debug!(source = source.id, mark = %m.mark, records = records.len(), "taken in");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_interval_and_caps() {
        let max = Duration::from_secs(3600);
        assert_eq!(backoff(300, 0, max), 300);
        assert_eq!(backoff(300, 1, max), 600);
        assert_eq!(backoff(300, 3, max), 2400);
        assert_eq!(backoff(300, 4, max), 3600);
        assert_eq!(backoff(300, 60, max), 3600);
        // An interval above the cap is never shortened.
        assert_eq!(backoff(7200, 2, max), 7200);
    }
}
