//! `storage migrate` and `storage check` on real data: a sled data directory with a few
//! thousand messages over several accounts and folders (flags, expunges, ACLs, metadata,
//! URLAUTH keys, subscriptions, queue records), copied into a fresh PostgreSQL schema with
//! an interruption and a resume, then verified. The PostgreSQL parts skip loudly without
//! `FERRYMAIL_TEST_PG_URL`.

use std::path::Path;

use super::check::check;
use super::davstore::DavStore;
use super::dump::Export;
use super::migrate::{migrate, MigrateOptions, Progress, STOPPED};
use super::pg::PgStore;
use super::pg_testing as testing;
use super::*;

/// Progress that only counts (and checks that phases are well formed).
#[derive(Default)]
struct Count {
    phases: Vec<String>,
    open: bool,
}

impl Progress for Count {
    fn phase(&mut self, name: &str, _total: u64) {
        assert!(!self.open, "phase {name} began inside another");
        self.open = true;
        self.phases.push(name.to_string());
    }
    fn advance(&mut self, _n: u64) {
        assert!(self.open, "progress outside a phase");
    }
    fn end_phase(&mut self) {
        self.open = false;
    }
}

const ACCOUNTS: [&str; 3] = ["ann@example.com", "bob@example.com", "cat@example.org"];
/// Messages appended per folder (three folders per account: 3 × 3 × 240 = 2160).
const PER_FOLDER: usize = 240;

/// Fills `dir` (the embedded backend) and returns what it holds, for comparisons.
pub(crate) fn fill(dir: &Path) {
    set_fast_password_hashing_for_tests(true);
    let (store, w) = Store::open_sled(dir, None).expect("open sled");
    store.add_domain("example.com").unwrap();
    store.add_domain("example.org").unwrap();
    for a in ACCOUNTS {
        store.add_account(a, "pw", a.starts_with("ann")).unwrap();
    }
    store
        .add_alias("team@example.com", "ann@example.com")
        .unwrap();
    store
        .add_alias("team@example.com", "bob@example.com")
        .unwrap();
    store
        .set_quota("bob@example.com", Some(50_000_000), Some(10_000))
        .unwrap();
    store
        .add_send_as("ann@example.com", "@example.org")
        .unwrap();
    store.subscribe("ann@example.com", "Lists/rust").unwrap();
    let public = store
        .create_folder(PUBLIC_OWNER, "Shared/news", None)
        .unwrap();
    store.set_acl(public, "anyone", "lr").unwrap();
    store
        .set_metadata(
            MetadataOwner::Server,
            "ann@example.com",
            &[("/shared/comment".into(), Some(b"server note".to_vec()))],
        )
        .unwrap();
    let mut n = 0u64;
    for a in ACCOUNTS {
        let work = store.create_folder(a, "Work", None).unwrap();
        let deep = store.create_folder(a, "Work/2026/q4", None).unwrap();
        store.set_acl(work, "bob@example.com", "lrs").unwrap();
        store
            .set_metadata(
                MetadataOwner::Folder(work),
                a,
                &[("/private/color".into(), Some(b"blue".to_vec()))],
            )
            .unwrap();
        store.urlauth_key(work, a, true).unwrap();
        let inbox = store.folder_id(a, "INBOX").unwrap().unwrap();
        for folder in [inbox, work, deep] {
            let msgs: Vec<NewMessage> = (0..PER_FOLDER)
                .map(|i| {
                    n += 1;
                    // Every tenth body is the one before it again (reference counts > 1).
                    let shared = if i % 10 == 9 { n - 1 } else { n };
                    let body = format!("Subject: m{shared}\r\n\r\nbody\r\n");
                    let blob = store.blobs().put(body.as_bytes()).unwrap();
                    let mut flags = Flags::default();
                    if i % 3 == 0 {
                        flags.set(Flags::SEEN, true);
                    }
                    if i % 7 == 0 {
                        flags.add_keyword("$Work");
                    }
                    NewMessage {
                        blob,
                        size: body.len() as u64,
                        flags,
                        internal_date: 1_700_000_000 + n as i64,
                    }
                })
                .collect();
            for chunk in msgs.chunks(60) {
                w.folders.append_messages(folder, chunk).unwrap();
            }
            let uids = store.uid_list(folder).unwrap();
            let gone: Vec<u32> = uids.iter().copied().filter(|u| u % 5 == 0).collect();
            w.folders.expunge(folder, &gone).unwrap();
            let flagged: Vec<u32> = uids.iter().copied().filter(|u| u % 4 == 1).collect();
            w.folders
                .store_flags(
                    folder,
                    &flagged,
                    FlagMode::Add,
                    &Flags::system(Flags::FLAGGED),
                    None,
                )
                .unwrap();
        }
        w.folders.claim_recent(inbox).unwrap();
    }
    for (i, q) in [QueueName::Inbound, QueueName::Remote, QueueName::Deferred]
        .into_iter()
        .enumerate()
    {
        for j in 0..40 {
            let body = format!("queued {i} {j}\r\n");
            let blob = store.blobs().put(body.as_bytes()).unwrap();
            let mut rec = QueueRecord::inbound(
                store.next_queue_id().unwrap(),
                blob,
                body.len() as u64,
                "sender@remote.example".into(),
                vec![QueueRecipient::new("bob@example.com")],
                "test".into(),
                1_700_000_000,
            );
            rec.queue = q;
            rec.attempts = j;
            w.queues.queue_put(&rec).unwrap();
        }
    }
    // WebDAV files (storage::davfiles): a collection, two resources, a dead property.
    let files = store.dav_files().expect("sled has a file store");
    files
        .dav_mkcol("bob@example.com", "/docs", 1_700_000_000)
        .unwrap();
    for (i, path) in ["/docs/a.txt", "/b.bin"].into_iter().enumerate() {
        let content = format!("file {i}\r\n");
        let body = davfiles::PutBody {
            blob: store.blobs().put(content.as_bytes()).unwrap(),
            size: content.len() as u64,
            content_type: "text/plain".into(),
        };
        files
            .dav_put("bob@example.com", path, &body, 1_700_000_000)
            .unwrap();
    }
    let prop = ("urn:x".to_string(), "p".to_string(), Some("v".to_string()));
    files
        .dav_patch("bob@example.com", "/docs", &[prop])
        .unwrap();
    store.commit().unwrap();
}

