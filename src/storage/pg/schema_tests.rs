//! Schema migrations at open: applied once, a missing one below the highest applied too,
//! and a database written by a newer build is refused with a message naming both versions,
//! as is one holding a migration this build does not have (by version and name); the
//! append function's search_path is its own.

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

#[test]
fn applied_migrations_are_checked_by_version_and_name() {
    let ours: Vec<(i32, String)> = schema::MIGRATIONS
        .iter()
        .map(|m| (m.0 as i32, m.1.to_string()))
        .collect();
    schema::check_applied(&ours).expect("this build's own migrations");
    schema::check_applied(&ours[..3]).expect("some of them, the rest to apply");
    let renamed = [(12, "another_branch".to_string())];
    let err = schema::check_applied(&renamed).expect_err("a name mismatch");
    assert!(matches!(err, StorageError::Invalid(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("migration 12") && text.contains("another_branch"),
        "{text}"
    );
    assert!(text.contains("append_function"), "{text}");
    let unknown = [(0, "ghost".to_string())];
    let err = schema::check_applied(&unknown).expect_err("an unknown version");
    assert!(err.to_string().contains("migration 0"), "{err}");
}

#[test]
fn a_migration_of_another_build_is_refused_at_open() {
    let Some(url) = testing::url("a_migration_of_another_build_is_refused_at_open") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let name = testing::schema_for(dir.path());
    drop(testing::open(&url, dir.path()).expect("first open creates the schema"));
    let mut client = url
        .parse::<postgres::Config>()
        .expect("test URL")
        .connect(postgres::NoTls)
        .expect("connect");
    let table = format!("{}.schema_migrations", pool::quote_ident(&name));
    client
        .execute(
            &format!("UPDATE {table} SET name = 'other_branch' WHERE version = 12"),
            &[],
        )
        .expect("pretend another build's migration 12 was applied");
    let err = testing::open(&url, dir.path())
        .err()
        .expect("another build's migration 12 must be refused");
    assert!(err.to_string().contains("other_branch"), "{err}");
    client
        .execute(
            &format!("UPDATE {table} SET name = 'append_function' WHERE version = 12"),
            &[],
        )
        .expect("put the name back");
    drop(testing::open(&url, dir.path()).expect("opens again with the right name"));
    testing::drop_schema(&url, &name);
}

/// The append function resolves its tables in its own schema whatever the caller's
/// search_path (`SET search_path FROM CURRENT`).
#[test]
fn the_append_function_ignores_the_callers_search_path() {
    let Some(url) = testing::url("the_append_function_ignores_the_callers_search_path") else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let name = testing::schema_for(dir.path());
    drop(testing::open(&url, dir.path()).expect("first open creates the schema"));
    let mut client = url
        .parse::<postgres::Config>()
        .expect("test URL")
        .connect(postgres::NoTls)
        .expect("connect");
    client
        .batch_execute("SET search_path TO pg_catalog")
        .expect("a search_path without the schema");
    let status: String = client
        .query_one(
            &format!(
                "SELECT o_status FROM {}.ferry_append(-1, 0::smallint, 0, 0, 0, 0, 0,
                     '\\x00'::bytea, NULL, NULL, 'c', 'n', NULL, NULL)",
                pool::quote_ident(&name)
            ),
            &[],
        )
        .expect("the function finds its tables")
        .get(0);
    assert_eq!(status, "nofolder");
    testing::drop_schema(&url, &name);
}
