//! Snooze records (`storage::snooze`).

use super::{fresh, Open, ALICE, BOB};
use crate::storage::{SnoozeRecord, StorageError};

fn rec(id: u64, account: &str, wake: i64) -> SnoozeRecord {
    SnoozeRecord {
        id,
        account: account.into(),
        wake,
        folder: "INBOX".into(),
        from_uid: 7,
        snoozed_uid: None,
        email_id: format!("M{id:024x}"),
    }
}

/// Records come back by id and in wake order (ties by id), the due ones up to a limit,
/// the next wake time is the earliest; a put replaces the record of its id (a new wake
/// time moves it), a delete says whether there was one; records survive a reopen; an id
/// of 2^63 or more is refused.
pub fn snooze_round_trip(open: Open) {
    let (dir, store) = fresh(open);
    assert_eq!(store.snooze_next().unwrap(), None);
    assert!(store.snooze_due(i64::MAX, 10).unwrap().is_empty());
    let a = rec(3, BOB, 2_000);
    let b = rec(1, ALICE, 1_000);
    let c = rec(2, BOB, 2_000);
    let d = rec(4, "Bob@Example.com", 3_000);
    for r in [&a, &b, &c, &d] {
        store.snooze_put(r).unwrap();
    }
    let d = SnoozeRecord {
        account: BOB.into(),
        ..d
    };
    assert_eq!(store.snooze_get(3).unwrap(), Some(a.clone()));
    assert_eq!(store.snooze_get(9).unwrap(), None);
    assert_eq!(store.snooze_next().unwrap(), Some(1_000));
    assert_eq!(
        store.snooze_list().unwrap(),
        vec![b.clone(), c.clone(), a.clone(), d.clone()]
    );
    assert_eq!(store.snooze_due(999, 10).unwrap(), vec![]);
    assert_eq!(
        store.snooze_due(2_000, 10).unwrap(),
        vec![b.clone(), c.clone(), a.clone()]
    );
    assert_eq!(
        store.snooze_due(2_000, 2).unwrap(),
        vec![b.clone(), c.clone()]
    );
    assert_eq!(
        store.snooze_of("BOB@example.com").unwrap(),
        vec![c.clone(), a.clone(), d.clone()]
    );
    assert_eq!(store.snooze_of(ALICE).unwrap(), vec![b.clone()]);

    // A put replaces: the UID in Snoozed set, and a later wake time moves it.
    let b2 = SnoozeRecord {
        snoozed_uid: Some(42),
        wake: 5_000,
        ..b.clone()
    };
    store.snooze_put(&b2).unwrap();
    assert_eq!(store.snooze_get(1).unwrap(), Some(b2.clone()));
    assert_eq!(store.snooze_next().unwrap(), Some(2_000));
    assert_eq!(
        store.snooze_list().unwrap(),
        vec![c.clone(), a.clone(), d.clone(), b2.clone()]
    );

    assert!(store.snooze_delete(2).unwrap());
    assert!(!store.snooze_delete(2).unwrap());
    assert_eq!(store.snooze_get(2).unwrap(), None);

    let huge = rec(1 << 63, BOB, 1);
    assert!(matches!(
        store.snooze_put(&huge),
        Err(StorageError::Invalid(_))
    ));

    store.commit().unwrap();
    drop(store);
    let store = open(dir.path()).expect("reopen");
    assert_eq!(store.snooze_list().unwrap(), vec![a, d, b2]);
}
