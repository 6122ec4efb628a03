//! The console's Unix socket (`data/control.sock`): one process owns the store, every other
//! `ferrymail` command talks to it here. Each request line is parsed into the shared
//! `AdminCommand` set and executed against the live server.
//!
//! It lives in the admin layer, above the actors (docs/architecture.md §2): admin commands
//! drive the actors through [`ServerContext`], the actors never run admin code. The server
//! starts it (`server.rs`); the supervision tree still shows it as `control`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::control::{serve_connection_with_progress, ControlResponse, ProgressSender};
use super::{exec, AdminCommand};
use crate::actors::account_events::{AccountChanged, AccountEvent};
use crate::actors::fetcher;
use crate::actors::folder::DeleteFolder;
use crate::actors::queues::{self, Change};
use crate::actors::stats::Stats;
use crate::actors::supervisor::{contained, supervise_task};
use crate::actors::ServerContext;
use crate::storage::QueueName;

pub const SOCKET_NAME: &str = "control.sock";

pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_NAME)
}

/// Whether a server answers on this data directory's console socket.
pub fn socket_answers(data_dir: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket_path(data_dir)).is_ok()
}

/// Refuses to start a second server on a data directory already in use.
pub fn refuse_if_running(data_dir: &Path) -> Result<(), String> {
    if socket_answers(data_dir) {
        return Err(format!(
            "a Ferrymail server is already running on {} (its console socket answers); \
             stop it first, or use another data_dir",
            data_dir.display()
        ));
    }
    Ok(())
}

pub fn remove_socket(data_dir: &Path) {
    let _ = std::fs::remove_file(socket_path(data_dir));
}

/// Binds the socket (replacing a stale one) and serves it on the current arbiter.
pub fn start(ctx: Arc<ServerContext>) -> std::io::Result<PathBuf> {
    let path = socket_path(&ctx.config().data_dir);
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    let listener = Arc::new(listener);
    let c = ctx.clone();
    // Supervised: a panic in the accept loop is counted under `control` and the loop made
    // anew on the same socket; one in a console connection ends that connection only.
    actix_rt::spawn(supervise_task(
        ctx,
        "control".into(),
        "control",
        move || accept_loop(c.clone(), listener.clone()),
    ));
    Ok(path)
}

/// One run of the console socket's acceptor.
async fn accept_loop(ctx: Arc<ServerContext>, listener: Arc<tokio::net::UnixListener>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        ctx.faults.hit("control.accept");
        let c = ctx.clone();
        actix_rt::spawn(async move {
            let served = serve_connection_with_progress(stream, |line, progress| {
                let c = c.clone();
                async move { handle_line_with_progress(&c, &line, Some(progress)).await }
            });
            let _ = contained(&c.registry, "control", served).await;
        });
    }
}

/// Parses and runs one console line against the live server.
pub async fn handle_line(ctx: &Arc<ServerContext>, line: &str) -> ControlResponse {
    handle_line_with_progress(ctx, line, None).await
}

/// [`handle_line`]; a long command (`calendar import`) sends progress lines to `progress`.
async fn handle_line_with_progress(
    ctx: &Arc<ServerContext>,
    line: &str,
    progress: Option<ProgressSender>,
) -> ControlResponse {
    let parsed = crate::admin::split_words(line)
        .map_err(|e| e.to_string())
        .and_then(|w| crate::admin::parse(&w).map_err(|e| e.to_string()));
    let reply = match parsed {
        Ok(AdminCommand::Calendar(c)) => calendar_live(ctx, c, progress).await,
        Ok(cmd) => execute_live(ctx, cmd).await,
        Err(e) => Err(e),
    };
    match reply {
        Ok(output) => ControlResponse { ok: true, output },
        Err(output) => ControlResponse { ok: false, output },
    }
}

