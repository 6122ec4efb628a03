//! Group commit: one thread makes writes durable for every caller waiting at the time.
//!
//! A caller enqueues a waiter and blocks (or awaits). The committer thread takes *all* waiting
//! requests and runs one round for them: it makes the blob files written since its last round
//! durable (one syncfs), flushes the backend's index when any request asked for it (a [`CommitQueue::commit`];
//! [`CommitQueue::sync_blobs`] only needs the bodies) and answers every waiter with the same
//! result. Requests arriving during a round wait for the next one, so each answer covers a
//! round that started after the request.
//!
//! Ordering against power loss (docs/architecture.md §4):
//! - A body is durable before any record can reference it: `BlobStore::put`/`finish` wait
//!   for a round covering their file before they return the id. An index may write its log to
//!   the file on every transaction, so a record can reach the disk before our flush; the body
//!   has to be durable first.
//! - A body whose last reference was dropped is deleted only after a round that flushed
//!   the index, so the release is durable before the file goes (see [`IndexFlush::collect`]).
//! - A failed sync (EIO, ENOSPC, …) fails the round: every waiter gets the error, and the
//!   body files the round covered are deleted (a later sync could report success for pages
//!   the kernel dropped); their writers failed, and a retry writes them anew. Only ENOSYS
//!   and EINVAL (no syncfs here) fall back to fsyncing file by file.

#[cfg(any(test, feature = "fault-injection"))]
use std::sync::atomic::AtomicU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::blobs::{BlobId, BlobStore, SyncRounds};
use super::StorageError;

/// Counters of the group committer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Calls to `commit` / `commit_async`.
    pub commits_requested: u64,
    /// Waits of a body writer for its file to become durable.
    pub blob_syncs_requested: u64,
    /// Rounds done (each answers every request waiting when it began).
    pub flushes: u64,
}

enum Waiter {
    Blocking(mpsc::SyncSender<Result<(), StorageError>>),
    Async(tokio::sync::oneshot::Sender<Result<(), StorageError>>),
}

impl Waiter {
    fn answer(self, result: &Result<(), StorageError>) {
        let result = match result {
            Ok(()) => Ok(()),
            Err(e) => Err(e.duplicate()),
        };
        // A waiter that has gone away (dropped future) needs no answer.
        match self {
            Waiter::Blocking(tx) => {
                let _ = tx.send(result);
            }
            Waiter::Async(tx) => {
                let _ = tx.send(result);
            }
        }
    }
}

/// A record write that must not reach the index before the bodies it references are durable;
/// the committer runs it after its round's sync and before its flush.
pub type AfterSync = Box<dyn FnOnce() + Send>;

/// A waiting request: `flush_db` is false for a body writer, which needs only the blob sync.
/// `after_sync` is a write to run between the round's sync and its flush (dropped unrun
/// when the sync fails).
struct Request {
    waiter: Waiter,
    flush_db: bool,
    after_sync: Option<AfterSync>,
}

#[derive(Default)]
struct State {
    waiters: Vec<Request>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    requested: AtomicU64,
    blob_syncs: AtomicU64,
    flushes: AtomicU64,
    /// Rounds still to fail with EIO in their sync step (`Store::inject_sync_errors`).
    #[cfg(any(test, feature = "fault-injection"))]
    failing_syncs: AtomicU32,
    /// Held by the committer around each flush; tests hold it to pile up requests.
    #[cfg(test)]
    gate: Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether an injected failure is due for this round's sync step (consumes one).
    fn sync_fault(&self) -> bool {
        #[cfg(any(test, feature = "fault-injection"))]
        {
            self.failing_syncs
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        }
        #[cfg(not(any(test, feature = "fault-injection")))]
        false
    }
}

/// The committer's request queue. The blob store holds a clone to wait for its files.
#[derive(Clone)]
pub(crate) struct CommitQueue {
    shared: Arc<Shared>,
}

fn stopped() -> StorageError {
    StorageError::Io(std::io::Error::other("the commit thread has stopped"))
}

