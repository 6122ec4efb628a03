//! The backend conformance suite (`storage::conformance`) run against the sled backend, one
//! test per check so that a failure names its behaviour.

use std::path::Path;

use crate::storage::conformance;
use crate::storage::{StorageError, Store};

fn open(dir: &Path) -> Result<Store, StorageError> {
    Store::open(dir).map(|(store, _)| store)
}

/// Runs `check` on the embedded backend.
fn run(_name: &str, check: conformance::Check) {
    check(&open);
}

conformance::test_every_check!(run);
