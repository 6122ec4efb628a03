//! The `ferrymail` command: `serve` (the default), `console`, `bench`, and the one-shot admin
//! commands of docs/architecture.md §5 (`domain add`, `account add`, …), which go through the running
//! server's console socket when it runs, and straight to the store when it does not.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ferrymail::admin::console::{run_repl, SocketTarget};
use ferrymail::admin::control::client_request_with_progress;
use ferrymail::admin::storage_cmd::USAGE as STORAGE_USAGE;
use ferrymail::config::Config;

const USAGE: &str = "\
usage:
  ferrymail [serve] [--config FILE] [--repl]   run the server (no FILE: the embedded default config)
  ferrymail console [--config FILE]            attach the console to the running server
  ferrymail bench smtp --target HOST:PORT …    load-test any SMTP server (ferrymail bench smtp --help)
  ferrymail bench relay --target HOST:PORT …   relaying throughput to a sink it starts (… --help)
  ferrymail bench imap --target HOST:PORT …    load-test any IMAP server (ferrymail bench imap --help)
  ferrymail bench pop3 --target HOST:PORT …    load-test any POP3 server (ferrymail bench pop3 --help)
  ferrymail bench drip --smtp H:P --imap H:P … slow-drip connections vs a normal client (… --help)
  ferrymail COMMAND … [--config FILE]          one console command, e.g.
      ferrymail domain add example.com
      ferrymail account add bob@example.com --password secret [--admin]
      ferrymail account list
      ferrymail queue list
      ferrymail dkim generate example.com [--algorithm rsa|ed25519] [--selector S]
  ferrymail help                               every console command";

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let config_path = match take_config(&mut args) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let first = args.first().map(String::as_str).unwrap_or("serve");
    match first {
        "serve" => {
            let repl = args.iter().any(|a| a == "--repl");
            if let Some(bad) = args.iter().skip(1).find(|a| *a != "--repl") {
                return fail(&format!("serve: unknown argument '{bad}'\n{USAGE}"));
            }
            serve(config_path, repl)
        }
        "console" => {
            if args.len() > 1 {
                return fail(&format!("console: unknown argument '{}'", args[1]));
            }
            console(config_path)
        }
        "bench" => bench(&args[1..]),
        "storage" => storage(config_path, &args[1..]),
        "help" if args.len() == 1 => {
            println!("{}", ferrymail::admin::help_text(None));
            println!("\ncommands of the binary (not of the console):\n{STORAGE_USAGE}");
            ExitCode::SUCCESS
        }
        "-h" | "--help" => {
            println!("{USAGE}\n{STORAGE_USAGE}");
            ExitCode::SUCCESS
        }
        "-V" | "--version" => {
            println!("ferrymail {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => one_shot(config_path, &args),
    }
}

/// Removes `--config FILE` (or `--config=FILE`) from anywhere in the arguments.
fn take_config(args: &mut Vec<String>) -> Result<Option<PathBuf>, String> {
    let mut found = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--config" {
            if i + 1 >= args.len() {
                return Err("--config needs a FILE".into());
            }
            found = Some(PathBuf::from(args.remove(i + 1)));
            args.remove(i);
        } else if let Some(v) = args[i].strip_prefix("--config=") {
            found = Some(PathBuf::from(v));
            args.remove(i);
        } else {
            i += 1;
        }
    }
    Ok(found)
}

fn load_config(path: Option<PathBuf>) -> Result<Config, String> {
    Config::load(path.as_deref()).map_err(|e| e.to_string())
}

/// Logs go to stderr and to the in-memory tail of `http::logtail`; with `[log] file_logging`
/// also to per-service files in `data/logs/` (smtp-in, pop3, routing, server; auth-failures
/// is always written).
fn init_logging(config: &Config) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{Layer, Registry};
    type Boxed = Box<dyn Layer<Registry> + Send + Sync>;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log.level))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    let mut layers: Vec<Boxed> = vec![
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter())
            .boxed(),
        // The in-memory tail the API and the dashboard show (same levels as stderr).
        ferrymail::http::logtail::layer()
            .with_filter(filter())
            .boxed(),
    ];
    if config.log.file_logging {
        let dir = config.data_dir.join("logs");
        let _ = std::fs::create_dir_all(&dir);
        let level = config
            .log
            .level
            .parse::<LevelFilter>()
            .unwrap_or(LevelFilter::INFO);
        let files = [
            (
                "smtp-in.log",
                Targets::new()
                    .with_target("ferrymail::actors::smtp_session", level)
                    .with_target("ferrymail::actors::listener", level),
            ),
            (
                "pop3.log",
                Targets::new()
                    .with_target("ferrymail::actors::pop3_session", level)
                    .with_target("ferrymail::actors::pop3_backend", level),
            ),
            (
                "routing.log",
                Targets::new()
                    .with_target("ferrymail::actors::queues", level)
                    .with_target("ferrymail::actors::folder", level),
            ),
            ("server.log", Targets::new().with_default(level)),
        ];
        for (name, targets) in files {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join(name))
            {
                Ok(f) => layers.push(
                    tracing_subscriber::fmt::layer()
                        .with_ansi(false)
                        .with_writer(std::sync::Mutex::new(f))
                        .with_filter(targets)
                        .boxed(),
                ),
                Err(e) => eprintln!("ferrymail: cannot open log file {name}: {e}"),
            }
        }
    }
    let _ = tracing_subscriber::registry().with(layers).try_init();
}

