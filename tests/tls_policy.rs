//! Outbound TLS policy end to end, on loopback only: MTA-STS (RFC 8461) with a policy served
//! over HTTPS by a test CA's certificate, DANE (RFC 7672) with TLSA records from a test DNS
//! server that sets the AD bit, REQUIRETLS (RFC 8689), and the TLS-RPT (RFC 8460) counts.
//! remote.test → mx.remote.test → 127.0.0.1, the sink on the configured test port.

mod common;

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::ca::{self_signed, Issued, TestCa};
use common::dns::TestDns;
use common::https::PolicyServer;
use common::sink::Sink;
use common::{Client, TestServer, PASSWORD};
use ferrymail::clock::ManualClock;
use ferrymail::outbound::mta_sts::{self, StsState};
use ferrymail::outbound::tlsrpt::day_of;
use ferrymail::storage::{QueueName, Store, TlsPolicyCounts};
use rustls_pki_types::pem::PemObject;

const T0: i64 = 1_800_000_000;

fn policy(mode: &str, max_age: u64) -> String {
    format!("version: STSv1\r\nmode: {mode}\r\nmx: *.remote.test\r\nmax_age: {max_age}\r\n")
}

struct World {
    dns: TestDns,
    sink: Sink,
    https: Option<PolicyServer>,
    server: TestServer,
    _ca_dir: tempfile::TempDir,
}

/// DNS for remote.test, a sink offering STARTTLS with `mx_cert`, an MTA-STS policy server
/// (when `sts` is given, the policy text), and the server trusting the test CA.
fn world(ca: &TestCa, mx_cert: Option<Issued>, sts: Option<&str>, extra_dns: &str) -> World {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    let sink = Sink::start();
    if let Some(c) = mx_cert {
        sink.offer_starttls(c.chain, c.key);
    }
    let https = sts.map(|text| {
        dns.txt("_mta-sts.remote.test", "v=STSv1; id=1;");
        dns.a("mta-sts.remote.test", Ipv4Addr::LOCALHOST);
        PolicyServer::start(ca.issue(&["mta-sts.remote.test"]), text)
    });
    let ca_dir = tempfile::tempdir().expect("tempdir");
    let ca_pem = ca_dir.path().join("ca.pem");
    ca.write_pem(&ca_pem);
    let sections = format!(
        "{}{extra_dns}\n[delivery]\nport = {}\nhttps_port = {}\ntest_trust_roots = \"{}\"\n\
         connect_timeout = 5\ncommand_timeout = 20\n",
        dns.config(),
        sink.addr.port(),
        https.as_ref().map_or(443, |h| h.addr.port()),
        ca_pem.display()
    );
    let server = TestServer::start_full(
        "allow_plaintext_auth = true",
        &sections,
        Some(ManualClock::new(T0)),
    );
    World {
        dns,
        sink,
        https,
        server,
        _ca_dir: ca_dir,
    }
}

