//! The load run: C connection tasks share one message counter and send
//! until it reaches N or the duration limit passes.
//!
//! Counting rules, which the report relies on:
//! - accepted: a 2xx reply to the end of DATA;
//! - rejected: a 4xx/5xx reply to MAIL, RCPT, DATA or the end of DATA
//!   (the transaction is then reset with RSET, RFC 5321 §4.1.1.5);
//! - failed: the connection broke after the body was sent (the message may
//!   or may not have been taken, so it is not resent), or a connection task
//!   gave up after `MAX_RETRIES` consecutive connection errors.
//!   A message whose connection broke before the body went out is resent
//!   on a new connection.
//!
//! Latency is measured for accepted messages only, from writing MAIL FROM
//! to reading the reply to the final ".".

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use super::client::{ConnError, ConnectSpec, Endpoint, Reply, SmtpClient};
use super::message::{build_message, dot_stuff_into, unix_now, MessageSpec};
use super::options::SmtpBenchOptions;
use super::report::{LatencySummary, SmtpBenchReport};
use super::stats::{self_cpu_time, ServerProcs};

/// Consecutive connection errors a task tolerates before it gives up.
const MAX_RETRIES: u32 = 3;
/// Distinct error lines kept for the report.
const MAX_ERROR_LINES: usize = 5;
/// 421 (RFC 5321 §3.8): the server is closing the connection.
const REPLY_421_CLOSING: u16 = 421;
/// 354: go ahead with the message body.
const REPLY_354_START_INPUT: u16 = 354;

/// Runs the benchmark described by `opts` on the current tokio runtime.
///
/// Errors only when the run cannot start (target not resolvable, TLS setup);
/// connection and SMTP errors during the run are counted in the report.
pub async fn smtp_load(opts: SmtpBenchOptions) -> Result<SmtpBenchReport, String> {
    smtp_load_run(opts, rand::random()).await
}

/// As [`smtp_load`], with the run's id (in every Message-ID, see [`run_marker`]) chosen by
/// the caller.
pub async fn smtp_load_run(opts: SmtpBenchOptions, run_id: u64) -> Result<SmtpBenchReport, String> {
    let shared = Arc::new(Shared::new(&opts, run_id).await?);
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: opts.server_comms.clone(),
    };
    let server_before = (!procs.is_empty()).then(|| procs.snapshot());
    let cpu_before = self_cpu_time();
    let started = Instant::now();

    let mut tasks = JoinSet::new();
    for id in 0..opts.connections {
        tasks.spawn(worker(id, shared.clone()));
    }
    let mut total = WorkerStats::default();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => total.merge(stats),
            Err(e) => note(&mut total.errors, format!("connection task ended: {e}")),
        }
    }

    let wall = started.elapsed();
    let client_cpu = self_cpu_time().saturating_sub(cpu_before);
    let server_cpu = server_before.map(|before| procs.cpu_since(&before));
    total.latencies_us.sort_unstable();
    Ok(SmtpBenchReport {
        target: opts.target,
        connections: opts.connections,
        messages_requested: opts.messages,
        attempted: total.accepted + total.rejected + total.failed,
        accepted: total.accepted,
        rejected: total.rejected,
        failed: total.failed,
        size: opts.size,
        tls: opts.tls,
        pipelining: total.pipelined,
        reconnects: total.reconnects,
        duration_limit_hit: shared.limit_hit.load(Ordering::Relaxed),
        wall,
        latency: LatencySummary::from_sorted_us(&total.latencies_us),
        client_cpu,
        server_cpu,
        rejections: total.rejections,
        errors: total.errors,
    })
}

/// What all connection tasks share.
struct Shared {
    connect: ConnectSpec,
    from: String,
    to: Vec<String>,
    size: usize,
    total: u64,
    next: AtomicU64,
    deadline: Instant,
    limit_hit: AtomicBool,
    pipelining: bool,
    run_id: u64,
}

