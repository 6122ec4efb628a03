//! Snooze through the real routes and the waker on the server's manual clock: a message
//! snoozed from the reader's form leaves INBOX for `Snoozed` (made on first use), the
//! `Snoozed` list shows its wake time, and when the clock passes it the waker brings it
//! back unread; the bulk form snoozes several and reschedules in `Snoozed`; Wake now;
//! records left by a crash (move never done, UID never recorded, message gone); the
//! presets in the user's zone; refusals (another's folder, no CSRF, a past time).

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use chrono_tz::Tz;

use super::snooze::{wake_time, When};
use super::test_support::{backend, deliver, folder, service};
use crate::actors::snooze::{wake_due, SNOOZED};
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::protocols::imap::backend::{flag_bits, Backend, FlagOp};
use crate::storage::SnoozeRecord;

const ALICE: &str = "alice@example.com";
const MAIL: &str = "From: Bob <bob@example.com>\nSubject: Lunch\n\nsee you\n";

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// Logs alice in; (session cookie, CSRF token of her INBOX page).
macro_rules! log_in {
    ($svc:expr, $inbox:expr) => {{
        let body = format!("address={ALICE}&password={}", PASSWORD.replace(' ', "+"));
        let req = TestRequest::post()
            .uri("/login")
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body);
        let res = test::call_service($svc, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&res).expect("a session cookie").0;
        let (status, page) = body_of!($svc, get(&cookie, &format!("/mail/{}", $inbox)));
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

fn get(cookie: &str, uri: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
}

fn post(cookie: &str, uri: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body.to_string())
}

/// UIDs and flags of `account`'s folder `name` (None: no such folder).
async fn contents(w: &World, account: &str, name: &str) -> Option<Vec<(u32, u8)>> {
    let (account, name) = (account.to_string(), name.to_string());
    backend(w, move |b| {
        let f = b.find_folder(&account, &name).unwrap()?;
        Some(
            b.messages(f.id)
                .unwrap()
                .into_iter()
                .map(|m| (m.uid, m.flags))
                .collect(),
        )
    })
    .await
}

async fn run_waker(w: &World) -> Option<i64> {
    let ctx = w.ctx.clone();
    tokio::task::spawn_blocking(move || wake_due(&ctx).expect("wake_due"))
        .await
        .expect("waker")
}

async fn mark_seen(w: &World, folder: u64, uid: u32) {
    backend(w, move |b| {
        b.store_flags(folder, &[uid], FlagOp::Add, flag_bits::SEEN, &[], None)
            .unwrap()
    })
    .await;
}

#[actix_web::test]
async fn a_snoozed_message_leaves_inbox_and_comes_back_unread_when_due() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, ALICE, MAIL).await;
    mark_seen(&w, inbox, uid).await;
    let (cookie, csrf) = log_in!(&svc, inbox);
    // The reader offers the control.
    let (_, page) = body_of!(&svc, get(&cookie, &format!("/mail/{inbox}/{uid}")));
    assert!(
        page.contains(
            "action=\"/mail/{inbox}/snooze\""
                .replace("{inbox}", &inbox.to_string())
                .as_str()
        ),
        "{page}"
    );
    assert!(page.contains("id=\"snooze-at\""), "{page}");

    // T0 is 2027-01-15 08:00 UTC; 09:30 the same day.
    let body = format!("csrf={csrf}&uid={uid}&when=custom&at=2027-01-15T09%3A30");
    let res = test::call_service(
        &svc,
        post(&cookie, &format!("/mail/{inbox}/snooze"), &body).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(contents(&w, ALICE, "INBOX").await, Some(vec![]));
    let snoozed = contents(&w, ALICE, SNOOZED).await.expect("Snoozed made");
    assert_eq!(snoozed.len(), 1);
    let records = w.ctx.store.snooze_of(ALICE).unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].wake, T0 + 5400);
    assert_eq!(records[0].snoozed_uid, Some(snoozed[0].0));
    assert_eq!(records[0].folder, "INBOX");

    // The Snoozed list shows the wake time and Wake now; the waker leaves it before its time.
    let snoozed_id = folder(&w, ALICE, SNOOZED).await;
    let (_, page) = body_of!(&svc, get(&cookie, &format!("/mail/{snoozed_id}")));
    assert!(page.contains("Wakes 2027-01-15 09:30"), "{page}");
    assert!(
        page.contains(&format!("id=\"wake-{}\"", snoozed[0].0)),
        "{page}"
    );
    assert_eq!(run_waker(&w).await, Some(T0 + 5400));
    assert_eq!(contents(&w, ALICE, "INBOX").await, Some(vec![]));

    w.clock.advance(5400);
    assert_eq!(run_waker(&w).await, None);
    let back = contents(&w, ALICE, "INBOX").await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].1 & flag_bits::SEEN, 0, "comes back unread");
    assert_eq!(contents(&w, ALICE, SNOOZED).await, Some(vec![]));
    assert!(w.ctx.store.snooze_list().unwrap().is_empty());
}

