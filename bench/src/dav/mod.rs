//! `ferrymail bench dav`: a CalDAV calendar of many events under the requests clients
//! repeat most (issue 15's benchmarks).
//!
//! The run: make sure the calendar exists (MKCALENDAR when PROPFIND says 404), PUT
//! `--seed` events over several connections, then measure each phase (sync, query,
//! expand, propfind; [`options::Phase`]) after unmeasured warm-up requests on the same
//! connections, so that neither connecting nor the first password check is measured.
//!
//! - **sync**: the collection's `DAV:sync-token` is read, ONE event is changed by PUT,
//!   and every measured request is a sync-collection from that same old token. Each one
//!   therefore asks exactly "one change since the token" and gets the same answer (one
//!   response, checked); nothing is written while measuring, so the figures hold no
//!   write cost and the collection does not move under the load.
//! - **query** / **expand**: calendar-query of the `--month` time-range with getetag and
//!   calendar-data (plain, then expanded). The bench knows the instances of every event it
//!   seeded ([`bodies::EventSpec::overlaps`]) and checks the number of responses.
//! - **propfind**: Depth 1 with getetag and getcontenttype, which answers every member;
//!   with `--server-pid` the server's VmRSS before and after and its peak (VmHWM, reset
//!   through `/proc/PID/clear_refs` before the phase when the kernel lets us) show what
//!   the answer costs in memory.
//!
//! Every phase reports requests/s, latency percentiles, bytes and responses per answer
//! and, with `--server-pid`, the server's CPU per request (utime + stime of the process
//! and its descendants, as the other benches).
//!
//! Modules: [`options`] parses, [`bodies`] makes the events and XML and reads answers.

pub mod bodies;
pub mod options;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

pub use options::{parse_dav_args, DavBenchOptions, Parsed, Phase, USAGE};

use self::bodies::EventSpec;
use crate::api::http::{basic_auth, HttpConn, Request, Response};
use crate::client::{ConnError, Endpoint};
use crate::report::{aligned, result_line, LatencySummary};
use crate::stats::{self_cpu_time, ServerProcs};

/// Distinct error texts kept for the report.
const MAX_NOTES: usize = 8;
/// Failures in a row after which a connection's task gives up.
const MAX_CONSECUTIVE_FAILURES: u32 = 10;
/// Connections used for seeding at least.
const SEED_CONNECTIONS: usize = 4;
/// DTSTAMP of every seeded event (2025-12-31T00:00:00Z): the same text on every run.
const SEED_STAMP: i64 = bodies::YEAR_START - 86_400;
const XML: &str = "application/xml; charset=utf-8";

/// Entry point of `bench dav ARGS…`.
pub fn run(args: &[String]) -> Result<String, String> {
    let opts = match parse_dav_args(args).map_err(|e| format!("{e}\n\n{USAGE}"))? {
        Parsed::Help => return Ok(USAGE.to_string()),
        Parsed::Run(opts) => *opts,
    };
    let runtime = crate::runtime()?;
    runtime.block_on(dav_bench(&opts)).map(|r| r.render())
}