impl Shared {
    async fn new(opts: &SmtpBenchOptions, run_id: u64) -> Result<Shared, String> {
        Ok(Shared {
            connect: ConnectSpec {
                endpoint: Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?,
                helo: opts.helo.clone(),
                auth: opts.auth.clone(),
            },
            from: opts.from.clone(),
            to: opts.to.clone(),
            size: opts.size,
            total: opts.messages,
            next: AtomicU64::new(0),
            deadline: Instant::now() + opts.duration_limit,
            limit_hit: AtomicBool::new(false),
            pipelining: opts.pipelining,
            run_id,
        })
    }

    /// The next message number to send, or `None` when done.
    fn claim(&self) -> Option<u64> {
        if Instant::now() >= self.deadline {
            self.limit_hit.store(true, Ordering::Relaxed);
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        (n < self.total).then_some(n)
    }

    fn recipient(&self, seq: u64) -> &str {
        // `to` is never empty after option parsing; guard anyway.
        self.to
            .get((seq % self.to.len().max(1) as u64) as usize)
            .map_or("postmaster@localhost", String::as_str)
    }
}

/// Counts from one connection task.
#[derive(Default)]
struct WorkerStats {
    accepted: u64,
    rejected: u64,
    failed: u64,
    reconnects: u64,
    pipelined: bool,
    latencies_us: Vec<u64>,
    rejections: Vec<String>,
    errors: Vec<String>,
}

impl WorkerStats {
    fn merge(&mut self, other: WorkerStats) {
        self.accepted += other.accepted;
        self.rejected += other.rejected;
        self.failed += other.failed;
        self.reconnects += other.reconnects;
        self.pipelined |= other.pipelined;
        self.latencies_us.extend(other.latencies_us);
        for line in other.rejections {
            note(&mut self.rejections, line);
        }
        for line in other.errors {
            note(&mut self.errors, line);
        }
    }
}

/// Keeps the first few distinct lines.
fn note(lines: &mut Vec<String>, line: String) {
    if lines.len() < MAX_ERROR_LINES && !lines.contains(&line) {
        lines.push(line);
    }
}

/// How one transaction ended, when the connection survived it.
enum Outcome {
    Accepted(Duration),
    Rejected(Reply),
}

/// A connection error during a transaction.
struct TxError {
    error: ConnError,
    /// The body had been sent: the message may have been delivered.
    body_sent: bool,
}

/// One connection task: connect, send messages until none are left, QUIT.
/// Bounded: each pass sends a new message or counts a failure, and failures
/// in a row end the task after `MAX_RETRIES`.
async fn worker(id: usize, shared: Arc<Shared>) -> WorkerStats {
    let mut stats = WorkerStats::default();
    let mut pending: Option<u64> = None;
    let mut failures = 0u32;
    let mut connections = 0u64;
    let mut wire = Vec::new();
    'connection: while let Some(first) = pending.or_else(|| shared.claim()) {
        pending = Some(first);
        if failures > 0 {
            tokio::time::sleep(Duration::from_millis(100 * u64::from(failures))).await;
        }
        connections += 1;
        let mut client = match SmtpClient::connect(&shared.connect).await {
            Ok(c) => c,
            Err(e) => {
                note(&mut stats.errors, format!("connect: {e}"));
                failures += 1;
                if failures > MAX_RETRIES {
                    break;
                }
                continue;
            }
        };
        let pipelined = shared.pipelining && client.has_extension("PIPELINING");
        stats.pipelined |= pipelined;
        while let Some(seq) = pending.or_else(|| shared.claim()) {
            pending = Some(seq);
            let spec = MessageSpec {
                from: &shared.from,
                to: shared.recipient(seq),
                conn: id,
                seq,
                run_id: shared.run_id,
                unix_time: unix_now(),
            };
            wire.clear();
            dot_stuff_into(&build_message(&spec, shared.size), &mut wire);
            match transaction(&mut client, &spec, &wire, pipelined).await {
                Ok(outcome) => {
                    pending = None;
                    failures = 0;
                    let closing = record(&mut stats, outcome);
                    if closing {
                        continue 'connection;
                    }
                }
                Err(TxError { error, body_sent }) => {
                    note(&mut stats.errors, error.to_string());
                    if body_sent {
                        stats.failed += 1;
                        pending = None;
                    }
                    failures += 1;
                    if failures > MAX_RETRIES {
                        break 'connection;
                    }
                    continue 'connection;
                }
            }
        }
        client.quit().await;
        break;
    }
    if pending.is_some() {
        stats.failed += 1;
    }
    stats.reconnects = connections.saturating_sub(1);
    stats
}

