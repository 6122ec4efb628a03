//! Client codec tables: each conversation is replayed with the peer's replies fed whole, one
//! byte at a time, and split in two at every byte of every reply; the client's output and
//! results must be the same every time.

use super::*;
use crate::protocols::smtp::data::{BodyBuf, DotDecoder};

fn config(tls: TlsMode, credentials: bool, plaintext_auth: bool) -> ClientConfig {
    ClientConfig {
        ehlo_name: "out.example.com".into(),
        tls,
        tls_active: false,
        credentials: credentials.then(|| Credentials {
            user: "bob".into(),
            password: "secret".into(),
        }),
        allow_plaintext_auth: plaintext_auth,
    }
}

fn msg(rcpts: &[&str], content: &str) -> OutgoingMessage {
    OutgoingMessage {
        mail_from: "alice@example.com".into(),
        recipients: rcpts
            .iter()
            .map(|r| OutgoingRecipient {
                address: r.to_string(),
                notify: None,
                orcpt: None,
            })
            .collect(),
        content: content.as_bytes().to_vec(),
        eight_bit: false,
        needs_smtputf8: false,
        ret: None,
        envid: None,
        requiretls: false,
    }
}

/// What a conversation produced.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    sent: String,
    /// Per message: (outcome, code, status) per recipient.
    results: Vec<Vec<(Outcome, u16, Option<String>)>>,
    /// "closed", "failed <code>", or "open".
    end: String,
}

/// Cuts reply number `n` into the pieces it is fed in.
type Splitter<'a> = &'a dyn Fn(usize, &[u8]) -> Vec<Vec<u8>>;

/// Plays `replies` (one element = what the peer sends after the client's last output) to a
/// client that sends `msgs` in turn and then QUITs. `split` cuts each reply into pieces.
fn play(
    cfg: &ClientConfig,
    msgs: &[OutgoingMessage],
    replies: &[&str],
    split: Splitter,
) -> Transcript {
    let mut c = Client::new(cfg.clone());
    let mut t = Transcript {
        sent: String::new(),
        results: Vec::new(),
        end: "open".into(),
    };
    let mut next = 0;
    let mut pending: VecDeque<Event> = VecDeque::new();
    for (n, reply) in replies.iter().enumerate() {
        for piece in split(n, reply.as_bytes()) {
            pending.extend(c.receive(&piece));
            while let Some(ev) = pending.pop_front() {
                match ev {
                    Event::Send(b) => t.sent.push_str(&String::from_utf8_lossy(&b)),
                    Event::StartTls => pending.extend(c.tls_established()),
                    Event::Ready => match msgs.get(next) {
                        Some(m) => {
                            next += 1;
                            pending.extend(c.send_message(m.clone()));
                        }
                        None => pending.extend(c.quit()),
                    },
                    Event::Delivered(r) => t.results.push(
                        r.into_iter()
                            .map(|x| (x.outcome, x.reply.code, x.reply.status))
                            .collect(),
                    ),
                    Event::Failed(r) => t.end = format!("failed {}", r.one_line()),
                    Event::Closed => t.end = "closed".into(),
                }
            }
        }
    }
    t
}

/// Replays the case in every split and checks they all agree with `expected`.
fn check(
    name: &str,
    cfg: &ClientConfig,
    msgs: &[OutgoingMessage],
    replies: &[&str],
    expected: &Transcript,
) {
    let whole = play(cfg, msgs, replies, &|_, b| vec![b.to_vec()]);
    assert_eq!(&whole, expected, "{name}: fed whole");
    let bytes = play(cfg, msgs, replies, &|_, b| {
        b.iter().map(|x| vec![*x]).collect()
    });
    assert_eq!(&bytes, expected, "{name}: fed byte by byte");
    for (n, r) in replies.iter().enumerate() {
        for k in 0..=r.len() {
            let got = play(cfg, msgs, replies, &|i, b| {
                if i == n {
                    vec![b[..k].to_vec(), b[k..].to_vec()]
                } else {
                    vec![b.to_vec()]
                }
            });
            assert_eq!(&got, expected, "{name}: reply {n} split at {k}");
        }
    }
}

