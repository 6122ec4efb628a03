//! The behaviour every storage backend must show, as checks over the [`Store`] handle alone
//! (no backend internals). The folder and queue writes, which `Store` does not offer, are
//! called on the backend behind it (`store.0`, visible inside `storage` only). A backend's tests call each check with a function that opens that
//! backend on a data directory: the embedded backend runs them in its own tests, and the
//! PostgreSQL backend runs the same ones.
//!
//! Each check makes its own data directory (removed afterwards), so the checks are
//! independent and may run in parallel. Compiled for this crate's tests and, through the
//! `fault-injection` feature that the test build enables, for other crates' tests.

mod davfiles;
mod davstore;
mod davstore_tags;
mod davstore_times;
mod davstore_write;
mod devices;
mod directory;
mod folders;
mod queue;
mod small;
mod snooze;
mod webauth;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{set_fast_password_hashing_for_tests, BlobId, Flags, FolderId, NewMessage};
use super::{StorageError, Store};

pub use davfiles::dav_files_round_trip;
pub use directory::{
    account_flags_round_trip, aliases_recursion_and_plus_addressing,
    directory_crud_and_credentials, sender_rights_round_trip,
};
pub use folders::{
    acl_grants_and_revokes, expunge_and_vanished, flags_and_changes_since_modseq,
    folder_create_rename_delete, folder_hierarchy_and_rename_inbox,
    quota_accounting_and_over_quota, subscriptions_round_trip, uid_and_modseq_strictly_increase,
};
pub use queue::{
    blob_references_counted_and_released, queue_domain_views, queue_put_move_delete_per_queue,
    queue_select_and_history, sweep_sends_damaged_queue_records_to_bad,
};
// Fixtures the PostgreSQL backend's own tests share.
pub use davstore::{
    dav_acl_sharing, dav_collections_and_defaults, dav_objects_conditions_and_uids,
    dav_objects_paged, dav_sync_tokens_and_tombstones,
};
pub use davstore_tags::{dav_acl_replaced_whole, dav_schedule_tags, dav_storage_check};
pub use davstore_times::{
    dav_acl_edits_are_atomic, dav_changes_read_in_bounded_pages, dav_collection_modified_moves,
    dav_initial_sync_pages_survive_pruning,
};
pub use davstore_write::dav_write_time_and_tag_decision;
pub use devices::devices_round_trip;
#[cfg(test)]
pub(crate) use small::{bob_source, fetched_message, tls_results};
pub use small::{
    commit_survives_reopen, dkim_round_trip, fetch_accept_exactly_once, fetch_sources_round_trip,
    screening_round_trip, tls_policy_round_trip,
};
pub use snooze::snooze_round_trip;
pub use webauth::webauth_round_trip;

/// How far a store's clock may be from this machine's in the checks that compare them
/// (seconds): on PostgreSQL the store's clock is the database server's, which may be
/// another host whose clock is a little off; a larger gap is a misconfigured server.
pub const CLOCK_SKEW: i64 = 5;

/// Opens the backend under test on a data directory (creating what it needs there). Called
/// again on the same directory to see what survived a close.
pub type Open<'a> = &'a dyn Fn(&Path) -> Result<Store, StorageError>;

/// One check: panics (an assertion) when the backend misbehaves.
pub type Check = fn(Open);

/// Every check, by name: a backend's test suite runs each (the embedded backend's tests run every one).
pub const CHECKS: &[(&str, Check)] = &[
    (
        "directory_crud_and_credentials",
        directory_crud_and_credentials,
    ),
    ("sender_rights_round_trip", sender_rights_round_trip),
    ("account_flags_round_trip", account_flags_round_trip),
    (
        "aliases_recursion_and_plus_addressing",
        aliases_recursion_and_plus_addressing,
    ),
    ("folder_create_rename_delete", folder_create_rename_delete),
    (
        "uid_and_modseq_strictly_increase",
        uid_and_modseq_strictly_increase,
    ),
    (
        "flags_and_changes_since_modseq",
        flags_and_changes_since_modseq,
    ),
    ("expunge_and_vanished", expunge_and_vanished),
    ("acl_grants_and_revokes", acl_grants_and_revokes),
    (
        "quota_accounting_and_over_quota",
        quota_accounting_and_over_quota,
    ),
    ("subscriptions_round_trip", subscriptions_round_trip),
    (
        "folder_hierarchy_and_rename_inbox",
        folder_hierarchy_and_rename_inbox,
    ),
    (
        "queue_put_move_delete_per_queue",
        queue_put_move_delete_per_queue,
    ),
    (
        "blob_references_counted_and_released",
        blob_references_counted_and_released,
    ),
    ("queue_select_and_history", queue_select_and_history),
    ("queue_domain_views", queue_domain_views),
    ("dkim_round_trip", dkim_round_trip),
    ("fetch_sources_round_trip", fetch_sources_round_trip),
    ("fetch_accept_exactly_once", fetch_accept_exactly_once),
    ("screening_round_trip", screening_round_trip),
    ("tls_policy_round_trip", tls_policy_round_trip),
    ("commit_survives_reopen", commit_survives_reopen),
    ("webauth_round_trip", webauth_round_trip),
    ("snooze_round_trip", snooze_round_trip),
    ("devices_round_trip", devices_round_trip),
    ("dav_files_round_trip", dav_files_round_trip),
    (
        "sweep_sends_damaged_queue_records_to_bad",
        sweep_sends_damaged_queue_records_to_bad,
    ),
    ("dav_collections_and_defaults", dav_collections_and_defaults),
    (
        "dav_objects_conditions_and_uids",
        dav_objects_conditions_and_uids,
    ),
    (
        "dav_sync_tokens_and_tombstones",
        dav_sync_tokens_and_tombstones,
    ),
    ("dav_acl_sharing", dav_acl_sharing),
    ("dav_schedule_tags", dav_schedule_tags),
    ("dav_acl_replaced_whole", dav_acl_replaced_whole),
    ("dav_storage_check", dav_storage_check),
    ("dav_objects_paged", dav_objects_paged),
    (
        "dav_write_time_and_tag_decision",
        dav_write_time_and_tag_decision,
    ),
    (
        "dav_collection_modified_moves",
        dav_collection_modified_moves,
    ),
    (
        "dav_changes_read_in_bounded_pages",
        dav_changes_read_in_bounded_pages,
    ),
    ("dav_acl_edits_are_atomic", dav_acl_edits_are_atomic),
    (
        "dav_initial_sync_pages_survive_pruning",
        dav_initial_sync_pages_survive_pruning,
    ),
];

