//! What the webmail's test modules share: the `https` listener's application (its real
//! routes and middleware) as an actix-web test service, backend calls made off the
//! test's arbiter, and delivering a message into an INBOX.

use crate::actors::imap_backend::StoreBackend;
use crate::http::tests::{World, T0};
use crate::protocols::imap::backend::{Backend, FolderRef, NewMessage};

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

/// The id of `owner`'s folder `name` (which must exist).
pub(super) async fn folder(w: &World, owner: &str, name: &str) -> FolderRef {
    let (owner, name) = (owner.to_string(), name.to_string());
    backend(w, move |b| {
        b.find_folder(&owner, &name).unwrap().unwrap().id
    })
    .await
}

/// Appends `raw` (LF line ends) to `owner`'s INBOX through its folder actor: the
/// INBOX and the new UID.
pub(super) async fn deliver(w: &World, owner: &str, raw: &str) -> (FolderRef, u32) {
    let inbox = folder(w, owner, "INBOX").await;
    let raw = raw.replace('\n', "\r\n").into_bytes();
    let uid = backend(w, move |b| {
        b.append(
            inbox,
            vec![NewMessage {
                flags: 0,
                keywords: Vec::new(),
                internal_date: T0,
                content: raw,
            }],
        )
        .unwrap()[0]
    })
    .await;
    (inbox, uid)
}
