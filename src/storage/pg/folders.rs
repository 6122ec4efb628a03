//! The folder catalog in PostgreSQL: one `folders` row per folder (its counters, and the
//! lock every message write of the folder takes), created, listed, renamed and deleted here
//! with the embedded backend's behaviour (its `folders` module).
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
use postgres::Row;

use super::blobrefs::RefDelta;
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::directory::normalize_address;
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
    c: &mut impl Db,
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
    c: &mut impl Db,
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
fn next_uidvalidity(tx: &mut Tx<'_>) -> Result<i64, StorageError> {
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
    tx: &mut Tx<'_>,
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
fn inherit_acl(tx: &mut Tx<'_>, parent: FolderId, child: FolderId) -> Result<(), StorageError> {
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
    tx: &mut Tx<'_>,
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
    tx: &mut Tx<'_>,
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
    tx: &mut Tx<'_>,
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
                 recent_from = 1, keywords = '{}', expunged_count = 0, vanished_horizon = 0,
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
        tx: &mut Tx<'_>,
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
        if name != "INBOX" {
            return self.pool().with(|c| lookup(c, &owner, &name, ""));
        }
        // Local delivery asks for the INBOX of every message: cached (`dircache.rs`).
        let cache = self.dir_cache();
        if let Some(id) = cache.inbox(&owner) {
            return Ok(Some(id));
        }
        let read_in = cache.generation();
        let found = self.pool().with(|c| lookup(c, &owner, &name, ""))?;
        if let Some(id) = found {
            cache.put_inbox(read_in, &owner, id);
        }
        Ok(found)
    }

    pub(crate) fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        let state = self.pool().with(|c| load_state(c, id, ""));
        if let Err(StorageError::NotFound(_)) = &state {
            // A cached INBOX id may name it (`dircache.rs`): looked up afresh next time.
            self.dir_cache().forget_folder(id);
        }
        state
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

/// Removes a folder's messages, expunge history, METADATA entries and URLAUTH keys inside
/// `tx`, releasing their blobs (into `refs`) and the owner's usage. The row stays (the caller
/// deletes it or makes it a placeholder).
fn empty_folder(
    tx: &mut Tx<'_>,
    refs: &mut RefDelta,
    state: &FolderState,
) -> Result<(), StorageError> {
    let id = db_id(state.id)?;
    for row in tx
        .query(
            "DELETE FROM messages WHERE folder = $1 RETURNING blob",
            &[&id],
        )
        .map_err(pg_error)?
    {
        refs.release(blob_of(row.get(0))?);
    }
    tx.execute("DELETE FROM expunged WHERE folder = $1", &[&id])
        .map_err(pg_error)?;
    // RFC 5464: a mailbox's METADATA entries go with it; RFC 4467: its URLAUTH keys too, so
    // a new mailbox of the name honours no old URL.
    tx.execute("DELETE FROM metadata WHERE folder = $1", &[&id])
        .map_err(pg_error)?;
    tx.execute("DELETE FROM urlauth WHERE folder = $1", &[&id])
        .map_err(pg_error)?;
    release_usage(tx, &state.account, state.size, state.exists)
}

/// Takes `bytes` and `messages` off `owner`'s usage (never below 0; public folders count
/// nowhere). Not `quota::tx_add_usage`: the quota module imports the directory's, which
/// imports this one (account creation makes folders), and module imports stay acyclic.
fn release_usage(
    tx: &mut Tx<'_>,
    owner: &str,
    bytes: u64,
    messages: u32,
) -> Result<(), StorageError> {
    if owner == PUBLIC_OWNER || (bytes == 0 && messages == 0) {
        return Ok(());
    }
    let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
    tx.execute(
        "UPDATE quota SET storage_used = GREATEST(storage_used - $2, 0),
             messages_used = GREATEST(messages_used - $3, 0)
         WHERE account = $1",
        &[&owner, &bytes, &i64::from(messages)],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// The folders strictly below `name` of `owner`, locked FOR UPDATE, in id order (the order
/// every catalog write locks several folders in).
fn children(tx: &mut Tx<'_>, owner: &str, name: &str) -> Result<Vec<FolderState>, StorageError> {
    let prefix = format!("{name}{SEPARATOR}");
    let rows = tx
        .query(
            &format!(
                "SELECT {STATE_COLUMNS} FROM folders
                 WHERE account = $1 AND left(name_key, char_length($2)) = $2
                 ORDER BY id FOR UPDATE"
            ),
            &[&owner, &prefix],
        )
        .map_err(pg_error)?;
    rows.iter().map(state_of).collect()
}

/// One message moved by RENAME INBOX.
struct Moved {
    uid: i64,
    flags: i16,
    keywords: Vec<String>,
    size: i64,
}

/// Keywords a folder remembers at most (as the embedded backend: RFC 9051 §2.3.2 lets a
/// server refuse new ones).
const MAX_FOLDER_KEYWORDS: usize = 256;

impl PgStore {
    pub(crate) fn set_subscribed(
        &self,
        id: FolderId,
        subscribed: bool,
    ) -> Result<(), StorageError> {
        self.pool().with(|c| {
            let n = c
                .execute(
                    "UPDATE folders SET subscribed = $2 WHERE id = $1",
                    &[&db_id(id)?, &subscribed],
                )
                .map_err(pg_error)?;
            if n == 0 {
                return Err(folder_not_found(id));
            }
            Ok(())
        })
    }

    pub(crate) fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        let new_name = canonical_name(new_name)?;
        self.pool().tx(|tx| {
            let state = load_state(tx, id, "FOR UPDATE")?;
            check_rename(&state.name, &new_name)?;
            let owner = state.account.clone();
            let mut moves = vec![state.clone()];
            moves.extend(children(tx, &owner, &state.name)?);
            for folder in &moves {
                let new = renamed(&folder.name, &state.name, &new_name);
                if lookup(tx, &owner, &new, "")?.is_some() {
                    return Err(StorageError::Exists(format!("folder {new} of {owner}")));
                }
            }
            create_ancestors(self, tx, &owner, &new_name)?;
            for folder in &moves {
                let new = renamed(&folder.name, &state.name, &new_name);
                tx.execute(
                    "UPDATE folders SET name = $2, name_key = $2 WHERE id = $1",
                    &[&db_id(folder.id)?, &new],
                )
                .map_err(|e| name_taken(e, &owner, &new))?;
                self.notify_folder(tx, folder.id, 0)?;
            }
            Ok(())
        })
    }

    pub(crate) fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError> {
        let (owner, to) = rename_inbox_args(account, to)?;
        self.pool().tx(|tx| {
            let inbox = lookup(tx, &owner, "INBOX", "FOR UPDATE")?
                .ok_or_else(|| StorageError::NotFound(format!("folder INBOX of {owner}")))?;
            let id = create_path(self, tx, &owner, &to, None, false)?;
            let target = load_state(tx, id, "FOR UPDATE")?;
            let moved: Vec<Moved> = tx
                .query(
                    "SELECT uid, system_flags, keywords, size FROM messages
                     WHERE folder = $1 ORDER BY uid",
                    &[&db_id(inbox)?],
                )
                .map_err(pg_error)?
                .iter()
                .map(|r| Moved {
                    uid: r.get(0),
                    flags: r.get(1),
                    keywords: r.get(2),
                    size: r.get(3),
                })
                .collect();
            if moved.is_empty() {
                return Ok(id);
            }
            let n = i64::try_from(moved.len()).unwrap_or(i64::MAX);
            if i64::from(target.uidnext) + n > i64::from(u32::MAX) {
                return Err(StorageError::Invalid(format!(
                    "folder {to} of {owner} has used up its UIDs"
                )));
            }
            // The counters of the messages moved, and the keywords in order of first use.
            let (mut unseen, mut deleted, mut size) = (0i64, 0i64, 0i64);
            let mut keywords: Vec<String> = tx
                .query_one("SELECT keywords FROM folders WHERE id = $1", &[&db_id(id)?])
                .map_err(pg_error)?
                .get(0);
            for m in &moved {
                let flags = u8::try_from(m.flags).unwrap_or(0);
                if flags & Flags::SEEN == 0 {
                    unseen += 1;
                }
                if flags & Flags::DELETED != 0 {
                    deleted += 1;
                }
                size = size.saturating_add(m.size);
                for k in &m.keywords {
                    if !keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                        keywords.push(k.clone());
                    }
                }
            }
            if keywords.len() > MAX_FOLDER_KEYWORDS {
                return Err(StorageError::Invalid(format!(
                    "folder {to} has {MAX_FOLDER_KEYWORDS} keywords; no new ones accepted"
                )));
            }
            let inbox_row = tx
                .query_one(
                    "UPDATE folders SET highest_modseq = highest_modseq + 1, exists_count = 0,
                         unseen = 0, deleted = 0, size = 0,
                         expunged_count = expunged_count + $2
                     WHERE id = $1 RETURNING highest_modseq",
                    &[&db_id(inbox)?, &n],
                )
                .map_err(pg_error)?;
            let inbox_modseq: i64 = inbox_row.get(0);
            let target_modseq = i64::try_from(target.highest_modseq + 1).unwrap_or(i64::MAX);
            let uids: Vec<i64> = moved.iter().map(|m| m.uid).collect();
            // Every moved UID is remembered as expunged from INBOX (QRESYNC), with the
            // modseq of this change.
            tx.execute(
                "INSERT INTO expunged (folder, uid, modseq) SELECT $1, uid, $2
                 FROM unnest($3::bigint[]) AS uid
                 ON CONFLICT (folder, uid) DO UPDATE SET modseq = EXCLUDED.modseq",
                &[&db_id(inbox)?, &inbox_modseq, &uids],
            )
            .map_err(pg_error)?;
            // New UIDs from the new folder's UIDNEXT, in the old UID order.
            tx.execute(
                "UPDATE messages m SET folder = $2, uid = $3 + o.ix - 1, modseq = $4,
                     save_date = $5
                 FROM (SELECT uid, ix FROM unnest($6::bigint[]) WITH ORDINALITY AS t(uid, ix)) o
                 WHERE m.folder = $1 AND m.uid = o.uid",
                &[
                    &db_id(inbox)?,
                    &db_id(id)?,
                    &i64::from(target.uidnext),
                    &target_modseq,
                    &i64::try_from(now_secs()).unwrap_or(i64::MAX),
                    &uids,
                ],
            )
            .map_err(pg_error)?;
            tx.execute(
                "UPDATE folders SET uidnext = uidnext + $2, highest_modseq = $3,
                     exists_count = exists_count + $2, unseen = unseen + $4,
                     deleted = deleted + $5, size = size + $6, keywords = $7
                 WHERE id = $1",
                &[
                    &db_id(id)?,
                    &n,
                    &target_modseq,
                    &unseen,
                    &deleted,
                    &size,
                    &keywords,
                ],
            )
            .map_err(pg_error)?;
            // Blob references and quota usage stay: the messages only changed folder.
            self.notify_folder(tx, inbox, u64::try_from(inbox_modseq).unwrap_or(0))?;
            self.notify_folder(tx, id, target.highest_modseq + 1)?;
            Ok(id)
        })
    }

    pub(crate) fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        let zeroed = self.pool().tx(|tx| {
            let state = load_state(tx, id, "FOR UPDATE")?;
            if state.name == "INBOX" {
                return Err(StorageError::Invalid("INBOX cannot be deleted".into()));
            }
            let has_children = !children(tx, &state.account, &state.name)?.is_empty();
            if has_children && state.noselect {
                return Err(StorageError::Invalid(format!(
                    "folder {} has child folders and is already \\Noselect",
                    state.name
                )));
            }
            if state.subscribed && state.account != PUBLIC_OWNER {
                tx.execute(
                    "INSERT INTO subscriptions (account, name) VALUES ($1, $2)
                     ON CONFLICT (account, name) DO NOTHING",
                    &[&state.account, &state.name],
                )
                .map_err(pg_error)?;
            }
            let mut refs = RefDelta::default();
            empty_folder(tx, &mut refs, &state)?;
            if has_children {
                // The placeholder keeps its ACL and UIDVALIDITY; nothing below UIDNEXT is
                // recent again, and every expunge before now is forgotten.
                tx.execute(
                    "UPDATE folders SET exists_count = 0, unseen = 0, deleted = 0, size = 0,
                         noselect = true, highest_modseq = highest_modseq + 1,
                         recent_from = uidnext, keywords = '{}', expunged_count = 0,
                         vanished_horizon = highest_modseq + 1
                     WHERE id = $1",
                    &[&db_id(id)?],
                )
                .map_err(pg_error)?;
            } else {
                tx.execute("DELETE FROM folders WHERE id = $1", &[&db_id(id)?])
                    .map_err(pg_error)?;
            }
            self.notify_folder(tx, id, 0)?;
            refs.apply(tx, self.blobs())
        })?;
        self.collect_after_commit(&zeroed);
        Ok(())
    }

    pub(crate) fn del_account(&self, address: &str) -> Result<(), StorageError> {
        let address = normalize_address(address)?;
        let zeroed = self.dir_tx(|tx| {
            if tx
                .query_opt(
                    "SELECT 1 FROM accounts WHERE address = $1 FOR UPDATE",
                    &[&address],
                )
                .map_err(pg_error)?
                .is_none()
            {
                return Err(StorageError::NotFound(format!("account {address}")));
            }
            let rows = tx
                .query(
                    &format!(
                        "SELECT {STATE_COLUMNS} FROM folders WHERE account = $1
                         ORDER BY id FOR UPDATE"
                    ),
                    &[&address],
                )
                .map_err(pg_error)?;
            let mut refs = RefDelta::default();
            for row in &rows {
                let state = state_of(row)?;
                empty_folder(tx, &mut refs, &state)?;
                tx.execute("DELETE FROM folders WHERE id = $1", &[&db_id(state.id)?])
                    .map_err(pg_error)?;
                self.notify_folder(tx, state.id, 0)?;
            }
            // Its entries in other folders' ACLs: an ACL change of each of those folders.
            let granted = tx
                .query(
                    "DELETE FROM acl a USING folders f
                     WHERE a.identifier = $1 AND f.id = a.folder
                     RETURNING f.id, f.highest_modseq",
                    &[&address],
                )
                .map_err(pg_error)?;
            for row in &granted {
                self.notify_folder(tx, u64_of(row, "id")?, u64_of(row, "highest_modseq")?)?;
            }
            // Its WebDAV files' bodies (the rows go with the account's row).
            super::davfiles::drop_account_files(tx, &address, &mut refs)?;
            for sql in [
                "DELETE FROM quota WHERE account = $1",
                "DELETE FROM sender_rights WHERE account = $1",
                "DELETE FROM subscriptions WHERE account = $1",
                "DELETE FROM metadata WHERE folder = 0 AND owner = $1",
                // Its calendars and address books (with their objects and ACLs), and its
                // entries in the ACLs of others' (migration 0008).
                "DELETE FROM dav_collections WHERE owner = $1",
                "DELETE FROM dav_acl WHERE identifier = $1",
                "DELETE FROM accounts WHERE address = $1",
            ] {
                tx.execute(sql, &[&address]).map_err(pg_error)?;
            }
            // Its fetch sources (as the embedded backend drops them), in the same
            // transaction: the account and its sources go together.
            super::fetch::drop_sources_tx(self, tx, &address)?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[
                    &self.channel("settings"),
                    &format!("{} directory", self.node()),
                ],
            )
            .map_err(pg_error)?;
            refs.apply(tx, self.blobs())
        })?;
        self.collect_after_commit(&zeroed);
        Ok(())
    }
}