fn res(list: &[(Outcome, u16, Option<&str>)]) -> Vec<(Outcome, u16, Option<String>)> {
    list.iter()
        .map(|(o, c, s)| (*o, *c, s.map(str::to_string)))
        .collect()
}

use Outcome::{Delivered as Ok_, Permanent as Perm, Temporary as Temp};

#[test]
fn pipelined_delivery_with_dsn_parameters_and_partial_failure() {
    let mut m = msg(
        &["b@y.test", "c@y.test"],
        "Subject: hi\r\n\r\n.dot\r\nend\r\n",
    );
    m.ret = Some(DsnRet::Hdrs);
    m.envid = Some("id+1".into());
    m.recipients[0].notify = Some(vec![DsnNotify::Success, DsnNotify::Failure]);
    m.recipients[0].orcpt = Some("rfc822;b=x@y.test".into());
    let replies = [
        "220 mx.y.test ESMTP\r\n",
        "250-mx.y.test hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-DSN\r\n250 ENHANCEDSTATUSCODES\r\n",
        "250 2.1.0 ok\r\n250 2.1.5 ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n",
        "250 2.0.0 queued as 1\r\n",
        "221 2.0.0 bye\r\n",
    ];
    let expected = Transcript {
        sent: [
            "EHLO out.example.com\r\n",
            "MAIL FROM:<alice@example.com> SIZE=26 RET=HDRS ENVID=id+2B1\r\n",
            "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;b+3Dx@y.test\r\n",
            "RCPT TO:<c@y.test>\r\n",
            "DATA\r\n",
            "Subject: hi\r\n\r\n..dot\r\nend\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[
            (Ok_, 250, Some("2.0.0")),
            (Perm, 550, Some("5.1.1")),
        ])],
        end: "closed".into(),
    };
    check(
        "pipelined",
        &config(TlsMode::Off, false, false),
        &[m],
        &replies,
        &expected,
    );
}

#[test]
fn helo_fallback_without_pipelining_sends_one_command_at_a_time() {
    let mut m = msg(&["b@y.test"], "x");
    // Not passed on: the peer has no DSN extension.
    m.ret = Some(DsnRet::Full);
    let replies = [
        "220 old.y.test\r\n",
        "502 5.5.2 command not recognized\r\n",
        "250 old.y.test\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354\r\n",
        "451 4.3.0 try later\r\n",
        "221\r\n",
    ];
    let expected = Transcript {
        sent: [
            "EHLO out.example.com\r\n",
            "HELO out.example.com\r\n",
            "MAIL FROM:<alice@example.com>\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            "x\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[(Temp, 451, Some("4.3.0"))])],
        end: "closed".into(),
    };
    check(
        "helo",
        &config(TlsMode::Opportunistic, false, false),
        &[m],
        &replies,
        &expected,
    );
}

#[test]
fn starttls_then_ehlo_again_then_auth_plain() {
    let replies = [
        "220 relay.test\r\n",
        "250-relay.test\r\n250-STARTTLS\r\n250 AUTH LOGIN\r\n",
        "220 2.0.0 ready\r\n",
        // After TLS the peer offers different extensions: only these count.
        "250-relay.test\r\n250-AUTH PLAIN LOGIN\r\n250 PIPELINING\r\n",
        "235 2.7.0 ok\r\n",
        "250 ok\r\n250 ok\r\n354 go\r\n",
        "250 ok\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: [
            "EHLO out.example.com\r\n",
            "STARTTLS\r\n",
            "EHLO out.example.com\r\n",
            "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n",
            "MAIL FROM:<alice@example.com>\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            "x\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[(Ok_, 250, None)])],
        end: "closed".into(),
    };
    check(
        "starttls",
        &config(TlsMode::Opportunistic, true, false),
        &[msg(&["b@y.test"], "x")],
        &replies,
        &expected,
    );
}

