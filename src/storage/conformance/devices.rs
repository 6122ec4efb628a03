//! Remembered devices (`storage::devices`).

use super::{fresh, Open, ALICE, BOB};
use crate::storage::{DeviceRecord, StorageError};

fn device(account: &str, id: &str) -> DeviceRecord {
    DeviceRecord {
        account: account.into(),
        id: id.into(),
        digest: vec![9; 32],
        label: format!("Firefox on Linux ({id})"),
        created: 1_700_000_000,
        last_used: 1_700_000_000,
        expires: 1_702_592_000,
    }
}

fn ids(devices: Vec<DeviceRecord>) -> Vec<(String, String)> {
    devices.into_iter().map(|d| (d.account, d.id)).collect()
}

/// Devices are added per account (an id once per account, the account must exist, its
/// address in any case), read back whole, listed per account and all together by account
/// then id, touched, deleted one by one and all of an account at once; deleting an account
/// deletes its devices and leaves the others'.
pub fn devices_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    assert_eq!(store.device_get(BOB, "00000000000000b1").unwrap(), None);
    store.device_add(&device(BOB, "00000000000000b2")).unwrap();
    store
        .device_add(&device("Bob@Example.com", "00000000000000b1"))
        .unwrap();
    store
        .device_add(&device(ALICE, "00000000000000a1"))
        .unwrap();
    // The same id under another account is another device.
    store
        .device_add(&device(ALICE, "00000000000000b1"))
        .unwrap();
    assert!(matches!(
        store.device_add(&device(BOB, "00000000000000b1")),
        Err(StorageError::Exists(_))
    ));
    assert!(matches!(
        store.device_add(&device("nobody@example.com", "0000000000000001")),
        Err(StorageError::NotFound(_))
    ));
    assert_eq!(
        store
            .device_get("BOB@example.com", "00000000000000b1")
            .unwrap(),
        Some(device(BOB, "00000000000000b1"))
    );
    assert_eq!(store.device_get(BOB, "00000000000000a1").unwrap(), None);
    let pair = |a: &str, i: &str| (a.to_string(), i.to_string());
    assert_eq!(
        ids(store.device_list(Some(BOB)).unwrap()),
        [pair(BOB, "00000000000000b1"), pair(BOB, "00000000000000b2")]
    );
    assert_eq!(
        ids(store.device_list(None).unwrap()),
        [
            pair(ALICE, "00000000000000a1"),
            pair(ALICE, "00000000000000b1"),
            pair(BOB, "00000000000000b1"),
            pair(BOB, "00000000000000b2"),
        ]
    );

    store
        .device_touch(BOB, "00000000000000b1", 1_700_000_600)
        .unwrap();
    store
        .device_touch(BOB, "ffffffffffffffff", 1_700_000_600)
        .unwrap();
    let touched = store.device_get(BOB, "00000000000000b1").unwrap().unwrap();
    assert_eq!(
        (touched.created, touched.last_used),
        (1_700_000_000, 1_700_000_600)
    );
    assert_eq!(store.device_get(BOB, "ffffffffffffffff").unwrap(), None);

    assert!(store.device_delete(BOB, "00000000000000b2").unwrap());
    assert!(!store.device_delete(BOB, "00000000000000b2").unwrap());
    assert_eq!(store.device_delete_all(ALICE).unwrap(), 2);
    assert_eq!(store.device_delete_all(ALICE).unwrap(), 0);
    assert!(store.device_list(Some(ALICE)).unwrap().is_empty());

    store
        .device_add(&device(ALICE, "00000000000000a2"))
        .unwrap();
    store.0.del_account(BOB).unwrap();
    assert_eq!(
        ids(store.device_list(None).unwrap()),
        [pair(ALICE, "00000000000000a2")]
    );
}
