//! A disk that fails to make data durable (EIO from the commit round's sync step, injected
//! with `Store::inject_sync_errors`): no client is told its message is stored. SMTP DATA gets
//! a 451 and the message is neither queued nor delivered; IMAP APPEND gets NO; once the
//! fault is gone the retry succeeds. And a body lost in a crash is found by the start-up
//! sweep: its message stays listed, flagged, and the maildrop still opens.

mod common;

use std::io::{BufRead, Write};

use common::{message, Client, Imap, TestServer, PASSWORD};
use ferrymail::actors::queues::Enqueue;
use ferrymail::storage::{BlobId, QueueName, QueueRecipient, QueueRecord};

/// APPEND `body` to INBOX (LITERAL+); the response lines.
fn append(imap: &mut Imap, body: &str) -> Vec<String> {
    let tag = imap.bump();
    imap.send_raw(format!("{tag} APPEND INBOX {{{}+}}\r\n{body}\r\n", body.len()).as_bytes());
    imap.until_tagged(&tag)
}

fn all_queues_empty(server: &TestServer) -> bool {
    QueueName::ALL
        .into_iter()
        .all(|q| server.queue_depth(q) == 0)
}

#[test]
fn smtp_data_gets_451_when_the_body_cannot_be_made_durable() {
    let server = TestServer::start();
    let store = server.store();

    // Every round fails until cleared: a commit of some background actor cannot use up the
    // fault before the session's own round.
    store.inject_sync_errors(u32::MAX);
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "carol@remote.example",
        &["bob@example.com"],
        &message("lost to EIO"),
    );
    assert!(r.starts_with("451 4.3.0"), "DATA: {r}");
    assert!(all_queues_empty(&server), "a refused message was queued");
    store.inject_sync_errors(0);

    // The fault is gone: the sender's retry is accepted and delivered, alone.
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "carol@remote.example",
        &["bob@example.com"],
        &message("retried"),
    );
    assert!(r.starts_with("250"), "retried DATA: {r}");
    let inbox = server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1, "delivered: {inbox:?}");
    let text = String::from_utf8_lossy(&inbox[0]).into_owned();
    assert!(text.contains("Subject: retried"), "{text}");
    assert!(!text.contains("lost to EIO"), "{text}");
}

/// The body is durable (written before the fault) and the sync fails in the round that
/// would make the queue record durable: the record is never written (the inbound queue
/// writes it only after the round's sync) or, had the index flush failed after it, withdrawn;
/// either way the 4xx the sender gets is not followed by a delivery of this copy.
#[test]
fn a_failed_commit_leaves_no_queue_record() {
    let server = TestServer::start();
    let store = server.store();
    let body = b"Subject: withdrawn\r\n\r\nnot to be delivered\r\n";
    let blob = store.blobs().put(body).unwrap();
    let record = QueueRecord::inbound(
        store.next_queue_id().unwrap(),
        blob,
        body.len() as u64,
        "carol@remote.example".into(),
        vec![QueueRecipient::new("bob@example.com")],
        "test".into(),
        0,
    );
    store.inject_sync_errors(u32::MAX);
    let inbound = server.handle().ctx.queues().inbound.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let answer = rt
        .block_on(inbound.send(Enqueue(record)))
        .expect("actor answers");
    assert!(answer.is_err(), "accepted despite the failed commit");
    assert!(all_queues_empty(&server), "the record stayed queued");
    store.inject_sync_errors(0);
    assert!(server.inbox("bob@example.com").is_empty());
}

#[test]
fn imap_append_gets_no_when_the_body_cannot_be_made_durable() {
    let server = TestServer::start();
    let store = server.store();
    let mut imap = Imap::login(server.addr("imap"), "bob@example.com");
    let body = "Subject: append\r\n\r\nstored?\r\n";
    store.inject_sync_errors(u32::MAX);
    let r = append(&mut imap, body);
    assert!(r.last().unwrap().contains(" NO "), "{r:?}");
    store.inject_sync_errors(0);
    assert!(server.inbox("bob@example.com").is_empty());

    let r = append(&mut imap, body);
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    let inbox = server.inbox("bob@example.com");
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0], body.as_bytes());
}

/// One line of a POP3 answer, without its CRLF.
fn pop3_cmd(stream: &mut std::net::TcpStream, reader: &mut impl BufRead, line: &str) -> String {
    stream
        .write_all(format!("{line}\r\n").as_bytes())
        .expect("write");
    let mut answer = String::new();
    let _ = reader.read_line(&mut answer);
    answer.trim_end().to_string()
}

/// A power loss took a delivered body (its record survived): after the restart the message
/// is still listed, flagged $Damaged; reading it answers an untagged NO / -ERR, everything else works
/// and the POP3 maildrop opens.
#[test]
fn a_message_whose_body_was_lost_stays_listed_and_flagged() {
    let mut server = TestServer::start();
    let bodies = [
        "Subject: kept\r\n\r\nfine\r\n",
        "Subject: lost\r\n\r\ngone\r\n",
    ];
    let mut imap = Imap::login(server.addr("imap"), "bob@example.com");
    for body in bodies {
        let r = append(&mut imap, body);
        assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    }
    drop(imap);
    server.handle.take().expect("running").stop();
    let hex = BlobId::of(bodies[1].as_bytes()).to_string();
    let path = server
        .data_dir()
        .join("blobs")
        .join(&hex[..2])
        .join(&hex[2..]);
    std::fs::remove_file(&path).expect("the body file exists");
    server.boot();

    let mut imap = Imap::login(server.addr("imap"), "bob@example.com");
    let r = imap.cmd("SELECT INBOX");
    assert!(r.iter().any(|l| l == "* 2 EXISTS"), "{r:?}");
    let r = imap.cmd("FETCH 1:2 (FLAGS)");
    assert!(
        r[0].starts_with("* 1 FETCH") && !r[0].contains("$Damaged"),
        "{r:?}"
    );
    assert!(
        r[1].starts_with("* 2 FETCH") && r[1].contains("$Damaged"),
        "{r:?}"
    );
    let r = imap.cmd("SEARCH KEYWORD $Damaged");
    assert!(r.iter().any(|l| l == "* SEARCH 2"), "{r:?}");
    // An untagged NO explains; the command and the session go on.
    let r = imap.cmd("FETCH 2 BODY[]");
    assert!(
        r.iter()
            .any(|l| l.starts_with("* NO ") && l.contains("cannot be read")),
        "{r:?}"
    );
    let r = imap.cmd("FETCH 1 BODY[]");
    assert!(r.last().unwrap().contains(" OK "), "{r:?}");
    assert!(r.iter().any(|l| l.contains("fine")), "{r:?}");
    drop(imap);

    let mut stream = std::net::TcpStream::connect(server.addr("pop3")).expect("connect");
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
    let mut greeting = String::new();
    reader.read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("+OK"), "{greeting}");
    let r = pop3_cmd(&mut stream, &mut reader, "USER bob@example.com");
    assert!(r.starts_with("+OK"), "{r}");
    let r = pop3_cmd(&mut stream, &mut reader, &format!("PASS {PASSWORD}"));
    assert!(r.starts_with("+OK"), "the maildrop must open: {r}");
    let r = pop3_cmd(&mut stream, &mut reader, "STAT");
    assert!(r.starts_with("+OK 2 "), "{r}");
    let r = pop3_cmd(&mut stream, &mut reader, "RETR 2");
    assert!(r.starts_with("-ERR"), "{r}");
    let r = pop3_cmd(&mut stream, &mut reader, "QUIT");
    assert!(r.starts_with("+OK"), "{r}");
}
