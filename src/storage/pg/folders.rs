//! The folder catalog in PostgreSQL: one `folders` row per folder (its counters, and the
//! lock every message write of the folder takes), created, listed, renamed and deleted here
//! with the embedded backend's behaviour (see `storage::sled::folders`).
//!
//! Hierarchy: names are '/'-separated; CREATE makes missing parents (each inheriting its
//! parent's ACL), RENAME carries children along, DELETE of a folder with children leaves a
//! `\Noselect` placeholder. Public folders belong to [`PUBLIC_OWNER`].
//!
//! Concurrency between nodes: a write to a folder locks its row (`FOR UPDATE`) before it
//! reads it; creating below an existing parent takes the parent's row `FOR SHARE`, so a
//! concurrent DELETE of the parent sees the new child (and leaves a placeholder) or goes
//! first (and the parent is made again). Two creations of one name meet at the unique key
//! `(account, name_key)`: the second is [`StorageError::Exists`].

use postgres::error::SqlState;
use postgres::{GenericClient, Row, Transaction};

use super::pool::pg_error;
use super::PgStore;
use crate::storage::folders::*;
use crate::storage::{now_secs, BlobId, StorageError};

/// The columns [`state_of`] reads, in its order.
pub(crate) const STATE_COLUMNS: &str = "id, account, name, special_use, uidvalidity, uidnext, \
     highest_modseq, exists_count, subscribed, unseen, deleted, size, noselect";

/// A folder id as the database stores it. No folder has an id beyond `i64`, so such an id
/// is simply not found.
pub(crate) fn db_id(id: FolderId) -> Result<i64, StorageError> {
    i64::try_from(id).map_err(|_| folder_not_found(id))
}

/// An unsigned 32-bit counter read from a `bigint` column.
pub(crate) fn u32_of(row: &Row, column: &str) -> Result<u32, StorageError> {
    let v: i64 = row.get(column);
    u32::try_from(v).map_err(|_| StorageError::Encoding(format!("{column} {v} out of range")))
}

/// An unsigned 64-bit counter read from a `bigint` column.
pub(crate) fn u64_of(row: &Row, column: &str) -> Result<u64, StorageError> {
    let v: i64 = row.get(column);
    u64::try_from(v).map_err(|_| StorageError::Encoding(format!("{column} {v} out of range")))
}

/// A blob id read from a `bytea` column.
pub(crate) fn blob_of(bytes: &[u8]) -> Result<BlobId, StorageError> {
    <[u8; 32]>::try_from(bytes)
        .map(BlobId)
        .map_err(|_| StorageError::Encoding(format!("blob id of {} octets", bytes.len())))
}

/// The [`FolderState`] of a row selected with [`STATE_COLUMNS`].
pub(crate) fn state_of(row: &Row) -> Result<FolderState, StorageError> {
    Ok(FolderState {
        id: u64_of(row, "id")?,
        account: row.get("account"),
        name: row.get("name"),
        special_use: row.get("special_use"),
        uidvalidity: u32_of(row, "uidvalidity")?,
        uidnext: u32_of(row, "uidnext")?,
        highest_modseq: u64_of(row, "highest_modseq")?,
        exists: u32_of(row, "exists_count")?,
        subscribed: row.get("subscribed"),
        unseen: u32_of(row, "unseen")?,
        deleted: u32_of(row, "deleted")?,
        size: u64_of(row, "size")?,
        noselect: row.get("noselect"),
    })
}

/// Folder `id`'s state, its row locked with `lock` ("FOR UPDATE", "FOR SHARE" or "").
/// NotFound when it does not exist.
pub(crate) fn load_state(
    c: &mut impl GenericClient,
    id: FolderId,
    lock: &str,
) -> Result<FolderState, StorageError> {
    let row = c
        .query_opt(
            &format!("SELECT {STATE_COLUMNS} FROM folders WHERE id = $1 {lock}"),
            &[&db_id(id)?],
        )
        .map_err(pg_error)?
        .ok_or_else(|| folder_not_found(id))?;
    state_of(&row)
}

/// The id of `owner`'s folder `name` (canonical), its row locked with `lock`.
fn lookup(
    c: &mut impl GenericClient,
    owner: &str,
    name: &str,
    lock: &str,
) -> Result<Option<FolderId>, StorageError> {
    let row = c
        .query_opt(
            &format!("SELECT id FROM folders WHERE account = $1 AND name_key = $2 {lock}"),
            &[&owner, &name],
        )
        .map_err(pg_error)?;
    row.map(|r| u64_of(&r, "id")).transpose()
}

