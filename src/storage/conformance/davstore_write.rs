//! `DavStore::dav_write`: the modification time the store records and reads back, and the
//! Schedule-Tag decided on the object the write replaces, inside the write.

use super::{fresh, Open, BOB};
use crate::storage::davstore::*;

fn obj(name: &str, data: &str) -> NewObject {
    NewObject {
        name: name.into(),
        uid: name.into(),
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

/// A write records the store's time (get, list and page read it back; a failed condition
/// changes nothing; never earlier than the one before it); the Schedule-Tag decision sees
/// the object as it is inside the write (not as a caller read it before), and a new object
/// is not asked about.
pub fn dav_write_time_and_tag_decision(open: Open) {
    let (_dir, store) = fresh(open);
    store.dav_collections(BOB).unwrap();
    let cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    let asked = std::sync::Mutex::new(Vec::new());
    let decide = |o: &DavObject| {
        asked.lock().unwrap().push(o.data.clone());
        o.data == "keep me"
    };
    let write = |data: &str, cond: &Condition| {
        let w = Write {
            cond,
            keep_schedule_tag: &decide,
        };
        store.dav_write(cal.id, &obj("a.ics", data), &w).unwrap()
    };
    // The store's clock is this machine's (sled) or its database server's, possibly on
    // another host: between the system clock's seconds around the write, give or take
    // the skew allowed between the two clocks (`CLOCK_SKEW`).
    let before = crate::storage::now_secs() as i64 - super::CLOCK_SKEW;
    let first = stored(write("keep me", &Condition::Absent));
    let after = crate::storage::now_secs() as i64 + super::CLOCK_SKEW;
    assert!(
        (before..=after).contains(&first.modified),
        "{before} <= {} <= {after}",
        first.modified
    );
    assert!(
        asked.lock().unwrap().is_empty(),
        "nothing replaced, nothing asked"
    );
    // Another writer changes it between a reader's look and its write: the decision is
    // about what is replaced ("keep me" → kept).
    let second = stored(write("two", &Condition::Any));
    assert_eq!(
        second.schedule_tag, first.schedule_tag,
        "decided on \"keep me\""
    );
    assert!(second.modified >= first.modified);
    let third = stored(write("three", &Condition::Any));
    assert!(third.modified >= second.modified);
    assert_ne!(
        third.schedule_tag, second.schedule_tag,
        "decided on \"two\""
    );
    assert_eq!(
        asked.lock().unwrap().last().map(String::as_str),
        Some("two")
    );
    // A failed condition keeps the time.
    assert_eq!(
        write("four", &Condition::Match("\"nope\"".into())),
        PutOutcome::PreconditionFailed
    );
    let got = store.dav_get(cal.id, "a.ics").unwrap().unwrap();
    assert_eq!(got, third);
    assert_eq!(got.modified, third.modified);
    assert_eq!(store.dav_objects(cal.id).unwrap(), vec![third.clone()]);
    assert_eq!(
        store.dav_objects_page(cal.id, None, 10).unwrap(),
        vec![third.clone()]
    );
    // dav_put (the webmail's, imports', scheduling's) records the same clock's time.
    let plain = stored(
        store
            .dav_put(cal.id, &obj("b.ics", "b"), &Condition::Absent)
            .unwrap(),
    );
    assert!(plain.modified >= third.modified, "{}", plain.modified);
    assert!(plain.modified <= crate::storage::now_secs() as i64);
}
