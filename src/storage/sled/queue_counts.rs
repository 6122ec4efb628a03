//! Queue depths kept in memory, so that `/health`, the console's `status` and the queue
//! actors read a number instead of counting a sled tree (`Tree::len` walks every record).
//!
//! One scan per queue when the store opens; after that every committed transaction that
//! adds or removes a queue record moves its queue's counter. The transaction closures only
//! report what they did (a closure may run more than once, see [`SledStore::transact`]); the
//! counters move after the commit, so a reader may lag a write by a moment, never drift.

use std::sync::atomic::{AtomicI64, Ordering};

use super::SledStore;
use crate::storage::queue::QueueName;

#[derive(Debug, Default)]
pub(crate) struct QueueCounts([AtomicI64; QueueName::ALL.len()]);

/// Records added (positive) or removed (negative) per queue by one transaction.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct QueueDelta([i64; QueueName::ALL.len()]);

impl QueueDelta {
    pub(crate) fn add(&mut self, queue: QueueName, n: i64) {
        self.0[queue.index()] += n;
    }
}

impl QueueCounts {
    /// Counts each queue once (at open).
    pub(crate) fn scan(len: impl Fn(QueueName) -> usize) -> QueueCounts {
        let counts = QueueCounts::default();
        for q in QueueName::ALL {
            let n = i64::try_from(len(q)).unwrap_or(i64::MAX);
            counts.0[q.index()].store(n, Ordering::Relaxed);
        }
        counts
    }

    pub(crate) fn get(&self, queue: QueueName) -> usize {
        usize::try_from(self.0[queue.index()].load(Ordering::Relaxed)).unwrap_or(0)
    }

    fn apply(&self, delta: QueueDelta) {
        for (counter, d) in self.0.iter().zip(delta.0) {
            if d != 0 {
                counter.fetch_add(d, Ordering::Relaxed);
            }
        }
    }
}

impl SledStore {
    /// Moves the queue counters by what a committed transaction did.
    pub(crate) fn count_queued(&self, delta: QueueDelta) {
        self.queue_counts().apply(delta);
    }
}
