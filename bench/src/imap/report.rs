//! What an IMAP bench run measured, and its two renderings: aligned
//! `key: value` lines and tables for people, one final `RESULT {json}` line
//! for scripts.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::report::{LatencySummary, ServerCpu};

/// Distinct error lines kept, per command and for connections.
const MAX_LINES: usize = 5;

/// Keeps the first few distinct lines.
pub fn note(lines: &mut Vec<String>, line: String) {
    if lines.len() < MAX_LINES && !lines.contains(&line) {
        lines.push(line);
    }
}

/// The commands the load counts, each under its own name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Login,
    /// A LOGIN by a client that logged in before (stress mix).
    LoginReturning,
    List,
    Status,
    Select,
    FetchHeaders,
    FetchBody,
    Store,
    Append,
    Expunge,
    SearchUnseen,
    SearchSubject,
    Noop,
    Idle,
    /// imaptest's FETCH of random messages and items (stress mix).
    FetchRandom,
    /// imaptest's FETCH2: one body part of one message (stress mix).
    FetchPart,
    /// imaptest's DELETE: STORE +FLAGS \Deleted (stress mix).
    StoreDeleted,
    Logout,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Login => "LOGIN",
            Op::LoginReturning => "LOGIN (returning client)",
            Op::List => "LIST",
            Op::Status => "STATUS",
            Op::Select => "SELECT",
            Op::FetchHeaders => "FETCH 1:20 (FLAGS UID RFC822.SIZE ENVELOPE)",
            Op::FetchBody => "FETCH n BODY.PEEK[]",
            Op::Store => "STORE",
            Op::Append => "APPEND",
            Op::Expunge => "EXPUNGE",
            Op::SearchUnseen => "UID SEARCH UNSEEN",
            Op::SearchSubject => "SEARCH SUBJECT x",
            Op::Noop => "NOOP",
            Op::Idle => "IDLE",
            Op::FetchRandom => "FETCH random set (random items)",
            Op::FetchPart => "FETCH n (UID body part)",
            Op::StoreDeleted => "STORE +FLAGS \\Deleted",
            Op::Logout => "LOGOUT",
        }
    }
}

/// Counts and latencies of one command.
#[derive(Debug, Clone, Default)]
pub struct CommandStats {
    pub ok: u64,
    pub no: u64,
    pub bad: u64,
    /// Of OK responses, in microseconds.
    pub latencies_us: Vec<u64>,
    /// First distinct NO/BAD lines.
    pub first_lines: Vec<String>,
}

/// Per-command statistics.
#[derive(Debug, Clone, Default)]
pub struct OpStats(pub BTreeMap<Op, CommandStats>);

impl OpStats {
    pub fn get_mut(&mut self, op: Op) -> &mut CommandStats {
        self.0.entry(op).or_default()
    }

    pub fn merge(&mut self, other: OpStats) {
        for (op, s) in other.0 {
            let mine = self.get_mut(op);
            mine.ok += s.ok;
            mine.no += s.no;
            mine.bad += s.bad;
            mine.latencies_us.extend(s.latencies_us);
            for line in s.first_lines {
                note(&mut mine.first_lines, line);
            }
        }
    }

    pub fn ok(&self) -> u64 {
        self.0.values().map(|s| s.ok).sum()
    }

    pub fn errors(&self) -> u64 {
        self.0.values().map(|s| s.no + s.bad).sum()
    }
}

/// Filling the mailboxes before the run (`--prepare`).
#[derive(Debug, Clone, Serialize)]
pub struct PrepareReport {
    pub messages_appended: u64,
    pub errors: u64,
    pub connections: usize,
    pub multiappend: bool,
    pub seconds: f64,
    pub messages_per_s: f64,
}

/// Timings of one big-folder command over the probe rounds (`--probe`).
#[derive(Debug, Clone, Serialize)]
pub struct ProbeCommand {
    pub command: String,
    pub ok: u32,
    pub min_ms: f64,
    pub median_ms: f64,
    pub max_ms: f64,
    /// Untagged responses of the last round (FETCH lines), or SEARCH results.
    pub responses: u64,
    pub first_error: Option<String>,
}

