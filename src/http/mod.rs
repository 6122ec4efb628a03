//! HTTP fronts (actix-web). For now: the health page on the `http` and `admin` listeners;
//! webmail, the admin dashboard, DAV and ActiveSync come in later issues.
//!
//! The `http` listener is public (all addresses, no authentication): its `/health` says
//! only whether the server is alive. The queue depths, session counts and the rest are
//! for operators, on the `admin` listener only (loopback by default). No figure is counted
//! per request: queue depths come from the store's in-memory counters. Addresses banned
//! by dynamic screening get 403 on every path.

pub mod api;
pub mod auth;
pub mod error;
pub mod logtail;
pub mod metrics;

use std::sync::Arc;

use actix_web::dev::{Service, ServiceRequest};
use actix_web::{web, App, HttpResponse, HttpServer};
use futures_util::future::{ready, Either};

use crate::actors::stats::Stats;
use crate::actors::ServerContext;
use crate::storage::QueueName;

/// What a listener's `/health` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Liveness only: `{"status":"ok"}` (or "stopping").
    Liveness,
    /// Liveness plus uptime, sessions, queue depths and message counts.
    Figures,
}

impl Health {
    /// The health page a listener serves: figures on `admin`, liveness elsewhere.
    pub fn for_listener(service: &str) -> Health {
        if service == "admin" {
            Health::Figures
        } else {
            Health::Liveness
        }
    }
}

/// Starts an HTTP server on an already-bound listener; returns its handle (to stop it).
pub fn start(
    ctx: Arc<ServerContext>,
    listener: std::net::TcpListener,
    health: Health,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let data = web::Data::new(ctx);
    let server = HttpServer::new(move || {
        let page = move |ctx: web::Data<Arc<ServerContext>>| async move {
            HttpResponse::Ok().json(health_body(&ctx, health))
        };
        App::new()
            .app_data(data.clone())
            .wrap_fn(|req, srv| {
                // Dynamic screening: a banned address gets 403 before any handler runs.
                if banned(&req) {
                    let refused = HttpResponse::Forbidden()
                        .content_type("text/plain; charset=utf-8")
                        .body("Your address is blocked for now.\n");
                    Either::Left(ready(Ok(req.into_response(refused))))
                } else {
                    Either::Right(srv.call(req))
                }
            })
            .route("/health", web::get().to(page))
            .route("/", web::get().to(page))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    .listen(listener)?
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok(handle)
}

/// Whether the client's address is banned by dynamic screening (`actors::screen`).
fn banned(req: &ServiceRequest) -> bool {
    let (Some(ctx), Some(peer)) = (
        req.app_data::<web::Data<Arc<ServerContext>>>(),
        req.peer_addr(),
    ) else {
        return false;
    };
    ctx.screen.banned(&ctx.config().screening, peer.ip())
}

/// `GET /health` as JSON: liveness, and with [`Health::Figures`] the figures of the
/// console's `status`.
pub fn health_body(ctx: &ServerContext, health: Health) -> serde_json::Value {
    let status = if ctx.is_shutting_down() {
        "stopping"
    } else {
        "ok"
    };
    if health == Health::Liveness {
        return serde_json::json!({ "status": status });
    }
    let mut queues = serde_json::Map::new();
    for q in QueueName::ALL {
        let depth = ctx.store.queue_depth(q).unwrap_or(0);
        queues.insert(q.as_str().to_string(), depth.into());
    }
    serde_json::json!({
        "status": status,
        "uptime_seconds": ctx.stats.started.elapsed().as_secs(),
        "sessions": ctx.stats.sessions(),
        "queues": queues,
        "messages_in": Stats::count(&ctx.stats.messages_in),
        "messages_delivered": Stats::count(&ctx.stats.messages_delivered),
        "actor_restarts": ctx.registry.total_restarts(),
    })
}
