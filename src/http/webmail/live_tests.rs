//! The live list (`live.rs`) and acting on many messages (`bulk.rs`) through actix-web's
//! test service on the `https` listener's application: the event stream hears arrivals,
//! flag changes and expunges made through the folder actors (as IMAP's APPEND, STORE and
//! EXPUNGE are), ends with the session or when the client goes away and then leaves no
//! subscription behind; the bulk form checks the CSRF token and every ACL right before
//! it changes anything.

use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::test_support::{backend, service};
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp, FolderRef, NewMessage};

const ALICE: &str = "alice@example.com";
const ROOT: &str = "root@example.com";

async fn inbox(w: &World, owner: &str) -> FolderRef {
    let owner = owner.to_string();
    backend(w, move |b| {
        b.find_folder(&owner, "INBOX").unwrap().unwrap().id
    })
    .await
}

/// Appends a message with `subject` to `folder` through its actor (as APPEND does).
async fn deliver(w: &World, folder: FolderRef, subject: &str) -> u32 {
    let raw = format!("From: Bob <bob@example.com>\r\nSubject: {subject}\r\n\r\nhi\r\n");
    backend(w, move |b| {
        b.append(
            folder,
            vec![NewMessage {
                flags: 0,
                keywords: Vec::new(),
                internal_date: T0,
                content: raw.into_bytes(),
            }],
        )
        .unwrap()[0]
    })
    .await
}

async fn uids(w: &World, folder: FolderRef) -> Vec<u32> {
    backend(w, move |b| {
        b.messages(folder)
            .unwrap()
            .into_iter()
            .map(|m| m.uid)
            .collect()
    })
    .await
}

async fn flags(w: &World, folder: FolderRef, uid: u32) -> u8 {
    backend(w, move |b| {
        b.message_meta(folder, uid).unwrap().unwrap().flags
    })
    .await
}

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
        TestRequest::post()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
            .set_payload(body.to_string())
    }
}

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// Logs `address` in and reads the CSRF token from its INBOX page.
macro_rules! log_in {
    ($svc:expr, $w:expr, $address:expr) => {{
        let body = format!(
            "address={}&password={}",
            $address,
            PASSWORD.replace(' ', "+")
        );
        let req = TestRequest::post()
            .uri("/login")
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body);
        let res = test::call_service($svc, req.to_request()).await;
        let (cookie, _) = session_cookie(&res).expect("a session cookie");
        let mut s = Session {
            cookie,
            csrf: String::new(),
        };
        let inbox = inbox($w, $address).await;
        let (status, page) = body_of!($svc, s.get(&format!("/mail/{inbox}")));
        assert_eq!(status, StatusCode::OK, "{page}");
        s.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .expect("a CSRF field")
            .to_string();
        s
    }};
}

/// An open event stream's body.
type Body = actix_web::body::BoxBody;

fn open_body<B: MessageBody + 'static>(res: actix_web::dev::ServiceResponse<B>) -> Body {
    res.into_body().boxed()
}

/// The next chunk of the stream; `None` when it ended.
async fn chunk(body: &mut Body) -> Option<String> {
    let next = futures_util::future::poll_fn(|cx| Pin::new(&mut *body).poll_next(cx)).await;
    next.map(|r| {
        String::from_utf8_lossy(&r.map_err(|e| e.to_string()).expect("a chunk")).into_owned()
    })
}

/// Reads chunks until one contains `needle` (at most 50 chunks: each is an event or a
/// heartbeat, so a missing event fails the test instead of hanging it); returns it.
async fn until(body: &mut Body, needle: &str) -> String {
    let mut seen = String::new();
    for _ in 0..50 {
        match chunk(body).await {
            Some(c) if c.contains(needle) => return c,
            Some(c) => seen.push_str(&c),
            None => panic!("the stream ended before {needle:?}; had: {seen}"),
        }
    }
    panic!("no {needle:?} in 50 chunks: {seen}");
}

