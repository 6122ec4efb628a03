//! `ferrymail bench api` and `ferrymail bench sse`: the management API and the
//! dashboard's live feed under load (issue 13).
//!
//! `bench api` sends N GET requests over C keep-alive connections (HTTP Basic, one request
//! at a time per connection), round-robin over the given paths, and reports requests per
//! second, latency percentiles overall and per path, and the server's CPU per request
//! (from /proc, as the other benches). With `--seed-accounts N` it instead creates a domain
//! and N accounts through the API, the data the listing benchmarks need.
//!
//! `bench sse` measures what open dashboards cost: the server's CPU over S seconds with
//! nothing open, then over S seconds with N live streams open (the dashboard's `/events`
//! after a login, or any event stream), and reports the difference per open dashboard as
//! a share of one core, with the events each stream received as proof that it was live.
//!
//! Modules: [`options`] parses, [`http`] is the HTTP/1.1 client.

pub mod http;
pub mod options;

#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::task::JoinSet;

pub use options::{parse_api_args, ApiBenchOptions, Command, Parsed, SSE_USAGE, USAGE};

use self::http::{basic_auth, form_encode, HttpConn, Request, SseCounter};
use crate::client::Endpoint;
use crate::report::{aligned, result_line, LatencySummary};
use crate::stats::{self_cpu_time, ServerProcs};

/// Distinct error texts kept for the report.
const MAX_NOTES: usize = 8;
/// Connection failures in a row after which a load task gives up.
const MAX_CONSECUTIVE_FAILURES: u32 = 10;

/// Entry point of `bench api ARGS…` and `bench sse ARGS…`.
pub fn run(command: Command, args: &[String]) -> Result<String, String> {
    let usage = match command {
        Command::Api => USAGE,
        Command::Sse => SSE_USAGE,
    };
    let opts = match parse_api_args(command, args).map_err(|e| format!("{e}\n\n{usage}"))? {
        Parsed::Help => return Ok(usage.to_string()),
        Parsed::Run(opts) => *opts,
    };
    let runtime = crate::runtime()?;
    runtime.block_on(async move {
        match command {
            Command::Api if opts.seed_accounts > 0 => seed(&opts).await.map(|r| r.render()),
            Command::Api => api_load(&opts).await.map(|r| r.render()),
            Command::Sse => sse_cost(&opts).await.map(|r| r.render()),
        }
    })
}

/// Adds `text` to `notes` unless present or full.
fn note(notes: &mut Vec<String>, text: String) {
    if notes.len() < MAX_NOTES && !notes.contains(&text) {
        notes.push(text);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One path's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PathReport {
    pub path: String,
    pub requests: u64,
    /// Answers with a 2xx status.
    pub ok: u64,
    pub latency_p50_ms: Option<f64>,
    pub latency_p90_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    /// Mean body size of the 2xx answers.
    pub mean_body_bytes: Option<f64>,
}

impl PathReport {
    /// From the path and its (latency µs, status, body bytes) samples.
    pub fn from_samples(path: &str, samples: &[(u64, u16, usize)]) -> PathReport {
        let mut lat: Vec<u64> = samples.iter().map(|s| s.0).collect();
        lat.sort_unstable();
        let l = LatencySummary::from_sorted_us(&lat);
        let ok: Vec<_> = samples
            .iter()
            .filter(|s| (200..300).contains(&s.1))
            .collect();
        PathReport {
            path: path.to_string(),
            requests: samples.len() as u64,
            ok: ok.len() as u64,
            latency_p50_ms: l.p50.map(ms),
            latency_p90_ms: l.p90.map(ms),
            latency_p99_ms: l.p99.map(ms),
            latency_max_ms: l.max.map(ms),
            mean_body_bytes: (!ok.is_empty())
                .then(|| ok.iter().map(|s| s.2 as f64).sum::<f64>() / ok.len() as f64),
        }
    }
}

/// What `bench api` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApiReport {
    pub target: String,
    pub tls: bool,
    pub concurrency: usize,
    pub requests_requested: u64,
    /// Requests answered (any status).
    pub answered: u64,
    /// Requests lost to connection errors.
    pub failed: u64,
    pub wall_s: f64,
    pub requests_per_s: f64,
    pub all: PathReport,
    pub paths: Vec<PathReport>,
    pub client_cpu_s: f64,
    pub server_cpu_s: Option<f64>,
    pub server_cpu_per_request_ms: Option<f64>,
    /// First distinct non-2xx status lines (status and body start).
    pub statuses: Vec<String>,
    pub errors: Vec<String>,
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("n/a".into(), |v| format!("{v:.3} ms"))
}

