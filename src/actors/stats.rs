//! Counters the console's `status` command and the health page report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::supervisor::lock;

#[derive(Debug)]
pub struct Stats {
    pub started: Instant,
    pub messages_in: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_out: AtomicU64,
    sessions: Mutex<BTreeMap<&'static str, u64>>,
    connections_total: AtomicU64,
    /// The most output any IMAP session has held for its connection at once (bytes): the
    /// bound that chunked FETCH keeps (issue 10), for the console and the tests.
    imap_output_peak: AtomicU64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            messages_in: AtomicU64::new(0),
            messages_delivered: AtomicU64::new(0),
            messages_out: AtomicU64::new(0),
            sessions: Mutex::new(BTreeMap::new()),
            connections_total: AtomicU64::new(0),
            imap_output_peak: AtomicU64::new(0),
        }
    }
}

impl Stats {
    pub fn session_opened(&self, service: &'static str) {
        *lock(&self.sessions).entry(service).or_insert(0) += 1;
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    pub fn session_closed(&self, service: &'static str) {
        if let Some(n) = lock(&self.sessions).get_mut(service) {
            *n = n.saturating_sub(1);
        }
    }

    /// Open sessions per service.
    pub fn sessions(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.sessions).clone()
    }

    pub fn open_sessions(&self) -> u64 {
        lock(&self.sessions).values().sum()
    }

    pub fn connections_total(&self) -> u64 {
        self.connections_total.load(Ordering::Relaxed)
    }

    /// An IMAP session is about to write `bytes` of output it holds.
    pub fn imap_output_queued(&self, bytes: usize) {
        self.imap_output_peak
            .fetch_max(bytes as u64, Ordering::Relaxed);
    }

    pub fn imap_output_peak(&self) -> u64 {
        self.imap_output_peak.load(Ordering::Relaxed)
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}
