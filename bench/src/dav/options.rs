//! Command-line options of `ferrymail bench dav`.

use std::time::Duration;

use crate::options::{number, parse_target, OptionArgs, TlsMode};

/// Usage of `bench dav`.
pub const USAGE: &str = "\
usage: ferrymail bench dav --target HOST:PORT --user ADDR --password P [options]

  A CalDAV calendar under load (issue 15): seeds N events by PUT (a mix of single,
  all-day and recurring events with overridden instances, spread over 2026), then
  measures, each after unmeasured warm-up requests, one after the other:
    sync       sync-collection from a token taken just before ONE change
    query      calendar-query of a one-month time-range (getetag, calendar-data)
    expand     the same with calendar-data expanded over the month
    propfind   PROPFIND Depth 1 over the collection (getetag, getcontenttype), with
               the server's resident memory before, after and at its peak
  and reports requests/s, latency p50/p90/p99/max, bytes and responses per answer and
  the server's CPU per request (utime + stime from /proc, --server-pid).

  --target HOST:PORT          the http (or, with --tls, https) listener (required)
  --user ADDR, --password P   the calendar owner's credentials (required)
  --tls                       HTTPS (accepts ANY certificate: bench only)
  --calendar NAME             the calendar, made by MKCALENDAR if missing (default bench)
  --seed N                    events to PUT first (default 10000; 0: use what is there)
  --recurring-share F         share of repeating events, 0 to 1 (default 0.1)
  --month YYYY-MM             the month of the time-range queries (default 2026-06)
  --requests R                measured requests per phase (default 200)
  --warmup W                  unmeasured requests before each phase (default 10)
  --concurrency C             connections (default 1; seeding uses 4 at least)
  --phase NAME                run only this phase (repeatable: sync, query, expand, propfind)
  --server-pid PID            the server: CPU and memory from /proc (repeatable)
  --timeout SECS              timeout per request (default 120)
";

/// A measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Sync,
    Query,
    Expand,
    Propfind,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Sync, Phase::Query, Phase::Expand, Phase::Propfind];

    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Sync => "sync",
            Phase::Query => "query",
            Phase::Expand => "expand",
            Phase::Propfind => "propfind",
        }
    }

    fn parse(s: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Options of `bench dav`.
#[derive(Debug, Clone, PartialEq)]
pub struct DavBenchOptions {
    pub target: String,
    pub user: String,
    pub password: String,
    pub tls: TlsMode,
    pub calendar: String,
    pub seed: u64,
    pub recurring_share: f64,
    pub month: String,
    /// `[start, end)` of `month`.
    pub range: (i64, i64),
    pub requests: u64,
    pub warmup: u64,
    pub concurrency: usize,
    pub phases: Vec<Phase>,
    pub server_pids: Vec<u32>,
    pub timeout: Duration,
}

impl Default for DavBenchOptions {
    fn default() -> Self {
        let month = "2026-06".to_string();
        DavBenchOptions {
            target: String::new(),
            user: String::new(),
            password: String::new(),
            tls: TlsMode::None,
            calendar: "bench".into(),
            seed: 10_000,
            recurring_share: 0.1,
            range: super::bodies::month_range(&month).expect("default month"),
            month,
            requests: 200,
            warmup: 10,
            concurrency: 1,
            phases: Phase::ALL.to_vec(),
            server_pids: Vec::new(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// What parsing found.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<DavBenchOptions>),
    Help,
}

/// Bounds that keep a typo from exhausting the machine.
const MAX_SEED: u64 = 1_000_000;
const MAX_CONCURRENCY: u64 = 1_000;
const MAX_SECS: u64 = 24 * 3600;

/// Parses the arguments after `bench dav`.
pub fn parse_dav_args(args: &[String]) -> Result<Parsed, String> {
    let mut o = DavBenchOptions::default();
    let mut target = None;
    let mut phases = Vec::new();
    let mut args = OptionArgs::new(args);
    while let Some((name, inline)) = args.next_option() {
        match name {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--tls" => {
                if inline.is_some() {
                    return Err("--tls takes no value".into());
                }
                o.tls = TlsMode::Implicit;
                continue;
            }
            _ => {}
        }
        let value = args.value(name, inline)?;
        match name {
            "--target" => target = Some(parse_target(&value)?),
            "--user" => o.user = value,
            "--password" => o.password = value,
            "--calendar" => o.calendar = segment(&value)?,
            "--seed" => o.seed = number(name, &value, 0, MAX_SEED)?,
            "--recurring-share" => {
                o.recurring_share = value
                    .parse::<f64>()
                    .ok()
                    .filter(|f| (0.0..=1.0).contains(f))
                    .ok_or_else(|| format!("--recurring-share: not a share 0..1: {value:?}"))?
            }
            "--month" => {
                o.range = super::bodies::month_range(&value)?;
                o.month = value;
            }
            "--requests" => o.requests = number(name, &value, 1, u64::MAX)?,
            "--warmup" => o.warmup = number(name, &value, 0, 1_000_000)?,
            "--concurrency" => o.concurrency = number(name, &value, 1, MAX_CONCURRENCY)? as usize,
            "--phase" => {
                let p = Phase::parse(&value).ok_or_else(|| {
                    format!("--phase: one of sync, query, expand, propfind, not {value:?}")
                })?;
                if !phases.contains(&p) {
                    phases.push(p);
                }
            }
            "--server-pid" => o
                .server_pids
                .push(number(name, &value, 1, u32::MAX as u64)? as u32),
            "--timeout" => o.timeout = Duration::from_secs(number(name, &value, 1, MAX_SECS)?),
            _ => return Err(format!("unknown option {name}")),
        }
    }
    o.target = target.ok_or("--target HOST:PORT is required")?;
    if o.user.is_empty() || o.user.contains(':') || !o.user.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("--user ADDR is required (printable, without ':')".into());
    }
    if o.password.is_empty() {
        return Err("--password is required".into());
    }
    if !phases.is_empty() {
        o.phases = phases;
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// A calendar name as one path segment: letters, digits, `-`, `_`, `.` (not the dot names).
fn segment(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        return Err(format!(
            "--calendar: letters, digits, '-', '_' and '.' only, got {value:?}"
        ));
    }
    Ok(value.to_string())
}
