//! Command-line options of `ferrymail bench imap`.
//!
//! Same conventions as `bench smtp`: a value follows its option or comes
//! after `=`; repeatable options accumulate. Accounts come from `--user` and
//! `--password`, or from `--users FILE` (lines `user:password`; blank lines
//! and lines starting with `#` are skipped), and clients take them round robin.

use std::time::Duration;

use crate::options::{comm, number, parse_target, tls_option, Credentials, OptionArgs, TlsMode};

/// Usage text shown for `--help` and after every usage error.
pub const USAGE: &str = "\
usage: ferrymail bench imap --target HOST:PORT (--user U --password P | --users FILE) [options]

  --target HOST:PORT          IMAP server to load (required)
  --user U --password P       one account for every client
  --users FILE                accounts, one `user:password` a line; clients take them round robin
  --clients C                 concurrent clients running the load (default 8; 0: no load)
  --mix mixed|stress          mixed: the command mix in docs/benchmarks.md (default);
                              stress: imaptest's stress-mode sessions (LOGIN, LIST, STATUS,
                              SELECT, FETCH, STORE, \\Deleted, EXPUNGE, APPEND, LOGOUT), every
                              client on its own account, so LOGINs after the first return
  --seconds S                 how long the load runs (default 10)
  --mailbox NAME              mailbox to select and append to (default INBOX)
  --size BYTES                size of each appended message (default 4096)
  --prepare N                 first APPEND N messages to each account's mailbox
  --probe ROUNDS              time SELECT, FETCH 1:* (FLAGS UID), UID SEARCH UNSEEN and
                              UID SEARCH SUBJECT x on one connection, ROUNDS times
  --probe-no-fetch            leave FETCH 1:* out of the probe
  --fetch-all ROUNDS          FETCH 1:* BODY.PEEK[] of the whole mailbox ROUNDS times on one
                              connection; reports MB/s and, with --server-pid, the server's
                              RSS growth (sampled every 100 ms) and CPU per MB
  --idle-clients N            hold N connections in IDLE during the load (or for S seconds)
                              and report the server's resident memory per connection
  --tls                       implicit TLS (accepts ANY certificate: bench only)
  --starttls                  upgrade with STARTTLS (accepts ANY certificate: bench only)
  --server-pid PID            measure CPU and memory of PID and its descendants (repeatable)
  --server-pids-from-cmd NAME measure every process named NAME (repeatable)
  --timeout SECS              timeout per command (default 30)
";

/// Everything an IMAP bench run needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ImapBenchOptions {
    pub target: String,
    /// Never empty once parsed: client `i` uses `accounts[i % len]`.
    pub accounts: Vec<Credentials>,
    pub clients: usize,
    pub seconds: u64,
    pub mailbox: String,
    pub size: usize,
    pub prepare: u64,
    pub probe: u32,
    /// Whether the probe includes `FETCH 1:* (FLAGS UID)`.
    pub probe_fetch_all: bool,
    /// Rounds of `FETCH 1:* BODY.PEEK[]` (bigfetch.rs).
    pub fetch_all: u32,
    pub idle_clients: usize,
    pub tls: TlsMode,
    pub mix: Mix,
    pub server_pids: Vec<u32>,
    pub server_comms: Vec<String>,
    pub timeout: Duration,
}

impl Default for ImapBenchOptions {
    fn default() -> Self {
        ImapBenchOptions {
            target: String::new(),
            accounts: Vec::new(),
            clients: 8,
            seconds: 10,
            mailbox: "INBOX".into(),
            size: 4096,
            prepare: 0,
            probe: 0,
            probe_fetch_all: true,
            fetch_all: 0,
            idle_clients: 0,
            tls: TlsMode::None,
            mix: Mix::Mixed,
            server_pids: Vec::new(),
            server_comms: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Which command mix the load clients run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// `load`: FETCH, STORE, APPEND, EXPUNGE, SEARCH, NOOP, IDLE; a LOGIN every ~50.
    Mixed,
    /// `stress`: imaptest's stress-mode sessions, a LOGIN every ~9 commands.
    Stress,
}

impl Mix {
    pub fn as_str(self) -> &'static str {
        match self {
            Mix::Mixed => "mixed",
            Mix::Stress => "stress",
        }
    }
}

/// Upper bounds that keep a typo from exhausting the machine.
const MAX_CLIENTS: usize = 10_000;
const MAX_IDLE_CLIENTS: usize = 100_000;
pub(super) const MAX_SECONDS: u64 = 24 * 3600;
const MAX_SIZE: usize = 10 * 1024 * 1024;
const MAX_PREPARE: u64 = 10_000_000;
const MAX_PROBE: u64 = 1000;
const MAX_ACCOUNTS: usize = 100_000;

/// What `parse_imap_args` found: options to run with, or a request for help.
#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Box<ImapBenchOptions>),
    Help,
}