/// The fetch password of the source made by [`fill_small`].
const FETCH_PASSWORD: &str = "pop s3cret";
/// The DKIM private key of [`fill_small`] (any bytes: the store does not parse it).
const DKIM_PEM: &[u8] =
    b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+test+key\n-----END PRIVATE KEY-----\n";

/// Adds the smaller stores' state to `dir`: two DKIM keys (one active), a fetch source with
/// a sealed password, its status, seen and duplicate marks (taken in through
/// `fetch_accept`), an MTA-STS policy, TLSRPT counts, a screening ban, account failures,
/// allow/deny rules, and ann's TOTP state and an API key of hers.
fn fill_small(dir: &Path) {
    let (store, w) = Store::open_sled(dir, None).expect("open sled");
    store
        .dkim_add(
            "example.com",
            "s1",
            DkimAlgorithm::Ed25519,
            "AAAA",
            DKIM_PEM,
            1_700_000_000,
        )
        .unwrap();
    store
        .dkim_add(
            "example.com",
            "s2",
            DkimAlgorithm::Ed25519,
            "BBBB",
            b"second",
            1_700_000_001,
        )
        .unwrap();
    let source = store
        .fetch_add_source(FetchSource {
            id: 0,
            owner: SourceOwner::Domain("example.com".into()),
            protocol: FetchProtocol::Pop3,
            host: "pop.remote.example".into(),
            port: 995,
            tls: TlsMode::Implicit,
            verify_cert: true,
            user: "catchall".into(),
            password: store.seal_secret(FETCH_PASSWORD).unwrap(),
            leave_on_server: false,
            interval: 600,
            domainpop: None,
        })
        .unwrap();
    store
        .fetch_set_status(
            source.id,
            &FetchStatus {
                last_run: Some(1_700_000_100),
                total_fetched: 2,
                ..FetchStatus::default()
            },
        )
        .unwrap();
    for mark in ["uidl-1", "uidl-2"] {
        let body = format!("Subject: {mark}\r\nMessage-ID: <{mark}@remote>\r\n\r\nx\r\n");
        let blob = store.blobs().put(body.as_bytes()).unwrap();
        let rec = QueueRecord::inbound(
            store.next_queue_id().unwrap(),
            blob,
            body.len() as u64,
            "a@remote.example".into(),
            vec![QueueRecipient::new("ann@example.com")],
            "fetch".into(),
            1_700_000_000,
        );
        let accepted = w
            .queues
            .fetch_accept(&FetchedMessage {
                source: source.id,
                mark: mark.into(),
                blob,
                records: vec![rec],
                dedup: Some(Dedup {
                    message_id: format!("<{mark}@remote>"),
                    window: 86_400,
                }),
                now: 1_700_000_200,
            })
            .unwrap();
        assert!(matches!(accepted, Accepted::New { .. }), "{accepted:?}");
    }
    store
        .mta_sts_put(
            "Remote.Example",
            &CachedStsPolicy {
                id: "20260101".into(),
                text: "version: STSv1\nmode: enforce\nmx: mx.remote.example\nmax_age: 86400\n"
                    .into(),
                fetched_at: 1_700_000_000,
                expires_at: 1_700_086_400,
            },
        )
        .unwrap();
    let result = TlsResult {
        policy_type: "sts".into(),
        policy_string: vec!["version: STSv1".into()],
        mx_host: vec!["mx.remote.example".into()],
        failure: Some(TlsFailureCount {
            result_type: "certificate-expired".into(),
            receiving_mx_hostname: "mx.remote.example".into(),
            ..TlsFailureCount::default()
        }),
    };
    store.tlsrpt_add(19_700, "remote.example", &result).unwrap();
    store.tlsrpt_add(19_700, "remote.example", &result).unwrap();
    store.tlsrpt_add(19_701, "other.example", &result).unwrap();
    let banned = ScreenRecord {
        auth_failures: vec![1_700_000_001, 1_700_000_002],
        ban: Some(Ban {
            since: 1_700_000_002,
            until: 1_700_003_602,
            reason: "5 failed logins in 600s".into(),
        }),
        offences: 1,
        ..ScreenRecord::default()
    };
    store
        .screen_put_address("192.0.2.7".parse().unwrap(), Some(&banned))
        .unwrap();
    store
        .screen_put_account("bob@example.com", Some(&vec![1_700_000_005]))
        .unwrap();
    store
        .screen_put_rule(ScreenRule::Allow, "198.51.100.0/24", true)
        .unwrap();
    store
        .screen_put_rule(ScreenRule::Deny, "203.0.113.0/24", true)
        .unwrap();
    let totp = TotpState {
        secret: vec![3; 20],
        enabled: true,
        recovery: vec![vec![1; 32], vec![2; 32]],
        last_step: 56_666_666,
    };
    store.totp_put("ann@example.com", &totp).unwrap();
    store
        .apikey_add(&ApiKeyRecord {
            id: "0badcafe".into(),
            name: "ci".into(),
            owner: "ann@example.com".into(),
            scope: "queues".into(),
            digest: vec![9; 32],
            created: 1_700_000_000,
            last_used: Some(1_700_000_060),
        })
        .unwrap();
    store
        .snooze_put(&crate::storage::SnoozeRecord {
            id: 77,
            account: "ann@example.com".into(),
            wake: 1_800_000_000,
            folder: "INBOX".into(),
            from_uid: 3,
            snoozed_uid: Some(9),
            email_id: "Mabc".into(),
        })
        .unwrap();
    store
        .device_add(&DeviceRecord {
            account: "ann@example.com".into(),
            id: "00000000cafe0001".into(),
            digest: vec![4; 32],
            label: "Firefox on Linux".into(),
            created: 1_700_000_000,
            last_used: 1_700_000_120,
            expires: 1_702_592_000,
        })
        .unwrap();
    let cal = store.dav_collections("ann@example.com").unwrap()[0].clone();
    for name in ["a.ics", "b.ics"] {
        let obj = davstore::NewObject {
            name: name.into(),
            uid: format!("uid-{name}"),
            data: format!("BEGIN:VCALENDAR {name}"),
            component: "VEVENT".into(),
            first: Some(1_700_000_000),
            last: None,
        };
        store
            .dav_put(cal.id, &obj, &davstore::Condition::Any)
            .unwrap();
    }
    store
        .dav_delete(cal.id, "b.ics", &davstore::Condition::Any)
        .unwrap();
    // Sharing: an entry on ann's calendar and a public calendar read by anyone.
    store.dav_set_acl(cal.id, "bob@example.com", "lr").unwrap();
    let public = store
        .dav_create_collection(&davstore::NewCollection {
            owner: PUBLIC_OWNER.into(),
            name: "holidays".into(),
            kind: davstore::CollectionKind::Calendar,
            props: davstore::CollectionProps::default(),
            components: vec!["VEVENT".into()],
        })
        .unwrap();
    store.dav_set_acl(public.id, "anyone", "lr").unwrap();
    store.commit().unwrap();
}

