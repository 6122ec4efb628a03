//! Command-line options of `ferrymail bench smtp`.
//!
//! Options take their value as the next argument or after `=`
//! (`--size 4096`, `--size=4096`). Repeatable options (`--to`, `--server-pid`,
//! `--server-pids-from-cmd`) accumulate; `--to` also splits on commas.

use std::fmt;
use std::time::Duration;

/// Usage text shown for `--help` and after every usage error.
pub const USAGE: &str = "\
usage: ferrymail bench smtp --target HOST:PORT [options]

  --target HOST:PORT          SMTP server to load (required)
  --connections C             concurrent connections (default 8)
  --messages N                messages to send in total (default 1000)
  --size BYTES                size of each message (default 4096)
  --from ADDR                 envelope and header sender (default bench@example.com)
  --to ADDR[,ADDR...]         recipient(s), repeatable; messages round-robin over them
                              (default postmaster@localhost)
  --helo NAME                 name sent with EHLO (default bench.ferrymail.invalid)
  --starttls                  upgrade with STARTTLS (accepts ANY certificate: bench only)
  --tls                       implicit TLS (accepts ANY certificate: bench only)
  --auth USER:PASS            authenticate with AUTH PLAIN
  --pipelining                pipeline MAIL/RCPT/DATA when the server offers PIPELINING
  --server-pid PID            measure CPU of PID and its descendants (repeatable)
  --server-pids-from-cmd NAME measure CPU of every process named NAME (repeatable)
  --timeout SECS              timeout per command (default 30)
  --duration-limit SECS       stop starting new messages after SECS (default 600)
";

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain TCP.
    None,
    /// Plain TCP, then `STARTTLS` (RFC 3207) after the first EHLO.
    StartTls,
    /// TLS from the first byte (RFC 8314).
    Implicit,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "tls",
        }
    }
}

/// AUTH PLAIN credentials; `Debug` never prints the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub pass: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("pass", &"<hidden>")
            .finish()
    }
}

/// Everything `smtp_load` needs to run.
#[derive(Debug, Clone, PartialEq)]
pub struct SmtpBenchOptions {
    pub target: String,
    pub connections: usize,
    pub messages: u64,
    pub size: usize,
    pub from: String,
    /// Never empty once parsed: message `n` goes to `to[n % to.len()]`.
    pub to: Vec<String>,
    pub helo: String,
    pub tls: TlsMode,
    pub auth: Option<Credentials>,
    pub pipelining: bool,
    pub server_pids: Vec<u32>,
    pub server_comms: Vec<String>,
    pub timeout: Duration,
    pub duration_limit: Duration,
}

impl Default for SmtpBenchOptions {
    fn default() -> Self {
        SmtpBenchOptions {
            target: String::new(),
            connections: 8,
            messages: 1000,
            size: 4096,
            from: "bench@example.com".into(),
            to: vec!["postmaster@localhost".into()],
            helo: "bench.ferrymail.invalid".into(),
            tls: TlsMode::None,
            auth: None,
            pipelining: false,
            server_pids: Vec::new(),
            server_comms: Vec::new(),
            timeout: Duration::from_secs(30),
            duration_limit: Duration::from_secs(600),
        }
    }
}

/// Upper bounds that keep a typo from exhausting the machine.
const MAX_CONNECTIONS: usize = 10_000;
const MAX_SIZE: usize = 100 * 1024 * 1024;
const MAX_SECS: u64 = 7 * 24 * 3600;

/// What `parse_smtp_args` found: options to run with, or a request for help.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<SmtpBenchOptions>),
    Help,
}

