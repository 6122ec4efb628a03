//! Schema migrations at open: applied once, a missing one below the highest applied too,
//! and a database written by a newer build is refused with a message naming both versions.

use crate::storage::pg::{pool, schema, testing};
use crate::storage::StorageError;

#[test]
fn a_newer_schema_is_refused_and_the_current_one_opens_again() {
    let Some(url) = testing::url("a_newer_schema_is_refused_and_the_current_one_opens_again")
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let name = testing::schema_for(dir.path());
    drop(testing::open(&url, dir.path()).expect("first open creates the schema"));
    drop(testing::open(&url, dir.path()).expect("a second open applies nothing"));

    let mut client = url
        .parse::<postgres::Config>()
        .expect("test URL")
        .connect(postgres::NoTls)
        .expect("connect");
    let table = format!("{}.schema_migrations", pool::quote_ident(&name));
    let versions: Vec<i32> = client
        .query(
            &format!("SELECT version FROM {table} ORDER BY version"),
            &[],
        )
        .expect("read the applied versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let expected: Vec<i32> = schema::MIGRATIONS.iter().map(|m| m.0 as i32).collect();
    assert_eq!(versions, expected, "each migration applied exactly once");

    // A schema made by a build that had a later migration but not yet an earlier one (the
    // numbers are handed out before branches merge): the earlier one is applied at open.
    client
        .batch_execute(&format!(
            "DELETE FROM {table} WHERE version = 12;
             DROP FUNCTION {}.ferry_append",
            pool::quote_ident(&name)
        ))
        .expect("pretend migration 12 came after 13");
    drop(testing::open(&url, dir.path()).expect("open applies the missing migration"));
    let functions: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.proname = 'ferry_append'",
            &[&name],
        )
        .expect("look for the function")
        .get(0);
    assert_eq!(functions, 1, "migration 12 applied again");

    client
        .execute(
            &format!("INSERT INTO {table} (version, name) VALUES (99, 'from the future')"),
            &[],
        )
        .expect("pretend a newer build migrated");
    let err = testing::open(&url, dir.path())
        .err()
        .expect("a newer schema must be refused");
    assert!(
        matches!(err, StorageError::Schema { found: 99, supported } if supported == schema::latest()),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema version 99"), "{err}");
    testing::drop_schema(&url, &name);
}
