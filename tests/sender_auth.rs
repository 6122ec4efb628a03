//! Sender authorization on submission, end to end over loopback: which MAIL FROM and From:
//! an authenticated user may use (own address, +tag, alias, administered domain, server
//! admin, the "may send as" list), 550 5.7.1 for the rest, and no DKIM signature with the
//! key of a hosted domain the user may not use. The rule itself is `mailauth::sender`.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Client, TestServer, PASSWORD};
use ferrymail::storage::QueueName;

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";
const DAVE: &str = "dave@b.example";

/// example.com (bob, alice, alias team@ -> bob+alice) from the common server, plus the
/// hosted domain b.example with dave, and root@example.com, a server admin.
fn server() -> TestServer {
    let server = TestServer::start_with("allow_plaintext_auth = true");
    let store = server.store();
    store.add_domain("b.example").unwrap();
    store.add_account(DAVE, PASSWORD, false).unwrap();
    store
        .add_account("root@example.com", PASSWORD, true)
        .unwrap();
    store
        .add_alias("info@example.com", "sales@example.com")
        .unwrap();
    store.add_alias("sales@example.com", BOB).unwrap();
    store.commit().unwrap();
    server
}

fn message(from: &str, extra: &str, subject: &str) -> String {
    format!(
        "From: <{from}>\r\n{extra}To: {ALICE}\r\nSubject: {subject}\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\nHi.\r\n"
    )
}

/// `user` submits to alice on the submission port: MAIL FROM `mail_from`, a message with
/// From: `from` (and the `extra` header lines). `Ok` after 250 to the data; otherwise the
/// reply that refused it.
fn submit(
    server: &TestServer,
    user: &str,
    mail_from: &str,
    from: &str,
    extra: &str,
) -> Result<(), String> {
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    let r = c.auth_plain(user, PASSWORD);
    assert!(r.starts_with("235"), "AUTH {user}: {r}");
    let r = c.cmd(&format!("MAIL FROM:<{mail_from}>"));
    if !r.starts_with("250") {
        return Err(r);
    }
    let r = c.cmd(&format!("RCPT TO:<{ALICE}>"));
    assert!(r.starts_with("250"), "RCPT: {r}");
    let r = c.data(&message(from, extra, &format!("{user}-{mail_from}-{from}")));
    if r.starts_with("250") {
        Ok(())
    } else {
        Err(r)
    }
}

#[track_caller]
fn refused(result: Result<(), String>, address: &str, user: &str) {
    let r = result.expect_err("expected a refusal");
    assert!(r.starts_with("550 5.7.1 "), "{r}");
    assert!(
        r.contains(&format!("<{address}>")) && r.contains(&format!("not owned by user {user}")),
        "the reason names the address and the user: {r}"
    );
}

#[test]
fn own_addresses_tags_aliases_and_admins_pass_the_rest_is_refused() {
    let server = server();
    let ok = |user: &str, mail_from: &str, from: &str| {
        submit(&server, user, mail_from, from, "")
            .unwrap_or_else(|r| panic!("{user} as {mail_from} / From: {from}: {r}"))
    };
    // Own address, +tag, an alias delivering to bob (and one through a chain), the null
    // reverse-path with his own From:.
    ok(BOB, BOB, BOB);
    ok(BOB, "bob+lists@example.com", "Bob+Lists@Example.com");
    ok(BOB, "team@example.com", "team@example.com");
    ok(BOB, "info@example.com", "info+x@example.com");
    ok(BOB, "", BOB);
    // A server admin may use any address, local or not.
    ok("root@example.com", DAVE, "someone@elsewhere.example");

    // Someone else's address: at MAIL FROM, and in From: at the end of DATA.
    refused(submit(&server, BOB, ALICE, BOB, ""), ALICE, BOB);
    refused(submit(&server, BOB, BOB, ALICE, ""), ALICE, BOB);
    refused(submit(&server, BOB, "", ALICE, ""), ALICE, BOB);
    refused(
        submit(&server, BOB, "someone@elsewhere.example", BOB, ""),
        "someone@elsewhere.example",
        BOB,
    );
    // Every From: address, and Sender:, must be his.
    refused(
        submit(&server, BOB, BOB, &format!("{BOB}>, <{ALICE}"), ""),
        ALICE,
        BOB,
    );
    refused(
        submit(&server, BOB, BOB, BOB, &format!("Sender: {ALICE}\r\n")),
        ALICE,
        BOB,
    );
    refused(
        submit(&server, BOB, BOB, BOB, &format!("From: {ALICE}\r\n")),
        ALICE,
        BOB,
    );

    // A domain administrator may use any address of the domain, and only of it.
    refused(submit(&server, ALICE, DAVE, DAVE, ""), DAVE, ALICE);
    let (done, out) = server.console("domainadmin add alice@example.com b.example");
    assert!(done, "{out}");
    ok(ALICE, DAVE, "new@b.example");
    refused(submit(&server, ALICE, BOB, BOB, ""), BOB, ALICE);

    // The "may send as" list relaxes the rule, for an address or a whole domain.
    refused(submit(&server, BOB, DAVE, DAVE, ""), DAVE, BOB);
    let (done, out) = server.console("sendas add bob@example.com dave@b.example");
    assert!(done, "{out}");
    ok(BOB, DAVE, DAVE);
    refused(
        submit(&server, BOB, "x@b.example", DAVE, ""),
        "x@b.example",
        BOB,
    );
    let (done, out) = server.console("sendas add bob@example.com @b.example");
    assert!(done, "{out}");
    ok(BOB, "x@b.example", "y@b.example");
    let (done, out) = server.console("sendas list bob@example.com");
    assert!(done && out.contains("@b.example, dave@b.example"), "{out}");
    for entry in ["dave@b.example", "@b.example"] {
        let (done, out) = server.console(&format!("sendas del bob@example.com {entry}"));
        assert!(done, "{out}");
    }
    refused(submit(&server, BOB, DAVE, DAVE, ""), DAVE, BOB);

    // Every accepted message arrived; none of the refused ones did.
    let inbox = server.wait_inbox(ALICE, 9);
    assert_eq!(inbox.len(), 9);
}