impl ApiReport {
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("target", self.target.clone()),
            ("tls", if self.tls { "yes" } else { "no" }.into()),
            ("concurrency", self.concurrency.to_string()),
            ("requests requested", self.requests_requested.to_string()),
            ("requests answered", self.answered.to_string()),
            ("answers 2xx", self.all.ok.to_string()),
            ("requests failed", self.failed.to_string()),
            ("wall time", format!("{:.3} s", self.wall_s)),
            ("requests/s", format!("{:.1}", self.requests_per_s)),
            ("latency p50", opt_ms(self.all.latency_p50_ms)),
            ("latency p90", opt_ms(self.all.latency_p90_ms)),
            ("latency p99", opt_ms(self.all.latency_p99_ms)),
            ("latency max", opt_ms(self.all.latency_max_ms)),
            ("client cpu", format!("{:.3} s", self.client_cpu_s)),
        ];
        if let Some(cpu) = self.server_cpu_s {
            rows.push(("server cpu", format!("{cpu:.3} s")));
            rows.push(("server cpu/request", opt_ms(self.server_cpu_per_request_ms)));
        }
        for s in &self.statuses {
            rows.push(("status", s.clone()));
        }
        for e in &self.errors {
            rows.push(("error", e.clone()));
        }
        let mut out = aligned(&rows, "");
        if !self.paths.is_empty() {
            out.push_str("per path (p50 / p90 / p99 / max, mean body):\n");
            for p in &self.paths {
                out.push_str(&format!(
                    "  {}: {} requests, {} 2xx, {} / {} / {} / {}, {}\n",
                    p.path,
                    p.requests,
                    p.ok,
                    opt_ms(p.latency_p50_ms),
                    opt_ms(p.latency_p90_ms),
                    opt_ms(p.latency_p99_ms),
                    opt_ms(p.latency_max_ms),
                    p.mean_body_bytes
                        .map_or("n/a".into(), |b| format!("{b:.0} bytes")),
                ));
            }
        }
        out.push_str(&result_line(self));
        out
    }
}

/// What every load task shares.
struct LoadShared {
    endpoint: Endpoint,
    host: String,
    auth: String,
    paths: Vec<String>,
    requests: u64,
    next: AtomicU64,
}

/// What one load task saw.
#[derive(Default)]
struct TaskResult {
    /// (path index, latency µs, status, body bytes).
    samples: Vec<(usize, u64, u16, usize)>,
    failed: u64,
    statuses: Vec<String>,
    errors: Vec<String>,
}