/// `--idle-clients`: connections held in IDLE and the server's memory.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub requested: usize,
    pub idling: usize,
    pub failed: usize,
    pub setup_seconds: f64,
    /// Sum of VmRSS over the measured server processes.
    pub server_rss_before_kb: Option<u64>,
    pub server_rss_idling_kb: Option<u64>,
    pub server_rss_end_kb: Option<u64>,
    pub kb_per_connection: Option<f64>,
    /// Untagged updates the idling connections received.
    pub updates_received: u64,
    pub closed_cleanly: usize,
    pub errors: Vec<String>,
}

/// Everything a run measured.
#[derive(Debug, Clone, Default)]
pub struct ImapBenchReport {
    pub target: String,
    pub tls: &'static str,
    /// The command mix: "mixed" or "stress".
    pub mix: &'static str,
    pub clients: usize,
    pub accounts: usize,
    pub seconds: u64,
    pub mailbox: String,
    pub prepare: Option<PrepareReport>,
    pub probe: Vec<ProbeCommand>,
    pub fetch_all: Option<super::bigfetch::FetchAllReport>,
    pub idle: Option<IdleReport>,
    pub wall: Duration,
    pub ops: OpStats,
    pub connection_errors: u64,
    pub errors: Vec<String>,
    /// Server responses that broke a rule the client checks, and the first few.
    pub protocol_errors: u64,
    pub protocol_notes: Vec<String>,
    pub client_cpu: Duration,
    pub server_cpu: Option<ServerCpu>,
    /// The server's resident memory (sum of VmRSS) at the end of the load, and the most
    /// seen by sampling it twice a second during the load.
    pub server_rss_end_kb: Option<u64>,
    pub server_rss_peak_kb: Option<u64>,
}

#[derive(Serialize)]
struct JsonCommand<'a> {
    command: &'a str,
    ok: u64,
    no: u64,
    bad: u64,
    per_s: f64,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    errors: &'a [String],
}