#[actix_web::test]
async fn bulk_snooze_then_reschedule_and_wake_now() {
    let w = world("");
    let svc = service!(w);
    let (inbox, a) = deliver(&w, ALICE, MAIL).await;
    let (_, b) = deliver(&w, ALICE, "Subject: two\n\nb\n").await;
    let (cookie, csrf) = log_in!(&svc, inbox);
    let (_, page) = body_of!(&svc, get(&cookie, &format!("/mail/{inbox}")));
    assert!(page.contains("id=\"bulk-snooze\""), "{page}");
    let body = format!("csrf={csrf}&action=seen&uid={a}&uid={b}&when=tomorrow&at=&page=1&list=");
    let res = test::call_service(
        &svc,
        post(&cookie, &format!("/mail/{inbox}/snooze"), &body).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let records = w.ctx.store.snooze_of(ALICE).unwrap();
    // Tomorrow 08:00 UTC (alice has no zone set).
    assert_eq!(
        records.iter().map(|r| r.wake).collect::<Vec<_>>(),
        vec![T0 + 86_400; 2]
    );
    let snoozed = folder(&w, ALICE, SNOOZED).await;
    let uids: Vec<u32> = records.iter().filter_map(|r| r.snoozed_uid).collect();

    // Snooze again in Snoozed: next week instead, nothing moves.
    let body = format!("csrf={csrf}&uid={}&when=nextweek", uids[0]);
    let res = test::call_service(
        &svc,
        post(&cookie, &format!("/mail/{snoozed}/snooze"), &body).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let moved = w.ctx.store.snooze_of(ALICE).unwrap();
    // 2027-01-15 is a Friday: Monday the 18th, 08:00.
    assert_eq!(moved.iter().map(|r| r.wake).max(), Some(T0 + 3 * 86_400));
    assert_eq!(contents(&w, ALICE, SNOOZED).await.unwrap().len(), 2);

    // Wake now brings one back at once.
    let body = format!("csrf={csrf}&uid={}", uids[1]);
    let res = test::call_service(
        &svc,
        post(&cookie, &format!("/mail/{snoozed}/wake"), &body).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(contents(&w, ALICE, "INBOX").await.unwrap().len(), 1);
    assert_eq!(w.ctx.store.snooze_of(ALICE).unwrap().len(), 1);
    // Wake now outside Snoozed: refused.
    let body = format!("csrf={csrf}&uid={a}");
    let (status, _) = body_of!(&svc, post(&cookie, &format!("/mail/{inbox}/wake"), &body));
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn refusals_change_nothing() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, ALICE, MAIL).await;
    let (root_inbox, root_uid) = deliver(&w, "root@example.com", MAIL).await;
    let (cookie, csrf) = log_in!(&svc, inbox);
    let cases = [
        // Without the CSRF field.
        (
            inbox,
            format!("uid={uid}&when=tomorrow"),
            StatusCode::FORBIDDEN,
        ),
        // In the past.
        (
            inbox,
            format!("csrf={csrf}&uid={uid}&when=custom&at=2027-01-15T07%3A59"),
            StatusCode::BAD_REQUEST,
        ),
        // Unreadable date, unknown choice, no message.
        (
            inbox,
            format!("csrf={csrf}&uid={uid}&when=custom&at=soon"),
            StatusCode::BAD_REQUEST,
        ),
        (
            inbox,
            format!("csrf={csrf}&uid={uid}&when=never"),
            StatusCode::BAD_REQUEST,
        ),
        (
            inbox,
            format!("csrf={csrf}&when=tomorrow"),
            StatusCode::BAD_REQUEST,
        ),
        // A uid the folder does not hold.
        (
            inbox,
            format!("csrf={csrf}&uid={}&when=tomorrow", uid + 1000),
            StatusCode::BAD_REQUEST,
        ),
        // Someone else's folder: as if it did not exist.
        (
            root_inbox,
            format!("csrf={csrf}&uid={root_uid}&when=tomorrow"),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (f, body, want) in cases {
        let (status, page) = body_of!(&svc, post(&cookie, &format!("/mail/{f}/snooze"), &body));
        assert_eq!(status, want, "{body}: {page}");
    }
    assert!(w.ctx.store.snooze_list().unwrap().is_empty());
    assert_eq!(contents(&w, ALICE, "INBOX").await.unwrap().len(), 1);
    assert_eq!(contents(&w, ALICE, SNOOZED).await, None);
}

#[actix_web::test]
async fn records_left_by_a_crash_are_woken_or_dropped() {
    let w = world("");
    let (inbox, unmoved) = deliver(&w, ALICE, MAIL).await;
    let (_, moved) = deliver(&w, ALICE, "Subject: moved\n\nm\n").await;
    let (_, deleted) = deliver(&w, ALICE, "Subject: deleted\n\nd\n").await;
    for uid in [unmoved, moved, deleted] {
        mark_seen(&w, inbox, uid).await;
    }
    let snoozed = backend(&w, |b| {
        crate::actors::snooze::snoozed_folder(b, ALICE).unwrap()
    })
    .await;
    let email = |uid: u32| {
        let b = crate::actors::imap_backend::StoreBackend { ctx: w.ctx.clone() };
        b.email_id(inbox, uid).unwrap()
    };
    let rec = |id: u64, uid: u32, email_id: String| SnoozeRecord {
        id,
        account: ALICE.into(),
        wake: T0 + 10,
        folder: "INBOX".into(),
        from_uid: uid,
        snoozed_uid: None,
        email_id,
    };
    // 1: written, never moved. 2: moved, new UID never recorded. 3: then deleted by the user.
    let records = [
        rec(1, unmoved, email(unmoved)),
        rec(2, moved, email(moved)),
        rec(3, deleted, email(deleted)),
    ];
    for r in &records {
        w.ctx.store.snooze_put(r).unwrap();
    }
    backend(&w, move |b| {
        b.move_messages(inbox, &[moved, deleted], snoozed).unwrap();
        let gone = b.messages(snoozed).unwrap().last().unwrap().uid;
        b.store_flags(snoozed, &[gone], FlagOp::Add, flag_bits::DELETED, &[], None)
            .unwrap();
        b.expunge(snoozed, &[gone]).unwrap();
    })
    .await;
    // Not yet due: nothing happens.
    assert_eq!(run_waker(&w).await, Some(T0 + 10));
    w.clock.advance(10);
    assert_eq!(run_waker(&w).await, None);
    let inbox_now = contents(&w, ALICE, "INBOX").await.unwrap();
    // The unmoved one kept its UID, the moved one came back; both unread; the deleted one
    // stays deleted.
    assert_eq!(inbox_now.len(), 2, "{inbox_now:?}");
    assert_eq!(inbox_now[0].0, unmoved);
    assert!(
        inbox_now.iter().all(|(_, f)| f & flag_bits::SEEN == 0),
        "{inbox_now:?}"
    );
    assert_eq!(contents(&w, ALICE, SNOOZED).await, Some(vec![]));
    assert!(w.ctx.store.snooze_list().unwrap().is_empty());
}

#[test]
fn presets_are_read_in_the_users_zone() {
    // T0: Friday 2027-01-15 08:00 UTC = 09:00 in Paris.
    let utc = Tz::UTC;
    let paris: Tz = "Europe/Paris".parse().unwrap();
    assert_eq!(
        wake_time(When::LaterToday, "", utc, T0).unwrap(),
        T0 + 10 * 3600
    );
    assert_eq!(
        wake_time(When::LaterToday, "", paris, T0).unwrap(),
        T0 + 9 * 3600
    );
    // After 15:00 local: three hours on, up to the hour (16:20 → 20:00 UTC).
    assert_eq!(
        wake_time(When::LaterToday, "", utc, T0 + 8 * 3600 + 1200).unwrap(),
        T0 + 12 * 3600
    );
    assert_eq!(
        wake_time(When::TomorrowMorning, "", utc, T0).unwrap(),
        T0 + 86_400
    );
    assert_eq!(
        wake_time(When::TomorrowMorning, "", paris, T0).unwrap(),
        T0 + 86_400 - 3600
    );
    assert_eq!(
        wake_time(When::NextWeek, "", utc, T0).unwrap(),
        T0 + 3 * 86_400
    );
    assert_eq!(
        wake_time(When::Custom, "2027-01-15T10:00", paris, T0).unwrap(),
        T0 + 3600
    );
    assert_eq!(
        wake_time(When::Custom, "2027-01-15T10:00:30", paris, T0).unwrap(),
        T0 + 3630
    );
    assert!(
        wake_time(When::Custom, "2027-01-15T09:00", paris, T0).is_err(),
        "now is not later"
    );
    // 2027-03-28 02:30 does not exist in Paris (clocks go 02:00 → 03:00).
    assert!(wake_time(When::Custom, "2027-03-28T02:30", paris, T0).is_err());
}
