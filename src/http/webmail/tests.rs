//! Webmail through actix-web's test service on the `https` listener's application (the
//! real routes and middleware): login and the TOTP step, session expiry on the server's
//! clock, CSRF, other people's folders refused, hostile HTML kept out of the page and the
//! frame, attachments byte for byte, and changes made through the folder actors.

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::test_support::{backend, deliver, folder, service};
use crate::http::tests::{peer, session_cookie, world, PASSWORD, T0};
use crate::protocols::imap::backend::{flag_bits, Backend, NewMessage};

fn form_post(uri: &str, body: String) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body)
}

/// A logged-in session: the cookie value and the CSRF token from a page.
struct Session {
    cookie: String,
    csrf: String,
}

impl Session {
    fn get(&self, uri: &str) -> TestRequest {
        TestRequest::get()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
    }

    fn post(&self, uri: &str, body: &str) -> TestRequest {
        form_post(uri, body.to_string())
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
    }
}

fn location<B>(res: &actix_web::dev::ServiceResponse<B>) -> String {
    res.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string()
}

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// Logs `address` in at `/` and reads the CSRF token from the mailbox page.
macro_rules! log_in {
    ($svc:expr, $address:expr) => {{
        let body = format!(
            "address={}&password={}",
            $address,
            PASSWORD.replace(' ', "+")
        );
        let res = test::call_service($svc, form_post("/login", body).to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/mail");
        let (cookie, _) = session_cookie(&res).expect("a session cookie");
        let mut s = Session {
            cookie,
            csrf: String::new(),
        };
        let res = test::call_service($svc, s.get("/mail").to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let inbox = location(&res);
        let (status, page) = body_of!($svc, s.get(&inbox));
        assert_eq!(status, StatusCode::OK, "{page}");
        s.csrf = csrf_of(&page);
        s
    }};
}

#[actix_web::test]
async fn any_account_logs_in_at_the_root_and_sees_its_inbox() {
    let w = world("");
    let svc = service!(w);
    let (status, page) = body_of!(&svc, TestRequest::get().uri("/").peer_addr(peer()));
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/login\""), "{page}");
    // A wrong password: the page again, 401.
    let res = test::call_service(
        &svc,
        form_post("/login", "address=alice@example.com&password=nope".into()).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(session_cookie(&res).is_none());
    // Without a session the mailbox sends to the login page.
    let res = test::call_service(&svc, TestRequest::get().uri("/mail").to_request()).await;
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, "/".into())
    );
    // alice is a plain user (the dashboard refuses her): webmail lets her in.
    let (inbox, _) = deliver(
        &w,
        "alice@example.com",
        "From: Bob <bob@example.com>\nSubject: Lunch on Friday\nDate: Thu, 3 Dec 2026 10:00:00 +0000\n\nhello\n",
    )
    .await;
    let s = log_in!(&svc, "alice@example.com");
    let (status, page) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("Lunch on Friday") && page.contains(">Bob<"),
        "{page}"
    );
    assert!(page.contains("aria-label=\"1 unread\""), "{page}");
    // Logging out ends the session.
    let res = test::call_service(
        &svc,
        s.post("/logout", &format!("csrf={}", s.csrf)).to_request(),
    )
    .await;
    assert_eq!(location(&res), "/");
    let (_, line) = session_cookie(&res).expect("a removal cookie");
    assert!(line.to_ascii_lowercase().contains("max-age=0"), "{line}");
}

#[actix_web::test]
async fn sessions_end_after_session_idle() {
    let w = world("[http]\nsession_idle = 600\n");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    w.clock.advance(599);
    let res = test::call_service(&svc, s.get("/mail").to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(location(&res), "/");
    w.clock.advance(601);
    let res = test::call_service(&svc, s.get("/mail").to_request()).await;
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, "/".into())
    );
}

