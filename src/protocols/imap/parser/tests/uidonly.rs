//! UIDONLY (RFC 9586): `ENABLE UIDONLY`, and which parsed commands name messages by
//! sequence number (refused with BAD [UIDREQUIRED] once it is on). Every case is framed
//! split at every byte (through `ok`).

use super::super::super::uidonly::uses_message_numbers;
use super::*;

#[test]
fn enable_uidonly() {
    for input in [
        "a ENABLE UIDONLY",
        "a enable uidonly",
        "a ENABLE CONDSTORE UIDONLY",
    ] {
        let CommandBody::Enable(caps) = ok(input) else {
            panic!("{input}: not ENABLE")
        };
        assert!(
            caps.iter().any(|c| c.eq_ignore_ascii_case("UIDONLY")),
            "{input}: {caps:?}"
        );
    }
    bad("a ENABLE", "ENABLE");
}

#[test]
fn commands_with_message_numbers() {
    for (input, numbers) in [
        // The sequence-number forms of the message commands (§3).
        ("a FETCH 1 (FLAGS)", true),
        ("a FETCH 1:* FAST", true),
        ("a FETCH $ (UID)", true),
        ("a STORE 2 +FLAGS (\\Seen)", true),
        ("a SEARCH ALL", true),
        ("a SEARCH RETURN (MIN) UID 1:3", true),
        ("a COPY 1 Trash", true),
        ("a MOVE 1:2 Trash", true),
        ("a SORT (DATE) UTF-8 ALL", true),
        ("a THREAD REFERENCES UTF-8 ALL", true),
        ("a REPLACE 1 INBOX {2+}\r\nhi", true),
        // A sequence-set search key, however deep (§3).
        ("a UID SEARCH 1:2", true),
        ("a UID SEARCH SEEN 3", true),
        ("a UID SEARCH NOT 1", true),
        ("a UID SEARCH OR SEEN (FLAGGED 4:*)", true),
        ("a UID SEARCH (NOT (OR 1 2))", true),
        ("a UID SORT (DATE) UTF-8 *", true),
        ("a UID THREAD ORDEREDSUBJECT UTF-8 NOT 5", true),
        // QRESYNC seq-match-data: its first set is sequence numbers.
        (
            "a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211 (1:3 1:4)))",
            true,
        ),
        (
            "a EXAMINE INBOX (QRESYNC (67890007 90060115194045000 (3 8)))",
            true,
        ),
        // UIDs only.
        ("a UID FETCH 1:* (FLAGS)", false),
        ("a UID FETCH $ (FLAGS) (CHANGEDSINCE 12345 VANISHED)", false),
        ("a UID STORE 2 +FLAGS (\\Seen)", false),
        ("a UID SEARCH UID 1:3", false),
        ("a UID SEARCH $", false),
        ("a UID SEARCH NOT (OR $ SEEN)", false),
        ("a UID SEARCH RETURN (PARTIAL 1:10) ALL", false),
        ("a UID COPY 1 Trash", false),
        ("a UID MOVE 1:2 Trash", false),
        ("a UID SORT (DATE) UTF-8 ALL", false),
        ("a UID THREAD REFERENCES UTF-8 UID 1:*", false),
        ("a UID EXPUNGE 1:3", false),
        ("a UID REPLACE 1 INBOX {2+}\r\nhi", false),
        (
            "a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211))",
            false,
        ),
        ("a EXPUNGE", false),
        ("a NOOP", false),
        ("a STATUS INBOX (MESSAGES)", false),
    ] {
        assert_eq!(uses_message_numbers(&ok(input)), numbers, "{input}");
    }
}
