//! RFC 5465 NOTIFY grammar; every case also goes through the framer split at every byte
//! (`ok`).

use super::*;

fn groups(input: &str) -> NotifySet {
    match ok(input) {
        CommandBody::Notify(Some(set)) => set,
        other => panic!("{other:?}"),
    }
}

#[test]
fn notify_none_and_set() {
    assert_eq!(ok("a NOTIFY NONE"), CommandBody::Notify(None));
    assert_eq!(ok("a notify none"), CommandBody::Notify(None));
    // RFC 5465 §6 example, with a fetch-att list after MessageNew.
    let s = groups(
        "a NOTIFY SET (selected (MessageNew (uid body.peek[header.fields (from to subject)]) \
         MessageExpunge)) (subtree Lists (MessageNew MessageExpunge)) \
         (mailboxes (misc \"Other Users/b@x\") (MessageNew MessageExpunge FlagChange))",
    );
    assert!(!s.status);
    assert_eq!(s.groups.len(), 3);
    assert_eq!(s.groups[0].filter, MailboxFilter::Selected);
    match &s.groups[0].events[0] {
        NotifyEvent::MessageNew(attrs) => {
            assert_eq!(attrs.len(), 2);
            assert_eq!(attrs[0], FetchAttr::Uid);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.groups[0].events[1], NotifyEvent::MessageExpunge);
    assert_eq!(
        s.groups[1].filter,
        MailboxFilter::Subtree(vec![mb("Lists")])
    );
    assert_eq!(
        s.groups[1].events,
        vec![NotifyEvent::MessageNew(vec![]), NotifyEvent::MessageExpunge]
    );
    assert_eq!(
        s.groups[2].filter,
        MailboxFilter::Mailboxes(vec![mb("misc"), mb("Other Users/b@x")])
    );
    assert_eq!(s.groups[2].events[2], NotifyEvent::FlagChange);
}

#[test]
fn notify_filters_and_events() {
    let s = groups(
        "a NOTIFY SET STATUS (selected-delayed NONE) (inboxes (MessageNew MessageExpunge)) \
         (personal (MailboxName SubscriptionChange MailboxMetadataChange \
         ServerMetadataChange)) (subscribed (AnnotationChange FlagChange)) \
         (mailboxes inbox (x-Vendor-Event))",
    );
    assert!(s.status);
    let filters: Vec<_> = s.groups.iter().map(|g| g.filter.clone()).collect();
    assert_eq!(
        filters,
        vec![
            MailboxFilter::SelectedDelayed,
            MailboxFilter::Inboxes,
            MailboxFilter::Personal,
            MailboxFilter::Subscribed,
            // INBOX in any case is INBOX.
            MailboxFilter::Mailboxes(vec![mb("INBOX")]),
        ]
    );
    assert!(s.groups[0].events.is_empty());
    assert_eq!(
        s.groups[2].events,
        vec![
            NotifyEvent::MailboxName,
            NotifyEvent::SubscriptionChange,
            NotifyEvent::MailboxMetadataChange,
            NotifyEvent::ServerMetadataChange,
        ]
    );
    assert_eq!(s.groups[3].events[0], NotifyEvent::AnnotationChange);
    // An unknown event parses; the session answers it with [BADEVENT].
    assert_eq!(
        s.groups[4].events,
        vec![NotifyEvent::Other("X-VENDOR-EVENT".into())]
    );
    // imaptest's form: a quoted mailbox name.
    let s = groups("a NOTIFY SET STATUS (mailboxes \"box2\" (MessageNew))");
    assert_eq!(
        s.groups[0].filter,
        MailboxFilter::Mailboxes(vec![mb("box2")])
    );
}

#[test]
fn notify_errors() {
    bad("a NOTIFY", "expected a space");
    bad("a NOTIFY SET", "expected a space");
    bad("a NOTIFY SET STATUS", "expected a space");
    bad("a NOTIFY GET (personal NONE)", "expected SET or NONE");
    bad("a NOTIFY NONE (personal NONE)", "");
    bad("a NOTIFY SET personal NONE", "expected \"(\"");
    bad("a NOTIFY SET (personal)", "expected a space");
    bad(
        "a NOTIFY SET (everything (MessageNew))",
        "unknown mailbox filter",
    );
    // "(MessageNew)" reads as a list of mailbox names; the events are missing.
    bad("a NOTIFY SET (subtree (MessageNew))", "expected a space");
    bad(
        "a NOTIFY SET (mailboxes () (MessageNew))",
        "expected a mailbox name",
    );
    bad("a NOTIFY SET (personal ())", "expected an event");
    bad("a NOTIFY SET (personal (MessageNew ()))", "");
    bad("a NOTIFY SET (selected (MessageNew (uid nosuchatt)))", "");
    bad("a NOTIFY SET (personal (MessageNew)) ", "");
    bad("a NOTIFY SET (personal (MessageNew))(inboxes NONE)", "");
}

/// A mailbox filter, printed and as parsed.
fn filter() -> impl Strategy<Value = (String, MailboxFilter)> {
    let name = "[A-Za-z][A-Za-z0-9]{0,6}(/[A-Za-z0-9]{1,5})?";
    prop_oneof![
        Just(("selected".to_string(), MailboxFilter::Selected)),
        Just((
            "SELECTED-DELAYED".to_string(),
            MailboxFilter::SelectedDelayed
        )),
        Just(("inboxes".to_string(), MailboxFilter::Inboxes)),
        Just(("Personal".to_string(), MailboxFilter::Personal)),
        Just(("subscribed".to_string(), MailboxFilter::Subscribed)),
        proptest::collection::vec(name, 1..4).prop_map(|names| {
            let printed = format!("subtree ({})", names.join(" "));
            let names = names.into_iter().map(|n| mb(&n)).collect();
            (printed, MailboxFilter::Subtree(names))
        }),
        name.prop_map(|n| (
            format!("mailboxes \"{n}\""),
            MailboxFilter::Mailboxes(vec![mb(&n)])
        )),
    ]
    .prop_filter("INBOX is normalised", |(p, _)| {
        !p.to_ascii_uppercase().contains("INBOX")
    })
}

/// An event, printed and as parsed.
fn event() -> impl Strategy<Value = (String, NotifyEvent)> {
    prop_oneof![
        Just(("MessageNew".to_string(), NotifyEvent::MessageNew(vec![]))),
        Just((
            "MessageNew (UID FLAGS)".to_string(),
            NotifyEvent::MessageNew(vec![FetchAttr::Uid, FetchAttr::Flags])
        )),
        Just(("messageexpunge".to_string(), NotifyEvent::MessageExpunge)),
        Just(("FlagChange".to_string(), NotifyEvent::FlagChange)),
        Just((
            "AnnotationChange".to_string(),
            NotifyEvent::AnnotationChange
        )),
        Just(("MailboxName".to_string(), NotifyEvent::MailboxName)),
        Just((
            "SubscriptionChange".to_string(),
            NotifyEvent::SubscriptionChange
        )),
        Just((
            "MailboxMetadataChange".to_string(),
            NotifyEvent::MailboxMetadataChange
        )),
        Just((
            "ServerMetadataChange".to_string(),
            NotifyEvent::ServerMetadataChange
        )),
        "X-[A-Z]{1,6}".prop_map(|e| (e.clone(), NotifyEvent::Other(e))),
    ]
}

proptest! {
    /// Printed NOTIFY SET commands parse back to the same groups.
    #[test]
    fn notify_set_round_trip(
        status in any::<bool>(),
        groups in proptest::collection::vec(
            (filter(), proptest::collection::vec(event(), 0..4)),
            1..4,
        )
    ) {
        let mut cmd = String::from("a NOTIFY SET");
        if status {
            cmd.push_str(" STATUS");
        }
        let mut expected = Vec::new();
        for ((printed, filter), events) in groups {
            let list = if events.is_empty() {
                "NONE".to_string()
            } else {
                let names: Vec<&str> = events.iter().map(|(p, _)| p.as_str()).collect();
                format!("({})", names.join(" "))
            };
            cmd.push_str(&format!(" ({printed} {list})"));
            expected.push(EventGroup {
                filter,
                events: events.into_iter().map(|(_, e)| e).collect(),
            });
        }
        cmd.push_str("\r\n");
        let parsed = parse_command(cmd.as_bytes(), &ParseOptions::default()).map(|c| c.body);
        prop_assert_eq!(
            parsed,
            Ok(CommandBody::Notify(Some(NotifySet { status, groups: expected })))
        );
    }
}