fn target(url: &str, schema: &str) -> MigrateOptions {
    let mut opts = MigrateOptions::new(url, schema);
    opts.batch = 100;
    opts
}

#[test]
fn migrate_resumes_after_an_interruption_and_verifies() {
    let Some(url) = testing::url("migrate_resumes_after_an_interruption_and_verifies") else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    fill_small(src.path());
    let schema = format!("{}_mig", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);
    let mut opts = target(&url, &schema);

    // Interrupted twice (after the directory and some folder batches, then mid-queues).
    for stop in [5, 30] {
        opts.stop_after = Some(stop);
        let err = migrate(src.path(), None, &opts, &mut Count::default()).expect_err("must stop");
        assert!(err.to_string().contains(STOPPED), "{err}");
    }
    opts.stop_after = None;
    let mut progress = Count::default();
    let v = migrate(src.path(), None, &opts, &mut progress).expect("resumed run");
    assert!(v.ok(), "mismatches: {:#?}", v.mismatches);
    assert!(progress.phases.iter().any(|p| p == "verify"));
    for line in [
        "table messages: 1728 rows",
        "table dkim_keys: 2 rows",
        "table fetch_sources: 1 rows",
        "table fetch_status: 1 rows",
        "table fetch_seen: 2 rows",
        "table fetch_dedup: 2 rows",
        "table mta_sts: 1 rows",
        "table tlsrpt: 2 rows",
        "table screen_addresses: 1 rows",
        "table screen_accounts: 1 rows",
        "table screen_rules: 2 rows",
        "table snooze: 1 rows",
        "fetch passwords opening equal on both sides: 1 (equal)",
    ] {
        assert!(
            v.lines.iter().any(|l| l.starts_with(line)),
            "{line}: {:#?}",
            v.lines
        );
    }
    for store in ["dkim", "fetch", "tls policy", "screening", "snooze"] {
        assert!(progress.phases.iter().any(|p| p == store), "{store}");
    }
    // A run after completion only verifies again.
    let v = migrate(src.path(), None, &opts, &mut Count::default()).unwrap();
    assert!(v.ok(), "{:#?}", v.mismatches);

    // The copy is what an uninterrupted run makes: compare with one.
    let straight = format!("{schema}_s");
    testing::drop_schema(&url, &straight);
    let v2 = migrate(
        src.path(),
        None,
        &target(&url, &straight),
        &mut Count::default(),
    )
    .unwrap();
    assert!(v2.ok());
    assert_eq!(v.lines, v2.lines);

    // Another data directory is refused on a target holding this one.
    let other = tempfile::TempDir::new().unwrap();
    fill(other.path());
    let err = migrate(
        other.path(),
        None,
        &target(&url, &schema),
        &mut Count::default(),
    )
    .expect_err("must refuse");
    assert!(matches!(err, StorageError::Conflict(_)), "{err}");

    read_back(&url, src.path(), &schema);
    testing::drop_schema(&url, &schema);
    testing::drop_schema(&url, &straight);
}

