//! The backend conformance suite (`storage::conformance`) run against PostgreSQL, one test
//! per check, each on its own schema of the test database. Without `FERRYMAIL_TEST_PG_URL`
//! every test says that it skipped (`.ci/run` always sets it).

use std::path::Path;

use crate::storage::conformance;
use crate::storage::pg::testing;
use crate::storage::{StorageError, Store};

fn run(name: &str, check: conformance::Check) {
    let Some(url) = testing::url(name) else {
        return;
    };
    let open = |dir: &Path| -> Result<Store, StorageError> {
        testing::open(&url, dir).map(|(store, _)| store)
    };
    check(&open);
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                run(stringify!($name), conformance::$name);
            }
        )*

        /// Every check of the suite has its test here.
        #[test]
        fn every_check_runs() {
            let here = [$(stringify!($name)),*];
            for (name, _) in conformance::CHECKS {
                assert!(here.contains(name), "conformance check {name} is not run for PostgreSQL");
            }
            assert_eq!(here.len(), conformance::CHECKS.len());
        }
    };
}

checks!(
    directory_crud_and_credentials,
    sender_rights_round_trip,
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
    dkim_round_trip,
    fetch_sources_round_trip,
    fetch_accept_exactly_once,
    screening_round_trip,
    tls_policy_round_trip,
    commit_survives_reopen,
    sweep_sends_damaged_queue_records_to_bad,
);
