//! Supervision: a folder actor and a queue actor that panic mid-work are restarted, reload
//! from storage, and nothing acknowledged is lost; other sessions carry on meanwhile.

mod common;

use common::{message, Client, TestServer};

#[test]
fn panicking_folder_and_queue_actors_restart_and_lose_nothing() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();

    // Another session is open before the faults and must keep working through them.
    let mut bystander = Client::connect(server.addr("smtp"));
    assert!(bystander
        .cmd("EHLO bystander.example.net")
        .starts_with("250"));

    // The next local delivery panics inside the folder actor, the next routing inside the
    // inbound queue actor. Both messages were acknowledged (250) before the faults hit.
    ctx.faults.arm("folder.append", 1);
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "sender@example.net",
        &["bob@example.com"],
        &message("folder-fault"),
    );
    assert!(r.starts_with("250"), "{r}");

    let got = server.wait_inbox("bob@example.com", 1);
    assert_eq!(got.len(), 1, "delivered after the folder actor restarted");
    assert!(ctx.registry.restarts("folder/bob@example.com/INBOX") >= 1);

    ctx.faults.arm("inbound.route", 1);
    let r = c.deliver(
        "sender@example.net",
        &["alice@example.com"],
        &message("queue-fault"),
    );
    assert!(r.starts_with("250"), "{r}");
    let got = server.wait_inbox("alice@example.com", 1);
    assert_eq!(got.len(), 1, "routed after the inbound queue restarted");
    assert!(ctx.registry.restarts("queue/inbound") >= 1);

    // The bystander session was never disturbed.
    let r = bystander.deliver(
        "x@example.net",
        &["alice@example.com"],
        &message("bystander"),
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox("alice@example.com", 2).len(), 2);
    assert_eq!(server.inbox("bob@example.com").len(), 1, "exactly once");

    // The console shows the restarts.
    let out = ferrymail::admin::control::client_request(
        &ferrymail::admin::socket::socket_path(&server.data_dir()),
        "actors",
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    assert!(out.ok, "{}", out.output);
    assert!(out.output.contains("queue/inbound"), "{}", out.output);
    assert!(out.output.contains("restarts=1"), "{}", out.output);
}

#[test]
fn repeated_failures_back_off() {
    let server = TestServer::start();
    let ctx = server.handle().ctx.clone();
    // Three failures in a row: the third restart waits (2 s back-off), the message still
    // arrives afterwards.
    ctx.faults.arm("folder.append", 3);
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "sender@example.net",
        &["bob@example.com"],
        &message("backoff"),
    );
    assert!(r.starts_with("250"), "{r}");
    let got = server.wait_inbox("bob@example.com", 1);
    assert_eq!(got.len(), 1);
    assert_eq!(ctx.registry.restarts("folder/bob@example.com/INBOX"), 3);
}
