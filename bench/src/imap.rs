//! `ferrymail bench imap`: a mixed IMAP load against any server, ours or
//! Dovecot, with per-command rates and latencies and, given server PIDs or
//! process names, the server's CPU per operation and memory per idle
//! connection.
//!
//! A run has up to four phases, each optional and in this order:
//! 1. `--prepare N`: APPEND N messages to each account's mailbox, over
//!    several connections, with MULTIAPPEND when the server offers it;
//! 2. `--probe R`: on one connection, time the commands whose cost grows
//!    with the folder: SELECT, `FETCH 1:* (FLAGS UID)`, `UID SEARCH UNSEEN`,
//!    `UID SEARCH SUBJECT x`, R times each;
//!    then `--fetch-all R`: `FETCH 1:* BODY.PEEK[]` of the whole mailbox R times,
//!    with the server's memory sampled throughout (see [`bigfetch`]);
//! 3. `--idle-clients N`: open N connections that idle, and read the
//!    server's resident memory once all are idling;
//! 4. the load: C clients loop over LOGIN, SELECT, FETCH, STORE, APPEND,
//!    EXPUNGE, SEARCH, NOOP and IDLE for S seconds (see [`load`]), or with
//!    `--mix stress` over imaptest's stress-mode sessions (see [`stress`]),
//!    while the idle connections, if any, keep idling. Then the idlers close.
//!
//! Modules: [`options`] parses, [`client`] speaks IMAP, [`load`] and
//! [`stress`] are the client loops, [`idle`] the idling connections,
//! [`report`] the output.

pub mod bigfetch;
pub mod client;
pub mod idle;
pub mod load;
pub mod options;
pub mod report;
pub mod stress;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

pub use options::{parse_imap_args, ImapBenchOptions, Mix, Parsed, USAGE};
pub use report::ImapBenchReport;

use self::client::{quoted, ConnectSpec, ImapClient};
use self::report::{note, PrepareReport, ProbeCommand};
use super::message::{build_message, unix_now, MessageSpec};
use super::options::Credentials;
use super::stats::{percentile, self_cpu_time, ServerProcs};

/// Messages per MULTIAPPEND command while preparing.
const PREPARE_BATCH: usize = 100;

/// What all client tasks share.
pub struct Shared {
    pub connect: ConnectSpec,
    pub accounts: Vec<Credentials>,
    pub mailbox: String,
    pub mailbox_quoted: String,
    pub clients: usize,
    pub size: usize,
    pub deadline: Instant,
    pub run_id: u64,
}

impl Shared {
    async fn new(opts: &ImapBenchOptions) -> Result<Shared, String> {
        if opts.accounts.is_empty() {
            return Err("no accounts".into());
        }
        Ok(Shared {
            connect: ConnectSpec::resolve(&opts.target, opts.tls, opts.timeout).await?,
            accounts: opts.accounts.clone(),
            mailbox: opts.mailbox.clone(),
            mailbox_quoted: quoted(&opts.mailbox),
            clients: opts.clients,
            size: opts.size,
            deadline: Instant::now(),
            run_id: rand::random(),
        })
    }

    /// The account of client `id` (round robin).
    pub fn account(&self, id: usize) -> &Credentials {
        &self.accounts[id % self.accounts.len()]
    }

    /// A unique message of the configured size.
    pub fn message(&self, id: usize, seq: u64, kind: &str) -> Vec<u8> {
        let to = &self.account(id).user;
        let spec = MessageSpec {
            from: "bench@example.com",
            to: if to.contains('@') {
                to
            } else {
                "bench@example.com"
            },
            conn: id,
            seq,
            run_id: self.run_id ^ kind.len() as u64,
            unix_time: unix_now(),
        };
        build_message(&spec, self.size)
    }
}

