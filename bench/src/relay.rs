//! `ferrymail bench relay`: relaying throughput, from submission to a sink through the
//! server's remote queue.
//!
//! The tool listens with its own SMTP sink ([`super::sink`]) on `--sink ADDR`, then runs the
//! same load as `bench smtp` against the server (which must relay every recipient to the
//! sink: a smarthost or relayhost pointing at it) and waits until the sink has every
//! accepted message. Figures: the submission phase as in `bench smtp`, and end to end, from
//! the first connection to the arrival of the last message at the sink; the server's CPU
//! is measured over the same span. Messages are told apart by the run's Message-IDs, so a
//! message left in a server's queue by an earlier run does not count.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::load::smtp_load_run;
use super::message::run_marker;
use super::options::{number, parse_smtp_args, Parsed, SmtpBenchOptions};
use super::report::{aligned, result_line, SmtpBenchReport};
use super::sink;
use super::stats::{self_cpu_time, ServerProcs};

pub const USAGE: &str = "\
usage: ferrymail bench relay --target HOST:PORT --to ADDR [options]

Submits N messages to the server under test (as bench smtp does) and measures until an SMTP
sink started by this tool has received them all: the server must relay --to addresses to the
sink (smarthost/relayhost = the --sink address).

  --sink IP:PORT              where the sink listens (default 127.0.0.1:2527)
  --drain-timeout SECS        give up waiting for the sink after SECS (default 600)
  every option of bench smtp  (--connections, --messages, --size, --auth, --server-pid, ...)
";

/// `bench relay`'s own options; the rest are `bench smtp`'s.
#[derive(Debug, Clone, PartialEq)]
pub struct RelayOptions {
    pub sink: String,
    pub drain_timeout: Duration,
    pub load: SmtpBenchOptions,
}

/// Parses the arguments after `bench relay`; `None`: help was asked for.
pub fn parse_relay_args(args: &[String]) -> Result<Option<RelayOptions>, String> {
    let mut sink = "127.0.0.1:2527".to_string();
    let mut drain = Duration::from_secs(600);
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let (name, inline) = match args[i].split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (args[i].clone(), None),
        };
        i += 1;
        if name != "--sink" && name != "--drain-timeout" {
            rest.push(args[i - 1].clone());
            continue;
        }
        let value = match inline {
            Some(v) => v,
            None => {
                i += 1;
                args.get(i - 1)
                    .cloned()
                    .ok_or_else(|| format!("{name} needs a value"))?
            }
        };
        if name == "--sink" {
            value
                .parse::<std::net::SocketAddr>()
                .map_err(|_| format!("--sink: expected IP:PORT, got {value:?}"))?;
            sink = value;
        } else {
            drain = Duration::from_secs(number(&name, &value, 1, 7 * 24 * 3600)?);
        }
    }
    match parse_smtp_args(&rest)? {
        Parsed::Help => Ok(None),
        Parsed::Run(load) => Ok(Some(RelayOptions {
            sink,
            drain_timeout: drain,
            load: *load,
        })),
    }
}

/// Everything a relay run measured.
#[derive(Debug, Clone)]
pub struct RelayReport {
    pub submission: SmtpBenchReport,
    pub sink: String,
    /// Distinct messages of this run at the sink.
    pub arrived: u64,
    pub duplicates: u64,
    pub other: u64,
    pub bytes: u64,
    pub sink_connections: u64,
    /// First connection to the last arrival (or to the give-up).
    pub end_to_end: Duration,
    pub drain_timeout_hit: bool,
    pub server_cpu: Option<Duration>,
    pub server_processes: usize,
    /// This process (load and sink) over the whole run.
    pub client_cpu: Duration,
}

#[derive(Serialize)]
struct Json<'a> {
    target: &'a str,
    sink: &'a str,
    connections: usize,
    size: usize,
    submitted: u64,
    rejected: u64,
    failed: u64,
    submission_wall_s: f64,
    submission_messages_per_s: f64,
    arrived: u64,
    duplicates: u64,
    other: u64,
    sink_bytes: u64,
    sink_connections: u64,
    end_to_end_s: f64,
    end_to_end_messages_per_s: f64,
    drain_timeout_hit: bool,
    server_cpu_s: Option<f64>,
    server_cpu_per_message_ms: Option<f64>,
    server_processes: usize,
    client_cpu_s: f64,
}

