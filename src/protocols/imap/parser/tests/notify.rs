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
