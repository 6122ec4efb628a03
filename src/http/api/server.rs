//! Server-wide endpoints: status, cluster, settings and reload, the console line, logs
//! (recent and live), screening, the fetch sources (MultiPOP/DomainPOP) and API keys.
//!
//! All but the fetch sources and API keys are for admins only (403 for domain admins); a
//! domain admin sees the sources of its accounts and domains, and its own API keys.

use std::collections::BTreeMap;
use std::time::Duration;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{hidden, need_admin, need_scope, resource, run, Body, Ctx, Done, Failures, Manager};
use crate::actors::stats::Stats;
use crate::admin::AdminCommand;
use crate::http::auth::{Principal, Scope};
use crate::http::error::ApiError;
use crate::http::logtail::{self, LogLine};
use crate::storage::{QueueName, SourceOwner};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/status", GET => status);
    resource!(cfg, "/cluster", GET => cluster);
    resource!(cfg, "/settings", GET => settings);
    resource!(cfg, "/settings/reload", POST => reload);
    resource!(cfg, "/command", POST => command);
    resource!(cfg, "/logs", GET => logs);
    resource!(cfg, "/logs/stream", GET => logs_stream);
    resource!(cfg, "/screening", GET => screening, POST => screening_change);
    resource!(cfg, "/sources", GET => sources);
    resource!(cfg, "/sources/{id}/run", POST => source_run);
    resource!(cfg, "/sources/{id}", DELETE => source_del);
    resource!(cfg, "/apikeys", GET => apikeys, POST => apikey_create);
    resource!(cfg, "/apikeys/{id}", DELETE => apikey_revoke);
}

// ---------------------------------------------------------------- status and cluster

/// What the console's `status` shows, as figures.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// ok, or stopping.
    pub status: String,
    pub uptime_seconds: u64,
    /// Open sessions per service.
    pub sessions: BTreeMap<String, u64>,
    pub connections_total: u64,
    /// Records per queue.
    pub queues: BTreeMap<String, usize>,
    pub messages_in: u64,
    pub messages_delivered: u64,
    pub messages_out: u64,
    pub open_folders: usize,
    pub actor_restarts: u64,
}

/// The server's figures (admins only).
#[utoipa::path(get, path = "/api/v1/status", tag = "server",
    responses((status = 200, body = Status), Failures))]
pub async fn status(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    let mut queues = BTreeMap::new();
    for q in QueueName::ALL {
        queues.insert(q.as_str().to_string(), ctx.store.queue_depth(q)?);
    }
    Ok(HttpResponse::Ok().json(Status {
        status: if ctx.is_shutting_down() {
            "stopping"
        } else {
            "ok"
        }
        .to_string(),
        uptime_seconds: ctx.stats.started.elapsed().as_secs(),
        sessions: ctx
            .stats
            .sessions()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        connections_total: ctx.stats.connections_total(),
        queues,
        messages_in: Stats::count(&ctx.stats.messages_in),
        messages_delivered: Stats::count(&ctx.stats.messages_delivered),
        messages_out: Stats::count(&ctx.stats.messages_out),
        open_folders: ctx.folders.open_count(),
        actor_restarts: ctx.registry.total_restarts(),
    }))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeInfo {
    pub name: String,
    /// Unix seconds.
    pub started: i64,
    /// Unix seconds of the last heartbeat.
    pub seen: i64,
    pub version: String,
    /// Queue records leased to it.
    pub leases: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ClusterInfo {
    /// This node's name ("" for the embedded backend, a cluster of one).
    pub node: String,
    pub nodes: Vec<NodeInfo>,
}

/// The nodes sharing the database (admins only).
#[utoipa::path(get, path = "/api/v1/cluster", tag = "server",
    responses((status = 200, body = ClusterInfo), Failures))]