/// Commands that need the running server are answered here; the rest go to the shared
/// store-level executor, and queue changes are followed by a notification to the queue.
pub async fn execute_live(ctx: &Arc<ServerContext>, cmd: AdminCommand) -> Result<String, String> {
    match cmd {
        AdminCommand::Status => Ok(status(ctx)),
        AdminCommand::Actors => Ok(actors(ctx)),
        AdminCommand::Cluster | AdminCommand::ClusterLeases => crate::admin::cluster::execute(
            &ctx.store,
            &ctx.config().storage,
            cmd == AdminCommand::ClusterLeases,
            ctx.clock.now(),
        ),
        AdminCommand::Reload => reload(ctx),
        AdminCommand::Shutdown => {
            ctx.stop_requested.notify_one();
            Ok("shutting down: no new connections; sessions get the grace period".into())
        }
        AdminCommand::QueueRetry(id) => queue_change(ctx, Change::Retry(id)).await,
        AdminCommand::QueueMove { id, ref to } => {
            let to = to.parse().map_err(|_| exec::unknown_queue(to))?;
            queue_change(ctx, Change::MoveTo { id, to }).await
        }
        AdminCommand::QueueDelete(id) => queue_change(ctx, Change::Delete(id)).await,
        AdminCommand::QueueBounce(id) => queue_change(ctx, Change::Bounce(id)).await,
        // A cached login must not outlive the password or the account (the cache also
        // checks the account record on every hit; this frees the entries at once).
        // Deleting an account deletes its folders: a folder write, made by the folder
        // registry that owns them.
        AdminCommand::AccountDel(ref address) => {
            let out = account_delete(ctx, address).await;
            ctx.credentials.forget(&address.to_lowercase());
            out
        }
        AdminCommand::AccountPasswd { ref address, .. }
        | AdminCommand::AccountDisable(ref address)
        | AdminCommand::AccountAdmin { ref address, .. } => {
            let out = exec::execute(&ctx.store, &cmd);
            ctx.credentials.forget(&address.to_lowercase());
            out
        }
        AdminCommand::DnsLookup { kind, name } if kind == "tlsa" => tlsa_lookup(ctx, &name).await,
        AdminCommand::DnsLookup { kind, name } => dns_lookup(ctx, &kind, &name).await,
        AdminCommand::TlsPolicyShow(domain) => {
            let config = ctx.config();
            let resolver = crate::outbound::dns::resolver(&config.dns)?;
            let now = ctx.clock.now();
            crate::outbound::show::tls_policy(&config, &resolver, &ctx.store, now, &domain).await
        }
        AdminCommand::FolderDelete {
            ref owner,
            ref name,
        } => {
            let out = folder_delete(ctx, owner, name).await?;
            announce_folder(ctx, cmd);
            Ok(out)
        }
        AdminCommand::FolderCreate { .. } => {
            let out = exec::execute(&ctx.store, &cmd)?;
            announce_folder(ctx, cmd);
            Ok(out)
        }
        // Import and export read and write files on the server's machine: the console
        // (its socket, `handle_line_with_progress`) only, never a command line sent over
        // the API, which has its own import and export through the request body.
        AdminCommand::Calendar(
            crate::admin::calendar::CalendarCommand::Import { .. }
            | crate::admin::calendar::CalendarCommand::Export { .. },
        ) => Err(
            "calendar import and export take a file on the server: run them in the \
console; over the API use /api/v1/accounts/{address}/collections/{name}/import and /export"
                .into(),
        ),
        AdminCommand::Calendar(c) => calendar_live(ctx, c, None).await,
        AdminCommand::Screen(c) => {
            let out = crate::admin::screen::execute(&ctx.screen, &ctx.config().screening, &c)?;
            if c != crate::admin::screen::ScreenCommand::List {
                // A ban or a rule the console reports is one a restart keeps.
                ctx.store.commit_async().await.map_err(|e| e.to_string())?;
            }
            Ok(out)
        }
        other => execute_fetch(ctx, other).await,
    }
}

/// A `calendar` command on the live server, off the arbiter (an import of many objects
/// takes a while); an import's progress goes to `progress` (the console's progress line).
async fn calendar_live(
    ctx: &Arc<ServerContext>,
    cmd: crate::admin::calendar::CalendarCommand,
    progress: Option<ProgressSender>,
) -> Result<String, String> {
    use crate::admin::calendar::{execute, Lines};
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let mut lines = Lines::new(|p| {
            if let Some(tx) = &progress {
                let _ = tx.send(p);
            }
        });
        execute(&c.store, &cmd, &mut lines)
    })
    .await
    .map_err(|e| format!("calendar: {e}"))?
}

/// `folder delete` on the running server: the folder's actor (its one writer) deletes it,
/// then the store is flushed before the answer.
async fn account_delete(ctx: &Arc<ServerContext>, address: &str) -> Result<String, String> {
    let (sctx, who) = (ctx.clone(), address.to_string());
    tokio::task::spawn_blocking(move || sctx.folders.delete_account(&who))
        .await
        .map_err(|e| format!("account delete: {e}"))?
        .map_err(|e| e.to_string())?;
    ctx.store.commit_async().await.map_err(|e| e.to_string())?;
    Ok(exec::account_deleted(address))
}

async fn folder_delete(
    ctx: &Arc<ServerContext>,
    owner: &str,
    name: &str,
) -> Result<String, String> {
    let id = exec::folder(&ctx.store, owner, name)?;
    let addr = ctx.folders.get(ctx, id).map_err(|e| e.to_string())?;
    addr.send(DeleteFolder)
        .await
        .map_err(|e| format!("folder actor: {e}"))?
        .map_err(|e| e.to_string())?;
    ctx.store.commit_async().await.map_err(|e| e.to_string())?;
    Ok(exec::folder_deleted(owner, name))
}

