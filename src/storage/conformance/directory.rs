//! Directory checks: domains, accounts and credentials, aliases, recipients, sender rights.

use super::{fresh, Open, ALICE, BOB};
use crate::storage::{AuthOutcome, Destination, RecipientKind, StorageError};

/// Account flags: admin rights and disabling change the record (and so its stamp, which ends
/// cached logins); a disabled account's right password is answered like a wrong one, and it
/// still receives mail; unknown accounts are NotFound.
pub fn account_flags_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    let bob = store.get_account(BOB).unwrap().unwrap();
    assert!(!bob.admin && !bob.disabled, "{bob:?}");
    let stamp = || store.account_stamp(BOB).unwrap().unwrap().1;
    let first = stamp();

    store.set_admin(BOB, true).unwrap();
    assert!(store.get_account(BOB).unwrap().unwrap().admin);
    let admin_stamp = stamp();
    assert_ne!(first, admin_stamp, "admin rights change the account stamp");

    store.set_disabled(BOB, true).unwrap();
    let got = store.get_account(BOB).unwrap().unwrap();
    assert!(got.disabled && got.admin, "{got:?}");
    assert!(store
        .list_accounts()
        .unwrap()
        .iter()
        .any(|a| a.address == BOB && a.disabled));
    assert_ne!(admin_stamp, stamp(), "disabling changes the stamp");
    assert_eq!(
        store.verify_password(BOB, "bob-pw").unwrap(),
        AuthOutcome::BadPassword {
            address: BOB.to_string()
        },
        "a disabled account's right password is refused like a wrong one"
    );
    assert_eq!(
        store.resolve_recipient(BOB).unwrap(),
        vec![Destination::Local(BOB.to_string())],
        "a disabled account still receives mail"
    );
    assert_eq!(store.check_recipient(BOB).unwrap(), RecipientKind::Local);

    store.set_disabled(BOB, false).unwrap();
    store.set_admin(BOB, false).unwrap();
    assert!(matches!(
        store.verify_password(BOB, "bob-pw").unwrap(),
        AuthOutcome::Ok(a) if !a.disabled && !a.admin
    ));
    assert_eq!(first, stamp(), "the same record, the same stamp");
    for r in [
        store.set_admin("nobody@example.com", true),
        store.set_disabled("nobody@example.com", true),
    ] {
        assert!(matches!(r, Err(StorageError::NotFound(_))), "{r:?}");
    }
}

/// Domains, accounts, passwords, aliases and recipient resolution: created, found, changed
/// and deleted; duplicates and unknown domains refused.
pub fn directory_crud_and_credentials(open: Open) {
    let (_dir, store) = fresh(open);
    store.add_domain("Example.ORG").unwrap();
    assert!(store
        .list_domains()
        .unwrap()
        .contains(&"example.org".to_string()));
    assert!(store.is_local_domain("example.org").unwrap());
    assert!(!store.is_local_domain("remote.test").unwrap());
    assert!(matches!(
        store.add_domain("example.org"),
        Err(StorageError::Exists(_))
    ));

    let carol = store.add_account("Carol@Example.org", "pw1", true).unwrap();
    assert_eq!(carol.address, "carol@example.org");
    assert!(carol.admin);
    assert_eq!(
        store.get_account("carol@example.org").unwrap(),
        Some(carol.clone())
    );
    assert!(store.add_account("dave@unknown.test", "pw", false).is_err());
    assert!(matches!(
        store.add_account("carol@example.org", "pw", false),
        Err(StorageError::Exists(_))
    ));
    let addresses: Vec<String> = store
        .list_accounts()
        .unwrap()
        .into_iter()
        .map(|a| a.address)
        .collect();
    for a in [ALICE, BOB, "carol@example.org"] {
        assert!(addresses.contains(&a.to_string()), "{a} in {addresses:?}");
    }

    assert_eq!(
        store.verify_password("CAROL@example.org", "pw1").unwrap(),
        AuthOutcome::Ok(carol.clone())
    );
    assert!(matches!(
        store.verify_password("carol@example.org", "wrong").unwrap(),
        AuthOutcome::BadPassword { .. }
    ));
    assert_eq!(
        store.verify_password("nobody@example.org", "pw1").unwrap(),
        AuthOutcome::NoSuchAccount
    );
    let (_, stamp) = store.account_stamp("carol@example.org").unwrap().unwrap();
    store.set_password("carol@example.org", "pw2").unwrap();
    let (_, new_stamp) = store.account_stamp("carol@example.org").unwrap().unwrap();
    assert_ne!(stamp, new_stamp, "a new password changes the account stamp");
    assert!(matches!(
        store.verify_password("carol@example.org", "pw1").unwrap(),
        AuthOutcome::BadPassword { .. }
    ));
    assert!(matches!(
        store.verify_password("carol@example.org", "pw2").unwrap(),
        AuthOutcome::Ok(_)
    ));

    store
        .add_alias("info@example.org", "carol@example.org")
        .unwrap();
    store
        .add_alias("info@example.org", "someone@remote.test")
        .unwrap();
    let dests = store.resolve_recipient("INFO@example.org").unwrap();
    assert!(
        dests.contains(&Destination::Local("carol@example.org".into())),
        "{dests:?}"
    );
    assert!(
        dests.contains(&Destination::Remote("someone@remote.test".into())),
        "{dests:?}"
    );
    assert_eq!(
        store.check_recipient("info@example.org").unwrap(),
        RecipientKind::Local
    );
    assert_eq!(
        store.check_recipient("nobody@example.org").unwrap(),
        RecipientKind::UnknownLocal
    );
    assert_eq!(
        store.check_recipient("x@remote.test").unwrap(),
        RecipientKind::Remote
    );
    store.del_alias("info@example.org", None).unwrap();
    assert!(store
        .list_aliases()
        .unwrap()
        .iter()
        .all(|(alias, _)| alias != "info@example.org"));
    assert_eq!(
        store.check_recipient("info@example.org").unwrap(),
        RecipientKind::UnknownLocal
    );

    store.0.del_account("carol@example.org").unwrap();
    assert_eq!(store.get_account("carol@example.org").unwrap(), None);
    assert_eq!(
        store.verify_password("carol@example.org", "pw2").unwrap(),
        AuthOutcome::NoSuchAccount
    );
    assert_eq!(store.account_stamp("carol@example.org").unwrap(), None);
    store.del_domain("example.org").unwrap();
    assert!(!store.is_local_domain("example.org").unwrap());
    assert!(matches!(
        store.del_domain("example.org"),
        Err(StorageError::NotFound(_))
    ));
}

