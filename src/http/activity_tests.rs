//! The count of active requests per web listener (`http::activity`) through the admin
//! application's real middleware and routes: a held event stream is an open `admin`
//! session for `/metrics` and the overview's snapshot until it ends.

use actix_web::http::header;
use actix_web::test::{self, TestRequest};
use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};

use super::server::{app, routes, Front, Listener};
use super::tests::{peer, world, World};

/// An answer whose body stays open until the test sends on `tx` or drops it.
async fn held(
    rx: web::Data<std::sync::Mutex<Option<tokio::sync::mpsc::Receiver<Bytes>>>>,
) -> HttpResponse {
    let rx = rx.lock().unwrap().take().expect("one held request");
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, actix_web::Error>(b), rx))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .streaming(stream)
}

fn open(w: &World, listener: &str) -> u64 {
    w.ctx.stats.sessions().get(listener).copied().unwrap_or(0)
}

/// A held event stream on the admin listener is an open `admin` session for `/metrics`
/// and the dashboard's overview snapshot until it ends; an answered request is one no
/// more. The scrape counts itself while it runs.
#[actix_web::test]
async fn open_requests_count_as_sessions_of_their_listener() {
    let w = world("");
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let slot = web::Data::new(std::sync::Mutex::new(Some(rx)));
    let front = Front {
        listener: Listener::Admin,
        https_port: None,
    };
    let svc = test::init_service(
        app(web::Data::new(w.ctx.clone()), front, |cfg| {
            cfg.route("/held", web::get().to(held));
            routes(cfg, Listener::Admin);
        })
        .app_data(slot),
    )
    .await;
    assert_eq!(open(&w, "admin"), 0);

    let stream = test::call_service(
        &svc,
        TestRequest::get()
            .uri("/held")
            .peer_addr(peer())
            .to_request(),
    )
    .await;
    assert!(stream.status().is_success());
    assert_eq!(open(&w, "admin"), 1, "the open stream");
    let snapshot = crate::http::dashboard::live_snapshot(&w.ctx);
    assert_eq!(snapshot["sessions"]["admin"], 1, "{snapshot}");

    let scrape = |svc| async move {
        let res = test::call_service(
            svc,
            TestRequest::get()
                .uri("/metrics")
                .peer_addr(peer())
                .to_request(),
        )
        .await;
        String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
    };
    let text = scrape(&svc).await;
    let admin = "ferrymail_sessions_open{service=\"admin\"}";
    assert_eq!(
        crate::http::metrics::sample(&text, admin),
        Some(2.0),
        "the stream and the scrape itself:\n{text}"
    );
    assert_eq!(
        open(&w, "admin"),
        1,
        "the scrape is over, the stream is not"
    );

    // The stream delivers, then ends: its session with it.
    tx.send(Bytes::from_static(b"data: 1\n\n")).await.unwrap();
    drop(tx);
    let body = test::read_body(stream).await;
    assert_eq!(&body[..], b"data: 1\n\n");
    assert_eq!(open(&w, "admin"), 0);
    let text = scrape(&svc).await;
    assert_eq!(crate::http::metrics::sample(&text, admin), Some(1.0));
    assert_eq!(open(&w, "admin"), 0);

    // A refused request counts and uncounts too (the counter never stays up).
    let res = test::call_service(
        &svc,
        TestRequest::get()
            .uri("/api/v1/status")
            .peer_addr(peer())
            .insert_header((header::ACCEPT, "application/json"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), 401);
    drop(res);
    assert_eq!(open(&w, "admin"), 0);
    // Mail connections are not touched by web requests.
    assert_eq!(w.ctx.stats.connections_total(), 0);
}
