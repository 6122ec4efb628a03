use super::*;
use proptest::prelude::*;

fn env(raw: &[u8]) -> String {
    let mut out = Vec::new();
    parse(raw).envelope(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn bs(raw: &[u8], ext: bool) -> String {
    let mut out = Vec::new();
    parse(raw).body_structure(&mut out, ext);
    String::from_utf8_lossy(&out).into_owned()
}

fn sect(raw: &[u8], part: &[u32], text: Option<SectionText>) -> Option<String> {
    parse(raw)
        .section(part, text.as_ref())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The message behind the RFC 9051 §8 FETCH FULL example (body shortened).
const RFC_EXAMPLE: &[u8] = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
Subject: IMAP4rev2 WG mtg summary and minutes\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
\r\n\
Line one\r\nLine two\r\n";

#[test]
fn envelope_rfc_example() {
    assert_eq!(
        env(RFC_EXAMPLE),
        "(\"Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\" \"IMAP4rev2 WG mtg summary and minutes\" \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((\"Terry Gray\" NIL \"gray\" \"cac.washington.edu\")) \
         ((NIL NIL \"imap\" \"cac.washington.edu\")) \
         ((NIL NIL \"minutes\" \"CNRI.Reston.VA.US\")(\"John Klensin\" NIL \"KLENSIN\" \"MIT.EDU\")) \
         NIL NIL \"<B27397-0100000@cac.washington.edu>\")"
    );
    assert_eq!(
        bs(RFC_EXAMPLE, false),
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 20 2)"
    );
}

#[test]
fn envelope_missing_headers_groups_and_raw_words() {
    assert_eq!(
        env(b"\r\nbody"),
        "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    );
    let raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n\tfolded\r\n\
To: undisclosed-recipients:;\r\n\
Cc: Team: \"A, B\" <a@x>, b@y;, c@z\r\n\
From: \"Jo \\\"Q\\\"\" <@r1,@r2:jo@x.org>\r\n\r\n";
    assert_eq!(
        env(raw),
        "(NIL \"=?utf-8?q?caf=C3=A9?=\tfolded\" \
         ((\"Jo \\\"Q\\\"\" \"@r1,@r2\" \"jo\" \"x.org\")) \
         ((\"Jo \\\"Q\\\"\" \"@r1,@r2\" \"jo\" \"x.org\")) \
         ((\"Jo \\\"Q\\\"\" \"@r1,@r2\" \"jo\" \"x.org\")) \
         ((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) \
         ((NIL NIL \"Team\" NIL)(\"A, B\" NIL \"a\" \"x\")(NIL NIL \"b\" \"y\")(NIL NIL NIL NIL)\
(NIL NIL \"c\" \"z\")) NIL NIL NIL)"
    );
}

#[test]
fn envelope_8bit_and_odd_addresses() {
    let raw = "From: Jürgen <j@ex.de> (comment)\r\nTo: nodomain, <>, ,\r\nSubject: \x00x\r\n\r\n";
    assert_eq!(
        env(raw.as_bytes()),
        "(NIL {2}\r\n\0x ((\"{7}\r\nJürgen\" NIL \"j\" \"ex.de\")) ((\"{7}\r\nJürgen\" NIL \"j\" \"ex.de\")) \
         ((\"{7}\r\nJürgen\" NIL \"j\" \"ex.de\")) ((NIL NIL \"nodomain\" \"\")(NIL NIL \"\" \"\")) NIL NIL NIL NIL)"
            .replace("\"{7}\r\nJürgen\"", "{7}\r\nJürgen")
    );
}

/// `user@host (Real Name)`: the comment of a bare address is its display name; empty
/// Sender/Reply-To fall back to From; a source route stays the adl.
#[test]
fn envelope_comment_is_the_name_of_a_bare_address() {
    let raw = b"From: user@domain (Real Name)\r\nSender: \r\nReply-To: \r\n\
To: a@b (  ), c@d ((nested) \\) x)\r\nCc: Shown <e@f> (not the name)\r\n\r\n";
    let real = "((\"Real Name\" NIL \"user\" \"domain\"))";
    assert_eq!(
        env(raw),
        format!(
            "(NIL NIL {real} {real} {real} ((NIL NIL \"a\" \"b\")(\"(nested) ) x\" NIL \"c\" \"d\")) \
             ((\"Shown\" NIL \"e\" \"f\")) NIL NIL NIL)"
        )
    );
    assert_eq!(
        env(b"From: <@route:user@domain>\r\n\r\n"),
        "(NIL NIL ((NIL \"@route\" \"user\" \"domain\")) ((NIL \"@route\" \"user\" \"domain\")) \
         ((NIL \"@route\" \"user\" \"domain\")) NIL NIL NIL NIL NIL)"
    );
}

const ALTERNATIVE: &[u8] = b"From: a@b\r\nSubject: alt\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"XX\"\r\n\r\n\
preamble\r\n--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=C3=A9 =\r\nau lait\r\n\
--XX\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Caf\xc3\xa9</p>\r\n--XX--\r\nepilogue\r\n";

#[test]
fn multipart_alternative() {
    assert_eq!(
        bs(ALTERNATIVE, true),
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 20 1 NIL NIL NIL NIL)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 0 NIL NIL NIL NIL) \
\"ALTERNATIVE\" (\"BOUNDARY\" \"XX\") NIL NIL NIL)"
    );
    assert_eq!(
        bs(ALTERNATIVE, false),
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"utf-8\") NIL NIL \"QUOTED-PRINTABLE\" 20 1)\
(\"TEXT\" \"HTML\" (\"CHARSET\" \"utf-8\") NIL NIL \"7BIT\" 12 0) \"ALTERNATIVE\")"
    );
    let m = parse(ALTERNATIVE);
    assert_eq!(m.binary(&[1]).as_deref(), Ok("Café au lait".as_bytes()));
    assert_eq!(m.preview(), "Café au lait");
    assert_eq!(
        sect(ALTERNATIVE, &[2], None).as_deref(),
        Some("<p>Caf\u{e9}</p>")
    );
    assert_eq!(
        sect(ALTERNATIVE, &[1], Some(SectionText::Mime)).as_deref(),
        Some("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
    );
    assert_eq!(sect(ALTERNATIVE, &[3], None), None);
    assert_eq!(sect(ALTERNATIVE, &[1, 1], None), None);
    assert_eq!(sect(ALTERNATIVE, &[0], None), None);
}

const MIXED: &[u8] = b"From: a@b\r\nTo: c@d\r\nSubject: nested\r\n\
Content-Type: multipart/mixed; boundary=outer\r\n\r\n\
--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n\
--inner\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--inner\r\nContent-Type: text/html\r\n\r\n<b>hello</b>\r\n--inner--\r\n\
--outer\r\nContent-Type: application/pdf; name=\"a b.pdf\"\r\n\
Content-Disposition: attachment; filename=\"a b.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\
Content-ID: <id1@x>\r\nContent-Language: en, de\r\n\r\nJVBERi0x\r\nLjQK\r\n\
--outer\r\nContent-Type: message/rfc822\r\n\r\n\
From: Inner <in@x>\r\nSubject: inner msg\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n\
--z\r\n\r\ninner text\r\n--z\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: x-weird\r\n\r\nPNG\r\n--z--\r\n\
--outer--\r\n";

#[test]
fn nested_mixed_with_attachment_and_message() {
    let s = bs(MIXED, true);
    assert_eq!(
        s,
        "(((\"TEXT\" \"PLAIN\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)\
(\"TEXT\" \"HTML\" NIL NIL NIL \"7BIT\" 12 0 NIL NIL NIL NIL) \"ALTERNATIVE\" (\"BOUNDARY\" \"inner\") NIL NIL NIL)\
(\"APPLICATION\" \"PDF\" (\"NAME\" \"a b.pdf\") \"<id1@x>\" NIL \"BASE64\" 14 NIL \
(\"ATTACHMENT\" (\"FILENAME\" \"a b.pdf\")) (\"en\" \"de\") NIL)\
(\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 182 \
(NIL \"inner msg\" ((\"Inner\" NIL \"in\" \"x\")) ((\"Inner\" NIL \"in\" \"x\")) ((\"Inner\" NIL \"in\" \"x\")) NIL NIL NIL NIL NIL) \
((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 10 0 NIL NIL NIL NIL)\
(\"IMAGE\" \"PNG\" NIL NIL NIL \"X-WEIRD\" 3 NIL NIL NIL NIL) \"MIXED\" (\"BOUNDARY\" \"z\") NIL NIL NIL) 12 NIL NIL NIL NIL) \
\"MIXED\" (\"BOUNDARY\" \"outer\") NIL NIL NIL)"
    );
    let m = parse(MIXED);
    assert_eq!(sect(MIXED, &[1, 1], None).as_deref(), Some("hello"));
    assert_eq!(sect(MIXED, &[1, 2], None).as_deref(), Some("<b>hello</b>"));
    assert_eq!(m.binary(&[2]).as_deref(), Ok(&b"%PDF-1.4\n"[..]));
    assert_eq!(sect(MIXED, &[3, 1], None).as_deref(), Some("inner text"));
    assert_eq!(
        sect(MIXED, &[3], Some(SectionText::Header)).as_deref(),
        Some("From: Inner <in@x>\r\nSubject: inner msg\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n")
    );
    assert_eq!(
        sect(
            MIXED,
            &[3],
            Some(SectionText::HeaderFields(vec!["subject".into()]))
        )
        .as_deref(),
        Some("Subject: inner msg\r\n\r\n")
    );
    assert!(sect(MIXED, &[3], Some(SectionText::Text)).is_some_and(|t| t.starts_with("--z\r\n")));
    assert_eq!(sect(MIXED, &[2], Some(SectionText::Text)), None);
    assert_eq!(m.binary(&[3, 2]), Err(BinaryError::UnknownCte));
    assert_eq!(m.binary(&[9]), Err(BinaryError::NoSuchPart));
    assert_eq!(m.preview(), "hello");
}

#[test]
fn header_sections() {
    let raw = b"Subject: one\r\nX-A: 1\r\nsubject: two\r\n folded\r\nTo: t@x\r\n\r\nBody\r\n";
    assert_eq!(
        sect(
            raw,
            &[],
            Some(SectionText::HeaderFields(vec![
                "SUBJECT".into(),
                "to".into()
            ]))
        )
        .as_deref(),
        Some("Subject: one\r\nsubject: two\r\n folded\r\nTo: t@x\r\n\r\n")
    );
    assert_eq!(
        sect(
            raw,
            &[],
            Some(SectionText::HeaderFieldsNot(vec!["Subject".into()]))
        )
        .as_deref(),
        Some("X-A: 1\r\nTo: t@x\r\n\r\n")
    );
    assert_eq!(
        sect(
            raw,
            &[],
            Some(SectionText::HeaderFields(vec!["none".into()]))
        )
        .as_deref(),
        Some("\r\n")
    );
    assert_eq!(
        sect(raw, &[], Some(SectionText::Text)).as_deref(),
        Some("Body\r\n")
    );
    assert_eq!(sect(raw, &[1], None).as_deref(), Some("Body\r\n"));
    assert_eq!(sect(raw, &[], Some(SectionText::Mime)), None);
    assert_eq!(sect(raw, &[], None).map(|s| s.len()), Some(raw.len()));
    let m = parse(raw);
    assert_eq!(
        m.header("SUBJECT"),
        vec![&b"one"[..], &b"two\r\n folded"[..]]
    );
    assert!(m.header("cc").is_empty());
}

#[test]
fn partial_and_section_names() {
    assert_eq!(partial(b"0123456789", 2, 3), b"234");
    assert_eq!(partial(b"0123456789", 8, 100), b"89");
    assert_eq!(partial(b"0123456789", 10, 1), b"");
    assert_eq!(partial(b"0123", u32::MAX, u32::MAX), b"");
    let s = Section {
        part: vec![1],
        text: Some(SectionText::HeaderFields(vec![
            "SUBJECT".into(),
            "X Y".into(),
        ])),
    };
    assert_eq!(
        section_name(&s, Some((0, 10))),
        "BODY[1.HEADER.FIELDS (SUBJECT \"X Y\")]<0>"
    );
    let s = Section {
        part: vec![],
        text: Some(SectionText::Text),
    };
    assert_eq!(section_name(&s, None), "BODY[TEXT]");
    let s = Section {
        part: vec![2, 1],
        text: None,
    };
    assert_eq!(section_name(&s, None), "BODY[2.1]");
    let s = Section {
        part: vec![],
        text: None,
    };
    assert_eq!(section_name(&s, Some((5, 1))), "BODY[]<5>");
}

#[test]
fn malformed_mime() {
    // Boundary never occurs: shown as one text part.
    let raw = b"Content-Type: multipart/mixed; boundary=nope\r\n\r\n--other\r\nx\r\n";
    assert_eq!(
        bs(raw, false),
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 12 2)"
    );
    // No boundary parameter.
    let raw = b"Content-Type: multipart/mixed\r\n\r\nabc";
    assert_eq!(
        bs(raw, false),
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 3 0)"
    );
    // Missing close delimiter, bare LF line ends.
    let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nfirst\n--b\nContent-Type: text/x\n\nsecond\n";
    assert_eq!(
        bs(raw, false),
        "((\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 5 0)\
(\"TEXT\" \"X\" NIL NIL NIL \"7BIT\" 7 1) \"MIXED\")"
    );
    assert_eq!(sect(raw, &[2], None).as_deref(), Some("second\n"));
    // No header at all, no blank line.
    assert_eq!(
        bs(b"just text", false),
        "(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 0 0)"
    );
    // Encoded message/rfc822 is opaque.
    let raw = b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n";
    assert_eq!(
        bs(raw, false),
        "(\"APPLICATION\" \"OCTET-STREAM\" NIL NIL NIL \"BASE64\" 6)"
    );
}

