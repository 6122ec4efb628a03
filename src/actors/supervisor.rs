//! Supervision: restart counts, back-off, panic containment and the test-only fault hooks.
//!
//! actix restarts a supervised actor when it *stops*, not when a handler panics (a panic
//! kills the actor for good; docs/architecture.md §3). So every handler of a supervised actor runs its
//! work through [`guarded`]: a panic is caught at the handler boundary, counted here, the
//! handler answers with an error, and the actor stops itself. `actix::Supervisor` then calls
//! `Supervised::restarting`, where the actor resets its in-memory state; `started` reloads
//! from storage. Messages waiting in the mailbox survive the restart (the address is kept).
//!
//! Repeated failures back off: the n-th failure within [`BACKOFF_WINDOW`] delays the restart
//! by 2^(n-2) seconds (the first restart is immediate), at most [`MAX_BACKOFF`].
//!
//! `guarded` sees only the synchronous part of a handler. Work that runs as a future (local
//! delivery, the remote-delivery workers, the TLS-report job, the acceptors, the console
//! socket, fetch runs) goes through one of three wrappers over the same containment:
//! [`contained`] (a future whose panic is counted and turned into `Err(Panicked)`),
//! [`in_actor`] (a future of an actor's context: a panic also stops the actor, so that its
//! `actix::Supervisor` restarts it, keeping its address) and [`supervise_task`] (a
//! long-lived task outside any actor, made anew after the back-off).

use std::collections::BTreeMap;
#[cfg(any(test, feature = "fault-injection"))]
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::fut::{ActorFuture, ActorFutureExt};
use actix::{Actor, ActorContext, AsyncContext};
use futures_util::FutureExt;

use super::ServerContext;

pub const BACKOFF_WINDOW: Duration = Duration::from_secs(60);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the console's `actors` command shows for one supervised actor.
#[derive(Debug, Clone)]
pub struct ActorInfo {
    pub kind: &'static str,
    pub restarts: u64,
    pub last_failure: Option<String>,
    recent: Vec<Instant>,
}

/// The supervision tree as the console sees it: every long-lived actor by path
/// (`queue/inbound`, `folder/bob@example.com/INBOX`, `listener/smtp`) with its restart count.
#[derive(Debug, Default)]
pub struct ActorRegistry {
    actors: Mutex<BTreeMap<String, ActorInfo>>,
}

impl ActorRegistry {
    pub fn register(&self, path: &str, kind: &'static str) {
        let mut map = lock(&self.actors);
        map.entry(path.to_string()).or_insert(ActorInfo {
            kind,
            restarts: 0,
            last_failure: None,
            recent: Vec::new(),
        });
    }

    pub fn unregister(&self, path: &str) {
        lock(&self.actors).remove(path);
    }

    /// Count a failure of `path`; returns how long its restart should wait.
    pub fn record_failure(&self, path: &str, reason: &str) -> Duration {
        let mut map = lock(&self.actors);
        let info = map.entry(path.to_string()).or_insert(ActorInfo {
            kind: "actor",
            restarts: 0,
            last_failure: None,
            recent: Vec::new(),
        });
        info.restarts += 1;
        info.last_failure = Some(reason.to_string());
        let now = Instant::now();
        info.recent
            .retain(|t| now.duration_since(*t) < BACKOFF_WINDOW);
        info.recent.push(now);
        backoff_for(info.recent.len())
    }

    /// The delay a restarting actor should observe before handling messages again.
    pub fn restart_delay(&self, path: &str) -> Duration {
        let map = lock(&self.actors);
        let Some(info) = map.get(path) else {
            return Duration::ZERO;
        };
        let now = Instant::now();
        let recent = info
            .recent
            .iter()
            .filter(|t| now.duration_since(**t) < BACKOFF_WINDOW)
            .count();
        backoff_for(recent)
    }

    pub fn restarts(&self, path: &str) -> u64 {
        lock(&self.actors).get(path).map_or(0, |i| i.restarts)
    }

    pub fn total_restarts(&self) -> u64 {
        lock(&self.actors).values().map(|i| i.restarts).sum()
    }

