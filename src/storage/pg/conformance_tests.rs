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

conformance::test_every_check!(run);