fn note(notes: &mut Vec<String>, text: String) {
    if notes.len() < MAX_NOTES && !notes.contains(&text) {
        notes.push(text);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A path segment with everything but unreserved characters and `@` percent-encoded.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `/dav/calendars/<user>/<calendar>/`.
pub fn collection_path(user: &str, calendar: &str) -> String {
    format!(
        "/dav/calendars/{}/{}/",
        encode_segment(user),
        encode_segment(calendar)
    )
}

/// VmRSS and VmHWM (KiB) of the server processes, summed; `None` when unreadable.
pub fn memory_kb(pids: &[u32]) -> Option<(u64, u64)> {
    let mut total: Option<(u64, u64)> = None;
    for pid in pids {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let rss = status_kb(&status, "VmRSS:")?;
        let hwm = status_kb(&status, "VmHWM:")?;
        let t = total.get_or_insert((0, 0));
        t.0 += rss;
        t.1 += hwm;
    }
    total
}

/// The `KEY:   1234 kB` line of /proc/PID/status, in KiB.
pub fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Resets the peak resident size of the processes (proc(5): writing 5 to clear_refs);
/// false when the kernel refused for any of them.
fn reset_peak(pids: &[u32]) -> bool {
    !pids.is_empty()
        && pids
            .iter()
            .all(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
}

/// One measured phase's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PhaseReport {
    pub phase: String,
    pub requests: u64,
    /// Answers with status 207.
    pub ok: u64,
    pub failed: u64,
    pub wall_s: f64,
    pub requests_per_s: f64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p90_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub mean_body_bytes: Option<f64>,
    /// `DAV:response` elements per 207 answer, least and most.
    pub responses_min: Option<u64>,
    pub responses_max: Option<u64>,
    /// What every answer must hold, when the bench knows (it seeded the calendar).
    pub responses_expected: Option<u64>,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_per_request_ms: Option<f64>,
    pub rss_before_kb: Option<u64>,
    pub rss_after_kb: Option<u64>,
    /// VmHWM after the phase: the peak during it when `peak_reset`, else since start.
    pub rss_peak_kb: Option<u64>,
    pub peak_reset: bool,
}

impl PhaseReport {
    /// Whether every answer was a 207 with the expected number of responses.
    pub fn checked(&self) -> bool {
        self.ok == self.requests
            && self.failed == 0
            && self
                .responses_expected
                .is_none_or(|e| self.responses_min == Some(e) && self.responses_max == Some(e))
    }
}

/// What seeding did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    pub requested: u64,
    /// 201 or 204.
    pub stored: u64,
    pub failed: u64,
    pub wall_s: f64,
    pub puts_per_s: f64,
    pub mean_event_bytes: f64,
    pub recurring: u64,
    pub all_day: u64,
    pub overridden: u64,
    pub server_cpu_per_put_ms: Option<f64>,
}

/// Everything `bench dav` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DavReport {
    pub target: String,
    pub tls: bool,
    pub collection: String,
    pub concurrency: usize,
    pub recurring_share: f64,
    pub month: String,
    pub seed: Option<SeedReport>,
    /// The token of the sync phase (read just before its one change).
    pub sync_token: Option<String>,
    pub phases: Vec<PhaseReport>,
    pub client_cpu_s: f64,
    /// First distinct unexpected statuses and connection errors.
    pub errors: Vec<String>,
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.2} ms"))
}

fn opt_mib(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |kb| format!("{:.1} MiB", kb as f64 / 1024.0))
}

impl DavReport {
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("target", self.target.clone()),
            ("tls", if self.tls { "yes" } else { "no" }.into()),
            ("collection", self.collection.clone()),
            ("concurrency", self.concurrency.to_string()),
            ("month queried", self.month.clone()),
        ];
        if let Some(s) = &self.seed {
            rows.push((
                "seeded",
                format!(
                    "{} of {} stored ({} failed) in {:.1} s, {:.1} PUT/s, {} recurring \
                     ({} with an override), {} all-day, {:.0} bytes each",
                    s.stored,
                    s.requested,
                    s.failed,
                    s.wall_s,
                    s.puts_per_s,
                    s.recurring,
                    s.overridden,
                    s.all_day,
                    s.mean_event_bytes
                ),
            ));
            rows.push(("server cpu/PUT", opt_ms(s.server_cpu_per_put_ms)));
        }
        if let Some(t) = &self.sync_token {
            rows.push(("sync token", t.clone()));
        }
        rows.push(("client cpu", format!("{:.3} s", self.client_cpu_s)));
        for e in &self.errors {
            rows.push(("error", e.clone()));
        }
        let mut out = aligned(&rows, "");
        out.push_str(
            "phase     requests  2xx  req/s    p50       p90       p99       max       \
             bytes/answer  responses (expected)  server cpu/req\n",
        );
        for p in &self.phases {
            let responses = match (p.responses_min, p.responses_max) {
                (Some(a), Some(b)) if a == b => a.to_string(),
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "n/a".into(),
            };
            out.push_str(&format!(
                "{:<9} {:>8} {:>4} {:>7.1}  {:<9} {:<9} {:<9} {:<9} {:>12}  {:<20}  {}{}\n",
                p.phase,
                p.requests,
                p.ok,
                p.requests_per_s,
                opt_ms(p.latency_p50_ms),
                opt_ms(p.latency_p90_ms),
                opt_ms(p.latency_p99_ms),
                opt_ms(p.latency_max_ms),
                p.mean_body_bytes
                    .map_or("n/a".into(), |b| format!("{b:.0}")),
                format!(
                    "{responses} ({})",
                    p.responses_expected.map_or("?".into(), |e| e.to_string())
                ),
                opt_ms(p.server_cpu_per_request_ms),
                if p.checked() { "" } else { "  MISMATCH" },
            ));
        }
        for p in &self.phases {
            if p.rss_before_kb.is_some() {
                out.push_str(&format!(
                    "memory {}: rss before {}, after {}, peak {} ({})\n",
                    p.phase,
                    opt_mib(p.rss_before_kb),
                    opt_mib(p.rss_after_kb),
                    opt_mib(p.rss_peak_kb),
                    if p.peak_reset {
                        "during the phase"
                    } else {
                        "since the server started: clear_refs refused"
                    }
                ));
            }
        }
        out.push_str(&result_line(self));
        out
    }
}

