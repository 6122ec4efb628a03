//! NOTIFY in one session over the in-memory backend: which events become which responses,
//! for which mailboxes, and when.

use super::super::backend::{Backend, NewMessage};
use super::super::fuzz::{MemBackend, OTHER, USER};
use super::super::session::{Action, FolderChange, Session, SessionConfig};
use super::{AccountEvent, MessageKind};

fn login(backend: &MemBackend) -> Session {
    let mut s = Session::new(
        SessionConfig {
            hostname: "mx.test".into(),
            starttls_available: false,
            allow_plaintext: true,
            append_limit: 1 << 20,
            max_line: 8192,
            unauthenticate: true,
        },
        true,
    );
    s.greeting();
    s.receive(b"a LOGIN x y\r\n", backend);
    s.resume_auth(Some(USER.into()), backend);
    s
}

fn text(actions: Vec<Action>) -> String {
    let mut t = String::new();
    for a in actions {
        if let Action::Send(b) = a {
            t.push_str(&String::from_utf8_lossy(&b));
        }
    }
    t
}

fn run(s: &mut Session, b: &MemBackend, input: &str) -> String {
    text(s.receive(input.as_bytes(), b))
}

fn folder(b: &MemBackend, owner: &str, name: &str) -> u64 {
    match b.find_folder(owner, name) {
        Ok(Some(f)) => f.id,
        other => panic!("{owner}/{name}: {other:?}"),
    }
}

fn message_event(s: &mut Session, b: &MemBackend, name: &str, kind: MessageKind) -> String {
    let folder = folder(b, USER, name);
    text(s.account_event(AccountEvent::Message { folder, kind }, b))
}

#[test]
fn other_mailboxes_get_status_for_the_events_asked_for() {
    let b = MemBackend::new();
    let mut s = login(&b);
    run(&mut s, &b, "s SELECT INBOX\r\n");
    let r = run(
        &mut s,
        &b,
        "n NOTIFY SET (personal (MessageNew MessageExpunge))\r\n",
    );
    assert_eq!(r, "n OK NOTIFY completed\r\n");
    let uv = b.folder(folder(&b, USER, "Sent")).map(|f| f.uidvalidity);
    assert_eq!(
        message_event(&mut s, &b, "Sent", MessageKind::New),
        format!(
            "* STATUS Sent (MESSAGES 0 UIDNEXT 1 UIDVALIDITY {})\r\n",
            uv.unwrap_or(0)
        )
    );
    assert_eq!(
        message_event(&mut s, &b, "Sent", MessageKind::Expunge),
        "* STATUS Sent (MESSAGES 0)\r\n"
    );
    // FlagChange was not asked for; the selected mailbox is reported as selected.
    assert_eq!(message_event(&mut s, &b, "Sent", MessageKind::Flags), "");
    assert_eq!(message_event(&mut s, &b, "INBOX", MessageKind::New), "");
    // NOTIFY NONE: nothing any more.
    run(&mut s, &b, "z NOTIFY NONE\r\n");
    assert_eq!(message_event(&mut s, &b, "Sent", MessageKind::New), "");
}

#[test]
fn the_first_matching_group_decides() {
    let b = MemBackend::new();
    let mut s = login(&b);
    let r = run(
        &mut s,
        &b,
        "n NOTIFY SET (mailboxes Sent NONE) (subtree Archive (FlagChange)) \
         (personal (MessageNew MessageExpunge))\r\n",
    );
    assert_eq!(r, "n OK NOTIFY completed\r\n");
    assert_eq!(message_event(&mut s, &b, "Sent", MessageKind::New), "");
    assert!(message_event(&mut s, &b, "Drafts", MessageKind::New).starts_with("* STATUS Drafts"));
    // Archive/2023 is in the subtree group, which only asked for FlagChange.
    assert_eq!(
        message_event(&mut s, &b, "Archive/2023", MessageKind::New),
        ""
    );
    assert!(
        message_event(&mut s, &b, "Archive/2023", MessageKind::Flags)
            .starts_with("* STATUS Archive/2023 (UIDVALIDITY ")
    );
}

#[test]
fn an_overflow_is_told_once_and_turns_notify_off() {
    let b = MemBackend::new();
    let mut s = login(&b);
    run(
        &mut s,
        &b,
        "n NOTIFY SET (personal (MessageNew MessageExpunge))\r\n",
    );
    assert_eq!(
        text(s.notify_overflow()),
        "* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is now off\r\n"
    );
    assert_eq!(text(s.notify_overflow()), "");
    assert_eq!(message_event(&mut s, &b, "Sent", MessageKind::New), "");
}

fn expunge(s: &mut Session, b: &MemBackend, uid: u32) -> String {
    text(s.folder_changed(FolderChange::Expunged { uids: vec![uid] }, b))
}