pub async fn cluster(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    let info = super::blocking(&ctx, |ctx| {
        Ok(ClusterInfo {
            node: ctx.store.node_name(),
            nodes: ctx
                .store
                .cluster_nodes()?
                .into_iter()
                .map(|n| NodeInfo {
                    name: n.name,
                    started: n.started,
                    seen: n.seen,
                    version: n.version,
                    leases: n.leases,
                })
                .collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(info))
}

// ---------------------------------------------------------------- settings

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Settings {
    /// The configuration file in force (absent: the built-in default).
    pub source: Option<String>,
    pub hostname: String,
    pub data_dir: String,
    /// The configuration the server runs with, as the file's sections and keys: defaults
    /// the file left out and resolved values included, every secret shown as "********"
    /// (`config::effective`).
    #[schema(value_type = Object)]
    pub effective: serde_json::Value,
}

impl Settings {
    /// The settings of `config` (the parsed configuration in force, not the file's text,
    /// which may have changed since the last reload).
    pub fn of(config: &crate::config::Config) -> Settings {
        Settings {
            source: config.source.as_ref().map(|p| p.display().to_string()),
            hostname: config.hostname.clone(),
            data_dir: config.data_dir.display().to_string(),
            effective: crate::config::effective::effective(config),
        }
    }
}

/// The configuration in force (admins only), secrets masked.
#[utoipa::path(get, path = "/api/v1/settings", tag = "server",
    responses((status = 200, body = Settings), Failures))]
pub async fn settings(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    Ok(HttpResponse::Ok().json(Settings::of(&ctx.config())))
}

/// Reads the configuration file, limits and TLS certificate again (admins, scope `all`).
#[utoipa::path(post, path = "/api/v1/settings/reload", tag = "server",
    responses((status = 200, body = Done), Failures))]
pub async fn reload(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    need_scope(&m.0, Scope::All)?;
    let output = run(&ctx, AdminCommand::Reload).await?;
    Ok(HttpResponse::Ok().json(Done { output }))
}

// ---------------------------------------------------------------- the console line

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandLine {
    /// A console line, e.g. `queue list remote`.
    pub line: String,
}

/// Runs any console line on the live server (admins with scope `all`). A line that does
/// not parse, or a command that fails, is 422 with the console's message.
#[utoipa::path(post, path = "/api/v1/command", tag = "server", request_body = CommandLine,
    responses((status = 200, body = Done), Failures))]
pub async fn command(
    ctx: Ctx,
    m: Manager,
    body: Body<CommandLine>,
) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    need_scope(&m.0, Scope::All)?;
    let cmd =
        crate::admin::parse_line(&body.line).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let output = run(&ctx, cmd).await?;
    Ok(HttpResponse::Ok().json(Done { output }))
}

// ---------------------------------------------------------------- logs

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only this service (smtp, imap, pop3, submission, queues, …).
    pub service: Option<String>,
    /// This level and more severe: error, warn, info, debug, trace.
    #[param(pattern = "^(error|warn|info|debug|trace|ERROR|WARN|INFO|DEBUG|TRACE)$")]
    pub level: Option<String>,
    /// Only this session id.
    pub session: Option<String>,
    /// At most this many (the newest; default and maximum 2000).
    #[param(minimum = 0, maximum = 2000)]
    pub limit: Option<usize>,
}

impl LogQuery {
    fn filter(&self) -> Result<logtail::Filter, ApiError> {
        Ok(logtail::Filter {
            service: self.service.clone().filter(|s| !s.is_empty()),
            level: match self.level.as_deref() {
                None => None,
                // Exactly the names of the documented pattern (tracing's own parser would
                // also take digits and mixed case).
                Some(l)
                    if ["error", "warn", "info", "debug", "trace"]
                        .iter()
                        .any(|n| l == *n || l == n.to_ascii_uppercase()) =>
                {
                    Some(
                        l.parse()
                            .map_err(|_| ApiError::unprocessable(format!("unknown level {l:?}")))?,
                    )
                }
                Some(l) => {
                    return Err(ApiError::unprocessable(format!(
                        "unknown level {l:?} (error, warn, info, debug, trace)"
                    )))
                }
            },
            session: self.session.clone().filter(|s| !s.is_empty()),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogList {
    pub items: Vec<LogLine>,
}

/// The recent log lines, oldest first (admins only).
#[utoipa::path(get, path = "/api/v1/logs", tag = "server", params(LogQuery),
    responses((status = 200, body = LogList), Failures))]
pub async fn logs(m: Manager, q: web::Query<LogQuery>) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    let filter = q.filter()?;
    let limit = q.limit.unwrap_or(logtail::CAPACITY);
    if limit > logtail::CAPACITY {
        return Err(ApiError::unprocessable(format!(
            "limit {limit} is above {}",
            logtail::CAPACITY
        )));
    }
    Ok(HttpResponse::Ok().json(LogList {
        items: logtail::global().recent(&filter, limit),
    }))
}

/// How often an idle stream sends a comment, so that proxies keep it open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// New log lines as server-sent events (`event: log`, data the line as JSON), from now
/// on; `limit` recent lines first. A reader that falls behind gets an `event: lagged`
/// with the number of lines it missed (admins only).
#[utoipa::path(get, path = "/api/v1/logs/stream", tag = "server", params(LogQuery),
    responses((status = 200, description = "text/event-stream of log lines",
               content_type = "text/event-stream", body = String), Failures))]
