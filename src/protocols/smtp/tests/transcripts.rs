//! Session transcripts: every command, extension and error path.

use super::{config, run_once, transcript, transcript_with, FakeDir};
use crate::protocols::smtp::{
    Action, Answer, BodyType, DsnNotify, DsnRet, Service, Session, SessionConfig, MAX_ERRORS,
};

const EHLO: &str = "EHLO client.example.org\r\n";

fn with_ehlo(rest: &str) -> Vec<u8> {
    format!("{EHLO}{rest}").into_bytes()
}

#[test]
fn ehlo_lists_extensions() {
    let out = transcript(EHLO.as_bytes());
    assert_eq!(
        out.log,
        "220 mx.example.com ESMTP Ferrymail\r\n\
         250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n\
         250-SMTPUTF8\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250-DSN\r\n\
         250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
    );
    // Port 25 defaults: no AUTH at all; on TLS no STARTTLS.
    let cfg = SessionConfig::for_service("mx.example.com", Service::Smtp);
    let out = transcript_with(&cfg, false, &[EHLO.as_bytes()]);
    assert!(out.log.contains("250 STARTTLS\r\n") && !out.log.contains("AUTH"));
    let out = transcript_with(&cfg, true, &[EHLO.as_bytes()]);
    assert!(
        out.log.ends_with("250-DSN\r\n250 REQUIRETLS\r\n"),
        "{}",
        out.log
    );
}

/// RFC 8689 §4.1: REQUIRETLS on MAIL FROM needs TLS; over TLS it is taken and kept.
#[test]
fn requiretls_only_over_tls() {
    let cfg = SessionConfig::for_service("mx.example.com", Service::Smtp);
    let input = with_ehlo("MAIL FROM:<a@example.org> REQUIRETLS\r\n");
    let out = transcript_with(&cfg, false, &[&input]);
    assert!(
        !out.log.contains("REQUIRETLS\r\n250"),
        "not offered in the clear"
    );
    assert!(
        out.log
            .ends_with("530 5.7.10 REQUIRETLS needs a TLS session (STARTTLS first)\r\n"),
        "{}",
        out.log
    );
    let input = with_ehlo(
        "MAIL FROM:<a@example.org> REQUIRETLS\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n\
         Subject: s\r\n\r\nbody\r\n.\r\n",
    );
    let out = transcript_with(&cfg, true, &[&input]);
    assert!(out.log.contains("250 REQUIRETLS\r\n"), "{}", out.log);
    assert!(out.log.contains("[ENQUEUE]"), "{}", out.log);
    assert!(out.envelopes.len() == 1 && out.envelopes[0].requiretls);
}

#[test]
fn helo_and_simple_transaction() {
    let out = transcript(
        b"HELO client\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n\
          Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n",
    );
    out.expect(&[
        "220 mx.example.com ESMTP Ferrymail",
        "250 mx.example.com",
        "250 2.1.0 Ok",
        "250 2.1.5 Ok",
        "354 End data with <CR><LF>.<CR><LF>",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
        "221 2.0.0 Bye",
        "[CLOSE]",
    ]);
    let env = &out.envelopes[0];
    assert_eq!(env.mail_from, "a@example.org");
    assert_eq!(env.recipients.len(), 1);
    assert_eq!(env.recipients[0].address, "bob@example.com");
    assert_eq!(env.body, b"Subject: hi\r\n\r\nbody\r\n");
    assert_eq!(
        (env.helo.as_str(), env.protocol, env.tls),
        ("client", "SMTP", false)
    );
    assert_eq!(env.body_type, BodyType::SevenBit);
    assert_eq!(env.peer, super::peer());
}

#[test]
fn pipelined_transactions_in_order_and_reset_after_enqueue() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\n\
         RCPT TO:<bob@example.com>\r\nDATA\r\none\r\n.\r\n\
         MAIL FROM:<x@example.org>\r\nRCPT TO:<bob2@example.com>\r\nDATA\r\ntwo\r\n.\r\nNOOP\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "250 2.1.5",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q2",
        "250 2.0.0 Ok",
    ]);
    let (a, b) = (&out.envelopes[0], &out.envelopes[1]);
    assert_eq!(a.mail_from, "");
    // The duplicate RCPT is accepted but stored once.
    let rcpts: Vec<&str> = a.recipients.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(rcpts, ["bob@example.com", "alice@example.com"]);
    assert_eq!(
        (a.body.as_slice(), b.body.as_slice()),
        (&b"one\r\n"[..], &b"two\r\n"[..])
    );
    assert_eq!(a.protocol, "ESMTP");
}

