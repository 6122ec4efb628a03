//! `ferrymail storage migrate …` and `ferrymail storage check`: commands of the binary, not
//! of the console (a migration must run with the server stopped; a check reads the store
//! directly). The work is `storage::migrate` and `storage::check`; this parses the words,
//! opens what they need and shows progress on stderr.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::storage::check::check;
use crate::storage::migrate::{migrate, MigrateOptions, Progress};
use crate::storage::Store;

/// The usage lines (shown by `ferrymail --help` and `ferrymail help`).
pub const USAGE: &str =
    "  ferrymail storage migrate --to postgres --url URL [--schema NAME] [--blobs PATH]
                                               copy the embedded data directory into
                                               PostgreSQL (server stopped; resumable; verified)
  ferrymail storage check                      check bodies and reference counts (either backend)";

/// Runs `storage WORDS…` with `config`; Ok(true) when everything is in order, Ok(false)
/// when the command ran and found problems (a failed verification or check).
/// `server_running`: whether a server runs on the data directory (its console socket
/// answers), which a migration refuses.
pub fn run(config: &Config, words: &[String], server_running: bool) -> Result<bool, String> {
    match words.first().map(String::as_str) {
        Some("migrate") => run_migrate(config, &words[1..], server_running),
        Some("check") => {
            if let Some(extra) = words.get(1) {
                return Err(format!("storage check: unknown argument '{extra}'"));
            }
            run_check(config, server_running)
        }
        _ => Err(format!("usage:\n{USAGE}")),
    }
}

/// `--name VALUE` or `--name=VALUE` pairs; anything else is an error.
fn options(words: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let Some(name) = w.strip_prefix("--") else {
            return Err(format!("storage migrate: unexpected argument '{w}'"));
        };
        if let Some((n, v)) = name.split_once('=') {
            out.push((n.to_string(), v.to_string()));
            i += 1;
        } else {
            let v = words
                .get(i + 1)
                .ok_or_else(|| format!("storage migrate: --{name} needs a value"))?;
            out.push((name.to_string(), v.clone()));
            i += 2;
        }
    }
    Ok(out)
}

fn parse_migrate(words: &[String]) -> Result<MigrateOptions, String> {
    let mut to = None;
    let mut opts = MigrateOptions::new("", "public");
    for (name, value) in options(words)? {
        match name.as_str() {
            "to" => to = Some(value),
            "url" => opts.url = value,
            "schema" => opts.schema = value,
            "blobs" => opts.blobs = Some(PathBuf::from(value)),
            "batch" => {
                opts.batch = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("storage migrate: --batch {value}: need a count"))?
            }
            // Testing aid: stop as an interruption would after N batches.
            "stop-after" => {
                opts.stop_after =
                    Some(value.parse().map_err(|_| {
                        format!("storage migrate: --stop-after {value}: need a count")
                    })?)
            }
            other => return Err(format!("storage migrate: unknown option --{other}")),
        }
    }
    match to.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("postgres" | "postgresql") => {}
        Some(other) => {
            return Err(format!(
                "storage migrate: --to {other}: only postgres is supported"
            ))
        }
        None => return Err("storage migrate: --to postgres is required".into()),
    }
    if opts.url.trim().is_empty() {
        return Err("storage migrate: --url is required".into());
    }
    if opts.schema.trim().is_empty() {
        return Err("storage migrate: --schema must not be empty".into());
    }
    Ok(opts)
}

fn run_migrate(config: &Config, words: &[String], server_running: bool) -> Result<bool, String> {
    let opts = parse_migrate(words)?;
    if server_running {
        return Err(format!(
            "a server is running on {}; stop it before migrating",
            config.data_dir.display()
        ));
    }
    let mut bar = Bar::new();
    let v = migrate(
        &config.data_dir,
        config.storage.blobs.as_deref(),
        &opts,
        &mut bar,
    )
    .map_err(|e| format!("storage migrate: {e}"))?;
    for line in &v.lines {
        println!("{line}");
    }
    if v.ok() {
        println!("verified: the copy equals the source");
    } else {
        println!("VERIFICATION FAILED: {} mismatches", v.mismatches.len());
    }
    Ok(v.ok())
}

fn run_check(config: &Config, server_running: bool) -> Result<bool, String> {
    let (store, _writers) =
        Store::open_configured(&config.data_dir, &config.storage).map_err(|e| {
            let hint = if server_running {
                " (the embedded backend is opened by one process at a time: stop the server \
                 to check it; on PostgreSQL the check runs beside the servers)"
            } else {
                ""
            };
            format!(
                "cannot open the store in {}: {e}{hint}",
                config.data_dir.display()
            )
        })?;
    let report = check(&store).map_err(|e| format!("storage check: {e}"))?;
    println!("{}", report.render());
    Ok(report.ok())
}

/// Progress on stderr: a redrawn bar on a terminal, one line per phase otherwise.
struct Bar {
    tty: bool,
    phase: String,
    total: u64,
    done: u64,
    drawn: Option<Instant>,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            tty: std::io::stderr().is_terminal(),
            phase: String::new(),
            total: 0,
            done: 0,
            drawn: None,
        }
    }

    fn draw(&mut self, force: bool) {
        if !self.tty {
            return;
        }
        let now = Instant::now();
        if !force
            && self
                .drawn
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.drawn = Some(now);
        const WIDTH: u64 = 30;
        let filled = (self.done * WIDTH)
            .checked_div(self.total)
            .unwrap_or(WIDTH)
            .min(WIDTH) as usize;
        let _ = write!(
            std::io::stderr(),
            "\r{:<18} [{}{}] {}/{}",
            self.phase,
            "#".repeat(filled),
            ".".repeat(WIDTH as usize - filled),
            self.done,
            self.total
        );
    }
}

impl Progress for Bar {
    fn phase(&mut self, name: &str, total: u64) {
        self.phase = name.to_string();
        self.total = total;
        self.done = 0;
        self.drawn = None;
        self.draw(true);
    }

    fn advance(&mut self, n: u64) {
        self.done += n;
        self.draw(false);
    }

    fn end_phase(&mut self) {
        if self.tty {
            self.draw(true);
            eprintln!();
        } else {
            eprintln!("{}: {}/{} done", self.phase, self.done, self.total);
        }
    }
}