/// A request every connection of a phase repeats.
#[derive(Debug, Clone)]
pub struct Spec {
    pub method: &'static str,
    pub path: String,
    pub depth: &'static str,
    pub body: Vec<u8>,
}

/// What the connections share.
struct Shared {
    endpoint: Endpoint,
    host: String,
    auth: String,
}

impl Shared {
    /// Sends `method path` with `body` on `conn` (connecting when needed).
    async fn send(
        &self,
        conn: &mut Option<HttpConn>,
        method: &str,
        path: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, ConnError> {
        // A kept connection the server closed while idle (its keep-alive timeout, e.g.
        // during seeding) is opened anew once.
        let reused = conn.as_ref().is_some_and(|c| c.reusable);
        match self.send_once(conn, method, path, extra, body).await {
            Err(ConnError::Closed | ConnError::Io(_)) if reused => {
                self.send_once(conn, method, path, extra, body).await
            }
            other => other,
        }
    }

    async fn send_once(
        &self,
        conn: &mut Option<HttpConn>,
        method: &str,
        path: &str,
        extra: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Response, ConnError> {
        if conn.as_ref().is_none_or(|c| !c.reusable) {
            *conn = Some(HttpConn::connect(&self.endpoint, &self.host).await?);
        }
        let mut headers = vec![("Authorization", self.auth.clone())];
        headers.extend(extra.iter().map(|(n, v)| (*n, v.clone())));
        let req = Request {
            method,
            path,
            headers: &headers,
            body,
        };
        let c = conn.as_mut().expect("connected above");
        match c.request(&req).await {
            Ok(r) => Ok(r),
            Err(e) => {
                *conn = None;
                Err(e)
            }
        }
    }
}

/// One sample: latency µs, status, body bytes, responses.
type Sample = (u64, u16, usize, u64);

#[derive(Default)]
struct TaskResult {
    samples: Vec<Sample>,
    failed: u64,
    errors: Vec<String>,
}

/// Requests `spec` until `next` reaches `total`, on `conn`; gives the connection back.
async fn load_task(
    shared: Arc<Shared>,
    spec: Arc<Spec>,
    next: Arc<AtomicU64>,
    total: u64,
    mut conn: Option<HttpConn>,
) -> (TaskResult, Option<HttpConn>) {
    let mut r = TaskResult::default();
    let mut failures_in_a_row = 0;
    let depth = [("Depth", spec.depth.to_string())];
    while next.fetch_add(1, Ordering::Relaxed) < total {
        let t0 = Instant::now();
        let sent = shared
            .send(
                &mut conn,
                spec.method,
                &spec.path,
                &depth,
                Some((XML, &spec.body)),
            )
            .await;
        let elapsed = t0.elapsed().as_micros() as u64;
        match sent {
            Ok(resp) => {
                failures_in_a_row = 0;
                let status = resp.head.status;
                if status != 207 {
                    let body = String::from_utf8_lossy(&resp.body);
                    note(
                        &mut r.errors,
                        format!(
                            "{} answered {status} {}",
                            spec.method,
                            body.chars().take(160).collect::<String>()
                        ),
                    );
                }
                let responses = bodies::count_responses(&resp.body);
                r.samples
                    .push((elapsed, status, resp.body.len(), responses));
            }
            Err(e) => {
                r.failed += 1;
                failures_in_a_row += 1;
                note(&mut r.errors, e.to_string());
                if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
                    note(
                        &mut r.errors,
                        "a connection gave up after 10 failures in a row".into(),
                    );
                    break;
                }
            }
        }
    }
    (r, conn)
}

/// Runs `total` requests of `spec` over `conns` (one task each); the connections come back.
async fn run_load(
    shared: &Arc<Shared>,
    spec: &Arc<Spec>,
    total: u64,
    conns: Vec<Option<HttpConn>>,
) -> Result<(TaskResult, Vec<Option<HttpConn>>), String> {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for conn in conns {
        tasks.spawn(load_task(
            shared.clone(),
            spec.clone(),
            next.clone(),
            total,
            conn,
        ));
    }
    let mut all = TaskResult::default();
    let mut back = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (r, conn) = joined.map_err(|e| format!("load task: {e}"))?;
        all.samples.extend(r.samples);
        all.failed += r.failed;
        for e in r.errors {
            note(&mut all.errors, e);
        }
        back.push(conn);
    }
    Ok((all, back))
}

