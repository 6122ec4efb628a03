//! AUTH (RFC 4954, PLAIN RFC 4616, LOGIN) and submission transcripts.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::{config, peer, transcript, transcript_with, FakeDir};
use crate::protocols::smtp::{Action, Service, Session, SessionConfig};

fn b64(s: &str) -> String {
    STANDARD.encode(s)
}

/// EHLO, AUTH PLAIN as alice (with an initial response), then `commands` (CRLF-terminated;
/// `{AUTH}` stands for the same AUTH PLAIN line again), all in one write.
fn as_alice(commands: &str) -> super::Outcome {
    let auth = format!("AUTH PLAIN {}", b64("\0alice\0secret"));
    let commands = commands.replace("{AUTH}", &auth);
    transcript(format!("EHLO c\r\n{auth}\r\n{commands}").as_bytes())
}

/// The replies [`as_alice`] starts with.
const ALICE_IN: [&str; 4] = [
    "220 ",
    "250 AUTH PLAIN LOGIN",
    "[AUTH PLAIN - alice]",
    "235 2.7.0 Authentication successful",
];

#[test]
fn plain_with_initial_response_and_pipelining() {
    let out = as_alice(
        "MAIL FROM:<alice@example.com>\r\nRCPT TO:<x@remote.org>\r\nDATA\r\nhi\r\n.\r\n{AUTH}\r\n",
    );
    out.expect(&[
        ALICE_IN[0],
        ALICE_IN[1],
        ALICE_IN[2],
        ALICE_IN[3],
        "250 2.1.0",
        "250 2.1.5",
        "354 ",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
        "503 5.5.1 Error: already authenticated",
    ]);
    let env = &out.envelopes[0];
    assert_eq!(env.auth_as.as_deref(), Some("alice@example.com"));
    assert_eq!(env.protocol, "ESMTPA");
    assert_eq!(env.recipients[0].address, "x@remote.org");
}

#[test]
fn plain_with_challenge_authzid_and_failures() {
    let out = transcript(
        format!(
            "EHLO c\r\nAUTH PLAIN\r\n{}\r\nAUTH plain\r\n*\r\nAUTH PLAIN\r\n!!notbase64\r\n\
             AUTH PLAIN {}\r\nAUTH PLAIN {}\r\nAUTH PLAIN =\r\nAUTH PLAIN {}\r\n",
            b64("admin\0alice\0wrong"),
            b64("alice-no-nuls"),
            b64("\0tempfail\0x"),
            b64("\0alice\0secret"),
        )
        .as_bytes(),
    );
    out.expect(&[
        "220 ",
        "250 ",
        "334 ",
        "[AUTH PLAIN admin alice]",
        "535 5.7.8 Authentication credentials invalid",
        "334 ",
        "501 5.0.0 Authentication cancelled",
        "334 ",
        "501 5.5.2 Invalid base64 data",
        "501 5.5.2 Invalid authentication data",
        "[AUTH PLAIN - tempfail]",
        "454 4.7.0 Temporary authentication failure",
        "501 5.5.2 Invalid authentication data",
        "[AUTH PLAIN - alice]",
        "235 2.7.0",
    ]);
    assert!(
        out.log.contains("\r\n334 \r\n"),
        "an empty challenge is `334 `"
    );
}

#[test]
fn login_mechanism() {
    let out = transcript(
        format!(
            "EHLO c\r\nAUTH LOGIN\r\n{}\r\n{}\r\nAUTH LOGIN {}\r\n*\r\nAUTH LOGIN {}\r\n{}\r\n",
            b64("bob"),
            b64("nope"),
            b64("alice"),
            b64("alice"),
            b64("secret"),
        )
        .as_bytes(),
    );
    out.expect(&[
        "220 ",
        "250 ",
        "334 VXNlcm5hbWU6",
        "334 UGFzc3dvcmQ6",
        "[AUTH LOGIN - bob]",
        "535 5.7.8",
        "334 UGFzc3dvcmQ6",
        "501 5.0.0 Authentication cancelled",
        "334 UGFzc3dvcmQ6",
        "[AUTH LOGIN - alice]",
        "235 2.7.0",
    ]);
}

