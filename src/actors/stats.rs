//! Counters the console's `status` command, the health page and `/metrics` report. Each
//! is a plain number readable here (the dashboard's live charts read them too); the
//! delivery latency histograms are the metrics crate's own type, shared with `/metrics`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use prometheus::{Histogram, HistogramOpts};

use super::supervisor::lock;

/// Upper bounds (seconds) of the delivery latency buckets: queue records carry their
/// receipt time in whole seconds, so the finest bucket is one second.
pub const LATENCY_BUCKETS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 14400.0,
];

#[derive(Debug)]
pub struct Stats {
    pub started: Instant,
    pub messages_in: AtomicU64,
    pub messages_delivered: AtomicU64,
    pub messages_out: AtomicU64,
    sessions: Mutex<BTreeMap<&'static str, u64>>,
    connections_total: AtomicU64,
    /// Failed logins per protocol ("smtp", "imap", "pop3", "http"...).
    auth_failures: Mutex<BTreeMap<String, u64>>,
    /// Seconds from an inbound record's receipt to its append to a local folder.
    local_delivery: Histogram,
    /// Seconds from receipt to a remote server's acceptance of a recipient.
    remote_delivery: Histogram,
    /// The most output any IMAP session has held for its connection at once (bytes): the
    /// bound that chunked FETCH keeps (issue 10), for the console and the tests.
    imap_output_peak: AtomicU64,
}

fn latency_histogram(name: &str, help: &str) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
        // The name, help and buckets are constants that the tests check.
        .expect("valid histogram options")
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
            auth_failures: Mutex::new(BTreeMap::new()),
            local_delivery: latency_histogram(
                "ferrymail_local_delivery_seconds",
                "Seconds from a message's receipt to its append to a local folder.",
            ),
            remote_delivery: latency_histogram(
                "ferrymail_remote_delivery_seconds",
                "Seconds from a message's receipt to a remote server's acceptance.",
            ),
            imap_output_peak: AtomicU64::new(0),
        }
    }
}

impl Stats {
    pub fn session_opened(&self, service: &'static str) {
        *lock(&self.sessions).entry(service).or_insert(0) += 1;
        self.connections_total.fetch_add(1, Ordering::Relaxed);
    }

    /// An HTTP request on the web listener `listener` began: counted as an open session of
    /// that listener until [`Stats::session_closed`] (`http::activity`), not as a mail
    /// connection.
    pub fn request_started(&self, listener: &'static str) {
        *lock(&self.sessions).entry(listener).or_insert(0) += 1;
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

    /// A login over `protocol` failed (wrong password or no such account).
    pub fn auth_failed(&self, protocol: &str) {
        *lock(&self.auth_failures)
            .entry(protocol.to_string())
            .or_insert(0) += 1;
    }

    /// Failed logins per protocol since start.
    pub fn auth_failures(&self) -> BTreeMap<String, u64> {
        lock(&self.auth_failures).clone()
    }

    /// A recipient was appended to a local folder `seconds` after its message arrived.
    pub fn local_delivered_after(&self, seconds: i64) {
        self.local_delivery.observe(seconds.max(0) as f64);
    }

    /// A remote server accepted a recipient `seconds` after its message arrived.
    pub fn remote_delivered_after(&self, seconds: i64) {
        self.remote_delivery.observe(seconds.max(0) as f64);
    }

    /// The local delivery latency histogram (count, sum and buckets readable from it).
    pub fn local_delivery(&self) -> &Histogram {
        &self.local_delivery
    }

    /// The remote delivery latency histogram.
    pub fn remote_delivery(&self) -> &Histogram {
        &self.remote_delivery
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