fn submit(server: &TestServer, to: &str, mail_params: &str) {
    use base64::Engine;
    let auth =
        base64::engine::general_purpose::STANDARD.encode(format!("\0bob@example.com\0{PASSWORD}"));
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    let r = c.cmd(&format!("AUTH PLAIN {auth}"));
    assert!(r.starts_with("235"), "{r}");
    let r = c.cmd(&format!("MAIL FROM:<bob@example.com>{mail_params}"));
    assert!(r.starts_with("250"), "{r}");
    let r = c.cmd(&format!("RCPT TO:<{to}>"));
    assert!(r.starts_with("250"), "{r}");
    let r = c.data(
        "From: Bob <bob@example.com>\r\nTo: carol@remote.test\r\nSubject: secret\r\n\
         Message-ID: <tls@example.com>\r\n\r\nThe plans.\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
}

/// A stored message as text, quoted-printable soft line breaks joined.
fn unfolded(msg: &[u8]) -> String {
    String::from_utf8_lossy(msg).replace("=\r\n", "")
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The TLS-RPT counts of remote.test today.
fn report(store: &Store) -> Vec<TlsPolicyCounts> {
    store
        .tlsrpt_list()
        .expect("tlsrpt")
        .into_iter()
        .filter(|(day, d, _)| *day == day_of(T0) && d == "remote.test")
        .flat_map(|(_, _, c)| c)
        .collect()
}

fn failures(counts: &[TlsPolicyCounts]) -> Vec<String> {
    counts
        .iter()
        .flat_map(|p| p.failures.iter().map(|f| f.result_type.clone()))
        .collect()
}

fn deferred_error(server: &TestServer) -> String {
    let recs = server
        .store()
        .queue_list(QueueName::Deferred)
        .expect("list");
    recs[0].recipients[0].last_error.clone().unwrap_or_default()
}

#[test]
fn enforce_with_a_wrong_certificate_defers_and_never_sends_in_the_clear() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(self_signed(&["wrong.example"])),
        Some(&policy("enforce", 86_400)),
        "",
    );
    submit(&w.server, "carol@remote.test", "");
    wait_for("the message deferred", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    assert!(w.sink.received().is_empty(), "nothing was sent");
    let err = deferred_error(&w.server);
    assert!(err.contains("TLS handshake failed"), "{err}");
    let counts = report(&w.server.store());
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert_eq!(counts[0].policy_type, "sts");
    assert_eq!(counts[0].success, 0);
    assert_eq!(failures(&counts), vec!["certificate-not-trusted"]);
    assert!(w.server.inbox("bob@example.com").is_empty(), "no bounce");
    assert_eq!(w.https.as_ref().map(PolicyServer::requests), Some(1));
}

#[test]
fn enforce_with_a_certificate_for_another_name_defers_as_host_mismatch() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(ca.issue(&["other.remote.test"])),
        Some(&policy("enforce", 86_400)),
        "",
    );
    submit(&w.server, "carol@remote.test", "");
    wait_for("the message deferred", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    assert!(w.sink.received().is_empty());
    assert_eq!(
        failures(&report(&w.server.store())),
        vec!["certificate-host-mismatch"]
    );
}

#[test]
fn enforce_without_starttls_defers() {
    let ca = TestCa::new();
    let w = world(&ca, None, Some(&policy("enforce", 86_400)), "");
    submit(&w.server, "carol@remote.test", "");
    wait_for("the message deferred", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    assert!(w.sink.received().is_empty(), "never in the clear");
    assert_eq!(
        failures(&report(&w.server.store())),
        vec!["starttls-not-supported"]
    );
}

#[test]
fn testing_mode_delivers_and_records_the_failure() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(self_signed(&["wrong.example"])),
        Some(&policy("testing", 86_400)),
        "",
    );
    submit(&w.server, "carol@remote.test", "");
    let got = w.sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "delivered anyway");
    assert!(got[0].tls, "still over (unauthenticated) TLS");
    wait_for("queues settle", || {
        w.server.queue_depth(QueueName::Remote) == 0
    });
    let counts = report(&w.server.store());
    assert_eq!(failures(&counts), vec!["certificate-not-trusted"]);
    assert_eq!(counts[0].success, 0);
    assert!(counts[0].policy_string.iter().any(|l| l == "mode: testing"));
}

#[test]
fn enforce_with_a_valid_certificate_delivers_and_passes_requiretls_on() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(ca.issue(&["mx.remote.test"])),
        Some(&policy("enforce", 86_400)),
        "",
    );
    w.sink.offer_requiretls(true);
    // REQUIRETLS asked for with the recipient tag, as MDaemon reads it.
    submit(&w.server, "carol+requiretls@remote.test", "");
    let got = w.sink.wait_accepted(1);
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].rcpts, vec!["carol@remote.test"], "tag removed");
    assert!(
        got[0].mail_line.ends_with(" REQUIRETLS"),
        "{}",
        got[0].mail_line
    );
    wait_for("queues settle", || {
        w.server.queue_depth(QueueName::Remote) == 0
    });
    let counts = report(&w.server.store());
    assert_eq!((counts[0].success, failures(&counts).len()), (1, 0));
}