    pub fn snapshot(&self) -> Vec<(String, ActorInfo)> {
        lock(&self.actors)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

fn backoff_for(recent_failures: usize) -> Duration {
    if recent_failures <= 1 {
        return Duration::ZERO;
    }
    let exp = (recent_failures - 2).min(16) as u32;
    Duration::from_secs(1u64 << exp).min(MAX_BACKOFF)
}

/// Lock a mutex, recovering the data if a panicking thread poisoned it: every structure
/// guarded this way stays consistent between statements.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A handler's work failed by panicking; the actor is restarting.
#[derive(Debug, Clone, thiserror::Error)]
#[error("actor {path} failed and is restarting: {reason}")]
pub struct Panicked {
    pub path: String,
    pub reason: String,
}

/// Run a handler body, containing a panic: the failure is counted, the actor is stopped so
/// its `actix::Supervisor` restarts it, and the caller gets `Err(Panicked)` to answer with.
pub fn guarded<A, R>(
    registry: &ActorRegistry,
    path: &str,
    ctx: &mut A::Context,
    work: impl FnOnce() -> R,
) -> Result<R, Panicked>
where
    A: Actor<Context = actix::Context<A>>,
{
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(r) => Ok(r),
        Err(payload) => {
            let failed = contain(registry, path, payload);
            ctx.stop();
            Err(failed)
        }
    }
}

/// Counts and logs a panic caught at an actor's boundary (by [`guarded`], or around an
/// actor's future with `catch_unwind`); the caller then stops the actor so that its
/// `actix::Supervisor` restarts it.
pub fn contain(
    registry: &ActorRegistry,
    path: &str,
    payload: Box<dyn std::any::Any + Send>,
) -> Panicked {
    let reason = panic_message(&payload);
    tracing::error!(actor = path, %reason, "actor failed; restarting");
    registry.record_failure(path, &reason);
    Panicked {
        path: path.to_string(),
        reason,
    }
}

/// Called from `started`: wait out the back-off before the actor handles messages again.
pub fn apply_backoff<A>(registry: &ActorRegistry, path: &str, ctx: &mut actix::Context<A>)
where
    A: Actor<Context = actix::Context<A>>,
{
    let delay = registry.restart_delay(path);
    if !delay.is_zero() {
        tracing::warn!(actor = path, ?delay, "backing off before restart");
        ctx.wait(actix::fut::wrap_future::<_, A>(actix::clock::sleep(delay)));
    }
}

/// Runs `fut` with a panic in it contained: counted and logged under `path` as a handler's
/// panic is, and returned as `Err(Panicked)` instead of ending the task that polls it.
pub async fn contained<F: Future>(
    registry: &ActorRegistry,
    path: &str,
    fut: F,
) -> Result<F::Output, Panicked> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| contain(registry, path, payload))
}

/// `fut` as a future of actor `A`'s context, with a panic contained: counted under `path`,
/// and the actor stopped, so that its `actix::Supervisor` restarts it (dropping its other
/// futures; `started` rescans storage). A panic that escaped would end the actor's context
/// for good, and every later `do_send` to its address would be dropped unseen.
pub fn in_actor<A, F>(
    sctx: Arc<ServerContext>,
    path: String,
    fut: F,
) -> impl ActorFuture<A, Output = Result<F::Output, Panicked>>
where
    A: Actor<Context = actix::Context<A>>,
    F: Future + 'static,
{
    actix::fut::wrap_future::<_, A>(AssertUnwindSafe(fut).catch_unwind()).map(
        move |res, _act, ctx: &mut actix::Context<A>| {
            res.map_err(|payload| {
                let failed = contain(&sctx.registry, &path, payload);
                ctx.stop();
                failed
            })
        },
    )
}

/// A session actor's connection future: it ends the session when done, and a panic in it
/// is contained by [`in_actor`] (counted under `session/<service>`), so the session still
/// stops cleanly (its `stopped` closes the count of open sessions) and drops only its own
/// connection. Sessions are not restarted: the client reconnects.
pub fn session_future<A, F>(
    sctx: Arc<ServerContext>,
    service: &str,
    fut: F,
) -> impl ActorFuture<A, Output = ()>
where
    A: Actor<Context = actix::Context<A>>,
    F: Future<Output = ()> + 'static,
{
    in_actor(sctx, format!("session/{service}"), fut)
        .map(|_, _, ctx: &mut actix::Context<A>| ctx.stop())
}