impl CommitQueue {
    pub(crate) fn new() -> CommitQueue {
        CommitQueue {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                requested: AtomicU64::new(0),
                blob_syncs: AtomicU64::new(0),
                flushes: AtomicU64::new(0),
                #[cfg(any(test, feature = "fault-injection"))]
                failing_syncs: AtomicU32::new(0),
                #[cfg(test)]
                gate: Mutex::new(()),
            }),
        }
    }

    fn enqueue(&self, waiter: Waiter, flush_db: bool) {
        self.enqueue_request(Request {
            waiter,
            flush_db,
            after_sync: None,
        });
    }

    fn enqueue_request(&self, request: Request) {
        let flush_db = request.flush_db;
        let counter = if flush_db {
            &self.shared.requested
        } else {
            &self.shared.blob_syncs
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().waiters.push(request);
        self.shared.wake.notify_one();
    }

    fn wait(&self, flush_db: bool) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Waiter::Blocking(tx), flush_db);
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }

    /// Blob files and the index, durable. Blocking.
    pub(crate) fn commit(&self) -> Result<(), StorageError> {
        self.wait(true)
    }

    /// Every blob file written before the call, durable (no index flush). Blocking.
    pub(crate) fn sync_blobs(&self) -> Result<(), StorageError> {
        self.wait(false)
    }

    pub(crate) fn commit_async(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(Waiter::Async(tx), true);
        async move { rx.await.unwrap_or_else(|_| Err(stopped())) }
    }

    /// One round for a record and its bodies: `write` runs on the commit thread once every
    /// body written before this call is durable (the round's sync), then the round flushes
    /// the index; the future resolves after that flush. Where the sync fails, `write` is dropped
    /// without running and the future gives the error. SMTP reception uses it to answer 250
    /// after one round instead of two (a body sync, then the record's commit).
    pub(crate) fn write_after_sync(
        &self,
        write: AfterSync,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue_request(Request {
            waiter: Waiter::Async(tx),
            flush_db: true,
            after_sync: Some(write),
        });
        async move { rx.await.unwrap_or_else(|_| Err(stopped())) }
    }

    /// Held by the committer around each flush: a test holding it piles up requests.
    #[cfg(test)]
    pub(crate) fn test_gate(
        &self,
    ) -> Result<MutexGuard<'_, ()>, std::sync::PoisonError<MutexGuard<'_, ()>>> {
        self.shared.gate.lock()
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            commits_requested: self.shared.requested.load(Ordering::Relaxed),
            blob_syncs_requested: self.shared.blob_syncs.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
        }
    }

    /// Makes the sync step of the next `rounds` rounds fail with EIO.
    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn inject_sync_errors(&self, rounds: u32) {
        self.shared.failing_syncs.store(rounds, Ordering::SeqCst);
    }
}

impl SyncRounds for CommitQueue {
    fn sync_blobs(&self) -> Result<(), StorageError> {
        CommitQueue::sync_blobs(self)
    }
}

/// The committer thread. Dropping it stops the thread after it has answered every pending
/// request.
pub(crate) struct Committer {
    queue: CommitQueue,
    thread: Option<JoinHandle<()>>,
}

/// The backend's part of a commit round: flushing its index (the records), and deleting
/// the files of released blobs whose count is still 0 once that flush made the release
/// durable (ordered against a concurrent re-reference of the same content).
pub(crate) trait IndexFlush: Send + 'static {
    fn flush(&self) -> Result<(), StorageError>;
    fn collect(&self, blobs: &BlobStore, released: &[BlobId]);

    /// Runs a round's record writes (see [`round`]), all of them before returning; each
    /// reports its own outcome. One after the other here; a backend whose writes wait on
    /// round trips to a server runs them side by side.
    fn run_writes(&self, writes: Vec<AfterSync>) {
        for write in writes {
            run_write(write);
        }
    }
}

/// Runs one record write of a round; a panic in it is caught and logged, so that it cannot
/// stop the commit thread.
pub(crate) fn run_write(write: AfterSync) {
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(write)).is_err() {
        tracing::error!("a record write after the body sync panicked");
    }
}

/// What the committer works on: the backend's index and the blob store (its
/// not-yet-durable files and released blobs).
pub(crate) struct Target {
    pub(crate) index: Box<dyn IndexFlush>,
    pub(crate) blobs: Arc<BlobStore>,
}

impl Committer {
    pub(crate) fn start(queue: CommitQueue, target: Target) -> Result<Committer, StorageError> {
        let shared = queue.shared.clone();
        let thread = std::thread::Builder::new()
            .name("storage-commit".into())
            .spawn(move || run(&shared, &target))?;
        Ok(Committer {
            queue,
            thread: Some(thread),
        })
    }

    pub(crate) fn queue(&self) -> &CommitQueue {
        &self.queue
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.queue.shared.lock().shutdown = true;
        self.queue.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("storage commit thread panicked");
            }
        }
    }
}

