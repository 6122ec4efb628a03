//! RFC 8474 OBJECTID grammar: STATUS MAILBOXID, FETCH EMAILID/THREADID, SEARCH
//! EMAILID/THREADID. Every case also goes through the framer split at every byte (`ok`).

use super::*;

#[test]
fn status_mailboxid() {
    assert_eq!(
        ok("a STATUS Work (MAILBOXID MESSAGES)"),
        CommandBody::Status {
            mailbox: mb("Work"),
            items: vec![StatusItem::MailboxId, StatusItem::Messages],
        }
    );
    assert_eq!(
        ok("a LIST \"\" \"*\" RETURN (STATUS (mailboxid))"),
        CommandBody::List(ListCommand {
            ret: ListReturn {
                status: Some(vec![StatusItem::MailboxId]),
                ..ListReturn::default()
            },
            ..list_cmd("", &["*"])
        })
    );
}

#[test]
fn fetch_emailid_threadid() {
    assert_eq!(
        fetch_attrs("a FETCH 1:* (EMAILID threadid UID)"),
        vec![FetchAttr::EmailId, FetchAttr::ThreadId, FetchAttr::Uid]
    );
    assert_eq!(fetch_attrs("a FETCH 1 EMAILID"), vec![FetchAttr::EmailId]);
    assert_eq!(
        fetch_attrs("a UID FETCH 1 (THREADID)"),
        vec![FetchAttr::ThreadId]
    );
    bad("a FETCH 1 (EMAILIDS)", "unknown fetch attribute EMAILIDS");
}

#[test]
fn search_emailid_threadid() {
    assert_eq!(
        search_body("a SEARCH EMAILID M6d99b2e9_x-Y").criteria,
        vec![SearchKey::EmailId("M6d99b2e9_x-Y".into())]
    );
    // Object ids are case-sensitive: kept as sent, not upper-cased like keywords.
    assert_eq!(
        search_body("a UID SEARCH not threadid Tabc (EMAILID Mdef)").criteria,
        vec![
            SearchKey::Not(Box::new(SearchKey::ThreadId("Tabc".into()))),
            SearchKey::And(vec![SearchKey::EmailId("Mdef".into())]),
        ]
    );
    let long = format!("a SEARCH EMAILID {}", "x".repeat(255));
    assert_eq!(
        search_body(&long).criteria,
        vec![SearchKey::EmailId("x".repeat(255))]
    );
    bad(
        &format!("a SEARCH EMAILID {}", "x".repeat(256)),
        "invalid object id",
    );
    bad("a SEARCH EMAILID M.1", "invalid object id");
    bad("a SEARCH EMAILID \"M1\"", "expected an object id");
    bad("a SEARCH THREADID", "expected a space");
}

proptest! {
    /// Every valid object id is kept exactly (case included) by SEARCH EMAILID/THREADID.
    #[test]
    fn objectid_round_trip(id in "[A-Za-z0-9_-]{1,255}", thread in any::<bool>()) {
        let key = if thread { "THREADID" } else { "EMAILID" };
        let cmd = format!("a SEARCH {key} {id}\r\n");
        let parsed = parse_command(cmd.as_bytes(), &ParseOptions::default()).map(|c| c.body);
        let expected = if thread {
            SearchKey::ThreadId(id.clone())
        } else {
            SearchKey::EmailId(id.clone())
        };
        prop_assert_eq!(
            parsed,
            Ok(CommandBody::Search {
                uid: false,
                search: SearchCommand { ret: None, charset: None, criteria: vec![expected] },
            })
        );
    }
}