pub async fn logs_stream(m: Manager, q: web::Query<LogQuery>) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    let filter = q.filter()?;
    let backlog = logtail::global().recent(&filter, q.limit.unwrap_or(0).min(logtail::CAPACITY));
    let rx = logtail::global().subscribe();
    let first: String = backlog.iter().map(event).collect::<String>() + ": stream open\n\n";
    let stream = futures_util::stream::unfold(
        (Some(first), rx, filter),
        |(pending, mut rx, filter)| async move {
            use tokio::sync::broadcast::error::RecvError;
            if let Some(text) = pending {
                return Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from(text)),
                    (None, rx, filter),
                ));
            }
            loop {
                let text = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                    Err(_) => ": keepalive\n\n".to_string(),
                    Ok(Ok(line)) if filter.matches(&line) => event(&line),
                    Ok(Ok(_)) => continue,
                    Ok(Err(RecvError::Lagged(n))) => format!("event: lagged\ndata: {n}\n\n"),
                    Ok(Err(RecvError::Closed)) => return None,
                };
                return Some((Ok(web::Bytes::from(text)), (None, rx, filter)));
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream))
}

/// One SSE event for a line.
fn event(line: &LogLine) -> String {
    format!(
        "id: {}\nevent: log\ndata: {}\n\n",
        line.seq,
        serde_json::to_string(line).unwrap_or_default()
    )
}

// ---------------------------------------------------------------- screening

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BanInfo {
    pub address: String,
    /// Unix seconds.
    pub since: i64,
    pub until: i64,
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ScreeningInfo {
    /// Bans in force.
    pub bans: Vec<BanInfo>,
    /// Networks never screened.
    pub allow: Vec<String>,
    /// Networks always refused.
    pub deny: Vec<String>,
    /// The console's `screen list`.
    pub summary: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScreeningChange {
    /// ban, unban, allow or deny.
    pub action: String,
    /// An IP address (ban), or an address or network IP/PREFIX.
    pub address: String,
    /// Ban length (e.g. 90s, 15m, 4h, 2d); absent: the next escalation step.
    #[serde(rename = "for")]
    pub for_: Option<String>,
}

fn screening_info(ctx: &crate::actors::ServerContext) -> Result<ScreeningInfo, ApiError> {
    let snap = ctx.store.screen_load()?;
    let now = ctx.clock.now();
    let bans = snap
        .addresses
        .into_iter()
        .filter_map(|(ip, r)| {
            r.ban.filter(|b| b.until > now).map(|b| BanInfo {
                address: ip.to_string(),
                since: b.since,
                until: b.until,
                reason: b.reason,
            })
        })
        .collect();
    Ok(ScreeningInfo {
        bans,
        allow: snap.allow,
        deny: snap.deny,
        summary: ctx.screen.list(&ctx.config().screening),
    })
}

/// Dynamic screening: bans, allow and deny lists (admins only).
#[utoipa::path(get, path = "/api/v1/screening", tag = "server",
    responses((status = 200, body = ScreeningInfo), Failures))]
pub async fn screening(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    Ok(HttpResponse::Ok().json(screening_info(&ctx)?))
}

/// Bans or unbans an address, or adds a network to the allow or deny list (admins, scope
/// `all`).
#[utoipa::path(post, path = "/api/v1/screening", tag = "server", request_body = ScreeningChange,
    responses((status = 200, body = ScreeningInfo), Failures))]
pub async fn screening_change(
    ctx: Ctx,
    m: Manager,
    body: Body<ScreeningChange>,
) -> Result<HttpResponse, ApiError> {
    need_admin(&m.0)?;
    need_scope(&m.0, Scope::All)?;
    let ScreeningChange {
        action,
        address,
        for_,
    } = body.into_inner();
    if !matches!(action.as_str(), "ban" | "unban" | "allow" | "deny") {
        return Err(ApiError::unprocessable(format!(
            "unknown action {action:?} (ban, unban, allow or deny)"
        )));
    }
    let mut words = vec!["screen".to_string(), action, address];
    if let Some(d) = for_ {
        words.extend(["--for".to_string(), d]);
    }
    let cmd = crate::admin::parse(&words).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    run(&ctx, cmd).await?;
    Ok(HttpResponse::Ok().json(screening_info(&ctx)?))
}