/// Runs the load of `bench api`.
pub async fn api_load(opts: &ApiBenchOptions) -> Result<ApiReport, String> {
    let endpoint = Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?;
    let shared = Arc::new(LoadShared {
        endpoint,
        host: opts.target.clone(),
        auth: basic_auth(&opts.user, &opts.password),
        paths: opts.paths.clone(),
        requests: opts.requests,
        next: AtomicU64::new(0),
    });
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: Vec::new(),
    };
    let cpu_before = procs.snapshot();
    let self_before = self_cpu_time();
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..opts.concurrency {
        tasks.spawn(load_task(shared.clone()));
    }
    let mut all = TaskResult::default();
    while let Some(joined) = tasks.join_next().await {
        let r = joined.map_err(|e| format!("load task: {e}"))?;
        all.samples.extend(r.samples);
        all.failed += r.failed;
        for s in r.statuses {
            note(&mut all.statuses, s);
        }
        for e in r.errors {
            note(&mut all.errors, e);
        }
    }
    let wall = started.elapsed();
    let server = (!procs.is_empty()).then(|| procs.cpu_since(&cpu_before));
    let answered = all.samples.len() as u64;
    let by_path = |i: Option<usize>| -> Vec<(u64, u16, usize)> {
        all.samples
            .iter()
            .filter(|s| i.is_none_or(|i| s.0 == i))
            .map(|s| (s.1, s.2, s.3))
            .collect()
    };
    Ok(ApiReport {
        target: opts.target.clone(),
        tls: opts.tls != crate::options::TlsMode::None,
        concurrency: opts.concurrency,
        requests_requested: opts.requests,
        answered,
        failed: all.failed,
        wall_s: wall.as_secs_f64(),
        requests_per_s: answered as f64 / wall.as_secs_f64().max(1e-9),
        all: PathReport::from_samples("all", &by_path(None)),
        paths: opts
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| PathReport::from_samples(p, &by_path(Some(i))))
            .collect(),
        client_cpu_s: self_cpu_time().saturating_sub(self_before).as_secs_f64(),
        server_cpu_s: server.map(|s| s.total.as_secs_f64()),
        server_cpu_per_request_ms: server
            .filter(|_| answered > 0)
            .map(|s| ms(s.total) / answered as f64),
        statuses: all.statuses,
        errors: all.errors,
    })
}

/// One connection's loop: takes request numbers until all N are taken.
async fn load_task(shared: Arc<LoadShared>) -> TaskResult {
    let mut r = TaskResult::default();
    let mut conn: Option<HttpConn> = None;
    let mut failures_in_a_row = 0;
    let headers = [("Authorization", shared.auth.clone())];
    loop {
        let n = shared.next.fetch_add(1, Ordering::Relaxed);
        if n >= shared.requests {
            return r;
        }
        let i = (n % shared.paths.len() as u64) as usize;
        let req = Request {
            method: "GET",
            path: &shared.paths[i],
            headers: &headers,
            body: None,
        };
        let t0 = Instant::now();
        let result = async {
            if conn.as_ref().is_none_or(|c| !c.reusable) {
                conn = Some(HttpConn::connect(&shared.endpoint, &shared.host).await?);
            }
            let c = conn.as_mut().expect("connected above");
            c.request(&req).await
        }
        .await;
        match result {
            Ok(resp) => {
                failures_in_a_row = 0;
                let status = resp.head.status;
                if !(200..300).contains(&status) {
                    let body = String::from_utf8_lossy(&resp.body);
                    note(
                        &mut r.statuses,
                        format!("{status} {}", body.chars().take(120).collect::<String>()),
                    );
                }
                r.samples
                    .push((i, t0.elapsed().as_micros() as u64, status, resp.body.len()));
            }
            Err(e) => {
                conn = None;
                r.failed += 1;
                failures_in_a_row += 1;
                note(&mut r.errors, e.to_string());
                if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
                    note(
                        &mut r.errors,
                        format!("a connection gave up after {MAX_CONSECUTIVE_FAILURES} failures in a row"),
                    );
                    return r;
                }
            }
        }
    }
}

/// What `--seed-accounts` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedReport {
    pub domain: String,
    pub accounts_requested: u64,
    pub created: u64,
    /// 409: the account existed (a rerun).
    pub existed: u64,
    pub failed: u64,
    pub wall_s: f64,
    pub accounts_per_s: f64,
    pub server_cpu_s: Option<f64>,
    pub errors: Vec<String>,
}

