use super::super::testutil::{store, store_with_bob};
use super::*;
use crate::storage::QueueName;
#[allow(unused_imports)]
use crate::storage::*;

fn local(a: &str) -> Destination {
    Destination::Local(a.to_string())
}

fn remote(a: &str) -> Destination {
    Destination::Remote(a.to_string())
}

#[test]
fn domain_names_are_checked_and_lowercased() {
    assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
    assert_eq!(normalize_domain("localhost").unwrap(), "localhost");
    assert_eq!(
        normalize_domain("bücher.example").unwrap(),
        "bücher.example"
    );
    for bad in [
        "",
        ".",
        "a..b",
        "-a.example",
        "a-.example",
        "a b.example",
        "a_b.example",
    ] {
        assert!(normalize_domain(bad).is_err(), "{bad:?} accepted");
    }
    assert!(normalize_domain(&"a".repeat(64)).is_err());
    let err = normalize_domain("bad domain").unwrap_err();
    assert_eq!(err.to_string(), "invalid domain name \"bad domain\"");
}

#[test]
fn addresses_are_checked_and_lowercased() {
    assert_eq!(
        normalize_address("Bob@Example.COM").unwrap(),
        "bob@example.com"
    );
    assert_eq!(
        normalize_address("b.o+tag@example.com").unwrap(),
        "b.o+tag@example.com"
    );
    for bad in [
        "bob",
        "@example.com",
        "bob@",
        ".bob@example.com",
        "bo..b@example.com",
        "bo b@example.com",
        "bob@exa mple.com",
        "bo\0b@example.com",
        "<bob>@example.com",
    ] {
        assert!(normalize_address(bad).is_err(), "{bad:?} accepted");
    }
    assert!(normalize_address(&format!("{}@example.com", "a".repeat(65))).is_err());
}

#[test]
fn domains_add_list_delete() {
    let (_dir, store) = store();
    store.add_domain("Example.COM").unwrap();
    store.add_domain("b.example").unwrap();
    assert_eq!(
        store.list_domains().unwrap(),
        vec!["b.example", "example.com"]
    );
    assert!(store.is_local_domain("EXAMPLE.com").unwrap());
    assert!(!store.is_local_domain("other.example").unwrap());
    assert!(!store.is_local_domain("not a domain").unwrap());

    let err = store.add_domain("example.com").unwrap_err();
    assert_eq!(err.to_string(), "domain example.com already exists");
    assert!(matches!(
        store.add_domain("x y"),
        Err(StorageError::Invalid(_))
    ));

    store.del_domain("B.example").unwrap();
    assert_eq!(store.list_domains().unwrap(), vec!["example.com"]);
    let err = store.del_domain("example.org").unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)));
    assert_eq!(err.to_string(), "domain example.org not found");
}

#[test]
fn domain_with_accounts_cannot_be_deleted_but_its_aliases_go_with_it() {
    let (_dir, store) = store_with_bob();
    store
        .add_alias("info@example.com", "x@remote.example")
        .unwrap();
    let err = store.del_domain("example.com").unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)));
    assert_eq!(
        err.to_string(),
        "domain example.com still has 1 account(s); delete them first"
    );
    store.del_account("bob@example.com").unwrap();
    store.del_domain("example.com").unwrap();
    assert!(store.list_aliases().unwrap().is_empty());
}

#[test]
fn accounts_add_get_list() {
    let (_dir, store) = store();
    store.add_domain("example.com").unwrap();
    let acct = store.add_account("Bob@Example.com", "pw", true).unwrap();
    assert_eq!(acct.address, "bob@example.com");
    assert!(acct.admin);
    assert!(acct.created > 1_600_000_000);
    assert_eq!(
        store.get_account("BOB@example.com").unwrap(),
        Some(acct.clone())
    );
    assert_eq!(store.get_account("nobody@example.com").unwrap(), None);
    assert_eq!(store.get_account("not an address").unwrap(), None);
    store.add_account("alice@example.com", "pw", false).unwrap();
    let all: Vec<String> = store
        .list_accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.address)
        .collect();
    assert_eq!(all, vec!["alice@example.com", "bob@example.com"]);
}