/// Warm-up, then the measured requests of one phase, with CPU and memory around them.
async fn measure(
    shared: &Arc<Shared>,
    opts: &DavBenchOptions,
    phase: Phase,
    spec: Spec,
    expected: Option<u64>,
    conns: Vec<Option<HttpConn>>,
    errors: &mut Vec<String>,
) -> Result<(PhaseReport, Vec<Option<HttpConn>>), String> {
    let spec = Arc::new(spec);
    let (warm, conns) = run_load(shared, &spec, opts.warmup, conns).await?;
    for e in warm.errors {
        note(errors, format!("{} warm-up: {e}", phase.as_str()));
    }
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: Vec::new(),
    };
    let mem_before = memory_kb(&opts.server_pids);
    let peak_reset = reset_peak(&opts.server_pids);
    let cpu_before = procs.snapshot();
    let started = Instant::now();
    let (load, conns) = run_load(shared, &spec, opts.requests, conns).await?;
    let wall = started.elapsed();
    let cpu = (!procs.is_empty()).then(|| procs.cpu_since(&cpu_before).total);
    let mem_after = memory_kb(&opts.server_pids);
    for e in load.errors {
        note(errors, format!("{}: {e}", phase.as_str()));
    }
    let mut lat: Vec<u64> = load.samples.iter().map(|s| s.0).collect();
    lat.sort_unstable();
    let l = LatencySummary::from_sorted_us(&lat);
    let ok: Vec<&Sample> = load.samples.iter().filter(|s| s.1 == 207).collect();
    let answered = load.samples.len() as u64;
    Ok((
        PhaseReport {
            phase: phase.as_str().into(),
            requests: answered + load.failed,
            ok: ok.len() as u64,
            failed: load.failed,
            wall_s: wall.as_secs_f64(),
            requests_per_s: answered as f64 / wall.as_secs_f64().max(1e-9),
            latency_p50_ms: l.p50.map(ms),
            latency_p90_ms: l.p90.map(ms),
            latency_p99_ms: l.p99.map(ms),
            latency_max_ms: l.max.map(ms),
            mean_body_bytes: (!ok.is_empty())
                .then(|| ok.iter().map(|s| s.2 as f64).sum::<f64>() / ok.len() as f64),
            responses_min: ok.iter().map(|s| s.3).min(),
            responses_max: ok.iter().map(|s| s.3).max(),
            responses_expected: expected,
            server_cpu_s: cpu.map(|c| c.as_secs_f64()),
            server_cpu_per_request_ms: cpu
                .filter(|_| answered > 0)
                .map(|c| ms(c) / answered as f64),
            rss_before_kb: mem_before.map(|m| m.0),
            rss_after_kb: mem_after.map(|m| m.0),
            rss_peak_kb: mem_after.map(|m| m.1),
            peak_reset,
        },
        conns,
    ))
}