impl SeedReport {
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("domain", self.domain.clone()),
            ("accounts requested", self.accounts_requested.to_string()),
            ("accounts created", self.created.to_string()),
            ("accounts existing", self.existed.to_string()),
            ("accounts failed", self.failed.to_string()),
            ("wall time", format!("{:.3} s", self.wall_s)),
            ("accounts/s", format!("{:.1}", self.accounts_per_s)),
        ];
        if let Some(cpu) = self.server_cpu_s {
            rows.push(("server cpu", format!("{cpu:.3} s")));
        }
        for e in &self.errors {
            rows.push(("error", e.clone()));
        }
        let mut out = aligned(&rows, "");
        out.push_str(&result_line(self));
        out
    }
}

/// POSTs `body` (JSON) to `path` on `conn`, reconnecting if needed; the status.
async fn post_json(
    conn: &mut Option<HttpConn>,
    endpoint: &Endpoint,
    host: &str,
    auth: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<(u16, String), crate::client::ConnError> {
    if conn.as_ref().is_none_or(|c| !c.reusable) {
        *conn = Some(HttpConn::connect(endpoint, host).await?);
    }
    let bytes = body.to_string().into_bytes();
    let headers = [("Authorization", auth.to_string())];
    let req = Request {
        method: "POST",
        path,
        headers: &headers,
        body: Some(("application/json", &bytes)),
    };
    let c = conn.as_mut().expect("connected above");
    let resp = c.request(&req).await?;
    Ok((
        resp.head.status,
        String::from_utf8_lossy(&resp.body)
            .chars()
            .take(160)
            .collect(),
    ))
}

/// Creates the domain and `user1@DOMAIN`…`userN@DOMAIN` through the API.
pub async fn seed(opts: &ApiBenchOptions) -> Result<SeedReport, String> {
    let endpoint = Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?;
    let host = opts.target.clone();
    let auth = basic_auth(&opts.user, &opts.password);
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: Vec::new(),
    };
    let cpu_before = procs.snapshot();
    let started = Instant::now();
    let mut conn = None;
    let domain = serde_json::json!({ "name": opts.seed_domain });
    match post_json(
        &mut conn,
        &endpoint,
        &host,
        &auth,
        "/api/v1/domains",
        &domain,
    )
    .await
    {
        Ok((201 | 200 | 409, _)) => {}
        Ok((status, body)) => return Err(format!("creating the domain: {status} {body}")),
        Err(e) => return Err(format!("creating the domain: {e}")),
    }
    let shared = Arc::new((endpoint, host, auth, AtomicU64::new(1)));
    let mut tasks = JoinSet::new();
    for _ in 0..opts.concurrency {
        let shared = shared.clone();
        let (n, domain, password) = (
            opts.seed_accounts,
            opts.seed_domain.clone(),
            opts.seed_password.clone(),
        );
        tasks.spawn(async move {
            let (endpoint, host, auth, next) = &*shared;
            let mut conn = None;
            let (mut created, mut existed, mut failed, mut errors) = (0u64, 0u64, 0u64, Vec::new());
            let mut failures_in_a_row = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i > n {
                    break;
                }
                let body = serde_json::json!({
                    "address": format!("user{i}@{domain}"),
                    "password": password,
                });
                match post_json(&mut conn, endpoint, host, auth, "/api/v1/accounts", &body).await {
                    Ok((200..=299, _)) => {
                        created += 1;
                        failures_in_a_row = 0;
                    }
                    Ok((409, _)) => {
                        existed += 1;
                        failures_in_a_row = 0;
                    }
                    Ok((status, text)) => {
                        failed += 1;
                        failures_in_a_row += 1;
                        note(&mut errors, format!("{status} {text}"));
                    }
                    Err(e) => {
                        conn = None;
                        failed += 1;
                        failures_in_a_row += 1;
                        note(&mut errors, e.to_string());
                    }
                }
                if failures_in_a_row >= MAX_CONSECUTIVE_FAILURES {
                    note(
                        &mut errors,
                        "a connection gave up after 10 failures in a row".into(),
                    );
                    break;
                }
            }
            (created, existed, failed, errors)
        });
    }
    let mut report = SeedReport {
        domain: opts.seed_domain.clone(),
        accounts_requested: opts.seed_accounts,
        ..SeedReport::default()
    };
    while let Some(joined) = tasks.join_next().await {
        let (c, x, f, errors) = joined.map_err(|e| format!("seed task: {e}"))?;
        report.created += c;
        report.existed += x;
        report.failed += f;
        for e in errors {
            note(&mut report.errors, e);
        }
    }
    let wall = started.elapsed();
    report.wall_s = wall.as_secs_f64();
    report.accounts_per_s = (report.created + report.existed) as f64 / report.wall_s.max(1e-9);
    report.server_cpu_s =
        (!procs.is_empty()).then(|| procs.cpu_since(&cpu_before).total.as_secs_f64());
    Ok(report)
}