#[test]
fn line_errors_keep_the_session() {
    let long = "X".repeat(600);
    let out = transcript(format!("NOOP\n\r\n   \r\n{long}\r\nBOGUS\r\nnoop\r\n").as_bytes());
    out.expect(&[
        "220 ",
        "500 5.5.2 Bare LF not allowed; use CRLF",
        "500 5.5.2 Empty command line",
        "500 5.5.2 Empty command line",
        "500 5.5.2 Line too long",
        "500 5.5.2 Command unrecognized",
        "250 2.0.0 Ok",
    ]);
    // A line exactly at the limit (512 with CRLF) is fine; one more octet is too long.
    let ok = format!("NOOP {}\r\n", "y".repeat(512 - 7));
    let long = format!("NOOP {}\r\n", "y".repeat(512 - 6));
    transcript(format!("{ok}{long}").as_bytes()).expect(&[
        "220 ",
        "250 ",
        "500 5.5.2 Line too long",
    ]);
}

#[test]
fn over_long_line_is_not_buffered() {
    let mut s = Session::new(config(), super::peer(), false);
    for _ in 0..100_000 {
        s.receive(b"A", &FakeDir);
        assert!(s.buffered() <= 512);
    }
    let out = s.receive(b"\r\nNOOP\r\n", &FakeDir);
    assert_eq!(out, [Action::Send(b"250 2.0.0 Ok\r\n".to_vec())]);
}

#[test]
fn sequence_errors() {
    transcript(
        b"MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nEHLO c\r\nDATA\r\n\
          MAIL FROM:<a@b.org>\r\nMAIL FROM:<a@b.org>\r\nDATA\r\nRSET\r\nRCPT TO:<bob@example.com>\r\n",
    )
    .expect(&[
        "220 ",
        "503 5.5.1 Error: send HELO/EHLO first",
        "503 5.5.1 Error: need MAIL command",
        "503 5.5.1 Error: need MAIL command",
        "250 ",
        "503 5.5.1 Error: need MAIL command",
        "250 2.1.0",
        "503 5.5.1 Error: nested MAIL command",
        "503 5.5.1 Error: need RCPT command",
        "250 2.0.0 Ok",
        "503 5.5.1 Error: need MAIL command",
    ]);
}

#[test]
fn other_commands() {
    transcript(
        b"vrfy bob\r\nEXPN staff\r\nHELP\r\nNoOp whatever\r\nRSET\r\nVRFY\r\nQUIT\r\nNOOP\r\n",
    )
    .expect(&[
        "220 ",
        "252 2.1.5 Cannot VRFY user",
        "502 5.5.1",
        "214 2.0.0 Commands:",
        "250 2.0.0 Ok",
        "250 2.0.0 Ok",
        "501 5.5.4 Syntax: VRFY address",
        "221 2.0.0 Bye",
        "[CLOSE]",
    ]);
}

#[test]
fn mail_syntax_and_space_after_colon() {
    transcript(&with_ehlo(
        "mail from: <a@example.org>\r\nRSET\r\nMAIL FROM:a@example.org\r\n\
         MAIL FROM:<not an address>\r\nMAIL FROM:<a@b.org> FOO=1\r\nMAIL FROM:<a@b.org> SIZE=x\r\n\
         MAIL FROM:<a@b.org> BODY=BINARYMIME\r\nMAIL FROM:<a@b.org> SIZE=1 SIZE=2\r\n\
         MAIL FROM:<@relay.org:a@b.org>\r\nRCPT TO:<bob>\r\nRCPT TO:<bob@example.com> X=Y\r\n",
    ))
    .expect(&[
        "220 ",
        "250 ",
        "250 2.1.0 Ok",
        "250 2.0.0 Ok",
        "501 5.5.4 Syntax: MAIL FROM:<address>",
        "501 5.1.7 Bad sender address syntax",
        "555 5.5.4 Unsupported MAIL parameter",
        "501 5.5.4 Invalid SIZE value",
        "555 5.5.4 BODY=BINARYMIME not supported",
        "501 5.5.4 Duplicate parameter",
        "250 2.1.0 Ok",
        "553 5.1.3 Bad recipient address syntax",
        "555 5.5.4 Unsupported RCPT parameter",
    ]);
}

#[test]
fn recipients_through_directory() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<nobody@example.com>\r\n\
         RCPT TO:<victim@remote.org>\r\nRCPT TO:<temp@example.com>\r\nRCPT TO:<Postmaster>\r\n\
         DATA\r\nx\r\n.\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5 Ok",
        "550 5.1.1 <nobody@example.com>: Recipient address rejected: no such user",
        "554 5.7.1 <victim@remote.org>: Relay access denied",
        "451 4.3.0",
        "250 2.1.5 Ok",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
    ]);
    let rcpts: Vec<&str> = out.envelopes[0]
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(rcpts, ["bob@example.com", "postmaster@mx.example.com"]);
}

