//! The WebDAV file store (`storage::davfiles`).

use super::{body, fresh, Open, ALICE, BOB};
use crate::storage::davfiles::{DavNode, PutBody};
use crate::storage::{DavFiles, StorageError, Store};

fn put(files: &dyn DavFiles, path: &str, store: &Store, content: &[u8]) -> (bool, DavNode) {
    let b = PutBody {
        blob: body(store, content),
        size: content.len() as u64,
        content_type: "text/plain".into(),
    };
    files.dav_put(BOB, path, &b, 1_700_000_100).expect("put")
}

fn paths(files: &dyn DavFiles, path: &str) -> Vec<String> {
    let mut v: Vec<String> = files
        .dav_children(BOB, path)
        .expect("children")
        .into_iter()
        .map(|n| n.path)
        .collect();
    v.sort();
    v
}

/// Collections and resources: create, replace (ETag changes, creation time kept), list
/// one level, dead properties, COPY (shallow and deep) and MOVE of trees with Overwrite,
/// DELETE of a tree; blob references and the account's storage usage follow every
/// change; over the quota is OverQuota and changes nothing; another account sees none of
/// it; deleting the account releases everything.
pub fn dav_files_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    let Some(files) = store.dav_files() else {
        eprintln!("SKIP dav_files_round_trip: this backend has no WebDAV file store");
        return;
    };
    assert_eq!(files.dav_get(BOB, "").unwrap(), Some(DavNode::root()));
    assert_eq!(files.dav_get("nobody@example.com", "").unwrap(), None);
    assert!(matches!(
        files.dav_mkcol(BOB, "/a/b", 1),
        Err(StorageError::Conflict(_))
    ));
    files.dav_mkcol(BOB, "/a", 1).unwrap();
    assert!(matches!(
        files.dav_mkcol(BOB, "/a", 1),
        Err(StorageError::Exists(_))
    ));
    files.dav_mkcol(BOB, "/a/b", 1).unwrap();
    let (created, first) = put(files, "/a/f", &store, b"hello");
    assert!(created);
    let (created, second) = put(files, "/a/f", &store, b"hello, world");
    assert!(!created);
    assert_ne!(
        first.etag(),
        second.etag(),
        "a replaced body has a new ETag"
    );
    assert_eq!(second.created, first.created);
    assert!(matches!(
        files.dav_put(
            BOB,
            "/a",
            &PutBody {
                blob: second.body.clone().unwrap().blob,
                size: 12,
                content_type: String::new()
            },
            2
        ),
        Err(StorageError::Conflict(_))
    ));
    put(files, "/a/b/g", &store, b"deep");
    assert_eq!(paths(files, ""), vec!["/a"]);
    assert_eq!(paths(files, "/a"), vec!["/a/b", "/a/f"]);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 16);
    let blob = second.body.clone().unwrap().blob;
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);

    // Dead properties: set, replace, remove, all at once; on the root too.
    let ns = "http://example.com/ns/".to_string();
    files
        .dav_patch(
            BOB,
            "/a/f",
            &[
                (ns.clone(), "p".into(), Some("<x/>".into())),
                (ns.clone(), "q".into(), Some("1".into())),
            ],
        )
        .unwrap();
    files
        .dav_patch(BOB, "/a/f", &[(ns.clone(), "q".into(), None)])
        .unwrap();
    let f = files.dav_get(BOB, "/a/f").unwrap().unwrap();
    assert_eq!(f.props.len(), 1);
    assert_eq!(
        (f.props[0].local.as_str(), f.props[0].value.as_str()),
        ("p", "<x/>")
    );
    files
        .dav_patch(BOB, "", &[(ns.clone(), "r".into(), Some("root".into()))])
        .unwrap();
    assert_eq!(files.dav_get(BOB, "").unwrap().unwrap().props.len(), 1);
    assert!(matches!(
        files.dav_patch(BOB, "/nope", &[]),
        Err(StorageError::NotFound(_))
    ));

    // COPY: shallow takes the collection alone, deep the tree; the copy's body is shared.
    assert!(files
        .dav_copy(BOB, "/a", "/c", false, false, false, 3)
        .unwrap());
    assert_eq!(paths(files, "/c"), Vec::<String>::new());
    assert!(matches!(
        files.dav_copy(BOB, "/a", "/c", true, false, false, 3),
        Err(StorageError::Exists(_))
    ));
    assert!(!files
        .dav_copy(BOB, "/a", "/c", true, true, false, 3)
        .unwrap());
    assert_eq!(paths(files, "/c"), vec!["/c/b", "/c/f"]);
    assert_eq!(
        files.dav_get(BOB, "/c/f").unwrap().unwrap().props,
        f.props,
        "dead properties are copied"
    );
    assert_eq!(store.blob_refcount(&blob).unwrap(), 2);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 32);
    assert!(matches!(
        files.dav_copy(BOB, "/a", "/a/b/x", true, true, false, 3),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        files.dav_copy(BOB, "/a", "/no/x", true, true, false, 3),
        Err(StorageError::Conflict(_))
    ));
    assert!(matches!(
        files.dav_copy(BOB, "/none", "/x", true, true, false, 3),
        Err(StorageError::NotFound(_))
    ));

    // MOVE keeps the nodes (ETags too), frees the source.
    let etag = files.dav_get(BOB, "/c/f").unwrap().unwrap().etag();
    assert!(files
        .dav_copy(BOB, "/c", "/d", true, false, true, 4)
        .unwrap());
    assert_eq!(files.dav_get(BOB, "/c").unwrap(), None);
    assert_eq!(files.dav_get(BOB, "/d/f").unwrap().unwrap().etag(), etag);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 32);

    // DELETE of a tree releases its blobs and usage.
    files.dav_delete(BOB, "/d").unwrap();
    assert_eq!(paths(files, ""), vec!["/a"]);
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 16);
    assert!(matches!(
        files.dav_delete(BOB, "/d"),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(files.dav_usage(BOB).unwrap(), 16);

    // The repair tools count files: the quota recount keeps their bytes, the start-up
    // sweep their blob references (and files), and the check finds nothing wrong.
    assert_eq!(store.recompute_quota(BOB).unwrap().storage_used, 16);
    store.sweep(std::time::Duration::ZERO).unwrap();
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);
    assert!(store.blobs().exists(&blob));
    let report = crate::storage::check::check(&store).unwrap();
    assert!(report.ok(), "{report:?}");

    // Quota: a PUT past the limit fails whole.
    store.set_quota(BOB, Some(20), None).unwrap();
    let big = PutBody {
        blob: body(&store, b"0123456789"),
        size: 10,
        content_type: String::new(),
    };
    assert!(matches!(
        files.dav_put(BOB, "/big", &big, 5),
        Err(StorageError::OverQuota { .. })
    ));
    assert_eq!(files.dav_get(BOB, "/big").unwrap(), None);
    assert_eq!(store.quota(BOB).unwrap().storage_used, 16);

    // Another account's store is its own.
    assert_eq!(files.dav_get(ALICE, "/a").unwrap(), None);
    assert_eq!(files.dav_children(ALICE, "").unwrap(), Vec::new());
    assert!(files.dav_all().unwrap().iter().all(|(acc, _)| acc == BOB));

    // Deleting the account takes its files and their references.
    store.0.del_account(BOB).unwrap();
    assert_eq!(files.dav_all().unwrap(), Vec::new());
    assert_eq!(store.blob_refcount(&blob).unwrap(), 0);
}
