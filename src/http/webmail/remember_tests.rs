//! "Remember this device" ([`super::remember`]) and `/settings/devices` ([`super::devices`])
//! through actix-web's test service on the `https` listener's application, on the server's
//! manual clock: the token skips the code step and never the password nor a disabled
//! account; unknown, expired and forgotten tokens are ignored and their cookie removed;
//! Settings lists and forgets devices; a password change and two-factor login turned off
//! (webmail, console, the admin's reset) forget them all; `remember_device_days = 0` turns
//! the feature off.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::remember::{label_of, MAX_DEVICES};
use super::test_support::service;
use crate::admin::{twofa, AdminCommand};
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::storage::DeviceRecord;

const ALICE: &str = "alice@example.com";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const PHONE: &str = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36";

/// The request's cookies as one header value.
fn cookies(session: Option<&str>, device: Option<&str>) -> String {
    let mut parts = Vec::new();
    if let Some(s) = session {
        parts.push(format!("fm_session={s}"));
    }
    if let Some(d) = device {
        parts.push(format!("fm_device={d}"));
    }
    parts.join("; ")
}

fn post(uri: &str, cookie: &str, body: &str) -> TestRequest {
    let mut r = TestRequest::post()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .insert_header((header::USER_AGENT, FIREFOX))
        .set_payload(body.to_string());
    if !cookie.is_empty() {
        r = r.insert_header((header::COOKIE, cookie.to_string()));
    }
    r
}

fn get(uri: &str, cookie: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, cookie.to_string()))
}

fn location<B>(res: &actix_web::dev::ServiceResponse<B>) -> String {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `Set-Cookie` line of `fm_device`, if the answer has one.
fn device_line<B>(res: &actix_web::dev::ServiceResponse<B>) -> Option<String> {
    res.headers()
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find(|l| l.starts_with("fm_device="))
        .map(str::to_string)
}

/// The value a `Set-Cookie` line sets.
fn value_of(line: &str) -> String {
    line.split(';').next().unwrap_or("")["fm_device=".len()..].to_string()
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string()
}

macro_rules! page {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// Turns two-factor login on for `account`: its secret.
fn enrol(w: &World, account: &str) -> Vec<u8> {
    twofa::begin(&w.ctx.store, account).expect("begin");
    let secret = w.ctx.store.totp_get(account).unwrap().unwrap().secret;
    let now = w.ctx.clock.now() as u64;
    let code = twofa::code_at(&secret, twofa::step_of(now));
    twofa::confirm_at(&w.ctx.store, account, &code, now).expect("confirm");
    secret
}

/// The password step with `device` (a token) presented: the answer.
macro_rules! password_step {
    ($svc:expr, $password:expr, $device:expr) => {{
        let body = format!("address={ALICE}&password={}", $password.replace(' ', "+"));
        let cookie = cookies(None, $device);
        test::call_service($svc, post("/login", &cookie, &body).to_request()).await
    }};
}

/// A whole login through the code step (a fresh time step each time, so the code is not a
/// replay), ticking "Remember this device" when `remember`: the full session and the
/// `fm_device` Set-Cookie line, if any.
macro_rules! code_login {
    ($svc:expr, $w:expr, $secret:expr, $remember:expr, $ua:expr) => {{
        $w.clock.advance(30);
        let res = password_step!($svc, PASSWORD, None);
        assert_eq!(location(&res), "/login/code");
        let (half, _) = session_cookie(&res).expect("a pending session");
        let (status, page) = page!($svc, get("/login/code", &cookies(Some(&half), None)));
        assert_eq!(status, StatusCode::OK);
        let code = twofa::code_at(&$secret, twofa::step_of($w.ctx.clock.now() as u64));
        let tick = if $remember { "&remember=on" } else { "" };
        let body = format!("csrf={}&code={code}{tick}", csrf_of(&page));
        let req = post("/login/code", &cookies(Some(&half), None), &body)
            .insert_header((header::USER_AGENT, $ua));
        let res = test::call_service($svc, req.to_request()).await;
        assert_eq!(location(&res), "/mail", "the code was right");
        let (full, _) = session_cookie(&res).expect("a full session");
        (full, device_line(&res), page)
    }};
}

/// Whether `session` opens the mailbox.
macro_rules! opens_mail {
    ($svc:expr, $session:expr) => {{
        let res = test::call_service(
            $svc,
            get("/mail", &cookies(Some(&$session), None)).to_request(),
        )
        .await;
        location(&res).starts_with("/mail/")
    }};
}

fn devices_of(w: &World) -> Vec<DeviceRecord> {
    w.ctx.store.device_list(Some(ALICE)).unwrap()
}

#[actix_web::test]
async fn a_remembered_device_skips_the_code_but_never_the_password() {
    let w = world("");
    let secret = enrol(&w, ALICE);
    let svc = service!(w);
    let (_, line, page) = code_login!(&svc, w, secret, true, FIREFOX);
    assert!(page.contains("Remember this device"), "{page}");
    let line = line.expect("a device cookie");
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Secure",
        "Max-Age=2592000",
    ] {
        assert!(line.contains(flag), "{flag} missing: {line}");
    }
    let token = value_of(&line);
    // Only a digest is stored, with the account, times and a label.
    let stored = devices_of(&w);
    assert_eq!(stored.len(), 1);
    let d = &stored[0];
    assert_eq!(d.label, "Firefox on Linux");
    assert_eq!(
        (d.created, d.expires - d.created),
        (d.last_used, 30 * 86_400)
    );
    assert!(token.starts_with(&format!("{}.", d.id)), "{token}");
    assert!(!token.contains(&hex::encode(&d.digest)));

    // The password alone now logs in: a full session, straight to the mailbox.
    w.clock.advance(600);
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_eq!(location(&res), "/mail");
    let (full, _) = session_cookie(&res).expect("a session");
    assert!(opens_mail!(&svc, full));
    assert_eq!(
        devices_of(&w)[0].last_used,
        T0 as u64 + 630,
        "last use recorded"
    );

    // A wrong password with the token is a failed login like any other.
    let res = password_step!(&svc, "not the password", Some(&token));
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&res).is_none());

    // Without the token the code is asked again; ticking nothing remembers nothing.
    let res = password_step!(&svc, PASSWORD, None);
    assert_eq!(location(&res), "/login/code");
    let (_, line, _) = code_login!(&svc, w, secret, false, FIREFOX);
    assert_eq!(line, None);
    assert_eq!(devices_of(&w).len(), 1);

    // A disabled account is refused whatever the browser carries.
    w.ctx.store.set_disabled(ALICE, true).unwrap();
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_ne!(location(&res), "/mail");
    assert!(
        session_cookie(&res).is_none(),
        "no session for a disabled account"
    );
}

