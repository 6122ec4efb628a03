//! Mail authentication end to end, on loopback only: a DNS responder on 127.0.0.1 serves the
//! SPF, DKIM and DMARC records; one Ferrymail instance signs what an authenticated user
//! submits, a second one checks it on port 25 and records the results in the stored message.

mod common;

use std::time::{Duration, Instant};

use common::dns::TestDns;
use common::{Client, TestServer, PASSWORD};
use ferrymail::storage::{QueueName, Store};

const RECEIVER: &str = "receiver.example";
const CAROL: &str = "carol@receiver.example";

/// A server that checks mail (its resolver is `dns`), with receiver.example and carol;
/// `extra_auth` lines go into `[auth]`. Plaintext AUTH is allowed (no TLS in these tests).
fn receiver(dns: &TestDns, extra_auth: &str) -> TestServer {
    // Loopback is trusted by default; these tests check mail that comes from there.
    let trusted = if extra_auth.contains("trusted_networks") {
        ""
    } else {
        "trusted_networks = []\n"
    };
    let tail = format!(
        "[dns]\nnameservers = [\"{}\"]\n[auth]\nverify = true\ndns_timeout = 1\nverify_timeout = 5\n{trusted}{extra_auth}\n",
        dns.addr()
    );
    let server = TestServer::start_full("allow_plaintext_auth = true", &tail, None);
    let store = server.store();
    store.add_domain(RECEIVER).unwrap();
    store.add_account(CAROL, PASSWORD, false).unwrap();
    store.commit().unwrap();
    server
}

fn folder_of(store: &Store, account: &str, folder: &str) -> Vec<String> {
    let Some(id) = store.folder_id(account, folder).unwrap() else {
        return Vec::new();
    };
    store
        .list_messages(id)
        .unwrap()
        .iter()
        .map(|m| String::from_utf8_lossy(&store.blobs().get(&m.blob).unwrap()).into_owned())
        .collect()
}

