//! `DavStore` on PostgreSQL (see `storage::davstore` and `migrations/0007_davstore.sql`).
//!
//! A put or delete is one transaction that locks the collection row first (`FOR UPDATE`),
//! so writers to one collection queue up and its counter moves once per change, in order;
//! the ETag condition and the UID check run under that lock. The unique (collection, uid)
//! constraint backs the UID check. Tombstones live in their own table; a put of a deleted
//! name removes its tombstone (it is a change again, not a deletion). Everything of an
//! account goes with its row (ON DELETE CASCADE), and account creation gives the defaults
//! in its own transaction ([`make_defaults`]). Write times are the database's clock
//! (`clock_timestamp()`, read under the collection's lock), which every node shares (see
//! `storage::davstore`, "Times"; migration 0013 gives collections theirs).

use postgres::Row;

use super::directory_helpers::{exists_on_unique, from_db, to_db};
use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::acl::{changed_rights, check_acl_change, ANYONE};
use crate::storage::davstore::*;
use crate::storage::directory::normalize_address;
use crate::storage::dump::SmallRow;
use crate::storage::{StorageError, PUBLIC_OWNER};

const COLL_COLUMNS: &str = "id, owner, name, kind, display_name, color, description, \
                            components, sync, expired_below, tombstones, modified";
const OBJ_COLUMNS: &str =
    "name, uid, etag, data, component, first_start, last_end, changed, schedule_tag, modified";

fn collection_of(row: &Row) -> Result<DavCollection, StorageError> {
    let kind: String = row.get("kind");
    Ok(DavCollection {
        id: from_db(row.get("id")),
        owner: row.get("owner"),
        name: row.get("name"),
        kind: CollectionKind::parse(&kind)
            .ok_or_else(|| StorageError::Encoding(format!("collection kind {kind:?}")))?,
        props: CollectionProps {
            display_name: row.get("display_name"),
            color: row.get("color"),
            description: row.get("description"),
        },
        components: row.get("components"),
        sync: from_db(row.get("sync")),
        expired_below: from_db(row.get("expired_below")),
        tombstones: from_db(row.get("tombstones")),
        modified: row.get("modified"),
    })
}

fn object_of(row: &Row) -> DavObject {
    DavObject {
        name: row.get("name"),
        uid: row.get("uid"),
        etag: row.get("etag"),
        data: row.get("data"),
        component: row.get("component"),
        first: row.get("first_start"),
        last: row.get("last_end"),
        changed: from_db(row.get("changed")),
        schedule_tag: from_db(row.get("schedule_tag")),
        modified: row.get("modified"),
    }
}

fn insert_collection(c: &mut impl Db, new: &NewCollection) -> Result<(), StorageError> {
    c.execute(
        "INSERT INTO dav_collections (owner, name, kind, display_name, color, description,
           components) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &new.owner,
            &new.name,
            &new.kind.as_str(),
            &new.props.display_name,
            &new.props.color,
            &new.props.description,
            &new.components,
        ],
    )
    .map_err(exists_on_unique(format!(
        "collection {}/{}",
        new.owner, new.name
    )))?;
    Ok(())
}

/// Gives `owner` (normalised, an existing account) the default collections unless it had
/// them: inside account creation's transaction, or on first listing.
pub(crate) fn make_defaults(c: &mut impl Db, owner: &str) -> Result<(), StorageError> {
    let n = c
        .execute(
            "INSERT INTO dav_homes (owner) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&owner],
        )
        .map_err(pg_error)?;
    if n == 0 {
        return Ok(());
    }
    for new in default_collections(owner) {
        let taken = !c
            .query(
                "SELECT 1 FROM dav_collections WHERE owner = $1 AND name = $2",
                &[&owner, &new.name],
            )
            .map_err(pg_error)?
            .is_empty();
        if !taken {
            insert_collection(c, &new)?;
        }
    }
    Ok(())
}

/// The collection row `id`, locked for this transaction.
fn lock_collection(c: &mut impl Db, id: u64) -> Result<DavCollection, StorageError> {
    let rows = c
        .query(
            &format!("SELECT {COLL_COLUMNS} FROM dav_collections WHERE id = $1 FOR UPDATE"),
            &[&to_db(id)],
        )
        .map_err(pg_error)?;
    match rows.first() {
        Some(row) => collection_of(row),
        None => Err(StorageError::NotFound(format!("collection {id}"))),
    }
}

