//! Table tests for COMPRESS (RFC 4978), UNAUTHENTICATE (RFC 8437), LIST RETURN (MYRIGHTS)
//! (RFC 8440), [UID] REPLACE (RFC 8508), PARTIAL (RFC 9394) and CONTEXT=SEARCH/SORT
//! (RFC 5267: UPDATE, PARTIAL in SORT, CANCELUPDATE); each case is also framed split at every byte
//! (through `ok`/`bad`).

use super::*;

#[test]
fn compress_and_unauthenticate() {
    use CommandBody as C;
    for (input, body) in [
        ("a COMPRESS DEFLATE", C::Compress("DEFLATE".into())),
        ("a compress deflate", C::Compress("DEFLATE".into())),
        ("a COMPRESS LZW", C::Compress("LZW".into())),
        ("a UNAUTHENTICATE", C::Unauthenticate),
        ("a unauthenticate", C::Unauthenticate),
    ] {
        assert_eq!(ok(input), body, "{input}");
    }
    bad("a COMPRESS", "COMPRESS: expected a space");
    bad("a COMPRESS DEFLATE x", "COMPRESS");
    bad("a UNAUTHENTICATE now", "UNAUTHENTICATE");
    bad("a UID UNAUTHENTICATE", "has no UID form");
    bad("a UID COMPRESS DEFLATE", "has no UID form");
}

#[test]
fn list_return_myrights() {
    let CommandBody::List(l) = ok("a LIST \"\" % RETURN (MYRIGHTS)") else {
        panic!("not a LIST")
    };
    assert!(l.ret.myrights);
    assert_eq!(l.ret.status, None);
    let CommandBody::List(l) =
        ok("a LIST (SUBSCRIBED) \"\" * RETURN (STATUS (MESSAGES) myrights CHILDREN)")
    else {
        panic!("not a LIST")
    };
    assert!(l.ret.myrights && l.ret.children && l.select.subscribed);
    assert_eq!(l.ret.status, Some(vec![StatusItem::Messages]));
    let CommandBody::List(l) = ok("a LIST \"\" %") else {
        panic!("not a LIST")
    };
    assert!(!l.ret.myrights);
    bad("a LIST \"\" % RETURN (MYRIGHTS", "expected \")\"");
    bad(
        "a LIST \"\" % RETURN (MYRIGHT)",
        "unknown return option MYRIGHT",
    );
}

#[test]
fn replace() {
    let msg = |flags: Vec<Flag>, body: &str| AppendMessage {
        flags,
        date: None,
        message: body.as_bytes().to_vec(),
        catenate: None,
    };
    for (input, uid, id, mailbox, message) in [
        (
            "A003 REPLACE 4 Drafts (\\Seen \\Draft) {5}\r\nhello",
            false,
            4,
            "Drafts",
            msg(vec![Flag::Seen, Flag::Draft], "hello"),
        ),
        (
            "A004 UID REPLACE 2000 Drafts {3+}\r\nabc",
            true,
            2000,
            "Drafts",
            msg(vec![], "abc"),
        ),
        (
            "a uid replace 7 \"Sent Items\" () ~{2}\r\nhi",
            true,
            7,
            "Sent Items",
            msg(vec![], "hi"),
        ),
        (
            "a REPLACE 1 inbox UTF8 (~{2}\r\nhi)",
            false,
            1,
            "INBOX",
            msg(vec![], "hi"),
        ),
    ] {
        assert_eq!(
            ok(input),
            CommandBody::Replace {
                uid,
                id,
                mailbox: mb(mailbox),
                message,
            },
            "{input}"
        );
    }
    let CommandBody::Replace { message, .. } =
        ok("a REPLACE 1 Drafts \"17-Jul-1996 02:44:25 -0700\" {1}\r\nx")
    else {
        panic!("not a REPLACE")
    };
    assert_eq!(message.date.map(|d| d.unix), Some(837_596_665));
    bad("a REPLACE 0 Drafts {1}\r\nx", "REPLACE");
    bad("a REPLACE * Drafts {1}\r\nx", "REPLACE");
    bad("a REPLACE 1:2 Drafts {1}\r\nx", "REPLACE");
    bad("a REPLACE 1 Drafts", "expected a space");
    bad("a REPLACE 1 Drafts \"x\"", "REPLACE");
    // One message only: MULTIAPPEND does not apply (RFC 8508 §4.7).
    bad("a REPLACE 1 Drafts {1}\r\nx {1}\r\ny", "REPLACE");
    bad("a UID REPLACE 1 Drafts hello", "expected a message literal");
}

