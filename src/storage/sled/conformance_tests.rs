//! The backend conformance suite (`storage::conformance`) run against the sled backend, one
//! test per check so that a failure names its behaviour.

use std::path::Path;

use crate::storage::conformance;
use crate::storage::{StorageError, Store};

fn open(dir: &Path) -> Result<Store, StorageError> {
    Store::open(dir).map(|(store, _)| store)
}

macro_rules! checks {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                conformance::$name(&open);
            }
        )*

        /// Every check of the suite has its test here.
        #[test]
        fn every_check_runs() {
            let here = [$(stringify!($name)),*];
            for (name, _) in conformance::CHECKS {
                assert!(here.contains(name), "conformance check {name} is not run for sled");
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
