//! `ferrymail bench pop3`: POP3 sessions against any server, ours or Dovecot.
//!
//! C clients each run S sessions one after the other: connect (STLS or implicit TLS when
//! asked), USER/PASS, LIST, RETR of the first N messages, QUIT. Nothing is deleted, so the
//! mailboxes stay as they are and runs can be repeated. Fill them first, e.g. with
//! `ferrymail bench imap --prepare N`. Each client takes the next account of `--users`
//! round robin: a server with one-session-per-maildrop locks (ours) answers a second
//! concurrent login to the same account with `-ERR [IN-USE]`, counted apart.
//!
//! The report gives sessions and messages per second, octets retrieved, latency per
//! command, this process's CPU and, with `--server-pid`/`--server-pids-from-cmd`, the
//! server's CPU per session and per RETR.
//!
//! Modules: [`client`] speaks POP3; options, the load and the report are here.

pub mod client;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

use self::client::Pop3Client;
use super::client::{ConnError, Endpoint};
use super::imap::options::accounts;
use super::imap::report::note;
use super::options::{comm, number, parse_target, tls_option, Credentials, OptionArgs, TlsMode};
use super::report::{LatencySummary, ServerCpu};
use super::stats::{self_cpu_time, ServerProcs};

/// Usage text shown for `--help` and after every usage error.
pub const USAGE: &str = "\
usage: ferrymail bench pop3 --target HOST:PORT (--user U --password P | --users FILE) [options]

  --target HOST:PORT          POP3 server to load (required)
  --user U --password P       one account for every client
  --users FILE                accounts, one `user:password` a line; clients take them round robin
  --clients C                 concurrent connections (default 4)
  --sessions S                sessions each client runs, one after the other (default 10)
  --messages N                messages each session retrieves with RETR (default 10)
  --tls                       implicit TLS (accepts ANY certificate: bench only)
  --starttls                  upgrade with STLS (accepts ANY certificate: bench only)
  --server-pid PID            measure CPU of PID and its descendants (repeatable)
  --server-pids-from-cmd NAME measure every process named NAME (repeatable)
  --timeout SECS              timeout per command (default 30)
";

const MAX_CLIENTS: u64 = 10_000;
const MAX_SESSIONS: u64 = 1_000_000;
const MAX_MESSAGES: u64 = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Pop3BenchOptions {
    pub target: String,
    /// Never empty once parsed: client `i` uses `accounts[i % len]`.
    pub accounts: Vec<Credentials>,
    pub clients: usize,
    pub sessions: u64,
    pub messages: u64,
    pub tls: TlsMode,
    pub server_pids: Vec<u32>,
    pub server_comms: Vec<String>,
    pub timeout: Duration,
}

impl Default for Pop3BenchOptions {
    fn default() -> Self {
        Pop3BenchOptions {
            target: String::new(),
            accounts: Vec::new(),
            clients: 4,
            sessions: 10,
            messages: 10,
            tls: TlsMode::None,
            server_pids: Vec::new(),
            server_comms: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What `parse_pop3_args` found.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<Pop3BenchOptions>),
    Help,
}

/// Parses the arguments after `bench pop3`. Errors name the offending option.
pub fn parse_pop3_args(args: &[String]) -> Result<Parsed, String> {
    let mut o = Pop3BenchOptions::default();
    let (mut target, mut user, mut password, mut users_file) = (None, None, None, None);
    let mut args = OptionArgs::new(args);
    while let Some((name, inline)) = args.next_option() {
        if name == "--help" || name == "-h" {
            return Ok(Parsed::Help);
        }
        if tls_option(name, &inline, &mut o.tls)? {
            continue;
        }
        let value = args.value(name, inline)?;
        match name {
            "--target" => target = Some(parse_target(&value)?),
            "--user" => user = Some(value),
            "--password" => password = Some(value),
            "--users" => users_file = Some(value),
            "--clients" => o.clients = number(name, &value, 1, MAX_CLIENTS)? as usize,
            "--sessions" => o.sessions = number(name, &value, 1, MAX_SESSIONS)?,
            "--messages" => o.messages = number(name, &value, 0, MAX_MESSAGES)?,
            "--server-pid" => o
                .server_pids
                .push(number(name, &value, 1, u32::MAX as u64)? as u32),
            "--server-pids-from-cmd" => o.server_comms.push(comm(&value)?),
            "--timeout" => o.timeout = Duration::from_secs(number(name, &value, 1, 3600)?),
            _ => return Err(format!("unknown option {name}")),
        }
    }
    o.target = target.ok_or("--target HOST:PORT is required")?;
    o.accounts = accounts(user, password, users_file)?;
    Ok(Parsed::Run(Box::new(o)))
}

/// Entry point for `ferrymail bench pop3 ARGS...`.
pub fn run(args: &[String]) -> Result<String, String> {
    let opts = match parse_pop3_args(args).map_err(|e| format!("{e}\n\n{USAGE}"))? {
        Parsed::Help => return Ok(USAGE.to_string()),
        Parsed::Run(o) => *o,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting runtime: {e}"))?;
    Ok(runtime.block_on(pop3_load(opts))?.render())
}

/// The steps of a session, each timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    /// TCP, TLS and the greeting (and STLS).
    Connect,
    /// USER + PASS.
    Login,
    List,
    Retr,
    Quit,
}

impl Op {
    pub fn name(self) -> &'static str {
        match self {
            Op::Connect => "connect",
            Op::Login => "USER+PASS",
            Op::List => "LIST",
            Op::Retr => "RETR",
            Op::Quit => "QUIT",
        }
    }
}