#[test]
fn too_many_recipients() {
    let mut input = String::from(EHLO) + "MAIL FROM:<a@example.org>\r\n";
    for i in 0..101 {
        input.push_str(&format!("RCPT TO:<bob{i}@example.com>\r\n"));
    }
    let out = run_once(&config(), false, &[input.as_bytes()]);
    let replies = out.replies();
    assert_eq!(replies.len(), 3 + 101);
    assert!(replies[3..103].iter().all(|r| r.starts_with("250 2.1.5")));
    assert!(replies[103].starts_with("452 4.5.3 Too many recipients"));
}

#[test]
fn smtputf8_addresses() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<jörg@example.org>\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<jörg@example.com>\r\n\
         RSET\r\nMAIL FROM:<jörg@example.org> SMTPUTF8 BODY=8BITMIME\r\nRCPT TO:<jörg@example.com>\r\n\
         DATA\r\nx\r\n.\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "553 5.6.7",
        "250 2.1.0",
        "553 5.6.7",
        "250 2.0.0",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued",
    ]);
    let env = &out.envelopes[0];
    assert!(env.smtputf8);
    assert_eq!(env.body_type, BodyType::EightBitMime);
    assert_eq!(env.recipients[0].address, "jörg@example.com");
}

#[test]
fn dsn_parameters_are_stored() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B314 SIZE=200 AUTH=<>\r\n\
         RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+40example.com\r\n\
         RCPT TO:<alice@example.com> NOTIFY=NEVER\r\nRCPT TO:<bob3@example.com> NOTIFY=NEVER,DELAY\r\n\
         DATA\r\nx\r\n.\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "250 2.1.5",
        "501 5.5.4 Invalid NOTIFY",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0",
    ]);
    let env = &out.envelopes[0];
    assert_eq!(env.ret, Some(DsnRet::Hdrs));
    assert_eq!(env.envid.as_deref(), Some("QQ+314"));
    assert_eq!(env.size_declared, Some(200));
    let bob = &env.recipients[0];
    assert_eq!(
        bob.notify,
        Some(vec![DsnNotify::Success, DsnNotify::Failure])
    );
    assert_eq!(bob.orcpt.as_deref(), Some("rfc822;bob@example.com"));
    assert_eq!(env.recipients[1].notify, Some(vec![DsnNotify::Never]));
    assert_eq!(env.recipients[1].orcpt, None);
}

#[test]
fn dot_unstuffing_and_line_ends() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n\
         ..leading dot\r\n.\r\n",
    ));
    assert_eq!(out.envelopes[0].body, b".leading dot\r\n");
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n\
         bare\nlf and bare\rcr\r\n.\r\n",
    ));
    assert_eq!(out.envelopes[0].body, b"bare\r\nlf and bare\rcr\r\n");
}

#[test]
fn smuggling_attempts_stay_in_the_message() {
    for end in ["\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r\n"] {
        let out = transcript(&with_ehlo(&format!(
            "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nhi{end}\
             MAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nsmuggled\r\n.\r\n",
        )));
        out.expect(&[
            "220 ",
            "250 ",
            "250 2.1.0",
            "250 2.1.5",
            "354 ",
            "[ENQUEUE]",
            "250 2.0.0",
        ]);
        assert_eq!(out.envelopes.len(), 1);
        assert!(out.envelopes[0].body.ends_with(b"smuggled\r\n"));
    }
}

#[test]
fn size_declared_at_mail() {
    transcript(&with_ehlo(
        "MAIL FROM:<a@example.org> SIZE=1001\r\nMAIL FROM:<a@example.org> SIZE=1000\r\n",
    ))
    .expect(&[
        "220 ",
        "250 ",
        "552 5.3.4 Message size exceeds fixed limit of 1000",
        "250 2.1.0",
    ]);
    transcript(&with_ehlo(
        "MAIL FROM:<a@example.org> SIZE=99999999999999999999\r\n",
    ))
    .expect(&["220 ", "250 ", "552 5.3.4"]);
}

#[test]
fn oversized_data_is_read_then_refused() {
    let big = "x".repeat(78) + "\r\n";
    let body = big.repeat(15); // 1200 octets > 1000, < drop_size 3000
    let out = transcript(&with_ehlo(&format!(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{body}.\r\n\
         MAIL FROM:<a@example.org>\r\n",
    )));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "552 5.3.4",
        "250 2.1.0",
    ]);
    assert!(out.envelopes.is_empty());
}

