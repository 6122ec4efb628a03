//! Versioned migrations of the PostgreSQL schema, kept in `migrations/` and compiled in.
//!
//! At open, one transaction holding an advisory lock (so nodes starting together do not race)
//! creates the schema when it is missing, reads the applied (version, name) pairs from
//! `schema_migrations`, refuses a database newer than this build knows
//! ([`StorageError::Schema`]) or holding a migration this build does not have (an unknown
//! version, or a known version under another name: a branch's migration that took the same
//! number), and applies the missing migrations in order.
//!
//! Migrations may run out of order: a schema made by a build that had 13 but not yet 12
//! gets 12 after 13. So each migration must stand alone: it may rely on the migrations
//! released before it, never on one numbered just below it that was still on a branch.

use postgres::Client;

use super::pool::{pg_error, quote_ident};
use crate::storage::StorageError;

/// Every migration, in order: (version, name, SQL). A released migration is never edited; a
/// change is a new entry.
pub(crate) const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "init", include_str!("migrations/0001_init.sql")),
    (2, "webauth", include_str!("migrations/0002_webauth.sql")),
    (
        3,
        "account_flags",
        include_str!("migrations/0003_account_flags.sql"),
    ),
    (4, "snooze", include_str!("migrations/0004_snooze.sql")),
    (5, "devices", include_str!("migrations/0005_devices.sql")),
    (
        6,
        "dav_files",
        include_str!("migrations/0006_dav_files.sql"),
    ),
    (7, "davstore", include_str!("migrations/0007_davstore.sql")),
    (8, "dav_acl", include_str!("migrations/0008_dav_acl.sql")),
    (
        9,
        "dav_schedule_tag",
        include_str!("migrations/0009_dav_schedule_tag.sql"),
    ),
    (
        10,
        "queue_domains",
        include_str!("migrations/0010_queue_domains.sql"),
    ),
    (
        11,
        "dav_modified",
        include_str!("migrations/0011_dav_modified.sql"),
    ),
    (
        12,
        "append_function",
        include_str!("migrations/0012_append_function.sql"),
    ),
    (
        13,
        "dav_collection_modified",
        include_str!("migrations/0013_dav_collection_modified.sql"),
    ),
];

/// The schema version this build writes and reads.
pub(crate) fn latest() -> u32 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

/// The advisory lock key migrations hold (any constant; "ferrymail" in ASCII, truncated).
const MIGRATION_LOCK: i64 = 0x6665_7272_796d_6169;

/// Brings the schema `schema` up to [`latest`]; returns the version found before.
pub(crate) fn migrate(client: &mut Client, schema: &str) -> Result<u32, StorageError> {
    let mut tx = client.transaction().map_err(pg_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(pg_error)?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s}; SET LOCAL search_path TO {s};
         CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY,
             name text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
        s = quote_ident(schema)
    ))
    .map_err(pg_error)?;
    let found: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            &[],
        )
        .map_err(pg_error)?
        .get(0);
    let found = found.max(0) as u32;
    if found > latest() {
        return Err(StorageError::Schema {
            found,
            supported: latest(),
        });
    }
    // Every migration not applied yet, not only those above the highest: branches take
    // their numbers before they merge, so a schema made by a build that had 13 but not yet
    // 12 still gets 12 (each migration stands on its own).
    let applied: Vec<(i32, String)> = tx
        .query("SELECT version, name FROM schema_migrations", &[])
        .map_err(pg_error)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    check_applied(&applied)?;
    let missing = MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.0 as i32));
    for (version, name, sql) in missing {
        tx.batch_execute(sql).map_err(|e| {
            StorageError::Backend(format!(
                "migration {version} ({name}) failed: {}",
                pg_error(e)
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[&(*version as i32), name],
        )
        .map_err(pg_error)?;
        tracing::info!(version, name, "applied PostgreSQL migration");
    }
    tx.commit().map_err(pg_error)?;
    Ok(found)
}

/// Refuses applied migrations this build does not have: a version it does not list, or a
/// listed version applied under another name (another build's migration 12 is not ours,
/// and ours would never be applied over it).
pub(crate) fn check_applied(applied: &[(i32, String)]) -> Result<(), StorageError> {
    for (version, name) in applied {
        let known = MIGRATIONS.iter().find(|m| m.0 as i32 == *version);
        match known {
            Some((_, ours, _)) if ours == name => {}
            Some((_, ours, _)) => {
                return Err(StorageError::Invalid(format!(
                    "the PostgreSQL schema has migration {version} applied as {name:?}, \
                     this build's migration {version} is {ours:?}: the database was made by \
                     another build; open it with that build, or use a new schema"
                )))
            }
            None => {
                return Err(StorageError::Invalid(format!(
                    "the PostgreSQL schema has migration {version} ({name:?}) applied, which \
                     this build does not know: the database was made by another build; open \
                     it with that build, or use a new schema"
                )))
            }
        }
    }
    Ok(())
}