fn run(shared: &Shared, target: &Target) {
    loop {
        let batch = {
            let mut state = shared.lock();
            while state.waiters.is_empty() && !state.shutdown {
                state = shared
                    .wake
                    .wait(state)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if state.waiters.is_empty() {
                break; // shutdown with nothing pending
            }
            std::mem::take(&mut state.waiters)
        };
        #[cfg(test)]
        let _gate = shared
            .gate
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let flush_db = batch.iter().any(|r| r.flush_db);
        let mut writes: Vec<AfterSync> = Vec::new();
        let batch: Vec<Waiter> = batch
            .into_iter()
            .map(|r| {
                writes.extend(r.after_sync);
                r.waiter
            })
            .collect();
        let result = round(shared, target, flush_db, writes);
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        let answer = match &result {
            Ok(_) => Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "storage commit failed");
                Err(e.duplicate())
            }
        };
        for waiter in batch {
            waiter.answer(&answer);
        }
        if let Ok(released) = result {
            target.index.collect(&target.blobs, &released);
        }
    }
    // Writes not acknowledged by anyone still deserve a final flush on shutdown.
    match round(shared, target, true, Vec::new()) {
        Ok(released) => target.index.collect(&target.blobs, &released),
        Err(e) => tracing::error!(error = %e, "storage flush at shutdown failed"),
    }
}

/// One round: makes the blob files written since the last good round durable, then (when
/// `flush_db`) flushes the index. Returns the released blobs that may now be collected: those
/// whose release was in the index before this round's flush.
///
/// Blob files are written without an fsync of their own (see `BlobStore::put`); one
/// `syncfs(2)` on the blob directory's filesystem makes all of them — contents, the renames
/// into place, new directories — durable at once. That is the group commit for bodies: a
/// round costs one filesystem flush however many messages it covers.
///
/// `writes` (records whose bodies this round's sync covers) run after the sync and before
/// the flush; a failed sync drops them unrun. Each reports its own outcome to its caller; a
/// panic in one is caught here, so that it cannot stop the commit thread.
fn round(
    shared: &Shared,
    target: &Target,
    flush_db: bool,
    writes: Vec<AfterSync>,
) -> Result<Vec<BlobId>, StorageError> {
    let blobs = &target.blobs;
    let start = blobs.begin_round(flush_db);
    let synced = if shared.sync_fault() {
        Err(std::io::Error::from_raw_os_error(libc::EIO))
    } else if start.needs_sync() {
        sync_blob_files(blobs.root(), &start.dirs)
    } else {
        Ok(())
    };
    if let Err(e) = synced {
        tracing::error!(error = %e, "cannot make blob files durable");
        blobs.round_failed(start);
        return Err(e.into());
    }
    // The bodies are durable from here: writers that find them need not wait any more.
    let upto = start.upto;
    blobs.round_synced(upto, Vec::new());
    target.index.run_writes(writes);
    if !flush_db {
        return Ok(Vec::new());
    }
    match target.index.flush() {
        Ok(_) => Ok(start.released),
        Err(e) => {
            // The bodies are durable; the releases are not: they wait for the next round.
            blobs.round_synced(upto, start.released);
            Err(e)
        }
    }
}

/// `syncfs` on the blob directory's filesystem; only where the kernel has no syncfs for it
/// (ENOSYS, EINVAL) each dirty directory's files and the directory are fsynced one by one.
/// Any other error (EIO above all) is the answer: after a failed writeback the kernel may
/// have dropped the dirty pages, and an fsync on a fresh handle can then report success for
/// data that never reached the disk.
fn sync_blob_files(root: &std::path::Path, dirs: &[std::path::PathBuf]) -> std::io::Result<()> {
    match syncfs(root) {
        Err(e) if falls_back(&e) => fsync_each(dirs),
        other => other,
    }
}

/// Whether a syncfs error means "not supported here" rather than "the data did not make it".
pub(crate) fn falls_back(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EINVAL))
}

/// `syncfs(2)` on the filesystem holding `path`.
fn syncfs(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let dir = std::fs::File::open(path)?;
    // SAFETY: `dir` is an open file descriptor for the duration of the call.
    let rc = unsafe { libc::syncfs(dir.as_raw_fd()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The slow way: fsync every file in each directory, then the directory.
fn fsync_each(dirs: &[std::path::PathBuf]) -> std::io::Result<()> {
    for dir in dirs {
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            if path.is_file() {
                std::fs::File::open(&path)?.sync_all()?;
            }
        }
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