/// Parses the arguments after `bench smtp`. Errors name the offending option.
pub fn parse_smtp_args(args: &[String]) -> Result<Parsed, String> {
    let mut o = SmtpBenchOptions::default();
    let mut target = None;
    let mut to: Vec<String> = Vec::new();
    let mut args = OptionArgs::new(args);
    while let Some((name, inline)) = args.next_option() {
        if let Some(flag) = parse_flag(name, &mut o)? {
            if inline.is_some() {
                return Err(format!("{flag} takes no value"));
            }
            if flag == "help" {
                return Ok(Parsed::Help);
            }
            continue;
        }
        let value = args.value(name, inline)?;
        match name {
            "--target" => target = Some(parse_target(&value)?),
            "--connections" => {
                o.connections = number(name, &value, 1, MAX_CONNECTIONS as u64)? as usize
            }
            "--messages" => o.messages = number(name, &value, 1, u64::MAX)?,
            "--size" => o.size = number(name, &value, 1, MAX_SIZE as u64)? as usize,
            "--from" => o.from = address(name, &value)?,
            "--to" => {
                for part in value.split(',').filter(|p| !p.trim().is_empty()) {
                    to.push(address(name, part.trim())?);
                }
            }
            "--helo" => o.helo = helo(&value)?,
            "--auth" => o.auth = Some(credentials(&value)?),
            "--server-pid" => o
                .server_pids
                .push(number(name, &value, 1, u32::MAX as u64)? as u32),
            "--server-pids-from-cmd" => o.server_comms.push(comm(&value)?),
            "--timeout" => o.timeout = Duration::from_secs(number(name, &value, 1, MAX_SECS)?),
            "--duration-limit" => {
                o.duration_limit = Duration::from_secs(number(name, &value, 1, MAX_SECS)?)
            }
            _ => return Err(format!("unknown option {name}")),
        }
    }
    o.target = target.ok_or("--target HOST:PORT is required")?;
    if !to.is_empty() {
        o.to = to;
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// Walks command-line options: `--name value`, `--name=value` and value-less flags.
pub(super) struct OptionArgs<'a> {
    args: &'a [String],
    i: usize,
}

impl<'a> OptionArgs<'a> {
    pub(super) fn new(args: &'a [String]) -> OptionArgs<'a> {
        OptionArgs { args, i: 0 }
    }

    /// The next option's name and the value given after `=`, if any.
    pub(super) fn next_option(&mut self) -> Option<(&'a str, Option<String>)> {
        let arg = self.args.get(self.i)?;
        self.i += 1;
        Some(match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        })
    }

    /// The value of option `name`: the one after `=`, or the next argument.
    pub(super) fn value(&mut self, name: &str, inline: Option<String>) -> Result<String, String> {
        if let Some(v) = inline {
            return Ok(v);
        }
        let v = self
            .args
            .get(self.i)
            .ok_or_else(|| format!("{name} needs a value"))?;
        self.i += 1;
        Ok(v.clone())
    }
}

/// `--tls` and `--starttls`: sets `tls` and returns true; false for any other option.
pub(super) fn tls_option(
    name: &str,
    inline: &Option<String>,
    tls: &mut TlsMode,
) -> Result<bool, String> {
    let mode = match name {
        "--tls" => TlsMode::Implicit,
        "--starttls" => TlsMode::StartTls,
        _ => return Ok(false),
    };
    if inline.is_some() {
        return Err(format!("{name} takes no value"));
    }
    if *tls != TlsMode::None && *tls != mode {
        return Err("--tls and --starttls exclude each other".into());
    }
    *tls = mode;
    Ok(true)
}

/// Applies a value-less option; returns its name, or `None` if `name` is not one.
fn parse_flag(name: &str, o: &mut SmtpBenchOptions) -> Result<Option<&'static str>, String> {
    let (flag, tls) = match name {
        "--starttls" => ("--starttls", Some(TlsMode::StartTls)),
        "--tls" => ("--tls", Some(TlsMode::Implicit)),
        "--pipelining" => ("--pipelining", None),
        "--help" | "-h" => ("help", None),
        _ => return Ok(None),
    };
    match tls {
        Some(mode) if o.tls != TlsMode::None && o.tls != mode => {
            return Err("--tls and --starttls exclude each other".into())
        }
        Some(mode) => o.tls = mode,
        None if flag == "--pipelining" => o.pipelining = true,
        None => {}
    }
    Ok(Some(flag))
}

pub(super) fn number(name: &str, value: &str, min: u64, max: u64) -> Result<u64, String> {
    let n: u64 = value
        .parse()
        .map_err(|_| format!("{name}: not a number: {value:?}"))?;
    if n < min || n > max {
        return Err(format!("{name}: {n} is out of range {min}..={max}"));
    }
    Ok(n)
}

/// `HOST:PORT` or `[V6]:PORT`, with a numeric port.
pub(super) fn parse_target(value: &str) -> Result<String, String> {
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("--target: expected HOST:PORT, got {value:?}"))?;
    if host.is_empty() {
        return Err(format!("--target: empty host in {value:?}"));
    }
    number("--target port", port, 1, u16::MAX as u64)?;
    Ok(value.to_string())
}

/// Addresses go into SMTP commands verbatim, so nothing that could end or
/// split a command line is allowed.
fn address(name: &str, value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 254
        && value.contains('@')
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
    if !ok {
        return Err(format!("{name}: not a usable address: {value:?}"));
    }
    Ok(value.to_string())
}

fn helo(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!("--helo: not a usable name: {value:?}"));
    }
    Ok(value.to_string())
}

fn credentials(value: &str) -> Result<Credentials, String> {
    let (user, pass) = value.split_once(':').ok_or("--auth: expected USER:PASS")?;
    if user.is_empty() || user.contains('\0') || pass.contains('\0') {
        return Err("--auth: user must be non-empty and neither part may contain NUL".into());
    }
    Ok(Credentials {
        user: user.into(),
        pass: pass.into(),
    })
}