/// A short text of an unexpected answer.
fn answer(what: &str, r: &Response) -> String {
    format!(
        "{what}: {} {}",
        r.head.status,
        String::from_utf8_lossy(&r.body)
            .chars()
            .take(200)
            .collect::<String>()
    )
}

/// The collection's sync-token (PROPFIND Depth 0), or `Ok(None)` when it does not exist.
async fn current_token(
    shared: &Shared,
    conn: &mut Option<HttpConn>,
    path: &str,
) -> Result<Option<String>, String> {
    let body = bodies::propfind_sync_token();
    let r = shared
        .send(
            conn,
            "PROPFIND",
            path,
            &[("Depth", "0".into())],
            Some((XML, body.as_bytes())),
        )
        .await
        .map_err(|e| format!("PROPFIND {path}: {e}"))?;
    match r.head.status {
        404 => Ok(None),
        207 => bodies::sync_token_of(&r.body)
            .map(Some)
            .ok_or_else(|| answer("PROPFIND sync-token: no token in", &r)),
        _ => Err(answer(&format!("PROPFIND {path}"), &r)),
    }
}

/// PUTs event `i`; true when stored.
async fn put_event(
    shared: &Shared,
    conn: &mut Option<HttpConn>,
    base: &str,
    text: &str,
    i: u64,
) -> Result<(), String> {
    let path = format!("{base}{}.ics", bodies::uid(i));
    let r = shared
        .send(
            conn,
            "PUT",
            &path,
            &[],
            Some(("text/calendar; charset=utf-8", text.as_bytes())),
        )
        .await
        .map_err(|e| format!("PUT {path}: {e}"))?;
    match r.head.status {
        201 | 204 => Ok(()),
        _ => Err(answer("PUT", &r)),
    }
}

/// PUTs events 0..N over several connections.
async fn seed(
    shared: &Arc<Shared>,
    opts: &DavBenchOptions,
    base: &str,
    errors: &mut Vec<String>,
) -> Result<SeedReport, String> {
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: Vec::new(),
    };
    let cpu_before = procs.snapshot();
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..opts.concurrency.max(SEED_CONNECTIONS) {
        let (shared, next, base) = (shared.clone(), next.clone(), base.to_string());
        let (n, share) = (opts.seed, opts.recurring_share);
        tasks.spawn(async move {
            let mut conn = None;
            let (mut stored, mut failed, mut bytes) = (0u64, 0u64, 0u64);
            let mut errors = Vec::new();
            let mut failures_in_a_row = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let text = EventSpec::generate(i, share).to_ical(SEED_STAMP, "");
                bytes += text.len() as u64;
                match put_event(&shared, &mut conn, &base, &text, i).await {
                    Ok(()) => {
                        stored += 1;
                        failures_in_a_row = 0;
                    }
                    Err(e) => {
                        failed += 1;
                        failures_in_a_row += 1;
                        note(&mut errors, e);
                        if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
                            note(&mut errors, "seeding: a connection gave up".into());
                            break;
                        }
                    }
                }
            }
            (stored, failed, bytes, errors)
        });
    }
    let mut report = SeedReport {
        requested: opts.seed,
        ..SeedReport::default()
    };
    let mut bytes = 0;
    while let Some(joined) = tasks.join_next().await {
        let (s, f, b, e) = joined.map_err(|e| format!("seed task: {e}"))?;
        report.stored += s;
        report.failed += f;
        bytes += b;
        for e in e {
            note(errors, e);
        }
    }
    let wall = started.elapsed();
    report.wall_s = wall.as_secs_f64();
    report.puts_per_s = report.stored as f64 / report.wall_s.max(1e-9);
    report.mean_event_bytes = bytes as f64 / (report.stored + report.failed).max(1) as f64;
    report.server_cpu_per_put_ms = (!procs.is_empty() && report.stored > 0)
        .then(|| ms(procs.cpu_since(&cpu_before).total) / report.stored as f64);
    for i in 0..opts.seed {
        let e = EventSpec::generate(i, opts.recurring_share);
        report.recurring += u64::from(e.rule != bodies::Rule::Once);
        report.all_day += u64::from(e.all_day);
        report.overridden += u64::from(e.moved_second.is_some());
    }
    Ok(report)
}