#[test]
fn enforce_skips_mx_hosts_the_policy_does_not_list() {
    let ca = TestCa::new();
    let only_other = "version: STSv1\nmode: enforce\nmx: mx.elsewhere.test\nmax_age: 600\n";
    let w = world(
        &ca,
        Some(ca.issue(&["mx.remote.test"])),
        Some(only_other),
        "",
    );
    submit(&w.server, "carol@remote.test", "");
    wait_for("the message deferred", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    assert_eq!(
        w.sink.connections.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    let err = deferred_error(&w.server);
    assert!(
        err.contains("not an MX host of remote.test's MTA-STS policy"),
        "{err}"
    );
}

#[test]
fn requiretls_to_a_peer_without_starttls_bounces_with_the_reason() {
    let ca = TestCa::new();
    let w = world(&ca, None, None, "");
    submit(&w.server, "carol+requiretls@remote.test", "");
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    assert_eq!(inbox.len(), 1, "a bounce");
    let dsn = unfolded(&inbox[0]);
    assert!(dsn.contains("Status: 5.7.10"), "{dsn}");
    assert!(dsn.contains("offers no TLS"), "{dsn}");
    assert!(dsn.contains("REQUIRETLS"), "{dsn}");
    assert!(dsn.contains("text/rfc822-headers"), "headers only: {dsn}");
    assert!(!dsn.contains("The plans."), "no body returned");
    assert!(w.sink.received().is_empty(), "never in the clear");
    assert_eq!(w.server.queue_depth(QueueName::Deferred), 0);
}

#[test]
fn requiretls_over_unauthenticated_tls_bounces() {
    let ca = TestCa::new();
    let w = world(&ca, Some(self_signed(&["mx.remote.test"])), None, "");
    w.sink.offer_requiretls(true);
    submit(&w.server, "carol+RequireTLS@remote.test", "");
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    let dsn = unfolded(&inbox[0]);
    assert!(dsn.contains("Status: 5.7.10"), "{dsn}");
    assert!(
        dsn.contains("not authenticated by MTA-STS or DANE"),
        "{dsn}"
    );
    assert!(w.sink.received().is_empty());
}

#[test]
fn requiretls_to_a_peer_without_the_extension_bounces_5_7_30() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(ca.issue(&["mx.remote.test"])),
        Some(&policy("enforce", 86_400)),
        "",
    );
    submit(&w.server, "carol+requiretls@remote.test", "");
    let inbox = w.server.wait_inbox("bob@example.com", 1);
    let dsn = unfolded(&inbox[0]);
    assert!(dsn.contains("Status: 5.7.30"), "{dsn}");
    assert!(dsn.contains("REQUIRETLS support required"), "{dsn}");
    assert!(w.sink.received().is_empty());
}

#[test]
fn dane_ee_record_authenticates_a_self_signed_certificate_and_takes_precedence() {
    let ca = TestCa::new();
    let cert = self_signed(&["anything.example"]);
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&cert.spki).to_vec()
    };
    // An enforced MTA-STS policy would refuse this certificate; DANE decides for the host.
    let w = world(
        &ca,
        Some(cert),
        Some(&policy("enforce", 86_400)),
        "trust_ad = true\n",
    );
    let name = format!("_{}._tcp.mx.remote.test", w.sink.addr.port());
    w.dns.tlsa(&name, 3, 1, 1, digest);
    w.dns.set_authentic(true);
    w.sink.offer_requiretls(true);
    submit(&w.server, "carol+requiretls@remote.test", "");
    let got = w.sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "delivered under DANE");
    assert!(got[0].tls && got[0].mail_line.ends_with(" REQUIRETLS"));
    wait_for("queues settle", || {
        w.server.queue_depth(QueueName::Remote) == 0
    });
    let counts = report(&w.server.store());
    let tlsa: Vec<_> = counts.iter().filter(|p| p.policy_type == "tlsa").collect();
    assert_eq!(tlsa.len(), 1, "{counts:?}");
    assert_eq!(tlsa[0].success, 1);
}

#[test]
fn dane_mismatch_or_unsigned_answers() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(self_signed(&["mx.remote.test"])),
        None,
        "trust_ad = true\n",
    );
    let name = format!("_{}._tcp.mx.remote.test", w.sink.addr.port());
    w.dns.tlsa(&name, 3, 1, 1, vec![0u8; 32]);
    // Without the AD bit the records do not count: opportunistic delivery.
    submit(&w.server, "carol@remote.test", "");
    assert_eq!(w.sink.wait_accepted(1).len(), 1);
    wait_for("the first message settled", || {
        w.server.queue_depth(QueueName::Remote) == 0
    });
    // Signed and not matching: no delivery.
    w.dns.set_authentic(true);
    submit(&w.server, "carol@remote.test", "");
    wait_for("the message deferred", || {
        w.server.queue_depth(QueueName::Deferred) == 1
    });
    assert_eq!(w.sink.accepted().len(), 1);
    assert_eq!(
        failures(&report(&w.server.store())),
        vec!["validation-failure"]
    );
}

