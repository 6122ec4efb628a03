//! `/settings` and `/folders` through actix-web's test service on the `https` listener's
//! application: preferences stored as metadata and kept over a reopening of the store,
//! list dates in the user's zone, the password change seen by an IMAP LOGIN, and folder
//! changes seen by IMAP LIST and LSUB (the real IMAP session over the store backend).

use std::collections::VecDeque;

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::prefs;
use super::test_support::{backend, service};
use crate::actors::auth::{check_password, Checked};
use crate::actors::imap_backend::StoreBackend;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::protocols::imap::backend::{Backend, NewMessage};
use crate::protocols::imap::session::{Action, Session, SessionConfig};

const ALICE: &str = "alice@example.com";

fn form(uri: &str, cookie: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
        .set_payload(body.to_string())
}

fn get(uri: &str, cookie: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
}

/// The flash message a redirect carries ("ok:…" or "err:…").
fn flash<B>(res: &actix_web::dev::ServiceResponse<B>) -> String {
    res.headers()
        .get_all(header::SET_COOKIE)
        .filter_map(|v| v.to_str().ok())
        .find_map(|l| l.strip_prefix("fm_flash="))
        .and_then(|l| l.split(';').next())
        .map(|v| {
            form_urlencoded::parse(format!("x={v}").as_bytes())
                .next()
                .map(|(_, t)| t.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default()
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

macro_rules! page {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// Logs `address` in with `password`: the session cookie and a CSRF token (from
/// /settings).
macro_rules! log_in {
    ($svc:expr, $address:expr, $password:expr) => {{
        let body = format!("address={}&password={}", $address, enc($password));
        let res = test::call_service(
            $svc,
            TestRequest::post()
                .uri("/login")
                .peer_addr(peer())
                .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
                .set_payload(body)
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "login of {}", $address);
        let (cookie, _) = session_cookie(&res).expect("a session cookie");
        let (status, page) = page!($svc, get("/settings", &cookie));
        assert_eq!(status, StatusCode::OK, "{page}");
        let csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .expect("a CSRF field")
            .to_string();
        (cookie, csrf)
    }};
}

/// A real IMAP session (`protocols::imap::Session` over the store backend) that logs in as
/// `user` — the password checked by `actors::auth::check_password`, as the IMAP shell
/// does — and runs `commands` (tagged lines); everything it wrote.
async fn imap(w: &World, user: &str, password: &str, commands: &[&str]) -> String {
    let checked = check_password(
        &w.ctx,
        "imap",
        "test",
        peer(),
        user.to_string(),
        password.to_string(),
    )
    .await;
    let ok = matches!(checked, Checked::Ok(_)).then(|| user.to_string());
    let mut input = format!("L LOGIN {user} {{{}+}}\r\n{password}\r\n", password.len());
    for c in commands {
        input.push_str(c);
        input.push_str("\r\n");
    }
    let ctx = w.ctx.clone();
    tokio::task::spawn_blocking(move || {
        let b = StoreBackend { ctx };
        let config = SessionConfig {
            hostname: "imap.test".into(),
            starttls_available: false,
            allow_plaintext: true,
            append_limit: 1 << 20,
            unauthenticate: false,
            max_line: 8192,
        };
        let mut s = Session::new(config, true);
        let mut sent = Vec::new();
        let mut todo: VecDeque<Action> = s.greeting().into();
        todo.extend(s.receive(input.as_bytes(), &b));
        // Bounded: each command answers in a few actions.
        for _ in 0..10_000 {
            let Some(a) = todo.pop_front() else { break };
            match a {
                Action::Send(bytes) => sent.extend_from_slice(&bytes),
                Action::Authenticate { .. } => {
                    let more = s.resume_auth(ok.clone(), &b);
                    for m in more.into_iter().rev() {
                        todo.push_front(m);
                    }
                }
                _ => {}
            }
        }
        String::from_utf8_lossy(&sent).into_owned()
    })
    .await
    .expect("imap session")
}

#[actix_web::test]
async fn preferences_are_saved_as_metadata_and_survive_reopening_the_store() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let body = format!(
        "csrf={csrf}&action=prefs&display_name={}&signature={}&time_zone=Asia%2FTokyo",
        enc("Alice Liddell"),
        enc("-- \n$NAME$ <$EMAIL$>")
    );
    let res = test::call_service(&svc, form("/settings", &cookie, &body).to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(flash(&res), "ok:Settings saved.");
    let (_, page) = page!(&svc, get("/settings", &cookie));
    assert!(page.contains("value=\"Alice Liddell\""), "{page}");
    assert!(page.contains("value=\"Asia/Tokyo\""), "{page}");
    // The signature compose gets, macros expanded, CRLF line ends.
    let ctx = w.ctx.clone();
    let sig = tokio::task::spawn_blocking(move || prefs::signature_for(&ctx, ALICE))
        .await
        .unwrap();
    assert_eq!(
        sig.as_deref(),
        Some("-- \r\nAlice Liddell <alice@example.com>")
    );
    // An IMAP client reads the same entries (RFC 5464 GETMETADATA).
    let out = imap(
        &w,
        ALICE,
        PASSWORD,
        &["M GETMETADATA \"\" /private/vendor/ferrymail/webmail/time-zone"],
    )
    .await;
    assert!(out.contains("Asia/Tokyo") && out.contains("M OK"), "{out}");
    // In the store's files: a copy of the data directory taken now (the store is still
    // open, as after a kill -9) opens with the same entries, as a restarted server finds
    // them.
    let copy = tempfile::tempdir().unwrap();
    copy_dir(w._dir.path(), copy.path());
    let (store, _writers) = crate::storage::Store::open(copy.path()).expect("reopen");
    let entries = store
        .metadata(crate::storage::MetadataOwner::Server, ALICE)
        .unwrap();
    let value = |k: &str| {
        entries
            .iter()
            .find(|(n, _)| n == &format!("{}{k}", prefs::ENTRY_PREFIX))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(value("display-name").as_deref(), Some("Alice Liddell"));
    assert_eq!(value("time-zone").as_deref(), Some("Asia/Tokyo"));
}

#[actix_web::test]
async fn a_bad_time_zone_is_refused_and_nothing_is_stored() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let body = format!("csrf={csrf}&action=prefs&display_name=Al&time_zone=Mars%2FOlympus");
    let res = test::call_service(&svc, form("/settings", &cookie, &body).to_request()).await;
    assert!(flash(&res).starts_with("err:"), "{}", flash(&res));
    let stored = backend(&w, |b| prefs::load(b, ALICE).unwrap()).await;
    assert_eq!(stored, prefs::Prefs::default());
    // Without the CSRF token nothing changes either.
    let res = test::call_service(
        &svc,
        form("/settings", &cookie, "action=prefs&display_name=Evil").to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let stored = backend(&w, |b| prefs::load(b, ALICE).unwrap()).await;
    assert_eq!(stored.display_name, "");
}

#[actix_web::test]
async fn the_message_list_and_reader_show_dates_in_the_users_zone() {
    let w = world("");
    let svc = service!(w);
    let inbox = backend(&w, |b| {
        let inbox = b.find_folder(ALICE, "INBOX").unwrap().unwrap().id;
        b.append(
            inbox,
            vec![NewMessage {
                flags: 0,
                keywords: Vec::new(),
                // 2027-01-15 08:00:00 UTC.
                internal_date: T0,
                content: b"Subject: zone\r\n\r\nhi\r\n".to_vec(),
            }],
        )
        .unwrap();
        inbox
    })
    .await;
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let (_, page) = page!(&svc, get(&format!("/mail/{inbox}"), &cookie));
    assert!(page.contains("2027-01-15 08:00"), "{page}");
    let body = format!("csrf={csrf}&action=prefs&time_zone=America%2FNew_York");
    test::call_service(&svc, form("/settings", &cookie, &body).to_request()).await;
    let (_, page) = page!(&svc, get(&format!("/mail/{inbox}"), &cookie));
    assert!(page.contains("2027-01-15 03:00"), "{page}");
    // The reader too (the message has no Date: field, so its arrival).
    let (_, page) = page!(&svc, get(&format!("/mail/{inbox}/1"), &cookie));
    assert!(page.contains("2027-01-15 03:00"), "{page}");
}

#[actix_web::test]
async fn a_password_change_needs_the_old_one_and_reaches_imap() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let change = |old: &str, new: &str, again: &str| {
        format!(
            "csrf={csrf}&action=password&old={}&new={}&confirm={}",
            enc(old),
            enc(new),
            enc(again)
        )
    };
    for (body, why) in [
        (
            change("wrong one", "new secret 1", "new secret 1"),
            "current password",
        ),
        (change(PASSWORD, "new secret 1", "new secret 2"), "differ"),
        (change(PASSWORD, "short", "short"), "at least 8"),
    ] {
        let res = test::call_service(&svc, form("/settings", &cookie, &body).to_request()).await;
        let f = flash(&res);
        assert!(f.starts_with("err:") && f.contains(why), "{f}");
    }
    let out = imap(&w, ALICE, PASSWORD, &["Z LOGOUT"]).await;
    assert!(out.contains("L OK"), "old password still works: {out}");
    let body = change(PASSWORD, "new secret 1", "new secret 1");
    let res = test::call_service(&svc, form("/settings", &cookie, &body).to_request()).await;
    assert_eq!(flash(&res), "ok:Password changed.");
    let out = imap(&w, ALICE, PASSWORD, &[]).await;
    assert!(out.contains("L NO"), "the old password is refused: {out}");
    let out = imap(&w, ALICE, "new secret 1", &[]).await;
    assert!(out.contains("L OK"), "{out}");
    // And the web login takes the new one.
    log_in!(&svc, ALICE, "new secret 1");
}

/// The LIST (or LSUB) lines of `out` naming `name` exactly (quoted or an atom).
fn listed(out: &str, cmd: &str, name: &str) -> bool {
    out.lines().any(|l| {
        l.starts_with(&format!("* {cmd} "))
            && (l.ends_with(&format!(" \"{name}\"")) || l.ends_with(&format!("\" {name}")))
    })
}

/// Copies a directory tree (bounded by the tree itself: no links are followed).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let kind = e.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else if kind.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[actix_web::test]
async fn folder_changes_are_what_imap_list_and_lsub_show() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let post = |body: String| form("/folders", &cookie, &body).to_request();
    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=create&parent=&name=Projects")),
    )
    .await;
    assert_eq!(flash(&res), "ok:Folder Projects created.");
    let projects = backend(&w, |b| {
        b.find_folder(ALICE, "Projects").unwrap().unwrap().id
    })
    .await;
    let res = test::call_service(
        &svc,
        post(format!(
            "csrf={csrf}&action=create&parent={projects}&name=Ferry"
        )),
    )
    .await;
    assert_eq!(flash(&res), "ok:Folder Projects/Ferry created.");
    let (_, page) = page!(&svc, get("/folders", &cookie));
    assert!(page.contains("data-name=\"Projects/Ferry\""), "{page}");
    let out = imap(
        &w,
        ALICE,
        PASSWORD,
        &["A LIST \"\" \"*\"", "B LSUB \"\" \"*\""],
    )
    .await;
    assert!(listed(&out, "LIST", "Projects/Ferry"), "{out}");
    // CREATE does not subscribe (RFC 9051 §6.3.4).
    assert!(!listed(&out, "LSUB", "Projects/Ferry"), "{out}");

    let ferry = backend(&w, |b| {
        b.find_folder(ALICE, "Projects/Ferry").unwrap().unwrap().id
    })
    .await;
    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=subscribe&folder={ferry}")),
    )
    .await;
    assert!(flash(&res).starts_with("ok:"), "{}", flash(&res));
    let out = imap(&w, ALICE, PASSWORD, &["B LSUB \"\" \"*\""]).await;
    assert!(listed(&out, "LSUB", "Projects/Ferry"), "{out}");

    let res = test::call_service(
        &svc,
        post(format!(
            "csrf={csrf}&action=rename&folder={ferry}&name=Projects%2FBoat"
        )),
    )
    .await;
    assert_eq!(
        flash(&res),
        "ok:Folder Projects/Ferry renamed to Projects/Boat."
    );
    let out = imap(&w, ALICE, PASSWORD, &["A LIST \"\" \"*\""]).await;
    assert!(listed(&out, "LIST", "Projects/Boat"), "{out}");
    assert!(!listed(&out, "LIST", "Projects/Ferry"), "{out}");

    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=unsubscribe&folder={ferry}")),
    )
    .await;
    assert!(flash(&res).starts_with("ok:"), "{}", flash(&res));
    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=delete&folder={ferry}")),
    )
    .await;
    assert_eq!(flash(&res), "ok:Folder Projects/Boat deleted.");
    let out = imap(
        &w,
        ALICE,
        PASSWORD,
        &["A LIST \"\" \"*\"", "B LSUB \"\" \"*\""],
    )
    .await;
    assert!(!listed(&out, "LIST", "Projects/Boat"), "{out}");
    assert!(!listed(&out, "LSUB", "Projects/Boat"), "{out}");
    assert!(listed(&out, "LIST", "Projects"), "{out}");

    // INBOX stays; bad names and other people's folders are refused.
    let inbox = backend(&w, |b| b.find_folder(ALICE, "INBOX").unwrap().unwrap().id).await;
    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=delete&folder={inbox}")),
    )
    .await;
    assert_eq!(flash(&res), "err:INBOX cannot be deleted");
    for name in ["", "a%2Fb", "inbox"] {
        let res = test::call_service(
            &svc,
            post(format!("csrf={csrf}&action=create&parent=&name={name}")),
        )
        .await;
        assert!(flash(&res).starts_with("err:"), "{name}: {}", flash(&res));
    }
    let roots = backend(&w, |b| {
        b.find_folder("root@example.com", "INBOX")
            .unwrap()
            .unwrap()
            .id
    })
    .await;
    let res = test::call_service(
        &svc,
        post(format!("csrf={csrf}&action=delete&folder={roots}")),
    )
    .await;
    assert_eq!(flash(&res), "err:not found");
    assert!(
        backend(&w, |b| b
            .find_folder("root@example.com", "INBOX")
            .unwrap()
            .is_some())
        .await
    );
}