/// A fresh UIDVALIDITY: seeded by the clock, strictly greater than any handed out before on
/// any node (the counter row is updated under its row lock), wrapping to the clock (or 1)
/// past `u32::MAX` as the embedded backend does.
fn next_uidvalidity(tx: &mut Transaction<'_>) -> Result<i64, StorageError> {
    let now = i64::from(u32::try_from(now_secs()).unwrap_or(u32::MAX)).max(1);
    let row = tx
        .query_one(
            "INSERT INTO counters (name, value) VALUES ('uidvalidity', $1)
             ON CONFLICT (name) DO UPDATE SET value = GREATEST(
                 CASE WHEN counters.value >= 4294967295 THEN 1 ELSE counters.value + 1 END, $1)
             RETURNING value",
            &[&now],
        )
        .map_err(pg_error)?;
    Ok(row.get(0))
}

/// A unique violation on a folder name as Exists, anything else as [`pg_error`] does.
fn name_taken(e: postgres::Error, owner: &str, name: &str) -> StorageError {
    if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StorageError::Exists(format!("folder {name} of {owner}"))
    } else {
        pg_error(e)
    }
}

/// Inserts the row of a new, empty folder; `None` when the name is taken and `or_nothing`
/// is set (else Exists).
fn insert_folder(
    tx: &mut Transaction<'_>,
    owner: &str,
    name: &str,
    special_use: Option<&str>,
    or_nothing: bool,
) -> Result<Option<FolderId>, StorageError> {
    let uidvalidity = next_uidvalidity(tx)?;
    let conflict = if or_nothing {
        "ON CONFLICT (account, name_key) DO NOTHING"
    } else {
        ""
    };
    let row = tx
        .query_opt(
            &format!(
                "INSERT INTO folders (id, account, name, name_key, special_use, uidvalidity,
                     uidnext, highest_modseq, subscribed, recent_from)
                 VALUES (nextval('folder_ids'), $1, $2, $2, $3, $4, 1, 1, true, 1)
                 {conflict} RETURNING id"
            ),
            &[&owner, &name, &special_use, &uidvalidity],
        )
        .map_err(|e| name_taken(e, owner, name))?;
    row.map(|r| u64_of(&r, "id")).transpose()
}

/// Gives `child` a copy of `parent`'s ACL (at creation: MDaemon semantics).
fn inherit_acl(
    tx: &mut Transaction<'_>,
    parent: FolderId,
    child: FolderId,
) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO acl (folder, identifier, rights)
         SELECT $2, identifier, rights FROM acl WHERE folder = $1
         ON CONFLICT (folder, identifier) DO UPDATE SET rights = EXCLUDED.rights",
        &[&db_id(parent)?, &db_id(child)?],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Create folder `name` for `account` (both canonical) inside `tx`: a fresh UIDVALIDITY,
/// UIDNEXT 1, modseq 1, subscribed. Parents are not looked at (account creation makes the
/// default folders with it). Exists when the name is taken, also by a transaction that
/// commits meanwhile on another node.
pub(crate) fn create_folder_tx(
    store: &PgStore,
    tx: &mut Transaction<'_>,
    account: &str,
    name: &str,
    special_use: Option<&str>,
) -> Result<FolderId, StorageError> {
    if lookup(tx, account, name, "")?.is_some() {
        return Err(StorageError::Exists(format!("folder {name} of {account}")));
    }
    let id = insert_folder(tx, account, name, special_use, false)?
        .ok_or_else(|| StorageError::Exists(format!("folder {name} of {account}")))?;
    store.notify_folder(tx, id, 1)?;
    Ok(id)
}

/// Create the missing ancestors of `name` (RFC 9051 §6.3.4), each inheriting the ACL of its
/// parent; existing ones are locked `FOR SHARE` (against a concurrent DELETE). Returns the id
/// of `name`'s parent, if it has one.
fn create_ancestors(
    store: &PgStore,
    tx: &mut Transaction<'_>,
    owner: &str,
    name: &str,
) -> Result<Option<FolderId>, StorageError> {
    let mut parent = None;
    for ancestor in ancestors(name) {
        let ancestor = canonical_name(ancestor)?;
        let id = match lookup(tx, owner, &ancestor, "FOR SHARE")? {
            Some(id) => id,
            None => match insert_folder(tx, owner, &ancestor, None, true)? {
                Some(id) => {
                    if let Some(p) = parent {
                        inherit_acl(tx, p, id)?;
                    }
                    store.notify_folder(tx, id, 1)?;
                    id
                }
                // Made by a transaction that committed meanwhile.
                None => lookup(tx, owner, &ancestor, "FOR SHARE")?.ok_or_else(|| {
                    StorageError::Conflict(format!("folder {ancestor} of {owner} changed"))
                })?,
            },
        };
        parent = Some(id);
    }
    Ok(parent)
}