/// The policy cache (RFC 8461 §5.1): fetched once per TXT id while fresh, again when the id
/// changes or max_age has passed; kept while the TXT record is gone.
#[test]
fn policy_cache_honours_max_age_and_id_changes() {
    let ca = TestCa::new();
    let dns = TestDns::start();
    dns.txt("_mta-sts.remote.test", "v=STSv1; id=1;");
    dns.a("mta-sts.remote.test", Ipv4Addr::LOCALHOST);
    let https = PolicyServer::start(ca.issue(&["mta-sts.remote.test"]), &policy("testing", 600));
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(dir.path()).expect("store");
    let cfg = ferrymail::config::DnsConfig {
        nameservers: vec![dns.addr()],
        trust_ad: false,
    };
    let mut roots = rustls::RootCertStore::empty();
    let pem_dir = tempfile::tempdir().expect("tempdir");
    ca.write_pem(&pem_dir.path().join("ca.pem"));
    for c in
        rustls_pki_types::CertificateDer::pem_file_iter(pem_dir.path().join("ca.pem")).expect("pem")
    {
        roots.add(c.expect("cert")).expect("root");
    }
    let roots = Arc::new(roots);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // A fresh resolver each time: hickory's answer cache would hide the TXT changes.
    let current = |now: i64| {
        let resolver = ferrymail::outbound::dns::resolver(&cfg).expect("resolver");
        let cx = mta_sts::Lookup {
            resolver: &resolver,
            store: &store,
            roots: roots.clone(),
            https_port: https.addr.port(),
            now,
        };
        match rt.block_on(mta_sts::current(&cx, "remote.test")) {
            StsState::Policy {
                id, policy, cached, ..
            } => (id, policy.mode, cached),
            other => panic!("no policy: {other:?}"),
        }
    };
    use mta_sts::Mode::{Enforce, Testing};
    assert_eq!(current(T0), ("1".into(), Testing, false));
    assert_eq!(
        current(T0 + 10),
        ("1".into(), Testing, true),
        "same id: cached"
    );
    assert_eq!(https.requests(), 1);
    // A new id means a new policy.
    https.set_body(&policy("enforce", 600));
    dns.remove("_mta-sts.remote.test");
    dns.txt("_mta-sts.remote.test", "v=STSv1; id=2;");
    assert_eq!(current(T0 + 20), ("2".into(), Enforce, false));
    assert_eq!(https.requests(), 2);
    // The TXT record gone: the cached policy stays until it expires.
    dns.remove("_mta-sts.remote.test");
    assert_eq!(current(T0 + 30), ("2".into(), Enforce, true));
    assert_eq!(https.requests(), 2);
    // max_age (600 s) passed, TXT back with the same id: fetched again.
    dns.txt("_mta-sts.remote.test", "v=STSv1; id=2;");
    https.set_body(&policy("testing", 600));
    assert_eq!(current(T0 + 20 + 600), ("2".into(), Testing, false));
    assert_eq!(https.requests(), 3);
    // Expired and the TXT record gone: no policy.
    dns.remove("_mta-sts.remote.test");
    let resolver = ferrymail::outbound::dns::resolver(&cfg).expect("resolver");
    let cx = mta_sts::Lookup {
        resolver: &resolver,
        store: &store,
        roots: roots.clone(),
        https_port: https.addr.port(),
        now: T0 + 5000,
    };
    assert_eq!(
        rt.block_on(mta_sts::current(&cx, "remote.test")),
        StsState::None
    );
}

