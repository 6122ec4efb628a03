//! Booting and stopping the server: the supervisor's root.
//!
//! `start` runs the whole server in an actix `System` on its own thread and returns once
//! every listener is bound, with their addresses (port 0 picks free ports: what tests use).
//! `serve` is the foreground command: start, print the `listening <service> <ip:port>` lines
//! (docs/architecture.md §5), wait for SIGTERM/SIGINT or a console `shutdown`, then stop gracefully:
//! stop accepting, let sessions finish up to `[server] shutdown_grace`, flush, exit 0.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Arbiter, System};
use rand::Rng;

use crate::actors::authlog::AuthFailureLog;
use crate::actors::listener::{bind_all, imap_spec, pop3_spec, run_acceptor, smtp_spec};
use crate::actors::queues::QueueAddrs;
use crate::actors::session::limits::ConnLimiter;
use crate::actors::ServerContext;
use crate::admin::socket;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::net::tls;
use crate::protocols::smtp::Service;
use crate::storage::Store;

/// A running server.
pub struct ServerHandle {
    /// Bound address of each running service, by the names of `[listeners]`.
    pub addrs: BTreeMap<String, SocketAddr>,
    pub ctx: Arc<ServerContext>,
    /// Lines printed at start-up (listening lines, the first-start password, problems).
    pub startup_report: Vec<String>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerHandle {
    pub fn addr(&self, service: &str) -> SocketAddr {
        self.addrs
            .get(service)
            .copied()
            .unwrap_or_else(|| panic!("service {service} is not running"))
    }

    /// Graceful stop, as on SIGTERM; returns when the server has stopped.
    pub fn stop(mut self) {
        self.ctx.stop_requested.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Blocks until the server stops by itself (signal or console `shutdown`).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Options tests set; the defaults are the real thing.
pub struct StartOptions {
    pub clock: Arc<dyn Clock>,
    /// Print the start-up report to stdout (the binary does; tests don't).
    pub print: bool,
    /// Handle SIGTERM/SIGINT (only the foreground binary).
    pub signals: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            clock: Arc::new(SystemClock),
            print: false,
            signals: false,
        }
    }
}

/// Starts the server in the background; returns once it listens.
pub fn start(config: Config, options: StartOptions) -> Result<ServerHandle, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("ferrymail-supervisor".into())
        .spawn(move || {
            let system = System::new();
            let booted = system.block_on(boot(config, options));
            match booted {
                Ok((handle_parts, waiter, arbiters)) => {
                    let _ = tx.send(Ok(handle_parts));
                    system.block_on(waiter);
                    // Stop and join every arbiter so that each actor, and with it each
                    // handle on the store, is gone when `stop` returns: the data directory
                    // can then be opened again.
                    for a in &arbiters {
                        a.stop();
                    }
                    for a in arbiters {
                        let _ = a.join();
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                }
            }
        })
        .map_err(|e| format!("cannot start the server thread: {e}"))?;
    match rx.recv() {
        Ok(Ok((addrs, ctx, startup_report))) => Ok(ServerHandle {
            addrs,
            ctx,
            startup_report,
            thread: Some(thread),
        }),
        Ok(Err(e)) => {
            let _ = thread.join();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            Err("the server thread ended during start-up".into())
        }
    }
}

/// `ferrymail serve`: start, print, run until stopped.
pub fn serve(config: Config) -> Result<ServerHandle, String> {
    start(
        config,
        StartOptions {
            print: true,
            signals: true,
            ..StartOptions::default()
        },
    )
}

type Booted = (
    (
        BTreeMap<String, SocketAddr>,
        Arc<ServerContext>,
        Vec<String>,
    ),
    std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>,
    Vec<Arbiter>,
);

/// Every 30 seconds, hands memory that sessions freed back to the system (glibc keeps freed
/// pages in its arenas otherwise: after a burst of thousands of logins and SELECTs the
/// resident size would stay at its peak).
async fn return_free_memory() {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    loop {
        tick.tick().await;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only releases free memory; it is thread-safe.
        unsafe {
            libc::malloc_trim(0);
        }
    }
}

/// Raises the soft limit on open files to the hard limit: every connection is a file, and
/// the default soft limit (often 1024) would cap an IMAP server holding thousands of IDLE
/// clients far below what the machine allows.
fn raise_open_files_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit write and read the struct we pass, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                tracing::warn!("cannot raise the open-files limit");
            }
        }
    }
}