/// Parses the arguments after `bench imap`. Errors name the offending option.
pub fn parse_imap_args(args: &[String]) -> Result<Parsed, String> {
    let mut o = ImapBenchOptions::default();
    let (mut target, mut user, mut password, mut users_file) = (None, None, None, None);
    let mut args = OptionArgs::new(args);
    while let Some((name, inline)) = args.next_option() {
        match name {
            "--help" | "-h" => return Ok(Parsed::Help),
            "--probe-no-fetch" if inline.is_none() => {
                o.probe_fetch_all = false;
                continue;
            }
            _ if tls_option(name, &inline, &mut o.tls)? => continue,
            _ => {}
        }
        let value = args.value(name, inline)?;
        match name {
            "--target" => target = Some(parse_target(&value)?),
            "--user" => user = Some(value),
            "--password" => password = Some(value),
            "--users" => users_file = Some(value),
            "--clients" => o.clients = number(name, &value, 0, MAX_CLIENTS as u64)? as usize,
            "--seconds" => o.seconds = number(name, &value, 0, MAX_SECONDS)?,
            "--mailbox" => o.mailbox = mailbox(&value)?,
            "--mix" => {
                o.mix = match value.as_str() {
                    "mixed" => Mix::Mixed,
                    "stress" => Mix::Stress,
                    _ => return Err(format!("--mix: {value:?} is not mixed or stress")),
                }
            }
            "--size" => o.size = number(name, &value, 200, MAX_SIZE as u64)? as usize,
            "--prepare" => o.prepare = number(name, &value, 0, MAX_PREPARE)?,
            "--probe" => o.probe = number(name, &value, 0, MAX_PROBE)? as u32,
            "--fetch-all" => o.fetch_all = number(name, &value, 0, MAX_PROBE)? as u32,
            "--idle-clients" => {
                o.idle_clients = number(name, &value, 0, MAX_IDLE_CLIENTS as u64)? as usize
            }
            "--server-pid" => o
                .server_pids
                .push(number(name, &value, 1, u32::MAX as u64)? as u32),
            "--server-pids-from-cmd" => o.server_comms.push(comm(&value)?),
            "--timeout" => o.timeout = Duration::from_secs(number(name, &value, 1, MAX_SECONDS)?),
            _ => return Err(format!("unknown option {name}")),
        }
    }
    o.target = target.ok_or("--target HOST:PORT is required")?;
    o.accounts = accounts(user, password, users_file)?;
    if o.clients == 0 && o.idle_clients == 0 && o.prepare == 0 && o.probe == 0 && o.fetch_all == 0 {
        return Err(
            "nothing to do: --clients 0 without --prepare, --probe, --fetch-all or --idle-clients"
                .into(),
        );
    }
    Ok(Parsed::Run(Box::new(o)))
}

/// The accounts of `--user U --password P` or `--users FILE` (exactly one of the two).
pub(crate) fn accounts(
    user: Option<String>,
    password: Option<String>,
    users_file: Option<String>,
) -> Result<Vec<Credentials>, String> {
    match (user, password, users_file) {
        (Some(user), Some(pass), None) => Ok(vec![account(&user, &pass, "--user")?]),
        (None, None, Some(path)) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| format!("--users: cannot read {path}: {e}"))?;
            parse_users(&text)
        }
        (Some(_), None, None) | (None, Some(_), None) => {
            Err("--user and --password go together".into())
        }
        (None, None, None) => Err("--user U --password P or --users FILE is required".into()),
        _ => Err("--users excludes --user and --password".into()),
    }
}

/// Parses a users file: `user:password` lines; the password may contain ':'.
pub fn parse_users(text: &str) -> Result<Vec<Credentials>, String> {
    let mut accounts = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, pass) = line
            .split_once(':')
            .ok_or_else(|| format!("--users: line {}: expected user:password", n + 1))?;
        accounts.push(account(user, pass, &format!("--users: line {}", n + 1))?);
        if accounts.len() > MAX_ACCOUNTS {
            return Err(format!("--users: more than {MAX_ACCOUNTS} accounts"));
        }
    }
    if accounts.is_empty() {
        return Err("--users: no accounts in the file".into());
    }
    Ok(accounts)
}

/// User names and passwords are sent as IMAP quoted strings, so they must
/// be non-empty (user) and free of CR, LF and NUL.
fn account(user: &str, pass: &str, what: &str) -> Result<Credentials, String> {
    let bad = |s: &str| s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
    if user.is_empty() || bad(user) || bad(pass) {
        return Err(format!(
            "{what}: the user must be non-empty and neither part may contain CR, LF or NUL"
        ));
    }
    Ok(Credentials {
        user: user.into(),
        pass: pass.into(),
    })
}

