//! `/metrics` over a running server: a message sent over SMTP and delivered to a local
//! folder, one relayed to a remote server (a test DNS and SMTP sink on loopback), and a
//! failed IMAP login move the counters and the latency histograms that a scrape of the
//! server's own state shows (through the handler the admin listener mounts).

mod common;

use actix_web::test as web_test;
use actix_web::{web, App};
use common::dns::TestDns;
use common::sink::Sink;
use common::{message, Client, Imap, TestServer, PASSWORD};

/// One scrape of the running server's figures, through `http::metrics`'s handler.
fn scrape(server: &TestServer) -> String {
    let ctx = server.handle().ctx.clone();
    actix_rt::System::new().block_on(async move {
        let app = web_test::init_service(
            App::new()
                .app_data(web::Data::new(ctx))
                .configure(ferrymail::http::metrics::configure),
        )
        .await;
        let resp = web_test::call_service(
            &app,
            web_test::TestRequest::get().uri("/metrics").to_request(),
        )
        .await;
        assert!(resp.status().is_success(), "{}", resp.status());
        String::from_utf8(web_test::read_body(resp).await.to_vec()).expect("UTF-8")
    })
}

/// The value of the sample `key` (`name` or `name{labels}`); 0 when absent.
fn sample(text: &str, key: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            (k == key).then(|| v.parse::<f64>().expect("a number"))
        })
        .unwrap_or(0.0)
}

/// Scrapes until `done` holds (bounded: 200 tries, 50 ms apart); returns the last text.
fn scrape_until(server: &TestServer, done: impl Fn(&str) -> bool) -> String {
    let mut text = scrape(server);
    for _ in 0..200 {
        if done(&text) {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        text = scrape(server);
    }
    panic!("the figures never moved:\n{text}");
}

#[test]
fn a_delivered_message_and_a_failed_login_move_the_counters() {
    let server = TestServer::start();
    let before = scrape(&server);
    assert_eq!(sample(&before, "ferrymail_messages_received_total"), 0.0);
    assert_eq!(
        sample(&before, "ferrymail_local_delivery_seconds_count"),
        0.0
    );

    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "sender@example.net",
        &["bob@example.com"],
        &message("metrics"),
    );
    assert!(r.starts_with("250 "), "{r}");
    server.wait_inbox("bob@example.com", 1);
    let after = scrape_until(&server, |t| {
        sample(t, "ferrymail_messages_delivered_total") >= 1.0
            && sample(t, "ferrymail_local_delivery_seconds_count") >= 1.0
    });
    assert_eq!(sample(&after, "ferrymail_messages_received_total"), 1.0);
    assert_eq!(sample(&after, "ferrymail_messages_delivered_total"), 1.0);
    assert_eq!(
        sample(
            &after,
            "ferrymail_local_delivery_seconds_bucket{le=\"+Inf\"}"
        ),
        1.0
    );
    assert!(sample(&after, "ferrymail_connections_total") >= 1.0);

    let mut imap = Imap::connect(server.addr("imap"));
    let reply = imap.cmd("LOGIN bob@example.com wrong-password");
    assert!(
        reply.last().is_some_and(|l| l.contains(" NO ")),
        "{reply:?}"
    );
    let after = scrape_until(&server, |t| {
        sample(t, "ferrymail_auth_failures_total{protocol=\"imap\"}") >= 1.0
    });
    assert_eq!(
        sample(&after, "ferrymail_auth_failures_total{protocol=\"imap\"}"),
        1.0
    );
    assert_eq!(
        sample(&after, "ferrymail_auth_failures_total{protocol=\"smtp\"}"),
        0.0
    );
}

#[test]
fn a_remote_acceptance_moves_the_sent_counter_and_its_histogram() {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", std::net::Ipv4Addr::LOCALHOST);
    let sink = Sink::start();
    let sections = format!(
        "{}\n[delivery]\nport = {}\nconnect_timeout = 5\ncommand_timeout = 20\n",
        dns.config(),
        sink.addr.port()
    );
    let server = TestServer::start_full("allow_plaintext_auth = true", &sections, None);
    let mut c = Client::connect(server.addr("submission"));
    c.cmd("EHLO client.example.net");
    let r = c.auth_plain("bob@example.com", PASSWORD);
    assert!(r.starts_with("235"), "{r}");
    for line in ["MAIL FROM:<bob@example.com>", "RCPT TO:<carol@remote.test>"] {
        let r = c.cmd(line);
        assert!(r.starts_with("250"), "{line}: {r}");
    }
    let r = c.data(
        "From: Bob <bob@example.com>\r\nTo: carol@remote.test\r\nSubject: out\r\n\
         Message-ID: <out@example.com>\r\n\r\nHello.\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    assert_eq!(sink.wait_accepted(1).len(), 1);
    let after = scrape_until(&server, |t| {
        sample(t, "ferrymail_remote_delivery_seconds_count") >= 1.0
    });
    assert_eq!(sample(&after, "ferrymail_messages_sent_total"), 1.0);
    assert_eq!(
        sample(&after, "ferrymail_remote_delivery_seconds_count"),
        1.0
    );
    assert_eq!(sample(&after, "ferrymail_messages_delivered_total"), 0.0);
    drop(dns);
}

/// Sessions are labelled with the `[listeners]` names: a connection to `smtps` (waiting in
/// its TLS handshake) is an `smtps` session, and a scrape over the admin listener is an
/// `admin` session while it is answered; every listener's series is there, none under
/// another name.
#[test]
fn sessions_are_labelled_with_the_listener_names() {
    let server = TestServer::start();
    let smtps = std::net::TcpStream::connect(server.addr("smtps")).expect("connect smtps");
    let text = scrape_until(&server, |t| {
        sample(t, "ferrymail_sessions_open{service=\"smtps\"}") == 1.0
    });
    assert!(!text.contains("submissions"), "{text}");
    for name in ferrymail::http::metrics::SESSION_SERVICES {
        let key = format!("ferrymail_sessions_open{{service=\"{name}\"}}");
        assert!(text.contains(&format!("{key} ")), "{key} missing:\n{text}");
    }
    drop(smtps);
    scrape_until(&server, |t| {
        sample(t, "ferrymail_sessions_open{service=\"smtps\"}") == 0.0
    });

    // Over the admin listener itself, the scrape is the one open `admin` session.
    let r = common::http::get(server.addr("admin"), true, "/metrics");
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    assert_eq!(
        sample(&text, "ferrymail_sessions_open{service=\"admin\"}"),
        1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "ferrymail_sessions_open{service=\"https\"}"),
        0.0
    );
}
