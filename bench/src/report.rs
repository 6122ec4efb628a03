//! The result of a run and its two renderings: aligned `key: value` lines
//! for people, and one final `RESULT {json}` line for scripts.

use std::time::Duration;

use serde::Serialize;

use super::options::TlsMode;
use super::stats::percentile;

/// Latency percentiles of accepted messages; `None` when none were accepted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    pub p50: Option<Duration>,
    pub p90: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
}

impl LatencySummary {
    /// From latencies in microseconds, sorted ascending.
    pub fn from_sorted_us(sorted: &[u64]) -> Self {
        let at = |p| percentile(sorted, p).map(Duration::from_micros);
        LatencySummary {
            p50: at(50.0),
            p90: at(90.0),
            p99: at(99.0),
            max: sorted.last().copied().map(Duration::from_micros),
        }
    }
}

/// CPU time used by the measured server processes during the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerCpu {
    pub total: Duration,
    /// Processes seen (the larger of the counts before and after).
    pub processes: usize,
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct SmtpBenchReport {
    pub target: String,
    pub connections: usize,
    pub messages_requested: u64,
    /// accepted + rejected + failed.
    pub attempted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub failed: u64,
    pub size: usize,
    pub tls: TlsMode,
    /// Whether at least one connection pipelined (asked for and advertised).
    pub pipelining: bool,
    pub reconnects: u64,
    pub duration_limit_hit: bool,
    pub wall: Duration,
    pub latency: LatencySummary,
    /// This process's CPU (user + system) during the run.
    pub client_cpu: Duration,
    pub server_cpu: Option<ServerCpu>,
    /// First distinct 4xx/5xx reply lines.
    pub rejections: Vec<String>,
    /// First distinct connection errors.
    pub errors: Vec<String>,
}

/// The `RESULT` line's schema; times in milliseconds or seconds as named.
#[derive(Serialize)]
struct Json<'a> {
    target: &'a str,
    connections: usize,
    messages_requested: u64,
    attempted: u64,
    accepted: u64,
    rejected: u64,
    failed: u64,
    size: usize,
    tls: &'a str,
    pipelining: bool,
    reconnects: u64,
    duration_limit_hit: bool,
    wall_s: f64,
    messages_per_s: f64,
    latency_p50_ms: Option<f64>,
    latency_p90_ms: Option<f64>,
    latency_p99_ms: Option<f64>,
    latency_max_ms: Option<f64>,
    client_cpu_s: f64,
    client_cpu_per_message_ms: Option<f64>,
    server_cpu_s: Option<f64>,
    server_cpu_per_message_ms: Option<f64>,
    server_processes: Option<usize>,
    rejections: &'a [String],
    errors: &'a [String],
}

/// `key: value` lines, values aligned, each line starting with `indent`.
pub(super) fn aligned(rows: &[(&str, String)], indent: &str) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut out = String::new();
    for (key, value) in rows {
        out.push_str(&format!("{indent}{:<width$} {value}\n", format!("{key}:")));
    }
    out
}

