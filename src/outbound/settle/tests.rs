use std::time::Duration;

use super::*;
use crate::config::{Config, DeliveryConfig};
use crate::storage::testutil::store;
use crate::storage::{DsnNotify, EnvelopeParams, NotifyList};

const NOW: i64 = 1_800_000_000;

fn delivery() -> DeliveryConfig {
    let c = Config::parse("", std::path::Path::new("/"), None).expect("defaults");
    c.delivery
}

fn record(store: &Store, from: &str, rcpts: &[&str]) -> QueueRecord {
    let body = b"From: bob@example.com\r\nSubject: s\r\n\r\nbody\r\n";
    let rec = QueueRecord {
        id: store.next_queue_id().unwrap(),
        queue: QueueName::Remote,
        blob: store.blobs().put(body).unwrap(),
        size: body.len() as u64,
        mail_from: from.into(),
        recipients: rcpts.iter().map(|r| QueueRecipient::new(r)).collect(),
        params: EnvelopeParams::default(),
        received_at: NOW,
        due: None,
        attempts: 0,
        last_error: None,
        origin: "test".into(),
        auth_as: None,
        folder: None,
        history: Vec::new(),
    };
    rec
}

/// The records settling made for `queue` (settling writes no queue record itself).
fn in_queue(records: &[QueueRecord], queue: QueueName) -> Vec<QueueRecord> {
    records
        .iter()
        .filter(|r| r.queue == queue)
        .cloned()
        .collect()
}

/// The record `id` settling kept in `queue`.
fn kept(records: &[QueueRecord], queue: QueueName, id: QueueId) -> QueueRecord {
    in_queue(records, queue)
        .into_iter()
        .find(|r| r.id == id)
        .expect("record kept")
}

fn attempt(i: usize, outcome: Outcome, code: &str) -> Attempt {
    Attempt {
        index: i,
        outcome,
        status: code[4..9].to_string(),
        text: code.to_string(),
        diagnostic: Some(code.to_string()),
        remote_mta: Some("mx.remote.test".into()),
        peer_dsn: false,
    }
}

fn body_of(store: &Store, rec: &QueueRecord) -> String {
    String::from_utf8_lossy(&store.blobs().get(&rec.blob).unwrap()).into_owned()
}

#[test]
fn partial_failure_defers_bounces_and_drops_the_delivered() {
    let (_d, store) = store();
    let d = delivery();
    let rec = record(
        &store,
        "bob@example.com",
        &["a@r.test", "b@r.test", "c@r.test"],
    );
    let cx = Context {
        store: &store,
        hostname: "mx.example.com",
        delivery: &d,
        now: NOW + 10,
    };
    let records = settle(
        &cx,
        &rec,
        &[
            attempt(0, Outcome::Delivered, "250 2.0.0 ok"),
            attempt(1, Outcome::Temporary, "451 4.3.0 later"),
            attempt(2, Outcome::Permanent, "550 5.1.1 unknown"),
        ],
    )
    .unwrap();
    assert_eq!(in_queue(&records, QueueName::Remote).len(), 0);
    let deferred = kept(&records, QueueName::Deferred, rec.id);
    assert_eq!(deferred.recipients.len(), 1);
    assert_eq!(deferred.recipients[0].address, "b@r.test");
    assert_eq!(deferred.attempts, 1);
    assert_eq!(
        deferred.due,
        Some(NOW + 10 + 15 * 60),
        "first retry after 15 minutes"
    );
    assert_eq!(
        deferred.recipients[0].last_error.as_deref(),
        Some("451 4.3.0 later")
    );
    let inbound = in_queue(&records, QueueName::Inbound);
    assert_eq!(inbound.len(), 1, "one bounce");
    let dsn = &inbound[0];
    assert_eq!(dsn.mail_from, "");
    assert_eq!(dsn.recipients[0].address, "bob@example.com");
    let text = body_of(&store, dsn);
    assert!(text.contains("Final-Recipient: rfc822; c@r.test"), "{text}");
    assert!(text.contains("Status: 5.1.1"));
    assert!(
        !text.contains("a@r.test"),
        "no success report without NOTIFY=SUCCESS"
    );
    assert_eq!(records.len(), 2);
}

#[test]
fn null_sender_failures_go_to_the_bad_queue_not_back() {
    let (_d, store) = store();
    let d = delivery();
    let rec = record(&store, "", &["x@r.test"]);
    let cx = Context {
        store: &store,
        hostname: "mx.example.com",
        delivery: &d,
        now: NOW,
    };
    let records = settle(
        &cx,
        &rec,
        &[attempt(0, Outcome::Permanent, "550 5.1.1 unknown")],
    )
    .unwrap();
    assert_eq!(in_queue(&records, QueueName::Inbound).len(), 0);
    let bad = in_queue(&records, QueueName::Bad);
    assert_eq!(bad.len(), 1);
    assert_eq!(
        bad[0].last_error.as_deref(),
        Some("undeliverable bounce: 550 5.1.1 unknown")
    );
}