// ---------------------------------------------------------------- fetch sources

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceStatus {
    /// Unix seconds.
    pub last_run: Option<i64>,
    pub last_success: Option<i64>,
    pub last_fetched: u64,
    pub total_fetched: u64,
    pub total_deleted: u64,
    pub last_error: Option<String>,
    /// Failed runs in a row.
    pub failures: u32,
    pub next_run: Option<i64>,
}

/// A MultiPOP or DomainPOP source (its password is never shown).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceInfo {
    pub id: u64,
    /// multipop or domainpop.
    pub kind: String,
    /// The account (MultiPOP) or domain (DomainPOP) it collects into.
    pub owner: String,
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub tls: String,
    pub user: String,
    pub leave_on_server: bool,
    /// Seconds between runs.
    pub interval: u64,
    /// Fetching right now.
    pub running: bool,
    pub status: SourceStatus,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SourceList {
    pub items: Vec<SourceInfo>,
}

fn source_visible(p: &Principal, owner: &SourceOwner) -> bool {
    p.may_source(owner)
}

fn source_infos(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
) -> Result<Vec<SourceInfo>, ApiError> {
    let mut out = Vec::new();
    for s in ctx.store.fetch_sources()? {
        if !source_visible(p, &s.owner) {
            continue;
        }
        let st = ctx.store.fetch_status(s.id)?;
        out.push(SourceInfo {
            id: s.id,
            kind: match s.owner {
                SourceOwner::Account(_) => "multipop",
                SourceOwner::Domain(_) => "domainpop",
            }
            .to_string(),
            owner: s.owner.name().to_string(),
            protocol: s.protocol.as_str().to_string(),
            host: s.host,
            port: s.port,
            tls: s.tls.as_str().to_string(),
            user: s.user,
            leave_on_server: s.leave_on_server,
            interval: s.interval,
            running: ctx.fetchers.is_running(s.id),
            status: SourceStatus {
                last_run: st.last_run,
                last_success: st.last_success,
                last_fetched: st.last_fetched,
                total_fetched: st.total_fetched,
                total_deleted: st.total_deleted,
                last_error: st.last_error,
                failures: st.failures,
                next_run: st.next_run,
            },
        });
    }
    Ok(out)
}

/// The fetch sources with their last run and errors (a domain admin: its own).
#[utoipa::path(get, path = "/api/v1/sources", tag = "server",
    responses((status = 200, body = SourceList), Failures))]
pub async fn sources(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(SourceList {
        items: source_infos(&ctx, &m.0)?,
    }))
}

/// The source `id` as the caller may see it, or 404.
fn visible_source(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    id: u64,
) -> Result<SourceOwner, ApiError> {
    match ctx.store.fetch_source(id)? {
        Some(s) if source_visible(p, &s.owner) => Ok(s.owner),
        _ => Err(hidden(&format!("source {id}"))),
    }
}

/// Fetches now and answers how the run went (or that it goes on in the background).
#[utoipa::path(post, path = "/api/v1/sources/{id}/run", tag = "server",
    params(("id" = u64, Path, description = "source id")),
    responses((status = 200, body = Done), Failures))]
pub async fn source_run(
    ctx: Ctx,
    m: Manager,
    path: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let owner = visible_source(&ctx, &m.0, id)?;
    need_scope(&m.0, Scope::Accounts)?;
    let cmd = match owner {
        SourceOwner::Account(_) => AdminCommand::SourceRun(id),
        SourceOwner::Domain(d) => AdminCommand::DomainPopRun(d),
    };
    let output = run(&ctx, cmd).await?;
    Ok(HttpResponse::Ok().json(Done { output }))
}

/// Deletes a source with everything remembered about it.
#[utoipa::path(delete, path = "/api/v1/sources/{id}", tag = "server",
    params(("id" = u64, Path, description = "source id")),
    responses((status = 204, description = "deleted"), Failures))]
