//! The smaller stores (DKIM keys, fetch sources, screening, the TLS policy cache) and
//! durability across a reopen.

use std::net::IpAddr;

use super::{append, fresh, inbox, DataDir, Open, ALICE, BOB};
use crate::storage::{
    Accepted, Ban, BlobStore, CachedStsPolicy, Dedup, DkimAlgorithm, FetchProtocol, FetchSource,
    FetchStatus, FetchedMessage, QueueId, QueueName, QueueRecipient, QueueRecord, ScreenRecord,
    ScreenRule, SourceId, SourceOwner, StorageError, TlsFailureCount, TlsMode, TlsResult,
};

/// Keys are added (the first active), listed, activated, read back and deleted; the active
/// key stays while others exist.
pub fn dkim_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    let pem = b"-----BEGIN PRIVATE KEY-----\nconformance\n-----END PRIVATE KEY-----\n";
    let first = store
        .dkim_add(
            "example.com",
            "sel1",
            DkimAlgorithm::Ed25519,
            "cHVi",
            pem,
            1000,
        )
        .unwrap();
    assert!(first.active);
    assert_eq!(
        (first.selector.as_str(), first.public_key.as_str()),
        ("sel1", "cHVi")
    );
    assert!(store
        .dkim_add(
            "unknown.test",
            "sel1",
            DkimAlgorithm::Rsa,
            "cHVi",
            pem,
            1000
        )
        .is_err());
    let second = store
        .dkim_add(
            "example.com",
            "sel2",
            DkimAlgorithm::Rsa,
            "cHVi2",
            pem,
            2000,
        )
        .unwrap();
    assert!(!second.active);
    assert_eq!(store.dkim_list("example.com").unwrap().len(), 2);
    assert_eq!(store.dkim_private_key(&second).unwrap(), pem);
    assert_eq!(
        store.dkim_active("example.com").unwrap(),
        Some(first.clone())
    );
    let now_active = store.dkim_activate("example.com", "sel2").unwrap();
    assert!(now_active.active);
    assert_eq!(
        store
            .dkim_active("example.com")
            .unwrap()
            .map(|k| k.selector),
        Some("sel2".to_string())
    );
    assert!(
        store.dkim_delete("example.com", "sel2").is_err(),
        "active key deleted"
    );
    store.dkim_delete("example.com", "sel1").unwrap();
    assert_eq!(store.dkim_list("example.com").unwrap(), vec![now_active]);
}

/// A source is stored with a sealed password, read back, given a status and deleted.
pub fn fetch_sources_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    let sealed = store.seal_secret("remote-pw").unwrap();
    assert_ne!(sealed, b"remote-pw");
    assert_eq!(store.open_secret(&sealed).unwrap(), "remote-pw");
    let source = FetchSource {
        id: 0,
        owner: SourceOwner::Account(BOB.into()),
        protocol: FetchProtocol::Pop3,
        host: "pop.remote.test".into(),
        port: 995,
        tls: TlsMode::Implicit,
        verify_cert: true,
        user: "bob".into(),
        password: sealed,
        leave_on_server: false,
        interval: 300,
        domainpop: None,
    };
    let added = store.fetch_add_source(source.clone()).unwrap();
    assert_eq!(
        FetchSource {
            id: 0,
            ..added.clone()
        },
        source
    );
    assert_eq!(store.fetch_source(added.id).unwrap(), Some(added.clone()));
    assert_eq!(store.fetch_sources().unwrap(), vec![added.clone()]);
    let second = store.fetch_add_source(source.clone()).unwrap();
    assert!(second.id > added.id, "source ids grow");

    let status = FetchStatus {
        last_run: Some(1_700_000_000),
        last_fetched: 3,
        total_fetched: 3,
        last_error: Some("timeout".into()),
        failures: 1,
        ..FetchStatus::default()
    };
    store.fetch_set_status(added.id, &status).unwrap();
    assert_eq!(store.fetch_status(added.id).unwrap(), status);
    assert_eq!(store.fetch_del_source(added.id).unwrap(), added);
    assert_eq!(store.fetch_source(added.id).unwrap(), None);
    assert!(store.fetch_del_source(added.id).is_err());
}