/// A folder the console created or deleted is news for the owner's NOTIFY sessions, as
/// one an IMAP client created or deleted would be.
fn announce_folder(ctx: &ServerContext, cmd: AdminCommand) {
    let (owner, event) = match cmd {
        AdminCommand::FolderCreate { owner, name } => {
            let owner = exec::storage_owner(&owner).to_string();
            let event = AccountChanged(AccountEvent::Created {
                owner: owner.clone(),
                name,
            });
            (owner, event)
        }
        AdminCommand::FolderDelete { owner, name } => {
            let owner = exec::storage_owner(&owner).to_string();
            let event = AccountChanged(AccountEvent::Deleted {
                owner: owner.clone(),
                name,
            });
            (owner, event)
        }
        _ => return,
    };
    ctx.account_events.publish(&owner, event);
}

/// The fetch commands need the live fetchers: started on add, stopped on delete, run now.
async fn execute_fetch(ctx: &Arc<ServerContext>, cmd: AdminCommand) -> Result<String, String> {
    use crate::admin::fetch;
    let store = &ctx.store;
    match cmd {
        AdminCommand::SourceAdd { account, spec } => {
            let (out, id) = fetch::source_add(store, &account, &spec)?;
            fetcher::ensure(ctx, id);
            Ok(out)
        }
        AdminCommand::DomainPopSet {
            domain,
            spec,
            options,
        } => {
            let (out, id) = fetch::domainpop_set(store, &domain, &spec, &options)?;
            fetcher::ensure(ctx, id);
            Ok(out)
        }
        AdminCommand::SourceDel(id) => {
            let out = fetch::source_del(store, id)?;
            fetcher::remove(ctx, id);
            Ok(out)
        }
        AdminCommand::DomainPopDel(domain) => {
            let id = fetch::domainpop_source(store, &domain)?.id;
            let out = fetch::source_del(store, id)?;
            fetcher::remove(ctx, id);
            Ok(out)
        }
        AdminCommand::SourceRun(id) => {
            if store.fetch_source(id).map_err(|e| e.to_string())?.is_none() {
                return Err(format!("no source {id} (see `source list`)"));
            }
            Ok(match run_for_a_while(ctx, id).await? {
                Some(report) => format!("source {id}: {report}"),
                None => still_running(id),
            })
        }
        AdminCommand::DomainPopRun(domain) => {
            let id = fetch::domainpop_source(store, &domain)?.id;
            Ok(match run_for_a_while(ctx, id).await? {
                Some(report) => format!("DomainPOP for {domain}: {report}"),
                None => still_running(id),
            })
        }
        AdminCommand::SourceStatus(id) => {
            fetch::source_status(store, id, &|id| ctx.fetchers.is_running(id))
        }
        other => exec::execute(store, &other),
    }
}

/// A queue command as a typed change to the queue actor holding the record (which answers
/// busy while the record is being delivered).
async fn queue_change(ctx: &ServerContext, change: Change) -> Result<String, String> {
    queues::change(ctx, change)
        .await
        .map(|done| done.text())
        .map_err(|e| e.to_string())
}

/// `dns mx|txt|a NAME` through the server's resolver (`[dns] nameservers`).
async fn dns_lookup(ctx: &Arc<ServerContext>, kind: &str, name: &str) -> Result<String, String> {
    use crate::outbound::dns::{lookup_lines, resolver, LookupKind};
    let kind = match kind {
        "mx" => LookupKind::Mx,
        "txt" => LookupKind::Txt,
        _ => LookupKind::A,
    };
    let r = resolver(&ctx.config().dns)?;
    let lines = lookup_lines(&r, kind, name)
        .await
        .map_err(|e| e.to_string())?;
    if lines.is_empty() {
        Ok(format!("{name}: no records"))
    } else {
        Ok(lines.join("\n"))
    }
}

/// How long `source run` waits for the outcome; a longer run goes on in the background
/// (the console client gives up on an answer after a minute).
const RUN_WAIT: Duration = Duration::from_secs(45);

/// Runs a source now; `None` if it is still running after [`RUN_WAIT`].
async fn run_for_a_while(
    ctx: &Arc<ServerContext>,
    id: u64,
) -> Result<Option<fetcher::RunReport>, String> {
    match tokio::time::timeout(RUN_WAIT, fetcher::run_now(ctx, id)).await {
        Ok(report) => report.map(Some),
        Err(_) => Ok(None),
    }
}