#[actix_web::test]
async fn two_factor_set_up_in_settings_asks_for_a_code_at_the_next_login() {
    use crate::admin::twofa;
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE, PASSWORD);
    let (status, page) = page!(
        &svc,
        form(
            "/settings",
            &cookie,
            &format!("csrf={csrf}&action=2fa-begin")
        )
    );
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<svg"), "a QR code: {page}");
    let secret = w.ctx.store.totp_get(ALICE).unwrap().unwrap().secret;
    let shown = page
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|t| t.split('<').next())
        .unwrap();
    assert_eq!(shown, data_encoding::BASE32_NOPAD.encode(&secret));
    // A wrong code leaves it off.
    let (_, page) = page!(
        &svc,
        form(
            "/settings",
            &cookie,
            &format!("csrf={csrf}&action=2fa-confirm&code=000000")
        )
    );
    assert!(page.contains("id=\"twofa-error\""), "{page}");
    // Enrolment confirms on the system clock (as the dashboard's does).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = twofa::code_at(&secret, twofa::step_of(now));
    let (_, page) = page!(
        &svc,
        form(
            "/settings",
            &cookie,
            &format!("csrf={csrf}&action=2fa-confirm&code={code}")
        )
    );
    assert_eq!(
        page.matches("<li><code>").count(),
        twofa::RECOVERY_CODES,
        "{page}"
    );
    // The next login stops at the code step.
    let body = format!("address={ALICE}&password={}", enc(PASSWORD));
    let res = test::call_service(
        &svc,
        TestRequest::post()
            .uri("/login")
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body)
            .to_request(),
    )
    .await;
    assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/login/code");
    // Turning it off needs the password.
    let res = test::call_service(
        &svc,
        form(
            "/settings",
            &cookie,
            &format!("csrf={csrf}&action=2fa-off&old=nope"),
        )
        .to_request(),
    )
    .await;
    assert!(flash(&res).starts_with("err:"), "{}", flash(&res));
    assert!(twofa::status(&w.ctx.store, ALICE).unwrap().enabled);
    let res = test::call_service(
        &svc,
        form(
            "/settings",
            &cookie,
            &format!("csrf={csrf}&action=2fa-off&old={}", enc(PASSWORD)),
        )
        .to_request(),
    )
    .await;
    assert_eq!(flash(&res), "ok:Two-factor login is off.");
    log_in!(&svc, ALICE, PASSWORD);
}