fn get_object(c: &mut impl Db, id: u64, name: &str) -> Result<Option<DavObject>, StorageError> {
    let rows = c
        .query(
            &format!("SELECT {OBJ_COLUMNS} FROM dav_objects WHERE collection = $1 AND name = $2"),
            &[&to_db(id), &name],
        )
        .map_err(pg_error)?;
    Ok(rows.first().map(object_of))
}

fn holds(cond: &Condition, existing: Option<&DavObject>) -> bool {
    match (cond, existing) {
        (Condition::Any, _) => true,
        (Condition::Match(tag), Some(o)) => &o.etag == tag,
        (Condition::Match(_), None) => false,
        (Condition::Absent, e) => e.is_none(),
    }
}

/// The database's clock in whole Unix seconds (the store's clock: module comment).
fn db_now(c: &mut impl Db) -> Result<i64, StorageError> {
    let row = c
        .query_one(
            "SELECT floor(extract(epoch FROM clock_timestamp()))::bigint",
            &[],
        )
        .map_err(pg_error)?;
    Ok(row.get(0))
}

fn bump(c: &mut impl Db, coll: &DavCollection, tombstones: u64) -> Result<(), StorageError> {
    c.execute(
        "UPDATE dav_collections SET sync = $2, tombstones = $3, modified = $4 WHERE id = $1",
        &[
            &to_db(coll.id),
            &to_db(coll.sync),
            &to_db(tombstones),
            &coll.modified,
        ],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Writes one row of `storage migrate`. A collection's counter carries over and tokens
/// below it expire (its tombstones are not copied: clients sync afresh once); an object
/// finds its collection by owner and name, copied before it.
pub(crate) fn import_row(c: &mut impl Db, row: &SmallRow) -> Result<(), StorageError> {
    match row {
        SmallRow::DavHome(owner) => {
            c.execute("INSERT INTO dav_homes (owner) VALUES ($1)", &[owner])
                .map_err(pg_error)?;
        }
        SmallRow::DavCollection(coll) => {
            c.execute(
                "INSERT INTO dav_collections (owner, name, kind, display_name, color,
                   description, components, sync, expired_below, modified)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
                &[
                    &coll.owner,
                    &coll.name,
                    &coll.kind.as_str(),
                    &coll.props.display_name,
                    &coll.props.color,
                    &coll.props.description,
                    &coll.components,
                    &to_db(coll.sync),
                    &coll.modified,
                ],
            )
            .map_err(pg_error)?;
        }
        SmallRow::DavObject(owner, name, o) => {
            let n = c
                .execute(
                    "INSERT INTO dav_objects (collection, name, uid, etag, data, component,
                       first_start, last_end, changed, schedule_tag, modified)
                     SELECT id, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 FROM dav_collections
                     WHERE owner = $1 AND name = $2",
                    &[
                        owner,
                        name,
                        &o.name,
                        &o.uid,
                        &o.etag,
                        &o.data,
                        &o.component,
                        &o.first,
                        &o.last,
                        &to_db(o.changed),
                        &to_db(o.schedule_tag),
                        &o.modified,
                    ],
                )
                .map_err(pg_error)?;
            if n == 0 {
                return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
            }
        }
        SmallRow::DavAcl(owner, name, identifier, rights) => {
            let n = c
                .execute(
                    "INSERT INTO dav_acl (collection, identifier, rights)
                     SELECT id, $3, $4 FROM dav_collections WHERE owner = $1 AND name = $2",
                    &[owner, name, identifier, rights],
                )
                .map_err(pg_error)?;
            if n == 0 {
                return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
            }
        }
        _ => {
            return Err(StorageError::Invalid(
                "not a row of the calendars and contacts".into(),
            ))
        }
    }
    Ok(())
}

