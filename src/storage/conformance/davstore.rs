//! Calendar and contact collections (`storage::davstore`).

use super::{fresh, Open, ALICE, BOB};
use crate::storage::davstore::*;
use crate::storage::StorageError;

fn obj(name: &str, uid: &str, data: &str) -> NewObject {
    NewObject {
        name: name.into(),
        uid: uid.into(),
        data: data.into(),
        component: "VEVENT".into(),
        first: Some(1_000),
        last: Some(2_000),
    }
}

fn stored(outcome: PutOutcome) -> DavObject {
    match outcome {
        PutOutcome::Stored { object, .. } => object,
        other => panic!("not stored: {other:?}"),
    }
}

fn since(changes: Changes) -> (u64, Vec<String>, Vec<String>) {
    match changes {
        Changes::Since {
            token,
            changed,
            deleted,
        } => (token, changed, deleted),
        Changes::Expired => panic!("expired"),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Every account has the default calendar, task list and address book; collections are
/// created (names unique per owner, owner an account), listed, changed and deleted; and
/// deleting an account takes its collections and leaves the others'.
pub fn dav_collections_and_defaults(open: Open) {
    let (_dir, store) = fresh(open);
    let list = store.dav_collections(BOB).unwrap();
    let summary: Vec<(String, CollectionKind, Vec<String>)> = list
        .iter()
        .map(|c| (c.name.clone(), c.kind, c.components.clone()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "calendar".into(),
                CollectionKind::Calendar,
                names(&["VEVENT"])
            ),
            ("contacts".into(), CollectionKind::AddressBook, vec![]),
            ("tasks".into(), CollectionKind::Calendar, names(&["VTODO"])),
        ]
    );
    assert!(list.iter().all(|c| c.owner == BOB && c.sync == 0));
    // Deleted defaults stay deleted.
    store.dav_delete_collection(BOB, "tasks").unwrap();
    assert_eq!(store.dav_collections(BOB).unwrap().len(), 2);
    let new = NewCollection {
        owner: "Bob@Example.com".into(),
        name: "work".into(),
        kind: CollectionKind::Calendar,
        props: CollectionProps {
            display_name: "Work".into(),
            color: "#FF0000FF".into(),
            description: "Office".into(),
        },
        components: names(&["VEVENT", "VTODO"]),
    };
    let work = store.dav_create_collection(&new).unwrap();
    assert_eq!((work.owner.as_str(), work.name.as_str()), (BOB, "work"));
    assert_eq!(work.props, new.props);
    assert!(matches!(
        store.dav_create_collection(&new),
        Err(StorageError::Exists(_))
    ));
    let nobody = NewCollection {
        owner: "nobody@example.com".into(),
        ..new.clone()
    };
    assert!(matches!(
        store.dav_create_collection(&nobody),
        Err(StorageError::NotFound(_))
    ));
    let bad = NewCollection {
        name: "a/b".into(),
        ..new.clone()
    };
    assert!(matches!(
        store.dav_create_collection(&bad),
        Err(StorageError::Invalid(_))
    ));
    let props = CollectionProps {
        display_name: "Job".into(),
        ..CollectionProps::default()
    };
    let changed = store.dav_set_props(BOB, "work", &props).unwrap();
    assert_eq!(changed.props, props);
    assert_eq!(store.dav_collection(BOB, "work").unwrap(), Some(changed));
    assert!(matches!(
        store.dav_set_props(BOB, "nope", &props),
        Err(StorageError::NotFound(_))
    ));
    // One owner's names are not another's.
    assert_eq!(store.dav_collection(ALICE, "work").unwrap(), None);
    let alice_cal = store.dav_collections(ALICE).unwrap()[0].clone();
    stored(
        store
            .dav_put(work.id, &obj("a.ics", "a", "A"), &Condition::Any)
            .unwrap(),
    );
    let all = store.dav_all_collections().unwrap();
    assert_eq!(all.len(), 3 + 3);
    store.0.del_account(BOB).unwrap();
    assert_eq!(store.dav_collection(BOB, "work").unwrap(), None);
    assert!(store.dav_get(work.id, "a.ics").unwrap().is_none());
    assert_eq!(store.dav_all_collections().unwrap().len(), 3);
    assert_eq!(
        store.dav_collection(ALICE, &alice_cal.name).unwrap(),
        Some(alice_cal)
    );
    // A new account of the same address starts afresh, with the defaults again.
    store.add_account(BOB, "pw", false).unwrap();
    assert_eq!(store.dav_collections(BOB).unwrap().len(), 3);
}

/// Puts and deletes: ETags follow content, If-Match / If-None-Match decide atomically, UIDs
/// are unique per collection, and the range prefilter keeps what may overlap.
pub fn dav_objects_conditions_and_uids(open: Open) {
    let (_dir, store) = fresh(open);
    let cal = store.dav_collection(BOB, "calendar").unwrap();
    let cal = cal.unwrap_or_else(|| store.dav_collections(BOB).unwrap()[0].clone());
    let other = store.dav_collections(ALICE).unwrap()[0].clone();
    let first = store
        .dav_put(cal.id, &obj("a.ics", "uid-a", "one"), &Condition::Absent)
        .unwrap();
    let a = match first {
        PutOutcome::Stored { object, created } => {
            assert!(created);
            object
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(a.etag, etag_of("one"));
    assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
    assert_eq!(store.dav_get(cal.id, "a.ics").unwrap(), Some(a.clone()));
    // If-None-Match: * on an existing name fails; so does a stale If-Match.
    assert_eq!(
        store
            .dav_put(cal.id, &obj("a.ics", "uid-a", "two"), &Condition::Absent)
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(
        store
            .dav_put(
                cal.id,
                &obj("a.ics", "uid-a", "two"),
                &Condition::Match("\"stale\"".into())
            )
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(
        store
            .dav_put(
                cal.id,
                &obj("new.ics", "uid-n", "x"),
                &Condition::Match(a.etag.clone())
            )
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(store.dav_get(cal.id, "a.ics").unwrap(), Some(a.clone()));
    let a2 = match store
        .dav_put(
            cal.id,
            &obj("a.ics", "uid-a", "two"),
            &Condition::Match(a.etag.clone()),
        )
        .unwrap()
    {
        PutOutcome::Stored { object, created } => {
            assert!(!created);
            object
        }
        other => panic!("{other:?}"),
    };
    assert_ne!(a2.etag, a.etag);
    assert!(a2.changed > a.changed);
    // The same UID under another name is a conflict naming the holder; in another
    // collection it is fine.
    assert_eq!(
        store
            .dav_put(cal.id, &obj("b.ics", "uid-a", "b"), &Condition::Any)
            .unwrap(),
        PutOutcome::UidConflict("a.ics".into())
    );
    stored(
        store
            .dav_put(other.id, &obj("b.ics", "uid-a", "b"), &Condition::Any)
            .unwrap(),
    );
    // A resource may change its UID; the old one is free again.
    stored(
        store
            .dav_put(cal.id, &obj("a.ics", "uid-a2", "three"), &Condition::Any)
            .unwrap(),
    );
    stored(
        store
            .dav_put(cal.id, &obj("b.ics", "uid-a", "b"), &Condition::Any)
            .unwrap(),
    );
    let listed: Vec<String> = store
        .dav_objects(cal.id)
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(listed, names(&["a.ics", "b.ics"]));
    // Range prefilter: spans [1000, 2000), undated, unbounded.
    let undated = NewObject {
        first: None,
        last: None,
        ..obj("todo.ics", "t", "t")
    };
    let endless = NewObject {
        first: Some(5_000),
        last: None,
        ..obj("endless.ics", "e", "e")
    };
    stored(store.dav_put(cal.id, &undated, &Condition::Any).unwrap());
    stored(store.dav_put(cal.id, &endless, &Condition::Any).unwrap());
    let in_range = |s: i64, e: i64| -> Vec<String> {
        store
            .dav_objects_in_range(cal.id, s, e)
            .unwrap()
            .into_iter()
            .map(|o| o.name)
            .collect()
    };
    assert_eq!(in_range(0, 1_000), names(&["todo.ics"]));
    assert_eq!(
        in_range(1_999, 2_000),
        names(&["a.ics", "b.ics", "todo.ics"])
    );
    assert_eq!(in_range(2_000, 5_000), names(&["todo.ics"]));
    assert_eq!(in_range(9_000, 9_001), names(&["endless.ics", "todo.ics"]));
    // Deletes: conditional, then gone.
    assert_eq!(
        store
            .dav_delete(cal.id, "b.ics", &Condition::Match("\"x\"".into()))
            .unwrap(),
        DeleteOutcome::PreconditionFailed
    );
    assert_eq!(
        store
            .dav_delete(cal.id, "b.ics", &Condition::Match(etag_of("b")))
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store.dav_delete(cal.id, "b.ics", &Condition::Any).unwrap(),
        DeleteOutcome::NotFound
    );
    assert!(matches!(
        store.dav_delete(cal.id, "a.ics", &Condition::Absent),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.dav_put(9_999_999, &obj("x.ics", "x", "x"), &Condition::Any),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.dav_put(cal.id, &obj("../x", "x", "x"), &Condition::Any),
        Err(StorageError::Invalid(_))
    ));
}

/// The change counter: each put and delete moves it by one; changes since a token list
/// each name once (a name deleted and put again is changed, not deleted); token 0 lists
/// what exists; tokens newer than the counter, or older than the tombstones kept, expire.
pub fn dav_sync_tokens_and_tombstones(open: Open) {
    let (_dir, store) = fresh(open);
    let book = store
        .dav_collections(BOB)
        .unwrap()
        .into_iter()
        .find(|c| c.kind == CollectionKind::AddressBook)
        .unwrap();
    let put = |name: &str, data: &str| {
        stored(
            store
                .dav_put(book.id, &obj(name, name, data), &Condition::Any)
                .unwrap(),
        )
    };
    let counter = || store.dav_collection(BOB, &book.name).unwrap().unwrap().sync;
    assert_eq!(counter(), 0);
    put("a.vcf", "1");
    put("b.vcf", "1");
    put("c.vcf", "1");
    assert_eq!(counter(), 3);
    let t3 = 3;
    assert_eq!(
        since(store.dav_changes(book.id, 0).unwrap()),
        (3, names(&["a.vcf", "b.vcf", "c.vcf"]), vec![])
    );
    // A refused put does not move the counter.
    store
        .dav_put(book.id, &obj("a.vcf", "a.vcf", "2"), &Condition::Absent)
        .unwrap();
    assert_eq!(counter(), 3);
    put("a.vcf", "2");
    store.dav_delete(book.id, "b.vcf", &Condition::Any).unwrap();
    store.dav_delete(book.id, "c.vcf", &Condition::Any).unwrap();
    put("c.vcf", "back");
    assert_eq!(counter(), 7);
    assert_eq!(
        since(store.dav_changes(book.id, t3).unwrap()),
        (7, names(&["a.vcf", "c.vcf"]), names(&["b.vcf"]))
    );
    assert_eq!(
        since(store.dav_changes(book.id, 7).unwrap()),
        (7, vec![], vec![])
    );
    assert_eq!(
        since(store.dav_changes(book.id, 0).unwrap()),
        (7, names(&["a.vcf", "c.vcf"]), vec![])
    );
    assert_eq!(store.dav_changes(book.id, 8).unwrap(), Changes::Expired);
    // Other collections' counters do not move.
    let cal = store
        .dav_collections(BOB)
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .unwrap();
    assert_eq!(cal.sync, 0);
    assert!(matches!(
        store.dav_changes(9_999_999, 0),
        Err(StorageError::NotFound(_))
    ));
    // 100 more deletions; tombstones beyond the kept number expire old tokens.
    for i in 0..100 {
        put(&format!("x{i}.vcf"), "x");
    }
    let before = counter();
    for i in 0..100 {
        store
            .dav_delete(book.id, &format!("x{i}.vcf"), &Condition::Any)
            .unwrap();
    }
    let (_, _, deleted) = since(store.dav_changes(book.id, before).unwrap());
    assert_eq!(deleted.len(), 100);
    assert!(store.dav_changes(book.id, t3).is_ok());
    prune(&store, book.id, 10);
    assert_eq!(store.dav_changes(book.id, t3).unwrap(), Changes::Expired);
    assert_eq!(
        store.dav_changes(book.id, before).unwrap(),
        Changes::Expired
    );
    let now = counter();
    let (_, _, deleted) = since(store.dav_changes(book.id, now - 10).unwrap());
    assert_eq!(deleted.len(), 10);
    assert!(matches!(
        store.dav_changes(book.id, 0).unwrap(),
        Changes::Since { .. }
    ));
}

fn prune(store: &crate::storage::Store, collection: u64, keep: u64) {
    store
        .dav_prune_tombstones(collection, keep)
        .expect("prune tombstones");
}

/// Sharing (module documentation of `storage::davstore`, "Sharing"): a collection's ACL is
/// set with SETACL semantics and listed without the owner; rights are the owner's (all) or
/// the union of the user's entry and `anyone`'s; the collections shared with a user are
/// those of other owners it or `anyone` may list, public ones included; deleting a
/// collection or an account takes its entries.
pub fn dav_acl_sharing(open: Open) {
    let (_dir, store) = fresh(open);
    const CAROL: &str = "carol@example.com";
    store.add_account(CAROL, "carol-pw", false).unwrap();
    store.dav_collections(BOB).unwrap();
    store.dav_collections(ALICE).unwrap();
    let bob_cal = store.dav_collection(BOB, "calendar").unwrap().unwrap();
    assert_eq!(store.dav_get_acl(bob_cal.id).unwrap(), vec![]);
    assert_eq!(store.dav_rights(&bob_cal, BOB).unwrap(), "lrswipkxtea");
    assert_eq!(store.dav_rights(&bob_cal, ALICE).unwrap(), "");
    assert!(store.dav_shared_with(ALICE).unwrap().is_empty());

    // SETACL semantics: replace, add, remove; identifiers normalised; "" removes.
    store
        .dav_set_acl(bob_cal.id, "Alice@Example.com", "rl")
        .unwrap();
    store.dav_set_acl(bob_cal.id, CAROL, "lr").unwrap();
    store.dav_set_acl(bob_cal.id, CAROL, "+wit").unwrap();
    assert_eq!(
        store.dav_get_acl(bob_cal.id).unwrap(),
        vec![
            (ALICE.to_string(), "lr".to_string()),
            (CAROL.to_string(), "lrwit".to_string())
        ]
    );
    assert_eq!(store.dav_rights(&bob_cal, ALICE).unwrap(), "lr");
    store.dav_set_acl(bob_cal.id, CAROL, "-t").unwrap();
    assert_eq!(store.dav_rights(&bob_cal, CAROL).unwrap(), "lrwi");
    assert!(matches!(
        store.dav_set_acl(bob_cal.id, CAROL, "lq"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.dav_set_acl(bob_cal.id, "not an address", "lr"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.dav_set_acl(u64::MAX - 7, CAROL, "lr"),
        Err(StorageError::NotFound(_))
    ));
    assert!(matches!(
        store.dav_get_acl(u64::MAX - 7),
        Err(StorageError::NotFound(_))
    ));
    let shared = |user: &str| -> Vec<(String, String)> {
        store
            .dav_shared_with(user)
            .unwrap()
            .into_iter()
            .map(|c| (c.owner, c.name))
            .collect()
    };
    assert_eq!(shared(ALICE), vec![(BOB.into(), "calendar".into())]);
    assert_eq!(
        shared(BOB),
        vec![],
        "the owner's own are not shared with it"
    );
    // Without "l" a collection is not listed (rights still count).
    store.dav_set_acl(bob_cal.id, ALICE, "r").unwrap();
    assert_eq!(shared(ALICE), vec![]);
    assert_eq!(store.dav_rights(&bob_cal, ALICE).unwrap(), "r");

    // `anyone` and public collections.
    let public = store
        .dav_create_collection(&NewCollection {
            owner: crate::storage::PUBLIC_OWNER.into(),
            name: "holidays".into(),
            kind: CollectionKind::Calendar,
            props: CollectionProps::default(),
            components: names(&["VEVENT"]),
        })
        .unwrap();
    assert_eq!(public.owner, "");
    assert_eq!(
        store
            .dav_collection(crate::storage::PUBLIC_OWNER, "holidays")
            .unwrap()
            .map(|c| c.id),
        Some(public.id)
    );
    let listed = store.dav_collections(crate::storage::PUBLIC_OWNER).unwrap();
    assert_eq!(
        listed.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
        ["holidays"],
        "no default collections for the public owner"
    );
    assert_eq!(store.dav_rights(&public, BOB).unwrap(), "");
    store.dav_set_acl(public.id, "anyone", "lr").unwrap();
    store.dav_set_acl(public.id, BOB, "wi").unwrap();
    assert_eq!(store.dav_rights(&public, ALICE).unwrap(), "lr");
    assert_eq!(store.dav_rights(&public, BOB).unwrap(), "lrwi");
    assert_eq!(
        shared(ALICE),
        vec![(String::new(), "holidays".into())],
        "public first (the empty owner sorts first)"
    );
    assert_eq!(
        shared(CAROL),
        vec![
            (String::new(), "holidays".into()),
            (BOB.into(), "calendar".into())
        ]
    );
    // A put by a sharee is a put like any: the counter moves once.
    let before = store.dav_collection(BOB, "calendar").unwrap().unwrap().sync;
    stored(
        store
            .dav_put(bob_cal.id, &obj("a.ics", "a", "A"), &Condition::Any)
            .unwrap(),
    );
    assert_eq!(
        store.dav_collection(BOB, "calendar").unwrap().unwrap().sync,
        before + 1
    );

    // Deleting an account takes its entries in others' ACLs; deleting a collection its ACL.
    store.0.del_account(CAROL).unwrap();
    assert_eq!(
        store.dav_get_acl(bob_cal.id).unwrap(),
        vec![(ALICE.to_string(), "r".to_string())]
    );
    store.add_account(CAROL, "carol-pw", false).unwrap();
    assert_eq!(store.dav_rights(&bob_cal, CAROL).unwrap(), "");
    assert_eq!(
        shared(CAROL),
        vec![(String::new(), "holidays".into())],
        "a new account of the same address inherits nothing"
    );
    store
        .dav_delete_collection(crate::storage::PUBLIC_OWNER, "holidays")
        .unwrap();
    assert!(shared(ALICE).is_empty());
    assert!(matches!(
        store.dav_get_acl(public.id),
        Err(StorageError::NotFound(_))
    ));
    // Bob's account goes: his collections and their ACLs with it.
    store.0.del_account(BOB).unwrap();
    assert!(store.dav_shared_with(ALICE).unwrap().is_empty());
    assert!(store
        .dav_all_collections()
        .unwrap()
        .iter()
        .all(|c| c.owner != BOB));
}

/// Paged listing: the pages of a collection, read one after the other, are exactly its
/// objects in the backend's name order, never another collection's (even the next one's).
pub fn dav_objects_paged(open: Open) {
    let (_dir, store) = fresh(open);
    let cols = store.dav_collections(BOB).unwrap();
    let (cal, next) = (&cols[0], &cols[1]);
    let mut names: Vec<String> = (0..23).map(|i| format!("ev-{i:02}.ics")).collect();
    names.extend(["A.ics", "a b.ics", "zz.ics", "é.ics", "ev-1.ics"].map(String::from));
    for (i, name) in names.iter().enumerate() {
        store
            .dav_put(
                cal.id,
                &obj(name, &format!("uid-{i}"), &format!("data {i}")),
                &Condition::Any,
            )
            .unwrap();
    }
    for name in ["0.ics", "ev-05.ics", "zzz.ics"] {
        store
            .dav_put(next.id, &obj(name, name, name), &Condition::Any)
            .unwrap();
    }
    let whole = store.dav_objects(cal.id).unwrap();
    assert_eq!(whole.len(), names.len());
    for limit in [1, 7, names.len(), 100] {
        let mut paged = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..=names.len() {
            let page = store
                .dav_objects_page(cal.id, after.as_deref(), limit)
                .unwrap();
            assert!(page.len() <= limit);
            let Some(last) = page.last() else { break };
            after = Some(last.name.clone());
            paged.extend(page);
        }
        assert_eq!(paged, whole, "pages of {limit}");
    }
    assert!(store.dav_objects_page(cal.id, None, 0).unwrap().is_empty());
    let last = &whole.last().unwrap().name;
    assert!(store
        .dav_objects_page(cal.id, Some(last), 10)
        .unwrap()
        .is_empty());
    // After a name that is no longer there: what sorted after it.
    let gone = &whole[10];
    store
        .dav_delete(cal.id, &gone.name, &Condition::Any)
        .unwrap();
    let from_absent = store
        .dav_objects_page(cal.id, Some(&gone.name), 100)
        .unwrap();
    assert_eq!(from_absent, whole[11..]);
    let other = store.dav_objects_page(next.id, None, 100).unwrap();
    assert_eq!(other.len(), 3);
    let missing = cols.iter().map(|c| c.id).max().unwrap() + 1000;
    assert!(store
        .dav_objects_page(missing, None, 10)
        .unwrap()
        .is_empty());
}
