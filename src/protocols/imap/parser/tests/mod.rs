use super::super::framer::{FrameEvent, Framer, FramerLimits};
use super::*;
use proptest::prelude::*;

/// Frames `input` split at every byte (accepting literals); it must come out as one frame,
/// unchanged (APPEND: one frame, its message literals streamed out beside it).
fn through_framer(input: &[u8]) {
    for i in 0..=input.len() {
        let mut f = Framer::new(FramerLimits::default());
        let mut frames = Vec::new();
        let mut streamed = false;
        for chunk in [&input[..i], &input[i..]] {
            f.push(chunk);
            while let Some(ev) = f.next() {
                match ev {
                    FrameEvent::LiteralAnnounced { .. } => f.accept_literal(),
                    FrameEvent::MessageLiteral { .. } => {
                        streamed = true;
                        f.accept_literal();
                    }
                    FrameEvent::LiteralData(_) | FrameEvent::LiteralEnd => {}
                    FrameEvent::Frame(fr) => frames.push(fr),
                    other => panic!("{other:?} for {:?}", String::from_utf8_lossy(input)),
                }
            }
        }
        if streamed {
            assert_eq!(frames.len(), 1, "split at {i}");
        } else {
            assert_eq!(frames, vec![input.to_vec()], "split at {i}");
        }
    }
}

fn parse_with(input: &str, opts: ParseOptions) -> Result<Command, ParseError> {
    let input = format!("{input}\r\n");
    through_framer(input.as_bytes());
    parse_command(input.as_bytes(), &opts)
}

fn parse(input: &str) -> Result<Command, ParseError> {
    parse_with(input, ParseOptions::default())
}

#[track_caller]
fn ok(input: &str) -> CommandBody {
    match parse(input) {
        Ok(c) => c.body,
        Err(e) => panic!("{input:?}: {e}"),
    }
}

#[track_caller]
fn bad(input: &str, needle: &str) {
    match parse(input) {
        Ok(c) => panic!("{input:?} parsed as {c:?}"),
        Err(e) => assert!(
            e.message.contains(needle),
            "{input:?}: {:?} lacks {needle:?}",
            e.message
        ),
    }
}

fn mb(s: &str) -> MailboxName {
    MailboxName(s.into())
}

fn set(ranges: &[(u32, Option<u32>)]) -> SequenceSet {
    let n = |v: u32| {
        if v == u32::MAX {
            SeqNum::Largest
        } else {
            SeqNum::Value(v)
        }
    };
    SequenceSet::Ranges(
        ranges
            .iter()
            .map(|&(a, b)| match b {
                None => SeqRange::Single(n(a)),
                Some(b) => SeqRange::Range(n(a), n(b)),
            })
            .collect(),
    )
}

const STAR: u32 = u32::MAX;

