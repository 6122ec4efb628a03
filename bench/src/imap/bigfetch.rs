//! `bench imap --fetch-all ROUNDS`: `FETCH 1:* BODY.PEEK[]` of the whole mailbox on one
//! connection, ROUNDS times, with the server's resident memory sampled every 100 ms
//! (issue 10: the output of one session stays bounded, so a 1 GB folder must not grow the
//! server by anything like 1 GB). Reports bytes received, MB/s, RSS before and at its
//! peak, and, given server PIDs, the server's CPU per MB sent.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::{probe_session, rss_sampler, Shared};
use crate::stats::ServerProcs;

/// How often the server's RSS is read while the FETCH runs.
const RSS_INTERVAL: Duration = Duration::from_millis(100);

/// What `--fetch-all` measured.
#[derive(Debug, Clone, Serialize)]
pub struct FetchAllReport {
    pub rounds_ok: u32,
    /// FETCH responses of the last round (messages).
    pub messages: u64,
    /// Bytes received over all rounds, responses and literals.
    pub bytes: u64,
    pub seconds: f64,
    pub mb_per_s: f64,
    /// Sum of VmRSS of the server processes before the first FETCH and the most seen
    /// during them; `growth` is the difference.
    pub server_rss_before_kb: Option<u64>,
    pub server_rss_peak_kb: Option<u64>,
    pub server_rss_growth_kb: Option<u64>,
    pub server_cpu_s: Option<f64>,
    /// Server CPU milliseconds per MB (10^6 bytes) received.
    pub server_cpu_ms_per_mb: Option<f64>,
    pub first_error: Option<String>,
}

/// Runs the FETCHes on a connection of the first account.
pub async fn fetch_all(shared: &Shared, procs: &ServerProcs, rounds: u32) -> FetchAllReport {
    let mut report = FetchAllReport {
        rounds_ok: 0,
        messages: 0,
        bytes: 0,
        seconds: 0.0,
        mb_per_s: 0.0,
        server_rss_before_kb: None,
        server_rss_peak_kb: None,
        server_rss_growth_kb: None,
        server_cpu_s: None,
        server_cpu_ms_per_mb: None,
        first_error: None,
    };
    let mut imap = match probe_session(shared, true).await {
        Ok(c) => c,
        Err(e) => {
            report.first_error = Some(e);
            return report;
        }
    };
    let before = procs.snapshot();
    report.server_rss_before_kb = before.resident_kb();
    let sampler = rss_sampler(procs, RSS_INTERVAL);
    let received = imap.received;
    let started = Instant::now();
    for _ in 0..rounds {
        match imap.command("FETCH 1:* BODY.PEEK[]").await {
            Ok(d) if d.ok() => {
                report.rounds_ok += 1;
                report.messages = d.untagged;
            }
            Ok(d) => {
                report.first_error = Some(d.text);
                break;
            }
            Err(e) => {
                report.first_error = Some(e.to_string());
                break;
            }
        }
    }
    let elapsed = started.elapsed();
    report.bytes = imap.received - received;
    if let Some((stop, task)) = sampler {
        let _ = stop.send(());
        report.server_rss_peak_kb = task.await.ok().flatten();
    }
    let mb = report.bytes as f64 / 1e6;
    report.seconds = elapsed.as_secs_f64();
    report.mb_per_s = if report.seconds > 0.0 {
        mb / report.seconds
    } else {
        0.0
    };
    if !procs.is_empty() {
        let cpu = procs.cpu_since(&before).total.as_secs_f64();
        report.server_cpu_s = Some(cpu);
        report.server_cpu_ms_per_mb = (mb > 0.0).then(|| cpu * 1000.0 / mb);
    }
    report.server_rss_growth_kb = report
        .server_rss_peak_kb
        .zip(report.server_rss_before_kb)
        .map(|(peak, before)| peak.saturating_sub(before));
    let _ = imap.logout().await;
    report
}

impl FetchAllReport {
    /// The report's lines for `bench imap`'s aligned output.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let kb = |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{v} KB"));
        let mut rows = vec![
            (
                "fetch all",
                format!(
                    "{} rounds of FETCH 1:* BODY.PEEK[]: {} messages, {:.1} MB in {:.2} s ({:.1} MB/s)",
                    self.rounds_ok,
                    self.messages,
                    self.bytes as f64 / 1e6,
                    self.seconds,
                    self.mb_per_s
                ),
            ),
            (
                "fetch all server rss",
                format!(
                    "before {}, peak {}, growth {}",
                    kb(self.server_rss_before_kb),
                    kb(self.server_rss_peak_kb),
                    kb(self.server_rss_growth_kb)
                ),
            ),
        ];
        if let (Some(cpu), Some(per_mb)) = (self.server_cpu_s, self.server_cpu_ms_per_mb) {
            rows.push((
                "fetch all server cpu",
                format!("{cpu:.3} s, {per_mb:.3} ms per MB"),
            ));
        }
        if let Some(e) = &self.first_error {
            rows.push(("fetch all error", e.clone()));
        }
        rows
    }
}