#[test]
fn expiry_bounces_with_the_last_error_and_notify_never_is_silent() {
    let (_d, store) = store();
    let d = delivery();
    let mut rec = record(&store, "bob@example.com", &["x@r.test", "y@r.test"]);
    rec.recipients[1].notify = Some(NotifyList::new(vec![DsnNotify::Never]));
    rec.attempts = 9;
    let cx = Context {
        store: &store,
        hostname: "mx.example.com",
        delivery: &d,
        now: NOW + 5 * 86_400,
    };
    let records = settle(
        &cx,
        &rec,
        &[
            attempt(0, Outcome::Temporary, "451 4.4.1 no answer"),
            attempt(1, Outcome::Temporary, "451 4.4.1 no answer"),
        ],
    )
    .unwrap();
    assert_eq!(in_queue(&records, QueueName::Deferred).len(), 0);
    let inbound = in_queue(&records, QueueName::Inbound);
    assert_eq!(inbound.len(), 1);
    let text = body_of(&store, &inbound[0]);
    assert!(text.contains("Final-Recipient: rfc822; x@r.test"));
    assert!(!text.contains("y@r.test"), "NOTIFY=NEVER: {text}");
    assert!(text.contains("Action: failed"));
    assert!(text.contains("Status: 4.4.1"));
    assert!(text.contains("gave up after 10 attempts over 5 days"));
}

#[test]
fn the_last_retry_is_at_expiry() {
    let (_d, store) = store();
    let mut d = delivery();
    d.message_lifetime = Duration::from_secs(600);
    let rec = record(&store, "bob@example.com", &["x@r.test"]);
    let cx = Context {
        store: &store,
        hostname: "mx.example.com",
        delivery: &d,
        now: NOW + 60,
    };
    let records = settle(&cx, &rec, &[attempt(0, Outcome::Temporary, "451 4.4.1 x")]).unwrap();
    let deferred = kept(&records, QueueName::Deferred, rec.id);
    assert_eq!(deferred.due, Some(NOW + 600));
}

#[test]
fn delay_notice_goes_with_exactly_one_attempt() {
    let mut d = delivery();
    d.delay_notice = Some(Duration::from_secs(4 * 3600));
    // Schedule offsets: 0, 15m, 45m, 1h45, 3h45, 7h45, …: the sixth attempt (5 before it).
    let due: Vec<u32> = (0..20).filter(|k| delay_notice_due(&d, *k)).collect();
    assert_eq!(due, vec![5]);
    d.delay_notice = Some(Duration::from_secs(1));
    let due: Vec<u32> = (0..20).filter(|k| delay_notice_due(&d, *k)).collect();
    assert_eq!(due, vec![1]);
    d.delay_notice = None;
    assert!((0..20).all(|k| !delay_notice_due(&d, k)));
}

#[test]
fn success_reports_when_asked_and_the_next_hop_cannot() {
    let (_d, store) = store();
    let d = delivery();
    let mut rec = record(&store, "bob@example.com", &["x@r.test", "y@r.test"]);
    rec.recipients[0].notify = Some(NotifyList::new(vec![DsnNotify::Success]));
    rec.recipients[1].notify = Some(NotifyList::new(vec![DsnNotify::Success]));
    let cx = Context {
        store: &store,
        hostname: "mx.example.com",
        delivery: &d,
        now: NOW,
    };
    let mut with_dsn = attempt(1, Outcome::Delivered, "250 2.0.0 ok");
    with_dsn.peer_dsn = true;
    let records = settle(
        &cx,
        &rec,
        &[attempt(0, Outcome::Delivered, "250 2.0.0 ok"), with_dsn],
    )
    .unwrap();
    let inbound = in_queue(&records, QueueName::Inbound);
    assert_eq!(inbound.len(), 1);
    let text = body_of(&store, &inbound[0]);
    assert!(text.contains("Action: relayed"), "{text}");
    assert!(text.contains("x@r.test"));
    assert!(
        !text.contains("Final-Recipient: rfc822; y@r.test"),
        "the next hop reports y"
    );
}

#[test]
fn enhanced_status_is_read_from_a_reply() {
    assert_eq!(enhanced_status("552 5.2.2 mailbox full"), Some("5.2.2"));
    assert_eq!(enhanced_status("550 5.1.1 no such mailbox"), Some("5.1.1"));
    for none in [
        "550 no such mailbox",
        "552",
        "",
        "552 5.2 full",
        "552 9.1.1 x",
        "552 5.x.1 y",
    ] {
        assert_eq!(enhanced_status(none), None, "{none:?}");
    }
}