#[actix_web::test]
async fn unknown_expired_and_other_accounts_tokens_are_ignored_and_removed() {
    let w = world("");
    let secret = enrol(&w, ALICE);
    let svc = service!(w);
    let (_, line, _) = code_login!(&svc, w, secret, true, FIREFOX);
    let token = value_of(&line.expect("a device cookie"));
    let (id, _) = token.split_once('.').unwrap();
    let forged = format!("{id}.{}", "A".repeat(43));
    for bad in ["garbage", "0123456789abcdef.AAAA", forged.as_str()] {
        let res = password_step!(&svc, PASSWORD, Some(bad));
        assert_eq!(location(&res), "/login/code", "{bad}");
        let removal = device_line(&res).expect("the cookie removed");
        assert!(removal.starts_with("fm_device=;"), "{removal}");
    }
    // Another account's token does not open this one (the record is keyed by account).
    enrol(&w, "root@example.com");
    let body = format!(
        "address=root@example.com&password={}",
        PASSWORD.replace(' ', "+")
    );
    let res = test::call_service(
        &svc,
        post("/login", &cookies(None, Some(&token)), &body).to_request(),
    )
    .await;
    assert_eq!(location(&res), "/login/code");
    // Still good for its own account until it expires...
    w.clock.advance(30 * 86_400 - 100);
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_eq!(location(&res), "/mail");
    // ...and not after: the record goes too.
    w.clock.advance(100);
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_eq!(location(&res), "/login/code");
    assert!(device_line(&res).is_some_and(|l| l.starts_with("fm_device=;")));
    assert!(devices_of(&w).is_empty());
}

