//! `GET /metrics` on the admin listener: the server's figures in the Prometheus text format
//! (version 0.0.4), written by the `prometheus` crate's encoder.
//!
//! Nothing is counted per scrape or per request: each scrape reads the plain counters of
//! `actors::stats::Stats` (which the console and the dashboard read too), the queue depths
//! from the store's in-memory counters, the screener's ban count and the supervisor's
//! restart count, into a registry made for that scrape. The delivery latency histograms
//! live in `Stats` and are registered as they are. Like `/health` figures, the page is for
//! operators on the admin listener (loopback by default), without a login, so that a
//! Prometheus server can scrape it.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

use super::error::ApiError;
use crate::actors::stats::Stats;
use crate::actors::ServerContext;
use crate::storage::QueueName;

/// Protocols whose failed logins are always listed (0 until one fails), so that a rate can
/// be taken from the start; others appear with their first failure.
const AUTH_PROTOCOLS: [&str; 4] = ["smtp", "imap", "pop3", "http"];

/// Services whose open sessions are always listed (0 when none is open): the `[listeners]`
/// names of docs/architecture.md §5 that take sessions, as the sessions count them (mail
/// sessions by `actors::session`, web requests by `http::activity`). The dashboard's
/// sessions chart draws the same series.
pub const SESSION_SERVICES: [&str; 10] = [
    "smtp",
    "submission",
    "smtps",
    "imap",
    "imaps",
    "pop3",
    "pop3s",
    "http",
    "https",
    "admin",
];

/// Registers `GET /metrics`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/metrics", web::get().to(scrape));
}

async fn scrape(ctx: web::Data<Arc<ServerContext>>) -> Result<HttpResponse, ApiError> {
    let text = render(&ctx).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(text))
}

fn counter(r: &Registry, name: &str, help: &str, value: u64) -> Result<(), prometheus::Error> {
    let c = IntCounter::new(name, help)?;
    c.inc_by(value);
    r.register(Box::new(c))
}

fn gauge(r: &Registry, name: &str, help: &str, value: i64) -> Result<(), prometheus::Error> {
    let g = IntGauge::new(name, help)?;
    g.set(value);
    r.register(Box::new(g))
}

