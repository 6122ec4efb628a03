//! Group commit: one thread makes writes durable for every caller waiting at the time.
//!
//! A caller enqueues a waiter and blocks (or awaits). The committer thread takes *all* waiting
//! requests, makes the blob files written since its last round durable (one syncfs), flushes
//! sled once and
//! answers every waiter with the same result. Requests arriving during a flush wait for the next
//! round, so each answer covers a flush that started after the request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use super::blobs::DirtyDirs;
use super::StorageError;

/// Counters of the group committer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommitStats {
    /// Calls to `commit` / `commit_async`.
    pub commits_requested: u64,
    /// Flush rounds done (each answers every request waiting when it began).
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

#[derive(Default)]
struct State {
    waiters: Vec<Waiter>,
    shutdown: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    requested: AtomicU64,
    flushes: AtomicU64,
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
}

/// The committer thread and its queue. Dropping it stops the thread after it has answered
/// every pending request.
pub(crate) struct Committer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

fn stopped() -> StorageError {
    StorageError::Io(std::io::Error::other("the commit thread has stopped"))
}

impl Committer {
    pub(crate) fn start(db: sled::Db, dirty: DirtyDirs) -> Result<Committer, StorageError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            requested: AtomicU64::new(0),
            flushes: AtomicU64::new(0),
            #[cfg(test)]
            gate: Mutex::new(()),
        });
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("storage-commit".into())
            .spawn(move || run(&thread_shared, &db, &dirty))?;
        Ok(Committer {
            shared,
            thread: Some(thread),
        })
    }

    fn enqueue(&self, waiter: Waiter) {
        self.shared.requested.fetch_add(1, Ordering::Relaxed);
        self.shared.lock().waiters.push(waiter);
        self.shared.wake.notify_one();
    }

    pub(crate) fn commit(&self) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.enqueue(Waiter::Blocking(tx));
        rx.recv().unwrap_or_else(|_| Err(stopped()))
    }

    pub(crate) fn commit_async(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.enqueue(Waiter::Async(tx));
        async move { rx.await.unwrap_or_else(|_| Err(stopped())) }
    }

    pub(crate) fn stats(&self) -> CommitStats {
        CommitStats {
            commits_requested: self.shared.requested.load(Ordering::Relaxed),
            flushes: self.shared.flushes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("storage commit thread panicked");
            }
        }
    }
}

fn run(shared: &Shared, db: &sled::Db, dirty: &DirtyDirs) {
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
        let result = flush(db, dirty);
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = &result {
            tracing::error!(error = %e, "storage commit failed");
        }
        for waiter in batch {
            waiter.answer(&result);
        }
    }
    // Writes not acknowledged by anyone still deserve a final flush on shutdown.
    if let Err(e) = flush(db, dirty) {
        tracing::error!(error = %e, "storage flush at shutdown failed");
    }
}

/// Makes the blob files written since the last round durable, then flushes sled.
///
/// Blob files are written without an fsync of their own (see `BlobStore::put`); here one
/// `syncfs(2)` on the blob directory's filesystem makes all of them — contents, the renames
/// into place, new directories — durable at once. That is the group commit for bodies: a
/// round costs one filesystem flush however many messages it covers, instead of one fsync per
/// file plus one per directory. Where syncfs fails, each dirty directory's files and the
/// directory itself are fsynced one by one. Directories that fail stay dirty.
fn flush(db: &sled::Db, dirty: &DirtyDirs) -> Result<(), StorageError> {
    let dirs: Vec<_> = dirty
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .drain()
        .collect();
    if let Some(first) = dirs.first() {
        if let Err(e) = syncfs(first).or_else(|_| fsync_each(&dirs)) {
            tracing::error!(error = %e, "cannot make blob files durable");
            dirty
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .extend(dirs);
            return Err(e.into());
        }
    }
    db.flush()?;
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::testutil::store;
    use super::*;
    use std::sync::Barrier;
    use std::time::{Duration, Instant};

    #[test]
    fn commit_flushes_and_counts() {
        let (_dir, store) = store();
        store.commit().unwrap();
        store.commit().unwrap();
        let stats = store.commit_stats();
        assert_eq!(stats.commits_requested, 2);
        assert_eq!(stats.flushes, 2);
    }

    #[test]
    fn concurrent_commits_share_flushes() {
        let (_dir, store) = store();
        const THREADS: usize = 64;
        // Hold the committer at its first flush so that every other request piles up.
        let gate = store.inner.committer.shared.gate.lock().unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    store.commit()
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.commit_stats().commits_requested < THREADS as u64 {
            assert!(Instant::now() < deadline, "threads did not enqueue");
            std::thread::sleep(Duration::from_millis(2));
        }
        drop(gate);
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let stats = store.commit_stats();
        assert_eq!(stats.commits_requested, THREADS as u64);
        assert!(stats.flushes <= 2, "{stats:?}");
    }

    #[test]
    fn ungated_concurrent_commits_use_fewer_flushes_than_calls() {
        let (_dir, store) = store();
        const THREADS: usize = 32;
        const ROUNDS: usize = 10;
        let barrier = Arc::new(Barrier::new(THREADS));
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let store = store.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    for r in 0..ROUNDS {
                        store
                            .add_domain(&format!("d{i}-{r}.example"))
                            .and_then(|()| store.commit())
                            .unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let stats = store.commit_stats();
        assert_eq!(stats.commits_requested, (THREADS * ROUNDS) as u64);
        assert!(stats.flushes < stats.commits_requested, "{stats:?}");
        assert_eq!(store.list_domains().unwrap().len(), THREADS * ROUNDS);
    }

    #[test]
    fn commit_async_resolves() {
        let (_dir, store) = store();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let futs: Vec<_> = (0..8).map(|_| store.commit_async()).collect();
        rt.block_on(async {
            for f in futs {
                f.await.unwrap();
            }
        });
        let stats = store.commit_stats();
        assert_eq!(stats.commits_requested, 8);
        assert!(stats.flushes >= 1 && stats.flushes <= 8);
    }

    #[test]
    fn dropped_async_waiter_does_not_stall_the_committer() {
        let (_dir, store) = store();
        drop(store.commit_async());
        store.commit().unwrap();
    }
}