/// Waits (bounded) until no live subscriber of `folder` is connected any more.
async fn until_unsubscribed(w: &World, folder: FolderRef) {
    for _ in 0..2000 {
        if !w.ctx.folders.watched().contains(&folder) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    panic!("folder {folder} still has a subscriber");
}

#[actix_web::test]
async fn the_stream_tells_of_new_messages_flags_and_expunges() {
    let w = world("");
    let svc = service!(w);
    let inbox = inbox(&w, ALICE).await;
    let first = deliver(&w, inbox, "before").await;
    let s = log_in!(&svc, &w, ALICE);
    let page = body_of!(&svc, s.get(&format!("/mail/{inbox}"))).1;
    let since = page
        .split("events?since=")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("the page names its stream")
        .to_string();
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/events?since={since}"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/event-stream"
    );
    let mut body = open_body(res);
    let open = until(&mut body, ": open").await;
    assert!(open.contains("retry: "), "{open}");
    // The unread count of the INBOX on connection; no resync: the page is current.
    let count = until(&mut body, "event: unread").await;
    assert!(count.contains(&format!("\"folder\":{inbox}")), "{count}");
    assert!(count.contains("\"unseen\":1"), "{count}");
    assert!(w.ctx.folders.watched().contains(&inbox), "subscribed");

    let uid = deliver(&w, inbox, "Live one").await;
    let new = until(&mut body, "event: new").await;
    assert!(new.starts_with("id: "), "{new}");
    assert!(new.contains(&format!("\"uid\":{uid}")), "{new}");
    assert!(
        new.contains("\"subject\":\"Live one\"") && new.contains("\"from\":\"Bob\""),
        "{new}"
    );
    let count = until(&mut body, "event: unread").await;
    assert!(count.contains("\"unseen\":2"), "{count}");

    // As IMAP's STORE: through the folder actor.
    backend(&w, move |b| {
        b.store_flags(inbox, &[first], FlagOp::Add, flag_bits::FLAGGED, &[], None)
            .unwrap()
    })
    .await;
    let flagged = until(&mut body, "event: flags").await;
    assert!(
        flagged.contains(&format!("\"uid\":{first}")) && flagged.contains("\"flagged\":true"),
        "{flagged}"
    );
    backend(&w, move |b| b.expunge(inbox, &[first]).unwrap()).await;
    let gone = until(&mut body, "event: expunged").await;
    assert!(gone.contains(&format!("\"uids\":[{first}]")), "{gone}");

    // The client goes away: the subscription goes with it.
    drop(body);
    until_unsubscribed(&w, inbox).await;
    deliver(&w, inbox, "after").await;
    assert_eq!(w.ctx.account_events.listener_count(), 0);
}

#[actix_web::test]
async fn a_stream_that_missed_changes_asks_for_a_resync() {
    let w = world("");
    let svc = service!(w);
    let inbox = inbox(&w, ALICE).await;
    deliver(&w, inbox, "one").await;
    let s = log_in!(&svc, &w, ALICE);
    // A page read at modseq 0 (or an EventSource whose last event was older).
    for req in [
        s.get(&format!("/mail/{inbox}/events?since=0")),
        s.get(&format!("/mail/{inbox}/events?since=999999"))
            .insert_header(("Last-Event-ID", "0")),
    ] {
        let res = test::call_service(&svc, req.to_request()).await;
        let mut body = open_body(res);
        until(&mut body, "event: resync").await;
    }
    // Current: no resync before the counts.
    let modseq = backend(&w, move |b| b.folder(inbox).unwrap().highest_modseq).await;
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/events?since={modseq}"))
            .to_request(),
    )
    .await;
    let mut body = open_body(res);
    let mut head = String::new();
    for _ in 0..2 {
        head.push_str(&chunk(&mut body).await.expect("a chunk"));
    }
    assert!(!head.contains("resync"), "{head}");
}