#[test]
fn account_errors() {
    let (_dir, store) = store_with_bob();
    let err = store
        .add_account("bob@EXAMPLE.com", "pw", false)
        .unwrap_err();
    assert_eq!(err.to_string(), "account bob@example.com already exists");
    let err = store
        .add_account("bob@example.org", "pw", false)
        .unwrap_err();
    assert_eq!(err.to_string(), "domain example.org not found");
    assert!(matches!(
        store.add_account("bob", "pw", false),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.add_account("carol@example.com", "", false),
        Err(StorageError::Invalid(_))
    ));
    store
        .add_alias("info@example.com", "bob@example.com")
        .unwrap();
    let err = store
        .add_account("info@example.com", "pw", false)
        .unwrap_err();
    assert_eq!(err.to_string(), "alias info@example.com already exists");
    let err = store.del_account("nobody@example.com").unwrap_err();
    assert_eq!(err.to_string(), "account nobody@example.com not found");
    let err = store.set_password("nobody@example.com", "x").unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)));
}

#[test]
fn add_account_creates_default_folders() {
    let (_dir, store) = store_with_bob();
    let folders = store.list_folders("bob@example.com").unwrap();
    let names: Vec<(&str, Option<&str>)> = folders
        .iter()
        .map(|f| (f.name.as_str(), f.special_use.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("INBOX", None),
            ("Archive", Some("\\Archive")),
            ("Drafts", Some("\\Drafts")),
            ("Junk", Some("\\Junk")),
            ("Sent", Some("\\Sent")),
            ("Trash", Some("\\Trash")),
        ]
    );
    let mut validities: Vec<u32> = folders.iter().map(|f| f.uidvalidity).collect();
    validities.sort();
    validities.dedup();
    assert_eq!(validities.len(), 6, "uidvalidity must be unique");
}

#[test]
fn account_stamp_changes_with_the_record_and_ends_with_the_account() {
    let (_dir, store) = store_with_bob();
    let (address, first) = store.account_stamp("BOB@Example.com").unwrap().unwrap();
    assert_eq!(address, "bob@example.com");
    assert_eq!(
        store.account_stamp("bob@example.com").unwrap(),
        Some((address, first))
    );
    // The same password again still makes a new record (a new salt), so a new stamp.
    store.set_password("bob@example.com", "secret").unwrap();
    let (_, second) = store.account_stamp("bob@example.com").unwrap().unwrap();
    assert_ne!(first, second);
    assert_eq!(store.account_stamp("nobody@example.com").unwrap(), None);
    assert_eq!(store.account_stamp("not an address").unwrap(), None);
    store.del_account("bob@example.com").unwrap();
    assert_eq!(store.account_stamp("bob@example.com").unwrap(), None);
}

