//! Long jobs of the admin listener: work that takes longer than a page load (a bulk change
//! of many queue records, a check of the whole store) runs in the background and reports
//! its progress here; the dashboard's jobs page (`/jobs`) and the API (`/api/v1/jobs`)
//! read it, and a server-sent event stream sends every change.
//!
//! Implementation notes:
//! - The registry ([`Jobs`]) lives in the admin application's data (`web::Data<Arc<Jobs>>`,
//!   made once per listener by `http::server::start`), in memory only: a job is as old as
//!   the process, and a restart forgets them (a job is not resumed).
//! - A job runs on its own task (queue changes, which are messages to the queue actors) or
//!   on a thread of its own (the storage check, which reads the store synchronously), never
//!   on an actor's thread and never inside the request: closing the page does not stop it.
//! - A job reports through its [`JobHandle`], which implements the storage layer's
//!   [`Progress`] (the same callback `storage migrate` prints its bars with). A handle
//!   dropped without [`JobHandle::finish`] (the job's task panicked) marks the job failed,
//!   so that no bar stays "running" forever.
//! - Bounded: at most [`MAX_RUNNING`] jobs run at once (more are refused) and the last
//!   [`HISTORY`] finished jobs are kept.
//! - Every change bumps a version in a `watch` channel; event streams wait on it, so an
//!   idle registry costs no work.
//! - Who sees what: admins see every job, domain admins only the jobs they started
//!   ([`Job::visible_to`]).
//!
//! Not a job: `ferrymail storage migrate`. The embedded store is opened exclusively by the
//! running server, so a migration runs from the command line with the server stopped (it
//! prints its own progress there).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::ToSchema;

use crate::clock::Clock;
use crate::http::auth::Principal;
use crate::storage::migrate::Progress;

/// Finished jobs kept for the jobs page.
pub const HISTORY: usize = 50;
/// Jobs that may run at once.
pub const MAX_RUNNING: usize = 4;

/// What a job does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Retry, bounce, move or delete of many queue records.
    QueueBulk,
    /// `storage check` of the live store.
    StorageCheck,
    /// An `.ics`/`.vcf` file imported into a calendar or address book.
    CollectionImport,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    Running,
    /// Finished, everything done.
    Done,
    /// Finished with failures (see `error`), or stopped.
    Failed,
}

/// A job as the pages and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    /// What it does, in words ("move to bad: every record of deferred").
    pub title: String,
    /// The account that started it.
    pub owner: String,
    pub state: JobState,
    /// The current phase ("" before the first).
    pub phase: String,
    /// Items of the phase done.
    pub done: u64,
    /// Items of the phase; 0 when not known yet.
    pub total: u64,
    /// Unix seconds.
    pub started: i64,
    /// Unix seconds, once finished.
    pub ended: Option<i64>,
    /// What it did, once finished.
    pub result: Option<String>,
    /// What failed, once finished.
    pub error: Option<String>,
}

impl Job {
    /// Admins see every job; anyone else only their own.
    pub fn visible_to(&self, who: &Principal) -> bool {
        who.is_admin() || self.owner == who.address
    }

    pub fn finished(&self) -> bool {
        self.state != JobState::Running
    }

    /// Percent done of the phase (0 when the total is not known).
    pub fn percent(&self) -> u64 {
        (self.done.min(self.total) * 100)
            .checked_div(self.total)
            .unwrap_or(0)
    }
}

/// Why a job was not started.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JobError {
    #[error("{MAX_RUNNING} jobs are running already; wait for one to finish")]
    TooMany,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Oldest first.
    jobs: VecDeque<Job>,
}

/// The registry (module notes).
pub struct Jobs {
    inner: Mutex<Inner>,
    version: watch::Sender<u64>,
}

