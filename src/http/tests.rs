//! Tests of the web foundation through actix-web's test service: the middleware of every
//! application (security headers, HSTS, CSRF, session refresh), session cookies and their
//! expiry on the server's clock, and the login checks (limit, screening reports).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::{web, HttpRequest, HttpResponse};

use super::auth::{self, Manager, Role, Via};
use super::login::{self, LoginError};
use super::server::{app, routes, Front, Listener};
use super::{security, session};
use crate::actors::authlog::AuthFailureLog;
use crate::actors::ServerContext;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::storage::Store;

pub(super) const PASSWORD: &str = "correct horse";
pub(super) const T0: i64 = 1_800_000_000;

pub(super) struct World {
    pub(super) _dir: tempfile::TempDir,
    pub(super) ctx: Arc<ServerContext>,
    pub(super) clock: Arc<ManualClock>,
}

/// A server context on a fresh store (alice: user, root: admin, dom: domain admin of
/// example.org), with `extra` config lines.
pub(super) fn world(extra: &str) -> World {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!("data_dir = {:?}\n{extra}", dir.path().display().to_string());
    let config = Config::parse(&text, dir.path(), None).expect("config");
    let (store, writers) = Store::open(dir.path()).expect("store");
    for d in ["example.com", "example.org"] {
        store.add_domain(d).expect("domain");
    }
    store
        .add_account("alice@example.com", PASSWORD, false)
        .expect("alice");
    store
        .add_account("root@example.com", PASSWORD, true)
        .expect("root");
    store
        .add_account("dom@example.com", PASSWORD, false)
        .expect("dom");
    store
        .add_domain_admin("dom@example.com", "example.org")
        .expect("rights");
    let clock = ManualClock::new(T0);
    let log = AuthFailureLog::open(dir.path()).expect("auth log");
    let arbiter = actix_rt::Arbiter::current();
    let ctx = ServerContext::new(
        Arc::new(config),
        None,
        store,
        writers,
        clock.clone(),
        log,
        arbiter.clone(),
        vec![arbiter],
    );
    World {
        _dir: dir,
        ctx,
        clock,
    }
}

pub(super) fn peer() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

#[derive(serde::Deserialize)]
struct LoginForm {
    address: String,
    password: String,
}