/// A process name as in /proc/PID/comm: at most 15 bytes, no slash.
pub(super) fn comm(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 15 || value.contains('/') {
        return Err(format!(
            "--server-pids-from-cmd: not a process name: {value:?}"
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run_opts(s: &str) -> SmtpBenchOptions {
        match parse_smtp_args(&args(s)) {
            Ok(Parsed::Run(o)) => *o,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse_smtp_args(&args(s)) {
            Err(e) => e,
            other => panic!("{s}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_only_target() {
        let o = run_opts("--target 127.0.0.1:2525");
        let expected = SmtpBenchOptions {
            target: "127.0.0.1:2525".into(),
            ..SmtpBenchOptions::default()
        };
        assert_eq!(o, expected);
        assert_eq!(o.connections, 8);
        assert_eq!(o.messages, 1000);
        assert_eq!(o.size, 4096);
        assert_eq!(o.from, "bench@example.com");
        assert_eq!(o.to, vec!["postmaster@localhost".to_string()]);
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert_eq!(o.duration_limit, Duration::from_secs(600));
        assert_eq!(o.tls, TlsMode::None);
        assert!(!o.pipelining && o.auth.is_none());
    }

    #[test]
    fn every_option_is_parsed() {
        let o = run_opts(
            "--target mx.example:25 --connections 32 --messages 5000 --size 1024 \
             --from a@b.example --to x@y.example,z@y.example --to w@y.example \
             --helo client.example --starttls --auth joe:se:cret --pipelining \
             --server-pid 100 --server-pid 200 --server-pids-from-cmd smtpd \
             --server-pids-from-cmd cleanup --timeout 5 --duration-limit 60",
        );
        assert_eq!(o.target, "mx.example:25");
        assert_eq!(o.connections, 32);
        assert_eq!(o.messages, 5000);
        assert_eq!(o.size, 1024);
        assert_eq!(o.from, "a@b.example");
        assert_eq!(o.to, ["x@y.example", "z@y.example", "w@y.example"]);
        assert_eq!(o.helo, "client.example");
        assert_eq!(o.tls, TlsMode::StartTls);
        let auth = o.auth.expect("auth parsed");
        assert_eq!((auth.user.as_str(), auth.pass.as_str()), ("joe", "se:cret"));
        assert!(o.pipelining);
        assert_eq!(o.server_pids, [100, 200]);
        assert_eq!(o.server_comms, ["smtpd", "cleanup"]);
        assert_eq!(o.timeout, Duration::from_secs(5));
        assert_eq!(o.duration_limit, Duration::from_secs(60));
    }

    #[test]
    fn inline_values_and_implicit_tls() {
        let o = run_opts("--target=[::1]:465 --tls --messages=7");
        assert_eq!(o.target, "[::1]:465");
        assert_eq!(o.tls, TlsMode::Implicit);
        assert_eq!(o.messages, 7);
    }

    #[test]
    fn help_is_not_an_error() {
        assert_eq!(parse_smtp_args(&args("--help")), Ok(Parsed::Help));
        assert_eq!(parse_smtp_args(&args("--target a:1 -h")), Ok(Parsed::Help));
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(err("--connections 4").contains("--target"));
        assert!(err("").contains("--target"));
        assert!(err("--target localhost").contains("HOST:PORT"));
        assert!(err("--target localhost:smtp").contains("not a number"));
        assert!(err("--target :25").contains("empty host"));
        assert!(err("--target a:1 --connections x").contains("--connections: not a number"));
        assert!(err("--target a:1 --connections 0").contains("out of range"));
        assert!(err("--target a:1 --messages -5").contains("--messages"));
        assert!(err("--target a:1 --size 1e3").contains("--size"));
        assert!(err("--target a:1 --timeout 0").contains("--timeout"));
        assert!(err("--target a:1 --duration-limit x").contains("--duration-limit"));
        assert!(err("--target a:1 --server-pid abc").contains("--server-pid"));
        assert!(err("--target a:1 --bogus 3").contains("unknown option --bogus"));
        assert!(err("--target a:1 --messages").contains("needs a value"));
        assert!(err("--target a:1 --tls=yes").contains("takes no value"));
        assert!(err("--target a:1 --tls --starttls").contains("exclude"));
        assert!(err("--target a:1 --auth nopass").contains("USER:PASS"));
        assert!(err("--target a:1 --to bad<addr@x>").contains("--to"));
        assert!(err("--target a:1 --from noatsign").contains("--from"));
        assert!(err("--target a:1 --server-pids-from-cmd a/b").contains("process name"));
    }

    #[test]
    fn debug_hides_password() {
        let c = Credentials {
            user: "joe".into(),
            pass: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
