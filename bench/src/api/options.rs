//! Command-line options of `ferrymail bench api` and `ferrymail bench sse`.

use std::time::Duration;

use crate::options::{number, parse_target, OptionArgs, TlsMode};

/// Usage of `bench api`.
pub const USAGE: &str = "\
usage: ferrymail bench api --target HOST:PORT --user ADDR --password P [options]

  GET requests with HTTP Basic over keep-alive connections; reports requests/s, latency
  percentiles (overall and per path) and the server's CPU per request.

  --target HOST:PORT          the admin listener (required)
  --user ADDR, --password P   an administrator's credentials (required)
  --tls                       HTTPS (accepts ANY certificate: bench only)
  --requests N                requests in total (default 1000)
  --concurrency C             connections, each with one request at a time (default 4)
  --path PATH                 request path, repeatable; requests round-robin over them
                              (default /api/v1/accounts?limit=50)
  --seed-accounts N           instead of the load: create the domain of --seed-domain and
                              N accounts user1@DOMAIN… through POST /api/v1/accounts
  --seed-domain DOMAIN        (default bench.test)
  --seed-password P           the seeded accounts' password (default bench-password)
  --server-pid PID            measure CPU of PID and its descendants (repeatable)
  --timeout SECS              timeout per request (default 30)
";

/// Usage of `bench sse`.
pub const SSE_USAGE: &str = "\
usage: ferrymail bench sse --target HOST:PORT --user ADDR --password P --server-pid PID [options]

  The cost of open dashboards: the server's CPU over S seconds idle, then over S seconds
  with N live streams open, reported per open dashboard as a share of one core.

  --target HOST:PORT          the admin listener (required)
  --user ADDR, --password P   an administrator's credentials (required)
  --server-pid PID            the server (required, repeatable)
  --tls                       HTTPS (accepts ANY certificate: bench only)
  --dashboards N              concurrent streams (default 10)
  --seconds S                 length of each measurement (default 30)
  --stream PATH               the stream (default /events, the dashboard's feed, after a
                              login through POST /login; a path under /api/ uses Basic)
  --timeout SECS              timeout per request (default 30)
";

/// Options of both commands.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiBenchOptions {
    pub target: String,
    pub user: String,
    pub password: String,
    pub tls: TlsMode,
    pub requests: u64,
    pub concurrency: usize,
    pub paths: Vec<String>,
    pub seed_accounts: u64,
    pub seed_domain: String,
    pub seed_password: String,
    pub dashboards: usize,
    pub seconds: u64,
    pub stream: String,
    pub server_pids: Vec<u32>,
    pub timeout: Duration,
}

impl Default for ApiBenchOptions {
    fn default() -> Self {
        ApiBenchOptions {
            target: String::new(),
            user: String::new(),
            password: String::new(),
            tls: TlsMode::None,
            requests: 1000,
            concurrency: 4,
            paths: Vec::new(),
            seed_accounts: 0,
            seed_domain: "bench.test".into(),
            seed_password: "bench-password".into(),
            dashboards: 10,
            seconds: 30,
            stream: "/events".into(),
            server_pids: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Which command the options are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Api,
    Sse,
}

/// What parsing found.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<ApiBenchOptions>),
    Help,
}

/// Bounds that keep a typo from exhausting the machine.
const MAX_CONCURRENCY: u64 = 10_000;
const MAX_SECS: u64 = 24 * 3600;

/// Parses the arguments after `bench api` or `bench sse`.
pub fn parse_api_args(command: Command, args: &[String]) -> Result<Parsed, String> {
    let mut o = ApiBenchOptions::default();
    let mut target = None;
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
        match (command, name) {
            (_, "--target") => target = Some(parse_target(&value)?),
            (_, "--user") => o.user = value,
            (_, "--password") => o.password = value,
            (_, "--server-pid") => o
                .server_pids
                .push(number(name, &value, 1, u32::MAX as u64)? as u32),
            (_, "--timeout") => o.timeout = Duration::from_secs(number(name, &value, 1, MAX_SECS)?),
            (Command::Api, "--requests") => o.requests = number(name, &value, 1, u64::MAX)?,
            (Command::Api, "--concurrency") => {
                o.concurrency = number(name, &value, 1, MAX_CONCURRENCY)? as usize
            }
            (Command::Api, "--path") => o.paths.push(path(name, &value)?),
            (Command::Api, "--seed-accounts") => {
                o.seed_accounts = number(name, &value, 1, 10_000_000)?
            }
            (Command::Api, "--seed-domain") => o.seed_domain = value,
            (Command::Api, "--seed-password") => o.seed_password = value,
            (Command::Sse, "--dashboards") => {
                o.dashboards = number(name, &value, 1, MAX_CONCURRENCY)? as usize
            }
            (Command::Sse, "--seconds") => o.seconds = number(name, &value, 1, MAX_SECS)?,
            (Command::Sse, "--stream") => o.stream = path(name, &value)?,
            _ => return Err(format!("unknown option {name}")),
        }
    }
    o.target = target.ok_or("--target HOST:PORT is required")?;
    if o.user.is_empty() || o.user.contains(':') {
        return Err("--user ADDR is required (and may not contain ':')".into());
    }
    if o.password.is_empty() {
        return Err("--password is required".into());
    }
    if command == Command::Sse && o.server_pids.is_empty() {
        return Err("--server-pid is required: the result is the server's CPU".into());
    }
    if o.paths.is_empty() {
        o.paths.push("/api/v1/accounts?limit=50".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// A request target: starts with `/`, printable ASCII without spaces.
fn path(name: &str, value: &str) -> Result<String, String> {
    if !value.starts_with('/') || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("{name}: not a request path: {value:?}"));
    }
    Ok(value.to_string())
}
