//! Compose limits that had no test: the recipient cap (`[smtp] max_recipients`, counted
//! after duplicates are dropped, as RCPT TO would count them) and the sweep of uploads left
//! alone for more than `uploads::MAX_AGE` (their directory's time set back, no waiting).

use std::time::{Duration, SystemTime};

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::compose_tests::{body_of, form_of, input, log_in, world_with_queues, Session};
use super::test_support::service;
use super::uploads;
use crate::http::tests::{peer, session_cookie, PASSWORD};

#[actix_web::test]
async fn the_recipient_past_the_cap_is_refused_with_a_clear_message() {
    let w = world_with_queues("[smtp]\nmax_recipients = 100\n");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    // 100 addresses (plus a duplicate, counted once) pass the cap and meet the next check:
    // these local mailboxes do not exist.
    let mut to: Vec<String> = (0..100).map(|i| format!("nobody{i}@example.com")).collect();
    to.push("NOBODY0@example.com".into());
    let body = form_of(&page, "send", &[("to", &to.join(", "))]);
    let (status, answer) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.contains("no such mailbox here"), "{answer}");
    assert!(!answer.contains("at most 100 recipients"), "{answer}");
    // The 101st distinct one: refused by the cap, the form kept.
    to.push("nobody100@example.com".into());
    let body = form_of(&page, "send", &[("to", &to.join(", "))]);
    let (status, answer) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.contains("at most 100 recipients"), "{answer}");
    assert!(answer.contains("nobody100@example.com"), "{answer}");
}

#[actix_web::test]
async fn uploads_left_for_more_than_a_day_are_swept_when_a_compose_opens() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let ctx = web::Data::new(w.ctx.clone());
    let dir_of = |cid: &str| uploads::dir(&ctx, "alice@example.com", cid).unwrap();
    let (old, fresh) = (dir_of(&"a".repeat(32)), dir_of(&"b".repeat(32)));
    for d in [&old, &fresh] {
        uploads::add(d, "x.txt", "text/plain", b"x", 1000).unwrap();
    }
    let set_age = |d: &std::path::Path, secs: u64| {
        let when = SystemTime::now() - Duration::from_secs(secs);
        std::fs::File::open(d).unwrap().set_modified(when).unwrap();
    };
    set_age(&old, uploads::MAX_AGE + 60);
    set_age(&fresh, uploads::MAX_AGE - 60);
    let (status, _) = body_of!(&svc, s.get("/compose"));
    assert_eq!(status, StatusCode::OK);
    assert!(
        !old.exists(),
        "a compose untouched for more than a day goes"
    );
    assert_eq!(
        uploads::list(&fresh).unwrap().len(),
        1,
        "a younger one stays"
    );
}