impl RelayReport {
    fn json(&self) -> Json<'_> {
        let s = &self.submission;
        let secs = self.end_to_end.as_secs_f64();
        Json {
            target: &s.target,
            sink: &self.sink,
            connections: s.connections,
            size: s.size,
            submitted: s.accepted,
            rejected: s.rejected,
            failed: s.failed,
            submission_wall_s: s.wall.as_secs_f64(),
            submission_messages_per_s: s.messages_per_sec(),
            arrived: self.arrived,
            duplicates: self.duplicates,
            other: self.other,
            sink_bytes: self.bytes,
            sink_connections: self.sink_connections,
            end_to_end_s: secs,
            end_to_end_messages_per_s: if secs > 0.0 {
                self.arrived as f64 / secs
            } else {
                0.0
            },
            drain_timeout_hit: self.drain_timeout_hit,
            server_cpu_s: self.server_cpu.map(|d| d.as_secs_f64()),
            server_cpu_per_message_ms: self
                .server_cpu
                .filter(|_| self.arrived > 0)
                .map(|d| d.as_secs_f64() * 1000.0 / self.arrived as f64),
            server_processes: self.server_processes,
            client_cpu_s: self.client_cpu.as_secs_f64(),
        }
    }

    /// The report as printed: the submission phase as `bench smtp` prints it, then the
    /// relay figures and one `RESULT {json}` line for the whole run.
    pub fn render(&self) -> String {
        let j = self.json();
        let mut out = String::from("submission:\n");
        for line in self.submission.render().lines() {
            if !line.starts_with("RESULT ") {
                out.push_str(&format!("  {line}\n"));
            }
        }
        let opt = |v: Option<f64>, unit: &str| v.map_or("n/a".into(), |v| format!("{v:.3}{unit}"));
        let mut rows: Vec<(&str, String)> = vec![
            ("sink", self.sink.clone()),
            ("arrived at sink", self.arrived.to_string()),
            ("duplicates", self.duplicates.to_string()),
            ("other messages", self.other.to_string()),
            ("sink bytes", self.bytes.to_string()),
            ("sink connections", self.sink_connections.to_string()),
            ("end-to-end time", format!("{:.3} s", j.end_to_end_s)),
            (
                "end-to-end messages/s",
                format!("{:.1}", j.end_to_end_messages_per_s),
            ),
            ("server cpu", opt(j.server_cpu_s, " s")),
            (
                "server cpu/message",
                opt(j.server_cpu_per_message_ms, " ms"),
            ),
            ("server processes", self.server_processes.to_string()),
            ("client+sink cpu", format!("{:.3} s", j.client_cpu_s)),
        ];
        if self.drain_timeout_hit {
            rows.push(("stopped", "drain timeout: not every message arrived".into()));
        }
        out.push_str("relay:\n");
        out.push_str(&aligned(&rows, "  "));
        out.push_str(&result_line(&j));
        out
    }
}

/// Runs the relay benchmark on the current tokio runtime.
pub async fn relay_load(opts: RelayOptions) -> Result<RelayReport, String> {
    let listener = tokio::net::TcpListener::bind(&opts.sink)
        .await
        .map_err(|e| format!("sink cannot listen on {}: {e}", opts.sink))?;
    relay_load_on(listener, opts).await
}