/// Waits (bounded) until `folder` of `account` holds `n` messages.
fn wait_folder(server: &TestServer, account: &str, folder: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = folder_of(&server.store(), account, folder);
        if got.len() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn base64_plain(user: &str, pass: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{pass}"))
}

/// Bob sends `message` to carol on submission, after AUTH; the final reply.
fn submit_as_bob(server: &TestServer, message: &str) -> String {
    let mut s = Client::connect(server.addr("submission"));
    s.cmd("EHLO client.example.net");
    let r = s.cmd(&format!(
        "AUTH PLAIN {}",
        base64_plain("bob@example.com", PASSWORD)
    ));
    assert!(r.starts_with("235"), "{r}");
    assert!(s.cmd("MAIL FROM:<bob@example.com>").starts_with("250"));
    assert!(s.cmd(&format!("RCPT TO:<{CAROL}>")).starts_with("250"));
    s.data(message)
}

/// [`submit_as_bob`] to a server where carol is remote; returns the stored content of the
/// new record, found in the remote queue or, once a delivery attempt has failed (the
/// sender's DNS knows no receiver.example), in the deferred queue.
fn submit(sender: &TestServer, message: &str) -> String {
    let store = sender.store();
    let outgoing = || {
        let mut recs = store.queue_list(QueueName::Remote).unwrap();
        recs.extend(store.queue_list(QueueName::Deferred).unwrap());
        recs
    };
    let before: Vec<u64> = outgoing().iter().map(|r| r.id).collect();
    let r = submit_as_bob(sender, message);
    assert!(r.starts_with("250"), "{r}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(rec) = outgoing().into_iter().find(|r| !before.contains(&r.id)) {
            return String::from_utf8(store.blobs().get(&rec.blob).unwrap()).unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "nothing reached the remote or deferred queue"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `content` to `server`'s port 25; returns the final reply.
fn relay(server: &TestServer, from: &str, content: &str) -> String {
    let mut c = Client::connect(server.addr("smtp"));
    c.deliver(from, &[CAROL], content)
}

fn message(from: &str, subject: &str) -> String {
    format!(
        "From: Sender <{from}>\r\nTo: {CAROL}\r\nSubject: {subject}\r\n\
         Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject}@test>\r\n\r\n\
         Hello Carol.\r\n.leading dot\r\n"
    )
}

/// The Authentication-Results header at the top of a stored message, unfolded.
fn auth_results(stored: &str) -> String {
    assert!(
        stored.starts_with("Authentication-Results: mx.example.com;"),
        "no Authentication-Results on top: {stored}"
    );
    let end = stored.find("\r\nReceived:").unwrap_or(stored.len());
    stored[..end].replace("\r\n\t", " ")
}

#[test]
fn signed_by_one_instance_verifies_at_the_other() {
    let dns = TestDns::start();
    dns.txt("example.com", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("_dmarc.example.com", "v=DMARC1; p=reject");
    let sender = TestServer::start_with("allow_plaintext_auth = true");
    let receiver = receiver(&dns, "");

    for (algorithm, name) in [("ed25519", "ed25519-sha256"), ("rsa", "rsa-sha256")] {
        // Online, through control.sock; the DNS record printed is what we publish.
        let (ok, out) = sender.console(&format!(
            "dkim generate example.com --algorithm {algorithm} --selector {algorithm}"
        ));
        assert!(ok, "{out}");
        let record = out.lines().last().unwrap();
        let (dns_name, txt) = record.split_once(" TXT ").unwrap();
        dns.txt(dns_name, &txt.replace("\" \"", "").replace('"', ""));
        let (ok, out) = sender.console(&format!("dkim activate example.com {algorithm}"));
        assert!(ok, "{out}");

        let stored = submit(&sender, &message("bob@example.com", algorithm));
        assert!(stored.contains(&format!("a={name}")), "signed: {stored}");
        assert!(stored.contains(&format!("s={algorithm}")), "{stored}");
        let n = folder_of(&receiver.store(), CAROL, "INBOX").len();
        let r = relay(&receiver, "bob@example.com", &stored);
        assert!(r.starts_with("250"), "{r}");
        let inbox = wait_folder(&receiver, CAROL, "INBOX", n + 1);
        let ar = auth_results(&inbox[n]);
        assert!(
            ar.contains(&format!(
                "dkim=pass header.d=example.com header.s={algorithm}"
            )),
            "{ar}"
        );
        assert!(
            ar.contains("spf=pass smtp.mailfrom=bob@example.com"),
            "{ar}"
        );
        assert!(
            ar.contains("dmarc=pass (p=reject) header.from=example.com"),
            "{ar}"
        );
        assert!(inbox[n].ends_with("Hello Carol.\r\n.leading dot\r\n"));

        // Tampered in transit: the signature fails (SPF still passes and aligns).
        let tampered = stored.replace("Hello Carol.", "Hello Mallory.");
        let r = relay(&receiver, "bob@example.com", &tampered);
        assert!(r.starts_with("250"), "{r}");
        let inbox = wait_folder(&receiver, CAROL, "INBOX", n + 2);
        let ar = auth_results(&inbox[n + 1]);
        assert!(ar.contains("dkim=fail"), "{ar}");
        assert!(!ar.contains("dkim=pass"), "{ar}");
    }
}

#[test]
fn spf_results_and_dmarc_policies_on_port_25() {
    let dns = TestDns::start();
    dns.txt("pass.example", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("soft.example", "v=spf1 ip4:192.0.2.1 ~all");
    dns.txt("hard.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("strict.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.strict.example", "v=DMARC1; p=reject");
    dns.txt("lax.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.lax.example", "v=DMARC1; p=quarantine");
    let server = receiver(&dns, "");

    for (i, (domain, want)) in [
        ("pass.example", "spf=pass"),
        ("soft.example", "spf=softfail"),
        ("hard.example", "spf=fail"),
    ]
    .into_iter()
    .enumerate()
    {
        let from = format!("someone@{domain}");
        let r = relay(&server, &from, &message(&from, domain));
        assert!(r.starts_with("250"), "{domain}: {r}");
        let inbox = wait_folder(&server, CAROL, "INBOX", i + 1);
        let ar = auth_results(&inbox[i]);
        assert!(ar.contains(&format!("{want} smtp.mailfrom={from}")), "{ar}");
        assert!(ar.contains("dkim=none"), "{ar}");
        assert!(ar.contains("dmarc=none"), "{ar}");
    }

    // p=reject, SPF fails, no signature: refused at the end of DATA.
    let r = relay(
        &server,
        "boss@strict.example",
        &message("boss@strict.example", "reject"),
    );
    assert!(r.starts_with("550 5.7.1 "), "{r}");
    assert!(r.contains("strict.example"), "{r}");

    // p=quarantine: accepted, delivered to Junk, not INBOX.
    let r = relay(
        &server,
        "news@lax.example",
        &message("news@lax.example", "quarantine"),
    );
    assert!(r.starts_with("250"), "{r}");
    let junk = wait_folder(&server, CAROL, "Junk", 1);
    assert_eq!(junk.len(), 1, "quarantined message in Junk");
    let ar = auth_results(&junk[0]);
    assert!(
        ar.contains("dmarc=fail (p=quarantine) header.from=lax.example"),
        "{ar}"
    );
    assert_eq!(folder_of(&server.store(), CAROL, "INBOX").len(), 3);

    // A forged Authentication-Results with our name is removed; the real one is on top.
    let forged = format!(
        "Authentication-Results: mx.example.com; dkim=pass header.d=bank.example\r\n{}",
        message("someone@pass.example", "forged")
    );
    let r = relay(&server, "someone@pass.example", &forged);
    assert!(r.starts_with("250"), "{r}");
    let inbox = wait_folder(&server, CAROL, "INBOX", 4);
    assert_eq!(
        inbox[3].matches("Authentication-Results:").count(),
        1,
        "{}",
        inbox[3]
    );
    assert!(!inbox[3].contains("bank.example"), "{}", inbox[3]);
}

#[test]
fn dmarc_policy_off_only_records_and_a_dead_dns_gives_temperror() {
    let dns = TestDns::start();
    dns.txt("strict.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.strict.example", "v=DMARC1; p=reject");
    dns.set_silent("silent.example");
    dns.set_silent("_dmarc.silent.example");
    dns.set_silent("client.example.net");
    let server = receiver(&dns, "dmarc_policy = \"off\"");

    let r = relay(
        &server,
        "boss@strict.example",
        &message("boss@strict.example", "recorded"),
    );
    assert!(r.starts_with("250"), "{r}");
    let inbox = wait_folder(&server, CAROL, "INBOX", 1);
    assert!(auth_results(&inbox[0]).contains("dmarc=fail (p=reject)"));

    // Nobody answers: the session does not hang; the checks are temperror and mail flows.
    let started = Instant::now();
    let r = relay(
        &server,
        "x@silent.example",
        &message("x@silent.example", "silent"),
    );
    assert!(r.starts_with("250"), "{r}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let inbox = wait_folder(&server, CAROL, "INBOX", 2);
    let ar = auth_results(&inbox[1]);
    assert!(
        ar.contains("spf=temperror smtp.mailfrom=x@silent.example"),
        "{ar}"
    );
    assert!(ar.contains("dmarc=temperror"), "{ar}");
}

#[test]
fn authenticated_submission_is_signed_not_checked() {
    let dns = TestDns::start();
    let server = receiver(&dns, "");
    let (ok, out) = server.console("dkim generate example.com --algorithm ed25519");
    assert!(ok, "{out}");
    // Local recipient: no Authentication-Results (our own user), but the DKIM signature. A
    // field claiming our name that the user wrote is removed (it would pass as our verdict).
    let forged = format!(
        "Authentication-Results: mx.example.com; dmarc=pass\r\n{}",
        message("bob@example.com", "local")
    );
    let r = submit_as_bob(&server, &forged);
    assert!(r.starts_with("250"), "{r}");
    let inbox = wait_folder(&server, CAROL, "INBOX", 1);
    assert_eq!(inbox.len(), 1);
    assert!(
        !inbox[0].contains("Authentication-Results:"),
        "{}",
        inbox[0]
    );
    assert!(inbox[0].contains("DKIM-Signature: "), "{}", inbox[0]);
}

#[test]
fn mail_from_trusted_networks_is_not_checked() {
    let dns = TestDns::start();
    dns.txt("strict.example", "v=spf1 ip4:192.0.2.1 -all");
    dns.txt("_dmarc.strict.example", "v=DMARC1; p=reject");
    let server = receiver(&dns, "trusted_networks = [\"127.0.0.0/8\", \"::1\"]");
    // From an untrusted address this would be refused (DMARC p=reject, see above).
    // A field claiming our name is removed even though the message is not checked.
    let r = relay(
        &server,
        "boss@strict.example",
        &format!(
            "Authentication-Results: mx.example.com; dmarc=pass\r\n{}",
            message("boss@strict.example", "local script")
        ),
    );
    assert!(r.starts_with("250"), "{r}");
    let inbox = wait_folder(&server, CAROL, "INBOX", 1);
    assert!(
        !inbox[0].contains("Authentication-Results:"),
        "no checks, no header: {}",
        inbox[0]
    );
}