/// Send-as entries and domain administration: added, listed, removed.
pub fn sender_rights_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    store.add_send_as(BOB, "sales@example.com").unwrap();
    store.add_domain_admin(BOB, "example.com").unwrap();
    let rights = store.sender_rights(BOB).unwrap();
    assert_ne!(rights, Default::default());
    assert!(store
        .list_sender_rights()
        .unwrap()
        .iter()
        .any(|(account, r)| account == BOB && *r == rights));
    store.del_send_as(BOB, "sales@example.com").unwrap();
    store.del_domain_admin(BOB, "example.com").unwrap();
    assert_eq!(store.sender_rights(BOB).unwrap(), Default::default());
    assert_eq!(store.sender_rights(ALICE).unwrap(), Default::default());
}

/// Alias resolution: targets in discovery order, each address once (loops end), chains cut
/// after ten levels, and plus-addressing (`user+tag@dom` reaches `user@dom` unless an account
/// or alias is named exactly `user+tag@dom`).
pub fn aliases_recursion_and_plus_addressing(open: Open) {
    let (_dir, s) = fresh(open);
    let local = |a: &str| Destination::Local(a.into());
    let remote = |a: &str| Destination::Remote(a.into());
    s.add_account("carol@example.com", "pw", false).unwrap();
    // team -> (staff -> bob, carol), bob again, a remote address; order is discovery order.
    s.add_alias("staff@example.com", "bob@example.com").unwrap();
    s.add_alias("staff@example.com", "carol@example.com")
        .unwrap();
    s.add_alias("team@example.com", "staff@example.com")
        .unwrap();
    s.add_alias("team@example.com", "bob@example.com").unwrap();
    s.add_alias("team@example.com", "x@remote.test").unwrap();
    assert_eq!(
        s.resolve_recipient("Team@Example.com").unwrap(),
        [
            local("bob@example.com"),
            local("carol@example.com"),
            remote("x@remote.test")
        ]
    );
    assert_eq!(
        s.list_aliases().unwrap(),
        [
            (
                "staff@example.com".to_string(),
                vec!["bob@example.com".to_string(), "carol@example.com".into()]
            ),
            (
                "team@example.com".to_string(),
                vec![
                    "staff@example.com".to_string(),
                    "bob@example.com".into(),
                    "x@remote.test".into()
                ]
            ),
        ]
    );

    // A loop ends; its accounts are still reached.
    s.add_alias("ping@example.com", "pong@example.com").unwrap();
    s.add_alias("pong@example.com", "ping@example.com").unwrap();
    s.add_alias("pong@example.com", "carol@example.com")
        .unwrap();
    assert_eq!(
        s.resolve_recipient("ping@example.com").unwrap(),
        [local("carol@example.com")]
    );

    // A chain a0 -> a1 -> ... -> a12 -> bob is cut after ten levels of aliases.
    for i in 0..12 {
        s.add_alias(
            &format!("a{i}@example.com"),
            &format!("a{}@example.com", i + 1),
        )
        .unwrap();
    }
    s.add_alias("a12@example.com", "bob@example.com").unwrap();
    assert!(s.resolve_recipient("a0@example.com").unwrap().is_empty());
    assert_eq!(
        s.resolve_recipient("a3@example.com").unwrap(),
        [local("bob@example.com")]
    );

    // Plus-addressing.
    s.add_alias("sales@example.com", "carol@example.com")
        .unwrap();
    assert_eq!(
        s.resolve_recipient("bob+lists@example.com").unwrap(),
        [local("bob@example.com")]
    );
    assert_eq!(
        s.resolve_recipient("sales+q3@example.com").unwrap(),
        [local("carol@example.com")]
    );
    // An alias named exactly with the tag wins over the base.
    s.add_alias("bob+boss@example.com", "carol@example.com")
        .unwrap();
    assert_eq!(
        s.resolve_recipient("bob+boss@example.com").unwrap(),
        [local("carol@example.com")]
    );
    assert!(s.resolve_recipient("+x@example.com").unwrap().is_empty());
    assert!(s
        .resolve_recipient("nobody+x@example.com")
        .unwrap()
        .is_empty());
    assert_eq!(
        s.check_recipient("nobody+x@example.com").unwrap(),
        RecipientKind::UnknownLocal
    );
    assert_eq!(
        s.check_recipient("bob+x@example.com").unwrap(),
        RecipientKind::Local
    );
}