/// A fresh data directory under the system's temporary directory, removed on drop.
pub struct DataDir(PathBuf);

impl DataDir {
    /// Makes a new, empty directory.
    pub fn make() -> DataDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "ferrymail-conformance-{}-{n}-{}",
            std::process::id(),
            super::now_secs()
        ));
        std::fs::create_dir_all(&path).expect("make a conformance data directory");
        DataDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) const BOB: &str = "bob@example.com";
pub(crate) const ALICE: &str = "alice@example.com";

/// A fresh backend with domain example.com and accounts bob@ and alice@ (cheap hashing).
pub(crate) fn fresh(open: Open) -> (DataDir, Store) {
    set_fast_password_hashing_for_tests(true);
    let dir = DataDir::make();
    let store = open(dir.path()).expect("open the backend");
    store.add_domain("example.com").expect("add domain");
    store.add_account(BOB, "bob-pw", false).expect("add bob");
    store
        .add_account(ALICE, "alice-pw", false)
        .expect("add alice");
    (dir, store)
}

pub(crate) fn inbox(store: &Store, account: &str) -> FolderId {
    store
        .folder_id(account, "INBOX")
        .expect("folder_id")
        .expect("every account has an INBOX")
}

/// A durable body with `content`.
pub(crate) fn body(store: &Store, content: &[u8]) -> BlobId {
    store.blobs().put(content).expect("put body")
}

/// A new message with `content` (its body durable) and no flags.
pub(crate) fn message(store: &Store, content: &[u8]) -> NewMessage {
    NewMessage {
        blob: body(store, content),
        size: content.len() as u64,
        flags: Flags::default(),
        internal_date: 1_700_000_000,
    }
}

/// Appends a message with `content` and no flags; returns (uid, modseq).
pub(crate) fn append(store: &Store, folder: FolderId, content: &[u8]) -> (u32, u64) {
    store
        .0
        .append_message(folder, message(store, content), None)
        .expect("append")
}

/// One `#[test]` per check, each calling `$run(name, check)` (the backend's runner: it opens
/// the backend its way, or says it skipped), and a test that the list is [`CHECKS`] whole.
/// Each backend's test module expands it once, so a new check is listed here only.
#[cfg(test)]
macro_rules! test_every_check {
    ($run:path) => {
        $crate::storage::conformance::test_every_check!(@each $run;
            directory_crud_and_credentials,
            sender_rights_round_trip,
            account_flags_round_trip,
            aliases_recursion_and_plus_addressing,
            folder_create_rename_delete,
            uid_and_modseq_strictly_increase,
            flags_and_changes_since_modseq,
            expunge_and_vanished,
            acl_grants_and_revokes,
            quota_accounting_and_over_quota,
            subscriptions_round_trip,
            folder_hierarchy_and_rename_inbox,
            queue_put_move_delete_per_queue,
            blob_references_counted_and_released,
            queue_select_and_history,
            queue_domain_views,
            dkim_round_trip,
            fetch_sources_round_trip,
            fetch_accept_exactly_once,
            screening_round_trip,
            tls_policy_round_trip,
            commit_survives_reopen,
            webauth_round_trip,
            snooze_round_trip,
            devices_round_trip,
            dav_files_round_trip,
            sweep_sends_damaged_queue_records_to_bad,
            dav_collections_and_defaults,
            dav_objects_conditions_and_uids,
            dav_sync_tokens_and_tombstones,
            dav_objects_paged,
            dav_acl_sharing,
            dav_schedule_tags,
            dav_acl_replaced_whole,
            dav_storage_check,
            dav_write_time_and_tag_decision,
            dav_collection_modified_moves,
            dav_changes_read_in_bounded_pages,
            dav_acl_edits_are_atomic,
            dav_initial_sync_pages_survive_pruning);
    };
    (@each $run:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $run(stringify!($name), $crate::storage::conformance::$name);
            }
        )*

        /// Every check of the suite has its test here.
        #[test]
        fn every_check_runs() {
            let here = [$(stringify!($name)),*];
            for (name, _) in $crate::storage::conformance::CHECKS {
                assert!(here.contains(name), "conformance check {name} has no test");
            }
            assert_eq!(here.len(), $crate::storage::conformance::CHECKS.len());
        }
    };
}
#[cfg(test)]
pub(crate) use test_every_check;