/// `r`, or `None` (with a loud note) while the PostgreSQL method is still a placeholder.
fn written<T>(r: Result<T, StorageError>, what: &str) -> Option<T> {
    match r {
        Err(StorageError::Backend(e)) if e.contains("not implemented yet") => {
            eprintln!("SKIPPED read-back of {what} through the PostgreSQL Store: {e}");
            None
        }
        other => Some(other.unwrap()),
    }
}

/// A PostgreSQL store on the copy in `schema` (bodies where the source `src` has them), with
/// the node directory it needs (kept while the store is used).
fn reader(url: &str, src: &Path, schema: &str) -> (tempfile::TempDir, PgStore) {
    let pg_dir = tempfile::TempDir::new().unwrap();
    let pg = PgStore::open(
        pg_dir.path(),
        Some(&src.join("blobs")),
        &testing::config(url, schema, "reader"),
    )
    .unwrap();
    (pg_dir, pg)
}

/// Reads the copy through a PostgreSQL `Store` and compares with the sled one: accounts,
/// folder states, messages, expunge history, ACLs and queue records. A part whose
/// PostgreSQL method is still a placeholder is skipped loudly.
fn read_back(url: &str, src: &Path, schema: &str) {
    let source = <dyn Export>::open_embedded(src, None).unwrap();
    let sled: &dyn Export = &*source;
    let (_pg_dir, pg) = reader(url, src, schema);
    if let Some(got) = written(Directory::list_accounts(&pg), "accounts") {
        assert_eq!(got, Directory::list_accounts(sled).unwrap());
    }
    let mut compared = 0;
    for owner in ACCOUNTS.into_iter().chain([PUBLIC_OWNER]) {
        let folders = Folders::list_folders(sled, owner).unwrap();
        if let Some(got) = written(Folders::list_folders(&pg, owner), "folders") {
            assert_eq!(got, folders);
            compared += folders.len();
        }
        for f in folders {
            if let Some(got) = written(Folders::list_messages(&pg, f.id), "messages") {
                assert_eq!(got, Folders::list_messages(sled, f.id).unwrap());
            }
            if let Some(got) = written(Folders::expunged_since(&pg, f.id, 0), "expunges") {
                assert_eq!(got, Folders::expunged_since(sled, f.id, 0).unwrap());
            }
            if let Some(got) = written(Folders::get_acl(&pg, f.id), "ACLs") {
                assert_eq!(got, Folders::get_acl(sled, f.id).unwrap());
            }
        }
    }
    eprintln!("read back {compared} folder states through the PostgreSQL Store");
    for q in QueueName::ALL {
        if let Some(got) = written(Queue::queue_list(&pg, q), "queues") {
            assert_eq!(got, Queue::queue_list(sled, q).unwrap());
        }
    }
    if let (Some(from), Some(to)) = (sled.dav_files(), pg.dav_files()) {
        if let Some(got) = written(to.dav_all(), "dav files") {
            assert_eq!(got, from.dav_all().unwrap());
            assert_eq!(got.len(), 3, "{got:?}");
        }
    }
    read_back_small(sled, &pg);
}

