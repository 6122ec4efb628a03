//! [`Known`]: other nodes' changes are told once, this node's own never a second time.

use super::{Known, MailboxChanged};
use crate::storage::{BlobId, Flags, FolderState, MessageRecord};

const F: u64 = 7;

fn start(uidnext: u32, modseq: u64) -> Known {
    Known::new(&FolderState {
        id: F,
        account: "a@example.com".into(),
        name: "INBOX".into(),
        special_use: None,
        uidvalidity: 1,
        uidnext,
        highest_modseq: modseq,
        exists: uidnext - 1,
        subscribed: true,
        unseen: 0,
        deleted: 0,
        size: 0,
        noselect: false,
    })
}

fn record(uid: u32, modseq: u64, seen: bool) -> MessageRecord {
    let mut flags = Flags::default();
    if seen {
        flags.system |= Flags::SEEN;
    }
    MessageRecord {
        uid,
        flags,
        size: 10,
        internal_date: 0,
        blob: BlobId([0; 32]),
        modseq,
        save_date: 0,
    }
}

fn added(uid: u32, modseq: u64) -> MailboxChanged {
    MailboxChanged::Added {
        folder: F,
        uid,
        modseq,
    }
}

#[test]
fn another_nodes_arrivals_flags_and_expunges_are_told() {
    // Messages 1..=3 at modseq 5; another node adds 4 (6), flags 2 (7), expunges 1 (8).
    let mut k = start(4, 5);
    let out = k.remote(F, 8, vec![record(2, 7, true), record(4, 6, false)], vec![1]);
    assert_eq!(
        out,
        vec![
            MailboxChanged::Flags {
                folder: F,
                uid: 2,
                flags: record(2, 7, true).flags,
                modseq: 7
            },
            added(4, 6),
            MailboxChanged::Expunged {
                folder: F,
                uids: vec![1],
                modseq: 8
            },
        ]
    );
    assert_eq!(k.modseq(), 8);
    // Heard again (a poll after the notification): nothing new.
    assert_eq!(k.remote(F, 8, Vec::new(), Vec::new()), Vec::new());
    // The arrival is known now: a later flag change of it is a flag change.
    let out = k.remote(F, 9, vec![record(4, 9, true)], Vec::new());
    assert!(matches!(
        out.as_slice(),
        [MailboxChanged::Flags { uid: 4, .. }]
    ));
}

#[test]
fn this_nodes_changes_are_not_told_twice() {
    let mut k = start(4, 5);
    // Another node writes modseq 6 (uid 4); before hearing of it, this node appends uid 5
    // (modseq 7), flags uid 1 (8) and expunges uid 2 (9).
    k.local(&added(5, 7));
    k.local(&MailboxChanged::Flags {
        folder: F,
        uid: 1,
        flags: Flags::default(),
        modseq: 8,
    });
    k.local(&MailboxChanged::Expunged {
        folder: F,
        uids: vec![2],
        modseq: 9,
    });
    assert_eq!(k.modseq(), 5, "modseq 6 is not told yet");
    let out = k.remote(
        F,
        6,
        vec![
            record(1, 8, false),
            record(4, 6, false),
            record(5, 7, false),
        ],
        vec![2],
    );
    assert_eq!(out, vec![added(4, 6)]);
    assert_eq!(k.modseq(), 9);
}

#[test]
fn contiguous_local_changes_need_no_diff() {
    let mut k = start(4, 5);
    k.local(&added(4, 6));
    k.local(&added(5, 6));
    k.local(&MailboxChanged::Expunged {
        folder: F,
        uids: vec![1],
        modseq: 7,
    });
    assert_eq!(k.modseq(), 7);
    // A poll that finds modseq 7 has nothing to tell.
    assert_eq!(k, start(6, 7));
}

#[test]
fn an_arrival_of_another_node_between_two_of_ours_is_told() {
    let mut k = start(4, 5);
    // This node appends uid 4 (6); another node uid 5 (7); this node uid 6 (8).
    k.local(&added(4, 6));
    k.local(&added(6, 8));
    assert_eq!(k.modseq(), 6);
    let out = k.remote(
        F,
        8,
        vec![record(5, 7, false), record(6, 8, false)],
        Vec::new(),
    );
    assert_eq!(out, vec![added(5, 7)]);
    // And a later flag change of ours or theirs on uid 6 is a flag change.
    let out = k.remote(F, 9, vec![record(6, 9, true)], Vec::new());
    assert!(matches!(
        out.as_slice(),
        [MailboxChanged::Flags { uid: 6, .. }]
    ));
}