/// A login handler as the dashboard's will be: check, then start a session.
async fn login_handler(
    ctx: web::Data<Arc<ServerContext>>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, super::error::ApiError> {
    let ip = req.peer_addr().map(|a| a.ip()).expect("peer");
    let ok = login::check(&ctx, ip, &form.address, &form.password, None)
        .await
        .map_err(auth::login_error)?;
    let cookie = session::start(&ctx, &req, &ok.address, !ok.needs_totp);
    Ok(HttpResponse::Ok().cookie(cookie).finish())
}

/// A state-changing handler that says who asked and echoes the form it got.
async fn change(who: Manager, body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().body(format!(
        "{}|{}",
        who.0.address,
        String::from_utf8_lossy(&body)
    ))
}

async fn me(ctx: web::Data<Arc<ServerContext>>, req: HttpRequest) -> HttpResponse {
    match auth::principal(&ctx, &req).await {
        Ok(Some(p)) => HttpResponse::Ok().body(p.address),
        Ok(None) => HttpResponse::Unauthorized().finish(),
        Err(e) => actix_web::ResponseError::error_response(&e),
    }
}

/// The test handlers first: they win over the listener's own routes of the same path
/// (webmail's `/login` on the public listeners).
fn test_routes(cfg: &mut web::ServiceConfig, listener: Listener) {
    cfg.route("/login", web::post().to(login_handler))
        .route("/change", web::post().to(change))
        .route("/me", web::get().to(me));
    routes(cfg, listener);
}

macro_rules! service {
    ($w:expr, $listener:expr) => {{
        let front = Front {
            listener: $listener,
            https_port: Some(8443),
        };
        test::init_service(app(web::Data::new($w.ctx.clone()), front, move |cfg| {
            test_routes(cfg, $listener)
        }))
        .await
    }};
}

fn form(address: &str, password: &str) -> String {
    format!(
        "address={}&password={}",
        address.replace('@', "%40"),
        password.replace(' ', "+")
    )
}

fn login_request(address: &str, password: &str) -> TestRequest {
    TestRequest::post()
        .uri("/login")
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(form(address, password))
}

fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{login}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[actix_web::test]
async fn every_answer_has_the_security_headers_and_hsts_only_over_tls() {
    let w = world("");
    for (listener, tls) in [
        (Listener::Https, true),
        (Listener::Admin, true),
        (Listener::Http, false),
    ] {
        let svc = service!(w, listener);
        for path in ["/health", "/no-such-page"] {
            let req = TestRequest::get().uri(path).peer_addr(peer()).to_request();
            let res = test::call_service(&svc, req).await;
            let h = res.headers();
            assert_eq!(
                h.get(header::CONTENT_SECURITY_POLICY).unwrap(),
                security::CSP
            );
            assert!(security::CSP.contains("frame-ancestors 'none'"));
            assert!(security::CSP.contains("script-src 'self';"));
            assert_eq!(h.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
            assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
            assert_eq!(h.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
            assert_eq!(
                h.get(header::STRICT_TRANSPORT_SECURITY)
                    .map(|v| v.to_str().unwrap().to_string()),
                tls.then(|| "max-age=31536000".to_string()),
                "{listener:?} {path}"
            );
        }
    }
}

#[actix_web::test]
async fn health_shows_figures_on_admin_only() {
    let w = world("");
    let admin = service!(w, Listener::Admin);
    let req = TestRequest::get()
        .uri("/health")
        .peer_addr(peer())
        .to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&admin, req).await;
    assert!(body.get("queues").is_some(), "{body}");
    let public = service!(w, Listener::Https);
    let req = TestRequest::get()
        .uri("/health")
        .peer_addr(peer())
        .to_request();
    let body: serde_json::Value = test::call_and_read_body_json(&public, req).await;
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

/// The value a response gives the session cookie (`fm_session`, or `fm_admin` on the admin
/// listener), and the whole Set-Cookie line.
pub(super) fn session_cookie<B>(
    res: &actix_web::dev::ServiceResponse<B>,
) -> Option<(String, String)> {
    let line = res
        .headers()
        .get_all(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string())
        .find(|l| l.starts_with("fm_session=") || l.starts_with("fm_admin="))?;
    let value = line[line.find('=').unwrap() + 1..]
        .split(';')
        .next()
        .unwrap()
        .to_string();
    Some((value, line))
}

/// Logs `address` in on `svc`: the cookie's value and its whole Set-Cookie line.
macro_rules! log_in {
    ($svc:expr, $address:expr) => {{
        let res = test::call_service($svc, login_request($address, PASSWORD).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        session_cookie(&res).expect("session cookie")
    }};
}

#[actix_web::test]
async fn session_cookie_is_sealed_and_flagged() {
    let w = world("");
    let svc = service!(w, Listener::Https);
    let (value, line) = log_in!(&svc, "root@example.com");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
        assert!(line.contains(flag), "{flag} missing: {line}");
    }
    assert!(
        !line.contains("Max-Age"),
        "a browser-session cookie: {line}"
    );
    // Sealed: the address does not show, and a changed byte is refused.
    assert!(!value.contains("root"), "{value}");
    let req = TestRequest::get()
        .uri("/me")
        .cookie(actix_web::cookie::Cookie::new("fm_session", value.clone()))
        .to_request();
    assert_eq!(
        test::call_and_read_body(&svc, req).await,
        "root@example.com"
    );
    let mut forged = value.into_bytes();
    forged[20] = if forged[20] == b'A' { b'B' } else { b'A' };
    let req = TestRequest::get()
        .uri("/me")
        .cookie(actix_web::cookie::Cookie::new(
            "fm_session",
            String::from_utf8(forged).unwrap(),
        ))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The dead cookie is removed.
    let (_, removal) = session_cookie(&res).expect("removal");
    assert!(removal.contains("Max-Age=0"), "{removal}");

    // On the plain listener the cookie is not Secure.
    let plain = service!(w, Listener::Http);
    let (_, line) = log_in!(&plain, "root@example.com");
    assert!(!line.contains("Secure"), "{line}");
    assert!(line.contains("HttpOnly"), "{line}");
}

/// Browsers ignore ports for cookies: the admin listener's session has its own cookie name
/// and key, so a webmail login never opens the dashboard (nor the other way round), under
/// either cookie name.
#[actix_web::test]
async fn admin_and_public_listeners_do_not_share_sessions() {
    let w = world("");
    let public = service!(w, Listener::Https);
    let admin = service!(w, Listener::Admin);
    let res = test::call_service(
        &public,
        login_request("root@example.com", PASSWORD).to_request(),
    )
    .await;
    assert!(res
        .headers()
        .get_all(header::SET_COOKIE)
        .any(|l| l.to_str().unwrap().starts_with("fm_session=")));
    let (web_value, _) = session_cookie(&res).expect("webmail cookie");
    let res = test::call_service(
        &admin,
        login_request("root@example.com", PASSWORD).to_request(),
    )
    .await;
    let (admin_value, line) = session_cookie(&res).expect("admin cookie");
    assert!(line.starts_with("fm_admin="), "{line}");
    let me = |name: &'static str, v: &str| {
        TestRequest::get()
            .uri("/me")
            .cookie(actix_web::cookie::Cookie::new(name, v.to_string()))
            .to_request()
    };
    // Each opens on its own listener.
    let res = test::call_service(&public, me("fm_session", &web_value)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = test::call_service(&admin, me("fm_admin", &admin_value)).await;
    assert_eq!(res.status(), StatusCode::OK);
    // Not on the other, under either name.
    for (name, v) in [("fm_session", &web_value), ("fm_admin", &web_value)] {
        let res = test::call_service(&admin, me(name, v)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "webmail {name} on admin"
        );
    }
    for (name, v) in [("fm_admin", &admin_value), ("fm_session", &admin_value)] {
        let res = test::call_service(&public, me(name, v)).await;
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "admin {name} on webmail"
        );
    }
}

#[actix_web::test]
async fn csrf_is_required_for_session_changes_but_not_for_basic() {
    let w = world("");
    let svc = service!(w, Listener::Https);
    let (value, _) = log_in!(&svc, "root@example.com");
    let cookie = || actix_web::cookie::Cookie::new("fm_session", value.clone());
    let token = session::current(
        &w.ctx,
        &TestRequest::get().cookie(cookie()).to_http_request(),
    )
    .expect("session")
    .csrf;
    let post = || {
        TestRequest::post()
            .uri("/change")
            .peer_addr(peer())
            .cookie(cookie())
    };
    // Without a token, and with a wrong one: 403 csrf.
    for req in [
        post().to_request(),
        post().insert_header(("X-CSRF-Token", "nope")).to_request(),
        post()
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload("csrf=nope&a=1")
            .to_request(),
    ] {
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
        assert!(res.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "csrf", "{body}");
    }
    // The right token in the header, or in the form (the handler still gets the form).
    let req = post()
        .insert_header(("X-CSRF-Token", token.as_str()))
        .to_request();
    assert_eq!(
        test::call_and_read_body(&svc, req).await,
        "root@example.com|"
    );
    let form = format!("a=1&csrf={token}");
    let req = post()
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(form.clone())
        .to_request();
    let expected = format!("root@example.com|{form}");
    assert_eq!(
        test::call_and_read_body(&svc, req).await,
        expected.as_bytes()
    );
    // Basic needs no token (nothing a browser adds by itself... and not the cookie).
    let req = TestRequest::post()
        .uri("/change")
        .peer_addr(peer())
        .insert_header((header::AUTHORIZATION, basic("root@example.com", PASSWORD)))
        .to_request();
    assert_eq!(
        test::call_and_read_body(&svc, req).await,
        "root@example.com|"
    );
    // GET never needs one.
    let req = TestRequest::get().uri("/me").cookie(cookie()).to_request();
    assert_eq!(test::call_service(&svc, req).await.status(), StatusCode::OK);
}

/// A browser's cross-site (or same-site: another port) state-changing request is refused
/// even with an `Authorization` header it may have cached; the listener's own origin and
/// clients that send neither header (curl) pass.
#[actix_web::test]
async fn cross_site_changes_are_refused_even_with_authorization() {
    let w = world("");
    let svc = service!(w, Listener::Admin);
    let post = |headers: &[(&'static str, &'static str)]| {
        let mut r = TestRequest::post()
            .uri("/change")
            .peer_addr(peer())
            .insert_header(("host", "mail.test:1000"))
            .insert_header((header::AUTHORIZATION, basic("root@example.com", PASSWORD)));
        for h in headers {
            r = r.insert_header(*h);
        }
        r.to_request()
    };
    for headers in [
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "https://evil.test")],
        &[("origin", "https://mail.test:443")],
        &[("origin", "null")],
    ] {
        let res = test::call_service(&svc, post(headers)).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["error"]["code"], "csrf", "{headers:?}");
    }
    for headers in [
        &[][..],
        &[
            ("sec-fetch-site", "same-origin"),
            ("origin", "https://mail.test:1000"),
        ],
        &[("sec-fetch-site", "none")],
        // What Chromium sends with our own page's form under Referrer-Policy: no-referrer.
        &[("sec-fetch-site", "same-origin"), ("origin", "null")],
    ] {
        let res = test::call_service(&svc, post(headers)).await;
        assert_eq!(res.status(), StatusCode::OK, "{headers:?}");
    }
}