/// A fetched message is taken in once: a repeat of its mark writes nothing and holds not its
/// body; duplicate suppression drops the recipients that had the Message-ID within the
/// window, and only those; the marks of messages gone from the server are forgotten.
pub fn fetch_accept_exactly_once(open: Open) {
    let dir = DataDir::make();
    let store = open(dir.path()).expect("open the backend");
    let source = store
        .fetch_add_source(bob_source(store.seal_secret("pw").unwrap()))
        .unwrap()
        .id;
    let fetched = |mark: &str, id: u64, to: &[&str], now: i64| {
        fetched_message(store.blobs(), source, mark, id, to, now)
    };
    let first = fetched("7:1", 1, &[BOB], 1000);
    assert_eq!(
        store.0.fetch_accept(&first).unwrap(),
        Accepted::New {
            records: vec![(QueueName::Inbound, 1)],
            suppressed: 0
        }
    );
    // The same message again, as after a crash between the commit and the remote delete.
    let again = fetched("7:1", 2, &[BOB], 1001);
    assert_eq!(store.0.fetch_accept(&again).unwrap(), Accepted::AlreadySeen);
    assert_eq!(store.blob_refcount(&first.blob).unwrap(), 1);
    assert_eq!(store.blob_refcount(&again.blob).unwrap(), 0);
    assert!(store.fetch_is_seen(source, "7:1").unwrap());

    // One Message-ID to three recipients, fetched three times within the window.
    let to = [BOB, ALICE, "Carol@example.com"];
    let dedup = Dedup {
        message_id: "<m1@remote.test>".into(),
        window: 3600,
    };
    for (i, now) in [(0, 1000), (1, 1001), (2, 1002)] {
        let mut m = fetched(&format!("u{i}"), 10 + i, &to, now);
        m.dedup = Some(dedup.clone());
        let (written, suppressed) = if i == 0 { (1, 0) } else { (0, 3) };
        assert!(
            matches!(
                store.0.fetch_accept(&m).unwrap(),
                Accepted::New { ref records, suppressed: s } if records.len() == written && s == suppressed
            ),
            "copy {i}"
        );
    }
    // After the window the Message-ID is delivered again.
    assert_eq!(store.fetch_expire_dedup(source, 3600, 4600).unwrap(), 3);
    let mut late = fetched("u3", 13, &to[..1], 4600);
    late.dedup = Some(dedup);
    assert!(matches!(
        store.0.fetch_accept(&late).unwrap(),
        Accepted::New { ref records, suppressed: 0 } if records.len() == 1
    ));

    // Gone from the server: forgotten; still there: kept.
    let on_server = ["u1", "u2", "u3"].map(String::from).into();
    assert_eq!(store.fetch_forget_gone(source, &on_server).unwrap(), 2);
    assert_eq!(store.fetch_seen(source).unwrap(), on_server);
}

/// Bob's IMAP source, not added yet, with the `sealed` password.
pub(crate) fn bob_source(sealed: Vec<u8>) -> FetchSource {
    FetchSource {
        id: 0,
        owner: SourceOwner::Account(BOB.into()),
        protocol: FetchProtocol::Imap,
        host: "imap.remote.test".into(),
        port: 993,
        tls: TlsMode::Implicit,
        verify_cert: true,
        user: "bob".into(),
        password: sealed,
        leave_on_server: true,
        interval: 300,
        domainpop: None,
    }
}

/// Message `mark` fetched from `source` at `now`: a body of its own (mark and `id`) in
/// `blobs`, held by the new inbound record `id` for `to`.
pub(crate) fn fetched_message(
    blobs: &BlobStore,
    source: SourceId,
    mark: &str,
    id: QueueId,
    to: &[&str],
    now: i64,
) -> FetchedMessage {
    let content = format!("Subject: {mark} {id}\r\n\r\nbody\r\n");
    let blob = blobs.put(content.as_bytes()).expect("put body");
    let rec = QueueRecord::inbound(
        id,
        blob,
        content.len() as u64,
        String::new(),
        to.iter().map(|a| QueueRecipient::new(a)).collect(),
        "fetch".into(),
        now,
    );
    FetchedMessage {
        source,
        mark: mark.into(),
        blob,
        records: vec![rec],
        dedup: None,
        now,
    }
}

/// A successful TLS session under an MTA-STS policy, and a failed one under the same policy.
pub(crate) fn tls_results() -> (TlsResult, TlsResult) {
    let ok = TlsResult {
        policy_type: "sts".into(),
        policy_string: vec!["version: STSv1".into()],
        mx_host: vec!["mx.remote.test".into()],
        failure: None,
    };
    let failed = TlsResult {
        failure: Some(TlsFailureCount {
            result_type: "certificate-expired".into(),
            receiving_mx_hostname: "mx.remote.test".into(),
            ..TlsFailureCount::default()
        }),
        ..ok.clone()
    };
    (ok, failed)
}