impl Jobs {
    pub fn new() -> Arc<Jobs> {
        Arc::new(Jobs {
            inner: Mutex::new(Inner::default()),
            version: watch::channel(0).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while the lock was held left plain data behind, still readable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.version.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Registers a running job owned by `owner`; its handle reports on it.
    pub fn start(
        self: &Arc<Self>,
        kind: JobKind,
        title: String,
        owner: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<JobHandle, JobError> {
        let id = {
            let mut inner = self.lock();
            let running = inner.jobs.iter().filter(|j| !j.finished()).count();
            if running >= MAX_RUNNING {
                return Err(JobError::TooMany);
            }
            inner.next_id += 1;
            let id = inner.next_id;
            inner.jobs.push_back(Job {
                id,
                kind,
                title,
                owner: owner.to_string(),
                state: JobState::Running,
                phase: String::new(),
                done: 0,
                total: 0,
                started: clock.now(),
                ended: None,
                result: None,
                error: None,
            });
            id
        };
        self.changed();
        Ok(JobHandle {
            jobs: self.clone(),
            id,
            clock,
            finished: false,
        })
    }

    /// The job `id`, if it is still known.
    pub fn get(&self, id: u64) -> Option<Job> {
        self.lock().jobs.iter().find(|j| j.id == id).cloned()
    }

    /// The jobs `who` may see, newest first.
    pub fn list(&self, who: &Principal) -> Vec<Job> {
        self.lock()
            .jobs
            .iter()
            .rev()
            .filter(|j| j.visible_to(who))
            .cloned()
            .collect()
    }

    /// A receiver that wakes on every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Job)) {
        {
            let mut inner = self.lock();
            let Some(job) = inner.jobs.iter_mut().find(|j| j.id == id) else {
                return;
            };
            f(job);
            if job.finished() {
                // Keep the last HISTORY finished jobs (running ones are never dropped).
                let mut finished = inner.jobs.iter().filter(|j| j.finished()).count();
                while finished > HISTORY {
                    match inner.jobs.iter().position(|j| j.finished()) {
                        Some(i) => {
                            inner.jobs.remove(i);
                            finished -= 1;
                        }
                        None => break,
                    }
                }
            }
        }
        self.changed();
    }
}

/// How a job reports (module notes).
pub struct JobHandle {
    jobs: Arc<Jobs>,
    id: u64,
    clock: Arc<dyn Clock>,
    finished: bool,
}

impl JobHandle {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Ends the job: `result` is what it did; `error`, if any, what failed (the job is then
    /// [`JobState::Failed`]).
    pub fn finish(mut self, result: Option<String>, error: Option<String>) {
        self.end(result, error);
    }

    fn end(&mut self, result: Option<String>, error: Option<String>) {
        self.finished = true;
        let now = self.clock.now();
        self.jobs.update(self.id, |j| {
            j.state = if error.is_some() {
                JobState::Failed
            } else {
                JobState::Done
            };
            j.ended = Some(now);
            j.result = result;
            j.error = error;
        });
    }
}

impl Progress for JobHandle {
    fn phase(&mut self, name: &str, total: u64) {
        self.jobs.update(self.id, |j| {
            j.phase = name.to_string();
            j.total = total;
            j.done = 0;
        });
    }

    fn advance(&mut self, n: u64) {
        self.jobs
            .update(self.id, |j| j.done = j.done.saturating_add(n));
    }

    fn end_phase(&mut self) {}
}

impl Drop for JobHandle {
    fn drop(&mut self) {
        if !self.finished {
            self.end(None, Some("the job stopped before it finished".into()));
        }
    }
}

/// The registry of the request's application, if it has one (the admin listener's has).
pub fn of(req: &actix_web::HttpRequest) -> Option<Arc<Jobs>> {
    req.app_data::<actix_web::web::Data<Arc<Jobs>>>()
        .map(|d| d.get_ref().clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::http::auth::{Role, Scope, Via};

    fn who(address: &str, role: Role) -> Principal {
        Principal {
            address: address.into(),
            role,
            scope: Scope::All,
            via: Via::Session,
        }
    }

    fn clock() -> Arc<dyn Clock> {
        ManualClock::new(1_800_000_000)
    }

    #[test]
    fn a_job_reports_progress_and_its_result() {
        let jobs = Jobs::new();
        let mut rx = jobs.subscribe();
        let mut h = jobs
            .start(JobKind::QueueBulk, "t".into(), "a@x.test", clock())
            .unwrap();
        let id = h.id();
        assert!(rx.has_changed().unwrap());
        rx.mark_unchanged();
        h.phase("move", 4);
        h.advance(3);
        assert!(rx.has_changed().unwrap());
        let j = jobs.get(id).unwrap();
        assert_eq!(
            (j.phase.as_str(), j.done, j.total, j.percent()),
            ("move", 3, 4, 75)
        );
        assert_eq!(j.state, JobState::Running);
        h.advance(1);
        h.finish(Some("4 moved".into()), None);
        let j = jobs.get(id).unwrap();
        assert_eq!((j.done, j.total, j.state), (4, 4, JobState::Done));
        assert_eq!(j.result.as_deref(), Some("4 moved"));
        assert_eq!(j.ended, Some(1_800_000_000));
    }

    #[test]
    fn a_dropped_handle_fails_the_job() {
        let jobs = Jobs::new();
        let id = jobs
            .start(JobKind::StorageCheck, "t".into(), "a@x.test", clock())
            .unwrap()
            .id();
        let j = jobs.get(id).unwrap();
        assert_eq!(j.state, JobState::Failed);
        assert!(j.error.unwrap().contains("stopped"));
    }

    #[test]
    fn admins_see_all_jobs_and_others_their_own() {
        let jobs = Jobs::new();
        let c = clock();
        let a = jobs
            .start(JobKind::QueueBulk, "a".into(), "dom@a.test", c.clone())
            .unwrap();
        let b = jobs
            .start(JobKind::QueueBulk, "b".into(), "root@x.test", c)
            .unwrap();
        let dom = who("dom@a.test", Role::DomainAdmin(vec!["a.test".into()]));
        let root = who("root@x.test", Role::Admin);
        let ids = |p: &Principal| jobs.list(p).iter().map(|j| j.id).collect::<Vec<_>>();
        assert_eq!(ids(&root), vec![b.id(), a.id()]);
        assert_eq!(ids(&dom), vec![a.id()]);
        assert!(!jobs.get(b.id()).unwrap().visible_to(&dom));
    }

    #[test]
    fn running_jobs_are_bounded_and_history_is_kept_short() {
        let jobs = Jobs::new();
        let c = clock();
        let mut running: Vec<JobHandle> = (0..MAX_RUNNING)
            .map(|_| {
                jobs.start(JobKind::QueueBulk, "r".into(), "a@x.test", c.clone())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            jobs.start(JobKind::QueueBulk, "r".into(), "a@x.test", c.clone())
                .err(),
            Some(JobError::TooMany)
        );
        if let Some(h) = running.pop() {
            h.finish(None, None);
        }
        for _ in 0..HISTORY + 10 {
            jobs.start(JobKind::QueueBulk, "f".into(), "a@x.test", c.clone())
                .unwrap()
                .finish(Some("ok".into()), None);
        }
        let root = who("root@x.test", Role::Admin);
        let all = jobs.list(&root);
        assert_eq!(all.iter().filter(|j| j.finished()).count(), HISTORY);
        // The running ones stay, however old.
        assert_eq!(
            all.iter().filter(|j| !j.finished()).count(),
            MAX_RUNNING - 1
        );
        assert_eq!(all[0].id, (MAX_RUNNING + HISTORY + 10) as u64);
    }
}