/// Counts and latencies of one step.
#[derive(Debug, Clone, Default)]
pub struct StepStats {
    pub ok: u64,
    pub err: u64,
    pub latencies_us: Vec<u64>,
    pub first_errors: Vec<String>,
}

/// What one client (or all of them) counted.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub steps: BTreeMap<Op, StepStats>,
    pub sessions_ok: u64,
    pub sessions_failed: u64,
    /// Logins answered -ERR [IN-USE].
    pub in_use: u64,
    pub octets: u64,
    pub connection_errors: u64,
    pub errors: Vec<String>,
}

impl Counts {
    fn step(&mut self, op: Op) -> &mut StepStats {
        self.steps.entry(op).or_default()
    }

    fn timed(&mut self, op: Op, since: Instant, ok: bool, line: &str) {
        let s = self.step(op);
        if ok {
            s.ok += 1;
            s.latencies_us.push(since.elapsed().as_micros() as u64);
        } else {
            s.err += 1;
            note(&mut s.first_errors, line.to_string());
        }
    }

    fn merge(&mut self, other: Counts) {
        for (op, s) in other.steps {
            let mine = self.step(op);
            mine.ok += s.ok;
            mine.err += s.err;
            mine.latencies_us.extend(s.latencies_us);
            for l in s.first_errors {
                note(&mut mine.first_errors, l);
            }
        }
        self.sessions_ok += other.sessions_ok;
        self.sessions_failed += other.sessions_failed;
        self.in_use += other.in_use;
        self.octets += other.octets;
        self.connection_errors += other.connection_errors;
        for e in other.errors {
            note(&mut self.errors, e);
        }
    }

    pub fn retrieved(&self) -> u64 {
        self.steps.get(&Op::Retr).map_or(0, |s| s.ok)
    }
}

struct Shared {
    endpoint: Endpoint,
    accounts: Vec<Credentials>,
    sessions: u64,
    messages: u64,
}

/// Runs the load on the current tokio runtime. Errors only when the run cannot start.
pub async fn pop3_load(opts: Pop3BenchOptions) -> Result<Pop3BenchReport, String> {
    let shared = Arc::new(Shared {
        endpoint: Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?,
        accounts: opts.accounts.clone(),
        sessions: opts.sessions,
        messages: opts.messages,
    });
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: opts.server_comms.clone(),
    };
    let server_before = (!procs.is_empty()).then(|| procs.snapshot());
    let cpu_before = self_cpu_time();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for id in 0..opts.clients {
        tasks.spawn(client(id, shared.clone()));
    }
    let mut counts = Counts::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(c) => counts.merge(c),
            Err(e) => note(&mut counts.errors, format!("client task ended: {e}")),
        }
    }
    let wall = started.elapsed();
    Ok(Pop3BenchReport {
        target: opts.target,
        tls: opts.tls.as_str(),
        clients: opts.clients,
        accounts: opts.accounts.len(),
        sessions_requested: opts.sessions.saturating_mul(opts.clients as u64),
        messages_per_session: opts.messages,
        wall,
        client_cpu: self_cpu_time().saturating_sub(cpu_before),
        server_cpu: server_before.map(|before| procs.cpu_since(&before)),
        counts,
    })
}