#[test]
fn auth_login_when_plain_is_not_offered() {
    let replies = [
        "220 relay.test\r\n",
        "250-relay.test\r\n250 AUTH=LOGIN\r\n",
        "334 VXNlcm5hbWU6\r\n",
        "334 UGFzc3dvcmQ6\r\n",
        "235 2.7.0 ok\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nAUTH LOGIN\r\nYm9i\r\nc2VjcmV0\r\nQUIT\r\n".into(),
        results: vec![],
        end: "closed".into(),
    };
    check(
        "login",
        &config(TlsMode::Off, true, true),
        &[],
        &replies,
        &expected,
    );
}

#[test]
fn failed_auth_ends_the_session() {
    let replies = [
        "220 relay.test\r\n",
        "250-relay.test\r\n250 AUTH PLAIN\r\n",
        "535 5.7.8 bad credentials\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nAUTH PLAIN AGJvYgBzZWNyZXQ=\r\n".into(),
        results: vec![],
        end: "failed 535 5.7.8 bad credentials".into(),
    };
    check(
        "auth fail",
        &config(TlsMode::Off, true, true),
        &[msg(&["b@y.test"], "x")],
        &replies,
        &expected,
    );
}

#[test]
fn credentials_are_not_sent_in_the_clear() {
    let replies = [
        "220 relay.test\r\n",
        "250-relay.test\r\n250 AUTH PLAIN\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nQUIT\r\n".into(),
        results: vec![],
        end: "closed".into(),
    };
    check(
        "no plaintext auth",
        &config(TlsMode::Opportunistic, true, false),
        &[],
        &replies,
        &expected,
    );
}

#[test]
fn refusals_decided_before_sending() {
    let big = msg(&["b@y.test"], "0123456789012345678901234567890");
    let mut utf8 = msg(&["b@y.test"], "x");
    utf8.needs_smtputf8 = true;
    let mut eight = msg(&["b@y.test"], "caf\u{e9}");
    eight.eight_bit = true;
    let replies = ["220 mx\r\n", "250-mx\r\n250 SIZE 20\r\n", "221 bye\r\n"];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nQUIT\r\n".into(),
        results: vec![
            res(&[(Perm, 552, Some("5.3.4"))]),
            res(&[(Perm, 553, Some("5.6.7"))]),
            res(&[(Perm, 554, Some("5.6.3"))]),
        ],
        end: "closed".into(),
    };
    check(
        "refusals",
        &config(TlsMode::Off, false, false),
        &[big, utf8, eight],
        &replies,
        &expected,
    );
}

#[test]
fn smtputf8_and_8bitmime_are_declared_when_offered() {
    let mut m = msg(&["j\u{f6}rg@y.test"], "caf\u{e9}\r\n");
    m.eight_bit = true;
    m.needs_smtputf8 = true;
    let replies = [
        "220 mx\r\n",
        "250-mx\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
        "250 ok\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: [
            "EHLO out.example.com\r\n",
            "MAIL FROM:<alice@example.com> SIZE=7 BODY=8BITMIME SMTPUTF8\r\n",
            "RCPT TO:<j\u{f6}rg@y.test>\r\n",
            "DATA\r\n",
            "caf\u{e9}\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[(Ok_, 250, None)])],
        end: "closed".into(),
    };
    check(
        "utf8",
        &config(TlsMode::Off, false, false),
        &[m],
        &replies,
        &expected,
    );
}

#[test]
fn refused_sender_fails_every_recipient_without_rset() {
    let replies = [
        "220 mx\r\n",
        "250-mx\r\n250 PIPELINING\r\n",
        "550 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\nQUIT\r\n".into(),
        results: vec![res(&[
            (Perm, 550, Some("5.7.1")),
            (Perm, 550, Some("5.7.1")),
        ])],
        end: "closed".into(),
    };
    check(
        "mail refused",
        &config(TlsMode::Off, false, false),
        &[msg(&["b@y.test", "c@y.test"], "x")],
        &replies,
        &expected,
    );
}