fn date(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

#[test]
fn simple_commands() {
    use CommandBody as C;
    for (input, body) in [
        ("a CAPABILITY", C::Capability),
        ("a noop", C::Noop),
        ("a LOGOUT", C::Logout),
        ("a STARTTLS", C::StartTls),
        ("a NAMESPACE", C::Namespace),
        ("a IDLE", C::Idle),
        ("a CHECK", C::Check),
        ("a CLOSE", C::Close),
        ("a UNSELECT", C::Unselect),
        ("a EXPUNGE", C::Expunge { uids: None }),
        (
            "a UID EXPUNGE 3000:3002",
            C::Expunge {
                uids: Some(set(&[(3000, Some(3002))])),
            },
        ),
    ] {
        assert_eq!(ok(input), body, "{input}");
    }
}

#[test]
fn tag_and_envelope_errors() {
    let e = parse("").unwrap_err();
    assert_eq!((e.tag, e.message.as_str()), (None, "empty command line"));
    let e = parse("+x NOOP").unwrap_err();
    assert_eq!(e.tag, None);
    let e = parse("a1").unwrap_err();
    assert_eq!(e.tag, Some(Tag("a1".into())));
    assert_eq!(e.to_string(), "expected a command after the tag");
    bad("a FROB", "FROB: unknown command");
    bad(
        "a NOOP extra",
        "NOOP: unexpected \" extra\" at end of command",
    );
    bad("a  NOOP", "expected a command name");
    bad("a UID NOOP", "UID NOOP: NOOP has no UID form");
    bad("a UID", "UID: expected a space");
    bad("a EXPUNGE 1:3", "EXPUNGE: unexpected");
    let e = parse_command(b"a NOOP", &ParseOptions::default()).unwrap_err();
    assert_eq!(e.message, "NOOP: missing CRLF at end of command");
    // A bare LF ends the command as well (see framer.rs).
    assert!(parse_command(b"a NOOP\n", &ParseOptions::default()).is_ok());
    // A stray CR is not a line end.
    assert!(parse_command(b"a NOOP\r\r\n", &ParseOptions::default()).is_err());
}

#[test]
fn login() {
    let login = |user: &str, pass: &[u8]| CommandBody::Login {
        user: user.into(),
        password: Secret(pass.to_vec()),
    };
    assert_eq!(ok("a001 LOGIN SMITH SESAME"), login("SMITH", b"SESAME"));
    assert_eq!(
        ok(r#"a LOGIN "fred smith" "pa\"ss\\word""#),
        login("fred smith", br#"pa"ss\word"#)
    );
    assert_eq!(
        ok("a LOGIN {4}\r\nfred {5}\r\ns e]c"),
        login("fred", b"s e]c")
    );
    assert_eq!(ok("a LOGIN {4+}\r\nfred x]"), login("fred", b"x]"));
    assert_eq!(ok("a LOGIN \"jöran\" x"), login("jöran", b"x"));
    bad("a LOGIN fred", "LOGIN: expected a space");
    bad("a LOGIN fred (x)", "LOGIN: expected a password");
    bad(r#"a LOGIN "fred\x" y"#, "bad escape");
    bad("a LOGIN \"fred y", "unterminated quoted string");
    assert!(format!("{:?}", ok("a LOGIN u hunter2")).contains("redacted"));
    assert!(!format!("{:?}", ok("a LOGIN u hunter2")).contains("hunter2"));
}

#[test]
fn authenticate() {
    use AuthMechanism as M;
    let auth = |mechanism, initial: Option<&[u8]>| CommandBody::Authenticate {
        mechanism,
        initial: initial.map(|i| Secret(i.to_vec())),
    };
    assert_eq!(
        ok("a1 AUTHENTICATE GSSAPI"),
        auth(M::Other("GSSAPI".into()), None)
    );
    assert_eq!(ok("a authenticate plain"), auth(M::Plain, None));
    assert_eq!(ok("a AUTHENTICATE LOGIN"), auth(M::Login, None));
    assert_eq!(
        ok("A001 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q="),
        auth(M::Plain, Some(b"test\0test\0test"))
    );
    assert_eq!(ok("a AUTHENTICATE PLAIN ="), auth(M::Plain, Some(b"")));
    bad("a AUTHENTICATE PLAIN dGVzd", "not valid base64");
    bad("a AUTHENTICATE PLAIN ab!c", "not valid base64");
    bad("a AUTHENTICATE", "expected a space");
}

#[test]
fn enable_and_id() {
    assert_eq!(
        ok("a ENABLE CONDSTORE utf8=accept"),
        CommandBody::Enable(vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()])
    );
    bad("a ENABLE", "ENABLE: expected a capability");
    assert_eq!(ok("a ID NIL"), CommandBody::Id(None));
    assert_eq!(ok("a ID ()"), CommandBody::Id(Some(vec![])));
    assert_eq!(
        ok(r#"a023 ID ("name" "sodr" "version" "19.34" "vendor" NIL)"#),
        CommandBody::Id(Some(vec![
            ("name".into(), Some("sodr".into())),
            ("version".into(), Some("19.34".into())),
            ("vendor".into(), None),
        ]))
    );
    bad("a ID (name \"x\")", "expected a field name string");
    bad("a ID (\"name\")", "ID: expected a space");
}

#[test]
fn select_and_examine() {
    let sel = |name: &str, params: SelectParams, read_only| CommandBody::Select {
        mailbox: mb(name),
        params,
        read_only,
    };
    assert_eq!(
        ok("A142 SELECT INBOX"),
        sel("INBOX", Default::default(), false)
    );
    assert_eq!(
        ok("a select inbox"),
        sel("INBOX", Default::default(), false)
    );
    assert_eq!(
        ok("a SELECT \"InBox/Sub\""),
        sel("INBOX/Sub", Default::default(), false)
    );
    assert_eq!(
        ok("a SELECT inboxes"),
        sel("inboxes", Default::default(), false)
    );
    assert_eq!(
        ok("A932 EXAMINE blurdybloop"),
        sel("blurdybloop", Default::default(), true)
    );
    let condstore = SelectParams {
        condstore: true,
        qresync: None,
    };
    assert_eq!(
        ok("a SELECT INBOX (CONDSTORE)"),
        sel("INBOX", condstore, false)
    );
    // RFC 7162 §3.2.5.2 examples.
    let q = ok("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
    assert_eq!(
        q,
        sel(
            "INBOX",
            SelectParams {
                condstore: false,
                qresync: Some(QresyncParams {
                    uidvalidity: 67890007,
                    modseq: 20050715194045000,
                    known_uids: Some(set(&[(41, None), (43, Some(211)), (214, Some(541))])),
                    seq_match: None,
                }),
            },
            false
        )
    );
    let q = ok("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 \
                1:29997 (5000,7500,9000,9990:9999 15000,22500,27000,29970,29973,29976,29979:29997)))");
    let CommandBody::Select { params, .. } = q else {
        panic!("{q:?}")
    };
    let qr = params.qresync.unwrap_or_else(|| panic!("no qresync"));
    assert_eq!(qr.known_uids, Some(set(&[(1, Some(29997))])));
    let (seqs, uids) = qr.seq_match.unwrap_or_else(|| panic!("no seq match"));
    assert_eq!(
        seqs,
        set(&[(5000, None), (7500, None), (9000, None), (9990, Some(9999))])
    );
    assert!(uids.contains(29980, 0));
    let q = ok("a SELECT x (QRESYNC (1 2 (1:2 3:4)) CONDSTORE)");
    let CommandBody::Select { params, .. } = q else {
        panic!()
    };
    assert!(params.condstore);
    assert_eq!(
        params.qresync.and_then(|q| q.seq_match),
        Some((set(&[(1, Some(2))]), set(&[(3, Some(4))])))
    );
    bad("a SELECT INBOX (FOO)", "SELECT: unknown parameter FOO");
    bad(
        "a SELECT INBOX (QRESYNC (0 5))",
        "UIDVALIDITY must not be 0",
    );
    bad(
        "a SELECT INBOX (QRESYNC (1 9223372036854775808))",
        "mod-sequence is too large",
    );
    bad("a SELECT", "SELECT: expected a space");
}

#[test]
fn mailbox_names() {
    assert_eq!(
        ok("a CREATE ~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
        CommandBody::Create {
            mailbox: mb("~peter/mail/台北/日本語"),
            special_use: vec![],
        }
    );
    assert_eq!(
        ok("a DELETE \"Tom &- Jerry\""),
        CommandBody::Delete(mb("Tom & Jerry"))
    );
    bad("a DELETE &AGE-", "not valid modified UTF-7");
    bad("a DELETE \"Entwürfe\"", "not valid modified UTF-7");
    bad("a DELETE {2}\r\n\u{ff}", "");
    let utf8 = ParseOptions { utf8: true };
    let c = parse_with("a DELETE \"Entwürfe &\"", utf8).map(|c| c.body);
    assert_eq!(c, Ok(CommandBody::Delete(mb("Entwürfe &"))));
    let e = parse_command(b"a DELETE {1}\r\n\xff\r\n", &utf8).unwrap_err();
    assert_eq!(e.message, "DELETE: mailbox name is not UTF-8");
}

/// imaptest's atoms group: a name of atom-specials is a valid astring but not valid modified
/// UTF-7. A command on it is a NO (no mailbox can have it), not a syntax error; a LIST
/// pattern like it matches nothing. Broken syntax stays BAD.
#[test]
fn names_that_are_not_modified_utf7() {
    let atoms = "!#$&'+,-.0123456789:;<=>?@^_`|[}";
    for cmd in [
        format!("a SELECT {atoms}"),
        format!("a CREATE \"{atoms}\""),
        format!("a RENAME INBOX/x {atoms}"),
        "a STATUS &AGE- (MESSAGES)".to_string(),
    ] {
        let e = parse(&cmd).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::InvalidMailboxName, "{cmd}");
        assert_eq!(e.tag, Some(Tag("a".into())));
    }
    for cmd in ["a SELECT", "a SELECT a b", "a SELECT (x"] {
        assert_eq!(
            parse(cmd).unwrap_err().kind,
            ParseErrorKind::Syntax,
            "{cmd}"
        );
    }
    let list = |cmd: &str| match ok(cmd) {
        CommandBody::List(l) => l.patterns,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        list(&format!("a LIST \"\" {atoms}%*")),
        Vec::<String>::new()
    );
    assert_eq!(
        list(&format!("a LIST \"\" ({atoms} x%)")),
        vec!["x%".to_string()]
    );
    assert_eq!(list("a LIST &AGE- *"), Vec::<String>::new());
    assert_eq!(list("a LSUB \"\" &AGE-*"), Vec::<String>::new());
    assert_eq!(list("a LSUB \"\" x*"), vec!["x*".to_string()]);
}

#[test]
fn create_rename_subscribe() {
    assert_eq!(
        ok("A003 CREATE owatagusiam/"),
        CommandBody::Create {
            mailbox: mb("owatagusiam/"),
            special_use: vec![],
        }
    );
    assert_eq!(
        ok("t1 CREATE \"Drafts\" (USE (\\drafts \\Sent \\X-Mine))"),
        CommandBody::Create {
            mailbox: mb("Drafts"),
            special_use: vec!["\\Drafts".into(), "\\Sent".into(), "\\X-Mine".into()],
        }
    );
    bad("a CREATE x (USE (Drafts))", "special-use attribute");
    bad("a CREATE x (FOO)", "CREATE: unknown parameter FOO");
    assert_eq!(
        ok("A684 RENAME blurdybloop sarasoop"),
        CommandBody::Rename {
            from: mb("blurdybloop"),
            to: mb("sarasoop"),
        }
    );
    assert_eq!(
        ok("A002 SUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Subscribe(mb("#news.comp.mail.mime"))
    );
    assert_eq!(
        ok("A002 UNSUBSCRIBE #news.comp.mail.mime"),
        CommandBody::Unsubscribe(mb("#news.comp.mail.mime"))
    );
    bad("a RENAME a", "RENAME: expected a space");
}

fn list_cmd(reference: &str, patterns: &[&str]) -> ListCommand {
    ListCommand {
        select: ListSelect::default(),
        reference: reference.into(),
        patterns: patterns.iter().map(|p| p.to_string()).collect(),
        ret: ListReturn::default(),
        lsub: false,
    }
}

#[test]
fn list() {
    assert_eq!(
        ok("A101 LIST \"\" \"\""),
        CommandBody::List(list_cmd("", &[""]))
    );
    assert_eq!(
        ok("A102 LIST #news.comp.mail.misc \"\""),
        CommandBody::List(list_cmd("#news.comp.mail.misc", &[""]))
    );
    assert_eq!(
        ok("A202 LIST ~/Mail/ %"),
        CommandBody::List(list_cmd("~/Mail/", &["%"]))
    );
    assert_eq!(
        ok("A682 LIST \"\" *"),
        CommandBody::List(list_cmd("", &["*"]))
    );
    assert_eq!(
        ok("a LIST \"\" &U,BTFw-/*"),
        CommandBody::List(list_cmd("", &["台北/*"]))
    );
    let mut l = list_cmd("", &["INBOX", "Drafts", "Sent/%"]);
    l.select.subscribed = true;
    l.select.recursive_match = true;
    l.ret.children = true;
    l.ret.status = Some(vec![StatusItem::Messages, StatusItem::Unseen]);
    assert_eq!(
        ok(
            "A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Drafts\" \"Sent/%\") \
            RETURN (CHILDREN STATUS (MESSAGES UNSEEN))"
        ),
        CommandBody::List(l)
    );
    let mut l = list_cmd("", &["*"]);
    l.select.special_use = true;
    l.select.remote = true;
    l.ret.special_use = true;
    l.ret.subscribed = true;
    assert_eq!(
        ok("a LIST (SPECIAL-USE REMOTE) \"\" * RETURN (SPECIAL-USE SUBSCRIBED)"),
        CommandBody::List(l)
    );
    assert_eq!(
        ok("a LIST () \"\" * RETURN ()"),
        CommandBody::List(list_cmd("", &["*"]))
    );
    bad(
        "a LIST (RECURSIVEMATCH) \"\" *",
        "RECURSIVEMATCH needs another",
    );
    bad("a LIST (FOO) \"\" *", "LIST: unknown selection option FOO");
    bad("a LIST \"\" * RETURN (FOO)", "unknown return option FOO");
    bad("a LIST \"\" * (CHILDREN)", "expected RETURN");
    bad("a LIST \"\"", "LIST: expected a space");
    let mut l = list_cmd("", &["*"]);
    l.lsub = true;
    assert_eq!(ok("a LSUB \"\" *"), CommandBody::List(l));
}

#[test]
fn status() {
    assert_eq!(
        ok("A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        CommandBody::Status {
            mailbox: mb("blurdybloop"),
            items: vec![StatusItem::UidNext, StatusItem::Messages],
        }
    );
    use StatusItem as S;
    assert_eq!(
        ok("a STATUS INBOX (uidvalidity UNSEEN RECENT DELETED SIZE HIGHESTMODSEQ APPENDLIMIT)"),
        CommandBody::Status {
            mailbox: mb("INBOX"),
            items: vec![
                S::UidValidity,
                S::Unseen,
                S::Recent,
                S::Deleted,
                S::Size,
                S::HighestModSeq,
                S::AppendLimit
            ],
        }
    );
    bad("a STATUS INBOX ()", "STATUS: expected a status item");
    bad("a STATUS INBOX (FOO)", "unknown status item FOO");
    bad("a STATUS INBOX", "expected a space");
}

const MSG: &str = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar \
                   <foobar@Blurdybloop.example>\r\n\r\nHello Joe, do you think we can meet at \
                   3:30 tomorrow?\r\n";

#[test]
fn append() {
    let input = format!(
        "A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{MSG}",
        MSG.len()
    );
    assert_eq!(
        ok(&input),
        CommandBody::Append {
            mailbox: mb("saved-messages"),
            messages: vec![AppendMessage {
                flags: vec![Flag::Seen],
                date: None,
                message: MSG.as_bytes().to_vec(),
                catenate: None,
            }],
        }
    );
    let c = ok("a APPEND INBOX \"17-Jul-1996 02:44:25 -0700\" {5+}\r\nhello");
    let CommandBody::Append { messages, .. } = c else {
        panic!()
    };
    assert_eq!(
        messages[0].date,
        Some(DateTime {
            unix: 837_596_665,
            offset_minutes: -420
        })
    );
    // A one-digit day with its space, and without.
    for d in [
        "\" 7-Feb-1994 21:52:25 +0100\"",
        "\"7-Feb-1994 21:52:25 +0100\"",
    ] {
        let c = ok(&format!("a APPEND INBOX () {d} {{1}}\r\nx"));
        let CommandBody::Append { messages, .. } = c else {
            panic!()
        };
        assert_eq!(messages[0].date.map(|d| d.unix), Some(760_654_345));
    }
    // MULTIAPPEND (RFC 3502 §6), literal8 and UTF8 (RFC 6855).
    let c = ok(
        "A003 APPEND saved-messages (\\Seen $Label1) {3}\r\nabc (\\Draft) \
                ~{3}\r\na\0c UTF8 (~{2}\r\nhi) {1+}\r\nz",
    );
    let CommandBody::Append { messages, .. } = c else {
        panic!()
    };
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages[0].flags,
        vec![Flag::Seen, Flag::Keyword("$Label1".into())]
    );
    assert_eq!(messages[1].message, b"a\0c");
    assert_eq!(messages[1].flags, vec![Flag::Draft]);
    assert_eq!(messages[2].message, b"hi");
    assert_eq!(messages[3].message, b"z");
    bad("a APPEND INBOX (\\Seen)", "APPEND: expected a space");
    bad("a APPEND INBOX \"x\"", "expected a date");
    bad("a APPEND INBOX hello", "expected a message literal");
    bad("a APPEND INBOX UTF8 ({1}\r\nx)", "UTF8 needs a literal8");
    bad("a APPEND INBOX {2}\r\na\0", "NUL in literal");
    bad(
        "a APPEND INBOX \"31-Apr-2020 00:00:00 +0000\" {1}\r\nx",
        "day out of range",
    );
    bad(
        "a APPEND INBOX \"1-Apr-2020 24:00:00 +0000\" {1}\r\nx",
        "time out of range",
    );
    bad("a APPEND INBOX", "expected a space");
    let e = parse_command(b"a APPEND INBOX {10}\r\nabc\r\n", &ParseOptions::default());
    assert_eq!(
        e.map_err(|e| e.message),
        Err("APPEND: literal is truncated".into())
    );
}

fn search_body(input: &str) -> SearchCommand {
    match ok(input) {
        CommandBody::Search { search, .. } => search,
        other => panic!("{other:?}"),
    }
}

#[test]
fn search() {
    use SearchKey as K;
    let s =
        search_body("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    assert_eq!(
        s,
        SearchCommand {
            ret: Some(vec![SearchReturn::Min, SearchReturn::Count]),
            charset: None,
            criteria: vec![
                K::Flagged,
                K::Since(date(1994, 2, 1)),
                K::Not(Box::new(K::From("Smith".into()))),
            ],
        }
    );
    let s = search_body("A284 SEARCH CHARSET UTF-8 TEXT {12}\r\nXXXXXXXXXXXX");
    assert_eq!(s.charset.as_deref(), Some("UTF-8"));
    assert_eq!(s.criteria, vec![K::Text("XXXXXXXXXXXX".into())]);
    let s = search_body("a SEARCH RETURN () OR (SEEN FLAGGED) NOT 1:5,7 UID $");
    assert_eq!(s.ret, Some(vec![]));
    assert_eq!(
        s.criteria,
        vec![
            K::Or(
                Box::new(K::And(vec![K::Seen, K::Flagged])),
                Box::new(K::Not(Box::new(K::SequenceSet(set(&[
                    (1, Some(5)),
                    (7, None)
                ])))))
            ),
            K::Uid(SequenceSet::Saved),
        ]
    );
    assert_eq!(
        search_body("a SEARCH RETURN (SAVE MAX ALL) $").criteria,
        vec![K::SequenceSet(SequenceSet::Saved)]
    );
    let s = search_body(
        "a SEARCH ALL ANSWERED BCC x BEFORE \"3-Mar-2003\" BODY \"a b\" CC c DELETED DRAFT \
         HEADER X-Spam yes KEYWORD $Junk LARGER 100 NEW OLD ON 29-Feb-2024 RECENT SEEN \
         SENTBEFORE 1-Jan-2000 SENTON 2-Jan-2000 SENTSINCE 3-Jan-2000 SMALLER 5 SUBJECT {2}\r\n\
         é TO d UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD foo UNSEEN OLDER 3600 \
         YOUNGER 60 MODSEQ 0 2:* uid 1:*",
    );
    assert_eq!(s.criteria.len(), 33);
    assert_eq!(s.criteria[2], K::Bcc("x".into()));
    assert_eq!(s.criteria[3], K::Before(date(2003, 3, 3)));
    assert_eq!(s.criteria[8], K::Header("X-Spam".into(), "yes".into()));
    assert_eq!(s.criteria[9], K::Keyword("$Junk".into()));
    assert_eq!(s.criteria[13], K::On(date(2024, 2, 29)));
    assert_eq!(s.criteria[20], K::Subject("é".into()));
    assert_eq!(s.criteria[28], K::Older(3600));
    assert_eq!(s.criteria[30], K::ModSeq(0));
    assert_eq!(s.criteria[32], K::Uid(set(&[(1, Some(STAR))])));
    // RFC 7162 §3.1.5 example.
    assert_eq!(
        search_body("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338").criteria,
        vec![K::ModSeq(620162338)]
    );
    match ok("a UID SEARCH 1:100 UNSEEN") {
        CommandBody::Search { uid, search } => {
            assert!(uid);
            assert_eq!(search.ret, None);
        }
        other => panic!("{other:?}"),
    }
    bad("a SEARCH FOO", "SEARCH: unknown search key FOO");
    bad("a SEARCH", "SEARCH: expected a space");
    bad("a SEARCH SINCE 30-Feb-2020", "day out of range");
    bad("a SEARCH SINCE 1-Foo-2020", "month name");
    bad("a SEARCH SINCE 1-Feb-94", "four-digit year");
    bad("a SEARCH (SEEN", "expected \")\"");
    bad("a SEARCH OR SEEN", "expected a space");
    bad("a SEARCH RETURN (FOO) ALL", "unknown RETURN option FOO");
    bad("a SEARCH OLDER 0", "must not be 0");
    bad("a SEARCH LARGER 9223372036854775808", "size is too large");
    bad("a SEARCH MODSEQ \"/x\" all 5", "entry name");
    bad("a SEARCH 0:4", "expected a sequence set");
    bad("a SEARCH 1,,2", "expected a sequence set");
    bad("a SEARCH SUBJECT {1}\r\n\u{ff}", "");
    let e = parse_command(
        b"a SEARCH SUBJECT {1}\r\n\xff\r\n",
        &ParseOptions::default(),
    );
    assert_eq!(
        e.map_err(|e| e.message),
        Err("SEARCH: a search string is not UTF-8".into())
    );
}

#[test]
fn search_nesting_is_bounded() {
    for input in [
        format!("a SEARCH {}ALL", "NOT ".repeat(10_000)),
        format!("a SEARCH {}ALL{}", "(".repeat(10_000), ")".repeat(10_000)),
        format!("a SEARCH {}ALL", "OR ALL ".repeat(10_000)),
    ] {
        let e = parse_command(format!("{input}\r\n").as_bytes(), &ParseOptions::default());
        assert_eq!(
            e.map_err(|e| e.message),
            Err("SEARCH: search keys nested too deeply".into())
        );
    }
    let ok_depth = format!("a SEARCH {}ALL", "NOT ".repeat(60));
    assert!(parse(&ok_depth).is_ok());
}

fn fetch_attrs(input: &str) -> Vec<FetchAttr> {
    match ok(input) {
        CommandBody::Fetch { attrs, .. } => attrs,
        other => panic!("{other:?}"),
    }
}

fn body_section(
    part: &[u32],
    text: Option<SectionText>,
    partial: Option<(u32, u32)>,
    peek: bool,
) -> FetchAttr {
    FetchAttr::BodySection {
        section: Section {
            part: part.to_vec(),
            text,
        },
        partial,
        peek,
    }
}

#[test]
fn fetch() {
    use FetchAttr as F;
    assert_eq!(
        ok("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"),
        CommandBody::Fetch {
            uid: false,
            set: set(&[(2, Some(4))]),
            attrs: vec![
                F::Flags,
                body_section(
                    &[],
                    Some(SectionText::HeaderFields(vec![
                        "DATE".into(),
                        "FROM".into()
                    ])),
                    None,
                    false
                ),
            ],
            modifiers: FetchModifiers::default(),
        }
    );
    let fast = vec![F::Flags, F::InternalDate, F::Rfc822Size];
    let all = [fast.clone(), vec![F::Envelope]].concat();
    let full = [all.clone(), vec![F::Body]].concat();
    assert_eq!(fetch_attrs("a FETCH 1 FAST"), fast);
    assert_eq!(fetch_attrs("a FETCH 1 all"), all);
    assert_eq!(fetch_attrs("a FETCH 1 FULL"), full);
    assert_eq!(
        fetch_attrs(
            "a FETCH 1:* (ENVELOPE RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE BODY \
             BODYSTRUCTURE UID MODSEQ INTERNALDATE PREVIEW PREVIEW (LAZY))"
        ),
        vec![
            F::Envelope,
            F::Rfc822,
            F::Rfc822Header,
            F::Rfc822Text,
            F::Rfc822Size,
            F::Body,
            F::BodyStructure,
            F::Uid,
            F::ModSeq,
            F::InternalDate,
            F::Preview,
            F::Preview
        ]
    );
    assert_eq!(
        fetch_attrs(
            "a FETCH 1 (BODY[] BODY.PEEK[1.2.MIME]<0.100> body[2.TEXT] BODY[3.HEADER] \
             BODY[4] BODY[HEADER.FIELDS.NOT (\"X-A\" {3}\r\nX-B)]<5.6>)"
        ),
        vec![
            body_section(&[], None, None, false),
            body_section(&[1, 2], Some(SectionText::Mime), Some((0, 100)), true),
            body_section(&[2], Some(SectionText::Text), None, false),
            body_section(&[3], Some(SectionText::Header), None, false),
            body_section(&[4], None, None, false),
            body_section(
                &[],
                Some(SectionText::HeaderFieldsNot(vec![
                    "X-A".into(),
                    "X-B".into()
                ])),
                Some((5, 6)),
                false
            ),
        ]
    );
    assert_eq!(
        fetch_attrs("a FETCH 1 (BINARY[] BINARY.PEEK[1.2]<0.10> BINARY.SIZE[2])"),
        vec![
            F::Binary {
                part: vec![],
                partial: None,
                peek: false
            },
            F::Binary {
                part: vec![1, 2],
                partial: Some((0, 10)),
                peek: true
            },
            F::BinarySize(vec![2]),
        ]
    );
    assert_eq!(
        fetch_attrs("a004 fetch 12 body[header]"),
        vec![body_section(&[], Some(SectionText::Header), None, false)]
    );
    assert_eq!(
        ok("A999 UID FETCH 4827313:4828442 FLAGS"),
        CommandBody::Fetch {
            uid: true,
            set: set(&[(4827313, Some(4828442))]),
            attrs: vec![F::Flags],
            modifiers: FetchModifiers::default(),
        }
    );
    // RFC 7162 §3.1.4.1 / §3.2.6.
    match ok("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)") {
        CommandBody::Fetch { modifiers, .. } => assert_eq!(
            modifiers,
            FetchModifiers {
                changed_since: Some(12345),
                vanished: true,
                partial: None,
            }
        ),
        other => panic!("{other:?}"),
    }
    match ok("a FETCH 1 PREVIEW (CHANGEDSINCE 5)") {
        CommandBody::Fetch {
            attrs, modifiers, ..
        } => {
            assert_eq!(attrs, vec![F::Preview]);
            assert_eq!(modifiers.changed_since, Some(5));
        }
        other => panic!("{other:?}"),
    }
    bad(
        "a FETCH 1 (FLAGS) (VANISHED)",
        "VANISHED needs UID FETCH and CHANGEDSINCE",
    );
    bad(
        "a FETCH 1:5 (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        "VANISHED needs UID FETCH",
    );
    bad("a FETCH 1 (FLAGS) (FOO)", "unknown modifier FOO");
    bad("a FETCH x FLAGS", "FETCH: expected a sequence set");
    bad("a FETCH 4294967296 FLAGS", "expected a sequence set");
    bad("a FETCH 1 FOO", "unknown fetch attribute FOO");
    bad("a FETCH 1 (FLAGS", "expected \")\"");
    bad("a FETCH 1 BODY[MIME]", "unknown section MIME");
    bad("a FETCH 1 BODY[1.FOO]", "unknown section FOO");
    bad("a FETCH 1 BODY[0]", "part number must not be 0");
    bad("a FETCH 1 BODY.PEEK", "expected \"[\"");
    bad("a FETCH 1 BODY[]<1.0>", "partial length must not be 0");
    bad(
        "a FETCH 1 BODY[]<4294967296.1>",
        "partial offset is too large",
    );
    bad("a FETCH 1 BODY[HEADER.FIELDS ()]", "header field name");
    bad("a FETCH 1 BINARY[TEXT]", "expected \"]\"");
    bad("a FETCH 1 PREVIEW (LAZY FOO)", "unknown PREVIEW modifier");
}

#[test]
fn store() {
    let store = |mode, silent, flags: Vec<Flag>, unchanged_since| CommandBody::Store {
        uid: false,
        set: set(&[(2, Some(4))]),
        mode,
        silent,
        flags,
        unchanged_since,
    };
    assert_eq!(
        ok("A003 STORE 2:4 +FLAGS (\\Deleted)"),
        store(StoreMode::Add, false, vec![Flag::Deleted], None)
    );
    assert_eq!(
        ok("a STORE 2:4 flags.silent \\Seen $Forwarded \\Foo"),
        store(
            StoreMode::Replace,
            true,
            vec![
                Flag::Seen,
                Flag::Keyword("$Forwarded".into()),
                Flag::Extension("\\Foo".into())
            ],
            None
        )
    );
    assert_eq!(
        ok("a STORE 2:4 (UNCHANGEDSINCE 320162338) -FLAGS.SILENT ()"),
        store(StoreMode::Remove, true, vec![], Some(320162338))
    );
    match ok("a UID STORE $ +FLAGS (\\Answered \\Flagged \\Draft \\Recent)") {
        CommandBody::Store {
            uid, set, flags, ..
        } => {
            assert!(uid);
            assert_eq!(set, SequenceSet::Saved);
            assert_eq!(
                flags,
                vec![Flag::Answered, Flag::Flagged, Flag::Draft, Flag::Recent]
            );
        }
        other => panic!("{other:?}"),
    }
    bad(
        "a STORE 1 +FLAGZ (\\Seen)",
        "STORE: unknown store item FLAGZ",
    );
    bad("a STORE 1 +FLAGS", "expected a space");
    bad("a STORE 1 (FOO 1) FLAGS x", "unknown STORE modifier");
    bad("a STORE 1 FLAGS (\\*)", "flag name");
}

#[test]
fn copy_move() {
    assert_eq!(
        ok("A003 COPY 2:4 MEETING"),
        CommandBody::Copy {
            uid: false,
            set: set(&[(2, Some(4))]),
            mailbox: mb("MEETING"),
        }
    );
    assert_eq!(
        ok("a UID MOVE 42:69,* \"Saved &- Sent\""),
        CommandBody::Move {
            uid: true,
            set: set(&[(42, Some(69)), (STAR, None)]),
            mailbox: mb("Saved & Sent"),
        }
    );
    bad("a COPY 2:4", "COPY: expected a space");
    bad("a MOVE : x", "expected a sequence set");
}

#[test]
fn sort_thread() {
    use SortKey as S;
    match ok("A282 SORT (SUBJECT REVERSE DATE DISPLAYFROM) UTF-8 SINCE 1-Feb-1994") {
        CommandBody::Sort {
            uid,
            criteria,
            ret,
            charset,
            search,
        } => {
            assert!(!uid);
            assert_eq!(ret, None);
            assert_eq!(
                criteria,
                vec![
                    SortCriterion {
                        reverse: false,
                        key: S::Subject
                    },
                    SortCriterion {
                        reverse: true,
                        key: S::Date
                    },
                    SortCriterion {
                        reverse: false,
                        key: S::DisplayFrom
                    },
                ]
            );
            assert_eq!(charset, "UTF-8");
            assert_eq!(search, vec![SearchKey::Since(date(1994, 2, 1))]);
        }
        other => panic!("{other:?}"),
    }
    match ok("a UID SORT RETURN (MIN MAX) (ARRIVAL CC FROM SIZE TO DISPLAYTO) \"US-ASCII\" ALL") {
        CommandBody::Sort { uid, ret, .. } => {
            assert!(uid);
            assert_eq!(ret, Some(vec![SearchReturn::Min, SearchReturn::Max]));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        ok("A283 THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000"),
        CommandBody::Thread {
            uid: false,
            algorithm: ThreadAlgorithm::OrderedSubject,
            charset: "UTF-8".into(),
            search: vec![SearchKey::Since(date(2000, 3, 5))],
        }
    );
    assert!(matches!(
        ok("a UID THREAD references US-ASCII TEXT \"gewp\""),
        CommandBody::Thread {
            uid: true,
            algorithm: ThreadAlgorithm::References,
            ..
        }
    ));
    bad("a SORT (FOO) UTF-8 ALL", "SORT: unknown sort key FOO");
    bad("a SORT (DATE) UTF-8", "expected a space");
    bad("a SORT DATE UTF-8 ALL", "expected \"(\"");
    bad("a THREAD FOO UTF-8 ALL", "unknown threading algorithm FOO");
}

#[test]
fn acl() {
    let rights = |mode, r: &str| RightsSpec {
        mode,
        rights: r.into(),
    };
    // RFC 4314 §3 examples.
    assert_eq!(
        ok("A035 SETACL INBOX/Drafts John lrQswicda"),
        CommandBody::SetAcl {
            mailbox: mb("INBOX/Drafts"),
            identifier: "John".into(),
            rights: rights(StoreMode::Replace, "lrQswicda"),
        }
    );
    assert_eq!(
        ok("A036 SETACL INBOX/Drafts anyone +r"),
        CommandBody::SetAcl {
            mailbox: mb("INBOX/Drafts"),
            identifier: "anyone".into(),
            rights: rights(StoreMode::Add, "r"),
        }
    );
    assert_eq!(
        ok("a SETACL x \"-Fred\" \"-wx\""),
        CommandBody::SetAcl {
            mailbox: mb("x"),
            identifier: "-Fred".into(),
            rights: rights(StoreMode::Remove, "wx"),
        }
    );
    assert_eq!(
        ok("A001 DELETEACL INBOX/Drafts Fred"),
        CommandBody::DeleteAcl {
            mailbox: mb("INBOX/Drafts"),
            identifier: "Fred".into(),
        }
    );
    assert_eq!(ok("A002 GETACL INBOX"), CommandBody::GetAcl(mb("INBOX")));
    assert_eq!(
        ok("a LISTRIGHTS ~/Mail/saved smith"),
        CommandBody::ListRights {
            mailbox: mb("~/Mail/saved"),
            identifier: "smith".into(),
        }
    );
    assert_eq!(
        ok("A003 MYRIGHTS INBOX"),
        CommandBody::MyRights(mb("INBOX"))
    );
    bad("a SETACL x Fred", "SETACL: expected a space");
}

#[test]
fn quota() {
    assert_eq!(
        ok("G0001 GETQUOTA \"!partition/sda4\""),
        CommandBody::GetQuota("!partition/sda4".into())
    );
    assert_eq!(
        ok("A003 GETQUOTAROOT INBOX"),
        CommandBody::GetQuotaRoot(mb("INBOX"))
    );
    assert_eq!(
        ok("S0000 SETQUOTA \"#user/alice\" (STORAGE 510 message 1000)"),
        CommandBody::SetQuota {
            root: "#user/alice".into(),
            limits: vec![("STORAGE".into(), 510), ("MESSAGE".into(), 1000)],
        }
    );
    assert_eq!(
        ok("a SETQUOTA \"\" ()"),
        CommandBody::SetQuota {
            root: String::new(),
            limits: vec![],
        }
    );
    bad("a SETQUOTA \"\" (STORAGE)", "expected a space");
}

/// RFC 9051 §8 sample session (client lines) and the §6 examples not covered above.
#[test]
fn rfc9051_examples() {
    for line in [
        "a001 login mrc secret",
        "a002 select inbox",
        "a003 fetch 12 full",
        "a004 fetch 12 body[header]",
        "a005 store 12 +flags \\deleted",
        "a006 logout",
        "abcd CAPABILITY",
        "a002 NOOP",
        "A023 LOGOUT",
        "a002 STARTTLS",
        "A001 AUTHENTICATE GSSAPI",
        "a001 LOGIN SMITH SESAME",
        "t2 ENABLE CONDSTORE",
        "A142 SELECT INBOX",
        "A932 EXAMINE blurdybloop",
        "A003 CREATE owatagusiam/",
        "A004 CREATE owatagusiam/blurdybloop",
        "A682 LIST \"\" *",
        "A683 DELETE blurdybloop",
        "A685 RENAME foo/bar zowie",
        "A002 SUBSCRIBE #news.comp.mail.mime",
        "A101 LIST \"\" \"\"",
        "A103 LIST /usr/staff/jones \"\"",
        "A202 LIST ~/Mail/ %",
        "A01 LIST (SUBSCRIBED) \"\" \"*\"",
        "A02 LIST () \"\" \"%\" RETURN (CHILDREN)",
        "A001 NAMESPACE",
        "A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
        "A002 APPEND saved-messages (\\Seen) {5+}\r\nhello",
        "A001 IDLE",
        "A341 CLOSE",
        "A342 UNSELECT",
        "A202 EXPUNGE",
        "A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
        "A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"",
        "A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])",
        "A003 STORE 2:4 +FLAGS (\\Deleted)",
        "A003 COPY 2:4 MEETING",
        "A003 MOVE 2:4 MEETING",
        "A999 UID FETCH 4827313:4828442 FLAGS",
        "A003 UID EXPUNGE 3000:3002",
        "A285 SEARCH CHARSET UTF-8 TEXT {13+}\r\n\u{43a}\u{430}\u{43a}\u{43e}\u{439}\u{2d}\u{442}",
    ] {
        if let Err(e) = parse(line) {
            panic!("{line:?}: {e}");
        }
    }
}

#[test]
fn sequence_sets() {
    assert_eq!(parse_sequence_set(b"$"), Some(SequenceSet::Saved));
    assert_eq!(
        parse_sequence_set(b"1,3:*,*:2,4294967294"),
        Some(set(&[
            (1, None),
            (3, Some(STAR)),
            (STAR, Some(2)),
            (4294967294, None)
        ]))
    );
    for bad in [
        &b""[..],
        b"0",
        b"1:0",
        b"1,",
        b",1",
        b"1::2",
        b"1:2:3",
        b"$,1",
        b"4294967296",
        b"a",
        b"01x",
    ] {
        assert_eq!(
            parse_sequence_set(bad),
            None,
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

mod catenate;
mod extensions;
mod metadata;
mod notify;
mod objectid;
mod props;
mod uidonly;
mod urlauth;