/// Runs a long-lived task that is no actor (an acceptor, the console socket) under
/// supervision: registered as `path` (of `kind`) for the console's `actors` and `/health`,
/// each panic counted, and the task made anew by `factory` after the back-off. What must
/// outlive a failed run (the listening socket) is owned by the factory, not the run.
/// Returns when a run ends without panicking, or when the server shuts down.
pub async fn supervise_task<F, Fut>(
    sctx: Arc<ServerContext>,
    path: String,
    kind: &'static str,
    mut factory: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    sctx.registry.register(&path, kind);
    let mut shutdown = sctx.shutdown_signal();
    while contained(&sctx.registry, &path, factory()).await.is_err() {
        if sctx.is_shutting_down() {
            return;
        }
        let delay = sctx.registry.restart_delay(&path);
        if !delay.is_zero() {
            tracing::warn!(task = path, ?delay, "backing off before restart");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
        tracing::info!(task = path, "restarting");
    }
}

fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Test-only fault injection: `arm("folder.append", 1)` makes the next pass through the
/// hook named `folder.append` panic. Nothing in the server arms a hook; only tests do,
/// through the in-process server handle. Without the `fault-injection` feature (every
/// build but the tests') `hit` is empty and `arm` does not exist.
#[derive(Debug, Default)]
pub struct FaultHooks {
    #[cfg(any(test, feature = "fault-injection"))]
    armed: Mutex<HashMap<&'static str, u32>>,
}

impl FaultHooks {
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn arm(&self, hook: &'static str, times: u32) {
        lock(&self.armed).insert(hook, times);
    }

    /// Whether `hook` is armed, disarming it once. For hooks that fail rather than panic.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn take(&self, hook: &'static str) -> bool {
        let mut armed = lock(&self.armed);
        match armed.get_mut(hook) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Always false without the `fault-injection` feature.
    #[cfg(not(any(test, feature = "fault-injection")))]
    #[inline(always)]
    pub fn take(&self, _hook: &'static str) -> bool {
        false
    }

    /// Whether `hook` is armed, without disarming it: for a fast path that must leave the
    /// hook to the slow path it tests.
    #[cfg(any(test, feature = "fault-injection"))]
    pub fn is_armed(&self, hook: &'static str) -> bool {
        lock(&self.armed).get(hook).is_some_and(|n| *n > 0)
    }

    /// Always false without the `fault-injection` feature.
    #[cfg(not(any(test, feature = "fault-injection")))]
    #[inline(always)]
    pub fn is_armed(&self, _hook: &'static str) -> bool {
        false
    }

    /// Panics when `hook` is armed (decrementing it). Call at the point of failure.
    #[inline(always)]
    pub fn hit(&self, hook: &'static str) {
        if self.take(hook) {
            panic!("injected fault at {hook}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_for(1), Duration::ZERO);
        assert_eq!(backoff_for(2), Duration::from_secs(1));
        assert_eq!(backoff_for(3), Duration::from_secs(2));
        assert_eq!(backoff_for(4), Duration::from_secs(4));
        assert_eq!(backoff_for(40), MAX_BACKOFF);
    }

    #[test]
    fn registry_counts_restarts() {
        let r = ActorRegistry::default();
        r.register("queue/inbound", "queue");
        assert_eq!(r.record_failure("queue/inbound", "boom"), Duration::ZERO);
        assert_eq!(
            r.record_failure("queue/inbound", "boom"),
            Duration::from_secs(1)
        );
        assert_eq!(r.restarts("queue/inbound"), 2);
        assert_eq!(r.total_restarts(), 2);
        assert_eq!(r.restart_delay("queue/inbound"), Duration::from_secs(1));
    }

    #[test]
    fn fault_hook_fires_exactly_as_armed() {
        let f = FaultHooks::default();
        f.hit("x");
        f.arm("x", 1);
        assert!(catch_unwind(AssertUnwindSafe(|| f.hit("x"))).is_err());
        f.hit("x");
    }
}
