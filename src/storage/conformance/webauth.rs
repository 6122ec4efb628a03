//! TOTP state and API keys (`storage::webauth`).

use super::{fresh, Open, ALICE, BOB};
use crate::storage::{ApiKeyRecord, StorageError, TotpState};

fn key(id: &str, owner: &str) -> ApiKeyRecord {
    ApiKeyRecord {
        id: id.into(),
        name: format!("key {id}"),
        owner: owner.into(),
        scope: "queues".into(),
        digest: vec![7; 32],
        created: 1_700_000_000,
        last_used: None,
    }
}

/// TOTP state is stored per account (pending, then enabled), a time step is claimed once
/// and only forwards, a recovery code is used once; API keys are added (ids unique, owner
/// an account), listed by id, touched and deleted; deleting an account deletes its state
/// and its keys and leaves the others'.
pub fn webauth_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    assert_eq!(store.totp_get(BOB).unwrap(), None);
    let pending = TotpState {
        secret: vec![1; 20],
        enabled: false,
        recovery: Vec::new(),
        last_step: 0,
    };
    store.totp_put(BOB, &pending).unwrap();
    assert_eq!(
        store.totp_get("Bob@Example.com").unwrap(),
        Some(pending.clone())
    );
    // Pending: no step can be claimed, no recovery code used.
    assert!(!store.totp_claim_step(BOB, 5).unwrap());
    let enabled = TotpState {
        enabled: true,
        recovery: vec![vec![0xaa; 32], vec![0xbb; 32]],
        last_step: 10,
        ..pending
    };
    store.totp_put(BOB, &enabled).unwrap();
    assert!(!store.totp_claim_step(BOB, 10).unwrap(), "the same step");
    assert!(!store.totp_claim_step(BOB, 9).unwrap(), "an earlier step");
    assert!(store.totp_claim_step(BOB, 11).unwrap());
    assert!(!store.totp_claim_step(BOB, 11).unwrap(), "a replay");
    assert!(store.totp_use_recovery(BOB, &[0xaa; 32]).unwrap());
    assert!(
        !store.totp_use_recovery(BOB, &[0xaa; 32]).unwrap(),
        "used once"
    );
    assert!(!store.totp_use_recovery(BOB, &[0xcc; 32]).unwrap());
    let now = store.totp_get(BOB).unwrap().unwrap();
    assert_eq!((now.last_step, now.recovery), (11, vec![vec![0xbb; 32]]));
    assert!(matches!(
        store.totp_put("nobody@example.com", &enabled),
        Err(StorageError::NotFound(_))
    ));
    store.totp_put(ALICE, &enabled).unwrap();
    assert_eq!(
        store
            .totp_list()
            .unwrap()
            .into_iter()
            .map(|(a, _)| a)
            .collect::<Vec<_>>(),
        vec![ALICE.to_string(), BOB.to_string()]
    );
    assert!(store.totp_delete(ALICE).unwrap());
    assert!(!store.totp_delete(ALICE).unwrap());

    store.apikey_add(&key("0000000b", BOB)).unwrap();
    store
        .apikey_add(&key("0000000a", "BOB@example.com"))
        .unwrap();
    store.apikey_add(&key("0000000c", ALICE)).unwrap();
    assert!(matches!(
        store.apikey_add(&key("0000000a", ALICE)),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        store.apikey_add(&key("0000000d", "nobody@example.com")),
        Err(StorageError::NotFound(_))
    ));
    let ids: Vec<String> = store
        .apikey_list()
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(ids, ["0000000a", "0000000b", "0000000c"]);
    assert_eq!(
        store.apikey_get("0000000a").unwrap(),
        Some(key("0000000a", BOB))
    );
    store.apikey_touch("0000000a", 1_700_000_600).unwrap();
    store.apikey_touch("ffffffff", 1_700_000_600).unwrap();
    assert_eq!(
        store.apikey_get("0000000a").unwrap().unwrap().last_used,
        Some(1_700_000_600)
    );
    assert_eq!(store.apikey_get("ffffffff").unwrap(), None);
    store.apikey_delete("0000000c").unwrap();
    assert!(matches!(
        store.apikey_delete("0000000c"),
        Err(StorageError::NotFound(_))
    ));

    store.apikey_add(&key("0000000c", ALICE)).unwrap();
    store.totp_put(ALICE, &enabled).unwrap();
    store.0.del_account(BOB).unwrap();
    assert_eq!(store.totp_get(BOB).unwrap(), None);
    let left: Vec<String> = store
        .apikey_list()
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(left, ["0000000c"]);
    assert!(store.totp_get(ALICE).unwrap().is_some());
}
