//! `DavStore`: a collection's modification time, the change log read a bounded page at a
//! time, and ACL edits made inside one atomic step.

use std::collections::BTreeSet;

use super::{fresh, Open, BOB};
use crate::storage::davstore::*;
use crate::storage::StorageError;

fn obj(name: &str) -> NewObject {
    NewObject {
        name: name.into(),
        uid: name.into(),
        data: format!("data of {name}"),
        component: "VEVENT".into(),
        first: None,
        last: None,
    }
}

/// This machine's clock; the store's (on PostgreSQL the database server's, maybe on
/// another host) may be up to `CLOCK_SKEW` from it.
fn now() -> i64 {
    crate::storage::now_secs() as i64
}

/// The earliest a store's clock can read after this machine's read `t`.
fn earliest(t: i64) -> i64 {
    t - super::CLOCK_SKEW
}

/// The latest a store's clock can read before this machine's reads `now()`.
fn latest() -> i64 {
    now() + super::CLOCK_SKEW
}

/// A collection's `modified` starts unknown and moves (never backwards, never past the
/// clock) with a put, a delete and a change of properties, and matches the time its last
/// member write recorded; a refused write leaves it.
pub fn dav_collection_modified_moves(open: Open) {
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let load = || store.dav_collection(BOB, "calendar").unwrap().unwrap();
    let cal = load();
    assert_eq!(cal.modified, 0, "never changed");
    let before = earliest(now());
    let PutOutcome::Stored { object, .. } = store
        .dav_put(cal.id, &obj("a.ics"), &Condition::Absent)
        .unwrap()
    else {
        panic!("not stored");
    };
    let after_put = load();
    assert!(after_put.modified >= before && after_put.modified <= latest());
    assert_eq!(after_put.modified, object.modified, "the member's time");
    assert_eq!(
        store
            .dav_put(cal.id, &obj("a.ics"), &Condition::Absent)
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(load(), after_put, "a refused write changes nothing");
    assert_eq!(
        store.dav_delete(cal.id, "a.ics", &Condition::Any).unwrap(),
        DeleteOutcome::Deleted
    );
    let after_delete = load();
    assert!(after_delete.modified >= after_put.modified && after_delete.modified <= latest());
    let props = CollectionProps {
        display_name: "Work".into(),
        ..CollectionProps::default()
    };
    let set = store.dav_set_props(BOB, "calendar", &props).unwrap();
    assert!(set.modified >= after_delete.modified && set.modified <= latest());
    assert_eq!(load().modified, set.modified);
    // The others are untouched.
    assert_eq!(
        store
            .dav_collection(BOB, "tasks")
            .unwrap()
            .unwrap()
            .modified,
        0
    );
}

/// A collection of 10,000 objects with deletions read a page at a time: each page holds at
/// most the limit, each name once, in counter order; following the tokens reaches every
/// change exactly once and ends on the counter; the initial sync lists live objects only;
/// an expired token and a limit of 0 are refused.
pub fn dav_changes_read_in_bounded_pages(open: Open) {
    const N: usize = 10_000;
    const LIMIT: usize = 700;
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    for i in 0..N {
        store
            .dav_put(cal.id, &obj(&format!("{i:05}.ics")), &Condition::Any)
            .unwrap();
    }
    let mid = store.dav_collection(BOB, "calendar").unwrap().unwrap().sync;
    // After `mid`: 100 deleted, 50 changed again, one deleted and put back.
    for i in 0..100 {
        let name = format!("{:05}.ics", i * 7);
        store.dav_delete(cal.id, &name, &Condition::Any).unwrap();
    }
    for i in 0..50 {
        let name = format!("{:05}.ics", 9_000 + i);
        store.dav_put(cal.id, &obj(&name), &Condition::Any).unwrap();
    }
    store
        .dav_put(cal.id, &obj("00000.ics"), &Condition::Any)
        .unwrap();
    let end = store.dav_collection(BOB, "calendar").unwrap().unwrap().sync;

    // Follows the tokens from `from`; returns (changed, deleted) as sets and the pages read.
    let walk = |from: u64| {
        let (mut token, mut floor, mut pages) = (from, from, 0usize);
        let (mut changed, mut deleted) = (BTreeSet::new(), BTreeSet::new());
        let mut last_at = from;
        // Bounded: every page but the last holds `LIMIT` entries.
        for _ in 0..=(N / LIMIT + 2) {
            let ChangePage::Page {
                changes,
                token: next,
                more,
                floor: next_floor,
            } = store.dav_changes_page(cal.id, token, floor, LIMIT).unwrap()
            else {
                panic!("expired at {token}");
            };
            pages += 1;
            assert!(changes.len() <= LIMIT, "{} > {LIMIT}", changes.len());
            let mut here = BTreeSet::new();
            for c in &changes {
                assert!(c.at > last_at && c.at <= next, "counter order");
                last_at = c.at;
                assert!(here.insert(c.name.clone()), "{} twice in a page", c.name);
                let (mine, other) = if c.deleted {
                    (&mut deleted, &mut changed)
                } else {
                    (&mut changed, &mut deleted)
                };
                other.remove(&c.name);
                assert!(mine.insert(c.name.clone()), "{} reported twice", c.name);
            }
            (token, floor) = (next, next_floor);
            if !more {
                assert_eq!(token, end, "the last page ends on the counter");
                return (changed, deleted, pages);
            }
            assert_eq!(changes.len(), LIMIT, "a cut page is full");
        }
        panic!("no last page");
    };
    // The initial sync in one page: the live objects, no deletion.
    let ChangePage::Page { changes, more, .. } =
        store.dav_changes_page(cal.id, 0, 0, 2 * N).unwrap()
    else {
        panic!("expired");
    };
    assert!(!more);
    assert_eq!(changes.len(), N - 100 + 1, "live objects");
    assert!(
        changes.iter().all(|c| !c.deleted),
        "no deletion from token 0"
    );
    // In pages: the pages after the first carry its counter as their floor, so they
    // report no deletion made before it (of names the client never saw).
    let (changed, deleted, pages) = walk(0);
    assert_eq!(changed.len(), N - 100 + 1, "live objects");
    assert!(deleted.is_empty(), "{deleted:?}");
    assert!(changed.is_disjoint(&deleted));
    assert!(pages >= (N - 99).div_ceil(LIMIT) && pages <= N.div_ceil(LIMIT) + 1);
    let (changed, deleted, _) = walk(mid);
    assert_eq!(changed.len(), 51, "{changed:?}");
    assert!(changed.contains("00000.ics") && !deleted.contains("00000.ics"));
    assert_eq!(deleted.len(), 99);
    // The same answer as the whole list.
    let Changes::Since {
        changed: all_changed,
        deleted: all_deleted,
        ..
    } = store.dav_changes(cal.id, mid).unwrap()
    else {
        panic!("expired");
    };
    assert_eq!(changed, all_changed.into_iter().collect());
    assert_eq!(deleted, all_deleted.into_iter().collect());
    assert_eq!(
        store.dav_changes_page(cal.id, end + 1, 0, LIMIT).unwrap(),
        ChangePage::Expired
    );
    store.dav_prune_tombstones(cal.id, 10).unwrap();
    assert_eq!(
        store.dav_changes_page(cal.id, mid, mid, LIMIT).unwrap(),
        ChangePage::Expired
    );
    assert!(matches!(
        store.dav_changes_page(cal.id, 0, 0, 0),
        Err(StorageError::Invalid(_))
    ));
}

/// An initial sync read in small pages after tombstones were pruned (the collection's
/// `expired_below` above the first pages' tokens) reaches its end: every live object once,
/// no deletion, never Expired; a continuation expires only once tombstones above its floor
/// are pruned, and a floor above the counter is refused.
pub fn dav_initial_sync_pages_survive_pruning(open: Open) {
    const LIMIT: usize = 3;
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    let put = |name: &str| {
        store.dav_put(cal.id, &obj(name), &Condition::Any).unwrap();
    };
    // Live objects below, between and above 20 deletions, all pruned.
    let mut live = BTreeSet::new();
    for i in 0..40 {
        let name = format!("live-{i:02}.ics");
        put(&name);
        live.insert(name);
        if i % 2 == 0 {
            let gone = format!("gone-{i:02}.ics");
            put(&gone);
            store.dav_delete(cal.id, &gone, &Condition::Any).unwrap();
        }
    }
    store.dav_prune_tombstones(cal.id, 0).unwrap();
    let coll = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    assert!(coll.expired_below > LIMIT as u64, "pruned: {coll:?}");

    let (mut token, mut floor) = (0, 0);
    let mut seen = BTreeSet::new();
    let mut continuation = None;
    for _ in 0..=(live.len() / LIMIT + 1) {
        let page = store.dav_changes_page(cal.id, token, floor, LIMIT).unwrap();
        let ChangePage::Page {
            changes,
            token: next,
            more,
            floor: next_floor,
        } = page
        else {
            panic!("expired at {token} (floor {floor})");
        };
        for c in changes {
            assert!(!c.deleted, "{} reported deleted", c.name);
            assert!(seen.insert(c.name.clone()), "{} twice", c.name);
        }
        (token, floor) = (next, next_floor);
        if !more {
            break;
        }
        assert!(floor >= coll.sync, "the first page's counter carried");
        continuation.get_or_insert((token, floor));
    }
    assert_eq!(seen, live, "every live object once");
    assert_eq!(
        (token, floor),
        (coll.sync, coll.sync),
        "ends on the counter"
    );

    // The same continuation alone (its floor dropped) is older than the pruned tombstones.
    let (t, f) = continuation.expect("more than one page");
    assert!(t < coll.expired_below);
    assert_eq!(
        store.dav_changes_page(cal.id, t, 0, LIMIT).unwrap(),
        ChangePage::Expired
    );
    assert_eq!(
        store
            .dav_changes_page(cal.id, t, coll.sync + 1, LIMIT)
            .unwrap(),
        ChangePage::Expired,
        "a floor above the counter"
    );
    // A deletion after the first page is reported; once pruned, the continuation expires.
    store
        .dav_delete(cal.id, "live-39.ics", &Condition::Any)
        .unwrap();
    let ChangePage::Page { changes, .. } = store.dav_changes_page(cal.id, t, f, 1_000).unwrap()
    else {
        panic!("expired");
    };
    assert!(changes.iter().any(|c| c.deleted && c.name == "live-39.ics"));
    store.dav_prune_tombstones(cal.id, 0).unwrap();
    assert_eq!(
        store.dav_changes_page(cal.id, t, f, LIMIT).unwrap(),
        ChangePage::Expired
    );
}

/// ACL edits are read-modify-write inside the store: eight writers each adding their own
/// entries, concurrently, to what they find lose none; an invalid result changes nothing.
pub fn dav_acl_edits_are_atomic(open: Open) {
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    const WRITERS: usize = 8;
    const EACH: usize = 10;
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let store = &store;
            s.spawn(move || {
                for k in 0..EACH {
                    let mine = (format!("user{w}-{k}@example.com"), "lr".to_string());
                    let edit = |old: &[(String, String)]| {
                        let mut acl = old.to_vec();
                        acl.push(mine.clone());
                        acl
                    };
                    store.dav_edit_acl(cal.id, &edit).unwrap();
                }
            });
        }
    });
    let acl = store.dav_get_acl(cal.id).unwrap();
    assert_eq!(acl.len(), WRITERS * EACH, "{acl:?}");
    let bad = |_: &[(String, String)]| vec![("not an address".to_string(), "lr".to_string())];
    assert!(matches!(
        store.dav_edit_acl(cal.id, &bad),
        Err(StorageError::Invalid(_))
    ));
    assert_eq!(store.dav_get_acl(cal.id).unwrap(), acl);
    let none = |_: &[(String, String)]| Vec::new();
    assert!(matches!(
        store.dav_edit_acl(u64::MAX >> 1, &none),
        Err(StorageError::NotFound(_))
    ));
}
