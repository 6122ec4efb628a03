//! What the webmail's test modules share: the `https` listener's application (its real
//! routes and middleware) as an actix-web test service, and backend calls made off the
//! test's arbiter.

use crate::actors::imap_backend::StoreBackend;
use crate::http::tests::World;

/// The `https` listener's application for the test world `$w`.
macro_rules! service {
    ($w:expr) => {{
        let front = crate::http::server::Front {
            listener: crate::http::server::Listener::Https,
            https_port: None,
        };
        actix_web::test::init_service(crate::http::server::app(
            actix_web::web::Data::new($w.ctx.clone()),
            front,
            |cfg| crate::http::server::routes(cfg, crate::http::server::Listener::Https),
        ))
        .await
    }};
}
pub(super) use service;

/// Runs backend calls off the test's arbiter (the folder actors live on it, and the
/// backend waits for them).
pub(super) async fn backend<T: Send + 'static>(
    w: &World,
    f: impl FnOnce(&StoreBackend) -> T + Send + 'static,
) -> T {
    let b = StoreBackend { ctx: w.ctx.clone() };
    tokio::task::spawn_blocking(move || f(&b))
        .await
        .expect("backend call")
}