/// Runs the phases `opts` asks for on the current tokio runtime.
///
/// Errors only when the run cannot start (target not resolvable, TLS setup);
/// IMAP and connection errors are counted in the report.
pub async fn imap_load(opts: ImapBenchOptions) -> Result<ImapBenchReport, String> {
    let mut shared = Shared::new(&opts).await?;
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: opts.server_comms.clone(),
    };
    let mut report = ImapBenchReport {
        target: opts.target.clone(),
        tls: opts.tls.as_str(),
        mix: opts.mix.as_str(),
        clients: opts.clients,
        accounts: opts.accounts.len(),
        seconds: opts.seconds,
        mailbox: opts.mailbox.clone(),
        ..ImapBenchReport::default()
    };
    let cpu_before = self_cpu_time();
    if opts.prepare > 0 {
        report.prepare = Some(
            prepare(
                Arc::new(shared.clone_spec()),
                opts.prepare,
                &mut report.errors,
            )
            .await,
        );
    }
    if opts.probe > 0 {
        report.probe = probe(&shared, opts.probe, opts.probe_fetch_all).await;
    }
    if opts.fetch_all > 0 {
        report.fetch_all = Some(bigfetch::fetch_all(&shared, &procs, opts.fetch_all).await);
    }
    let idlers = if opts.idle_clients > 0 {
        let before = procs.snapshot().resident_kb();
        let group = idle::open(Arc::new(shared.clone_spec()), opts.idle_clients).await;
        let idling = procs.snapshot().resident_kb();
        Some((group, before, idling))
    } else {
        None
    };
    let load = opts.clients > 0 && opts.seconds > 0;
    let server_before = (!procs.is_empty()).then(|| procs.snapshot());
    let load_cpu_before = self_cpu_time();
    let started = Instant::now();
    shared.deadline = started + Duration::from_secs(opts.seconds);
    let shared = Arc::new(shared);
    if load {
        let sampler = rss_sampler(&procs, Duration::from_millis(500));
        run_clients(&shared, opts.mix, opts.clients, started, &mut report).await;
        if let Some((stop, task)) = sampler {
            let _ = stop.send(());
            report.server_rss_peak_kb = task.await.ok().flatten();
            report.server_rss_end_kb = procs.snapshot().resident_kb();
        }
    } else if idlers.is_some() {
        tokio::time::sleep_until(shared.deadline.into()).await;
    }
    if load {
        report.client_cpu = self_cpu_time().saturating_sub(load_cpu_before);
        report.server_cpu = server_before.map(|before| procs.cpu_since(&before));
    } else {
        report.client_cpu = self_cpu_time().saturating_sub(cpu_before);
    }
    if let Some((group, before, idling)) = idlers {
        let end = procs.snapshot().resident_kb();
        report.idle = Some(close_idlers(group, [before, idling, end]).await);
    }
    Ok(report)
}

/// Samples the server's resident memory every `interval` until told to stop; the task
/// returns the most it saw. `None` when no server process is measured.
fn rss_sampler(
    procs: &ServerProcs,
    interval: Duration,
) -> Option<(
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Option<u64>>,
)> {
    if procs.is_empty() {
        return None;
    }
    let procs = procs.clone();
    let (stop, mut stopped) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let mut peak = None;
        // Bounded by the stop signal; the cap only guards against a lost sender.
        let cap = options::MAX_SECONDS * 1000 / (interval.as_millis().max(1) as u64);
        for _ in 0..cap {
            let rss = procs.snapshot().resident_kb();
            peak = peak.max(rss);
            tokio::select! {
                _ = &mut stopped => break,
                _ = tokio::time::sleep(interval) => {}
            }
        }
        peak
    });
    Some((stop, task))
}

/// Runs the load clients until the deadline and adds up what they counted.
async fn run_clients(
    shared: &Arc<Shared>,
    mix: Mix,
    clients: usize,
    started: Instant,
    report: &mut ImapBenchReport,
) {
    let mut tasks = JoinSet::new();
    for id in 0..clients {
        match mix {
            Mix::Mixed => tasks.spawn(load::client(id, shared.clone())),
            Mix::Stress => tasks.spawn(stress::client(id, shared.clone())),
        };
    }
    let mut last = started;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(stats) => {
                report.ops.merge(stats.ops);
                report.connection_errors += stats.connection_errors;
                report.protocol_errors += stats.protocol_errors;
                for n in stats.protocol_notes {
                    note(&mut report.protocol_notes, n);
                }
                for e in stats.errors {
                    note(&mut report.errors, e);
                }
                last = last.max(stats.last_op.unwrap_or(started));
            }
            Err(e) => note(&mut report.errors, format!("client task ended: {e}")),
        }
    }
    report.wall = last - started;
}