/// Create `name` and its missing ancestors; each new folder inherits its parent's ACL. An
/// existing `\Noselect` placeholder of that name becomes a normal, empty folder with a fresh
/// UIDVALIDITY when `revive` is set; otherwise an existing name is Exists.
pub(crate) fn create_path(
    store: &PgStore,
    tx: &mut Transaction<'_>,
    owner: &str,
    name: &str,
    special_use: Option<&str>,
    revive: bool,
) -> Result<FolderId, StorageError> {
    let parent = create_ancestors(store, tx, owner, name)?;
    if let Some(id) = lookup(tx, owner, name, "FOR UPDATE")? {
        let state = load_state(tx, id, "")?;
        if !(revive && state.noselect) {
            return Err(StorageError::Exists(format!("folder {name} of {owner}")));
        }
        let uidvalidity = next_uidvalidity(tx)?;
        tx.execute(
            "UPDATE folders SET uidvalidity = $2, uidnext = 1, highest_modseq = 1,
                 exists_count = 0, unseen = 0, deleted = 0, size = 0, noselect = false,
                 recent_from = 1, keywords = '{}', expunged_count = 0,
                 special_use = COALESCE($3, special_use)
             WHERE id = $1",
            &[&db_id(id)?, &uidvalidity, &special_use],
        )
        .map_err(pg_error)?;
        store.notify_folder(tx, id, 1)?;
        return Ok(id);
    }
    let id = create_folder_tx(store, tx, owner, name, special_use)?;
    if let Some(p) = parent {
        inherit_acl(tx, p, id)?;
    }
    Ok(id)
}

impl PgStore {
    /// Tells the other nodes that folder `id` changed (its highest modseq now `modseq`, 0 when
    /// it was deleted or renamed); delivered when `tx` commits.
    pub(crate) fn notify_folder(
        &self,
        tx: &mut Transaction<'_>,
        id: FolderId,
        modseq: u64,
    ) -> Result<(), StorageError> {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[
                &self.channel("folders"),
                &format!("{} {id} {modseq}", self.node()),
            ],
        )
        .map_err(pg_error)?;
        Ok(())
    }

    pub(crate) fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        let owner = normalize_owner(account)?;
        let name = canonical_name(name)?;
        check_special_use(special_use)?;
        self.pool().tx(|tx| {
            if owner != PUBLIC_OWNER {
                // FOR SHARE: an account being deleted meanwhile is waited for, then NotFound.
                let found = tx
                    .query_opt(
                        "SELECT 1 FROM accounts WHERE address = $1 FOR SHARE",
                        &[&owner],
                    )
                    .map_err(pg_error)?;
                if found.is_none() {
                    return Err(StorageError::NotFound(format!("account {owner}")));
                }
            }
            create_path(self, tx, &owner, &name, special_use, true)
        })
    }

    pub(crate) fn folder_id(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<FolderId>, StorageError> {
        let owner = normalize_owner(account)?;
        let name = canonical_name(name)?;
        self.pool().with(|c| lookup(c, &owner, &name, ""))
    }

    pub(crate) fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        self.pool().with(|c| load_state(c, id, ""))
    }

    pub(crate) fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        let owner = normalize_owner(account)?;
        let rows = self.pool().with(|c| {
            if owner != PUBLIC_OWNER {
                let found = c
                    .query_opt("SELECT 1 FROM accounts WHERE address = $1", &[&owner])
                    .map_err(pg_error)?;
                if found.is_none() {
                    return Err(StorageError::NotFound(format!("account {owner}")));
                }
            }
            c.query(
                &format!("SELECT {STATE_COLUMNS} FROM folders WHERE account = $1"),
                &[&owner],
            )
            .map_err(pg_error)
        })?;
        let mut out = rows.iter().map(state_of).collect::<Result<Vec<_>, _>>()?;
        // Byte order of the names, as the embedded backend lists them (not the collation's).
        out.sort_by(|a, b| (a.name != "INBOX", &a.name).cmp(&(b.name != "INBOX", &b.name)));
        Ok(out)
    }
}