#[test]
fn message_rfc822_top_level_and_digest() {
    let raw = b"Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: s\r\n\r\nhi\r\n--d--\r\n";
    assert_eq!(
        bs(raw, false),
        "((\"MESSAGE\" \"RFC822\" NIL NIL NIL \"7BIT\" 16 (NIL \"s\" NIL NIL NIL NIL NIL NIL NIL NIL) \
(\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" 2 0) 2) \"DIGEST\")"
    );
    assert_eq!(sect(raw, &[1, 1], None).as_deref(), Some("hi"));
    assert_eq!(
        sect(raw, &[1], Some(SectionText::Text)).as_deref(),
        Some("hi")
    );
}

#[test]
fn binary_and_preview_decoding() {
    let raw = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: Base64\r\n\r\nQ2Fm6SAg\r\nCgpiYXI=\r\n";
    let m = parse(raw);
    assert_eq!(m.binary(&[1]).as_deref(), Ok(&b"Caf\xe9  \n\nbar"[..]));
    assert_eq!(m.preview(), "Café bar");
    let html = b"Content-Type: text/html\r\n\r\n<html><body><p>Hello <b>world</b></p>\r\n<p>again</p></body></html>";
    assert_eq!(parse(html).preview(), "Hello world again");
    let long = format!("Subject: x\r\n\r\n{}", "word ".repeat(100));
    assert_eq!(parse(long.as_bytes()).preview().chars().count(), 200);
    assert_eq!(decode_qp(b"a=3Db =\r\nc  \r\nd=ZZ="), b"a=b c\r\nd=ZZ");
    assert_eq!(decode_base64(b"aGVs\r\nbG8=garbage"), b"hello");
}

