//! Calendar collections' Schedule-Tags and whole-ACL replacement (`storage::davstore`).

use super::{fresh, Open, ALICE, BOB};
use crate::storage::davstore::*;
use crate::storage::StorageError;

fn obj(name: &str, uid: &str, data: &str) -> NewObject {
    NewObject {
        name: name.into(),
        uid: uid.into(),
        data: data.into(),
        component: "VEVENT".into(),
        first: None,
        last: None,
    }
}

fn stored(outcome: PutOutcome) -> DavObject {
    match outcome {
        PutOutcome::Stored { object, .. } => object,
        other => panic!("not stored: {other:?}"),
    }
}

/// A put gives a new Schedule-Tag (the put's counter value) unless it keeps the replaced
/// object's; a new object gets one either way; a failed condition changes nothing; the tag
/// is read back by get and list.
pub fn dav_schedule_tags(open: Open) {
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    let first = stored(
        store
            .dav_put_with(cal.id, &obj("a.ics", "a", "one"), &Condition::Absent, true)
            .unwrap(),
    );
    assert_eq!(first.schedule_tag, first.changed, "a new object gets a tag");
    let merged = stored(
        store
            .dav_put_with(
                cal.id,
                &obj("a.ics", "a", "two"),
                &Condition::Match(first.etag.clone()),
                true,
            )
            .unwrap(),
    );
    assert!(merged.changed > first.changed);
    assert_ne!(merged.etag, first.etag);
    assert_eq!(merged.schedule_tag, first.schedule_tag, "kept");
    let changed = stored(
        store
            .dav_put(cal.id, &obj("a.ics", "a", "three"), &Condition::Any)
            .unwrap(),
    );
    assert_eq!(changed.schedule_tag, changed.changed, "a new tag");
    assert!(changed.schedule_tag > merged.schedule_tag);
    assert_eq!(
        store
            .dav_put_with(
                cal.id,
                &obj("a.ics", "a", "four"),
                &Condition::Match(first.etag.clone()),
                false,
            )
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    let got = store.dav_get(cal.id, "a.ics").unwrap().unwrap();
    assert_eq!(got, changed);
    assert_eq!(store.dav_objects(cal.id).unwrap(), vec![changed.clone()]);
    // Deleted and made again: a tag above every earlier one.
    store.dav_delete(cal.id, "a.ics", &Condition::Any).unwrap();
    let again = stored(
        store
            .dav_put_with(cal.id, &obj("a.ics", "a", "five"), &Condition::Absent, true)
            .unwrap(),
    );
    assert!(again.schedule_tag > changed.schedule_tag);
}

/// An ACL replaced whole: identifiers and rights normalised, repeated identifiers joined,
/// empty entries dropped, the old entries gone (and unshared); a bad entry anywhere changes
/// nothing.
pub fn dav_acl_replaced_whole(open: Open) {
    let (_dir, store) = fresh(open);
    const CAROL: &str = "carol@example.com";
    store.add_account(CAROL, "carol-pw", false).unwrap();
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    store.dav_set_acl(cal.id, ALICE, "lr").unwrap();
    let acl = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    store
        .dav_replace_acl(
            cal.id,
            &acl(&[("Carol@Example.com", "rl"), (CAROL, "wi"), ("anyone", "")]),
        )
        .unwrap();
    assert_eq!(store.dav_get_acl(cal.id).unwrap(), acl(&[(CAROL, "lrwi")]));
    let shared: Vec<String> = store
        .dav_shared_with(ALICE)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert!(shared.is_empty(), "alice's entry went: {shared:?}");
    assert_eq!(store.dav_shared_with(CAROL).unwrap().len(), 1);
    for bad in [
        acl(&[(ALICE, "lr"), (CAROL, "lq")]),
        acl(&[(ALICE, "lr"), ("not an address", "lr")]),
        acl(&[(ALICE, "+lr")]),
    ] {
        assert!(
            matches!(
                store.dav_replace_acl(cal.id, &bad),
                Err(StorageError::Invalid(_))
            ),
            "{bad:?}"
        );
        assert_eq!(store.dav_get_acl(cal.id).unwrap(), acl(&[(CAROL, "lrwi")]));
    }
    store.dav_replace_acl(cal.id, &[]).unwrap();
    assert_eq!(store.dav_get_acl(cal.id).unwrap(), vec![]);
    assert!(store.dav_shared_with(CAROL).unwrap().is_empty());
    assert!(matches!(
        store.dav_replace_acl(u64::MAX - 7, &acl(&[(ALICE, "lr")])),
        Err(StorageError::NotFound(_))
    ));
}

/// `storage check`'s DAV part (`storage::check_dav`) counts the collections, objects and
/// ACL entries, and reports an ACL entry that names no account.
pub fn dav_storage_check(open: Open) {
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    store.dav_collections(ALICE).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    for (n, u) in [("a.ics", "a"), ("b.ics", "b")] {
        stored(
            store
                .dav_put(cal.id, &obj(n, u, &format!("data {u}")), &Condition::Absent)
                .unwrap(),
        );
    }
    store.dav_set_acl(cal.id, ALICE, "lr").unwrap();
    let clean = crate::storage::check_dav::check_dav(&store).unwrap();
    assert!(clean.problems.is_empty(), "{clean:?}");
    assert_eq!(clean.objects, 2);
    assert_eq!(clean.acl_entries, 1);
    assert_eq!(
        clean.collections,
        store.dav_all_collections().unwrap().len() as u64
    );
    assert!(clean.collections >= 6, "{clean:?}");
    store
        .dav_set_acl(cal.id, "ghost@example.com", "lr")
        .unwrap();
    let found = crate::storage::check_dav::check_dav(&store).unwrap();
    assert_eq!(found.problems.len(), 1, "{found:?}");
    assert!(found.problems[0].contains("ghost@example.com"), "{found:?}");
    let report = crate::storage::check::check(&store).unwrap();
    assert!(!report.ok());
    assert!(
        report.render().contains("calendars and contacts: "),
        "{}",
        report.render()
    );
}