/// The machine-readable last line of a report: `RESULT {json}`.
pub(super) fn result_line(json: &impl Serialize) -> String {
    let json = serde_json::to_string(json).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    format!("RESULT {json}\n")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl SmtpBenchReport {
    /// Accepted messages per second of wall time.
    pub fn messages_per_sec(&self) -> f64 {
        let secs = self.wall.as_secs_f64();
        if secs > 0.0 {
            self.accepted as f64 / secs
        } else {
            0.0
        }
    }

    /// `total` divided over the attempted messages, in ms.
    fn per_message_ms(&self, total: Duration) -> Option<f64> {
        (self.attempted > 0).then(|| ms(total) / self.attempted as f64)
    }

    fn json(&self) -> Json<'_> {
        Json {
            target: &self.target,
            connections: self.connections,
            messages_requested: self.messages_requested,
            attempted: self.attempted,
            accepted: self.accepted,
            rejected: self.rejected,
            failed: self.failed,
            size: self.size,
            tls: self.tls.as_str(),
            pipelining: self.pipelining,
            reconnects: self.reconnects,
            duration_limit_hit: self.duration_limit_hit,
            wall_s: self.wall.as_secs_f64(),
            messages_per_s: self.messages_per_sec(),
            latency_p50_ms: self.latency.p50.map(ms),
            latency_p90_ms: self.latency.p90.map(ms),
            latency_p99_ms: self.latency.p99.map(ms),
            latency_max_ms: self.latency.max.map(ms),
            client_cpu_s: self.client_cpu.as_secs_f64(),
            client_cpu_per_message_ms: self.per_message_ms(self.client_cpu),
            server_cpu_s: self.server_cpu.map(|s| s.total.as_secs_f64()),
            server_cpu_per_message_ms: self.server_cpu.and_then(|s| self.per_message_ms(s.total)),
            server_processes: self.server_cpu.map(|s| s.processes),
            rejections: &self.rejections,
            errors: &self.errors,
        }
    }

    /// The report as printed by `ferrymail bench smtp`.
    pub fn render(&self) -> String {
        let j = self.json();
        let opt_ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3} ms"));
        let mut rows: Vec<(&str, String)> = vec![
            ("target", self.target.clone()),
            ("tls", self.tls.as_str().into()),
            (
                "pipelining",
                if self.pipelining { "yes" } else { "no" }.into(),
            ),
            ("connections", self.connections.to_string()),
            ("messages requested", self.messages_requested.to_string()),
            ("messages attempted", self.attempted.to_string()),
            ("messages accepted", self.accepted.to_string()),
            ("messages rejected", self.rejected.to_string()),
            ("messages failed", self.failed.to_string()),
            ("message size", format!("{} bytes", self.size)),
            ("reconnects", self.reconnects.to_string()),
            ("wall time", format!("{:.3} s", j.wall_s)),
            ("messages/s", format!("{:.1}", j.messages_per_s)),
            ("latency p50", opt_ms(j.latency_p50_ms)),
            ("latency p90", opt_ms(j.latency_p90_ms)),
            ("latency p99", opt_ms(j.latency_p99_ms)),
            ("latency max", opt_ms(j.latency_max_ms)),
            ("client cpu", format!("{:.3} s", j.client_cpu_s)),
            ("client cpu/message", opt_ms(j.client_cpu_per_message_ms)),
        ];
        if let Some(server) = self.server_cpu {
            rows.push((
                "server cpu",
                format!("{:.3} s", j.server_cpu_s.unwrap_or(0.0)),
            ));
            rows.push(("server cpu/message", opt_ms(j.server_cpu_per_message_ms)));
            rows.push(("server processes", server.processes.to_string()));
        }
        if self.duration_limit_hit {
            rows.push(("stopped", "duration limit reached".into()));
        }
        for line in &self.rejections {
            rows.push(("rejection", line.clone()));
        }
        for line in &self.errors {
            rows.push(("error", line.clone()));
        }
        let mut out = aligned(&rows, "");
        out.push_str(&result_line(&j));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SmtpBenchReport {
        SmtpBenchReport {
            target: "127.0.0.1:25".into(),
            connections: 2,
            messages_requested: 4,
            attempted: 4,
            accepted: 3,
            rejected: 1,
            failed: 0,
            size: 4096,
            tls: TlsMode::StartTls,
            pipelining: true,
            reconnects: 0,
            duration_limit_hit: false,
            wall: Duration::from_secs(2),
            latency: LatencySummary::from_sorted_us(&[1000, 2000, 3000]),
            client_cpu: Duration::from_millis(40),
            server_cpu: Some(ServerCpu {
                total: Duration::from_millis(80),
                processes: 3,
            }),
            rejections: vec!["451 4.3.0 later".into()],
            errors: Vec::new(),
        }
    }

    #[test]
    fn text_lines_are_aligned_and_end_with_result_json() {
        let text = sample().render();
        let lines: Vec<&str> = text.lines().collect();
        let last = lines.last().expect("lines");
        let json: serde_json::Value =
            serde_json::from_str(last.strip_prefix("RESULT ").expect("RESULT line")).expect("json");
        assert_eq!(json["accepted"], 3);
        assert_eq!(json["messages_per_s"], 1.5);
        assert_eq!(json["latency_p50_ms"], 2.0);
        assert_eq!(json["server_cpu_per_message_ms"], 20.0);
        assert_eq!(json["client_cpu_per_message_ms"], 10.0);
        assert_eq!(json["tls"], "starttls");
        let value_column = |l: &str| {
            l.find(": ")
                .map(|i| i + 2 + l[i + 2..].len() - l[i + 2..].trim_start().len())
        };
        let columns: Vec<_> = lines[..lines.len() - 1]
            .iter()
            .map(|l| value_column(l))
            .collect();
        assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
        assert!(text.contains("messages/s:"));
        assert!(text.contains("latency p99:"));
        assert!(text.contains("rejection:"));
        assert!(text.contains("451 4.3.0 later"));
    }

    #[test]
    fn no_latency_without_accepted_messages() {
        let mut r = sample();
        r.latency = LatencySummary::from_sorted_us(&[]);
        r.server_cpu = None;
        let text = r.render();
        assert!(text.contains("n/a"));
        assert!(!text.contains("server cpu"));
        assert!(text.contains("\"server_cpu_s\":null"));
    }
}