/// The whole run (module documentation).
pub async fn dav_bench(opts: &DavBenchOptions) -> Result<DavReport, String> {
    let endpoint = Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?;
    let shared = Arc::new(Shared {
        endpoint,
        host: opts.target.clone(),
        auth: basic_auth(&opts.user, &opts.password),
    });
    let base = collection_path(&opts.user, &opts.calendar);
    let self_before = self_cpu_time();
    let mut errors = Vec::new();
    let mut conn = None;
    if current_token(&shared, &mut conn, &base).await?.is_none() {
        let body = bodies::mkcalendar(&format!("bench {}", opts.calendar));
        let r = shared
            .send(
                &mut conn,
                "MKCALENDAR",
                &base,
                &[],
                Some((XML, body.as_bytes())),
            )
            .await
            .map_err(|e| format!("MKCALENDAR {base}: {e}"))?;
        if r.head.status != 201 {
            return Err(answer(&format!("MKCALENDAR {base}"), &r));
        }
    }
    let seed = if opts.seed > 0 {
        Some(seed(&shared, opts, &base, &mut errors).await?)
    } else {
        None
    };
    // What the bench knows the calendar holds (only when it seeded it).
    let known = |count: u64| (opts.seed > 0).then_some(count);
    let in_month = (0..opts.seed)
        .filter(|i| {
            EventSpec::generate(*i, opts.recurring_share).overlaps(opts.range.0, opts.range.1)
        })
        .count() as u64;
    let mut conns: Vec<Option<HttpConn>> = (0..opts.concurrency).map(|_| None).collect();
    conns[0] = conn.take();
    let mut report = DavReport {
        target: opts.target.clone(),
        tls: opts.tls != crate::options::TlsMode::None,
        collection: base.clone(),
        concurrency: opts.concurrency,
        recurring_share: opts.recurring_share,
        month: opts.month.clone(),
        seed,
        ..DavReport::default()
    };
    for &phase in &opts.phases {
        let (spec, expected) = match phase {
            Phase::Sync => {
                let token = current_token(&shared, &mut conns[0], &base)
                    .await?
                    .ok_or("the calendar went away")?;
                // The one change: event 0 with another summary (a new text on every run).
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs() as i64);
                let text = EventSpec::generate(0, opts.recurring_share)
                    .to_ical(stamp, &format!(" (changed at {stamp})"));
                put_event(&shared, &mut conns[0], &base, &text, 0).await?;
                report.sync_token = Some(token.clone());
                let spec = Spec {
                    method: "REPORT",
                    path: base.clone(),
                    depth: "0",
                    body: bodies::sync_collection(&token).into_bytes(),
                };
                (spec, Some(1))
            }
            Phase::Query | Phase::Expand => (
                Spec {
                    method: "REPORT",
                    path: base.clone(),
                    depth: "1",
                    body: bodies::calendar_query(
                        opts.range.0,
                        opts.range.1,
                        phase == Phase::Expand,
                    )
                    .into_bytes(),
                },
                known(in_month),
            ),
            Phase::Propfind => (
                Spec {
                    method: "PROPFIND",
                    path: base.clone(),
                    depth: "1",
                    body: bodies::propfind_members().into_bytes(),
                },
                known(opts.seed + 1),
            ),
        };
        let (p, back) = measure(&shared, opts, phase, spec, expected, conns, &mut errors).await?;
        report.phases.push(p);
        conns = back;
    }
    report.client_cpu_s = self_cpu_time().saturating_sub(self_before).as_secs_f64();
    report.errors = errors;
    Ok(report)
}