#[derive(Serialize)]
struct Json<'a> {
    target: &'a str,
    tls: &'a str,
    mix: &'a str,
    clients: usize,
    accounts: usize,
    mailbox: &'a str,
    seconds: u64,
    wall_s: f64,
    operations: u64,
    operations_per_s: f64,
    errors_no_bad: u64,
    connection_errors: u64,
    protocol_errors: u64,
    protocol_error_lines: &'a [String],
    commands: Vec<JsonCommand<'a>>,
    client_cpu_s: f64,
    server_cpu_s: Option<f64>,
    server_cpu_per_op_ms: Option<f64>,
    server_processes: Option<usize>,
    server_rss_end_kb: Option<u64>,
    server_rss_peak_kb: Option<u64>,
    prepare: Option<&'a PrepareReport>,
    probe: &'a [ProbeCommand],
    fetch_all: Option<&'a super::bigfetch::FetchAllReport>,
    idle: Option<&'a IdleReport>,
    errors: &'a [String],
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl ImapBenchReport {
    pub fn ops_per_sec(&self) -> f64 {
        per_sec(self.ops.ok(), self.wall)
    }

    fn json(&self) -> Json<'_> {
        let ops = self.ops.ok();
        let commands = self
            .ops
            .0
            .iter()
            .map(|(op, s)| {
                let mut sorted = s.latencies_us.clone();
                sorted.sort_unstable();
                let l = LatencySummary::from_sorted_us(&sorted);
                JsonCommand {
                    command: op.name(),
                    ok: s.ok,
                    no: s.no,
                    bad: s.bad,
                    per_s: per_sec(s.ok, self.wall),
                    p50_ms: l.p50.map(ms),
                    p90_ms: l.p90.map(ms),
                    p99_ms: l.p99.map(ms),
                    max_ms: l.max.map(ms),
                    errors: &s.first_lines,
                }
            })
            .collect();
        Json {
            target: &self.target,
            tls: self.tls,
            mix: self.mix,
            clients: self.clients,
            accounts: self.accounts,
            mailbox: &self.mailbox,
            seconds: self.seconds,
            wall_s: self.wall.as_secs_f64(),
            operations: ops,
            operations_per_s: self.ops_per_sec(),
            errors_no_bad: self.ops.errors(),
            connection_errors: self.connection_errors,
            protocol_errors: self.protocol_errors,
            protocol_error_lines: &self.protocol_notes,
            commands,
            client_cpu_s: self.client_cpu.as_secs_f64(),
            server_cpu_s: self.server_cpu.map(|s| s.total.as_secs_f64()),
            server_cpu_per_op_ms: self
                .server_cpu
                .and_then(|s| (ops > 0).then(|| ms(s.total) / ops as f64)),
            server_processes: self.server_cpu.map(|s| s.processes),
            server_rss_end_kb: self.server_rss_end_kb,
            server_rss_peak_kb: self.server_rss_peak_kb,
            prepare: self.prepare.as_ref(),
            probe: &self.probe,
            fetch_all: self.fetch_all.as_ref(),
            idle: self.idle.as_ref(),
            errors: &self.errors,
        }
    }

    /// The report as printed by `ferrymail bench imap`.
    pub fn render(&self) -> String {
        let j = self.json();
        let mut out = String::new();
        let mut rows: Vec<(&str, String)> = vec![
            ("target", self.target.clone()),
            ("tls", self.tls.into()),
            ("mix", self.mix.into()),
            ("mailbox", self.mailbox.clone()),
            ("accounts", self.accounts.to_string()),
        ];
        if let Some(p) = &self.prepare {
            rows.push((
                "prepare",
                format!(
                    "{} messages appended in {:.2} s ({:.0}/s) over {} connections{}, {} errors",
                    p.messages_appended,
                    p.seconds,
                    p.messages_per_s,
                    p.connections,
                    if p.multiappend {
                        " with MULTIAPPEND"
                    } else {
                        ""
                    },
                    p.errors
                ),
            ));
        }
        for p in &self.probe {
            rows.push((
                "probe",
                format!(
                    "{}: min {:.1} ms, median {:.1} ms, max {:.1} ms ({} ok, {} responses){}",
                    p.command,
                    p.min_ms,
                    p.median_ms,
                    p.max_ms,
                    p.ok,
                    p.responses,
                    p.first_error
                        .as_ref()
                        .map_or(String::new(), |e| format!(", error: {e}"))
                ),
            ));
        }
        if let Some(f) = &self.fetch_all {
            rows.extend(f.rows());
        }
        if let Some(i) = &self.idle {
            let kb = |v: Option<u64>| v.map_or("n/a".into(), |v| format!("{v} KB"));
            rows.push((
                "idle connections",
                format!(
                    "{} idling of {} ({} failed), set up in {:.1} s, {} closed cleanly",
                    i.idling, i.requested, i.failed, i.setup_seconds, i.closed_cleanly
                ),
            ));
            rows.push((
                "server rss",
                format!(
                    "before {}, all idling {}, at the end {}",
                    kb(i.server_rss_before_kb),
                    kb(i.server_rss_idling_kb),
                    kb(i.server_rss_end_kb)
                ),
            ));
            rows.push((
                "KB per idle connection",
                i.kb_per_connection
                    .map_or("n/a".into(), |v| format!("{v:.1}")),
            ));
            for e in &i.errors {
                rows.push(("idle error", e.clone()));
            }
        }
        if self.clients > 0 && self.seconds > 0 {
            rows.push(("clients", self.clients.to_string()));
            rows.push(("wall time", format!("{:.3} s", j.wall_s)));
            rows.push(("operations", j.operations.to_string()));
            rows.push(("operations/s", format!("{:.1}", j.operations_per_s)));
            rows.push(("errors (NO/BAD)", j.errors_no_bad.to_string()));
            rows.push(("connection errors", j.connection_errors.to_string()));
            rows.push(("protocol errors", j.protocol_errors.to_string()));
            for n in &self.protocol_notes {
                rows.push(("protocol error", n.clone()));
            }
            for op in [Op::Login, Op::LoginReturning] {
                if let Some(c) = j.commands.iter().find(|c| c.command == op.name()) {
                    let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2} ms"));
                    rows.push((
                        op.name(),
                        format!("p50 {}, p99 {} ({} ok)", ms(c.p50_ms), ms(c.p99_ms), c.ok),
                    ));
                }
            }
        }
        rows.push(("client cpu", format!("{:.3} s", j.client_cpu_s)));
        if let Some(server) = self.server_cpu {
            rows.push((
                "server cpu",
                format!("{:.3} s", j.server_cpu_s.unwrap_or(0.0)),
            ));
            rows.push((
                "server cpu/op",
                j.server_cpu_per_op_ms
                    .map_or("n/a".into(), |v| format!("{v:.3} ms")),
            ));
            rows.push(("server processes", server.processes.to_string()));
        }
        if let Some(end) = self.server_rss_end_kb {
            let peak = self
                .server_rss_peak_kb
                .map_or(String::new(), |p| format!(", peak {p} KB"));
            rows.push(("server rss (load)", format!("{end} KB at the end{peak}")));
        }
        for e in &self.errors {
            rows.push(("error", e.clone()));
        }
        out.push_str(&crate::report::aligned(&rows, ""));
        if !j.commands.is_empty() {
            out.push_str(&command_table(&j.commands));
        }
        out.push_str(&crate::report::result_line(&j));
        out
    }
}