#[test]
fn auth_refusals() {
    let ok = b64("\0alice\0secret");
    transcript(
        format!(
            "AUTH PLAIN {ok}\r\nHELO c\r\nAUTH PLAIN {ok}\r\nEHLO c\r\nAUTH CRAM-MD5\r\nAUTH\r\n\
             MAIL FROM:<a@example.org>\r\nAUTH PLAIN {ok}\r\nRSET\r\nAUTH LOGIN\r\nNOOP\n\
             AUTH PLAIN\r\n{}\r\nNOOP\r\n",
            "A".repeat(600)
        )
        .as_bytes(),
    )
    .expect(&[
        "220 ",
        "503 5.5.1 Error: send EHLO first",
        "250 mx.example.com",
        "503 5.5.1 Error: send EHLO first",
        "250 ",
        "504 5.5.4 Unrecognized authentication type",
        "501 5.5.4 Syntax: AUTH",
        "250 2.1.0",
        "503 5.5.1 Error: AUTH not allowed during a mail transaction",
        "250 2.0.0",
        "334 VXNlcm5hbWU6",
        "500 5.5.2 Bare LF not allowed",
        "334 ",
        "500 5.5.2 Line too long",
        "250 2.0.0 Ok",
    ]);
}

#[test]
fn auth_needs_tls_unless_plaintext_allowed() {
    let mut cfg = config();
    cfg.allow_plaintext_auth = false;
    let ok = b64("\0alice\0secret");
    let input = format!("EHLO c\r\nAUTH PLAIN {ok}\r\n");
    let out = transcript_with(&cfg, false, &[input.as_bytes()]);
    out.expect(&["220 ", "250 STARTTLS", "538 5.7.11 Encryption required"]);
    let out = transcript_with(&cfg, true, &[input.as_bytes()]);
    out.expect(&[
        "220 ",
        "250 AUTH PLAIN LOGIN",
        "[AUTH PLAIN - alice]",
        "235 2.7.0",
    ]);

    cfg.auth_enabled = false;
    let out = transcript_with(&cfg, true, &[input.as_bytes()]);
    out.expect(&[
        "220 ",
        "250 REQUIRETLS",
        "503 5.5.1 Error: authentication not enabled",
    ]);
}

#[test]
fn submission_requires_auth_and_starttls_forgets_it() {
    let cfg = SessionConfig::for_service("mx.example.com", Service::Submission);
    let ok = b64("\0alice\0secret");
    let second = format!(
        "EHLO c\r\nAUTH PLAIN {ok}\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<x@remote.org>\r\n\
         BDAT 3 LAST\r\nhi\n"
    );
    let turns: &[&[u8]] = &[
        b"EHLO c\r\nMAIL FROM:<alice@example.com>\r\nSTARTTLS\r\n",
        second.as_bytes(),
    ];
    let out = transcript_with(&cfg, false, turns);
    out.expect(&[
        "220 ",
        "250 STARTTLS",
        "530 5.7.0 Authentication required",
        "220 2.0.0",
        "[STARTTLS]",
        "[TLS]",
        "250 AUTH PLAIN LOGIN",
        "[AUTH PLAIN - alice]",
        "235 ",
        "250 2.1.0",
        "250 2.1.5",
        "[ENQUEUE]",
        "250 2.0.0 Ok: queued as Q1",
    ]);
    let env = &out.envelopes[0];
    assert_eq!(
        (env.protocol, env.body.as_slice()),
        ("ESMTPSA", &b"hi\n"[..])
    );
}