#[test]
fn selected_reports_at_once_and_selected_delayed_holds_expunges() {
    let b = MemBackend::new();
    let mut s = login(&b);
    run(&mut s, &b, "s SELECT INBOX\r\n");
    // Without NOTIFY, changes wait for a command.
    assert_eq!(expunge(&mut s, &b, 1), "");
    assert_eq!(
        run(&mut s, &b, "x NOOP\r\n"),
        "* 1 EXPUNGE\r\nx OK NOOP completed\r\n"
    );

    run(
        &mut s,
        &b,
        "n NOTIFY SET (selected (MessageNew MessageExpunge))\r\n",
    );
    assert_eq!(expunge(&mut s, &b, 2), "* 1 EXPUNGE\r\n");

    run(
        &mut s,
        &b,
        "n NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))\r\n",
    );
    assert_eq!(expunge(&mut s, &b, 3), "");
    let flags = FolderChange::Flags {
        uid: 4,
        flags: 0,
        keywords: vec![],
        modseq: 1000,
    };
    // UID 3 still holds sequence number 1.
    assert_eq!(
        text(s.folder_changed(flags, &b)),
        "* 2 FETCH (UID 4 FLAGS (\\Recent))\r\n"
    );
    assert_eq!(
        run(&mut s, &b, "x NOOP\r\n"),
        "* 1 EXPUNGE\r\nx OK NOOP completed\r\n"
    );
}

#[test]
fn message_new_fetches_what_it_asked_for() {
    let b = MemBackend::new();
    let mut s = login(&b);
    run(&mut s, &b, "s SELECT INBOX\r\n");
    run(
        &mut s,
        &b,
        "n NOTIFY SET (selected (MessageNew (UID RFC822.SIZE) MessageExpunge))\r\n",
    );
    let inbox = folder(&b, USER, "INBOX");
    let new = NewMessage {
        flags: 0,
        keywords: vec![],
        internal_date: 0,
        content: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
    };
    let uids = b.append(inbox, vec![new]).unwrap_or_default();
    let uid = uids.first().copied().unwrap_or(0);
    let r = text(s.folder_changed(FolderChange::Added { uid }, &b));
    assert_eq!(
        r,
        format!("* 5 EXISTS\r\n* 3 RECENT\r\n* 5 FETCH (UID {uid} RFC822.SIZE 21)\r\n")
    );
}

#[test]
fn mailbox_subscription_and_metadata_events() {
    let b = MemBackend::new();
    let mut s = login(&b);
    run(
        &mut s,
        &b,
        "n NOTIFY SET (mailboxes \"Other Users/bob@fuzz.test/Team\" (MailboxName)) \
         (personal (MailboxName SubscriptionChange MailboxMetadataChange ServerMetadataChange))\r\n",
    );
    let ev = |owner: &str, name: &str| AccountEvent::Created {
        owner: owner.into(),
        name: name.into(),
    };
    assert_eq!(
        text(s.account_event(ev(USER, "New"), &b)),
        "* LIST () \"/\" New\r\n"
    );
    let deleted = AccountEvent::Deleted {
        owner: USER.into(),
        name: "Old".into(),
    };
    assert_eq!(
        text(s.account_event(deleted, &b)),
        "* LIST (\\NonExistent) \"/\" Old\r\n"
    );
    // Another owner's mailbox the user may see, under the name the user sees.
    let renamed = AccountEvent::Renamed {
        owner: OTHER.into(),
        from: "Crew".into(),
        to: "Team".into(),
    };
    assert_eq!(
        text(s.account_event(renamed, &b)),
        "* LIST () \"/\" \"Other Users/bob@fuzz.test/Team\" \
         (\"OLDNAME\" (\"Other Users/bob@fuzz.test/Crew\"))\r\n"
    );
    // Subscriptions are the user's own business.
    let sub = |user: &str, on: bool| AccountEvent::Subscription {
        user: user.into(),
        name: "Sent".into(),
        on,
    };
    assert_eq!(text(s.account_event(sub(OTHER, true), &b)), "");
    assert_eq!(
        text(s.account_event(sub(USER, true), &b)),
        "* LIST (\\Subscribed) \"/\" Sent\r\n"
    );
    assert_eq!(
        text(s.account_event(sub(USER, false), &b)),
        "* LIST () \"/\" Sent\r\n"
    );
    // Another user's private entries are not news here; shared ones are.
    let meta = |mailbox: Option<(String, String)>, entry: &str| AccountEvent::Metadata {
        mailbox,
        entries: vec![entry.into()],
        private_to: Some(OTHER.into()),
    };
    let sent = Some((USER.to_string(), "Sent".to_string()));
    assert_eq!(
        text(s.account_event(meta(sent.clone(), "/private/x"), &b)),
        ""
    );
    assert_eq!(
        text(s.account_event(meta(sent, "/shared/x"), &b)),
        "* METADATA Sent /shared/x\r\n"
    );
    assert_eq!(
        text(s.account_event(meta(None, "/shared/admin"), &b)),
        "* METADATA \"\" /shared/admin\r\n"
    );
}

#[test]
fn the_session_asks_for_the_accounts_its_filters_name() {
    let b = MemBackend::new();
    let mut s = login(&b);
    let actions = s.receive(
        b"n NOTIFY SET (subtree \"Other Users/BOB@fuzz.test\" (MessageNew MessageExpunge)) \
          (mailboxes (INBOX \"Public Folders/Announcements\") (MessageNew MessageExpunge))\r\n",
        &b,
    );
    let watched: Vec<&Vec<String>> = actions
        .iter()
        .filter_map(|a| match a {
            Action::WatchAccounts(o) => Some(o),
            _ => None,
        })
        .collect();
    assert_eq!(
        watched,
        vec![&vec![USER.to_string(), OTHER.to_string(), String::new()]]
    );
    // A BAD or NO NOTIFY changes nothing and watches nothing.
    let actions = s.receive(b"m NOTIFY SET (personal (AnnotationChange))\r\n", &b);
    assert!(!actions
        .iter()
        .any(|a| matches!(a, Action::WatchAccounts(_))));
}
