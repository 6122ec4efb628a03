//! The overview: counters and live charts fed by `/events`, a server-sent event stream
//! that sends one JSON snapshot every two seconds. A snapshot reads only in-memory figures
//! (the actors' counters, the store's queue depth counters): no storage scan per event, so
//! an open dashboard costs next to nothing. The browser keeps the last 60 points.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::{assets, gate, render, visible_domains, Chrome, Ctx, Need};
use crate::actors::stats::Stats;
use crate::actors::ServerContext;
use crate::http::metrics::SESSION_SERVICES;
use crate::storage::QueueName;

/// Seconds between two snapshots.
const EVERY: Duration = Duration::from_secs(2);

#[derive(Template)]
#[template(path = "overview.html")]
struct Overview {
    chrome: Chrome,
    role: String,
    /// Admins see the server's figures; domain admins their domains' (figures that span
    /// all domains, like queue depths, are not theirs to see).
    live: bool,
    snapshot: String,
    domains: Vec<DomainCount>,
    uplot_js: String,
    uplot_css: String,
    overview_js: String,
    /// The sessions chart's series: the listener names `/metrics` labels sessions with.
    session_series: String,
}

struct DomainCount {
    name: String,
    accounts: usize,
    aliases: usize,
}

pub async fn page(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let live = who.is_admin();
    let mut domains = Vec::new();
    if !live {
        let accounts = ctx.store.list_accounts().unwrap_or_default();
        let aliases = ctx.store.list_aliases().unwrap_or_default();
        for d in visible_domains(&ctx, &who).unwrap_or_default() {
            let suffix = format!("@{d}");
            domains.push(DomainCount {
                accounts: accounts
                    .iter()
                    .filter(|a| a.address.ends_with(&suffix))
                    .count(),
                aliases: aliases.iter().filter(|(a, _)| a.ends_with(&suffix)).count(),
                name: d,
            });
        }
    }
    let t = Overview {
        chrome: Chrome::new(&req, &who, "/"),
        role: super::role_name(&who.role),
        live,
        snapshot: if live {
            snapshot(&ctx).to_string()
        } else {
            String::new()
        },
        domains,
        uplot_js: assets::url("vendor/uplot/uPlot.iife.min.js"),
        uplot_css: assets::url("vendor/uplot/uPlot.min.css"),
        overview_js: assets::url("overview.js"),
        session_series: SESSION_SERVICES.join(","),
    };
    render(&req, &t.chrome, &t)
}

/// One snapshot of the live figures. Counters are totals since start; the browser turns
/// them into rates.
pub fn snapshot(ctx: &ServerContext) -> serde_json::Value {
    let mut queues = serde_json::Map::new();
    for q in QueueName::ALL {
        queues.insert(
            q.as_str().to_string(),
            ctx.store.queue_depth(q).unwrap_or(0).into(),
        );
    }
    // Every listener's series, 0 when it has no open session, as `/metrics` lists them;
    // the web listeners' are their requests in progress (`http::activity`).
    let mut sessions: serde_json::Map<String, serde_json::Value> = SESSION_SERVICES
        .iter()
        .map(|s| (s.to_string(), 0.into()))
        .collect();
    for (service, n) in ctx.stats.sessions() {
        sessions.insert(service.to_string(), n.into());
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    serde_json::json!({
        "time": now_ms,
        "uptime": ctx.stats.started.elapsed().as_secs(),
        "messages_in": Stats::count(&ctx.stats.messages_in),
        "messages_out": Stats::count(&ctx.stats.messages_out),
        "messages_delivered": Stats::count(&ctx.stats.messages_delivered),
        "queues": queues,
        "sessions": sessions,
        "failed_logins": ctx.stats.auth_failures().values().sum::<u64>(),
        "bans": ctx.screen.active_bans(),
        // Totals of the delivery latency histograms: the browser divides the growth of
        // the sum by the growth of the count for the mean latency between snapshots.
        "latency": {
            "local_sum": ctx.stats.local_delivery().get_sample_sum(),
            "local_count": ctx.stats.local_delivery().get_sample_count(),
            "remote_sum": ctx.stats.remote_delivery().get_sample_sum(),
            "remote_count": ctx.stats.remote_delivery().get_sample_count(),
        },
    })
}

/// `GET /events`: the snapshot stream (admins only), until the browser goes away or the
/// server stops.
pub async fn events(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    if let Err(r) = gate(&ctx, &req, Need::Admin).await {
        return r;
    }
    let ctx: Arc<ServerContext> = ctx.into_inner().as_ref().clone();
    let stream = futures_util::stream::unfold((ctx, true), |(ctx, first)| async move {
        if !first {
            tokio::time::sleep(EVERY).await;
        }
        if ctx.is_shutting_down() {
            return None;
        }
        let line = format!("data: {}\n\n", snapshot(&ctx));
        Some((
            Ok::<_, actix_web::Error>(web::Bytes::from(line)),
            (ctx, false),
        ))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(stream)
}
