//! RFC 4469 APPEND CATENATE grammar; every case also goes through the framer split at every
//! byte (`ok`).

use super::*;

fn appended(input: &str) -> Vec<AppendMessage> {
    match ok(input) {
        CommandBody::Append { messages, .. } => messages,
        other => panic!("{other:?}"),
    }
}

#[test]
fn catenate_parts() {
    // RFC 4469 §5's example, shortened.
    let m = appended(
        "A003 APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE \
         (URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER\" \
         TEXT {42}\r\n\r\n--------------030308070208000400050907\r\n \
         URL \"/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME\")",
    );
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].flags.len(), 3);
    assert!(m[0].message.is_empty());
    assert_eq!(
        m[0].catenate,
        Some(vec![
            CatPart::Url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER".into()),
            CatPart::Text(b"\r\n--------------030308070208000400050907\r\n".to_vec()),
            CatPart::Url("/Drafts;UIDVALIDITY=385759045/;UID=20/;section=1.MIME".into()),
        ])
    );
    // literal8 TEXT, a bare-atom URL, a date, and MULTIAPPEND mixing both kinds.
    let m = appended(
        "a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" CATENATE (TEXT ~{3}\r\na\0b URL \
         /INBOX/;UID=1) {2+}\r\nhi",
    );
    assert_eq!(m.len(), 2);
    assert!(m[0].date.is_some());
    assert_eq!(
        m[0].catenate,
        Some(vec![
            CatPart::Text(b"a\0b".to_vec()),
            CatPart::Url("/INBOX/;UID=1".into())
        ])
    );
    assert_eq!(m[1].catenate, None);
    assert_eq!(m[1].message, b"hi");
}

#[test]
fn catenate_errors() {
    bad("a APPEND INBOX CATENATE ()", "expected TEXT or URL");
    bad(
        "a APPEND INBOX CATENATE (BODY x)",
        "unknown CATENATE part BODY",
    );
    bad(
        "a APPEND INBOX CATENATE (TEXT \"quoted\")",
        "TEXT needs a literal",
    );
    bad("a APPEND INBOX CATENATE (URL)", "expected a space");
    bad("a APPEND INBOX CATENATE URL x", "expected \"(\"");
    bad("a APPEND INBOX CATENATE (URL x", "expected \")\"");
}

proptest! {
    /// Printed CATENATE parts (TEXT as literal8, URL quoted) parse back to the same parts.
    #[test]
    fn catenate_round_trip(
        parts in proptest::collection::vec(
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..40).prop_map(CatPart::Text),
                "/[A-Za-z0-9;=/%.]{1,30}".prop_map(CatPart::Url),
            ],
            1..5,
        )
    ) {
        let mut cmd = b"a APPEND INBOX CATENATE (".to_vec();
        for (i, part) in parts.iter().enumerate() {
            if i > 0 {
                cmd.push(b' ');
            }
            match part {
                CatPart::Text(t) => {
                    cmd.extend_from_slice(format!("TEXT ~{{{}}}\r\n", t.len()).as_bytes());
                    cmd.extend_from_slice(t);
                }
                CatPart::Url(u) => cmd.extend_from_slice(format!("URL \"{u}\"").as_bytes()),
            }
        }
        cmd.extend_from_slice(b")\r\n");
        let parsed = parse_command(&cmd, &ParseOptions::default()).map(|c| c.body);
        let Ok(CommandBody::Append { messages, .. }) = parsed else {
            return Err(TestCaseError::fail(format!("{parsed:?}")));
        };
        prop_assert_eq!(messages.len(), 1);
        prop_assert_eq!(messages[0].catenate.as_ref(), Some(&parts));
    }
}