/// Every home, collection and object as rows (the migration's verification).
pub(crate) fn export_rows(c: &mut impl Db) -> Result<Vec<SmallRow>, StorageError> {
    let mut out = Vec::new();
    for r in c
        .query("SELECT owner FROM dav_homes", &[])
        .map_err(pg_error)?
    {
        out.push(SmallRow::DavHome(r.get(0)));
    }
    for r in c
        .query(&format!("SELECT {COLL_COLUMNS} FROM dav_collections"), &[])
        .map_err(pg_error)?
    {
        out.push(SmallRow::DavCollection(collection_of(&r)?));
    }
    for r in c
        .query(
            "SELECT c.owner, c.name, a.identifier, a.rights FROM dav_acl a
             JOIN dav_collections c ON c.id = a.collection",
            &[],
        )
        .map_err(pg_error)?
    {
        out.push(SmallRow::DavAcl(r.get(0), r.get(1), r.get(2), r.get(3)));
    }
    let rows = c
        .query(
            &format!(
                "SELECT c.owner, c.name AS collection_name, o.{} FROM dav_objects o
                 JOIN dav_collections c ON c.id = o.collection",
                OBJ_COLUMNS.replace(", ", ", o.")
            ),
            &[],
        )
        .map_err(pg_error)?;
    for r in rows {
        out.push(SmallRow::DavObject(
            r.get("owner"),
            r.get("collection_name"),
            object_of(&r),
        ));
    }
    Ok(out)
}

