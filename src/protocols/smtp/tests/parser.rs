//! Command parser table.

use crate::protocols::smtp::command::is_mailbox;
use crate::protocols::smtp::{
    parse_command, BodyType, Command, CommandError, DsnNotify, DsnRet, MailParams, RcptParams,
};

fn mail(from: &str, params: MailParams) -> Result<Command, CommandError> {
    Ok(Command::Mail {
        from: from.into(),
        params,
    })
}

fn rcpt(to: &str, params: RcptParams) -> Result<Command, CommandError> {
    Ok(Command::Rcpt {
        to: to.into(),
        params,
    })
}

#[test]
fn table() {
    use CommandError::*;
    let cases: Vec<(&str, Result<Command, CommandError>)> = vec![
        ("", Err(Empty)),
        ("  ", Err(Empty)),
        ("FOO", Err(Unknown)),
        ("MAILFROM:<a@b>", Err(Unknown)),
        (
            "EHLO client.example",
            Ok(Command::Ehlo("client.example".into())),
        ),
        ("ehlo [192.0.2.1]", Ok(Command::Ehlo("[192.0.2.1]".into()))),
        ("EHLO", Err(Syntax("Syntax: EHLO hostname"))),
        ("EHLO a b", Err(Syntax("Syntax: EHLO hostname"))),
        ("HeLo x ", Ok(Command::Helo("x".into()))),
        ("MAIL FROM:<a@b.c>", mail("a@b.c", MailParams::default())),
        ("mail from:<a@b.c>", mail("a@b.c", MailParams::default())),
        ("MAIL FROM: <a@b.c>", mail("a@b.c", MailParams::default())),
        ("MAIL FROM:<>", mail("", MailParams::default())),
        (
            "MAIL FROM:<@x.org,@y.org:a@b.c>",
            mail("a@b.c", MailParams::default()),
        ),
        (
            "MAIL FROM:<\"a b>c\"@b.c>",
            mail("\"a b>c\"@b.c", MailParams::default()),
        ),
        (
            "MAIL FROM:<a@[192.0.2.1]>",
            mail("a@[192.0.2.1]", MailParams::default()),
        ),
        (
            "MAIL FROM:<a@[IPv6:2001:db8::1]>",
            mail("a@[IPv6:2001:db8::1]", MailParams::default()),
        ),
        (
            "MAIL FROM:<a@b.c> size=10 body=8bitmime SMTPUTF8 RET=FULL ENVID=a+2Bb AUTH=x+40y requiretls",
            mail(
                "a@b.c",
                MailParams {
                    size: Some(10),
                    body: Some(BodyType::EightBitMime),
                    smtputf8: true,
                    ret: Some(DsnRet::Full),
                    envid: Some("a+b".into()),
                    auth: Some("x@y".into()),
                    requiretls: true,
                },
            ),
        ),
        (
            "MAIL FROM:<a@b.c>  BODY=7BIT",
            mail(
                "a@b.c",
                MailParams {
                    body: Some(BodyType::SevenBit),
                    ..Default::default()
                },
            ),
        ),
        (
            "MAIL FROM:a@b.c",
            Err(Syntax("Syntax: MAIL FROM:<address>")),
        ),
        (
            "MAIL FROM:<a@b.c",
            Err(Syntax("Syntax: MAIL FROM:<address>")),
        ),
        (
            "MAIL FROM:<a@b.c>SIZE=1",
            Err(Syntax("Syntax: MAIL FROM:<address>")),
        ),
        (
            "MAIL TO:<a@b.c>",
            Err(Syntax("Syntax: MAIL FROM:<address>")),
        ),
        ("MAIL FROM:<a..b@c>", Err(BadSender)),
        ("MAIL FROM:<a@-b.c>", Err(BadSender)),
        ("MAIL FROM:<a@[300.1.1.1]>", Err(BadSender)),
        ("MAIL FROM:<@x.org:a>", Err(BadSender)),
        (
            "MAIL FROM:<a@b.c> SIZE",
            Err(Syntax("SIZE requires a value")),
        ),
        (
            "MAIL FROM:<a@b.c> SIZE=",
            Err(Syntax("Invalid parameter syntax")),
        ),
        (
            "MAIL FROM:<a@b.c> BODY=BINARYMIME",
            Err(Unsupported("BODY=BINARYMIME not supported")),
        ),
        (
            "MAIL FROM:<a@b.c> BODY=9BIT",
            Err(Syntax("Invalid BODY value")),
        ),
        (
            "MAIL FROM:<a@b.c> REQUIRETLS=YES",
            Err(Syntax("REQUIRETLS takes no value")),
        ),
        (
            "MAIL FROM:<a@b.c> REQUIRETLS REQUIRETLS",
            Err(Syntax("REQUIRETLS takes no value")),
        ),
        (
            "MAIL FROM:<a@b.c> RET=ALL",
            Err(Syntax("Invalid RET value")),
        ),
        (
            "MAIL FROM:<a@b.c> ENVID=a+zz",
            Err(Syntax("Invalid ENVID value")),
        ),
        (
            "MAIL FROM:<a@b.c> SMTPUTF8=yes",
            Err(Syntax("SMTPUTF8 takes no value")),
        ),
        (
            "MAIL FROM:<a@b.c> XFOO",
            Err(Unsupported("Unsupported MAIL parameter")),
        ),
        (
            "MAIL FROM:<a@b.c> -X=1",
            Err(Syntax("Invalid parameter syntax")),
        ),
        (
            "RCPT TO:<bob@example.com>",
            rcpt("bob@example.com", RcptParams::default()),
        ),
        (
            "RCPT TO:<Postmaster>",
            rcpt("postmaster", RcptParams::default()),
        ),
        (
            "RCPT TO:<jörg@bücher.de>",
            rcpt("jörg@bücher.de", RcptParams::default()),
        ),
        (
            "RCPT TO:<b@c.d> NOTIFY=delay,failure ORCPT=rfc822;b+2Bx@c.d",
            rcpt(
                "b@c.d",
                RcptParams {
                    notify: Some(vec![DsnNotify::Delay, DsnNotify::Failure]),
                    orcpt: Some("rfc822;b+x@c.d".into()),
                },
            ),
        ),
        (
            "RCPT TO:<b@c.d> NOTIFY=NEVER,SUCCESS",
            Err(Syntax("Invalid NOTIFY value")),
        ),
        (
            "RCPT TO:<b@c.d> NOTIFY=SUCCESS,SUCCESS",
            Err(Syntax("Invalid NOTIFY value")),
        ),
        (
            "RCPT TO:<b@c.d> ORCPT=b@c.d",
            Err(Syntax("Invalid ORCPT value")),
        ),
        (
            "RCPT TO:<b@c.d> SIZE=1",
            Err(Unsupported("Unsupported RCPT parameter")),
        ),
        ("RCPT TO:<>", Err(BadRecipient)),
        ("RCPT TO:<bob>", Err(BadRecipient)),
        (
            "RCPT FROM:<b@c.d>",
            Err(Syntax("Syntax: RCPT TO:<address>")),
        ),
        ("DATA", Ok(Command::Data)),
        ("data ", Ok(Command::Data)),
        ("DATA x", Err(Syntax("Syntax: DATA"))),
        (
            "BDAT 100",
            Ok(Command::Bdat {
                size: 100,
                last: false,
            }),
        ),
        (
            "bdat 0 last",
            Ok(Command::Bdat {
                size: 0,
                last: true,
            }),
        ),
        ("BDAT", Err(Syntax("Syntax: BDAT size [LAST]"))),
        ("BDAT -1", Err(Syntax("Syntax: BDAT size [LAST]"))),
        ("BDAT 1 FIRST", Err(Syntax("Syntax: BDAT size [LAST]"))),
        ("BDAT 1 LAST x", Err(Syntax("Syntax: BDAT size [LAST]"))),
        (
            "BDAT 99999999999999999999",
            Err(Syntax("Syntax: BDAT size [LAST]")),
        ),
        ("RSET", Ok(Command::Rset)),
        ("RSET x", Err(Syntax("Syntax: RSET"))),
        ("NOOP anything at all", Ok(Command::Noop)),
        ("QUIT", Ok(Command::Quit)),
        ("VRFY bob", Ok(Command::Vrfy("bob".into()))),
        ("EXPN list", Ok(Command::Expn("list".into()))),
        ("HELP", Ok(Command::Help(None))),
        ("HELP MAIL", Ok(Command::Help(Some("MAIL".into())))),
        ("STARTTLS", Ok(Command::StartTls)),
        ("starttls now", Err(Syntax("Syntax: STARTTLS"))),
        (
            "AUTH plain",
            Ok(Command::Auth {
                mechanism: "PLAIN".into(),
                initial: None,
            }),
        ),
        (
            "AUTH LOGIN Ym9i",
            Ok(Command::Auth {
                mechanism: "LOGIN".into(),
                initial: Some("Ym9i".into()),
            }),
        ),
        (
            "AUTH PLAIN a b",
            Err(Syntax("Syntax: AUTH mechanism [initial-response]")),
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parse_command(line.as_bytes()), want, "line {line:?}");
    }
    assert_eq!(
        parse_command(b"MAIL FROM:<\xff@b.c>"),
        Err(Syntax("Invalid UTF-8 in command"))
    );
    assert_eq!(parse_command(b"\xff\xfe"), Err(Unknown));
}

#[test]
fn mailbox_syntax() {
    let good = [
        "a@b",
        "first.last@example.com",
        "x+tag@sub.example.co.uk",
        "!#$%&'*+-/=?^_`{|}~@x.y",
        "\"quoted string\"@x.y",
        "\"a\\\"b\"@x.y",
        "u@[192.0.2.1]",
        "u@[IPv6:::1]",
        "u@[tag:stuff]",
        "δοκιμή@παράδειγμα.δοκιμή",
    ];
    let bad = [
        "",
        "a",
        "@b",
        "a@",
        ".a@b",
        "a.@b",
        "a b@c",
        "a@b..c",
        "a@b-.c",
        "a@[1.2.3]",
        "a@[IPv6:zz]",
        "\"a\"b\"@c",
        "\"unterminated@c",
    ];
    for m in good {
        assert!(is_mailbox(m), "{m} should be valid");
    }
    for m in bad {
        assert!(!is_mailbox(m), "{m} should be invalid");
    }
    assert!(!is_mailbox(&format!("{}@b.c", "a".repeat(251))));
}
