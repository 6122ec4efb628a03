//! One actix-web application per listener (docs/architecture.md §5):
//!
//! - `admin` (HTTPS, loopback by default): `/health` with figures, then the management
//!   API (`/api/v1`), `/metrics` and the dashboard (everything else, `/` included). Its
//!   application also holds the registry of long jobs (`http::jobs`), made once per
//!   listener so that a job outlives the request and the worker that started it.
//! - `http` (plain) and `https`: `/health` (liveness only) and the web front of
//!   [`web_routes`]: webmail (`http::webmail`); DAV and ActiveSync will add theirs there.
//!
//! Every application has the same middleware, outermost first: the count of active
//! requests per listener (`activity`), security headers (`security::headers`), the
//! screening refusal, the plain-HTTP password rule (acts on the `http` listener only), the
//! session refresh and the CSRF check. TLS listeners use the
//! server's rustls configuration, the one mail uses (same certificate, ring provider),
//! with a certificate resolver that asks the server context at each handshake
//! ([`CurrentCertificate`]): the console's `reload` swaps the certificate there, and the
//! web listeners serve the new one from the next connection on, as the mail listeners do
//! (their sessions read it when TLS starts). HTTP/1.1 only: actix-web's http2 is not built.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{guard, web, App, HttpResponse, HttpServer};

pub use super::front::{Front, Listener};
use super::{activity, csrf, health_body, security, session, Health};
use crate::actors::ServerContext;

/// Starts the web server of `front` on an already-bound listener; returns its handle (to
/// stop it).
pub fn start(
    ctx: Arc<ServerContext>,
    listener: std::net::TcpListener,
    front: Front,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let tls = if front.tls() {
        let Some(config) = ctx.tls() else {
            return Err(std::io::Error::other("no TLS certificate is loaded"));
        };
        Some(follow_reloads(&ctx, &config))
    } else {
        None
    };
    let data = web::Data::new(ctx);
    // One registry per listener, made here and not per worker: jobs outlive requests.
    let jobs = web::Data::new(super::jobs::Jobs::new());
    let server = HttpServer::new(move || {
        app(data.clone(), front, move |cfg| routes(cfg, front.listener)).app_data(jobs.clone())
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(5)
    // Streamed answers (REPORT, PROPFIND, SSE) go out in several small writes; with
    // Nagle's algorithm the last one waited for the client's delayed ACK (~40 ms on a
    // one-change sync-collection, docs/benchmarks.md), as the mail listeners already avoid.
    .tcp_nodelay(true);
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    }
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    Ok(handle)
}

/// The server's rustls configuration for a web listener, its certificate taken at each
/// handshake from what the server has now. actix-web keeps the configuration it is given
/// for the listener's life, so the certificate must be looked up behind it.
fn follow_reloads(ctx: &Arc<ServerContext>, config: &rustls::ServerConfig) -> rustls::ServerConfig {
    let mut config = config.clone();
    config.cert_resolver = Arc::new(CurrentCertificate(ctx.clone()));
    config
}

/// Resolves with the certificate of the server's TLS configuration in force now
/// (`ServerContext::tls`, replaced by `reload`). The protocol versions and the provider
/// stay those of the configuration the listener started with: a reload changes only the
/// certificate (`net::tls::load_server_config`).
pub struct CurrentCertificate(Arc<ServerContext>);

impl std::fmt::Debug for CurrentCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurrentCertificate")
    }
}

impl rustls::server::ResolvesServerCert for CurrentCertificate {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        // No configuration (none is ever unset once a TLS listener started): the handshake
        // fails rather than serving something else.
        self.0.tls()?.cert_resolver.resolve(hello)
    }
}

/// An application for `front` with the shared middleware (module comment) around
/// `routes`. Tests of handlers build theirs with it too (`actix_web::test::init_service`).
pub fn app(
    ctx: web::Data<Arc<ServerContext>>,
    front: Front,
    routes: impl FnOnce(&mut web::ServiceConfig),
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(ctx)
        .app_data(web::Data::new(front))
        .configure(routes)
        .wrap(from_fn(csrf::middleware))
        .wrap(from_fn(session::refresh))
        .wrap(from_fn(security::plaintext))
        .wrap(from_fn(security::screening))
        .wrap(from_fn(security::headers))
        .wrap(from_fn(activity::count))
}

/// The routes of a listener's application, after the middleware.
pub fn routes(cfg: &mut web::ServiceConfig, listener: Listener) {
    match listener {
        Listener::Admin => admin_routes(cfg),
        Listener::Http | Listener::Https => {
            cfg.route("/health", get_or_head().to(liveness));
            web_routes(cfg);
        }
    }
}

/// The admin listener: `/health` with figures, then the management API (`/api/v1`),
/// `/metrics`, and the dashboard, which takes every other path (so it comes last).
pub fn admin_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", get_or_head().to(figures));
    cfg.configure(super::api::configure);
    cfg.configure(super::metrics::configure);
    cfg.configure(super::dashboard::configure);
}

/// The public web front's routes (http and https listeners) besides `/health`: the static
/// files, mail clients' self-configuration (autoconfig, Autodiscover, Apple profiles) and
/// webmail (DAV and ActiveSync will register theirs here).
pub fn web_routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(super::dav::configure);
    cfg.configure(super::dashboard::web_configure);
    cfg.configure(super::clientconfig::configure);
    cfg.configure(super::webmail::configure);
}

/// A route for GET and HEAD. actix-web does not answer HEAD from a GET route (a GET guard
/// refuses it), and RFC 9110 §9.3.2 wants HEAD to answer as GET would: monitors probe
/// `/health` with HEAD. The HTTP/1 encoder leaves the body out of a HEAD answer and keeps
/// its Content-Length.
fn get_or_head() -> actix_web::Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

async fn liveness(ctx: web::Data<Arc<ServerContext>>) -> HttpResponse {
    HttpResponse::Ok().json(health_body(&ctx, Health::Liveness))
}

async fn figures(ctx: web::Data<Arc<ServerContext>>) -> HttpResponse {
    HttpResponse::Ok().json(health_body(&ctx, Health::Figures))
}
