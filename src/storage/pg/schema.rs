//! Versioned migrations of the PostgreSQL schema, kept in `migrations/` and compiled in.
//!
//! At open, one transaction holding an advisory lock (so nodes starting together do not race)
//! creates the schema when it is missing, reads the highest applied version from
//! `schema_migrations`, refuses a database newer than this build knows
//! ([`StorageError::Schema`]) and applies the missing migrations in order.

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
    // 12: another branch's (numbers are handed out before merging).
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
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
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