/// glibc malloc raises its mmap threshold dynamically after a large block is freed, after
/// which argon2's 19 MiB buffers come from the heap and stay there, per thread arena: memory
/// grew by megabytes per login. A fixed threshold keeps large buffers mmapped (returned on
/// free), and a bounded arena count keeps per-thread heaps from multiplying.
fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; called before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
    }
}

fn serve(config_path: Option<PathBuf>, repl: bool) -> ExitCode {
    tune_allocator();
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    init_logging(&config);
    let data_dir = config.data_dir.clone();
    let handle = match ferrymail::server::serve(config) {
        Ok(h) => h,
        Err(e) => return fail(&e),
    };
    if repl {
        let mut target = SocketTarget::new(ferrymail::admin::socket::socket_path(&data_dir));
        if let Err(e) = run_repl(&mut target, Some(&data_dir.join("console_history"))) {
            eprintln!("console: {e}");
        }
        // Leaving the console does not stop the server unless `shutdown` was given.
    }
    handle.wait();
    ExitCode::SUCCESS
}

fn console(config_path: Option<PathBuf>) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    if !ferrymail::server::is_running(&config.data_dir) {
        return fail(&format!(
            "no server is running on {} (start it with `ferrymail serve`)",
            config.data_dir.display()
        ));
    }
    let mut target = SocketTarget::new(ferrymail::admin::socket::socket_path(&config.data_dir));
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".ferrymail_history"));
    match run_repl(&mut target, history.as_deref()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("console: {e}")),
    }
}

/// One console command from the command line.
fn one_shot(config_path: Option<PathBuf>, words: &[String]) -> ExitCode {
    let cmd = match ferrymail::admin::parse(words) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let result = if ferrymail::server::is_running(&config.data_dir) {
        let line = match &cmd {
            ferrymail::admin::AdminCommand::Calendar(_) => ferrymail::admin::join_words(
                &ferrymail::admin::calendar::for_server(cmd.clone()).to_words(),
            ),
            _ => ferrymail::admin::join_words(words),
        };
        let sock = ferrymail::admin::socket::socket_path(&config.data_dir);
        match client_request_with_progress(
            &sock,
            &line,
            Duration::from_secs(60),
            &mut ferrymail::admin::calendar::show_progress,
        ) {
            Ok(r) if r.ok => Ok(r.output),
            Ok(r) => Err(r.output),
            Err(e) => Err(format!("cannot reach the server's console socket: {e}")),
        }
    } else {
        ferrymail::storage::Store::open_configured(&config.data_dir, &config.storage)
            .map_err(|e| {
                format!(
                    "cannot open the store in {}: {e}",
                    config.data_dir.display()
                )
            })
            .and_then(|(store, writers)| {
                ferrymail::admin::exec::execute_with_config(&store, &writers, &config, &cmd)
            })
    };
    match result {
        Ok(out) => {
            if !out.is_empty() {
                println!("{out}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// `ferrymail storage migrate …` / `ferrymail storage check`: exit status 0 when all is in
/// order, 1 on an error, 2 when the command ran and found a mismatch or a problem.
fn storage(config_path: Option<PathBuf>, words: &[String]) -> ExitCode {
    let config = match load_config(config_path) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let running = ferrymail::server::is_running(&config.data_dir);
    match ferrymail::admin::storage_cmd::run(&config, words, running) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => fail(&e),
    }
}

/// `ferrymail bench ARGS…`: the load tool is its own package (`bench/`, ferrymail-bench), so
/// that the server carries none of its code. This runs the `ferrymail-bench` binary that the
/// same `cargo build` puts next to this one, in place of this process (exec: its output,
/// exit status and signals are the command's own).
fn bench(args: &[String]) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return fail(&format!("bench: cannot find this executable's path: {e}")),
    };
    let tool = exe.with_file_name("ferrymail-bench");
    if !tool.is_file() {
        return fail(&format!(
            "bench: the load tool {} is missing; build it next to this binary with \
             `cargo build --release` (both binaries) or `cargo build --release -p ferrymail-bench`",
            tool.display()
        ));
    }
    let err = std::process::Command::new(&tool).args(args).exec();
    fail(&format!("bench: cannot run {}: {err}", tool.display()))
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("ferrymail: {msg}");
    ExitCode::FAILURE
}
