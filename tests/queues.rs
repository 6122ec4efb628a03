//! Queue behaviour that needs time: the deferred queue releases records when due (driven by
//! a manual clock), and sessions time out.

mod common;

use std::time::Duration;

use common::{Client, TestServer};
use ferrymail::actors::queues::ReleaseDue;
use ferrymail::clock::ManualClock;
use ferrymail::storage::{QueueName, QueueRecipient, QueueRecord};

#[test]
fn deferred_records_return_to_inbound_when_due() {
    let clock = ManualClock::new(1_800_000_000);
    let server = TestServer::start_opts("", Some(clock.clone()));
    let store = server.store();
    let (_, queues) = server.writers();
    let blob = store
        .blobs()
        .put(b"Subject: later\r\n\r\nwait for it\r\n")
        .unwrap();
    let id = store.next_queue_id().unwrap();
    queues
        .queue_put(&QueueRecord {
            id,
            queue: QueueName::Deferred,
            blob,
            size: 30,
            mail_from: "a@example.net".into(),
            recipients: vec![QueueRecipient::new("alice@example.com")],
            params: Default::default(),
            received_at: clock_now(&clock),
            due: Some(clock_now(&clock) + 900),
            attempts: 1,
            last_error: Some("451 4.4.1 try later".into()),
            origin: "test".into(),
            auth_as: None,
            folder: None,
            history: Vec::new(),
        })
        .unwrap();
    let deferred = server.handle().ctx.queues().deferred.clone();
    let released = actix_rt_block_on(deferred.send(ReleaseDue));
    assert_eq!(released, 0, "not due yet");
    assert_eq!(server.queue_depth(QueueName::Deferred), 1);

    clock.advance(901);
    let released = actix_rt_block_on(deferred.send(ReleaseDue));
    assert_eq!(released, 1);
    let got = server.wait_inbox("alice@example.com", 1);
    assert_eq!(got.len(), 1);
    assert_eq!(server.queue_depth(QueueName::Deferred), 0);
}

fn clock_now(c: &ManualClock) -> i64 {
    use ferrymail::clock::Clock;
    c.now()
}

fn actix_rt_block_on<F, T>(fut: F) -> usize
where
    F: std::future::Future<Output = Result<Result<usize, T>, actix::MailboxError>>,
    T: std::fmt::Debug,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(fut).unwrap().unwrap()
}

#[test]
fn idle_sessions_time_out_with_421() {
    let server = TestServer::start_with("command_timeout = 1");
    let mut c = Client::connect(server.addr("smtp"));
    let started = std::time::Instant::now();
    let r = c.reply();
    assert!(r.starts_with("421 4.4.2"), "{r}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(c.read_to_close(), "");
}
