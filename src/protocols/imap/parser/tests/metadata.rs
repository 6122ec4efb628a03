//! RFC 5464 GETMETADATA / SETMETADATA grammar; every case also goes through the framer split
//! at every byte (`ok`).

use super::*;

fn get(input: &str) -> (MailboxName, GetMetadataOptions, Vec<String>) {
    match ok(input) {
        CommandBody::GetMetadata {
            mailbox,
            options,
            entries,
        } => (mailbox, options, entries),
        other => panic!("{other:?}"),
    }
}

#[test]
fn getmetadata() {
    // RFC 5464 §4.2 examples.
    let (mb, o, e) = get("a GETMETADATA \"\" /shared/comment");
    assert_eq!(mb.0, "");
    assert_eq!(o, GetMetadataOptions::default());
    assert_eq!(e, vec!["/shared/comment"]);
    let (mb, _, e) = get("a GETMETADATA INBOX (/shared/Comment /private/comment)");
    assert_eq!(mb.0, "INBOX");
    assert_eq!(e, vec!["/shared/comment", "/private/comment"]);
    let (_, o, e) = get("a GETMETADATA (MAXSIZE 1024) INBOX /shared/comment");
    assert_eq!(o.max_size, Some(1024));
    assert_eq!(o.depth, MetadataDepth::Zero);
    assert_eq!(e.len(), 1);
    let (_, o, _) = get("a GETMETADATA (DEPTH infinity MAXSIZE 0) \"\" /private");
    assert_eq!(
        o,
        GetMetadataOptions {
            max_size: Some(0),
            depth: MetadataDepth::Infinity
        }
    );
    let (_, o, _) = get("a GETMETADATA (depth 1) \"\" (/shared)");
    assert_eq!(o.depth, MetadataDepth::One);
    let (_, _, e) = get("a GETMETADATA \"\" \"/private/vendor/x y\"");
    assert_eq!(e, vec!["/private/vendor/x y"]);
}

#[test]
fn getmetadata_errors() {
    bad("a GETMETADATA INBOX", "expected a space");
    bad("a GETMETADATA INBOX /other/comment", "invalid entry name");
    bad("a GETMETADATA INBOX /sharedx", "invalid entry name");
    bad("a GETMETADATA INBOX /shared/", "invalid entry name");
    bad("a GETMETADATA INBOX /shared//a", "invalid entry name");
    bad("a GETMETADATA INBOX \"/shared/a*\"", "invalid entry name");
    bad("a GETMETADATA INBOX \"/shared/a%\"", "invalid entry name");
    bad("a GETMETADATA (DEPTH 2) INBOX /shared", "unknown depth 2");
    bad(
        "a GETMETADATA (FOO 1) INBOX /shared",
        "unknown GETMETADATA option FOO",
    );
    bad(
        "a GETMETADATA () INBOX /shared",
        "expected a GETMETADATA option",
    );
    let long = format!("a GETMETADATA INBOX /shared/{}", "x".repeat(1100));
    bad(&long, "invalid entry name");
}

#[test]
fn setmetadata() {
    assert_eq!(
        ok("a SETMETADATA INBOX (/private/comment {10}\r\nMy comment /shared/x NIL)"),
        CommandBody::SetMetadata {
            mailbox: mb("INBOX"),
            entries: vec![
                ("/private/comment".into(), Some(b"My comment".to_vec())),
                ("/shared/x".into(), None),
            ],
        }
    );
    assert_eq!(
        ok("a SETMETADATA \"\" (/shared/Admin \"mailto:a@b\" /private/b ~{3}\r\na\0b)"),
        CommandBody::SetMetadata {
            mailbox: mb(""),
            entries: vec![
                ("/shared/admin".into(), Some(b"mailto:a@b".to_vec())),
                ("/private/b".into(), Some(b"a\0b".to_vec())),
            ],
        }
    );
    assert_eq!(
        ok("a SETMETADATA INBOX (/private/e \"\")"),
        CommandBody::SetMetadata {
            mailbox: mb("INBOX"),
            entries: vec![("/private/e".into(), Some(Vec::new()))],
        }
    );
}

#[test]
fn setmetadata_errors() {
    // The bare scope names only make sense for reading.
    bad("a SETMETADATA INBOX (/private \"x\")", "invalid entry name");
    bad("a SETMETADATA INBOX /private/x \"x\"", "expected \"(\"");
    bad("a SETMETADATA INBOX (/private/x)", "expected a space");
    bad("a SETMETADATA INBOX ()", "expected an entry name");
    bad("a SETMETADATA INBOX (/private/x foo)", "expected a value");
    bad(
        "a SETMETADATA INBOX (/private/x {1}\r\n\0)",
        "NUL in literal",
    );
}

/// A SETMETADATA entry name: a scope and one to three lower-case components.
fn entry_name() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("/private"), Just("/shared")],
        proptest::collection::vec("[a-z0-9._-]{1,8}", 1..4),
    )
        .prop_map(|(scope, parts)| format!("{scope}/{}", parts.join("/")))
}

proptest! {
    /// Printed entries (values as literal8, or NIL) parse back to the same entries.
    #[test]
    fn setmetadata_round_trip(
        entries in proptest::collection::vec(
            (entry_name(), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40))),
            1..5,
        )
    ) {
        let mut cmd = b"a SETMETADATA INBOX (".to_vec();
        for (i, (name, value)) in entries.iter().enumerate() {
            if i > 0 {
                cmd.push(b' ');
            }
            cmd.extend_from_slice(name.as_bytes());
            cmd.push(b' ');
            match value {
                Some(v) => {
                    cmd.extend_from_slice(format!("~{{{}}}\r\n", v.len()).as_bytes());
                    cmd.extend_from_slice(v);
                }
                None => cmd.extend_from_slice(b"NIL"),
            }
        }
        cmd.extend_from_slice(b")\r\n");
        let parsed = parse_command(&cmd, &ParseOptions::default()).map(|c| c.body);
        prop_assert_eq!(
            parsed,
            Ok(CommandBody::SetMetadata { mailbox: mb("INBOX"), entries })
        );
    }
}
