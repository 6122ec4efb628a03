//! Received header and RFC 5322 dates.

use std::net::{IpAddr, Ipv6Addr};

use crate::protocols::smtp::{received_header, rfc5322_date, BodyType, Envelope, Recipient};

fn envelope(rcpts: &[&str]) -> Envelope {
    Envelope {
        mail_from: "a@example.org".into(),
        recipients: rcpts
            .iter()
            .map(|r| Recipient {
                address: r.to_string(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        body: Vec::new(),
        size_declared: None,
        body_type: BodyType::SevenBit,
        smtputf8: false,
        ret: None,
        envid: None,
        requiretls: false,
        auth_as: None,
        helo: "client.example.org".into(),
        tls: true,
        peer: super::peer(),
        protocol: "ESMTPS",
    }
}

#[test]
fn received_with_one_recipient() {
    let date = rfc5322_date(1_795_305_600);
    assert_eq!(date, "Sun, 22 Nov 2026 00:00:00 +0000");
    assert_eq!(
        received_header(
            &envelope(&["bob@example.com"]),
            "mx.example.com",
            "Q1",
            &date
        ),
        "Received: from client.example.org (192.0.2.7 [192.0.2.7])\r\n\
         \tby mx.example.com (Ferrymail) with ESMTPS id Q1\r\n\
         \tfor <bob@example.com>; Sun, 22 Nov 2026 00:00:00 +0000\r\n"
    );
}

#[test]
fn received_without_for_and_folded() {
    let mut env = envelope(&["a@example.com", "b@example.com"]);
    env.peer.ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    env.helo = format!("{}.example.org", "h".repeat(60));
    let h = received_header(
        &env,
        "mx.example.com",
        "Q2",
        "Thu, 01 Jan 1970 00:00:00 +0000",
    );
    assert!(!h.contains("for <"));
    assert!(h.contains("[IPv6:2001:db8::1])"));
    assert!(
        h.ends_with("id Q2;\r\n\tThu, 01 Jan 1970 00:00:00 +0000\r\n")
            || h.ends_with("id Q2; Thu, 01 Jan 1970 00:00:00 +0000\r\n"),
        "{h}"
    );
    for line in h.split("\r\n") {
        assert!(line.chars().count() <= 78, "{line:?} too long in\n{h}");
    }
    // Continuation lines start with whitespace; no value can inject a line.
    env.helo = "evil\r\nX-Injected: 1".into();
    let h = received_header(&env, "mx.example.com", "Q\n3", "date");
    assert_eq!(h.matches("\r\n").count(), h.matches("\r\n\t").count() + 1);
    assert!(!h.contains("\r\nX-"));
}

#[test]
fn dates() {
    let cases = [
        (0, "Thu, 01 Jan 1970 00:00:00 +0000"),
        (-1, "Wed, 31 Dec 1969 23:59:59 +0000"),
        (951_782_400, "Tue, 29 Feb 2000 00:00:00 +0000"),
        (1_234_567_890, "Fri, 13 Feb 2009 23:31:30 +0000"),
        (2_147_483_647, "Tue, 19 Jan 2038 03:14:07 +0000"),
        (4_102_444_800, "Fri, 01 Jan 2100 00:00:00 +0000"),
        (1_709_210_096, "Thu, 29 Feb 2024 12:34:56 +0000"),
    ];
    for (secs, want) in cases {
        assert_eq!(rfc5322_date(secs), want, "{secs}");
    }
    // Extremes do not panic.
    rfc5322_date(i64::MIN);
    rfc5322_date(i64::MAX);
}
