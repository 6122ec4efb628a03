//! The web front (actix-web): one application per web listener ([`server`]), the
//! middleware they share ([`security`], [`session`], [`csrf`]), logins ([`login`]) and who
//! is asking ([`auth`]). The admin dashboard, the management API and metrics plug into the
//! admin listener's application; webmail, DAV and ActiveSync will plug into the public ones.
//!
//! The `http`/`https` listeners are public: their `/health` says only whether the server
//! is alive. The queue depths, session counts and the rest are for operators, on the
//! `admin` listener only (HTTPS, loopback by default). No figure is counted per request:
//! queue depths come from the store's in-memory counters. Addresses banned by dynamic
//! screening get 403 on every path.

pub mod activity;
pub mod api;
pub mod auth;
pub mod clientconfig;
pub mod csrf;
pub mod dashboard;
pub mod dav;
pub mod error;
pub mod front;
pub mod jobs;
pub mod login;
pub mod login_steps;
pub mod logtail;
pub mod metrics;
pub mod multipart;
pub mod principal;
pub mod security;
pub mod server;
pub mod session;
pub mod webmail;

pub use front::{Front, Listener};
pub use server::start;

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
#[cfg(test)]
mod activity_tests;
#[cfg(test)]
mod plaintext_tests;
#[cfg(test)]
mod settings_tests;
#[cfg(test)]
mod tests;