#[test]
fn data_over_drop_size_closes() {
    let body = "x".repeat(3001);
    let out = run_once(
        &config(),
        false,
        &[&with_ehlo(&format!(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{body}\r\n.\r\nNOOP\r\n",
    ))],
    );
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "552 5.3.4",
        "[CLOSE]",
    ]);
    // Exactly drop_size octets including the terminator is still read (and refused as too big).
    let body = "x".repeat(3000 - 5);
    let out = run_once(
        &config(),
        false,
        &[&with_ehlo(&format!(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n{body}\r\n.\r\nNOOP\r\n",
    ))],
    );
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "552 5.3.4",
        "250 2.0.0 Ok",
    ]);
}

#[test]
fn bdat_pipelined() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 7\r\nhello\r\nBDAT 9 LAST\r\n\
         world\r\n\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 0 LAST\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "250 2.0.0 Ok: 7 octets received",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
        "250 2.1.0",
        "250 2.1.5",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q2",
    ]);
    // BDAT content is binary-transparent: no unstuffing, no line-end changes.
    assert_eq!(out.envelopes[0].body, b"hello\r\nworld\r\n\r\n");
    assert!(out.envelopes[1].body.is_empty());
}

#[test]
fn bdat_errors_still_consume_the_chunk() {
    transcript(&with_ehlo(
        "BDAT 12\r\nRSET\r\nRSET\r\nMAIL FROM:<a@example.org>\r\nBDAT 6 LAST\r\nQUIT\r\n\
         RCPT TO:<bob@example.com>\r\nBDAT 2\r\nabDATA\r\nRCPT TO:<alice@example.com>\r\nBDAT x\r\n\
         RSET\r\n",
    ))
    .expect(&[
        "220 ",
        "250 ",
        "503 5.5.1 Error: need MAIL command",
        "250 2.1.0",
        "503 5.5.1 Error: need RCPT command",
        "250 2.1.5",
        "250 2.0.0 Ok: 2 octets",
        "503 5.5.1 Error: DATA not allowed after BDAT",
        "503 5.5.1 Error: RCPT not allowed after BDAT",
        "501 5.5.4 Syntax: BDAT",
        "250 2.0.0 Ok",
    ]);
}

#[test]
fn bdat_over_size_limits() {
    let chunk = "y".repeat(600);
    let out = transcript(&with_ehlo(&format!(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 600\r\n{chunk}BDAT 600\r\n\
         {chunk}BDAT 1 LAST\r\nzMAIL FROM:<a@example.org>\r\n",
    )));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "250 2.0.0 Ok: 600",
        "552 5.3.4",
        "552 5.3.4",
        "250 2.1.0",
    ]);
    assert!(out.envelopes.is_empty());
    // A chunk that would pass drop_size is refused at once, before its octets.
    transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 3001\r\nNOOP\r\n",
    ))
    .expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "552 5.3.4",
        "[CLOSE]",
    ]);
}

#[test]
fn starttls_discards_pipelined_input_and_resets() {
    let turns: &[&[u8]] = &[
        b"EHLO c\r\nMAIL FROM:<a@example.org>\r\nSTARTTLS\r\nRCPT TO:<victim@remote.org>\r\nNOOP\r\n",
        b"MAIL FROM:<a@example.org>\r\nEHLO c2\r\nSTARTTLS\r\nMAIL FROM:<a@example.org>\r\n\
          RCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n",
    ];
    let out = transcript_with(&config(), false, turns);
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "220 2.0.0 Ready to start TLS",
        "[STARTTLS]",
        "[TLS]",
        "503 5.5.1 Error: send HELO/EHLO first",
        "250 AUTH PLAIN LOGIN",
        "503 5.5.1 Error: TLS already active",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0",
    ]);
    let after_tls = out.log.split("[TLS]").nth(1).unwrap_or_default();
    assert!(!after_tls.contains("STARTTLS\r\n250"), "{after_tls}");
    let env = &out.envelopes[0];
    assert_eq!(
        (env.tls, env.protocol, env.helo.as_str()),
        (true, "ESMTPS", "c2")
    );

    let mut cfg = config();
    cfg.starttls_available = false;
    let out = transcript_with(&cfg, false, &[b"EHLO c\r\nSTARTTLS\r\n"]);
    out.expect(&["220 ", "250 AUTH", "502 5.5.1 STARTTLS not available"]);
    assert!(!out.log.contains("STARTTLS\r\n250"));
}