/// The smaller stores through the PostgreSQL `Store`: DKIM keys and the private key, the
/// fetch source (its password, sealed on sled, opens), status and marks, the TLS policy
/// cache and counts, the screening state.
fn read_back_small(sled: &dyn Export, pg: &PgStore) {
    let keys = pg.dkim_list("example.com").unwrap();
    assert_eq!(keys, sled.dkim_list("example.com").unwrap());
    assert_eq!(keys.len(), 2);
    let active = pg.dkim_active("example.com").unwrap().expect("active key");
    assert_eq!(active.selector, "s1");
    assert_eq!(pg.dkim_private_key(&active).unwrap(), DKIM_PEM);

    let sources = FetchStore::fetch_sources(pg).unwrap();
    assert_eq!(sources.len(), 1);
    let (copy, orig) = (&sources[0], &FetchStore::fetch_sources(sled).unwrap()[0]);
    assert_eq!(pg.open_secret(&copy.password).unwrap(), FETCH_PASSWORD);
    assert_eq!(
        FetchSource {
            password: Vec::new(),
            ..copy.clone()
        },
        FetchSource {
            password: Vec::new(),
            ..orig.clone()
        }
    );
    assert_eq!(
        pg.fetch_domainpop("example.com").unwrap().map(|s| s.id),
        Some(orig.id)
    );
    assert_eq!(pg.fetch_status(copy.id).unwrap().total_fetched, 2);
    assert_eq!(
        pg.fetch_seen(copy.id).unwrap(),
        sled.fetch_seen(orig.id).unwrap()
    );
    assert!(pg.fetch_is_seen(copy.id, "uidl-2").unwrap());
    // The dedup marks came along: both expire (window 0 at a later time), as on sled.
    assert_eq!(pg.fetch_expire_dedup(copy.id, 0, 1_800_000_000).unwrap(), 2);

    assert_eq!(
        pg.mta_sts_get("remote.example").unwrap(),
        sled.mta_sts_get("remote.example").unwrap()
    );
    assert!(pg.mta_sts_get("remote.example").unwrap().is_some());
    let reports = pg.tlsrpt_list().unwrap();
    assert_eq!(reports, sled.tlsrpt_list().unwrap());
    assert_eq!(reports.len(), 2);

    let screening = pg.screen_load().unwrap();
    assert_eq!(screening, sled.screen_load().unwrap());
    assert!(screening.addresses[0].1.ban.is_some());
    assert_eq!(screening.allow, vec!["198.51.100.0/24".to_string()]);
    assert_eq!(screening.deny, vec!["203.0.113.0/24".to_string()]);

    let totp = pg.totp_list().unwrap();
    assert_eq!(totp, sled.totp_list().unwrap());
    assert_eq!(totp.len(), 1);
    let keys = pg.apikey_list().unwrap();
    assert_eq!(keys, sled.apikey_list().unwrap());
    assert_eq!(keys.len(), 1);
    let devices = pg.device_list(None).unwrap();
    assert_eq!(devices, sled.device_list(None).unwrap());
    assert_eq!(devices.len(), 1);

    // Calendars and contacts: collections (ids are each backend's own), objects with their
    // ETags and counters; the counter carries over, older tokens expire.
    let strip = |mut c: davstore::DavCollection| {
        (c.id, c.expired_below, c.tombstones) = (0, 0, 0);
        c
    };
    let (from, to) = (
        sled.dav_all_collections().unwrap(),
        pg.dav_all_collections().unwrap(),
    );
    assert!(from.len() >= 3, "every account has its default collections");
    let ann = |list: &[davstore::DavCollection]| {
        list.iter()
            .find(|c| c.owner == "ann@example.com" && c.name == "calendar")
            .cloned()
            .expect("ann's calendar")
    };
    assert_eq!(
        to.iter().cloned().map(strip).collect::<Vec<_>>(),
        from.iter().cloned().map(strip).collect::<Vec<_>>()
    );
    let (src, dst) = (&ann(&from), &ann(&to));
    assert_eq!(
        pg.dav_get_acl(dst.id).unwrap(),
        vec![("bob@example.com".to_string(), "lr".to_string())]
    );
    assert_eq!(
        pg.dav_get_acl(dst.id).unwrap(),
        sled.dav_get_acl(src.id).unwrap()
    );
    let shared: Vec<(String, String)> = pg
        .dav_shared_with("cat@example.org")
        .unwrap()
        .into_iter()
        .map(|c| (c.owner, c.name))
        .collect();
    assert_eq!(shared, vec![(String::new(), "holidays".to_string())]);
    assert_eq!(src.sync, 3);
    assert_eq!(
        pg.dav_objects(dst.id).unwrap(),
        sled.dav_objects(src.id).unwrap()
    );
    assert_eq!(
        pg.dav_changes(dst.id, 3).unwrap(),
        davstore::Changes::Since {
            token: 3,
            changed: vec![],
            deleted: vec![]
        }
    );
    assert_eq!(
        pg.dav_changes(dst.id, 1).unwrap(),
        davstore::Changes::Expired
    );
}

