//! The plain-HTTP password rule (`security`) on the `http` listener's real routes (webmail's
//! login pages, DAV), through actix-web's test service with a client on another machine:
//! browsers are sent to https before a password is typed or sent again; API-style clients
//! with credentials get a JSON refusal; loopback and `allow_plaintext_login` pass.

use std::net::SocketAddr;

use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::server::{app, routes, Front, Listener};
use super::tests::{peer, world, World, PASSWORD};

const REMOTE: &str = "198.51.100.20:5555";

fn remote() -> SocketAddr {
    REMOTE.parse().unwrap()
}

fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{login}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

macro_rules! public {
    ($w:expr, $https_port:expr) => {{
        let front = Front {
            listener: Listener::Http,
            https_port: $https_port,
        };
        test::init_service(app(web::Data::new($w.ctx.clone()), front, |cfg| {
            routes(cfg, Listener::Http)
        }))
        .await
    }};
}

fn from(method: Method, path: &str, who: SocketAddr) -> TestRequest {
    TestRequest::default()
        .method(method)
        .uri(path)
        .peer_addr(who)
        .insert_header((header::HOST, "mail.test:3000"))
}

fn login_form(address: &str, password: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("address", address)
        .append_pair("password", password)
        .finish()
}

fn failures(w: &World) -> u64 {
    w.ctx.stats.auth_failures().values().sum()
}

#[actix_web::test]
async fn browsers_from_elsewhere_are_sent_to_https_to_log_in() {
    let w = world("");
    let svc = public!(w, Some(8443));

    // The login pages: 302 to the same path and query on the https listener, no form.
    for path in ["/", "/login/code", "/?next=%2Fmail"] {
        let res = test::call_service(&svc, from(Method::GET, path, remote()).to_request()).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{path}");
        assert_eq!(
            res.headers().get(header::LOCATION).unwrap(),
            &format!("https://mail.test:8443{path}"),
            "{path}"
        );
        let body = test::read_body(res).await;
        assert!(
            !String::from_utf8_lossy(&body).contains("password"),
            "{path}"
        );
    }

    // A posted login form: 303 (the browser GETs the page over TLS, the form is not sent
    // again), no session cookie, and the password was never tried (nothing counted).
    for path in ["/login", "/login/code"] {
        let req = from(Method::POST, path, remote())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(login_form("alice@example.com", "wrong"))
            .to_request();
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(
            res.headers().get(header::LOCATION).unwrap(),
            &format!("https://mail.test:8443{path}")
        );
        assert!(res.headers().get(header::SET_COOKIE).is_none(), "{path}");
    }
    assert_eq!(failures(&w), 0, "no password was checked");

    // An API-style client with credentials: GET is 308, anything else a JSON 403.
    let req = from(Method::GET, "/dav/", remote())
        .insert_header((header::AUTHORIZATION, basic("alice@example.com", PASSWORD)))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        "https://mail.test:8443/dav/"
    );
    let req = from(Method::PUT, "/dav/files/alice@example.com/a.txt", remote())
        .insert_header((header::AUTHORIZATION, basic("alice@example.com", PASSWORD)))
        .set_payload("x")
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "plaintext_login", "{body}");

    // Pages that take no password pass.
    let res = test::call_service(&svc, from(Method::GET, "/health", remote()).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);

    // From loopback the login page is served and the form logs in.
    let res = test::call_service(&svc, from(Method::GET, "/", peer()).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(page.contains("name=\"password\""), "{page}");
    let req = from(Method::POST, "/login", peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(login_form("alice@example.com", PASSWORD))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/mail");
}

#[actix_web::test]
async fn without_an_https_listener_the_login_flow_gets_a_page_not_json() {
    let w = world("");
    let svc = public!(w, None);
    let req = from(Method::POST, "/login", remote())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(login_form("alice@example.com", PASSWORD))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap().clone();
    assert!(ct.to_str().unwrap().starts_with("text/html"), "{ct:?}");
    let page = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(page.contains("HTTPS"), "{page}");
    assert_eq!(failures(&w), 0);
}

#[actix_web::test]
async fn allow_plaintext_login_lets_remote_browsers_log_in_over_http() {
    let w = world("[http]\nallow_plaintext_login = true\n");
    let svc = public!(w, Some(8443));
    let res = test::call_service(&svc, from(Method::GET, "/", remote()).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let req = from(Method::POST, "/login", remote())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(login_form("alice@example.com", PASSWORD))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/mail");
}