#[test]
fn passwords_verify_and_are_never_stored_in_clear() {
    let (_dir, store) = store_with_bob();
    match store.verify_password("BOB@example.com", "secret").unwrap() {
        AuthOutcome::Ok(a) => assert_eq!(a.address, "bob@example.com"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.verify_password("bob@example.com", "wrong").unwrap(),
        AuthOutcome::BadPassword {
            address: "bob@example.com".into()
        }
    );
    assert_eq!(
        store
            .verify_password("nobody@example.com", "secret")
            .unwrap(),
        AuthOutcome::NoSuchAccount
    );
    assert_eq!(
        store.verify_password("garbage", "secret").unwrap(),
        AuthOutcome::NoSuchAccount
    );
    let raw = store
        .tree(TreeIx::Accounts)
        .get("bob@example.com")
        .unwrap()
        .unwrap();
    let rec = AccountRecord::decode(&raw).unwrap();
    assert!(rec.hash.starts_with("$argon2id$"), "{}", rec.hash);
    assert!(!rec.hash.contains("secret"));

    store.set_password("bob@example.com", "new one").unwrap();
    assert!(matches!(
        store.verify_password("bob@example.com", "new one").unwrap(),
        AuthOutcome::Ok(_)
    ));
    assert!(matches!(
        store.verify_password("bob@example.com", "secret").unwrap(),
        AuthOutcome::BadPassword { .. }
    ));
}

#[test]
fn hashes_verify_whatever_their_parameters() {
    // Made with cheap parameters, verified by a verifier whose defaults differ.
    set_fast_password_hashing_for_tests(true);
    let cheap = hash_password("pw").unwrap();
    assert!(cheap.contains("m=256,t=1,p=1"), "{cheap}");
    assert!(password_matches("pw", &cheap).unwrap());
    assert!(!password_matches("px", &cheap).unwrap());
    assert!(matches!(
        password_matches("pw", "not a phc string"),
        Err(StorageError::Encoding(_))
    ));
}

#[test]
fn del_account_removes_folders_messages_and_blob_refs() {
    let (_dir, store) = store_with_bob();
    let inbox = store
        .folder_id("bob@example.com", "inbox")
        .unwrap()
        .unwrap();
    let blob = store.blobs().put(b"hello bob").unwrap();
    let msg = crate::storage::NewMessage {
        blob,
        size: 9,
        flags: crate::storage::Flags::default(),
        internal_date: 0,
    };
    store.append_message(inbox, msg, None).unwrap();
    assert_eq!(store.blob_refcount(&blob).unwrap(), 1);
    store.del_account("bob@example.com").unwrap();
    assert_eq!(store.get_account("bob@example.com").unwrap(), None);
    assert!(matches!(
        store.folder_state(inbox),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(store.folder_id("bob@example.com", "INBOX").unwrap(), None);
    assert_eq!(store.tree(TreeIx::Messages).len(), 0);
    assert_eq!(store.tree(TreeIx::Folders).len(), 0);
    super::super::testutil::settle(&store);
    assert!(!store.blobs().exists(&blob));
    // The address can be used again, with fresh folders.
    store.add_account("bob@example.com", "pw", false).unwrap();
    let new_inbox = store
        .folder_id("bob@example.com", "INBOX")
        .unwrap()
        .unwrap();
    assert_ne!(new_inbox, inbox);
    assert!(store.list_messages(new_inbox).unwrap().is_empty());
}

#[test]
fn aliases_add_list_delete() {
    let (_dir, store) = store_with_bob();
    store
        .add_alias("Info@example.com", "bob@example.com")
        .unwrap();
    store
        .add_alias("info@example.com", "x@remote.example")
        .unwrap();
    store
        .add_alias("sales@example.com", "info@example.com")
        .unwrap();
    assert_eq!(
        store.list_aliases().unwrap(),
        vec![
            (
                "info@example.com".to_string(),
                vec![
                    "bob@example.com".to_string(),
                    "x@remote.example".to_string()
                ]
            ),
            (
                "sales@example.com".to_string(),
                vec!["info@example.com".to_string()]
            ),
        ]
    );
    let err = store
        .add_alias("info@example.com", "BOB@example.com")
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "alias info@example.com -> bob@example.com already exists"
    );
    store
        .del_alias("info@example.com", Some("x@remote.example"))
        .unwrap();
    let err = store
        .del_alias("info@example.com", Some("x@remote.example"))
        .unwrap_err();
    assert!(matches!(err, StorageError::NotFound(_)));
    store.del_alias("sales@example.com", None).unwrap();
    store
        .del_alias("info@example.com", Some("bob@example.com"))
        .unwrap();
    assert!(store.list_aliases().unwrap().is_empty());
    let err = store.del_alias("info@example.com", None).unwrap_err();
    assert_eq!(err.to_string(), "alias info@example.com not found");
}

#[test]
fn alias_errors() {
    let (_dir, store) = store_with_bob();
    let err = store
        .add_alias("x@example.org", "bob@example.com")
        .unwrap_err();
    assert_eq!(err.to_string(), "domain example.org not found");
    let err = store
        .add_alias("bob@example.com", "x@remote.example")
        .unwrap_err();
    assert!(matches!(err, StorageError::Conflict(_)));
    assert!(matches!(
        store.add_alias("a@example.com", "a@example.com"),
        Err(StorageError::Invalid(_))
    ));
    assert!(matches!(
        store.add_alias("a@example.com", "not an address"),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn resolve_accounts_aliases_and_remote() {
    let (_dir, store) = store_with_bob();
    store.add_account("alice@example.com", "pw", false).unwrap();
    store
        .add_alias("team@example.com", "bob@example.com")
        .unwrap();
    store
        .add_alias("team@example.com", "alice@example.com")
        .unwrap();
    store
        .add_alias("team@example.com", "carol@remote.example")
        .unwrap();
    store
        .add_alias("all@example.com", "team@example.com")
        .unwrap();
    store
        .add_alias("all@example.com", "bob@example.com")
        .unwrap();

    assert_eq!(
        store.resolve_recipient("BOB@EXAMPLE.COM").unwrap(),
        vec![local("bob@example.com")]
    );
    assert_eq!(
        store.resolve_recipient("all@example.com").unwrap(),
        vec![
            local("bob@example.com"),
            local("alice@example.com"),
            remote("carol@remote.example")
        ]
    );
    assert_eq!(
        store.resolve_recipient("Someone@Remote.Example").unwrap(),
        vec![remote("someone@remote.example")]
    );
    assert!(store
        .resolve_recipient("nobody@example.com")
        .unwrap()
        .is_empty());
    assert!(matches!(
        store.resolve_recipient("no at sign"),
        Err(StorageError::Invalid(_))
    ));
}

#[test]
fn resolve_plus_addressing() {
    let (_dir, store) = store_with_bob();
    store
        .add_alias("list@example.com", "bob@example.com")
        .unwrap();
    assert_eq!(
        store.resolve_recipient("bob+news@example.com").unwrap(),
        vec![local("bob@example.com")]
    );
    assert_eq!(
        store.resolve_recipient("list+x+y@example.com").unwrap(),
        vec![local("bob@example.com")]
    );
    assert!(store
        .resolve_recipient("nobody+x@example.com")
        .unwrap()
        .is_empty());
    assert!(store
        .resolve_recipient("+x@example.com")
        .unwrap()
        .is_empty());
    // An exact account with a '+' wins over the plus rule.
    store
        .add_account("bob+work@example.com", "pw", false)
        .unwrap();
    assert_eq!(
        store.resolve_recipient("bob+work@example.com").unwrap(),
        vec![local("bob+work@example.com")]
    );
    store
        .add_alias("bob+spam@example.com", "x@remote.example")
        .unwrap();
    assert_eq!(
        store.resolve_recipient("bob+spam@example.com").unwrap(),
        vec![remote("x@remote.example")]
    );
}

#[test]
fn resolve_survives_alias_loops_and_deep_chains() {
    let (_dir, store) = store_with_bob();
    store.add_alias("a@example.com", "b@example.com").unwrap();
    store.add_alias("b@example.com", "a@example.com").unwrap();
    assert!(store.resolve_recipient("a@example.com").unwrap().is_empty());
    assert_eq!(
        store.check_recipient("a@example.com").unwrap(),
        RecipientKind::UnknownLocal
    );
    store.add_alias("b@example.com", "bob@example.com").unwrap();
    assert_eq!(
        store.resolve_recipient("a@example.com").unwrap(),
        vec![local("bob@example.com")]
    );

    // c0 -> c1 -> … -> c12 -> bob: cut at depth 10.
    for i in 0..12 {
        store
            .add_alias(
                &format!("c{i}@example.com"),
                &format!("c{}@example.com", i + 1),
            )
            .unwrap();
    }
    store
        .add_alias("c12@example.com", "bob@example.com")
        .unwrap();
    assert!(store
        .resolve_recipient("c0@example.com")
        .unwrap()
        .is_empty());
    assert_eq!(
        store.resolve_recipient("c5@example.com").unwrap(),
        vec![local("bob@example.com")]
    );
}

#[test]
fn check_recipient_kinds() {
    let (_dir, store) = store_with_bob();
    store
        .add_alias("fwd@example.com", "x@remote.example")
        .unwrap();
    assert_eq!(
        store.check_recipient("Bob@example.com").unwrap(),
        RecipientKind::Local
    );
    assert_eq!(
        store.check_recipient("fwd@example.com").unwrap(),
        RecipientKind::Local
    );
    assert_eq!(
        store.check_recipient("nobody@example.com").unwrap(),
        RecipientKind::UnknownLocal
    );
    assert_eq!(
        store.check_recipient("x@remote.example").unwrap(),
        RecipientKind::Remote
    );
}

#[test]
fn directory_persists_across_reopen() {
    let dir = tempfile::TempDir::new().unwrap();
    set_fast_password_hashing_for_tests(true);
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.add_domain("example.com").unwrap();
        store
            .add_account("bob@example.com", "secret", true)
            .unwrap();
        store
            .add_alias("info@example.com", "bob@example.com")
            .unwrap();
        let blob = store.blobs().put(b"queued").unwrap();
        let id = store.next_queue_id().unwrap();
        store
            .queue_put(&crate::storage::QueueRecord {
                id,
                queue: QueueName::Remote,
                blob,
                size: 6,
                mail_from: String::new(),
                recipients: vec![crate::storage::QueueRecipient::new("x@remote.example")],
                params: Default::default(),
                received_at: 5,
                due: Some(10),
                attempts: 1,
                last_error: Some("451 try later".into()),
                origin: "test".into(),
                auth_as: Some("bob@example.com".into()),
                folder: None,
                history: Vec::new(),
            })
            .unwrap();
        store.commit().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.list_domains().unwrap(), vec!["example.com"]);
    assert!(matches!(
        store.verify_password("bob@example.com", "secret").unwrap(),
        AuthOutcome::Ok(Account { admin: true, .. })
    ));
    assert_eq!(
        store.resolve_recipient("info@example.com").unwrap(),
        vec![local("bob@example.com")]
    );
    let queued = store.queue_list(QueueName::Remote).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].mail_from, "");
    assert_eq!(queued[0].last_error.as_deref(), Some("451 try later"));
    assert_eq!(store.blobs().get(&queued[0].blob).unwrap(), b"queued");
    assert!(store.next_queue_id().unwrap() > queued[0].id);
}

proptest::proptest! {
    #[test]
    fn normalize_address_is_idempotent_and_lowercase(
        s in "[a-zA-Z0-9.+_-]{1,20}@[a-zA-Z0-9-]{1,10}(\\.[a-zA-Z]{2,5}){0,2}\\.?"
    ) {
        if let Ok(n) = normalize_address(&s) {
            proptest::prop_assert_eq!(normalize_address(&n).unwrap(), n.clone());
            proptest::prop_assert_eq!(n.to_lowercase(), n);
        }
    }

    #[test]
    fn normalize_address_never_panics(s in "\\PC{0,40}") {
        let _ = normalize_address(&s);
    }
}

/// A record written before the `disabled` flag existed (the first layout) still opens: read,
/// listed, logged in, exported, and rewritten in the current layout when a flag changes.
#[test]
fn account_records_of_the_first_layout_still_read() {
    #[derive(serde::Serialize)]
    struct FirstLayout {
        address: String,
        hash: String,
        admin: bool,
        created: u64,
    }
    let (_dir, store) = store();
    store.add_domain("example.com").unwrap();
    let old = FirstLayout {
        address: "old@example.com".into(),
        hash: hash_password("old-pw").unwrap(),
        admin: true,
        created: 1_600_000_000,
    };
    store
        .tree(TreeIx::Accounts)
        .insert("old@example.com", bincode::serialize(&old).unwrap())
        .unwrap();
    let expected = Account {
        address: "old@example.com".into(),
        admin: true,
        created: 1_600_000_000,
        disabled: false,
    };
    assert_eq!(
        store.get_account("old@example.com").unwrap(),
        Some(expected.clone())
    );
    assert!(store.list_accounts().unwrap().contains(&expected));
    assert_eq!(
        store.verify_password("old@example.com", "old-pw").unwrap(),
        AuthOutcome::Ok(expected)
    );
    let dump = store.export_directory().unwrap();
    assert!(dump
        .accounts
        .iter()
        .any(|a| a.address == "old@example.com" && a.admin && !a.disabled));

    store.set_disabled("old@example.com", true).unwrap();
    let raw = store
        .tree(TreeIx::Accounts)
        .get("old@example.com")
        .unwrap()
        .unwrap();
    assert!(raw.len() > bincode::serialize(&old).unwrap().len());
    let rec = AccountRecord::decode(&raw).unwrap();
    assert!(rec.disabled && rec.admin && rec.created == 1_600_000_000);
    assert!(matches!(
        store.verify_password("old@example.com", "old-pw").unwrap(),
        AuthOutcome::BadPassword { .. }
    ));
    assert!(AccountRecord::decode(b"\x01").is_err());
}