#[actix_web::test]
async fn sessions_end_when_idle_or_too_old_and_are_refreshed_on_use() {
    let w = world("[http]\nsession_idle = 600\nsession_max = 1000\n");
    let svc = service!(w, Listener::Https);
    let (value, _) = log_in!(&svc, "root@example.com");
    let me = |v: String| {
        TestRequest::get()
            .uri("/me")
            .cookie(actix_web::cookie::Cookie::new("fm_session", v))
            .to_request()
    };
    // Used after 500 s: still valid, and the answer carries a refreshed cookie.
    w.clock.advance(500);
    let res = test::call_service(&svc, me(value.clone())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let (fresh, _) = session_cookie(&res).expect("refreshed cookie");
    // 600 s idle later the old cookie is dead, the refreshed one lives (idle 200 s).
    w.clock.advance(200);
    assert_eq!(
        test::call_service(&svc, me(value)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        test::call_service(&svc, me(fresh.clone())).await.status(),
        StatusCode::OK
    );
    // Past session_max since the login, even a freshly used cookie is dead.
    w.clock.advance(301);
    assert_eq!(
        test::call_service(&svc, me(fresh)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn a_password_change_ends_the_session() {
    let w = world("");
    let svc = service!(w, Listener::Https);
    let (value, _) = log_in!(&svc, "alice@example.com");
    let me = || {
        TestRequest::get()
            .uri("/me")
            .cookie(actix_web::cookie::Cookie::new("fm_session", value.clone()))
            .to_request()
    };
    assert_eq!(
        test::call_service(&svc, me()).await.status(),
        StatusCode::OK
    );
    w.ctx
        .store
        .set_password("alice@example.com", "another one")
        .unwrap();
    assert_eq!(
        test::call_service(&svc, me()).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn manager_extractor_roles() {
    let w = world("");
    let svc = service!(w, Listener::Admin);
    let call = |auth: Option<String>| {
        let mut req = TestRequest::post().uri("/change").peer_addr(peer());
        if let Some(a) = auth {
            req = req.insert_header((header::AUTHORIZATION, a));
        }
        req.to_request()
    };
    let status = |res: actix_web::dev::ServiceResponse<_>| res.status();
    assert_eq!(
        status(test::call_service(&svc, call(None)).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(test::call_service(&svc, call(Some(basic("root@example.com", "wrong")))).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        status(test::call_service(&svc, call(Some(basic("alice@example.com", PASSWORD)))).await),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(test::call_service(&svc, call(Some("Bearer".to_string()))).await),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        test::call_and_read_body(&svc, call(Some(basic("dom@example.com", PASSWORD)))).await,
        "dom@example.com|"
    );
    // Roles come from the directory.
    let req = TestRequest::get()
        .insert_header((header::AUTHORIZATION, basic("DOM@example.com", PASSWORD)))
        .peer_addr(peer())
        .to_http_request();
    let p = auth::principal(&w.ctx, &req).await.unwrap().unwrap();
    assert_eq!(p.role, Role::DomainAdmin(vec!["example.org".into()]));
    assert_eq!(p.via, Via::Basic);
    assert_eq!(p.address, "dom@example.com");
    assert_eq!(
        login::role_of(&w.ctx, "root@example.com").unwrap(),
        Role::Admin
    );
    assert_eq!(
        login::role_of(&w.ctx, "alice@example.com").unwrap(),
        Role::User
    );
}

#[actix_web::test]
async fn failed_logins_are_limited_per_address() {
    let w = world("[http]\nlogin_failures = 3\n");
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    for _ in 0..3 {
        let got = login::check(&w.ctx, ip, "alice@example.com", "wrong", None).await;
        assert_eq!(got, Err(LoginError::Bad));
    }
    // The fourth try is refused without a check, even with the right password…
    let got = login::check(&w.ctx, ip, "alice@example.com", PASSWORD, None).await;
    let Err(LoginError::Limited { retry_after_secs }) = got else {
        panic!("not limited: {got:?}");
    };
    assert!(retry_after_secs > 0 && retry_after_secs <= 900);
    // …other addresses are not affected…
    let other: IpAddr = "::1".parse().unwrap();
    let ok = login::check(&w.ctx, other, "ALICE@example.com", PASSWORD, None)
        .await
        .expect("login");
    assert_eq!(ok.address, "alice@example.com");
    assert_eq!(ok.role, Role::User);
    assert!(!ok.needs_totp);
    // …and 15 minutes later it may try again (the clock, not a sleep).
    w.clock.advance(login::WINDOW);
    assert!(
        login::check(&w.ctx, ip, "alice@example.com", PASSWORD, None)
            .await
            .is_ok()
    );
    // An unknown account fails the same way.
    assert_eq!(
        login::check(&w.ctx, other, "nobody@example.com", PASSWORD, None).await,
        Err(LoginError::Bad)
    );
}

#[actix_web::test]
async fn failed_web_logins_feed_dynamic_screening() {
    let w = world("[screening]\ntrusted = []\nauth_failures = 3\n");
    let ip: IpAddr = "192.0.2.9".parse().unwrap();
    let cfg = w.ctx.config().screening.clone();
    assert!(!w.ctx.screen.banned(&cfg, ip));
    for _ in 0..3 {
        let got = login::check(&w.ctx, ip, "alice@example.com", "wrong", None).await;
        assert_eq!(got, Err(LoginError::Bad));
    }
    assert!(w.ctx.screen.banned(&cfg, ip), "three web failures ban");
    // A banned address is refused by every web answer.
    let svc = service!(w, Listener::Https);
    let req = TestRequest::get()
        .uri("/health")
        .peer_addr(SocketAddr::new(ip, 5555))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.headers().contains_key(header::X_FRAME_OPTIONS));
}

#[actix_web::test]
async fn plain_http_refuses_remote_passwords_but_not_loopback() {
    let w = world("");
    let svc = service!(w, Listener::Http);
    let remote: SocketAddr = "192.0.2.10:5555".parse().unwrap();
    let req = TestRequest::get()
        .uri("/me?x=1")
        .peer_addr(remote)
        .insert_header((header::HOST, "mail.test:3000"))
        .insert_header((header::AUTHORIZATION, basic("root@example.com", PASSWORD)))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        "https://mail.test:8443/me?x=1"
    );
    // A posted login form: the browser is sent to the same path on https (303: it asks
    // for the page there, without the form).
    let req = login_request("root@example.com", PASSWORD)
        .peer_addr(remote)
        .insert_header((header::HOST, "mail.test:3000"))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        "https://mail.test:8443/login"
    );
    // An API call with credentials that is not a GET: a JSON refusal.
    let req = TestRequest::post()
        .uri("/change")
        .peer_addr(remote)
        .insert_header((header::AUTHORIZATION, basic("root@example.com", PASSWORD)))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = test::read_body_json(res).await;
    assert_eq!(body["error"]["code"], "plaintext_login");
    // From loopback the same login works.
    let res = test::call_service(
        &svc,
        login_request("root@example.com", PASSWORD).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let _ = Method::GET;
}

#[actix_web::test]
async fn two_factor_accounts_need_the_code_and_cannot_use_basic() {
    use crate::admin::twofa;
    let w = world("");
    let ip: IpAddr = "127.0.0.1".parse().unwrap();
    let account = "root@example.com";
    twofa::begin(&w.ctx.store, account).expect("begin");
    let secret = w.ctx.store.totp_get(account).unwrap().unwrap().secret;
    let now = T0 as u64;
    let recovery = twofa::confirm_at(
        &w.ctx.store,
        account,
        &twofa::code_at(&secret, twofa::step_of(now)),
        now,
    )
    .expect("confirm");
    // The password alone is half a login.
    let ok = login::check(&w.ctx, ip, account, PASSWORD, None)
        .await
        .unwrap();
    assert!(ok.needs_totp);
    // Basic cannot carry the code: 401 that says why.
    let req = TestRequest::get()
        .insert_header((header::AUTHORIZATION, basic(account, PASSWORD)))
        .peer_addr(peer())
        .to_http_request();
    let err = auth::principal(&w.ctx, &req).await.unwrap_err();
    assert_eq!(err.status, StatusCode::UNAUTHORIZED);
    assert!(err.message.contains("two-factor"), "{err}");
    // A session before the second factor is not a principal.
    let svc = service!(w, Listener::Https);
    let cookie = session::start(
        &w.ctx,
        &TestRequest::get().to_http_request(),
        account,
        false,
    );
    let req = TestRequest::get().uri("/me").cookie(cookie).to_request();
    assert_eq!(
        test::call_service(&svc, req).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A wrong code fails (and counts); the next step's code and a recovery code pass.
    w.clock.advance(30);
    assert_eq!(
        login::check(&w.ctx, ip, account, PASSWORD, Some("000000")).await,
        Err(LoginError::TotpBad)
    );
    let code = twofa::code_at(&secret, twofa::step_of(now + 30));
    let ok = login::check(&w.ctx, ip, account, PASSWORD, Some(&code))
        .await
        .unwrap();
    assert!(!ok.needs_totp);
    assert_eq!(ok.role, Role::Admin);
    // The same code again is a replay.
    assert_eq!(
        login::second_factor(&w.ctx, ip, account, &code).await,
        Err(LoginError::TotpBad)
    );
    assert_eq!(
        login::second_factor(&w.ctx, ip, account, &recovery[0]).await,
        Ok(())
    );
}

#[actix_web::test]
async fn api_keys_authenticate_with_their_scope() {
    use crate::admin::apikey;
    let w = world("");
    let (info, key) =
        apikey::create(&w.ctx.store, "dom@example.com", "ci", auth::Scope::Queues).expect("key");
    let svc = service!(w, Listener::Admin);
    let call = |bearer: &str| {
        TestRequest::post()
            .uri("/change")
            .peer_addr(peer())
            .insert_header((header::AUTHORIZATION, format!("Bearer {bearer}")))
            .to_request()
    };
    assert_eq!(
        test::call_and_read_body(&svc, call(&key)).await,
        "dom@example.com|"
    );
    let req = TestRequest::get()
        .insert_header((header::AUTHORIZATION, format!("Bearer {key}")))
        .peer_addr(peer())
        .to_http_request();
    let p = auth::principal(&w.ctx, &req).await.unwrap().unwrap();
    assert_eq!(p.via, Via::ApiKey(info.id.clone()));
    assert_eq!(p.scope, auth::Scope::Queues);
    assert_eq!(p.role, Role::DomainAdmin(vec!["example.org".into()]));
    // A wrong or revoked key: 401.
    let wrong = format!("{}x", key);
    assert_eq!(
        test::call_service(&svc, call(&wrong)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    apikey::revoke(&w.ctx.store, &info.id).expect("revoke");
    assert_eq!(
        test::call_service(&svc, call(&key)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// Every 429 says in `Retry-After` when the login limit lifts (the seconds left of the
/// oldest failure's window): the API with Basic and with a key, the dashboard's login and
/// its code step.
#[actix_web::test]
async fn every_429_carries_retry_after() {
    use crate::admin::twofa;
    let w = world("[http]\nlogin_failures = 2\n");
    let account = "root@example.com";
    twofa::begin(&w.ctx.store, account).expect("begin");
    let secret = w.ctx.store.totp_get(account).unwrap().unwrap().secret;
    let now = T0 as u64;
    let code = twofa::code_at(&secret, twofa::step_of(now));
    twofa::confirm_at(&w.ctx.store, account, &code, now).expect("confirm");
    // A login waiting for its code, opened before the limit.
    let on_admin = || {
        TestRequest::get().app_data(web::Data::new(Front {
            listener: Listener::Admin,
            https_port: None,
        }))
    };
    let pending = session::start(&w.ctx, &on_admin().to_http_request(), account, false);
    let csrf = session::current(
        &w.ctx,
        &on_admin().cookie(pending.clone()).to_http_request(),
    )
    .expect("session")
    .csrf;
    for _ in 0..2 {
        let got = login::check(&w.ctx, peer().ip(), "alice@example.com", "wrong", None).await;
        assert_eq!(got, Err(LoginError::Bad));
    }
    w.clock.advance(100);
    let wait = (login::WINDOW - 100).to_string();

    let svc = service!(w, Listener::Admin);
    let api = |authorization: String| {
        TestRequest::get()
            .uri("/api/v1/queues")
            .peer_addr(peer())
            .insert_header((header::AUTHORIZATION, authorization))
            .to_request()
    };
    let requests = [
        ("api basic", api(basic("alice@example.com", PASSWORD))),
        ("api key", api("Bearer fm_no_such_key".into())),
        (
            "dashboard login",
            login_request("alice@example.com", PASSWORD).to_request(),
        ),
        (
            "dashboard code",
            TestRequest::post()
                .uri("/login/code")
                .peer_addr(peer())
                .cookie(pending)
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(format!("csrf={csrf}&code=123456"))
                .to_request(),
        ),
    ];
    for (what, req) in requests {
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{what}");
        assert_eq!(
            res.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap()),
            Some(wait.as_str()),
            "{what}"
        );
    }
}

/// HEAD /health answers as GET (status, type, middleware) on every listener; the HTTP/1
/// encoder drops the body on the wire (tests/web.rs sees that).
#[actix_web::test]
async fn head_health_answers_like_get_on_every_listener() {
    let w = world("");
    for listener in [Listener::Admin, Listener::Https, Listener::Http] {
        let svc = service!(w, listener);
        let req = TestRequest::default()
            .method(Method::HEAD)
            .uri("/health")
            .peer_addr(peer())
            .to_request();
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::OK, "{listener:?}");
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "application/json",
            "{listener:?}"
        );
        assert!(res.headers().contains_key(header::X_FRAME_OPTIONS));
    }
}