/// Address records, account failure times and allow/deny rules are stored, loaded and
/// removed.
pub fn screening_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let rec = ScreenRecord {
        auth_failures: vec![10, 20],
        ban: Some(Ban {
            since: 20,
            until: 620,
            reason: "auth failures".into(),
        }),
        offences: 1,
        ..ScreenRecord::default()
    };
    store.screen_put_address(ip, Some(&rec)).unwrap();
    store.screen_put_account(BOB, Some(&vec![5, 6])).unwrap();
    store
        .screen_put_rule(ScreenRule::Allow, "10.0.0.0/8", true)
        .unwrap();
    store
        .screen_put_rule(ScreenRule::Deny, "203.0.113.0/24", true)
        .unwrap();
    let snap = store.screen_load().unwrap();
    assert_eq!(snap.addresses, vec![(ip, rec)]);
    assert_eq!(snap.accounts, vec![(BOB.to_string(), vec![5, 6])]);
    assert_eq!(snap.allow, vec!["10.0.0.0/8".to_string()]);
    assert_eq!(snap.deny, vec!["203.0.113.0/24".to_string()]);

    store.screen_put_address(ip, None).unwrap();
    store.screen_put_account(BOB, None).unwrap();
    store
        .screen_put_rule(ScreenRule::Allow, "10.0.0.0/8", false)
        .unwrap();
    let snap = store.screen_load().unwrap();
    assert!(snap.addresses.is_empty() && snap.accounts.is_empty() && snap.allow.is_empty());
    assert_eq!(snap.deny.len(), 1);
}

/// MTA-STS policies are cached by domain; TLSRPT results are counted per day and domain and
/// removed once reported.
pub fn tls_policy_round_trip(open: Open) {
    let (_dir, store) = fresh(open);
    assert_eq!(store.mta_sts_get("remote.test").unwrap(), None);
    let policy = CachedStsPolicy {
        id: "20240101".into(),
        text: "version: STSv1\nmode: enforce\nmx: mx.remote.test\nmax_age: 86400\n".into(),
        fetched_at: 1_700_000_000,
        expires_at: 1_700_086_400,
    };
    store.mta_sts_put("Remote.TEST", &policy).unwrap();
    assert_eq!(store.mta_sts_get("remote.test").unwrap(), Some(policy));

    let (ok, failed) = tls_results();
    store.tlsrpt_add(19_700, "remote.test", &ok).unwrap();
    store.tlsrpt_add(19_700, "remote.test", &ok).unwrap();
    store.tlsrpt_add(19_700, "remote.test", &failed).unwrap();
    let list = store.tlsrpt_list().unwrap();
    assert_eq!(list.len(), 1);
    let (day, domain, counts) = &list[0];
    assert_eq!((*day, domain.as_str()), (19_700, "remote.test"));
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].success, 2);
    assert_eq!(counts[0].failures.len(), 1);
    assert_eq!(counts[0].failures[0].count, 1);
    store.tlsrpt_remove(19_700, "remote.test").unwrap();
    assert!(store.tlsrpt_list().unwrap().is_empty());
}

/// What was committed before the store was closed is there after it is opened again:
/// directory, folders, messages, flags, queue records and bodies.
pub fn commit_survives_reopen(open: Open) {
    let dir: DataDir;
    let (folder, uid, rec) = {
        let (d, store) = fresh(open);
        dir = d;
        let folder = inbox(&store, BOB);
        let (uid, _) = append(&store, folder, b"Subject: durable\r\n\r\nkept");
        store
            .0
            .set_flags(
                folder,
                uid,
                crate::storage::Flags::system(crate::storage::Flags::SEEN),
            )
            .unwrap();
        store.create_folder(BOB, "Kept", None).unwrap();
        let id = store.next_queue_id().unwrap();
        let content = b"queued body";
        let rec = QueueRecord::inbound(
            id,
            store.blobs().put(content).unwrap(),
            content.len() as u64,
            "a@remote.test".into(),
            vec![QueueRecipient::new(BOB)],
            "127.0.0.1".into(),
            1_700_000_000,
        );
        store.0.queue_put(&rec).unwrap();
        store.commit().unwrap();
        (folder, uid, rec)
    };
    let store = open(dir.path()).expect("reopen the backend");
    assert!(store.is_local_domain("example.com").unwrap());
    assert!(store.get_account(BOB).unwrap().is_some());
    assert_eq!(inbox(&store, BOB), folder);
    assert!(store.folder_id(BOB, "Kept").unwrap().is_some());
    let msg = store
        .get_message(folder, uid)
        .unwrap()
        .expect("message kept");
    assert!(msg.flags.has(crate::storage::Flags::SEEN));
    assert_eq!(
        store.blobs().get(&msg.blob).unwrap(),
        b"Subject: durable\r\n\r\nkept"
    );
    assert_eq!(
        store.queue_get(QueueName::Inbound, rec.id).unwrap(),
        Some(rec.clone())
    );
    assert_eq!(store.blob_refcount(&rec.blob).unwrap(), 1);
    assert!(
        store.next_queue_id().unwrap() > rec.id,
        "queue ids grow across a reopen"
    );
    assert!(matches!(
        store.add_domain("example.com"),
        Err(StorageError::Exists(_))
    ));
}