#[test]
fn data_accepted_without_recipients_is_ended_and_reset() {
    let replies = [
        "220 mx\r\n",
        "250-mx\r\n250 PIPELINING\r\n",
        "250 ok\r\n450 4.2.1 mailbox busy\r\n354 go\r\n",
        "554 5.5.1 no valid recipients\r\n",
        "250 ok\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n.\r\nRSET\r\nQUIT\r\n".into(),
        results: vec![res(&[(Temp, 450, Some("4.2.1"))])],
        end: "closed".into(),
    };
    check(
        "empty data",
        &config(TlsMode::Off, false, false),
        &[msg(&["b@y.test"], "x")],
        &replies,
        &expected,
    );
}

#[test]
fn no_accepted_recipient_without_pipelining_skips_data() {
    let replies = [
        "220 mx\r\n",
        "250 mx\r\n",
        "250 ok\r\n",
        "550 5.1.1 unknown\r\n",
        "250 reset\r\n",
        "250 ok\r\n",
        "250 ok\r\n",
        "354 go\r\n",
        "250 ok\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: [
            "EHLO out.example.com\r\n",
            "MAIL FROM:<alice@example.com>\r\n",
            "RCPT TO:<nobody@y.test>\r\n",
            "RSET\r\n",
            "MAIL FROM:<alice@example.com>\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            "second\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[(Perm, 550, Some("5.1.1"))]), res(&[(Ok_, 250, None)])],
        end: "closed".into(),
    };
    check(
        "two messages",
        &config(TlsMode::Off, false, false),
        &[
            msg(&["nobody@y.test"], "first"),
            msg(&["b@y.test"], "second"),
        ],
        &replies,
        &expected,
    );
}

#[test]
fn session_failures() {
    let cases: &[(&str, TlsMode, &[&str], &str, &str)] = &[
        (
            "greeting refused",
            TlsMode::Off,
            &["554 5.3.2 no service here\r\n"],
            "",
            "failed 554 5.3.2 no service here",
        ),
        (
            "EHLO 4xx",
            TlsMode::Off,
            &["220 mx\r\n", "421 4.3.2 shutting down\r\n"],
            "EHLO out.example.com\r\n",
            "failed 421 4.3.2 shutting down",
        ),
        (
            "TLS required, not offered",
            TlsMode::Required,
            &["220 mx\r\n", "250 mx\r\n"],
            "EHLO out.example.com\r\n",
            "failed 421 4.7.10 TLS is required for this destination and the server does not offer STARTTLS",
        ),
        (
            "TLS required, refused",
            TlsMode::Required,
            &["220 mx\r\n", "250-mx\r\n250 STARTTLS\r\n", "454 4.7.0 TLS not available\r\n"],
            "EHLO out.example.com\r\nSTARTTLS\r\n",
            "failed 454 4.7.0 TLS not available",
        ),
        (
            "malformed reply",
            TlsMode::Off,
            &["220 mx\r\n", "hello there\r\n"],
            "EHLO out.example.com\r\n",
            "failed 421 4.5.0 malformed reply line \"hello there\"",
        ),
        (
            "code changes inside a reply",
            TlsMode::Off,
            &["220-mx\r\n250 mx\r\n"],
            "",
            "failed 421 4.5.0 reply code changed from 220 to 250 within a reply",
        ),
    ];
    for (name, tls, replies, sent, end) in cases {
        let expected = Transcript {
            sent: sent.to_string(),
            results: vec![],
            end: end.to_string(),
        };
        check(
            name,
            &config(*tls, false, false),
            &[msg(&["b@y.test"], "x")],
            replies,
            &expected,
        );
    }
}

#[test]
fn opportunistic_tls_refused_goes_on_in_the_clear() {
    let replies = [
        "220 mx\r\n",
        "250-mx\r\n250 STARTTLS\r\n",
        "454 4.7.0 TLS not available\r\n",
        "221 bye\r\n",
    ];
    let expected = Transcript {
        sent: "EHLO out.example.com\r\nSTARTTLS\r\nQUIT\r\n".into(),
        results: vec![],
        end: "closed".into(),
    };
    check(
        "tls refused",
        &config(TlsMode::Opportunistic, false, false),
        &[],
        &replies,
        &expected,
    );
}