#[test]
fn bdat_from_header_is_checked_and_port_25_is_untouched() {
    let server = server();
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    assert!(c.auth_plain(BOB, PASSWORD).starts_with("235"));
    assert!(c.cmd(&format!("MAIL FROM:<{BOB}>")).starts_with("250"));
    assert!(c.cmd(&format!("RCPT TO:<{ALICE}>")).starts_with("250"));
    let body = message(ALICE, "", "bdat");
    c.send(&format!("BDAT {} LAST", body.len()));
    c.send_raw(body.as_bytes());
    let r = c.reply();
    assert!(
        r.starts_with("550 5.7.1 ") && r.contains("not owned by user bob@example.com"),
        "{r}"
    );

    // Mail from another server (port 25, no AUTH) claiming a local sender is not judged
    // by this rule (SPF/DKIM/DMARC are for that).
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(ALICE, &[BOB], &message(ALICE, "", "inbound"));
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(server.wait_inbox(BOB, 1).len(), 1);
    assert!(server.inbox(ALICE).is_empty());
}

/// Every stored body (blob files) that contains `needle`, as text.
fn blobs_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    let mut visited = 0;
    while let Some(d) = stack.pop() {
        visited += 1;
        assert!(visited < 10_000, "blob tree bigger than any test makes");
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(bytes) = std::fs::read(&path) {
                let text = String::from_utf8_lossy(&bytes);
                if text.contains(needle) {
                    found.push(text.into_owned());
                }
            }
        }
    }
    found
}

#[test]
fn another_hosted_domain_is_refused_and_never_signed_with_its_key() {
    let server = server();
    for domain in ["b.example", "example.com"] {
        let (done, out) = server.console(&format!("dkim generate {domain} --algorithm ed25519"));
        assert!(done, "{out}");
    }
    // bob of example.com tries to pass as dave of b.example, every way.
    refused(submit(&server, BOB, DAVE, DAVE, ""), DAVE, BOB);
    refused(submit(&server, BOB, BOB, DAVE, ""), DAVE, BOB);
    refused(submit(&server, BOB, "", DAVE, ""), DAVE, BOB);
    refused(
        submit(
            &server,
            BOB,
            BOB,
            "x@b.example",
            "Sender: <bob@example.com>\r\n",
        ),
        "x@b.example",
        BOB,
    );
    // His own mail is signed with his own domain's key.
    submit(&server, BOB, BOB, BOB, "").unwrap();
    let inbox = server.wait_inbox(ALICE, 1);
    assert_eq!(inbox.len(), 1);
    let stored = String::from_utf8_lossy(&inbox[0]).into_owned();
    assert!(stored.contains("DKIM-Signature: "), "{stored}");
    assert!(stored.contains("d=example.com"), "{stored}");

    // Nothing anywhere — queues, mailboxes, any stored body — carries b.example's signature.
    let blobs = server.data_dir().join("blobs");
    assert_eq!(blobs_containing(&blobs, "d=b.example").len(), 0);
    let store = server.store();
    for q in QueueName::ALL {
        for rec in store.queue_list(q).unwrap() {
            let body = store.blobs().get(&rec.blob).unwrap();
            assert!(!String::from_utf8_lossy(&body).contains("d=b.example"));
        }
    }

    // The key works: dave's own mail is signed with it (so the absence above means refusal).
    submit(&server, DAVE, DAVE, DAVE, "").unwrap();
    let inbox = server.wait_inbox(ALICE, 2);
    assert_eq!(inbox.len(), 2);
    let signed = blobs_containing(&blobs, "d=b.example");
    assert_eq!(signed.len(), 1, "only dave's message");
    assert!(
        signed[0].contains(&format!("From: <{DAVE}>")),
        "{}",
        signed[0]
    );
}

/// swaks, a real client, sees the 550 5.7.1 for someone else's address.
#[test]
fn swaks_submission_as_someone_else_gets_550() {
    assert!(
        Command::new("swaks").arg("--version").output().is_ok(),
        "swaks is not installed (.ci/run installs it: apt-get install swaks)"
    );
    let server = server();
    let sub = server.addr("submission");
    let out = Command::new("swaks")
        .args(["--server", "127.0.0.1", "--port", &sub.port().to_string()])
        .args([
            "--from",
            ALICE,
            "--to",
            ALICE,
            "--helo",
            "swaks.example.net",
        ])
        .args([
            "--auth",
            "PLAIN",
            "--auth-user",
            BOB,
            "--auth-password",
            PASSWORD,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "swaks must fail: {text}");
    assert!(text.contains("235 2.7.0"), "AUTH: {text}");
    assert!(
        text.contains("<** 550 5.7.1 <alice@example.com>: Sender address rejected: not owned by user bob@example.com"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.inbox(ALICE).is_empty());
}
