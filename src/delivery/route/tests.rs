use super::*;
use crate::storage::testutil::opened;
use crate::storage::{DsnNotify, NotifyList, Writers};

/// example.com is local with bob and carol; "team" is an alias for both.
fn directory() -> (tempfile::TempDir, Store, Writers) {
    let (dir, store, writers) = opened();
    store.add_domain("example.com").expect("domain");
    for a in ["bob@example.com", "carol@example.com"] {
        store.add_account(a, "secret", false).expect("account");
    }
    store
        .add_alias("team@example.com", "bob@example.com")
        .expect("alias");
    store
        .add_alias("team@example.com", "carol@example.com")
        .expect("alias");
    (dir, store, writers)
}

fn record(rcpts: &[&str]) -> QueueRecord {
    let recipients = rcpts.iter().map(|r| QueueRecipient::new(r)).collect();
    let blob = crate::storage::BlobId([7; 32]);
    QueueRecord::inbound(
        7,
        blob,
        10,
        "x@sender.test".into(),
        recipients,
        "test".into(),
        0,
    )
}

fn addresses(list: &[QueueRecipient]) -> Vec<&str> {
    list.iter().map(|r| r.address.as_str()).collect()
}

#[test]
fn local_remote_and_unknown_recipients_are_split() {
    let (_d, store, _) = directory();
    let routes = route(
        &store,
        &record(&["Bob@Example.com", "far@remote.test", "nobody@example.com"]),
    )
    .expect("routed");
    assert_eq!(addresses(&routes.local), ["bob@example.com"]);
    assert_eq!(addresses(&routes.remote), ["far@remote.test"]);
    assert_eq!(addresses(&routes.bad), ["nobody@example.com"]);
    assert_eq!(routes.bad[0].last_error.as_deref(), Some(NO_SUCH_MAILBOX));
}

#[test]
fn aliases_and_plus_addresses_reach_each_account_once() {
    let (_d, store, _) = directory();
    let mut rec = record(&["team@example.com", "bob+lists@example.com"]);
    rec.recipients[0].notify = Some(NotifyList::new(vec![DsnNotify::Success]));
    let routes = route(&store, &rec).expect("routed");
    assert_eq!(
        addresses(&routes.local),
        ["bob@example.com", "carol@example.com"]
    );
    // The expanded recipients keep the original's DSN parameters.
    assert!(routes
        .local
        .iter()
        .all(|r| r.notify == Some(NotifyList::new(vec![DsnNotify::Success]))));
    assert!(routes.remote.is_empty() && routes.bad.is_empty());
}

#[test]
fn delivered_recipients_are_not_routed_again() {
    let (_d, store, _) = directory();
    let mut rec = record(&["bob@example.com", "carol@example.com"]);
    rec.recipients[0].delivered = true;
    let routes = route(&store, &rec).expect("routed");
    assert_eq!(addresses(&routes.local), ["carol@example.com"]);
}

#[test]
fn records_are_made_per_queue_with_new_ids() {
    let (_d, store, _) = directory();
    let rec = record(&["bob@example.com", "far@remote.test", "nobody@example.com"]);
    let mut next = 100;
    let records = route(&store, &rec)
        .expect("routed")
        .into_records(&rec, || {
            next += 1;
            Ok(next)
        })
        .expect("records");
    let made: Vec<(QueueName, QueueId)> = records.iter().map(|r| (r.queue, r.id)).collect();
    assert_eq!(
        made,
        [
            (QueueName::Local, 101),
            (QueueName::Remote, 102),
            (QueueName::Bad, 103)
        ]
    );
    assert_eq!(records[2].last_error.as_deref(), Some("no such mailbox"));
    assert!(records.iter().all(|r| r.blob == rec.blob && r.size == 10));
    // Nothing left to route: no records.
    let empty = Routes::default()
        .into_records(&rec, || Ok(1))
        .expect("records");
    assert!(empty.is_empty());
}

#[test]
fn target_folder_follows_the_hint_its_special_use_then_inbox() {
    let (_d, store, writers) = directory();
    let inbox = store.folder_id("bob@example.com", "INBOX").unwrap();
    assert!(inbox.is_some());
    assert_eq!(
        target_folder(&store, "bob@example.com", None).unwrap(),
        inbox
    );
    // A folder named as the hint.
    let junk = store
        .create_folder("bob@example.com", "Quarantine", None)
        .expect("folder");
    assert_eq!(
        target_folder(&store, "bob@example.com", Some("Quarantine")).unwrap(),
        Some(junk)
    );
    // The user renamed Junk: a "Junk" hint finds it by its special use.
    let junk_of_carol = store
        .folder_id("carol@example.com", "Junk")
        .unwrap()
        .expect("default Junk");
    writers
        .folders
        .rename_folder(junk_of_carol, "Spam")
        .expect("rename");
    assert_eq!(
        target_folder(&store, "carol@example.com", Some("Junk")).unwrap(),
        Some(junk_of_carol)
    );
    // Neither: INBOX.
    assert_eq!(
        target_folder(&store, "bob@example.com", Some("Nowhere")).unwrap(),
        inbox
    );
    // No such account: no folder.
    assert_eq!(
        target_folder(&store, "ghost@example.com", None).unwrap(),
        None
    );
}