async fn boot(config: Config, options: StartOptions) -> Result<Booted, String> {
    raise_open_files_limit();
    let mut report = Vec::new();
    // Installed before anything is printed: a SIGTERM right after the `ready:` line must
    // already mean a graceful stop.
    let signals = if options.signals {
        Some(install_signals()?)
    } else {
        None
    };
    let say = |report: &mut Vec<String>, line: String| {
        if options.print {
            println!("{line}");
        }
        report.push(line);
    };
    std::fs::create_dir_all(&config.data_dir).map_err(|e| {
        format!(
            "cannot create the data directory {}: {e}",
            config.data_dir.display()
        )
    })?;
    socket::refuse_if_running(&config.data_dir)?;
    // The write handles come with the store, once: ServerContext moves them into the folder
    // registry and the queue actors' field, where nothing else can reach them.
    let (store, writers) =
        Store::open_configured(&config.data_dir, &config.storage).map_err(|e| {
            format!(
                "cannot open the store in {}: {e}",
                config.data_dir.display()
            )
        })?;
    // Once per start, before anything uses the store (storage::sweep).
    let swept = store
        .sweep(crate::storage::ORPHAN_GRACE)
        .map_err(|e| format!("start-up sweep of {}: {e}", config.data_dir.display()))?;
    tracing::info!(?swept, "start-up sweep done");
    for line in first_start(&store, &config)? {
        say(&mut report, line);
    }
    let cert = tls::ensure_certificate(&config).map_err(|e| e.to_string())?;
    let tls = tls::load_server_config(&cert).map_err(|e| e.to_string())?;
    let auth_log = AuthFailureLog::open(&config.data_dir)
        .map_err(|e| format!("cannot open the auth-failure log: {e}"))?;

    // Sessions run on several arbiters per core: an IMAP command that reads many messages
    // runs on its session's thread, and the other sessions there wait for it; with more
    // threads than cores the kernel shares the cores between them instead.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let session_threads = (4 * cores).clamp(4, 64);
    // Folder actors have threads of their own (`ServerContext::folder_arbiter`): a folder's
    // write waits for its storage transaction, and on a database server that is several
    // round trips, which must hold up neither the queues nor the other folders.
    let folder_threads = (2 * cores).clamp(2, 16);
    let mut arbiters: Vec<Arbiter> = (0..=session_threads).map(|_| Arbiter::new()).collect();
    let core = arbiters[0].handle();
    let sessions = arbiters[1..].iter().map(|a| a.handle()).collect();
    let folder_arbiters: Vec<Arbiter> = (0..folder_threads).map(|_| Arbiter::new()).collect();
    let folder_handles = folder_arbiters.iter().map(|a| a.handle()).collect();
    arbiters.extend(folder_arbiters);
    let config = Arc::new(config);
    let ctx = ServerContext::new(
        config.clone(),
        Some(tls),
        store,
        writers,
        options.clock.clone(),
        auth_log,
        core,
        sessions,
    );
    ctx.set_folder_arbiters(folder_handles);
    ctx.set_queues(QueueAddrs::start(&ctx));
    // Several nodes on one database: hear their changes, renew leases, claim orphans.
    crate::actors::cluster::start(&ctx);
    crate::actors::fetcher::start_all(&ctx);
    // Wakes at once what came due while the server was down.
    crate::actors::snooze::start(&ctx);

    let control_path = socket::start(ctx.clone()).map_err(|e| {
        format!(
            "cannot open the console socket in {}: {e}",
            config.data_dir.display()
        )
    })?;
    tracing::debug!(path = %control_path.display(), "console socket ready");

    let (bound, problems) = bind_all(&config);
    for p in problems {
        tracing::warn!("{p}");
        say(&mut report, format!("warning: {p}"));
    }
    // SMTP listeners share one set of connection limits, IMAP listeners another, POP3
    // listeners a third.
    let smtp_limiter = Arc::new(ConnLimiter::default());
    let imap_limiter = Arc::new(ConnLimiter::default());
    let pop3_limiter = Arc::new(ConnLimiter::default());
    let mut addrs = BTreeMap::new();
    let mut http_servers = Vec::new();
    // Where the plain http listener sends clients that bring passwords (http::security).
    let https_port = bound
        .iter()
        .find(|b| b.service == "https")
        .map(|b| b.addr.port());
    for b in bound {
        let spec = match b.service {
            "smtp" => Some((smtp_spec("smtp", Service::Smtp), &smtp_limiter)),
            "submission" => Some((smtp_spec("submission", Service::Submission), &smtp_limiter)),
            "smtps" => Some((smtp_spec("smtps", Service::Smtps), &smtp_limiter)),
            "imap" => Some((imap_spec("imap", false), &imap_limiter)),
            "imaps" => Some((imap_spec("imaps", true), &imap_limiter)),
            "pop3" => Some((pop3_spec("pop3", false), &pop3_limiter)),
            "pop3s" => Some((pop3_spec("pop3s", true), &pop3_limiter)),
            _ => None,
        };
        if let Some((spec, limiter)) = spec {
            actix_rt::spawn(run_acceptor(ctx.clone(), spec, b.listener, limiter.clone()));
        } else if let Some(listener) = crate::http::Listener::for_service(b.service) {
            let front = crate::http::Front {
                listener,
                https_port,
            };
            match crate::http::start(ctx.clone(), b.listener, front) {
                Ok(h) => http_servers.push(h),
                Err(e) => {
                    say(
                        &mut report,
                        format!("warning: {} on {}: {e}", b.service, b.addr),
                    );
                    continue;
                }
            }
        } else {
            say(
                &mut report,
                format!("warning: {} on {}: no server for it", b.service, b.addr),
            );
            continue;
        }
        addrs.insert(b.service.to_string(), b.addr);
        say(&mut report, format!("listening {} {}", b.service, b.addr));
    }
    // What clients are told to connect to (autoconfig, Autodiscover): port-0 listeners'
    // real ports.
    crate::http::clientconfig::record_bound(&ctx, &addrs);
    say(
        &mut report,
        format!(
            "ready: {} services on {}",
            addrs.len(),
            config.data_dir.display()
        ),
    );
    if options.print {
        use std::io::Write;
        let _ = std::io::stdout().flush();
    }

    actix_rt::spawn(return_free_memory());
    let waiter_ctx = ctx.clone();
    let waiter = Box::pin(async move {
        wait_for_stop(&waiter_ctx, signals).await;
        graceful_stop(&waiter_ctx, http_servers).await;
        System::current().stop();
    });
    Ok(((addrs, ctx, report), waiter, arbiters))
}