/// One client: `sessions` sessions one after the other.
async fn client(id: usize, shared: Arc<Shared>) -> Counts {
    let mut counts = Counts::default();
    let account = &shared.accounts[id % shared.accounts.len()];
    for _ in 0..shared.sessions {
        match session(&shared, account, &mut counts).await {
            Ok(true) => counts.sessions_ok += 1,
            Ok(false) => counts.sessions_failed += 1,
            Err(e) => {
                counts.sessions_failed += 1;
                counts.connection_errors += 1;
                note(&mut counts.errors, e.to_string());
            }
        }
    }
    counts
}

/// One session; `Ok(false)` when the server refused a step.
async fn session(
    shared: &Shared,
    account: &Credentials,
    counts: &mut Counts,
) -> Result<bool, ConnError> {
    let t = Instant::now();
    let mut c = Pop3Client::connect(&shared.endpoint).await?;
    counts.timed(Op::Connect, t, true, "");
    let t = Instant::now();
    let r = c.login(account).await?;
    counts.timed(Op::Login, t, r.ok, &r.line);
    if !r.ok {
        if r.line.contains("[IN-USE]") {
            counts.in_use += 1;
        }
        c.quit().await?;
        return Ok(false);
    }
    let t = Instant::now();
    let (r, lines, _) = c.multi("LIST").await?;
    counts.timed(Op::List, t, r.ok, &r.line);
    let numbers: Vec<u64> = lines
        .iter()
        .filter_map(|l| std::str::from_utf8(l).ok()?.split(' ').next()?.parse().ok())
        .collect();
    let mut all_ok = r.ok;
    for n in numbers.into_iter().take(shared.messages as usize) {
        let t = Instant::now();
        let (r, _, octets) = c.multi(&format!("RETR {n}")).await?;
        counts.timed(Op::Retr, t, r.ok, &r.line);
        counts.octets += octets;
        all_ok &= r.ok;
    }
    let t = Instant::now();
    let r = c.quit().await?;
    counts.timed(Op::Quit, t, r.ok, &r.line);
    Ok(all_ok && r.ok)
}

/// Everything a run measured.
#[derive(Debug, Clone)]
pub struct Pop3BenchReport {
    pub target: String,
    pub tls: &'static str,
    pub clients: usize,
    pub accounts: usize,
    pub sessions_requested: u64,
    pub messages_per_session: u64,
    pub wall: Duration,
    pub client_cpu: Duration,
    pub server_cpu: Option<ServerCpu>,
    pub counts: Counts,
}

#[derive(Serialize)]
struct JsonStep {
    command: &'static str,
    ok: u64,
    err: u64,
    p50_ms: Option<f64>,
    p90_ms: Option<f64>,
    p99_ms: Option<f64>,
    max_ms: Option<f64>,
    errors: Vec<String>,
}

#[derive(Serialize)]
struct Json<'a> {
    target: &'a str,
    tls: &'a str,
    clients: usize,
    accounts: usize,
    sessions_requested: u64,
    messages_per_session: u64,
    sessions_ok: u64,
    sessions_failed: u64,
    in_use: u64,
    messages_retrieved: u64,
    octets: u64,
    wall_s: f64,
    sessions_per_s: f64,
    messages_per_s: f64,
    mb_per_s: f64,
    connection_errors: u64,
    steps: Vec<JsonStep>,
    client_cpu_s: f64,
    server_cpu_s: Option<f64>,
    server_cpu_per_session_ms: Option<f64>,
    server_cpu_per_retr_ms: Option<f64>,
    server_processes: Option<usize>,
    errors: &'a [String],
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn per_sec(n: u64, wall: Duration) -> f64 {
    let s = wall.as_secs_f64();
    if s > 0.0 {
        n as f64 / s
    } else {
        0.0
    }
}