#[actix_web::test]
async fn two_factor_accounts_give_their_code_before_the_mailbox() {
    use crate::admin::twofa;
    let w = world("");
    let account = "alice@example.com";
    twofa::begin(&w.ctx.store, account).expect("begin");
    let secret = w.ctx.store.totp_get(account).unwrap().unwrap().secret;
    let now = T0 as u64;
    twofa::confirm_at(
        &w.ctx.store,
        account,
        &twofa::code_at(&secret, twofa::step_of(now)),
        now,
    )
    .expect("confirm");
    let svc = service!(w);
    let body = format!("address={account}&password={}", PASSWORD.replace(' ', "+"));
    let res = test::call_service(&svc, form_post("/login", body).to_request()).await;
    assert_eq!(location(&res), "/login/code");
    let (half, _) = session_cookie(&res).unwrap();
    let half = Session {
        cookie: half,
        csrf: String::new(),
    };
    // The half session opens no mailbox.
    let res = test::call_service(&svc, half.get("/mail").to_request()).await;
    assert_eq!(location(&res), "/");
    let (status, page) = body_of!(&svc, half.get("/login/code"));
    assert_eq!(status, StatusCode::OK);
    let csrf = csrf_of(&page);
    let res = test::call_service(
        &svc,
        half.post("/login/code", &format!("csrf={csrf}&code=000000"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    w.clock.advance(30);
    let code = twofa::code_at(&secret, twofa::step_of(now + 30));
    let res = test::call_service(
        &svc,
        half.post("/login/code", &format!("csrf={csrf}&code={code}"))
            .to_request(),
    )
    .await;
    assert_eq!(location(&res), "/mail");
    let (full, _) = session_cookie(&res).unwrap();
    assert_ne!(full, half.cookie, "a new session after the second factor");
    let full = Session {
        cookie: full,
        csrf: String::new(),
    };
    let res = test::call_service(&svc, full.get("/mail").to_request()).await;
    assert!(location(&res).starts_with("/mail/"), "{}", location(&res));
}

#[actix_web::test]
async fn other_peoples_folders_and_messages_are_not_found() {
    let w = world("");
    let svc = service!(w);
    let (bobs, uid) = deliver(
        &w,
        "root@example.com",
        "From: a@b.test\nSubject: private\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/html\n\n<p>secret</p>\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=x.pdf\n\nPDF\n--b--\n",
    )
    .await;
    let s = log_in!(&svc, "alice@example.com");
    for path in [
        format!("/mail/{bobs}"),
        format!("/mail/{bobs}/{uid}"),
        format!("/mail/{bobs}/{uid}/html"),
        format!("/mail/{bobs}/{uid}/part/0"),
        format!("/mail/{bobs}/{uid}/source"),
        "/mail/999999".to_string(),
    ] {
        let (status, body) = body_of!(&svc, s.get(&path));
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            !body.contains("secret") && !body.contains("private"),
            "{path}: {body}"
        );
    }
    let req = s.post(
        &format!("/mail/{bobs}/{uid}"),
        &format!("csrf={}&action=delete", s.csrf),
    );
    assert_eq!(
        test::call_service(&svc, req.to_request()).await.status(),
        StatusCode::NOT_FOUND
    );
    let still = backend(&w, move |b| b.message_meta(bobs, uid).unwrap()).await;
    assert!(still.is_some(), "root's message is untouched");
}

#[actix_web::test]
async fn changes_need_the_csrf_token_and_go_through_the_folder_actor() {
    use crate::actors::folder::{MailboxChanged, Subscribe};
    use actix::{Actor, Context, Handler};
    use std::sync::Mutex;

    /// What an IMAP IDLE session hears, collected.
    struct Collector(Arc<Mutex<Vec<MailboxChanged>>>);
    impl Actor for Collector {
        type Context = Context<Self>;
    }
    impl Handler<MailboxChanged> for Collector {
        type Result = ();
        fn handle(&mut self, msg: MailboxChanged, _: &mut Context<Self>) {
            self.0.lock().unwrap().push(msg);
        }
    }

    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, "alice@example.com", "Subject: x\n\nbody\n").await;
    let heard = Arc::new(Mutex::new(Vec::new()));
    let listener = Collector(heard.clone()).start();
    let actor = w.ctx.folders.get(&w.ctx, inbox).unwrap();
    actor.send(Subscribe(listener.recipient())).await.unwrap();
    let s = log_in!(&svc, "alice@example.com");
    let uri = format!("/mail/{inbox}/{uid}");
    // No token, a wrong token: 403, nothing changed.
    for body in [
        "action=flag".to_string(),
        "csrf=wrong&action=flag".to_string(),
    ] {
        let res = test::call_service(&svc, s.post(&uri, &body).to_request()).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{body}");
    }
    let meta = backend(&w, move |b| b.message_meta(inbox, uid).unwrap().unwrap()).await;
    assert_eq!(meta.flags & flag_bits::FLAGGED, 0);
    // With it: flagged, and the folder's subscribers were told.
    let res = test::call_service(
        &svc,
        s.post(&uri, &format!("csrf={}&action=flag", s.csrf))
            .to_request(),
    )
    .await;
    assert_eq!(
        (res.status(), location(&res)),
        (StatusCode::SEE_OTHER, uri.clone())
    );
    let meta = backend(&w, move |b| b.message_meta(inbox, uid).unwrap().unwrap()).await;
    assert_ne!(meta.flags & flag_bits::FLAGGED, 0);
    // Let the listener run its mailbox (messages already queued; bounded).
    for _ in 0..100 {
        if !heard.lock().unwrap().is_empty() {
            break;
        }
        actix_rt::task::yield_now().await;
    }
    assert!(
        heard
            .lock()
            .unwrap()
            .iter()
            .any(|c| matches!(c, MailboxChanged::Flags { uid: u, .. } if *u == uid)),
        "an IDLE session hears the flag"
    );
    // Opening marks it read; "unseen" marks it unread again.
    let res = test::call_service(&svc, s.get(&uri).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let meta = backend(&w, move |b| b.message_meta(inbox, uid).unwrap().unwrap()).await;
    assert_ne!(meta.flags & flag_bits::SEEN, 0);
    let res = test::call_service(
        &svc,
        s.post(&uri, &format!("csrf={}&action=unseen&back=list", s.csrf))
            .to_request(),
    )
    .await;
    assert_eq!(location(&res), format!("/mail/{inbox}?page=1"));
    let meta = backend(&w, move |b| b.message_meta(inbox, uid).unwrap().unwrap()).await;
    assert_eq!(meta.flags & flag_bits::SEEN, 0);
    // Delete: moved to Trash; deleting it there removes it.
    let res = test::call_service(
        &svc,
        s.post(&uri, &format!("csrf={}&action=delete", s.csrf))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let trash = folder(&w, "alice@example.com", "Trash").await;
    let (left, in_trash) = backend(&w, move |b| {
        (b.messages(inbox).unwrap(), b.messages(trash).unwrap())
    })
    .await;
    assert!(left.is_empty());
    assert_eq!(in_trash.len(), 1);
    let t_uri = format!("/mail/{trash}/{}", in_trash[0].uid);
    let res = test::call_service(
        &svc,
        s.post(&t_uri, &format!("csrf={}&action=delete", s.csrf))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(backend(&w, move |b| b.messages(trash).unwrap())
        .await
        .is_empty());
}

const HOSTILE: &str = "From: \"<script>alert('from')</script>\" <x@evil.test>\n\
Subject: <img src=x onerror=alert('subject')>\n\
Content-Type: multipart/mixed; boundary=b\n\n\
--b\nContent-Type: multipart/related; boundary=r\n\n\
--r\nContent-Type: text/html\n\n\
<p>Hi</p><script>alert('body')</script><img src=\"https://tracker.evil.test/p.gif\">\
<img src=\"cid:logo@x\" alt=\"logo\"><a href=\"javascript:alert('link')\">j</a>\
<a href=\"https://ok.test/\">ok</a><svg onload=alert(1)></svg>\n\
--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n\
iVBORw0KGgo=\n--r--\n\
--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"<script>.bin\"\n\
Content-Transfer-Encoding: base64\n\nAAECA/8=\n--b--\n";

#[actix_web::test]
async fn a_script_in_a_message_never_reaches_the_page() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, "alice@example.com", HOSTILE).await;
    let s = log_in!(&svc, "alice@example.com");
    let (_, list) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    let (status, page) = body_of!(&svc, s.get(&format!("/mail/{inbox}/{uid}")));
    assert_eq!(status, StatusCode::OK);
    for p in [&list, &page] {
        assert!(
            !p.contains("<script>alert") && !p.contains("<img src=x"),
            "{p}"
        );
        // Shown as text, escaped (askama writes `<` as `&#60;`).
        assert!(p.contains("&#60;img src=x onerror="), "{p}");
    }
    assert!(
        page.contains("sandbox=\"allow-popups allow-popups-to-escape-sandbox\""),
        "{page}"
    );
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/{uid}/html")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp = res
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(csp, super::reader::FRAME_CSP);
    assert!(!csp.contains("script-src") && csp.contains("default-src 'none'"));
    assert_eq!(
        res.headers().get(header::X_FRAME_OPTIONS).unwrap(),
        "SAMEORIGIN"
    );
    let frame = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
    let lower = frame.to_ascii_lowercase();
    for bad in [
        "<script",
        "javascript:",
        "onload",
        "tracker.evil.test",
        "<svg",
    ] {
        assert!(!lower.contains(bad), "{bad} in {frame}");
    }
    assert!(
        frame.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
        "{frame}"
    );
    assert!(frame.contains("rel=\"noopener noreferrer\""), "{frame}");
    // The attachment (part 1: the inline image is part 0): its bytes, as a download, its
    // name made safe.
    assert!(
        page.contains("/part/1\" download>&#60;script&#62;.bin</a>"),
        "{page}"
    );
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/{uid}/part/1")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let cd = res
        .headers()
        .get(header::CONTENT_DISPOSITION)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cd.starts_with("attachment; filename=\"<script>.bin\""),
        "{cd}"
    );
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "application/octet-stream"
    );
    assert_eq!(test::read_body(res).await.as_ref(), &[0u8, 1, 2, 3, 255]);
    // The source, as plain text.
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/{uid}/source")).to_request(),
    )
    .await;
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/plain; charset=utf-8"
    );
    let raw = test::read_body(res).await;
    assert_eq!(raw.as_ref(), HOSTILE.replace('\n', "\r\n").as_bytes());
}