/// Closes the idling connections; `rss` is the server's resident memory
/// before they opened, once all were idling, and at the end of the hold.
async fn close_idlers(group: idle::IdleGroup, rss: [Option<u64>; 3]) -> report::IdleReport {
    let [before, idling, end] = rss;
    let (requested, idling_n, failed, setup) = (
        group.idling + group.failed.len(),
        group.idling,
        group.failed.clone(),
        group.setup,
    );
    let updates = group.updates.clone();
    let (closed_cleanly, mut errors) = group.close().await;
    for e in failed.iter().take(5) {
        note(&mut errors, format!("setup: {e}"));
    }
    let kb_per_connection = match (before, idling) {
        (Some(b), Some(i)) if idling_n > 0 => Some((i as f64 - b as f64) / idling_n as f64),
        _ => None,
    };
    report::IdleReport {
        requested,
        idling: idling_n,
        failed: failed.len(),
        setup_seconds: setup.as_secs_f64(),
        server_rss_before_kb: before,
        server_rss_idling_kb: idling,
        server_rss_end_kb: end,
        kb_per_connection,
        updates_received: updates.load(std::sync::atomic::Ordering::Relaxed),
        closed_cleanly,
        errors,
    }
}

impl Shared {
    /// A copy for a phase that runs before the load's deadline is set.
    fn clone_spec(&self) -> Shared {
        Shared {
            connect: self.connect.clone(),
            accounts: self.accounts.clone(),
            mailbox: self.mailbox.clone(),
            mailbox_quoted: self.mailbox_quoted.clone(),
            clients: self.clients,
            size: self.size,
            deadline: self.deadline,
            run_id: self.run_id,
        }
    }
}

/// APPENDs `per_account` messages to each account's mailbox, over
/// max(clients, accounts) connections; every other message is `\Seen`.
async fn prepare(shared: Arc<Shared>, per_account: u64, errors: &mut Vec<String>) -> PrepareReport {
    let accounts = shared.accounts.len();
    let tasks_n = shared.clients.max(accounts).max(1);
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for t in 0..tasks_n {
        // Tasks t, t + A, t + 2A, ... share account t % A.
        let account = t % accounts;
        let sharing = (tasks_n - account).div_ceil(accounts) as u64;
        let index = (t / accounts) as u64;
        let count = per_account / sharing + u64::from(index < per_account % sharing);
        tasks.spawn(prepare_one(t, shared.clone(), count));
    }
    let (mut appended, mut failed, mut multi) = (0, 0, false);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((n, m, e)) => {
                appended += n;
                multi |= m;
                if let Some(e) = e {
                    failed += 1;
                    note(errors, format!("prepare: {e}"));
                }
            }
            Err(e) => note(errors, format!("prepare task ended: {e}")),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    PrepareReport {
        messages_appended: appended,
        errors: failed,
        connections: tasks_n,
        multiappend: multi,
        seconds,
        messages_per_s: if seconds > 0.0 {
            appended as f64 / seconds
        } else {
            0.0
        },
    }
}

/// One preparing connection: (appended, used MULTIAPPEND, error that stopped it).
async fn prepare_one(t: usize, shared: Arc<Shared>, count: u64) -> (u64, bool, Option<String>) {
    let mut imap = match ImapClient::connect(&shared.connect).await {
        Ok(c) => c,
        Err(e) => return (0, false, Some(e.to_string())),
    };
    match imap.login(shared.account(t)).await {
        Ok(d) if d.ok() => {}
        Ok(d) => return (0, false, Some(format!("LOGIN: {}", d.text))),
        Err(e) => return (0, false, Some(e.to_string())),
    }
    let multi = imap.has_capability("MULTIAPPEND");
    let batch = if multi { PREPARE_BATCH as u64 } else { 1 };
    let mut appended = 0u64;
    // Bounded: each pass appends a batch or returns.
    while appended < count {
        let n = batch.min(count - appended);
        let messages: Vec<(Vec<u8>, &str)> = (0..n)
            .map(|i| {
                let seq = appended + i;
                let flags = if seq % 2 == 0 { "\\Seen" } else { "" };
                (shared.message(t, seq, "prepare"), flags)
            })
            .collect();
        let refs: Vec<(&str, &[u8])> = messages.iter().map(|(m, f)| (*f, m.as_slice())).collect();
        match imap.append(&shared.mailbox, &refs).await {
            Ok(d) if d.ok() => appended += n,
            Ok(d) => return (appended, multi, Some(format!("APPEND: {}", d.text))),
            Err(e) => return (appended, multi, Some(e.to_string())),
        }
    }
    let _ = imap.logout().await;
    (appended, multi, None)
}