#[test]
fn input_after_starttls_reply_is_discarded() {
    let mut c = Client::new(config(TlsMode::Opportunistic, false, false));
    c.receive(b"220 mx\r\n");
    c.receive(b"250-mx\r\n250 STARTTLS\r\n");
    let ev = c.receive(b"220 go\r\n250-mx\r\n250 injected\r\n");
    assert_eq!(ev, vec![Event::StartTls]);
    assert!(c.receive(b"250 more injection\r\n").is_empty());
    assert_eq!(
        c.tls_established(),
        vec![Event::Send(b"EHLO out.example.com\r\n".to_vec())]
    );
    assert!(c.is_tls());
    assert_eq!(
        c.receive(b"250-mx\r\n250 PIPELINING\r\n"),
        vec![Event::Ready]
    );
    assert!(c.capabilities().pipelining && !c.capabilities().starttls);
}

#[test]
fn multi_line_replies_keep_every_line_and_strip_repeated_status() {
    let mut c = Client::new(config(TlsMode::Off, false, false));
    c.receive(b"220 mx\r\n");
    c.receive(b"250 mx\r\n");
    c.send_message(msg(&["b@y.test"], "x"));
    let ev = c.receive(b"550-5.1.1 first line\r\n550-5.1.1 second line\r\n550 5.1.1 third\r\n");
    let Some(Event::Delivered(r)) = ev.first() else {
        panic!("expected results, got {ev:?}");
    };
    assert_eq!(r[0].reply.lines, vec!["first line", "second line", "third"]);
    assert_eq!(r[0].reply.status.as_deref(), Some("5.1.1"));
    assert_eq!(
        r[0].reply.one_line(),
        "550 5.1.1 first line second line third"
    );
    // A status of another class than the code is text, not a status.
    assert_eq!(enhanced_status("2.0.0 ok", 5), None);
    assert_eq!(
        enhanced_status("5.1.10 null MX", 5).as_deref(),
        Some("5.1.10")
    );
    assert_eq!(enhanced_status("5.1 short", 5), None);
}

#[test]
fn over_long_reply_line_fails_the_session() {
    let mut c = Client::new(config(TlsMode::Off, false, false));
    let long = vec![b'2'; MAX_REPLY_LINE + 1];
    let ev = c.receive(&long);
    assert!(
        matches!(ev.last(), Some(Event::Failed(r)) if r.code == 421),
        "{ev:?}"
    );
    assert!(c.is_closed());
}

#[test]
fn connection_lost_keeps_decided_recipients() {
    let mut c = Client::new(config(TlsMode::Off, false, false));
    c.receive(b"220 mx\r\n");
    c.receive(b"250-mx\r\n250 PIPELINING\r\n");
    c.send_message(msg(&["a@y.test", "b@y.test"], "x"));
    let ev = c.receive(b"250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n");
    assert!(matches!(ev.first(), Some(Event::Send(b)) if b.ends_with(b"x\r\n.\r\n")));
    let r = c.connection_lost("connection reset").expect("results");
    assert_eq!(r[0].outcome, Outcome::Temporary);
    assert_eq!(r[0].reply.one_line(), "451 4.4.2 connection reset");
    assert_eq!(r[1].outcome, Outcome::Permanent);
    assert_eq!(c.connection_lost("again"), None);
}

#[test]
fn auth_payload_is_redacted_in_debug() {
    let ev = Event::Send(b"AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n".to_vec());
    assert!(!format!("{ev:?}").contains("AGJv"));
    let cred = Credentials {
        user: "bob".into(),
        password: "secret".into(),
    };
    assert!(!format!("{cred:?}").contains("secret"));
}

