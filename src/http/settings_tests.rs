//! The effective configuration on `GET /api/v1/settings` and the dashboard's Settings page,
//! through the admin listener's real routes: defaults the configuration left out are
//! shown, and no secret of it (a database URL's password, SMTP relay passwords, the TLS
//! key's location) appears in either answer.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::server::{app, routes, Front, Listener};
use super::tests::{peer, session_cookie, world, PASSWORD};

const SECRETS: [&str; 5] = [
    "DB-PW-7f3a",
    "RELAY-PW-91c2",
    "HOST-PW-5d0e",
    "QUERY-PW-2b8f",
    "KEYFILE-c4e1",
];

fn secret_config() -> String {
    format!(
        "hostname = \"mx.example.com\"\n\
         [delivery]\nsmarthost = \"relay.example.net:587\"\nsmarthost_user = \"relayuser\"\n\
         smarthost_password = \"{}\"\n\
         [[delivery.host_auth]]\nhost = \"mx.partner.test\"\nuser = \"partner\"\npassword = \"{}\"\n\
         [tls]\ncert = \"certs/server.pem\"\nkey = \"certs/{}.pem\"\n\
         [storage]\nbackend = \"postgres\"\n\
         url = \"postgresql://ferry:{}@db.internal:5432/mail?sslmode=require&password={}\"\n",
        SECRETS[1], SECRETS[2], SECRETS[4], SECRETS[0], SECRETS[3]
    )
}

fn basic(login: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{PASSWORD}"))
    )
}

#[actix_web::test]
async fn settings_show_the_effective_configuration_without_its_secrets() {
    let w = world(&secret_config());
    let front = Front {
        listener: Listener::Admin,
        https_port: None,
    };
    let svc = test::init_service(app(web::Data::new(w.ctx.clone()), front, |cfg| {
        routes(cfg, Listener::Admin)
    }))
    .await;

    // The API, as an admin.
    let req = TestRequest::get()
        .uri("/api/v1/settings")
        .peer_addr(peer())
        .insert_header((header::AUTHORIZATION, basic("root@example.com")))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    for s in SECRETS {
        assert!(!text.contains(s), "{s} shown by the API: {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let e = &v["effective"];
    // Defaults nobody wrote: from the parsed configuration, not the file.
    assert_eq!(e["smtp"]["max_recipients"], 1000, "{v}");
    assert_eq!(e["http"]["session_idle"], "30m");
    assert_eq!(e["imap"]["idle_timeout"], 1800);
    assert_eq!(e["storage"]["pool_size"], 16);
    // What the file set, secrets masked.
    assert_eq!(e["delivery"]["smarthost"], "relay.example.net:587");
    assert_eq!(e["delivery"]["smarthost_user"], "relayuser");
    assert_eq!(e["delivery"]["smarthost_password"], "********");
    assert_eq!(e["delivery"]["host_auth"][0]["password"], "********");
    assert_eq!(e["tls"]["key"], "********");
    assert_eq!(
        e["storage"]["url"],
        "postgresql://ferry:********@db.internal:5432/mail?sslmode=require&password=********"
    );
    assert_eq!(v["hostname"], "mx.example.com");
    assert!(v["source"].is_null(), "{v}");

    // A domain admin may not read it.
    let req = TestRequest::get()
        .uri("/api/v1/settings")
        .peer_addr(peer())
        .insert_header((header::AUTHORIZATION, basic("dom@example.com")))
        .to_request();
    assert_eq!(
        test::call_service(&svc, req).await.status(),
        StatusCode::FORBIDDEN
    );

    // The dashboard's page, with a browser session: the same view, in the page itself.
    let req = TestRequest::post()
        .uri("/login")
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(format!(
            "address=root%40example.com&password={}",
            PASSWORD.replace(' ', "+")
        ))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (cookie, _) = session_cookie(&res).expect("a session");
    let req = TestRequest::get()
        .uri("/settings")
        .peer_addr(peer())
        .cookie(actix_web::cookie::Cookie::new("fm_admin", cookie))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = String::from_utf8(test::read_body(res).await.to_vec())
        .unwrap()
        .replace("&#34;", "\"")
        .replace("&quot;", "\"");
    for s in SECRETS {
        assert!(!page.contains(s), "{s} shown by the page");
    }
    for shown in [
        "\"max_recipients\": 1000",
        "\"session_idle\": \"30m\"",
        "relayuser",
        "postgresql://ferry:********@db.internal:5432/mail",
        "the built-in default",
    ] {
        assert!(page.contains(shown), "{shown} missing:\n{page}");
    }
}