/// Every file under `dir` with its inode (a file copied again gets a new one: copies are
/// renamed into place).
fn files_with_inodes(dir: &Path) -> Vec<(std::path::PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                pending.push(entry.path());
            } else {
                out.push((entry.path(), meta.ino()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn migrate_copies_bodies_to_another_directory_once() {
    let Some(url) = testing::url("migrate_copies_bodies_to_another_directory_once") else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    let bodies = tempfile::TempDir::new().unwrap();
    let schema = format!("{}_blobs", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);
    let mut opts = target(&url, &schema);
    opts.blobs = Some(bodies.path().join("copy"));

    // Interrupted after three batches of 100 bodies.
    opts.stop_after = Some(3);
    let err = migrate(src.path(), None, &opts, &mut Count::default()).expect_err("must stop");
    assert!(err.to_string().contains(STOPPED), "{err}");
    let first = files_with_inodes(bodies.path());
    assert_eq!(first.len(), 300, "three batches of bodies copied");

    // A wrong file where a body not copied yet goes is replaced by the copy.
    let refcounts = <dyn Export>::open_embedded(src.path(), None)
        .unwrap()
        .export_refcounts()
        .unwrap();
    let pg = PgStore::open(
        src.path(),
        opts.blobs.as_deref(),
        &testing::config(&url, &schema, "looker"),
    )
    .unwrap();
    let (late, _) = refcounts[1000];
    let late_path = pg.blobs().path(&late);
    std::fs::create_dir_all(late_path.parent().unwrap()).unwrap();
    std::fs::write(&late_path, b"not the body").unwrap();

    opts.stop_after = None;
    let v = migrate(src.path(), None, &opts, &mut Count::default()).expect("resumed run");
    assert!(v.ok(), "{:#?}", v.mismatches);
    let source = <dyn Export>::open_embedded(src.path(), None).unwrap();
    let sled: &dyn Export = &*source;
    let after = files_with_inodes(bodies.path());
    assert_eq!(after.len(), refcounts.len());
    for (path, inode) in &first {
        let now = after.iter().find(|(p, _)| p == path).expect("still there");
        assert_eq!(now.1, *inode, "{} was copied twice", path.display());
    }
    for (blob, _) in &refcounts {
        let copied = std::fs::read(pg.blobs().path(blob)).unwrap();
        let original = std::fs::read(sled.blobs().path(blob)).unwrap();
        assert_eq!(copied.len(), original.len());
        assert_eq!(BlobId::of(&copied), *blob, "sha256 of the copy");
    }
    // The source's bodies are still where they were.
    assert!(sled.blobs().path(&late).exists());
    testing::drop_schema(&url, &schema);
}

/// Damage for `storage check` to find: one body file deleted, one reference count off by one.
/// `storage check` counts snooze records and lists one whose message is not in Snoozed.
#[test]
fn check_lists_snooze_records_whose_message_is_not_in_snoozed() {
    let (_dir, store) = crate::storage::testutil::store_with_bob();
    let rec = crate::storage::SnoozeRecord {
        id: 5,
        account: "bob@example.com".into(),
        wake: 1_800_000_000,
        folder: "INBOX".into(),
        from_uid: 1,
        snoozed_uid: Some(1),
        email_id: "Mabc".into(),
    };
    store.snooze_put(&rec).unwrap();
    let report = check(&store).unwrap();
    assert!(report.ok(), "not a fault: {report:?}");
    assert_eq!(report.snoozed, 1);
    assert_eq!(report.stale_snoozes.len(), 1, "{report:?}");
    assert!(
        report
            .render()
            .contains("1 snooze records, 1 not in Snoozed"),
        "{}",
        report.render()
    );
}

pub(crate) fn damage_and_check(store: &Store, bump: impl FnOnce(&BlobId)) {
    let before = check(store).unwrap();
    assert!(before.ok(), "{}", before.render());
    assert_eq!(before.messages, 1728);
    assert_eq!(before.queue_records, 120);
    let inbox = store
        .folder_id("ann@example.com", "INBOX")
        .unwrap()
        .unwrap();
    let msgs = store.list_messages(inbox).unwrap();
    let gone = msgs[0].blob;
    std::fs::remove_file(store.blobs().path(&gone)).unwrap();
    let bumped = msgs[5].blob;
    bump(&bumped);
    let orphan = store.blobs().put(b"nobody refers to this").unwrap();
    let after = check(store).unwrap();
    assert!(!after.ok());
    assert!(
        after.missing.iter().any(|(_, b)| *b == gone),
        "{}",
        after.render()
    );
    assert!(
        after
            .wrong_refcount
            .iter()
            .any(|(b, s, c)| *b == bumped && *s == c + 1),
        "{}",
        after.render()
    );
    assert_eq!(after.orphans, vec![orphan]);
    assert!(after.render().contains("PROBLEMS"));
}

#[test]
fn check_finds_a_missing_body_and_a_wrong_refcount_on_postgres() {
    let Some(url) = testing::url("check_finds_a_missing_body_and_a_wrong_refcount_on_postgres")
    else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    fill(src.path());
    let schema = format!("{}_chk", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);
    let v = migrate(
        src.path(),
        None,
        &target(&url, &schema),
        &mut Count::default(),
    )
    .unwrap();
    assert!(v.ok());
    let pg = PgStore::open(src.path(), None, &testing::config(&url, &schema, "checker")).unwrap();
    if let Err(StorageError::Backend(e)) = Directory::list_accounts(&pg) {
        eprintln!("SKIPPED storage check on PostgreSQL: {e}");
        testing::drop_schema(&url, &schema);
        return;
    }
    let (store, _w) = Store::new(std::sync::Arc::new(pg.clone()));
    damage_and_check(&store, |blob| pg.test_bump_refcount(blob));
    testing::drop_schema(&url, &schema);
}

#[test]
fn migrate_resumes_at_every_batch_of_the_smaller_stores() {
    let Some(url) = testing::url("migrate_resumes_at_every_batch_of_the_smaller_stores") else {
        return;
    };
    let src = tempfile::TempDir::new().unwrap();
    {
        set_fast_password_hashing_for_tests(true);
        let (store, _w) = Store::open_sled(src.path(), None).expect("open sled");
        store.add_domain("example.com").unwrap();
        store.add_account("ann@example.com", "pw", false).unwrap();
        store.commit().unwrap();
    }
    fill_small(src.path());
    let schema = format!("{}_small", testing::schema_for(src.path()));
    testing::drop_schema(&url, &schema);

    // A target holding only a cached MTA-STS policy is not empty: refused.
    let held = format!("{schema}_held");
    testing::drop_schema(&url, &held);
    let pg_dir = tempfile::TempDir::new().unwrap();
    PgStore::open(pg_dir.path(), None, &testing::config(&url, &held, "other"))
        .unwrap()
        .mta_sts_put(
            "elsewhere.example",
            &CachedStsPolicy {
                id: "1".into(),
                text: "version: STSv1\n".into(),
                fetched_at: 0,
                expires_at: 1,
            },
        )
        .unwrap();
    let err = migrate(
        src.path(),
        None,
        &target(&url, &held),
        &mut Count::default(),
    )
    .expect_err("must refuse");
    assert!(
        matches!(&err, StorageError::Conflict(m) if m.contains("mta_sts")),
        "{err}"
    );
    testing::drop_schema(&url, &held);

    let mut opts = target(&url, &schema);
    opts.batch = 1;
    opts.stop_after = Some(1);
    // One row per transaction and one transaction per run: every batch boundary (inside
    // each of the smaller stores too) is a point the copy resumes from.
    let mut runs = 0;
    let v = loop {
        runs += 1;
        assert!(runs <= 200, "the copy does not end");
        match migrate(src.path(), None, &opts, &mut Count::default()) {
            Ok(v) => break v,
            Err(e) => assert!(e.to_string().contains(STOPPED), "{e}"),
        }
    };
    assert!(
        runs > 15,
        "only {runs} runs: the smaller stores were not batched"
    );
    assert!(v.ok(), "{:#?}", v.mismatches);
    let source = <dyn Export>::open_embedded(src.path(), None).unwrap();
    let sled: &dyn Export = &*source;
    let (_pg_dir, pg) = reader(&url, src.path(), &schema);
    read_back_small(sled, &pg);
    testing::drop_schema(&url, &schema);
}