#[test]
fn dot_stuffing_table() {
    let cases: &[(&[u8], &[u8])] = &[
        (b"", b".\r\n"),
        (b"x", b"x\r\n.\r\n"),
        (b"a\r\n.b\r\n", b"a\r\n..b\r\n.\r\n"),
        (b".\r\n", b"..\r\n.\r\n"),
        (b"..\r\n", b"...\r\n.\r\n"),
        (b"a\n.b", b"a\r\n..b\r\n.\r\n"),
        (b"a\r.b", b"a\r\n..b\r\n.\r\n"),
        (b"a\r\n\r\n.", b"a\r\n\r\n..\r\n.\r\n"),
        (b"no.dot. here\r\n", b"no.dot. here\r\n.\r\n"),
    ];
    for (input, want) in cases {
        assert_eq!(
            dot_stuff(input),
            want.to_vec(),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

proptest::proptest! {
    /// What the client sends, read by our own server's DATA decoder, is the content with
    /// CRLF line ends and a final line end.
    #[test]
    fn dot_stuffing_round_trips_through_the_server_decoder(
        lines in proptest::collection::vec("[.a-z ]{0,6}", 0..8)
    ) {
        let content = lines.join("\r\n");
        let stuffed = dot_stuff(content.as_bytes());
        let mut dec = DotDecoder::new();
        let mut buf = BodyBuf::new(1 << 20);
        let end = dec.feed(&stuffed, &mut buf);
        proptest::prop_assert_eq!(end, Some(stuffed.len()));
        let mut want = content.clone();
        if !want.is_empty() && !want.ends_with("\r\n") {
            want.push_str("\r\n");
        }
        proptest::prop_assert_eq!(String::from_utf8_lossy(&buf.into_inner()).into_owned(), want);
    }
}

#[test]
fn requiretls_is_passed_on_over_tls_and_refused_otherwise() {
    let mut rt = msg(&["b@y.test"], "x");
    rt.requiretls = true;
    // In the clear: refused before anything is sent (RFC 8689 §4.2.1), 5.7.10.
    let plain = Transcript {
        sent: "EHLO out.example.com\r\nQUIT\r\n".into(),
        results: vec![res(&[(Perm, 550, Some("5.7.10"))])],
        end: "closed".into(),
    };
    check(
        "requiretls in the clear",
        &config(TlsMode::Off, false, false),
        &[rt.clone()],
        &["220 mx\r\n", "250-mx\r\n250 REQUIRETLS\r\n", "221 bye\r\n"],
        &plain,
    );
    let tls_start = [
        "220 mx\r\n",
        "250-mx\r\n250 STARTTLS\r\n",
        "220 2.0.0 go\r\n",
    ];
    // Over TLS to a peer without REQUIRETLS: 5.7.30.
    let no_ext = [&tls_start[..], &["250 mx\r\n", "221 bye\r\n"]].concat();
    let refused = Transcript {
        sent: "EHLO out.example.com\r\nSTARTTLS\r\nEHLO out.example.com\r\nQUIT\r\n".into(),
        results: vec![res(&[(Perm, 550, Some("5.7.30"))])],
        end: "closed".into(),
    };
    check(
        "requiretls without the extension",
        &config(TlsMode::Required, false, false),
        &[rt.clone()],
        &no_ext,
        &refused,
    );
    // Over TLS to a peer with it: the parameter goes along.
    let with_ext = [
        &tls_start[..],
        &[
            "250-mx\r\n250 REQUIRETLS\r\n",
            "250 ok\r\n",
            "250 ok\r\n",
            "354 go\r\n",
            "250 ok\r\n",
            "221 bye\r\n",
        ],
    ]
    .concat();
    let sent = Transcript {
        sent: [
            "EHLO out.example.com\r\nSTARTTLS\r\nEHLO out.example.com\r\n",
            "MAIL FROM:<alice@example.com> REQUIRETLS\r\n",
            "RCPT TO:<b@y.test>\r\n",
            "DATA\r\n",
            "x\r\n.\r\n",
            "QUIT\r\n",
        ]
        .concat(),
        results: vec![res(&[(Ok_, 250, None)])],
        end: "closed".into(),
    };
    check(
        "requiretls passed on",
        &config(TlsMode::Required, false, false),
        &[rt],
        &with_ext,
        &sent,
    );
}