/// As [`relay_load`], with the sink on `listener` (bound by the caller, e.g. on port 0
/// before the server under test is configured with its address).
pub async fn relay_load_on(
    listener: tokio::net::TcpListener,
    mut opts: RelayOptions,
) -> Result<RelayReport, String> {
    if let Ok(a) = listener.local_addr() {
        opts.sink = a.to_string();
    }
    let run_id: u64 = rand::random();
    let counts = sink::spawn(listener, run_marker(run_id));
    let procs = ServerProcs {
        pids: opts.load.server_pids.clone(),
        comms: opts.load.server_comms.clone(),
    };
    let load = SmtpBenchOptions {
        server_pids: Vec::new(),
        server_comms: Vec::new(),
        ..opts.load.clone()
    };
    let server_before = (!procs.is_empty()).then(|| procs.snapshot());
    let cpu_before = self_cpu_time();
    let started = Instant::now();
    let submission = smtp_load_run(load, run_id).await?;
    let deadline = Instant::now() + opts.drain_timeout;
    let arrived = || counts.messages.load(Ordering::Relaxed);
    // The end time is the last arrival, not this poll: the poll interval does not count.
    while arrived() < submission.accepted && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain_timeout_hit = arrived() < submission.accepted;
    let end = match counts.last_arrival() {
        Some(t) if !drain_timeout_hit => t,
        _ => Instant::now(),
    };
    let (server_cpu, server_processes) = match server_before {
        Some(before) => {
            let after = procs.snapshot();
            (
                Some(before.elapsed_until(&after)),
                before.processes().max(after.processes()),
            )
        }
        None => (None, 0),
    };
    Ok(RelayReport {
        submission,
        sink: opts.sink,
        arrived: arrived(),
        duplicates: counts.duplicates.load(Ordering::Relaxed),
        other: counts.other.load(Ordering::Relaxed),
        bytes: counts.bytes.load(Ordering::Relaxed),
        sink_connections: counts.connections.load(Ordering::Relaxed),
        end_to_end: end.saturating_duration_since(started),
        drain_timeout_hit,
        server_cpu,
        server_processes,
        client_cpu: self_cpu_time().saturating_sub(cpu_before),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{TestServer, PASSWORD};
    use ferrymail::storage::QueueName;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn relay_options_and_the_load_options_are_parsed() {
        let o = parse_relay_args(&args(
            "--target 127.0.0.1:2587 --sink=127.0.0.1:3000 --messages 10 \
             --drain-timeout 5 --to x@remote.example --server-pid 7",
        ))
        .expect("parsed")
        .expect("not help");
        assert_eq!(o.sink, "127.0.0.1:3000");
        assert_eq!(o.drain_timeout, Duration::from_secs(5));
        assert_eq!(o.load.target, "127.0.0.1:2587");
        assert_eq!(o.load.messages, 10);
        assert_eq!(o.load.to, ["x@remote.example"]);
        assert_eq!(o.load.server_pids, [7]);
        let d = parse_relay_args(&args("--target a:1")).expect("parsed");
        assert_eq!(d.expect("not help").sink, "127.0.0.1:2527");
        assert_eq!(parse_relay_args(&args("--help")), Ok(None));
        assert!(parse_relay_args(&args("--target a:1 --sink nowhere"))
            .unwrap_err()
            .contains("IP:PORT"));
        assert!(parse_relay_args(&args("--target a:1 --drain-timeout"))
            .unwrap_err()
            .contains("needs a value"));
        assert!(parse_relay_args(&args("--sink 127.0.0.1:1"))
            .unwrap_err()
            .contains("--target"));
    }

    /// `ferrymail bench relay` end to end: submissions with AUTH go through the remote queue
    /// to the smarthost, which is the tool's own sink; every message is counted there once.
    #[test]
    fn bench_relay_counts_every_message_at_its_own_sink() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind the sink");
        let sink = listener.local_addr().expect("sink address");
        // Delivery to a smarthost and no mail checks ask no name server; should anything ask,
        // it asks a closed loopback port, never a real one.
        let closed = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port");
        let server = TestServer::start(&format!(
            "[listeners]\nsubmission = \"127.0.0.1:0\"\n[smtp]\nallow_plaintext_auth = true\n\
             [delivery]\nsmarthost = \"{sink}\"\nmax_connections_per_domain = 4\n\
             [auth]\nverify = false\n[dns]\nnameservers = [\"{closed}\"]\n"
        ));
        let mut argv = args(&format!(
            "--target {} --connections 4 --messages 40 --size 2048 --from bob@example.com \
             --to carol@remote.test --drain-timeout 60 --timeout 20",
            server.addr("submission")
        ));
        // The password has a space: one argument, not split.
        argv.extend(["--auth".into(), format!("bob@example.com:{PASSWORD}")]);
        let opts = parse_relay_args(&argv).expect("parsed").expect("not help");
        let report = rt
            .block_on(relay_load_on(listener, opts))
            .expect("run starts");
        let text = report.render();
        assert_eq!(report.submission.accepted, 40, "{text}");
        assert_eq!(report.arrived, 40, "{text}");
        assert_eq!((report.duplicates, report.other), (0, 0), "{text}");
        assert!(!report.drain_timeout_hit, "{text}");
        assert!(report.bytes >= 40 * 2048, "{text}");
        assert!(
            text.contains("end-to-end messages/s:") && text.contains("RESULT {"),
            "{text}"
        );
        // The sink counts a message when its data ends; the server removes the record only
        // after reading the sink's 250, a moment later: wait for that (bounded), then check.
        let store = server.handle().ctx.store.clone();
        let depth = || store.queue_depth(QueueName::Remote).expect("read");
        for _ in 0..1200 {
            if depth() == 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(
            depth(),
            0,
            "records left in the remote queue after every arrival"
        );
    }
}