impl Pop3BenchReport {
    fn json(&self) -> Json<'_> {
        let c = &self.counts;
        let per = |n: u64| {
            self.server_cpu
                .and_then(|s| (n > 0).then(|| ms(s.total) / n as f64))
        };
        let steps = c
            .steps
            .iter()
            .map(|(op, s)| {
                let mut sorted = s.latencies_us.clone();
                sorted.sort_unstable();
                let l = LatencySummary::from_sorted_us(&sorted);
                JsonStep {
                    command: op.name(),
                    ok: s.ok,
                    err: s.err,
                    p50_ms: l.p50.map(ms),
                    p90_ms: l.p90.map(ms),
                    p99_ms: l.p99.map(ms),
                    max_ms: l.max.map(ms),
                    errors: s.first_errors.clone(),
                }
            })
            .collect();
        Json {
            target: &self.target,
            tls: self.tls,
            clients: self.clients,
            accounts: self.accounts,
            sessions_requested: self.sessions_requested,
            messages_per_session: self.messages_per_session,
            sessions_ok: c.sessions_ok,
            sessions_failed: c.sessions_failed,
            in_use: c.in_use,
            messages_retrieved: c.retrieved(),
            octets: c.octets,
            wall_s: self.wall.as_secs_f64(),
            sessions_per_s: per_sec(c.sessions_ok, self.wall),
            messages_per_s: per_sec(c.retrieved(), self.wall),
            mb_per_s: per_sec(c.octets, self.wall) / 1e6,
            connection_errors: c.connection_errors,
            steps,
            client_cpu_s: self.client_cpu.as_secs_f64(),
            server_cpu_s: self.server_cpu.map(|s| s.total.as_secs_f64()),
            server_cpu_per_session_ms: per(c.sessions_ok),
            server_cpu_per_retr_ms: per(c.retrieved()),
            server_processes: self.server_cpu.map(|s| s.processes),
            errors: &c.errors,
        }
    }

    /// The report as printed by `ferrymail bench pop3`: aligned lines, a table per
    /// command, and one final `RESULT {json}` line.
    pub fn render(&self) -> String {
        let j = self.json();
        let opt_ms = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.3} ms"));
        let rows: Vec<(&str, String)> = vec![
            ("target", j.target.to_string()),
            ("tls", j.tls.to_string()),
            (
                "clients",
                format!("{} ({} accounts)", j.clients, j.accounts),
            ),
            (
                "sessions",
                format!(
                    "{} ok, {} failed ({} in use) of {}",
                    j.sessions_ok, j.sessions_failed, j.in_use, j.sessions_requested
                ),
            ),
            (
                "messages retrieved",
                format!("{} ({} octets)", j.messages_retrieved, j.octets),
            ),
            ("wall", format!("{:.3} s", j.wall_s)),
            (
                "throughput",
                format!(
                    "{:.1} sessions/s, {:.1} messages/s, {:.2} MB/s",
                    j.sessions_per_s, j.messages_per_s, j.mb_per_s
                ),
            ),
            ("connection errors", j.connection_errors.to_string()),
            ("client cpu", format!("{:.3} s", j.client_cpu_s)),
            (
                "server cpu",
                j.server_cpu_s.map_or("n/a (no --server-pid)".into(), |s| {
                    format!(
                        "{s:.3} s over {} processes",
                        j.server_processes.unwrap_or(0)
                    )
                }),
            ),
            (
                "server cpu per session",
                opt_ms(j.server_cpu_per_session_ms),
            ),
            ("server cpu per RETR", opt_ms(j.server_cpu_per_retr_ms)),
        ];
        let mut out = String::new();
        for (k, v) in rows {
            out.push_str(&format!("{:<24}{v}\n", format!("{k}:")));
        }
        out.push_str(&format!(
            "\n{:<12}{:>9}{:>7}{:>11}{:>11}{:>11}{:>11}\n",
            "command", "ok", "err", "p50 ms", "p90 ms", "p99 ms", "max ms"
        ));
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
        for s in &j.steps {
            out.push_str(&format!(
                "{:<12}{:>9}{:>7}{:>11}{:>11}{:>11}{:>11}\n",
                s.command,
                s.ok,
                s.err,
                cell(s.p50_ms),
                cell(s.p90_ms),
                cell(s.p99_ms),
                cell(s.max_ms)
            ));
            for e in &s.errors {
                out.push_str(&format!("  {} error: {e}\n", s.command));
            }
        }
        for e in j.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        let json = serde_json::to_string(&j).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
        out.push_str(&format!("RESULT {json}\n"));
        out
    }
}
