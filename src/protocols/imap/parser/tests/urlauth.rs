//! RFC 4467 RESETKEY / GENURLAUTH / URLFETCH grammar with RFC 5524's URLFETCH parameters;
//! every case also goes through the framer split at every byte (`ok`).

use super::*;

fn req(url: &str, bps: bool, content: Option<Option<UrlContent>>) -> UrlFetchRequest {
    UrlFetchRequest {
        url: url.into(),
        body_part_structure: bps,
        content,
    }
}

#[test]
fn resetkey() {
    assert_eq!(
        ok("a RESETKEY"),
        CommandBody::ResetKey {
            mailbox: None,
            mechanisms: vec![]
        }
    );
    assert_eq!(
        ok("a resetkey INBOX"),
        CommandBody::ResetKey {
            mailbox: Some(mb("INBOX")),
            mechanisms: vec![]
        }
    );
    assert_eq!(
        ok("a RESETKEY \"Sent Items\" internal X-ONE.2"),
        CommandBody::ResetKey {
            mailbox: Some(mb("Sent Items")),
            mechanisms: vec!["INTERNAL".into(), "X-ONE.2".into()]
        }
    );
    bad("a RESETKEY ", "expected a mailbox name");
    bad("a RESETKEY INBOX  INTERNAL", "expected a URLAUTH mechanism");
    bad("a RESETKEY INBOX INTER_NAL", "at end of command");
}

#[test]
fn genurlauth() {
    // RFC 4467 §7's example.
    assert_eq!(
        ok("a002 GENURLAUTH \"imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred\" INTERNAL"),
        CommandBody::GenUrlAuth(vec![(
            "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=submit+fred".into(),
            "INTERNAL".into()
        )])
    );
    assert_eq!(
        ok("a GENURLAUTH {36}\r\nimap://a@b/INBOX/;UID=1;URLAUTH=anon internal \"imap://a@b/X/;UID=2;URLAUTH=authuser\" x-sample"),
        CommandBody::GenUrlAuth(vec![
            ("imap://a@b/INBOX/;UID=1;URLAUTH=anon".into(), "INTERNAL".into()),
            ("imap://a@b/X/;UID=2;URLAUTH=authuser".into(), "X-SAMPLE".into()),
        ])
    );
    bad("a GENURLAUTH", "expected a space");
    bad(
        "a GENURLAUTH \"imap://a@b/INBOX/;UID=1;URLAUTH=anonymous\"",
        "expected a space",
    );
    bad("a GENURLAUTH \"u\" INTERNAL \"v\"", "expected a space");
    bad(
        "a GENURLAUTH \"u\" (INTERNAL)",
        "expected a URLAUTH mechanism",
    );
}

#[test]
fn urlfetch() {
    let u = "imap://joe@example.com/INBOX/;uid=20/;section=1.2;urlauth=anonymous:internal:91354a473744909de610943775f92038";
    assert_eq!(
        ok(&format!("a003 URLFETCH \"{u}\"")),
        CommandBody::UrlFetch(vec![req(u, false, None)])
    );
    assert_eq!(
        ok(&format!(
            "a URLFETCH {u} ({u} BINARY) (\"{u}\" bodypartstructure body) ({u})"
        )),
        CommandBody::UrlFetch(vec![
            req(u, false, None),
            req(u, false, Some(Some(UrlContent::Binary))),
            req(u, true, Some(Some(UrlContent::Body))),
            req(u, false, Some(None)),
        ])
    );
    assert_eq!(
        ok(&format!("a URLFETCH ({u} BINARY BODYPARTSTRUCTURE)")),
        CommandBody::UrlFetch(vec![req(u, true, Some(Some(UrlContent::Binary)))])
    );
    bad("a URLFETCH", "expected a space");
    bad(
        &format!("a URLFETCH ({u} BINARY BODY)"),
        "unexpected URLFETCH parameter BODY",
    );
    bad(
        &format!("a URLFETCH ({u} BODYPARTSTRUCTURE BODYPARTSTRUCTURE)"),
        "unexpected URLFETCH parameter BODYPARTSTRUCTURE",
    );
    bad(
        &format!("a URLFETCH ({u} TEXT)"),
        "unexpected URLFETCH parameter TEXT",
    );
    bad(&format!("a URLFETCH ({u} BINARY"), "expected \")\"");
    bad(&format!("a URLFETCH {u}  {u}"), "expected a URL");
}

fn print_request(r: &UrlFetchRequest) -> String {
    let url = format!("\"{}\"", r.url);
    match r.content {
        None => url,
        Some(content) => {
            let mut s = format!("({url}");
            if r.body_part_structure {
                s.push_str(" BODYPARTSTRUCTURE");
            }
            match content {
                Some(UrlContent::Body) => s.push_str(" BODY"),
                Some(UrlContent::Binary) => s.push_str(" BINARY"),
                None => {}
            }
            s.push(')');
            s
        }
    }
}

fn request_strategy() -> impl Strategy<Value = UrlFetchRequest> {
    (
        "imap://[a-z]{1,8}@[a-z.]{1,10}/[A-Za-z%0-9]{1,12}/;UID=[1-9][0-9]{0,4};URLAUTH=(anonymous|authuser|user\\+[a-z]{1,6}):INTERNAL:[0-9a-f]{32,64}",
        any::<bool>(),
        proptest::option::of(proptest::option::of(prop_oneof![
            Just(UrlContent::Body),
            Just(UrlContent::Binary)
        ])),
    )
        .prop_map(|(url, bps, content)| UrlFetchRequest {
            url,
            // BODYPARTSTRUCTURE only exists in the list form.
            body_part_structure: bps && content.is_some(),
            content,
        })
}

proptest! {
    /// Printed URLFETCH requests parse back to the same requests.
    #[test]
    fn urlfetch_round_trip(reqs in proptest::collection::vec(request_strategy(), 1..4)) {
        let printed: Vec<String> = reqs.iter().map(print_request).collect();
        let cmd = format!("a URLFETCH {}\r\n", printed.join(" "));
        let parsed = parse_command(cmd.as_bytes(), &ParseOptions::default()).map(|c| c.body);
        prop_assert_eq!(parsed, Ok(CommandBody::UrlFetch(reqs)));
    }
}