fn signed(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

/// The text of one scrape.
pub fn render(ctx: &ServerContext) -> Result<String, String> {
    let r = Registry::new();
    fill(&r, ctx).map_err(|e| format!("metrics: {e}"))?;
    let mut out = Vec::new();
    TextEncoder::new()
        .encode(&r.gather(), &mut out)
        .map_err(|e| format!("metrics: {e}"))?;
    String::from_utf8(out).map_err(|e| format!("metrics: {e}"))
}

fn fill(r: &Registry, ctx: &ServerContext) -> Result<(), prometheus::Error> {
    let stats = &ctx.stats;
    counter(
        r,
        "ferrymail_messages_received_total",
        "Messages accepted over SMTP (each once, whatever its recipients).",
        Stats::count(&stats.messages_in),
    )?;
    counter(
        r,
        "ferrymail_messages_delivered_total",
        "Recipients delivered to local folders.",
        Stats::count(&stats.messages_delivered),
    )?;
    counter(
        r,
        "ferrymail_messages_sent_total",
        "Recipients accepted by remote servers.",
        Stats::count(&stats.messages_out),
    )?;
    let depth = IntGaugeVec::new(
        Opts::new(
            "ferrymail_queue_depth",
            "Records in each queue (the store's counters).",
        ),
        &["queue"],
    )?;
    for q in QueueName::ALL {
        // A depth the store cannot give is left out rather than shown as 0.
        if let Ok(n) = ctx.store.queue_depth(q) {
            depth.with_label_values(&[q.as_str()]).set(signed(n));
        }
    }
    r.register(Box::new(depth))?;
    let sessions = IntGaugeVec::new(
        Opts::new("ferrymail_sessions_open", "Open sessions per service."),
        &["service"],
    )?;
    for s in SESSION_SERVICES {
        sessions.with_label_values(&[s]).set(0);
    }
    for (service, n) in stats.sessions() {
        sessions.with_label_values(&[service]).set(signed(n));
    }
    r.register(Box::new(sessions))?;
    counter(
        r,
        "ferrymail_connections_total",
        "Connections accepted on the mail listeners since start.",
        stats.connections_total(),
    )?;
    let failures = IntCounterVec::new(
        Opts::new(
            "ferrymail_auth_failures_total",
            "Failed logins (wrong password or no such account) per protocol.",
        ),
        &["protocol"],
    )?;
    for p in AUTH_PROTOCOLS {
        failures.with_label_values(&[p]).inc_by(0);
    }
    for (protocol, n) in stats.auth_failures() {
        failures.with_label_values(&[protocol.as_str()]).inc_by(n);
    }
    r.register(Box::new(failures))?;
    gauge(
        r,
        "ferrymail_screening_bans_active",
        "Client addresses banned by dynamic screening now.",
        signed(ctx.screen.active_bans()),
    )?;
    r.register(Box::new(stats.local_delivery().clone()))?;
    r.register(Box::new(stats.remote_delivery().clone()))?;
    counter(
        r,
        "ferrymail_actor_restarts_total",
        "Actor restarts after a failure, every actor together.",
        ctx.registry.total_restarts(),
    )?;
    gauge(
        r,
        "ferrymail_uptime_seconds",
        "Seconds since the server started.",
        signed(stats.started.elapsed().as_secs()),
    )?;
    Ok(())
}

/// One sample of a scrape, parsed back (tests).
#[cfg(test)]
pub(crate) fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let (key, value) = l.rsplit_once(' ')?;
        (key == name_and_labels).then(|| value.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample line of the text format: `name{labels} value`, each name declared by
    /// `# HELP` and `# TYPE` lines before its samples.
    fn check_format(text: &str) {
        let mut declared: Vec<(String, String)> = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                declared.push((name.to_string(), kind.to_string()));
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (key, value) = line.rsplit_once(' ').expect("name value");
            value.parse::<f64>().expect("a number");
            let name = key.split('{').next().unwrap();
            let (family, _) = declared
                .iter()
                .find(|(f, kind)| {
                    name == f
                        || (kind == "histogram"
                            && [
                                format!("{f}_bucket"),
                                format!("{f}_sum"),
                                format!("{f}_count"),
                            ]
                            .iter()
                            .any(|n| n == name))
                })
                .unwrap_or_else(|| panic!("{name} has no TYPE line"));
            assert!(!family.is_empty());
        }
    }

    /// A server context on a fresh data directory, with the default configuration and no
    /// listeners or actors started.
    fn context() -> (tempfile::TempDir, Arc<ServerContext>) {
        let dir = tempfile::tempdir().unwrap();
        let mut config =
            crate::config::Config::parse(crate::config::DEFAULT_CONFIG, dir.path(), None)
                .expect("the default configuration parses");
        config.data_dir = dir.path().to_path_buf();
        let (store, writers) = crate::storage::Store::open(dir.path()).unwrap();
        let log = crate::actors::authlog::AuthFailureLog::open(dir.path()).unwrap();
        let arbiter = actix_rt::Arbiter::current();
        let ctx = ServerContext::new(
            Arc::new(config),
            None,
            store,
            writers,
            Arc::new(crate::clock::SystemClock),
            log,
            arbiter.clone(),
            vec![arbiter],
        );
        (dir, ctx)
    }

    #[actix_rt::test]
    async fn scrape_shows_every_series_in_the_text_format() {
        let (_dir, ctx) = context();
        Stats::add(&ctx.stats.messages_in, 3);
        ctx.stats.auth_failed("imap");
        ctx.stats.auth_failed("imap");
        ctx.stats.session_opened("imap");
        ctx.stats.local_delivered_after(4);
        let app = actix_web::test::init_service(
            actix_web::App::new()
                .app_data(web::Data::new(ctx.clone()))
                .configure(configure),
        )
        .await;
        let req = actix_web::test::TestRequest::get()
            .uri("/metrics")
            .to_request();
        let resp = actix_web::test::call_service(&app, req).await;
        assert!(resp.status().is_success());
        let ct = resp
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap();
        assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
        let body = actix_web::test::read_body(resp).await;
        let text = String::from_utf8(body.to_vec()).unwrap();
        check_format(&text);
        let s = |k: &str| sample(&text, k).unwrap_or_else(|| panic!("no sample {k}\n{text}"));
        assert_eq!(s("ferrymail_messages_received_total"), 3.0);
        assert_eq!(s("ferrymail_auth_failures_total{protocol=\"imap\"}"), 2.0);
        assert_eq!(s("ferrymail_auth_failures_total{protocol=\"smtp\"}"), 0.0);
        assert_eq!(s("ferrymail_sessions_open{service=\"imap\"}"), 1.0);
        // Every listener that takes sessions by its `[listeners]` name, none by another.
        for name in SESSION_SERVICES {
            assert!(crate::config::SERVICES.contains(&name), "{name}");
            let want = if name == "imap" { 1.0 } else { 0.0 };
            assert_eq!(
                s(&format!("ferrymail_sessions_open{{service=\"{name}\"}}")),
                want
            );
        }
        let services = text
            .lines()
            .filter(|l| l.starts_with("ferrymail_sessions_open{"))
            .count();
        assert_eq!(services, SESSION_SERVICES.len(), "{text}");
        assert!(!text.contains("submissions"), "{text}");
        assert_eq!(s("ferrymail_connections_total"), 1.0);
        for q in QueueName::ALL {
            assert_eq!(
                s(&format!(
                    "ferrymail_queue_depth{{queue=\"{}\"}}",
                    q.as_str()
                )),
                0.0
            );
        }
        assert_eq!(s("ferrymail_local_delivery_seconds_count"), 1.0);
        assert_eq!(s("ferrymail_local_delivery_seconds_sum"), 4.0);
        assert_eq!(s("ferrymail_local_delivery_seconds_bucket{le=\"2\"}"), 0.0);
        assert_eq!(s("ferrymail_local_delivery_seconds_bucket{le=\"5\"}"), 1.0);
        assert_eq!(
            s("ferrymail_local_delivery_seconds_bucket{le=\"+Inf\"}"),
            1.0
        );
        assert_eq!(s("ferrymail_remote_delivery_seconds_count"), 0.0);
        assert_eq!(s("ferrymail_screening_bans_active"), 0.0);
        assert_eq!(s("ferrymail_actor_restarts_total"), 0.0);
        assert!(s("ferrymail_uptime_seconds") >= 0.0);
        assert!(text.contains("# TYPE ferrymail_messages_received_total counter"));
        assert!(text.contains("# TYPE ferrymail_queue_depth gauge"));
        assert!(text.contains("# TYPE ferrymail_local_delivery_seconds histogram"));
    }
}