/// Times the big-folder commands on one connection of the first account.
async fn probe(shared: &Shared, rounds: u32, fetch_all: bool) -> Vec<ProbeCommand> {
    let mut commands = vec![
        format!("SELECT {}", shared.mailbox_quoted),
        "FETCH 1:* (FLAGS UID)".to_string(),
        "UID SEARCH UNSEEN".to_string(),
        "UID SEARCH SUBJECT x".to_string(),
    ];
    if !fetch_all {
        commands.remove(1);
    }
    let mut times: Vec<Vec<u64>> = vec![Vec::new(); commands.len()];
    let mut responses = vec![0u64; commands.len()];
    let mut first_error: Vec<Option<String>> = vec![None; commands.len()];
    let fail = |e: String| {
        commands
            .iter()
            .map(|c| ProbeCommand {
                command: c.clone(),
                ok: 0,
                min_ms: 0.0,
                median_ms: 0.0,
                max_ms: 0.0,
                responses: 0,
                first_error: Some(e.clone()),
            })
            .collect()
    };
    let mut imap = match probe_session(shared, false).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    // A command that broke the connection (a timeout, most likely) is not
    // tried again: the server may still be working on it.
    let mut given_up = vec![false; commands.len()];
    'rounds: for _ in 0..rounds {
        for (i, command) in commands.iter().enumerate() {
            if given_up[i] {
                continue;
            }
            let started = Instant::now();
            match imap.command(command).await {
                Ok(d) if d.ok() => {
                    times[i].push(started.elapsed().as_micros() as u64);
                    responses[i] = if command.contains("SEARCH") {
                        d.search.len() as u64
                    } else {
                        d.untagged
                    };
                }
                Ok(d) => {
                    first_error[i].get_or_insert(d.text);
                }
                Err(e) => {
                    first_error[i].get_or_insert(format!(
                        "{e} after {:.1} s (not retried)",
                        started.elapsed().as_secs_f64()
                    ));
                    given_up[i] = true;
                    match probe_session(shared, true).await {
                        Ok(c) => imap = c,
                        Err(e) => {
                            first_error[i] = Some(format!("{e}; probe stopped"));
                            break 'rounds;
                        }
                    }
                }
            }
        }
    }
    let _ = imap.logout().await;
    commands
        .iter()
        .enumerate()
        .map(|(i, command)| {
            let t = &mut times[i];
            t.sort_unstable();
            let ms = |v: Option<u64>| v.map_or(0.0, |us| us as f64 / 1000.0);
            ProbeCommand {
                command: command.clone(),
                ok: t.len() as u32,
                min_ms: ms(t.first().copied()),
                median_ms: ms(percentile(t, 50.0)),
                max_ms: ms(t.last().copied()),
                responses: responses[i],
                first_error: first_error[i].take(),
            }
        })
        .collect()
}

/// A connection logged in as the first account, with the mailbox selected
/// when `select`.
async fn probe_session(shared: &Shared, select: bool) -> Result<ImapClient, String> {
    let mut imap = ImapClient::connect(&shared.connect)
        .await
        .map_err(|e| e.to_string())?;
    match imap.login(shared.account(0)).await {
        Ok(d) if d.ok() => {}
        Ok(d) => return Err(format!("LOGIN: {}", d.text)),
        Err(e) => return Err(e.to_string()),
    }
    if select {
        let select = format!("SELECT {}", shared.mailbox_quoted);
        match imap.command(&select).await {
            Ok(d) if d.ok() => {}
            Ok(d) => return Err(format!("SELECT: {}", d.text)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(imap)
}

/// Entry point for `ferrymail bench imap ARGS...`.
pub fn run(args: &[String]) -> Result<String, String> {
    let usage_error = |e: String| format!("{e}\n\n{USAGE}");
    let opts = match parse_imap_args(args).map_err(usage_error)? {
        Parsed::Help => return Ok(USAGE.to_string()),
        Parsed::Run(opts) => *opts,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("starting runtime: {e}"))?;
    let report = runtime.block_on(imap_load(opts))?;
    Ok(report.render())
}