impl PgStore {
    /// Drops the oldest tombstones of `collection` beyond `keep`, moving `expired_below`.
    pub(crate) fn prune_dav_tombstones(
        &self,
        collection: u64,
        keep: u64,
    ) -> Result<(), StorageError> {
        self.pool().tx(|tx| {
            let coll = lock_collection(tx, collection)?;
            if coll.tombstones <= keep {
                return Ok(());
            }
            let excess = to_db(coll.tombstones - keep);
            let rows = tx
                .query(
                    "DELETE FROM dav_tombstones WHERE (collection, changed) IN (
                       SELECT collection, changed FROM dav_tombstones WHERE collection = $1
                       ORDER BY changed LIMIT $2) RETURNING changed",
                    &[&to_db(collection), &excess],
                )
                .map_err(pg_error)?;
            let dropped = rows.len() as u64;
            let newest = rows.iter().map(|r| r.get::<_, i64>(0)).max().unwrap_or(0);
            tx.execute(
                "UPDATE dav_collections SET tombstones = tombstones - $2,
                   expired_below = greatest(expired_below, $3) WHERE id = $1",
                &[&to_db(collection), &to_db(dropped), &newest],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }
}

impl DavStore for PgStore {
    fn dav_create_collection(&self, new: &NewCollection) -> Result<DavCollection, StorageError> {
        let owner = normalize_owner(&new.owner)?;
        check_name(&new.name)?;
        let new = NewCollection {
            owner: owner.clone(),
            ..new.clone()
        };
        self.pool().tx(|tx| {
            let exists = !tx
                .query(
                    "SELECT 1 FROM accounts WHERE address = $1 FOR SHARE",
                    &[&owner],
                )
                .map_err(pg_error)?
                .is_empty();
            if !exists && owner != PUBLIC_OWNER {
                return Err(StorageError::NotFound(format!("account {owner}")));
            }
            insert_collection(tx, &new)
        })?;
        self.dav_collection(&owner, &new.name)?
            .ok_or_else(|| StorageError::NotFound(format!("collection {owner}/{}", new.name)))
    }

    fn dav_collection(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<DavCollection>, StorageError> {
        let Ok(owner) = normalize_owner(owner) else {
            return Ok(None);
        };
        self.pool().with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLL_COLUMNS} FROM dav_collections WHERE owner = $1 AND name = $2"
                    ),
                    &[&owner, &name],
                )
                .map_err(pg_error)?;
            rows.first().map(collection_of).transpose()
        })
    }

    fn dav_collections(&self, owner: &str) -> Result<Vec<DavCollection>, StorageError> {
        let owner = normalize_owner(owner)?;
        self.pool().tx(|tx| {
            if owner != PUBLIC_OWNER {
                let exists = !tx
                    .query(
                        "SELECT 1 FROM accounts WHERE address = $1 FOR SHARE",
                        &[&owner],
                    )
                    .map_err(pg_error)?
                    .is_empty();
                if !exists {
                    return Err(StorageError::NotFound(format!("account {owner}")));
                }
                make_defaults(tx, &owner)?;
            }
            tx.query(
                &format!(
                    "SELECT {COLL_COLUMNS} FROM dav_collections WHERE owner = $1 ORDER BY name"
                ),
                &[&owner],
            )
            .map_err(pg_error)?
            .iter()
            .map(collection_of)
            .collect()
        })
    }

    fn dav_all_collections(&self) -> Result<Vec<DavCollection>, StorageError> {
        self.pool().with(|c| {
            c.query(
                &format!("SELECT {COLL_COLUMNS} FROM dav_collections ORDER BY owner, name"),
                &[],
            )
            .map_err(pg_error)?
            .iter()
            .map(collection_of)
            .collect()
        })
    }

    fn dav_set_props(
        &self,
        owner: &str,
        name: &str,
        props: &CollectionProps,
    ) -> Result<DavCollection, StorageError> {
        let owner = normalize_owner(owner)?;
        let n = self.pool().with(|c| {
            c.execute(
                "UPDATE dav_collections SET display_name = $3, color = $4, description = $5,
                   modified = greatest(modified,
                     floor(extract(epoch FROM clock_timestamp()))::bigint)
                 WHERE owner = $1 AND name = $2",
                &[
                    &owner,
                    &name,
                    &props.display_name,
                    &props.color,
                    &props.description,
                ],
            )
            .map_err(pg_error)
        })?;
        if n == 0 {
            return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
        }
        self.dav_collection(&owner, name)?
            .ok_or_else(|| StorageError::NotFound(format!("collection {owner}/{name}")))
    }

    fn dav_delete_collection(&self, owner: &str, name: &str) -> Result<(), StorageError> {
        let owner = normalize_owner(owner)?;
        let n = self.pool().with(|c| {
            c.execute(
                "DELETE FROM dav_collections WHERE owner = $1 AND name = $2",
                &[&owner, &name],
            )
            .map_err(pg_error)
        })?;
        if n == 0 {
            return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
        }
        Ok(())
    }

    fn dav_write(
        &self,
        collection: u64,
        obj: &NewObject,
        w: &Write<'_>,
    ) -> Result<PutOutcome, StorageError> {
        let cond = w.cond;
        check_name(&obj.name)?;
        let etag = etag_of(&obj.data);
        self.pool().tx(|tx| {
            let mut coll = lock_collection(tx, collection)?;
            let existing = get_object(tx, collection, &obj.name)?;
            if !holds(cond, existing.as_ref()) {
                return Ok(PutOutcome::PreconditionFailed);
            }
            let holder = tx
                .query(
                    "SELECT name FROM dav_objects WHERE collection = $1 AND uid = $2",
                    &[&to_db(collection), &obj.uid],
                )
                .map_err(pg_error)?;
            if let Some(row) = holder.first() {
                let holder: String = row.get(0);
                if holder != obj.name {
                    return Ok(PutOutcome::UidConflict(holder));
                }
            }
            coll.sync += 1;
            let modified = later_time(
                db_now(tx)?,
                coll.modified,
                existing.as_ref().map(|o| o.modified),
            );
            coll.modified = modified;
            let schedule_tag = match &existing {
                Some(old) if (w.keep_schedule_tag)(old) => old.schedule_tag,
                _ => coll.sync,
            };
            tx.execute(
                "INSERT INTO dav_objects (collection, name, uid, etag, data, component,
                   first_start, last_end, changed, schedule_tag, modified)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (collection, name) DO UPDATE SET uid = EXCLUDED.uid,
                   etag = EXCLUDED.etag, data = EXCLUDED.data, component = EXCLUDED.component,
                   first_start = EXCLUDED.first_start, last_end = EXCLUDED.last_end,
                   changed = EXCLUDED.changed, schedule_tag = EXCLUDED.schedule_tag,
                   modified = EXCLUDED.modified",
                &[
                    &to_db(collection),
                    &obj.name,
                    &obj.uid,
                    &etag,
                    &obj.data,
                    &obj.component,
                    &obj.first,
                    &obj.last,
                    &to_db(coll.sync),
                    &to_db(schedule_tag),
                    &modified,
                ],
            )
            .map_err(pg_error)?;
            let revived = tx
                .execute(
                    "DELETE FROM dav_tombstones WHERE collection = $1 AND name = $2",
                    &[&to_db(collection), &obj.name],
                )
                .map_err(pg_error)?;
            bump(tx, &coll, coll.tombstones.saturating_sub(revived))?;
            let object = get_object(tx, collection, &obj.name)?
                .ok_or_else(|| StorageError::NotFound(format!("object {}", obj.name)))?;
            Ok(PutOutcome::Stored {
                object,
                created: existing.is_none(),
            })
        })
    }

    fn dav_get(&self, collection: u64, name: &str) -> Result<Option<DavObject>, StorageError> {
        self.pool().with(|c| get_object(c, collection, name))
    }

    fn dav_objects(&self, collection: u64) -> Result<Vec<DavObject>, StorageError> {
        self.pool().with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {OBJ_COLUMNS} FROM dav_objects WHERE collection = $1 ORDER BY name"
                ),
                &[&to_db(collection)],
            )
            .map_err(pg_error)?
            .iter()
            .map(object_of)
            .collect())
        })
    }

    fn dav_objects_page(
        &self,
        collection: u64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DavObject>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        // Keyset paging on the (collection, name) key: each page is one index range scan.
        self.pool().with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {OBJ_COLUMNS} FROM dav_objects WHERE collection = $1
                     AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3"
                ),
                &[&to_db(collection), &after, &limit],
            )
            .map_err(pg_error)?
            .iter()
            .map(object_of)
            .collect())
        })
    }

    fn dav_objects_in_range(
        &self,
        collection: u64,
        start: i64,
        end: i64,
    ) -> Result<Vec<DavObject>, StorageError> {
        // The same test as `may_overlap`, in the query (the span index serves it).
        self.pool().with(|c| {
            Ok(c.query(
                &format!(
                    "SELECT {OBJ_COLUMNS} FROM dav_objects WHERE collection = $1
                     AND (first_start IS NULL OR (first_start < $3
                          AND (last_end IS NULL OR last_end > $2)))
                     ORDER BY name"
                ),
                &[&to_db(collection), &start, &end],
            )
            .map_err(pg_error)?
            .iter()
            .map(object_of)
            .collect())
        })
    }

    fn dav_delete(
        &self,
        collection: u64,
        name: &str,
        cond: &Condition,
    ) -> Result<DeleteOutcome, StorageError> {
        if *cond == Condition::Absent {
            return Err(StorageError::Invalid(
                "If-None-Match is not a delete condition".into(),
            ));
        }
        let outcome = self.pool().tx(|tx| {
            let mut coll = lock_collection(tx, collection)?;
            let Some(old) = get_object(tx, collection, name)? else {
                return Ok(DeleteOutcome::NotFound);
            };
            if !holds(cond, Some(&old)) {
                return Ok(DeleteOutcome::PreconditionFailed);
            }
            tx.execute(
                "DELETE FROM dav_objects WHERE collection = $1 AND name = $2",
                &[&to_db(collection), &name],
            )
            .map_err(pg_error)?;
            coll.sync += 1;
            coll.modified = later_time(db_now(tx)?, coll.modified, Some(old.modified));
            tx.execute(
                "INSERT INTO dav_tombstones (collection, changed, name) VALUES ($1, $2, $3)",
                &[&to_db(collection), &to_db(coll.sync), &name],
            )
            .map_err(pg_error)?;
            bump(tx, &coll, coll.tombstones + 1)?;
            Ok(DeleteOutcome::Deleted)
        })?;
        if outcome == DeleteOutcome::Deleted {
            self.prune_dav_tombstones(collection, TOMBSTONES_KEPT)?;
        }
        Ok(outcome)
    }

    fn dav_prune_tombstones(&self, collection: u64, keep: u64) -> Result<(), StorageError> {
        self.prune_dav_tombstones(collection, keep)
    }

    fn dav_changes(&self, collection: u64, token: u64) -> Result<Changes, StorageError> {
        // REPEATABLE READ: the counter and the two lists from one snapshot.
        self.pool().tx(|tx| {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .map_err(pg_error)?;
            let rows = tx
                .query(
                    &format!("SELECT {COLL_COLUMNS} FROM dav_collections WHERE id = $1"),
                    &[&to_db(collection)],
                )
                .map_err(pg_error)?;
            let coll = match rows.first() {
                Some(row) => collection_of(row)?,
                None => return Err(StorageError::NotFound(format!("collection {collection}"))),
            };
            if token > coll.sync || (token != 0 && token < coll.expired_below) {
                return Ok(Changes::Expired);
            }
            let changed = tx
                .query(
                    "SELECT name FROM dav_objects WHERE collection = $1 AND changed > $2
                     ORDER BY changed",
                    &[&to_db(collection), &to_db(token)],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect();
            let deleted = if token == 0 {
                Vec::new()
            } else {
                tx.query(
                    "SELECT name FROM dav_tombstones WHERE collection = $1 AND changed > $2
                     ORDER BY changed",
                    &[&to_db(collection), &to_db(token)],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| r.get(0))
                .collect()
            };
            Ok(Changes::Since {
                token: coll.sync,
                changed,
                deleted,
            })
        })
    }

    fn dav_changes_page(
        &self,
        collection: u64,
        token: u64,
        floor: u64,
        limit: usize,
    ) -> Result<ChangePage, StorageError> {
        if limit == 0 {
            return Err(StorageError::Invalid("a change page of 0 entries".into()));
        }
        // REPEATABLE READ: the counter and the page from one snapshot; the database stops
        // at limit + 1 rows (both tables are indexed by (collection, changed)).
        self.pool().tx(|tx| {
            tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .map_err(pg_error)?;
            let rows = tx
                .query(
                    &format!("SELECT {COLL_COLUMNS} FROM dav_collections WHERE id = $1"),
                    &[&to_db(collection)],
                )
                .map_err(pg_error)?;
            let coll = match rows.first() {
                Some(row) => collection_of(row)?,
                None => return Err(StorageError::NotFound(format!("collection {collection}"))),
            };
            let Some(floor) = page_floor(token, floor, &coll) else {
                return Ok(ChangePage::Expired);
            };
            let take = i64::try_from(limit).unwrap_or(i64::MAX - 1) + 1;
            let read = tx
                .query(
                    "(SELECT name, false AS deleted, changed FROM dav_objects
                        WHERE collection = $1 AND changed > $2 ORDER BY changed LIMIT $3)
                     UNION ALL
                     (SELECT name, true, changed FROM dav_tombstones
                        WHERE collection = $1 AND changed > $4
                        ORDER BY changed LIMIT $3)
                     ORDER BY changed LIMIT $3",
                    &[&to_db(collection), &to_db(token), &take, &to_db(floor)],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| Change {
                    name: r.get(0),
                    deleted: r.get(1),
                    at: from_db(r.get(2)),
                })
                .collect();
            Ok(change_page(read, limit, coll.sync, floor))
        })
    }

    fn dav_get_acl(&self, collection: u64) -> Result<Vec<(String, String)>, StorageError> {
        let rows = self.pool().with(|c| {
            if c.query_opt(
                "SELECT 1 FROM dav_collections WHERE id = $1",
                &[&to_db(collection)],
            )
            .map_err(pg_error)?
            .is_none()
            {
                return Err(StorageError::NotFound(format!("collection {collection}")));
            }
            c.query(
                "SELECT identifier, rights FROM dav_acl WHERE collection = $1",
                &[&to_db(collection)],
            )
            .map_err(pg_error)
        })?;
        let mut acl: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        // Byte order, as the embedded backend keeps it (not the database collation's).
        acl.sort();
        Ok(acl)
    }

    fn dav_set_acl(
        &self,
        collection: u64,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        let identifier = check_acl_change(identifier, rights)?;
        self.pool().tx(|tx| {
            lock_collection(tx, collection)?;
            let current: String = tx
                .query_opt(
                    "SELECT rights FROM dav_acl WHERE collection = $1 AND identifier = $2",
                    &[&to_db(collection), &identifier],
                )
                .map_err(pg_error)?
                .map(|r| r.get(0))
                .unwrap_or_default();
            let wanted = changed_rights(&current, rights)?;
            if wanted.is_empty() {
                tx.execute(
                    "DELETE FROM dav_acl WHERE collection = $1 AND identifier = $2",
                    &[&to_db(collection), &identifier],
                )
                .map_err(pg_error)?;
            } else {
                tx.execute(
                    "INSERT INTO dav_acl (collection, identifier, rights) VALUES ($1, $2, $3)
                     ON CONFLICT (collection, identifier) DO UPDATE SET rights = EXCLUDED.rights",
                    &[&to_db(collection), &identifier, &wanted],
                )
                .map_err(pg_error)?;
            }
            Ok(())
        })
    }

    fn dav_edit_acl(
        &self,
        collection: u64,
        edit: AclEdit<'_>,
    ) -> Result<Vec<(String, String)>, StorageError> {
        // The collection row's lock serialises edits: the second reads the first's result.
        self.pool().tx(|tx| {
            lock_collection(tx, collection)?;
            let mut old: Vec<(String, String)> = tx
                .query(
                    "SELECT identifier, rights FROM dav_acl WHERE collection = $1",
                    &[&to_db(collection)],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            old.sort();
            let new = normalize_acl(&edit(&old))?;
            tx.execute(
                "DELETE FROM dav_acl WHERE collection = $1",
                &[&to_db(collection)],
            )
            .map_err(pg_error)?;
            for (identifier, rights) in &new {
                tx.execute(
                    "INSERT INTO dav_acl (collection, identifier, rights) VALUES ($1, $2, $3)",
                    &[&to_db(collection), identifier, rights],
                )
                .map_err(pg_error)?;
            }
            Ok(new)
        })
    }

    fn dav_shared_with(&self, user: &str) -> Result<Vec<DavCollection>, StorageError> {
        let user = normalize_address(user)?;
        let rows = self.pool().with(|c| {
            c.query(
                &format!(
                    "SELECT {COLL_COLUMNS} FROM dav_collections WHERE owner <> $1 AND id IN (
                       SELECT collection FROM dav_acl
                       WHERE identifier IN ($1, $2) AND strpos(rights, 'l') > 0)"
                ),
                &[&user, &ANYONE],
            )
            .map_err(pg_error)
        })?;
        let mut out = rows
            .iter()
            .map(collection_of)
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (&a.owner, &a.name).cmp(&(&b.owner, &b.name)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::super::pool::quote_ident;
    use super::super::testing;
    use crate::storage::davstore::*;

    /// A collection whose time is ahead of the database's clock (written when another
    /// clock ran fast, or copied by `storage migrate`): later writes from any node record
    /// that time, not an earlier one, on the object and the collection.
    #[test]
    fn times_never_go_backwards() {
        let Some(url) = testing::url("pg davstore times_never_go_backwards") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        crate::storage::set_fast_password_hashing_for_tests(true);
        let (store, _) = testing::open(&url, dir.path()).unwrap();
        store.add_domain("example.com").unwrap();
        store.add_account("bob@example.com", "pw", false).unwrap();
        let cal = store
            .dav_collection("bob@example.com", "calendar")
            .unwrap()
            .unwrap();
        let ahead = crate::storage::now_secs() as i64 + 86_400;
        let mut client = url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(postgres::NoTls)
            .unwrap();
        let schema = quote_ident(&testing::schema_for(dir.path()));
        client
            .execute(
                &format!("UPDATE {schema}.dav_collections SET modified = $2 WHERE id = $1"),
                &[&(cal.id as i64), &ahead],
            )
            .unwrap();
        let new = NewObject {
            name: "a.ics".into(),
            uid: "a".into(),
            data: "x".into(),
            component: "VEVENT".into(),
            first: None,
            last: None,
        };
        let PutOutcome::Stored { object, .. } =
            store.dav_put(cal.id, &new, &Condition::Any).unwrap()
        else {
            panic!("not stored");
        };
        assert_eq!(object.modified, ahead);
        let load = || {
            store
                .dav_collection("bob@example.com", "calendar")
                .unwrap()
                .unwrap()
        };
        assert_eq!(load().modified, ahead);
        store.dav_delete(cal.id, "a.ics", &Condition::Any).unwrap();
        assert_eq!(load().modified, ahead);
        let props = CollectionProps::default();
        store
            .dav_set_props("bob@example.com", "calendar", &props)
            .unwrap();
        assert_eq!(load().modified, ahead);
        testing::drop_schema(&url, &testing::schema_for(dir.path()));
    }
}