/// What `bench sse` measured.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SseReport {
    pub target: String,
    pub stream: String,
    pub dashboards_requested: usize,
    /// Streams that answered 200 and stayed open through the measurement.
    pub dashboards_open: usize,
    pub seconds: f64,
    pub idle_cpu_s: f64,
    pub open_cpu_s: f64,
    /// Idle server CPU as a percentage of one core.
    pub idle_core_pct: f64,
    pub open_core_pct: f64,
    /// (open − idle) / dashboards, percentage of one core.
    pub per_dashboard_core_pct: Option<f64>,
    /// Events received by all streams, from opening to the end of the measurement.
    pub events: u64,
    pub bytes: u64,
    pub errors: Vec<String>,
}

impl SseReport {
    pub fn render(&self) -> String {
        let mut rows: Vec<(&str, String)> = vec![
            ("target", self.target.clone()),
            ("stream", self.stream.clone()),
            (
                "dashboards requested",
                self.dashboards_requested.to_string(),
            ),
            ("dashboards open", self.dashboards_open.to_string()),
            ("seconds per phase", format!("{:.1}", self.seconds)),
            (
                "server cpu idle",
                format!(
                    "{:.3} s ({:.3} % of a core)",
                    self.idle_cpu_s, self.idle_core_pct
                ),
            ),
            (
                "server cpu open",
                format!(
                    "{:.3} s ({:.3} % of a core)",
                    self.open_cpu_s, self.open_core_pct
                ),
            ),
            (
                "per open dashboard",
                self.per_dashboard_core_pct
                    .map_or("n/a".into(), |p| format!("{p:.4} % of a core")),
            ),
            ("events received", self.events.to_string()),
            ("bytes received", self.bytes.to_string()),
        ];
        for e in &self.errors {
            rows.push(("error", e.clone()));
        }
        let mut out = aligned(&rows, "");
        out.push_str(&result_line(self));
        out
    }
}

/// The `Cookie` header of a dashboard session: `POST /login` with the address and
/// password (the form the login page posts; no session yet, so no CSRF token is due).
async fn login_cookie(
    endpoint: &Endpoint,
    host: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    let mut conn = HttpConn::connect(endpoint, host)
        .await
        .map_err(|e| format!("login: {e}"))?;
    let body = format!(
        "address={}&password={}",
        form_encode(user),
        form_encode(password)
    );
    let req = Request {
        method: "POST",
        path: "/login",
        headers: &[],
        body: Some(("application/x-www-form-urlencoded", body.as_bytes())),
    };
    let resp = conn
        .request(&req)
        .await
        .map_err(|e| format!("login: {e}"))?;
    let cookies = resp.head.cookies();
    if resp.head.status != 303 || cookies.is_empty() {
        return Err(format!(
            "login refused: {} {}",
            resp.head.status,
            String::from_utf8_lossy(&resp.body)
                .chars()
                .take(160)
                .collect::<String>()
        ));
    }
    Ok(cookies.join("; "))
}