fn still_running(id: u64) -> String {
    format!("source {id} is still fetching; `source status {id}` shows how it ends")
}

/// `dns tlsa NAME`: asked of the first configured name server with the AD bit set, so the
/// answer says whether it was DNSSEC-validated (RFC 6840 §5.7).
async fn tlsa_lookup(ctx: &Arc<ServerContext>, name: &str) -> Result<String, String> {
    use crate::outbound::dane::{lookup_raw, TLSA_CONSOLE_TIMEOUT};
    let config = ctx.config();
    let Some(server) = config.dns.nameservers.first() else {
        return Err("dns tlsa needs [dns] nameservers (the system resolver is not asked)".into());
    };
    let (records, authentic) =
        lookup_raw(*server, &format!("{name}."), TLSA_CONSOLE_TIMEOUT).await?;
    if records.is_empty() {
        return Ok(format!("{name}: no records"));
    }
    let mut lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    lines.push(match (authentic, config.dns.trust_ad) {
        (true, true) => "DNSSEC: validated (AD bit from a trusted resolver): DANE applies".into(),
        (true, false) => "DNSSEC: AD bit set, but [dns] trust_ad is off: DANE not used".into(),
        (false, _) => "DNSSEC: not validated (no AD bit): DANE not used".into(),
    });
    Ok(lines.join("\n"))
}

fn status(ctx: &ServerContext) -> String {
    let mut out = String::new();
    let up = ctx.stats.started.elapsed().as_secs();
    let _ = writeln!(
        out,
        "uptime: {}d {:02}h {:02}m {:02}s",
        up / 86_400,
        (up / 3600) % 24,
        (up / 60) % 60,
        up % 60
    );
    let sessions = ctx.stats.sessions();
    let list: Vec<String> = sessions.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "sessions: {} open ({}); {} connections since start",
        ctx.stats.open_sessions(),
        if list.is_empty() {
            "none".into()
        } else {
            list.join(" ")
        },
        ctx.stats.connections_total()
    );
    let depths: Vec<String> = QueueName::ALL
        .iter()
        .map(|q| format!("{}={}", q.as_str(), ctx.store.queue_depth(*q).unwrap_or(0)))
        .collect();
    let _ = writeln!(out, "queues: {}", depths.join(" "));
    let _ = writeln!(
        out,
        "messages: in={} delivered={} out={}",
        Stats::count(&ctx.stats.messages_in),
        Stats::count(&ctx.stats.messages_delivered),
        Stats::count(&ctx.stats.messages_out)
    );
    let _ = writeln!(out, "{}", crate::admin::fetch::summary(&ctx.store));
    let _ = write!(
        out,
        "actors: {} open folders, {} restarts",
        ctx.folders.open_count(),
        ctx.registry.total_restarts()
    );
    out
}

fn actors(ctx: &ServerContext) -> String {
    let mut out = String::from("supervisor\n");
    let snap = ctx.registry.snapshot();
    let n = snap.len();
    for (i, (path, info)) in snap.into_iter().enumerate() {
        let branch = if i + 1 == n { "└─" } else { "├─" };
        let _ = write!(
            out,
            "{branch} {path:<40} {:<8} restarts={}",
            info.kind, info.restarts
        );
        if let Some(f) = info.last_failure {
            let _ = write!(out, " last failure: {f}");
        }
        out.push('\n');
    }
    let _ = write!(out, "sessions: {} open", ctx.stats.open_sessions());
    out
}

/// Re-reads the config file, TLS certificate and limits. New sessions use them; running
/// sessions keep theirs. Listener addresses and data_dir need a restart.
fn reload(ctx: &ServerContext) -> Result<String, String> {
    let old = ctx.config();
    let mut new = crate::config::Config::load(old.source.as_deref()).map_err(|e| e.to_string())?;
    let mut notes = Vec::new();
    if new.data_dir != old.data_dir {
        notes.push("data_dir changed: takes effect after a restart");
        new.data_dir = old.data_dir.clone();
    }
    if new.listeners != old.listeners {
        notes.push("listeners changed: take effect after a restart");
        new.listeners = old.listeners.clone();
    }
    let cert = crate::net::tls::ensure_certificate(&new).map_err(|e| e.to_string())?;
    let tls = crate::net::tls::load_server_config(&cert).map_err(|e| e.to_string())?;
    ctx.set_tls(Some(tls));
    ctx.set_config(Arc::new(new));
    let mut out = String::from(
        "reloaded configuration, limits and TLS certificate (new sessions use them; open sessions keep theirs)",
    );
    for n in notes {
        out.push_str("\nnote: ");
        out.push_str(n);
    }
    Ok(out)
}