fn per_sec(n: u64, wall: Duration) -> f64 {
    let secs = wall.as_secs_f64();
    if secs > 0.0 {
        n as f64 / secs
    } else {
        0.0
    }
}

/// One line per command: counts, rate and latency percentiles, then errors.
fn command_table(commands: &[JsonCommand<'_>]) -> String {
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let width = commands
        .iter()
        .map(|c| c.command.len())
        .max()
        .unwrap_or(0)
        .max(7);
    let mut out = format!(
        "{:<width$} {:>8} {:>5} {:>5} {:>9} {:>8} {:>8} {:>8} {:>8}\n",
        "command", "ok", "no", "bad", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    for c in commands {
        out.push_str(&format!(
            "{:<width$} {:>8} {:>5} {:>5} {:>9.1} {:>8} {:>8} {:>8} {:>8}\n",
            c.command,
            c.ok,
            c.no,
            c.bad,
            c.per_s,
            opt(c.p50_ms),
            opt(c.p90_ms),
            opt(c.p99_ms),
            opt(c.max_ms)
        ));
        for e in c.errors {
            out.push_str(&format!("  {}: {e}\n", c.command));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_table_and_result_json() {
        let mut ops = OpStats::default();
        let s = ops.get_mut(Op::Noop);
        s.ok = 4;
        s.latencies_us = vec![1000, 2000, 3000, 4000];
        let s = ops.get_mut(Op::Append);
        s.ok = 1;
        s.no = 1;
        s.latencies_us = vec![5000];
        s.first_lines = vec!["NO [OVERQUOTA] full".into()];
        let report = ImapBenchReport {
            target: "127.0.0.1:143".into(),
            tls: "none",
            clients: 2,
            accounts: 1,
            seconds: 2,
            mailbox: "INBOX".into(),
            wall: Duration::from_secs(2),
            ops,
            server_cpu: Some(ServerCpu {
                total: Duration::from_millis(50),
                processes: 1,
            }),
            ..ImapBenchReport::default()
        };
        let text = report.render();
        assert!(text.contains("operations/s:"), "{text}");
        assert!(text.contains("NOOP"), "{text}");
        assert!(text.contains("APPEND: NO [OVERQUOTA] full"), "{text}");
        let last = text.lines().last().expect("lines");
        let json: serde_json::Value =
            serde_json::from_str(last.strip_prefix("RESULT ").expect("RESULT")).expect("json");
        assert_eq!(json["operations"], 5);
        assert_eq!(json["operations_per_s"], 2.5);
        assert_eq!(json["errors_no_bad"], 1);
        assert_eq!(json["server_cpu_per_op_ms"], 10.0);
        let noop = &json["commands"].as_array().expect("commands")[1];
        assert_eq!(noop["command"], "NOOP");
        assert_eq!(noop["p50_ms"], 2.0);
        assert_eq!(noop["max_ms"], 4.0);
    }
}
