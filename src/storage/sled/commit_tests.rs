//! The group committer over the sled backend: rounds, grouping, failures.

use super::testutil::store;
use crate::storage::commit::falls_back;
use crate::storage::StorageError;
use std::sync::Arc;
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
    let gate = store.inner.committer.queue().test_gate().unwrap();
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
fn only_missing_syncfs_falls_back_to_fsync() {
    for (errno, falls) in [
        (libc::ENOSYS, true),
        (libc::EINVAL, true),
        (libc::EIO, false),
        (libc::ENOSPC, false),
    ] {
        let e = std::io::Error::from_raw_os_error(errno);
        assert_eq!(falls_back(&e), falls, "{e}");
    }
}

#[test]
fn an_injected_eio_fails_every_waiter_of_the_round() {
    let (_dir, store) = store();
    store.inject_sync_errors(1);
    let err = store.commit().unwrap_err();
    assert!(
        matches!(&err, StorageError::Io(e) if e.raw_os_error() == Some(libc::EIO)),
        "{err}"
    );
    store.commit().unwrap();
}

/// A write after the sync runs once the bodies written before it are durable, before
/// the round's flush; when the sync fails it does not run and the caller gets the error.
#[test]
fn a_write_after_sync_runs_only_after_a_good_sync() {
    let (_dir, store) = store();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (blob, _pin) = store.blobs().write_pinned(b"pending body").unwrap();
    let blobs = store.inner.blobs.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let done = store.write_after_sync(Box::new(move || {
        // The body this record would reference is durable by now.
        tx.send(blobs.is_pending(&blob)).unwrap();
    }));
    rt.block_on(done).unwrap();
    assert!(!rx.recv().unwrap(), "ran before the body was synced");

    store.inject_sync_errors(1);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let failed = store.write_after_sync(Box::new(move || tx.send(()).unwrap()));
    let err = rt.block_on(failed).unwrap_err();
    assert!(err.to_string().contains("Input/output error"), "{err}");
    assert!(rx.recv().is_err(), "the write ran despite the failed sync");
}

#[test]
fn dropped_async_waiter_does_not_stall_the_committer() {
    let (_dir, store) = store();
    drop(store.commit_async());
    store.commit().unwrap();
}