#[test]
fn sent_date() {
    assert_eq!(parse(RFC_EXAMPLE).sent_date(), Some(837_595_405));
    assert_eq!(parse(b"Date: garbage\r\n\r\n").sent_date(), None);
    assert_eq!(parse(b"\r\n").sent_date(), None);
}

#[test]
fn deep_nesting_is_bounded() {
    let mut raw = Vec::new();
    for _ in 0..200 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: deep\r\n\r\nx");
    let mut out = Vec::new();
    parse(&raw).body_structure(&mut out, true);
    assert!(out.starts_with(b"(\"MESSAGE\" \"RFC822\""));
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..600),
                                   path in proptest::collection::vec(0u32..4, 0..4)) {
        check_total(&raw, &path);
    }

    #[test]
    fn mime_like_bytes_never_panic(pieces in proptest::collection::vec(prop_oneof![
        Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"--b"[..]), Just(&b"--b--"[..]),
        Just(&b"Content-Type: multipart/mixed; boundary=b"[..]),
        Just(&b"Content-Type: message/rfc822"[..]), Just(&b"From: \"a\" <b@c>, g: d;"[..]),
        Just(&b"Content-Transfer-Encoding: base64"[..]), Just(&b"=?utf-8?q?x?="[..]),
        Just(&b"\x00\xff("[..]), Just(&b" "[..]), Just(&b"<@"[..]),
    ], 0..40), path in proptest::collection::vec(0u32..4, 0..4)) {
        let raw = pieces.concat();
        check_total(&raw, &path);
    }
}

fn check_total(raw: &[u8], path: &[u32]) {
    let m = parse(raw);
    let mut out = Vec::new();
    m.envelope(&mut out);
    m.body_structure(&mut out, true);
    m.body_structure(&mut out, false);
    for t in [
        None,
        Some(SectionText::Header),
        Some(SectionText::Text),
        Some(SectionText::Mime),
        Some(SectionText::HeaderFields(vec!["from".into()])),
        Some(SectionText::HeaderFieldsNot(vec!["from".into()])),
    ] {
        let _ = m.section(path, t.as_ref());
    }
    let _ = m.binary(path);
    let _ = m.preview();
    let _ = m.sent_date();
    assert_eq!(m.section(&[], None).map(|v| v.len()), Some(raw.len()));
}