#[test]
fn console_shows_the_policy_and_tlsa_records() {
    let ca = TestCa::new();
    let w = world(
        &ca,
        Some(ca.issue(&["mx.remote.test"])),
        Some(&policy("enforce", 86_400)),
        "trust_ad = true\n",
    );
    w.dns.txt(
        "_smtp._tls.remote.test",
        "v=TLSRPTv1; rua=mailto:tls@remote.test",
    );
    let name = format!("_{}._tcp.mx.remote.test", w.sink.addr.port());
    w.dns.tlsa(&name, 3, 1, 1, vec![0xab; 32]);
    let (ok, out) = w.server.console("tls-policy show remote.test");
    assert!(ok, "{out}");
    assert!(
        out.contains("MTA-STS: mode Enforce, id 1, fetched now"),
        "{out}"
    );
    assert!(out.contains("  mx: *.remote.test"), "{out}");
    assert!(
        out.contains("MX 10 mx.remote.test (listed in the MTA-STS policy)"),
        "{out}"
    );
    assert!(out.contains("none validated (no DANE)"), "{out}");
    assert!(
        out.contains("TLS-RPT: reports to tls@remote.test (not sent"),
        "{out}"
    );
    let (_, again) = w.server.console("tls-policy show remote.test");
    assert!(again.contains("id 1, cached"), "{again}");
    let (ok, tlsa) = w.server.console(&format!("dns tlsa {name}"));
    assert!(ok, "{tlsa}");
    assert!(
        tlsa.contains(&format!("3 1 1 {}", "ab".repeat(32))),
        "{tlsa}"
    );
    assert!(tlsa.contains("not validated (no AD bit)"), "{tlsa}");
    w.dns.set_authentic(true);
    let (_, out) = w.server.console("tls-policy show remote.test");
    assert!(
        out.contains("(DNSSEC-validated, DANE applies): 3 1 1 abab"),
        "{out}"
    );
}

/// RFC 8460 §5.3: a finished day's counts become a report mail to the rua address, queued
/// through the inbound queue, and are then forgotten.
#[test]
fn daily_report_goes_to_the_rua_address() {
    use ferrymail::outbound::tlsrpt;
    use ferrymail::storage::TlsResult;
    let dns = TestDns::start();
    dns.txt(
        "_smtp._tls.remote.test",
        "v=TLSRPTv1; rua=mailto:tls@remote.test,https://r.remote.test/x",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, _) = Store::open(dir.path()).expect("store");
    let r = TlsResult {
        policy_type: "sts".into(),
        policy_string: vec!["version: STSv1".into(), "mode: testing".into()],
        mx_host: vec!["*.remote.test".into()],
        failure: tlsrpt::failure("certificate-expired", "mx.remote.test", "127.0.0.1", ""),
    };
    tlsrpt::record(&store, T0, "remote.test", &r);
    tlsrpt::record(
        &store,
        T0 + 1,
        "remote.test",
        &TlsResult { failure: None, ..r },
    );
    let cfg = ferrymail::config::DnsConfig {
        nameservers: vec![dns.addr()],
        trust_ad: false,
    };
    let resolver = ferrymail::outbound::dns::resolver(&cfg).expect("resolver");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The reports handed to the inbound queue (here: collected).
    let queued = std::sync::Mutex::new(Vec::new());
    let enqueue = |rec: ferrymail::storage::QueueRecord| {
        let id = rec.id;
        queued.lock().expect("lock").push(rec);
        async move { Ok(id) }
    };
    let send = |now| {
        rt.block_on(tlsrpt::send_due(
            &store,
            &resolver,
            "mx.example.com",
            now,
            true,
            enqueue,
        ))
    };
    assert!(
        send(T0 + 2).expect("send").is_empty(),
        "the day is not over"
    );
    let ids = send(T0 + 86_400).expect("send");
    assert_eq!(ids.len(), 1);
    let rec = queued.lock().expect("lock").pop().expect("queued");
    assert_eq!((rec.id, rec.queue), (ids[0], QueueName::Inbound));
    assert_eq!(rec.mail_from, "", "null reverse-path");
    assert_eq!(rec.recipients[0].address, "tls@remote.test");
    let body = unfolded(&store.blobs().get(&rec.blob).expect("body"));
    assert!(body.contains("TLS-Report-Domain: remote.test"), "{body}");
    assert!(
        body.contains("\"result-type\":\"certificate-expired\""),
        "{body}"
    );
    assert!(
        body.contains("\"total-successful-session-count\":1"),
        "{body}"
    );
    assert!(
        store.tlsrpt_list().expect("list").is_empty(),
        "sent counts are forgotten"
    );
}