/// Counts an outcome; true when the server said it is closing (421).
fn record(stats: &mut WorkerStats, outcome: Outcome) -> bool {
    match outcome {
        Outcome::Accepted(latency) => {
            stats.accepted += 1;
            stats.latencies_us.push(latency.as_micros() as u64);
            false
        }
        Outcome::Rejected(reply) => {
            stats.rejected += 1;
            let closing = reply.code == REPLY_421_CLOSING;
            note(&mut stats.rejections, reply.line);
            closing
        }
    }
}

/// One mail transaction, RFC 5321 §3.3: envelope, then body and final reply.
async fn transaction(
    client: &mut SmtpClient,
    spec: &MessageSpec<'_>,
    wire: &[u8],
    pipelined: bool,
) -> Result<Outcome, TxError> {
    let before_body = |error| TxError {
        error,
        body_sent: false,
    };
    let started = Instant::now();
    let envelope = if pipelined {
        envelope_pipelined(client, spec).await
    } else {
        envelope_in_turn(client, spec).await
    };
    if let Some(refusal) = envelope.map_err(before_body)? {
        return reset(client, refusal).await.map_err(before_body);
    }
    client.send(wire).await.map_err(before_body)?;
    let last = client.read_reply().await.map_err(|error| TxError {
        error,
        body_sent: true,
    })?;
    if last.is_positive() {
        Ok(Outcome::Accepted(started.elapsed()))
    } else {
        Ok(Outcome::Rejected(last))
    }
}

/// MAIL, RCPT, DATA, each waiting for its reply. `None` when the server
/// is ready for the body, else the refusing reply.
async fn envelope_in_turn(
    client: &mut SmtpClient,
    spec: &MessageSpec<'_>,
) -> Result<Option<Reply>, ConnError> {
    let commands = [
        format!("MAIL FROM:<{}>\r\n", spec.from),
        format!("RCPT TO:<{}>\r\n", spec.to),
        "DATA\r\n".to_string(),
    ];
    for (i, command) in commands.iter().enumerate() {
        client.send(command.as_bytes()).await?;
        let reply = client.read_reply().await?;
        let expected = if i == 2 {
            reply.code == REPLY_354_START_INPUT
        } else {
            reply.is_positive()
        };
        if !expected {
            return Ok(Some(reply));
        }
    }
    Ok(None)
}

/// MAIL, RCPT and DATA in one write (RFC 2920 §3.1: DATA ends the group),
/// then their three replies. Same result as [`envelope_in_turn`].
async fn envelope_pipelined(
    client: &mut SmtpClient,
    spec: &MessageSpec<'_>,
) -> Result<Option<Reply>, ConnError> {
    let group = format!(
        "MAIL FROM:<{}>\r\nRCPT TO:<{}>\r\nDATA\r\n",
        spec.from, spec.to
    );
    client.send(group.as_bytes()).await?;
    let mail = client.read_reply().await?;
    let rcpt = client.read_reply().await?;
    let data = client.read_reply().await?;
    let refusal = [mail, rcpt].into_iter().find(|r| !r.is_positive());
    match (refusal, data.code == REPLY_354_START_INPUT) {
        (None, true) => Ok(None),
        (None, false) => Ok(Some(data)),
        (Some(refusal), go_ahead) => {
            if go_ahead {
                // The server should have refused DATA; end it with no content.
                client.send(b".\r\n").await?;
                client.read_reply().await?;
            }
            Ok(Some(refusal))
        }
    }
}

/// Ends a refused transaction with RSET (unless the server is closing).
async fn reset(client: &mut SmtpClient, refusal: Reply) -> Result<Outcome, ConnError> {
    if refusal.code != REPLY_421_CLOSING {
        client.send(b"RSET\r\n").await?;
        client.read_reply().await?;
    }
    Ok(Outcome::Rejected(refusal))
}