#[test]
fn input_while_starttls_pending_is_ignored() {
    let mut s = Session::new(config(), super::peer(), false);
    s.greeting();
    let out = s.receive(b"STARTTLS\r\n", &FakeDir);
    assert_eq!(
        out,
        [
            Action::Send(b"220 2.0.0 Ready to start TLS\r\n".to_vec()),
            Action::StartTls
        ]
    );
    assert!(s.receive(b"NOOP\r\n", &FakeDir).is_empty());
    assert!(s.tls_established(&FakeDir).is_empty());
    assert!(s.tls_active());
    assert_eq!(
        s.receive(b"NOOP\r\n", &FakeDir),
        [Action::Send(b"250 2.0.0 Ok\r\n".to_vec())]
    );
}

#[test]
fn enqueue_failures() {
    let out = transcript(&with_ehlo(
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nREJECT\r\n.\r\n\
         MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nTEMPFAIL\r\n.\r\n\
         MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nFULL\r\n.\r\nRCPT TO:<bob@example.com>\r\n\
         MAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nDMARC\r\n.\r\nRCPT TO:<bob@example.com>\r\n",
    ));
    out.expect(&[
        "220 ",
        "250 ",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "554 5.7.1 Message rejected: spam",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "451 4.3.0 Temporary failure: disk busy",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "452 4.3.1 Insufficient system storage",
        "503 5.5.1 Error: need MAIL",
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "550 5.7.1 Message refused: DMARC policy of example.org",
        "503 5.5.1 Error: need MAIL",
    ]);
}

#[test]
fn too_many_errors_closes() {
    let out = transcript("BOGUS\r\n".repeat(MAX_ERRORS as usize + 2).as_bytes());
    let mut expected = vec!["220 "];
    expected.extend(std::iter::repeat_n("500 5.5.2", MAX_ERRORS as usize));
    expected.extend(["421 4.7.0 mx.example.com Too many errors", "[CLOSE]"]);
    out.expect(&expected);
}

#[test]
fn timeout_and_shutdown() {
    let mut s = Session::new(config(), super::peer(), false);
    s.greeting();
    assert_eq!(
        s.timeout(),
        [
            Action::Send(b"421 4.4.2 mx.example.com Timeout\r\n".to_vec()),
            Action::Close
        ]
    );
    assert!(s.is_closed() && s.timeout().is_empty() && s.receive(b"NOOP\r\n", &FakeDir).is_empty());

    let mut s = Session::new(config(), super::peer(), false);
    s.receive(
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\npart",
        &FakeDir,
    );
    assert!(s.in_data());
    assert!(s.shutdown().is_empty());
    s.receive(b"\r\n.\r\n", &FakeDir);
    assert!(s.is_waiting() && !s.in_data());
    assert!(s.shutdown().is_empty());
    s.resume(Answer::Enqueued(Ok("Q9".into())), &FakeDir);
    assert_eq!(
        s.shutdown(),
        [
            Action::Send(b"421 4.3.2 mx.example.com Service shutting down\r\n".to_vec()),
            Action::Close
        ]
    );
}

#[test]
fn nothing_is_processed_while_waiting() {
    let mut s = Session::new(config(), super::peer(), false);
    let out = s.receive(
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\nNOOP\r\nQUIT\r\n",
        &FakeDir,
    );
    assert!(matches!(out.last(), Some(Action::Enqueue(_))) && s.is_waiting());
    assert!(s.receive(b"NOOP\r\n", &FakeDir).is_empty());
    // An answer nobody asked for is ignored; the right one releases the pipelined commands.
    let out = s.resume(Answer::Enqueued(Ok("Q7".into())), &FakeDir);
    assert_eq!(
        out,
        [
            Action::Send(
                b"250 2.0.0 Ok: queued as Q7\r\n250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n".to_vec()
            ),
            Action::Close
        ]
    );
    assert!(s
        .resume(Answer::Enqueued(Ok("Q8".into())), &FakeDir)
        .is_empty());
}

#[test]
fn too_much_input_while_waiting() {
    let mut s = Session::new(config(), super::peer(), false);
    s.receive(
        b"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nBDAT 1 LAST\r\nx",
        &FakeDir,
    );
    assert!(s.is_waiting());
    let flood = vec![b'N'; 4 * s.pending_limit()];
    assert!(s.receive(&flood, &FakeDir).is_empty());
    assert!(s.buffered() <= s.pending_limit());
    let out = s.resume(Answer::Enqueued(Ok("Q1".into())), &FakeDir);
    assert_eq!(
        out,
        [
            Action::Send(
                b"250 2.0.0 Ok: queued as Q1\r\n421 4.7.0 mx.example.com Too much pipelined input\r\n"
                    .to_vec()
            ),
            Action::Close
        ]
    );
}