#[test]
fn savedate() {
    use SearchKey as K;
    assert_eq!(
        fetch_attrs("a FETCH 1:* (UID SAVEDATE)"),
        vec![FetchAttr::Uid, FetchAttr::SaveDate]
    );
    assert_eq!(
        fetch_attrs("a UID FETCH 1 savedate"),
        vec![FetchAttr::SaveDate]
    );
    let s = search_body(
        "a SEARCH SAVEDBEFORE 1-Feb-1994 SAVEDON 01-Mar-2020 savedsince 9-Dec-2026 \
         OR SAVEDATESUPPORTED NOT SAVEDATESUPPORTED",
    );
    assert_eq!(
        s.criteria,
        vec![
            K::SavedBefore(date(1994, 2, 1)),
            K::SavedOn(date(2020, 3, 1)),
            K::SavedSince(date(2026, 12, 9)),
            K::Or(
                Box::new(K::SaveDateSupported),
                Box::new(K::Not(Box::new(K::SaveDateSupported)))
            ),
        ]
    );
    bad("a SEARCH SAVEDON", "SEARCH");
    bad("a SEARCH SAVEDBEFORE yesterday", "SEARCH");
    bad("a SEARCH SAVEDATESUPPORTED 1-Feb-1994", "SEARCH");
    bad("a FETCH 1 (SAVEDATE[])", "FETCH");
}

#[test]
fn partial() {
    let range = |from_end, first, last| PartialRange {
        from_end,
        first,
        last,
    };
    for (input, ret) in [
        (
            "a UID SEARCH RETURN (PARTIAL -1:-100) UNDELETED",
            vec![SearchReturn::Partial(range(true, 1, 100))],
        ),
        (
            "a SEARCH RETURN (MIN partial 500:1 SAVE) ALL",
            vec![
                SearchReturn::Min,
                SearchReturn::Partial(range(false, 500, 1)),
                SearchReturn::Save,
            ],
        ),
    ] {
        assert_eq!(search_body(input).ret, Some(ret), "{input}");
    }
    let CommandBody::Fetch { modifiers, .. } =
        ok("10 UID FETCH 25900:26600 (UID FLAGS) (PARTIAL -1:-3 CHANGEDSINCE 98305)")
    else {
        panic!("not a FETCH")
    };
    assert_eq!(modifiers.partial, Some(range(true, 1, 3)));
    assert_eq!(modifiers.changed_since, Some(98305));
    bad(
        "a SEARCH RETURN (PARTIAL 1:5 ALL) ALL",
        "at most one of PARTIAL and ALL",
    );
    bad(
        "a SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL",
        "at most one",
    );
    bad("a SEARCH RETURN (PARTIAL 0:5) ALL", "SEARCH");
    bad("a SEARCH RETURN (PARTIAL 1:*) ALL", "SEARCH");
    bad("a SEARCH RETURN (PARTIAL -1:5) ALL", "SEARCH");
    bad("a SEARCH RETURN (PARTIAL 1) ALL", "SEARCH");
    bad("a FETCH 1:* FLAGS (PARTIAL 1:5)", "PARTIAL needs UID FETCH");
}

#[test]
fn context_search_and_sort() {
    use SearchReturn::*;
    let range = |first, last| PartialRange {
        from_end: false,
        first,
        last,
    };
    for (input, ret) in [
        (
            "B01 UID SEARCH RETURN (UPDATE) BODY body SEEN",
            vec![Update],
        ),
        (
            "a SEARCH RETURN (update ALL) OR SEEN SUBJECT s",
            vec![Update, All],
        ),
        (
            "a SEARCH RETURN (PARTIAL 4:2 UPDATE) ALL",
            vec![Partial(range(4, 2)), Update],
        ),
    ] {
        assert_eq!(search_body(input).ret, Some(ret), "{input}");
    }
    for (input, want_ret, want_uid) in [
        (
            "a SORT RETURN (PARTIAL 2:4) (REVERSE ARRIVAL) US-ASCII ALL",
            vec![Partial(range(2, 4))],
            false,
        ),
        (
            "a UID SORT RETURN (UPDATE ALL) (SUBJECT) UTF-8 UNSEEN",
            vec![Update, All],
            true,
        ),
    ] {
        let CommandBody::Sort { uid, ret, .. } = ok(input) else {
            panic!("{input}: not a SORT")
        };
        assert_eq!((ret, uid), (Some(want_ret), want_uid), "{input}");
    }
    bad(
        "a SORT RETURN (PARTIAL 1) (ARRIVAL) US-ASCII ALL",
        "partial range",
    );
    bad(
        "a SORT RETURN (PARTIAL 1:*) (ARRIVAL) US-ASCII ALL",
        "partial range",
    );
    bad(
        "a SORT RETURN (PARTIAL *:1) (ARRIVAL) US-ASCII ALL",
        "partial range",
    );
    bad(
        "a SORT RETURN (PARTIAL 1:2 ALL) (ARRIVAL) US-ASCII ALL",
        "at most one",
    );
    bad("a SEARCH RETURN (UPDATES) ALL", "unknown RETURN option");
    for (input, tags) in [
        ("a CANCELUPDATE \"B01\"", vec!["B01"]),
        ("a cancelupdate \"x\" \"B 2\"", vec!["x", "B 2"]),
    ] {
        assert_eq!(
            ok(input),
            CommandBody::CancelUpdate(tags.into_iter().map(String::from).collect()),
            "{input}"
        );
    }
    bad("a CANCELUPDATE", "needs a tag");
    bad("a CANCELUPDATE B01", "quoted");
    bad("a CANCELUPDATE \"B01\" {3}\r\nB02", "quoted");
    bad("a CANCELUPDATE \"B01\" ", "quoted");
}