pub async fn source_del(
    ctx: Ctx,
    m: Manager,
    path: web::Path<u64>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    visible_source(&ctx, &m.0, id)?;
    need_scope(&m.0, Scope::Accounts)?;
    run(&ctx, AdminCommand::SourceDel(id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------- API keys

/// An API key as listed: everything but the secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyView {
    /// 8 hex digits.
    pub id: String,
    pub name: String,
    /// The account the key acts as.
    pub owner: String,
    /// read-only, accounts, queues or all.
    pub scope: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds of the last use (to the minute).
    pub last_used: Option<u64>,
}

impl From<crate::admin::apikey::ApiKeyInfo> for ApiKeyView {
    fn from(k: crate::admin::apikey::ApiKeyInfo) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            owner: k.owner,
            scope: k.scope.as_str().to_string(),
            created: k.created,
            last_used: k.last_used,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKeyView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// 1 to 64 printable characters.
    #[schema(pattern = r"^[A-Za-z0-9 ._-]{1,64}$")]
    pub name: String,
    /// read-only, accounts, queues or all (default).
    #[schema(pattern = "^(read-only|accounts|queues|all)$")]
    pub scope: Option<String>,
    /// The account the key acts as (default: the caller; others: admins only).
    pub owner: Option<String>,
}

/// A new key: shown once, not kept.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    /// `fm_<id>_<secret>`, for `Authorization: Bearer`.
    pub key: String,
    pub info: ApiKeyView,
}

fn keys_of(ctx: &crate::actors::ServerContext, p: &Principal) -> Result<Vec<ApiKeyView>, ApiError> {
    Ok(crate::admin::apikey::list(&ctx.store)
        .map_err(ApiError::internal)?
        .into_iter()
        .filter(|k| p.is_admin() || k.owner.eq_ignore_ascii_case(&p.address))
        .map(ApiKeyView::from)
        .collect())
}

/// API keys: an admin sees every key, a domain admin its own.
#[utoipa::path(get, path = "/api/v1/apikeys", tag = "server",
    responses((status = 200, body = ApiKeyList), Failures))]
pub async fn apikeys(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ApiKeyList {
        items: keys_of(&ctx, &m.0)?,
    }))
}

/// Makes a key (scope `all` needed); the answer is the only place the key appears.
#[utoipa::path(post, path = "/api/v1/apikeys", tag = "server", request_body = NewApiKey,
    responses((status = 201, body = CreatedApiKey), Failures))]
pub async fn apikey_create(
    ctx: Ctx,
    m: Manager,
    body: Body<NewApiKey>,
) -> Result<HttpResponse, ApiError> {
    let p = m.0;
    need_scope(&p, Scope::All)?;
    let NewApiKey { name, scope, owner } = body.into_inner();
    let scope: Scope = match scope {
        None => Scope::All,
        Some(s) => s.parse().map_err(ApiError::unprocessable)?,
    };
    let owner = owner.unwrap_or_else(|| p.address.clone()).to_lowercase();
    if owner != p.address {
        need_admin(&p)?;
        if ctx.store.get_account(&owner)?.is_none() {
            return Err(ApiError::not_found(format!("no account {owner}")));
        }
    }
    let (store, o) = (ctx.store.clone(), owner.clone());
    let (info, key) = web::block(move || crate::admin::apikey::create(&store, &o, &name, scope))
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
        .map_err(ApiError::unprocessable)?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key,
        info: info.into(),
    }))
}

/// Revokes a key: it stops working at once (scope `all`; a domain admin: its own keys).
#[utoipa::path(delete, path = "/api/v1/apikeys/{id}", tag = "server",
    params(("id" = String, Path, description = "the key's id")),
    responses((status = 204, description = "revoked"), Failures))]
pub async fn apikey_revoke(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    if !keys_of(&ctx, &m.0)?.iter().any(|k| k.id == id) {
        return Err(hidden(&format!("API key {id}")));
    }
    need_scope(&m.0, Scope::All)?;
    // Like the rule that nobody deletes their own account: a client never cuts off the key
    // it is calling with by accident (another key, the dashboard or the console can).
    if m.0.via == crate::http::principal::Via::ApiKey(id.clone()) {
        return Err(ApiError::conflict(
            "this key authenticates the request; revoke it with another key, the dashboard or the console",
        ));
    }
    let store = ctx.store.clone();
    web::block(move || crate::admin::apikey::revoke(&store, &id))
        .await
        .map_err(|e| ApiError::internal(format!("worker: {e}")))?
        .map_err(ApiError::unprocessable)?;
    Ok(HttpResponse::NoContent().finish())
}