#[actix_web::test]
async fn the_list_is_newest_first_fifty_to_a_page() {
    let w = world("");
    let svc = service!(w);
    let inbox = folder(&w, "alice@example.com", "INBOX").await;
    backend(&w, move |b| {
        let batch = (0..51)
            .map(|i| NewMessage {
                flags: 0,
                keywords: Vec::new(),
                internal_date: T0 + i,
                content: format!("Subject: number {i:02}\r\n\r\nx\r\n").into_bytes(),
            })
            .collect();
        b.append(inbox, batch).unwrap();
    })
    .await;
    let s = log_in!(&svc, "alice@example.com");
    let (_, first) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    assert!(
        first.contains("number 50") && first.contains("number 01"),
        "{first}"
    );
    assert!(!first.contains("number 00"));
    assert!(first.find("number 50") < first.find("number 49"));
    assert!(first.contains("Page 1 of 2 (51)"), "{first}");
    let (_, second) = body_of!(&svc, s.get(&format!("/mail/{inbox}?page=2")));
    assert!(
        second.contains("number 00") && !second.contains("number 01"),
        "{second}"
    );
}

#[actix_web::test]
async fn shared_folders_show_as_the_acl_allows() {
    let w = world("");
    let svc = service!(w);
    let (roots, uid) = deliver(&w, "root@example.com", "Subject: team news\n\nhi\n").await;
    let s = log_in!(&svc, "alice@example.com");
    let inbox = folder(&w, "alice@example.com", "INBOX").await;
    let (_, before) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    assert!(!before.contains("Other Users/"), "{before}");
    // root lets alice look up and read (not delete) its INBOX.
    backend(&w, move |b| {
        b.set_acl(roots, "alice@example.com", "lrs").unwrap()
    })
    .await;
    let (_, after) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    assert!(
        after.contains(&format!(
            "href=\"/mail/{roots}\">Other Users/root@example.com/INBOX"
        )),
        "{after}"
    );
    let (status, list) = body_of!(&svc, s.get(&format!("/mail/{roots}")));
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("team news"), "{list}");
    let (status, _) = body_of!(&svc, s.get(&format!("/mail/{roots}/{uid}")));
    assert_eq!(status, StatusCode::OK);
    // No `t`/`e` right: deleting is refused and the message stays.
    let req = s.post(
        &format!("/mail/{roots}/{uid}"),
        &format!("csrf={}&action=delete", s.csrf),
    );
    let res = test::call_service(&svc, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let still = backend(&w, move |b| b.message_meta(roots, uid).unwrap()).await;
    assert!(still.is_some());
}