/// A mailbox name that fits in a quoted string.
fn mailbox(value: &str) -> Result<String, String> {
    let ok = !value.is_empty()
        && value.len() <= 200
        && value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if !ok {
        return Err(format!("--mailbox: not a usable name: {value:?}"));
    }
    Ok(value.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run_opts(s: &str) -> ImapBenchOptions {
        match parse_imap_args(&args(s)) {
            Ok(Parsed::Run(o)) => *o,
            other => panic!("{s}: {other:?}"),
        }
    }

    fn err(s: &str) -> String {
        match parse_imap_args(&args(s)) {
            Err(e) => e,
            other => panic!("{s}: expected an error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_target_and_account() {
        let o = run_opts("--target 127.0.0.1:143 --user bob --password se:cret");
        let expected = ImapBenchOptions {
            target: "127.0.0.1:143".into(),
            accounts: vec![Credentials {
                user: "bob".into(),
                pass: "se:cret".into(),
            }],
            ..ImapBenchOptions::default()
        };
        assert_eq!(o, expected);
        assert_eq!((o.clients, o.seconds, o.size), (8, 10, 4096));
        assert_eq!(o.mailbox, "INBOX");
        assert_eq!((o.prepare, o.probe, o.idle_clients), (0, 0, 0));
        assert_eq!(o.timeout, Duration::from_secs(30));
    }

    #[test]
    fn every_option_is_parsed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("users");
        std::fs::write(&file, "# bench users\na@x:pa\r\n\nb@x:p:b\n").expect("write");
        let o = run_opts(&format!(
            "--target=[::1]:993 --users {} --clients 50 --seconds=20 --mailbox Bench \
             --size 1000 --prepare 100 --probe 3 --idle-clients 7 --tls \
             --server-pid 10 --server-pid 11 --server-pids-from-cmd imap --timeout 5",
            file.display()
        ));
        let users: Vec<_> = o.accounts.iter().map(|c| (&*c.user, &*c.pass)).collect();
        assert_eq!(users, [("a@x", "pa"), ("b@x", "p:b")]);
        assert_eq!(o.target, "[::1]:993");
        assert_eq!((o.clients, o.seconds, o.size), (50, 20, 1000));
        assert_eq!(o.mailbox, "Bench");
        assert_eq!((o.prepare, o.probe, o.idle_clients), (100, 3, 7));
        assert_eq!(o.tls, TlsMode::Implicit);
        assert_eq!(o.server_pids, [10, 11]);
        assert_eq!(o.server_comms, ["imap"]);
        assert_eq!(o.timeout, Duration::from_secs(5));
        let o = run_opts("--target a:1 --user u --password p --starttls --clients 0 --probe 1");
        assert_eq!((o.tls, o.clients), (TlsMode::StartTls, 0));
        assert!(o.probe_fetch_all);
        let o = run_opts("--target a:1 --user u --password p --probe 1 --probe-no-fetch");
        assert!(!o.probe_fetch_all);
        assert_eq!(o.mix, Mix::Mixed);
        let o = run_opts("--target a:1 --user u --password p --mix stress");
        assert_eq!(o.mix, Mix::Stress);
    }

    #[test]
    fn help_is_not_an_error() {
        assert_eq!(parse_imap_args(&args("--help")), Ok(Parsed::Help));
        assert_eq!(parse_imap_args(&args("--target a:1 -h")), Ok(Parsed::Help));
    }

    #[test]
    fn errors_name_the_problem() {
        let base = "--target a:1 --user u --password p";
        assert!(err("--user u --password p").contains("--target"));
        assert!(err("--target a:1").contains("--users FILE is required"));
        assert!(err("--target a:1 --user u").contains("go together"));
        assert!(err("--target a:1 --password p").contains("go together"));
        assert!(err(&format!("{base} --users f")).contains("excludes"));
        assert!(err("--target a:1 --users /nonexistent/users").contains("cannot read"));
        assert!(err("--target localhost --user u --password p").contains("HOST:PORT"));
        assert!(err(&format!("{base} --clients x")).contains("--clients: not a number"));
        assert!(err(&format!("{base} --clients 10001")).contains("out of range"));
        assert!(err(&format!("{base} --size 10")).contains("--size"));
        assert!(err(&format!("{base} --timeout 0")).contains("--timeout"));
        assert!(err(&format!("{base} --mailbox a\"b")).contains("--mailbox"));
        assert!(err(&format!("{base} --bogus 1")).contains("unknown option --bogus"));
        assert!(err(&format!("{base} --mix heavy")).contains("--mix"));
        assert!(err(&format!("{base} --seconds")).contains("needs a value"));
        assert!(err(&format!("{base} --tls=yes")).contains("takes no value"));
        assert!(err(&format!("{base} --tls --starttls")).contains("exclude"));
        assert!(err(&format!("{base} --clients 0")).contains("nothing to do"));
        assert!(err(&format!("{base} --server-pids-from-cmd a/b")).contains("process name"));
    }

    #[test]
    fn users_file_problems() {
        assert!(parse_users("").unwrap_err().contains("no accounts"));
        assert!(parse_users("# only\n\n")
            .unwrap_err()
            .contains("no accounts"));
        assert!(parse_users("a:b\nnocolon\n")
            .unwrap_err()
            .contains("line 2: expected user:password"));
        assert!(parse_users(":pass\n").unwrap_err().contains("line 1"));
        assert_eq!(parse_users("a:\n").map(|v| v.len()), Ok(1));
    }
}
