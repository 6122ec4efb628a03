//! HTTP fronts (actix-web). For now: the health page on the `http` and `admin` listeners;
//! webmail, the admin dashboard, DAV and ActiveSync come in later issues. Addresses banned
//! by dynamic screening get 403 on every path.

use std::sync::Arc;

use actix_web::dev::{Service, ServiceRequest};
use actix_web::{web, App, HttpResponse, HttpServer};
use futures_util::future::{ready, Either};

use crate::actors::ServerContext;
use crate::storage::QueueName;

/// Starts an HTTP server on an already-bound listener; returns its handle (to stop it).
pub fn start(
    ctx: Arc<ServerContext>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let data = web::Data::new(ctx);
    let server = HttpServer::new(move || {
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
            .route("/health", web::get().to(health))
            .route("/", web::get().to(health))
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

/// `GET /health`: liveness plus the figures of the console's `status`, as JSON.
async fn health(ctx: web::Data<Arc<ServerContext>>) -> HttpResponse {
    let mut queues = serde_json::Map::new();
    for q in QueueName::ALL {
        let depth = ctx.store.queue_depth(q).unwrap_or(0);
        queues.insert(q.as_str().to_string(), depth.into());
    }
    let body = serde_json::json!({
        "status": if ctx.is_shutting_down() { "stopping" } else { "ok" },
        "uptime_seconds": ctx.stats.started.elapsed().as_secs(),
        "sessions": ctx.stats.sessions(),
        "queues": queues,
        "messages_in": crate::actors::stats::Stats::count(&ctx.stats.messages_in),
        "messages_delivered": crate::actors::stats::Stats::count(&ctx.stats.messages_delivered),
        "actor_restarts": ctx.registry.total_restarts(),
    });
    HttpResponse::Ok().json(body)
}