/// On a data directory without any domain: the default domain (the hostname) and a
/// `postmaster@` admin account whose random password is printed this once.
fn first_start(store: &Store, config: &Config) -> Result<Vec<String>, String> {
    let domains = store.list_domains().map_err(|e| e.to_string())?;
    if !domains.is_empty() {
        return Ok(Vec::new());
    }
    let domain = config.hostname.to_ascii_lowercase();
    let password = random_password();
    let address = format!("postmaster@{domain}");
    // Nodes of a cluster starting together on an empty database race here: the one whose
    // domain (or account) already exists leaves the first start to the other.
    match store.add_domain(&domain) {
        Err(crate::storage::StorageError::Exists(_)) => return Ok(Vec::new()),
        other => other.map_err(|e| e.to_string())?,
    }
    match store.add_account(&address, &password, true) {
        Err(crate::storage::StorageError::Exists(_)) => return Ok(Vec::new()),
        other => other.map_err(|e| e.to_string())?,
    };
    store.commit().map_err(|e| e.to_string())?;
    Ok(vec![
        format!("first start: created domain {domain}"),
        format!(
            "first start: created admin account {address} with password {password} \
             (shown only now; change it with `ferrymail account passwd {address} --password NEW`)"
        ),
    ])
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

type Signals = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

fn install_signals() -> Result<Signals, String> {
    use tokio::signal::unix::{signal, SignalKind};
    let err = |e: std::io::Error| format!("cannot install signal handlers: {e}");
    Ok((
        signal(SignalKind::terminate()).map_err(err)?,
        signal(SignalKind::interrupt()).map_err(err)?,
    ))
}

async fn wait_for_stop(ctx: &Arc<ServerContext>, signals: Option<Signals>) {
    let Some((mut term, mut int)) = signals else {
        ctx.stop_requested.notified().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: stopping"),
        _ = int.recv() => tracing::info!("SIGINT: stopping"),
        _ = ctx.stop_requested.notified() => tracing::info!("stop requested"),
    }
}

/// Stop accepting, let sessions finish up to the grace period, flush the store.
async fn graceful_stop(ctx: &Arc<ServerContext>, http: Vec<actix_web::dev::ServerHandle>) {
    ctx.begin_shutdown();
    for h in &http {
        h.stop(true).await;
    }
    let grace = ctx.config().server.shutdown_grace;
    let deadline = Instant::now() + grace;
    while ctx.stats.open_sessions() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let left = ctx.stats.open_sessions();
    if left > 0 {
        tracing::warn!(left, "grace period over; closing remaining sessions");
    }
    if let Err(e) = ctx.store.commit_async().await {
        tracing::error!("final flush failed: {e}");
    }
    socket::remove_socket(&ctx.config().data_dir);
    tracing::info!("stopped");
}

/// Whether a server is running on this data directory (its console socket answers).
pub fn is_running(data_dir: &Path) -> bool {
    socket::socket_answers(data_dir)
}