#[test]
fn implicit_tls_and_reset_of_auth_on_starttls() {
    let cfg = SessionConfig::for_service("mx.example.com", Service::Smtps);
    let out = transcript_with(&cfg, true, &[b"EHLO c\r\nSTARTTLS\r\n"]);
    out.expect(&[
        "220 ",
        "250 AUTH PLAIN LOGIN",
        "503 5.5.1 Error: TLS already active",
    ]);

    let mut s = Session::new(config(), peer(), false);
    let ok = b64("\0alice\0secret");
    let out = s.receive(
        format!("EHLO c\r\nAUTH PLAIN {ok}\r\n").as_bytes(),
        &FakeDir,
    );
    assert!(matches!(out.last(), Some(Action::Authenticate { .. })) && s.is_waiting());
    s.resume(
        crate::protocols::smtp::Answer::Auth(Some("alice@example.com".into())),
        &FakeDir,
    );
    assert_eq!(s.authenticated_as(), Some("alice@example.com"));
    s.receive(b"STARTTLS\r\n", &FakeDir);
    s.tls_established(&FakeDir);
    assert_eq!(s.authenticated_as(), None);
}

#[test]
fn password_is_not_in_debug_output() {
    let a = Action::Authenticate {
        mechanism: "PLAIN".into(),
        authzid: None,
        login: "alice".into(),
        password: "hunter2".into(),
    };
    let text = format!("{a:?}");
    assert!(
        text.contains("alice") && !text.contains("hunter2"),
        "{text}"
    );
}

/// After AUTH, MAIL FROM goes through the directory's sender rule: 550 5.7.1 with the
/// reason for someone else's address, 451 when the lookup fails, and the transaction is
/// not opened (RCPT then needs MAIL). `<>` and the user's own +tag forms pass.
#[test]
fn authenticated_mail_from_must_be_the_users() {
    let out = as_alice(
        "MAIL FROM:<bob@example.com>\r\nRCPT TO:<x@remote.org>\r\n\
         MAIL FROM:<temp@example.com>\r\nMAIL FROM:<alice+news@example.com>\r\nRSET\r\n\
         MAIL FROM:<>\r\nRSET\r\n",
    );
    out.expect(&[
        ALICE_IN[0],
        ALICE_IN[1],
        ALICE_IN[2],
        ALICE_IN[3],
        "550 5.7.1 <bob@example.com>: Sender address rejected: not owned by user alice@example.com",
        "503 5.5.1 Error: need MAIL command",
        "451 4.3.0",
        "250 2.1.0",
        "250 2.0.0",
        "250 2.1.0",
        "250 2.0.0",
    ]);
}

/// Without AUTH (mail from another server on port 25) the sender rule does not apply.
#[test]
fn unauthenticated_mail_from_is_not_checked() {
    let out =
        transcript(b"EHLO c\r\nMAIL FROM:<bob@example.com>\r\nRCPT TO:<alice@example.com>\r\n");
    out.expect(&["220 ", "250 AUTH PLAIN LOGIN", "250 2.1.0", "250 2.1.5"]);
}

/// Quoted local parts and address literals get a clear permanent refusal, not a 451.
#[test]
fn quoted_and_literal_recipients_are_refused_permanently() {
    let out = transcript(
        b"EHLO c\r\nMAIL FROM:<x@remote.org>\r\nRCPT TO:<\"john doe\"@example.com>\r\n\
          RCPT TO:<alice@[192.0.2.1]>\r\nRCPT TO:<alice@[IPv6:2001:db8::1]>\r\nRCPT TO:<alice@example.com>\r\n",
    );
    out.expect(&[
        "220 ",
        "250 AUTH PLAIN LOGIN",
        "250 2.1.0",
        "550 5.1.3 <\"john doe\"@example.com>: Recipient address rejected: quoted local parts",
        "550 5.1.2 <alice@[192.0.2.1]>: Recipient address rejected: address literals",
        "550 5.1.2 <alice@[IPv6:2001:db8::1]>",
        "250 2.1.5",
    ]);
}