#[actix_web::test]
async fn the_stream_ends_with_the_session_and_leaves_no_subscription() {
    let w = world("[http]\nsession_idle = 600\n");
    let svc = service!(w);
    let inbox = inbox(&w, ALICE).await;
    let s = log_in!(&svc, &w, ALICE);
    let res = test::call_service(&svc, s.get(&format!("/mail/{inbox}/events")).to_request()).await;
    let mut body = open_body(res);
    until(&mut body, "event: unread").await;
    w.clock.advance(601);
    // The next thing the stream wakes for finds the session over.
    deliver(&w, inbox, "too late").await;
    let mut ended = false;
    for _ in 0..10 {
        match chunk(&mut body).await {
            None => {
                ended = true;
                break;
            }
            Some(c) => assert!(!c.contains("too late"), "sent after expiry: {c}"),
        }
    }
    assert!(ended, "the stream ended");
    until_unsubscribed(&w, inbox).await;
    // Reconnecting with the expired cookie: 401, which stops an EventSource.
    let res = test::call_service(&svc, s.get(&format!("/mail/{inbox}/events")).to_request()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_folder_without_the_read_right_has_no_stream() {
    let w = world("");
    let svc = service!(w);
    let roots = inbox(&w, ROOT).await;
    let s = log_in!(&svc, &w, ALICE);
    for uri in [
        format!("/mail/{roots}/events"),
        "/mail/999999/events".to_string(),
    ] {
        let (status, _) = body_of!(&svc, s.get(&uri));
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
    }
    // `l` alone (it shows in the tree) is not enough to read it.
    backend(&w, move |b| b.set_acl(roots, ALICE, "l").unwrap()).await;
    let (status, _) = body_of!(&svc, s.get(&format!("/mail/{roots}/events")));
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!w.ctx.folders.watched().contains(&roots));
}

#[actix_web::test]
async fn many_messages_move_copy_mark_and_delete_at_once() {
    let w = world("");
    let svc = service!(w);
    let inbox = inbox(&w, ALICE).await;
    let archive = backend(&w, |b| b.create_folder(ALICE, "Projects", None).unwrap()).await;
    let (a, b2, c) = (
        deliver(&w, inbox, "one").await,
        deliver(&w, inbox, "two").await,
        deliver(&w, inbox, "three").await,
    );
    let s = log_in!(&svc, &w, ALICE);
    let page = body_of!(&svc, s.get(&format!("/mail/{inbox}"))).1;
    assert!(
        page.contains(&format!("action=\"/mail/{inbox}/bulk\""))
            && page.contains(&format!("<option value=\"{archive}\">Projects</option>"))
            && page.contains(&format!("name=\"uid\" value=\"{a}\" form=\"bulk\""))
            && page.contains("Select: one"),
        "{page}"
    );
    let bulk = format!("/mail/{inbox}/bulk");
    // Without the CSRF token: 403, nothing moves.
    let res = test::call_service(
        &svc,
        s.post(&bulk, &format!("action=move&target={archive}&uid={a}"))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(uids(&w, inbox).await.len(), 3);

    let post = |body: String| s.post(&bulk, &format!("csrf={}&page=1&{body}", s.csrf));
    let res = test::call_service(
        &svc,
        post(format!("action=seen&uid={a}&uid={b2}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_ne!(flags(&w, inbox, a).await & flag_bits::SEEN, 0);
    assert_ne!(flags(&w, inbox, b2).await & flag_bits::SEEN, 0);
    assert_eq!(flags(&w, inbox, c).await & flag_bits::SEEN, 0);
    test::call_service(&svc, post(format!("action=unseen&uid={b2}")).to_request()).await;
    assert_eq!(flags(&w, inbox, b2).await & flag_bits::SEEN, 0);
    test::call_service(
        &svc,
        post(format!("action=flag&uid={b2}&uid={c}")).to_request(),
    )
    .await;
    assert_ne!(flags(&w, inbox, c).await & flag_bits::FLAGGED, 0);
    test::call_service(&svc, post(format!("action=unflag&uid={c}")).to_request()).await;
    assert_eq!(flags(&w, inbox, c).await & flag_bits::FLAGGED, 0);
    assert_ne!(flags(&w, inbox, b2).await & flag_bits::FLAGGED, 0);

    // Copy one, move two.
    let res = test::call_service(
        &svc,
        post(format!("action=copy&target={archive}&uid={c}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(uids(&w, inbox).await, vec![a, b2, c]);
    assert_eq!(uids(&w, archive).await.len(), 1);
    let res = test::call_service(
        &svc,
        post(format!("action=move&target={archive}&uid={a}&uid={b2}")).to_request(),
    )
    .await;
    assert_eq!(
        res.headers().get(header::LOCATION).unwrap(),
        &format!("/mail/{inbox}?page=1")
    );
    assert_eq!(uids(&w, inbox).await, vec![c]);
    assert_eq!(uids(&w, archive).await.len(), 3);

    // Nothing selected, no target, the same folder: 400.
    for body in [
        "action=seen".to_string(),
        format!("action=move&uid={c}"),
        format!("action=move&target={inbox}&uid={c}"),
        format!("action=burn&uid={c}"),
    ] {
        let res = test::call_service(&svc, post(body.clone()).to_request()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
    }

    // Delete: to Trash; in Trash, gone.
    let in_archive = uids(&w, archive).await;
    let q: String = in_archive.iter().map(|u| format!("&uid={u}")).collect();
    let res = test::call_service(
        &svc,
        s.post(
            &format!("/mail/{archive}/bulk"),
            &format!("csrf={}&action=delete{q}", s.csrf),
        )
        .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(uids(&w, archive).await.is_empty());
    let trash = backend(&w, |b| b.find_folder(ALICE, "Trash").unwrap().unwrap().id).await;
    let in_trash = uids(&w, trash).await;
    assert_eq!(in_trash.len(), 3);
    let q: String = in_trash.iter().map(|u| format!("&uid={u}")).collect();
    test::call_service(
        &svc,
        s.post(
            &format!("/mail/{trash}/bulk"),
            &format!("csrf={}&action=delete{q}", s.csrf),
        )
        .to_request(),
    )
    .await;
    assert!(uids(&w, trash).await.is_empty());
}

#[actix_web::test]
async fn each_bulk_action_needs_its_acl_right() {
    let w = world("");
    let svc = service!(w);
    let mine = inbox(&w, ALICE).await;
    let roots = inbox(&w, ROOT).await;
    let theirs = deliver(&w, roots, "root's").await;
    let own = deliver(&w, mine, "alice's").await;
    let s = log_in!(&svc, &w, ALICE);
    let post = |folder: FolderRef, body: String| {
        s.post(
            &format!("/mail/{folder}/bulk"),
            &format!("csrf={}&{body}", s.csrf),
        )
    };
    // No right at all on root's INBOX: 404 as a source and as a target.
    let res = test::call_service(
        &svc,
        post(roots, format!("action=seen&uid={theirs}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = test::call_service(
        &svc,
        post(mine, format!("action=copy&target={roots}&uid={own}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Read only: every change refused, nothing changed; not offered as a target.
    backend(&w, move |b| b.set_acl(roots, ALICE, "lr").unwrap()).await;
    let page = body_of!(&svc, s.get(&format!("/mail/{mine}"))).1;
    assert!(
        !page.contains(&format!("<option value=\"{roots}\">")),
        "{page}"
    );
    for action in ["seen", "flag", "delete", &format!("move&target={mine}")] {
        let res = test::call_service(
            &svc,
            post(roots, format!("action={action}&uid={theirs}")).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{action}");
    }
    let res = test::call_service(
        &svc,
        post(mine, format!("action=copy&target={roots}&uid={own}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(flags(&w, roots, theirs).await, 0);
    assert_eq!(uids(&w, roots).await, vec![theirs]);
    // `s`, `w` and `i`: marks and copies in are allowed; deleting (`t`, `e`) is not.
    backend(&w, move |b| b.set_acl(roots, ALICE, "lrswi").unwrap()).await;
    let page = body_of!(&svc, s.get(&format!("/mail/{mine}"))).1;
    assert!(
        page.contains(&format!(
            "<option value=\"{roots}\">Other Users/root@example.com/INBOX</option>"
        )),
        "{page}"
    );
    for action in ["seen", "flag"] {
        let res = test::call_service(
            &svc,
            post(roots, format!("action={action}&uid={theirs}")).to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
    }
    assert_eq!(
        flags(&w, roots, theirs).await,
        flag_bits::SEEN | flag_bits::FLAGGED
    );
    let res = test::call_service(
        &svc,
        post(mine, format!("action=copy&target={roots}&uid={own}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(uids(&w, roots).await.len(), 2);
    let res = test::call_service(
        &svc,
        post(roots, format!("action=delete&uid={theirs}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(
        &svc,
        post(roots, format!("action=move&target={mine}&uid={theirs}")).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(uids(&w, roots).await.contains(&theirs));
}

#[actix_web::test]
async fn an_idle_stream_sends_a_heartbeat_and_rows_in_the_users_zone() {
    let w = world("");
    let svc = service!(w);
    let inbox = inbox(&w, ALICE).await;
    let s = log_in!(&svc, &w, ALICE);
    // The zone is read when the stream opens (live.rs): set before.
    let zone = "time_zone=Asia%2FTokyo&display_name=&signature=&action=prefs";
    let res = test::call_service(
        &svc,
        s.post("/settings", &format!("{zone}&csrf={}", s.csrf))
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = test::call_service(&svc, s.get(&format!("/mail/{inbox}/events")).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mut body = open_body(res);
    until(&mut body, "event: unread").await;
    // Nothing happens in the folder: the next chunk is the heartbeat comment (after
    // HEARTBEAT; `until` reads a bounded number of chunks, no clock is asserted).
    let beat = until(&mut body, ": heartbeat").await;
    assert_eq!(beat, ": heartbeat\n\n");
    // A new row's date in the user's zone: T0 is 2027-01-15 08:00 UTC, 17:00 in Tokyo.
    deliver(&w, inbox, "late news").await;
    let new = until(&mut body, "event: new").await;
    assert!(new.contains("late news"), "{new}");
    assert!(new.contains("2027-01-15 17:00"), "{new}");
}