/// Measures idle CPU, then CPU with N streams open.
pub async fn sse_cost(opts: &ApiBenchOptions) -> Result<SseReport, String> {
    let endpoint = Arc::new(Endpoint::resolve(&opts.target, opts.tls, opts.timeout).await?);
    let host = opts.target.clone();
    let header = if opts.stream.starts_with("/api/") {
        ("Authorization", basic_auth(&opts.user, &opts.password))
    } else {
        (
            "Cookie",
            login_cookie(&endpoint, &host, &opts.user, &opts.password).await?,
        )
    };
    let procs = ServerProcs {
        pids: opts.server_pids.clone(),
        comms: Vec::new(),
    };
    let phase = Duration::from_secs(opts.seconds);
    // Idle: nothing open (the login's connection is closed by now).
    let before = procs.snapshot();
    tokio::time::sleep(phase).await;
    let idle = before.elapsed_until(&procs.snapshot());

    // Open every stream and wait for its head before measuring.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (ready_tx, mut ready_rx) =
        tokio::sync::mpsc::channel::<Result<(), String>>(opts.dashboards);
    let mut tasks = JoinSet::new();
    for _ in 0..opts.dashboards {
        let (endpoint, host, header, stream) = (
            endpoint.clone(),
            host.clone(),
            header.clone(),
            opts.stream.clone(),
        );
        let (ready, mut stop) = (ready_tx.clone(), stop_rx.clone());
        tasks.spawn(async move {
            let headers = [(header.0, header.1)];
            let req = Request {
                method: "GET",
                path: &stream,
                headers: &headers,
                body: None,
            };
            let opened = async {
                let mut conn = HttpConn::connect(&endpoint, &host).await?;
                let head = conn.send_and_read_head(&req).await?;
                Ok::<_, crate::client::ConnError>((conn, head))
            }
            .await;
            let mut conn = match opened {
                Ok((conn, head)) if head.status == 200 && head.chunked() => conn,
                Ok((_, head)) => {
                    let _ = ready
                        .send(Err(format!("stream answered {}", head.status)))
                        .await;
                    return None;
                }
                Err(e) => {
                    let _ = ready.send(Err(format!("stream: {e}"))).await;
                    return None;
                }
            };
            let _ = ready.send(Ok(())).await;
            let mut counter = SseCounter::new();
            let result = conn
                .stream_until(&mut counter, async {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            Some((counter, result.err().map(|e| e.to_string())))
        });
    }
    drop(ready_tx);
    let mut errors = Vec::new();
    let mut opened = 0;
    for _ in 0..opts.dashboards {
        match ready_rx.recv().await {
            Some(Ok(())) => opened += 1,
            Some(Err(e)) => note(&mut errors, e),
            None => break,
        }
    }
    // Let the first events (sent at once on opening) pass before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = procs.snapshot();
    let t0 = Instant::now();
    tokio::time::sleep(phase).await;
    let open = before.elapsed_until(&procs.snapshot());
    let measured = t0.elapsed();
    let _ = stop_tx.send(true);
    let (mut events, mut bytes, mut still_open) = (0, 0, 0);
    while let Some(joined) = tasks.join_next().await {
        if let Some((counter, err)) = joined.map_err(|e| format!("stream task: {e}"))? {
            events += counter.events;
            bytes += counter.bytes;
            match err {
                None => still_open += 1,
                Some(e) => note(&mut errors, format!("stream ended early: {e}")),
            }
        }
    }
    let pct = |cpu: Duration, over: Duration| 100.0 * cpu.as_secs_f64() / over.as_secs_f64();
    let idle_pct = pct(idle, phase);
    let open_pct = pct(open, measured);
    Ok(SseReport {
        target: opts.target.clone(),
        stream: opts.stream.clone(),
        dashboards_requested: opts.dashboards,
        dashboards_open: still_open.min(opened),
        seconds: phase.as_secs_f64(),
        idle_cpu_s: idle.as_secs_f64(),
        open_cpu_s: open.as_secs_f64(),
        idle_core_pct: idle_pct,
        open_core_pct: open_pct,
        per_dashboard_core_pct: (still_open > 0).then(|| (open_pct - idle_pct) / still_open as f64),
        events,
        bytes,
        errors,
    })
}