#[actix_web::test]
async fn settings_list_and_forget_devices() {
    let w = world("");
    let secret = enrol(&w, ALICE);
    let svc = service!(w);
    let (_, phone, _) = code_login!(&svc, w, secret, true, PHONE);
    let (full, line, _) = code_login!(&svc, w, secret, true, FIREFOX);
    let (phone, token) = (value_of(&phone.unwrap()), value_of(&line.unwrap()));
    let this_browser = cookies(Some(&full), Some(&token));
    let (status, page) = page!(&svc, get("/settings/devices", &this_browser));
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Chrome on Android"), "{page}");
    assert!(
        page.contains("Firefox on Linux <strong>(this browser)</strong>"),
        "{page}"
    );
    let (_, settings) = page!(&svc, get("/settings", &this_browser));
    assert!(settings.contains("href=\"/settings/devices\""));
    let csrf = csrf_of(&page);

    // Without the CSRF token nothing is forgotten.
    let (phone_id, _) = phone.split_once('.').unwrap();
    let res = test::call_service(
        &svc,
        post(
            "/settings/devices",
            &this_browser,
            &format!("action=forget&id={phone_id}"),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(devices_of(&w).len(), 2);

    let body = format!("csrf={csrf}&action=forget&id={phone_id}");
    let res = test::call_service(
        &svc,
        post("/settings/devices", &this_browser, &body).to_request(),
    )
    .await;
    assert_eq!(location(&res), "/settings/devices");
    assert_eq!(
        device_line(&res),
        None,
        "another device: this browser's cookie stays"
    );
    let (_, page) = page!(&svc, get("/settings/devices", &this_browser));
    assert!(!page.contains("Chrome on Android"), "{page}");
    let res = password_step!(&svc, PASSWORD, Some(&phone));
    assert_eq!(
        location(&res),
        "/login/code",
        "the forgotten device asks for the code"
    );

    let body = format!("csrf={csrf}&action=forget-all");
    let res = test::call_service(
        &svc,
        post("/settings/devices", &this_browser, &body).to_request(),
    )
    .await;
    assert!(device_line(&res).is_some_and(|l| l.starts_with("fm_device=;")));
    assert!(devices_of(&w).is_empty());
    let (_, page) = page!(&svc, get("/settings/devices", &this_browser));
    assert!(page.contains("No device is remembered."), "{page}");
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_eq!(location(&res), "/login/code");
}

#[actix_web::test]
async fn password_changes_and_two_factor_resets_forget_every_device() {
    let w = world("");
    let mut secret = enrol(&w, ALICE);
    let svc = service!(w);
    let new_password = "a new password";

    // Webmail's password change.
    let (full, line, _) = code_login!(&svc, w, secret, true, FIREFOX);
    assert!(line.is_some());
    let (_, settings) = page!(&svc, get("/settings", &cookies(Some(&full), None)));
    let body = format!(
        "csrf={}&action=password&old={}&new={}&confirm={}",
        csrf_of(&settings),
        PASSWORD.replace(' ', "+"),
        new_password.replace(' ', "+"),
        new_password.replace(' ', "+")
    );
    let res = test::call_service(
        &svc,
        post("/settings", &cookies(Some(&full), None), &body).to_request(),
    )
    .await;
    assert_eq!(location(&res), "/settings");
    assert!(
        devices_of(&w).is_empty(),
        "a password change forgets devices"
    );

    // The console's `account passwd` (the API's password change runs it too).
    let remember = |w: &World, id: &str| {
        let now = w.ctx.clock.now() as u64;
        w.ctx
            .store
            .device_add(&DeviceRecord {
                account: ALICE.into(),
                id: id.into(),
                digest: vec![1; 32],
                label: "Firefox on Linux".into(),
                created: now,
                last_used: now,
                expires: now + 86_400,
            })
            .unwrap();
    };
    remember(&w, "00000000000000a1");
    crate::admin::exec::execute(
        &w.ctx.store,
        &AdminCommand::AccountPasswd {
            address: ALICE.into(),
            password: PASSWORD.into(),
        },
    )
    .unwrap();
    assert!(devices_of(&w).is_empty(), "console password change");

    // The admin's reset (console `account 2fa reset`, the dashboard's button).
    remember(&w, "00000000000000a2");
    twofa::reset(&w.ctx.store, ALICE).unwrap();
    assert!(devices_of(&w).is_empty(), "2fa reset");

    // Turning two-factor login off in webmail's settings.
    secret.clear();
    secret.extend(enrol(&w, ALICE));
    let (full, line, _) = code_login!(&svc, w, secret, true, FIREFOX);
    assert!(line.is_some());
    let (_, settings) = page!(&svc, get("/settings", &cookies(Some(&full), None)));
    let body = format!(
        "csrf={}&action=2fa-off&old={}",
        csrf_of(&settings),
        PASSWORD.replace(' ', "+")
    );
    let res = test::call_service(
        &svc,
        post("/settings", &cookies(Some(&full), None), &body).to_request(),
    )
    .await;
    assert_eq!(location(&res), "/settings");
    assert!(devices_of(&w).is_empty(), "2fa turned off in webmail");
}

#[actix_web::test]
async fn zero_days_turns_the_feature_off() {
    let w = world("[http]\nremember_device_days = 0\n");
    let secret = enrol(&w, ALICE);
    let svc = service!(w);
    let (_, line, page) = code_login!(&svc, w, secret, true, FIREFOX);
    assert!(!page.contains("Remember this device"), "{page}");
    assert_eq!(line, None, "no token made");
    assert!(devices_of(&w).is_empty());
    // A token made before the feature was turned off is not accepted.
    let secret_half = [5u8; 32];
    use base64::Engine;
    use sha2::Digest;
    let now = w.ctx.clock.now() as u64;
    w.ctx
        .store
        .device_add(&DeviceRecord {
            account: ALICE.into(),
            id: "00000000000000b1".into(),
            digest: sha2::Sha256::digest(secret_half).to_vec(),
            label: "x".into(),
            created: now,
            last_used: now,
            expires: now + 86_400,
        })
        .unwrap();
    let token = format!(
        "00000000000000b1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_half)
    );
    let res = password_step!(&svc, PASSWORD, Some(&token));
    assert_eq!(location(&res), "/login/code");
}

#[test]
fn labels_name_the_browser_and_system() {
    assert_eq!(label_of(FIREFOX), "Firefox on Linux");
    assert_eq!(label_of(PHONE), "Chrome on Android");
    assert_eq!(
        label_of("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0"),
        "Edge on Windows"
    );
    assert_eq!(
        label_of("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"),
        "Safari on iPhone"
    );
    assert_eq!(
        label_of("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36"),
        "Chrome (headless) on Linux"
    );
    assert_eq!(label_of("curl/8.5.0"), "curl/8.5.0");
    assert_eq!(label_of(""), "An unnamed browser");
    assert_eq!(label_of(&"x".repeat(500)).chars().count(), 80);
}

#[actix_web::test]
async fn expired_and_least_recently_used_devices_make_room_for_a_new_one() {
    let w = world("");
    let secret = enrol(&w, ALICE);
    let svc = service!(w);
    let now = w.ctx.clock.now() as u64;
    // One expired device and MAX_DEVICES live ones, device 0 the least recently used.
    let add = |id: String, last_used: u64, expires: u64| {
        w.ctx
            .store
            .device_add(&DeviceRecord {
                account: ALICE.into(),
                id,
                digest: vec![1; 32],
                label: "old".into(),
                created: 0,
                last_used,
                expires,
            })
            .unwrap();
    };
    add("ffffffffffffffff".into(), 5, now);
    for n in 0..MAX_DEVICES as u64 {
        add(format!("{n:016x}"), 10 + n, now + 86_400);
    }
    let (_, line, _) = code_login!(&svc, w, secret, true, FIREFOX);
    assert!(line.is_some());
    let ids: Vec<String> = devices_of(&w).into_iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), MAX_DEVICES, "{ids:?}");
    assert!(
        !ids.contains(&"ffffffffffffffff".to_string()),
        "the expired one went"
    );
    assert!(
        !ids.contains(&format!("{:016x}", 0)),
        "the least recently used went"
    );
    assert!(ids.contains(&format!("{:016x}", 1)));
}
