//! `DavStore` on sled: calendar and contact collections (see `storage::davstore`).
//!
//! | tree                       | key                              | value (bincode)           |
//! |----------------------------|----------------------------------|---------------------------|
//! | `v1/dav_collections`       | collection id u64 BE             | `DavCollection` (older: without `modified`) |
//! | `v1/dav_collection_names`  | owner `0x00` name                | collection id u64 BE      |
//! | `v1/dav_objects`           | collection id BE ++ name         | `DavObject`               |
//! | `v1/dav_uids`              | collection id BE ++ UID          | name                      |
//! | `v1/dav_changes`           | collection id BE ++ counter BE   | `ChangeRecord`            |
//! | `v1/dav_homes`             | owner                            | empty: defaults were made |
//! | `v1/dav_acl`               | collection id u64 BE             | `Vec<(identifier, rights)>` sorted |
//! | `v1/dav_acl_index`         | identifier `0x00` collection id BE | rights `String`         |
//!
//! Public collections have the empty owner: their names are keyed `0x00 name`.
//!
//! These trees are outside the set every other transaction spans: each DAV write is one
//! transaction over these eight alone (sled serialises transactions globally, so atomicity
//! holds the same). Collection ids come from sled's id generator, never reused. A live
//! object has one change record (at its `changed`), moved on each put; a delete leaves a
//! tombstone record. Structural operations (collections, defaults, an owner's removal)
//! run under the store's admin lock, which account creation and deletion also hold.
//! Write times are the node's system clock, read inside the transaction (see
//! `storage::davstore`, "Times").

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::Transactional;

use super::keys::{self, TreeIx};
use super::{abort, SledStore, StorageError, TxResult};
use crate::storage::acl::{acl_after, check_acl_change, ANYONE};
use crate::storage::davstore::*;
use crate::storage::directory::normalize_address;
use crate::storage::dump::SmallRow;
use crate::storage::PUBLIC_OWNER;

const TREES: [&str; 8] = [
    "v1/dav_collections",
    "v1/dav_collection_names",
    "v1/dav_objects",
    "v1/dav_uids",
    "v1/dav_changes",
    "v1/dav_homes",
    "v1/dav_acl",
    "v1/dav_acl_index",
];
const COLLECTIONS: usize = 0;
const NAMES: usize = 1;
const OBJECTS: usize = 2;
const UIDS: usize = 3;
const CHANGES: usize = 4;
const HOMES: usize = 5;
const ACL: usize = 6;
const ACL_INDEX: usize = 7;

type Acl = Vec<(String, String)>;

fn acl_index_key(identifier: &str, collection: u64) -> Vec<u8> {
    let mut k = identifier.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&collection.to_be_bytes());
    k
}

fn tx_acl(t: &[TransactionalTree], collection: u64) -> TxResult<Acl> {
    Ok(get(&t[ACL], &collection.to_be_bytes(), "DAV acl")?.unwrap_or_default())
}

/// Replaces `collection`'s ACL `old` by `new`, keeping the index in step.
fn tx_write_acl(t: &[TransactionalTree], collection: u64, old: &Acl, new: &Acl) -> TxResult<()> {
    for (id, _) in old {
        t[ACL_INDEX].remove(acl_index_key(id, collection))?;
    }
    for (id, rights) in new {
        put(&t[ACL_INDEX], &acl_index_key(id, collection), rights)?;
    }
    if new.is_empty() {
        t[ACL].remove(&collection.to_be_bytes()[..])?;
        Ok(())
    } else {
        put(&t[ACL], &collection.to_be_bytes(), new)
    }
}

/// One entry of the change log.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct ChangeRecord {
    name: String,
    deleted: bool,
}

fn name_key(owner: &str, name: &str) -> Vec<u8> {
    let mut k = owner.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(name.as_bytes());
    k
}

fn sub_key(collection: u64, tail: &[u8]) -> Vec<u8> {
    let mut k = collection.to_be_bytes().to_vec();
    k.extend_from_slice(tail);
    k
}

fn change_key(collection: u64, counter: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&collection.to_be_bytes());
    k[8..].copy_from_slice(&counter.to_be_bytes());
    k
}

fn put<T: Serialize>(tree: &TransactionalTree, key: &[u8], value: &T) -> TxResult<()> {
    keys::tx_put(tree, key, value)
}

fn get<T: serde::de::DeserializeOwned>(
    tree: &TransactionalTree,
    key: &[u8],
    what: &str,
) -> TxResult<Option<T>> {
    keys::tx_get(tree, key, what)
}

/// A [`DavCollection`] as stored before it had a modification time (read back with 0).
#[derive(Deserialize)]
struct CollectionV1 {
    id: u64,
    owner: String,
    name: String,
    kind: CollectionKind,
    props: CollectionProps,
    components: Vec<String>,
    sync: u64,
    expired_below: u64,
    tombstones: u64,
}

/// Decodes a stored collection of either layout (the newer first, as objects).
fn decode_collection(bytes: &[u8]) -> Result<DavCollection, StorageError> {
    keys::decode::<DavCollection>(bytes, "DAV collection").or_else(|e| {
        let c = bincode::deserialize::<CollectionV1>(bytes).map_err(|_| e)?;
        Ok(DavCollection {
            id: c.id,
            owner: c.owner,
            name: c.name,
            kind: c.kind,
            props: c.props,
            components: c.components,
            sync: c.sync,
            expired_below: c.expired_below,
            tombstones: c.tombstones,
            modified: 0,
        })
    })
}

fn tx_collection(t: &[TransactionalTree], collection: u64) -> TxResult<Option<DavCollection>> {
    match t[COLLECTIONS].get(collection.to_be_bytes())? {
        None => Ok(None),
        Some(v) => match decode_collection(&v) {
            Ok(c) => Ok(Some(c)),
            Err(e) => abort(e),
        },
    }
}

/// The store's clock (module comment): the node's system clock, in Unix seconds.
fn store_now() -> i64 {
    i64::try_from(crate::storage::now_secs()).unwrap_or(i64::MAX)
}

/// A [`DavObject`] as stored before it had a Schedule-Tag (read back with its `changed`
/// as the tag).
#[derive(Deserialize)]
struct ObjectV1 {
    name: String,
    uid: String,
    etag: String,
    data: String,
    component: String,
    first: Option<i64>,
    last: Option<i64>,
    changed: u64,
}

/// A [`DavObject`] as stored before it had a modification time (read back with 0:
/// unknown).
#[derive(Deserialize)]
struct ObjectV2 {
    name: String,
    uid: String,
    etag: String,
    data: String,
    component: String,
    first: Option<i64>,
    last: Option<i64>,
    changed: u64,
    schedule_tag: u64,
}

/// Decodes a stored object, of any layout (the newest first: an older record is shorter,
/// so reading it as a newer one fails at its end).
fn decode_object(bytes: &[u8]) -> Result<DavObject, StorageError> {
    match keys::decode::<DavObject>(bytes, "DAV object") {
        Ok(o) => Ok(o),
        Err(e) => match bincode::deserialize::<ObjectV2>(bytes) {
            Ok(o) => Ok(DavObject {
                name: o.name,
                uid: o.uid,
                etag: o.etag,
                data: o.data,
                component: o.component,
                first: o.first,
                last: o.last,
                changed: o.changed,
                schedule_tag: o.schedule_tag,
                modified: 0,
            }),
            Err(_) => decode_object_v1(bytes).ok_or(e),
        },
    }
}

fn decode_object_v1(bytes: &[u8]) -> Option<DavObject> {
    let o = bincode::deserialize::<ObjectV1>(bytes).ok()?;
    Some(DavObject {
        name: o.name,
        uid: o.uid,
        etag: o.etag,
        data: o.data,
        component: o.component,
        first: o.first,
        last: o.last,
        changed: o.changed,
        schedule_tag: o.changed,
        modified: 0,
    })
}

fn tx_object(tree: &TransactionalTree, key: &[u8]) -> TxResult<Option<DavObject>> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => match decode_object(&v) {
            Ok(o) => Ok(Some(o)),
            Err(e) => abort(e),
        },
    }
}

impl SledStore {
    fn dav_trees(&self) -> Result<Vec<sled::Tree>, StorageError> {
        TREES.iter().map(|n| Ok(self.db().open_tree(n)?)).collect()
    }

    fn dav_tree(&self, ix: usize) -> Result<sled::Tree, StorageError> {
        Ok(self.db().open_tree(TREES[ix])?)
    }

    /// One transaction over the DAV trees.
    fn dav_transact<T>(
        &self,
        f: impl Fn(&[TransactionalTree]) -> TxResult<T>,
    ) -> Result<T, StorageError> {
        let trees = self.dav_trees()?;
        trees
            .as_slice()
            .transaction(|t: &Vec<TransactionalTree>| f(t))
            .map_err(|e| match e {
                TransactionError::Abort(e) => e,
                TransactionError::Storage(e) => e.into(),
            })
    }

    /// Gives `owner` the default collections unless it had them already. The caller holds
    /// the admin lock (account creation does).
    pub(crate) fn dav_make_defaults(&self, owner: &str) -> Result<(), StorageError> {
        if self.dav_tree(HOMES)?.contains_key(owner.as_bytes())? {
            return Ok(());
        }
        let ids: Vec<u64> = default_collections(owner)
            .iter()
            .map(|_| self.db().generate_id())
            .collect::<Result<_, _>>()?;
        let defaults = default_collections(owner);
        self.dav_transact(|t| {
            if t[HOMES].get(owner.as_bytes())?.is_some() {
                return Ok(());
            }
            for (new, id) in defaults.iter().zip(&ids) {
                if t[NAMES].get(name_key(owner, &new.name))?.is_none() {
                    tx_insert_collection(t, *id, new)?;
                }
            }
            t[HOMES].insert(owner.as_bytes(), &[][..])?;
            Ok(())
        })
    }

    /// Deletes everything `owner` has here (account deletion; the caller holds the admin
    /// lock).
    pub(crate) fn dav_drop_owner(&self, owner: &str) -> Result<(), StorageError> {
        let prefix = name_key(owner, "");
        let names: Vec<String> = self
            .dav_tree(NAMES)?
            .scan_prefix(&prefix)
            .keys()
            .map(|k| Ok(String::from_utf8_lossy(&k?[prefix.len()..]).into_owned()))
            .collect::<Result<_, StorageError>>()?;
        for name in names {
            self.dav_remove_collection(owner, &name)?;
        }
        self.dav_tree(HOMES)?.remove(owner.as_bytes())?;
        // Its entries in the ACLs of others' collections.
        let prefix = name_key(owner, "");
        let granted: Vec<u64> = self
            .dav_tree(ACL_INDEX)?
            .scan_prefix(&prefix)
            .keys()
            .map(|k| keys::decode_u64(&k?[prefix.len()..], "DAV acl index"))
            .collect::<Result<_, _>>()?;
        for collection in granted {
            self.dav_transact(|t| {
                let old = tx_acl(t, collection)?;
                let new: Acl = old.iter().filter(|(id, _)| id != owner).cloned().collect();
                tx_write_acl(t, collection, &old, &new)
            })?;
        }
        Ok(())
    }

    fn dav_remove_collection(&self, owner: &str, name: &str) -> Result<(), StorageError> {
        let Some(coll) = self.dav_collection(owner, name)? else {
            return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
        };
        let prefix = coll.id.to_be_bytes();
        // Objects, UIDs and change records go in batches outside the collection's removal:
        // the collection record goes first, so nothing can reach the rest meanwhile.
        self.dav_transact(|t| {
            t[COLLECTIONS].remove(&prefix[..])?;
            t[NAMES].remove(name_key(&coll.owner, name))?;
            let old = tx_acl(t, coll.id)?;
            tx_write_acl(t, coll.id, &old, &Vec::new())
        })?;
        for ix in [OBJECTS, UIDS, CHANGES] {
            let tree = self.dav_tree(ix)?;
            for k in tree.scan_prefix(prefix).keys() {
                tree.remove(k?)?;
            }
        }
        Ok(())
    }

    fn dav_load(&self, collection: u64) -> Result<DavCollection, StorageError> {
        match self.dav_tree(COLLECTIONS)?.get(collection.to_be_bytes())? {
            Some(v) => decode_collection(&v),
            None => Err(StorageError::NotFound(format!("collection {collection}"))),
        }
    }

    /// Every home, collection and object, for `storage migrate` (collections before their
    /// objects, so that a copy can find each object's collection).
    pub(crate) fn dav_export(&self) -> Result<Vec<SmallRow>, StorageError> {
        let mut rows = Vec::new();
        for k in self.dav_tree(HOMES)?.iter().keys() {
            rows.push(SmallRow::DavHome(String::from_utf8_lossy(&k?).into_owned()));
        }
        let collections = self.dav_all_collections()?;
        for c in &collections {
            rows.push(SmallRow::DavCollection(c.clone()));
        }
        for c in collections {
            for (identifier, rights) in self.dav_get_acl(c.id)? {
                rows.push(SmallRow::DavAcl(
                    c.owner.clone(),
                    c.name.clone(),
                    identifier,
                    rights,
                ));
            }
            for o in self.dav_objects(c.id)? {
                rows.push(SmallRow::DavObject(c.owner.clone(), c.name.clone(), o));
            }
        }
        Ok(rows)
    }

    /// Drops the oldest tombstones of `collection` beyond `keep`, moving `expired_below`.
    pub(crate) fn prune_dav_tombstones(
        &self,
        collection: u64,
        keep: u64,
    ) -> Result<(), StorageError> {
        let coll = self.dav_load(collection)?;
        if coll.tombstones <= keep {
            return Ok(());
        }
        let excess = (coll.tombstones - keep) as usize;
        let mut victims = Vec::with_capacity(excess);
        for entry in self
            .dav_tree(CHANGES)?
            .scan_prefix(collection.to_be_bytes())
        {
            let (k, v) = entry?;
            let rec: ChangeRecord = keys::decode(&v, "DAV change")?;
            if rec.deleted {
                victims.push(k);
                if victims.len() == excess {
                    break;
                }
            }
        }
        self.dav_transact(|t| {
            let ckey = collection.to_be_bytes();
            let Some(mut coll) = tx_collection(t, collection)? else {
                return Ok(());
            };
            for k in &victims {
                if t[CHANGES].remove(k.as_ref())?.is_some() {
                    coll.tombstones = coll.tombstones.saturating_sub(1);
                    let counter = keys::decode_u64(&k[8..], "DAV change counter");
                    match counter {
                        Ok(c) => coll.expired_below = coll.expired_below.max(c),
                        Err(e) => return abort(e),
                    }
                }
            }
            put(&t[COLLECTIONS], &ckey, &coll)
        })
    }
}

fn tx_insert_collection(t: &[TransactionalTree], id: u64, new: &NewCollection) -> TxResult<()> {
    let coll = DavCollection {
        id,
        owner: new.owner.clone(),
        name: new.name.clone(),
        kind: new.kind,
        props: new.props.clone(),
        components: new.components.clone(),
        sync: 0,
        expired_below: 0,
        tombstones: 0,
        modified: 0,
    };
    put(&t[COLLECTIONS], &id.to_be_bytes(), &coll)?;
    t[NAMES].insert(name_key(&new.owner, &new.name), &id.to_be_bytes()[..])?;
    Ok(())
}

fn tx_conflict<T>(e: StorageError) -> TxResult<T> {
    Err(ConflictableTransactionError::Abort(e))
}

/// Whether `cond` holds for `existing`.
fn holds(cond: &Condition, existing: Option<&DavObject>) -> bool {
    match (cond, existing) {
        (Condition::Any, _) => true,
        (Condition::Match(tag), Some(o)) => &o.etag == tag,
        (Condition::Match(_), None) => false,
        (Condition::Absent, e) => e.is_none(),
    }
}

impl SledStore {
    /// Every change of `collection` after `token` (the body of `dav_changes`).
    fn changes_since(
        &self,
        tree: &sled::Tree,
        collection: u64,
        token: u64,
        coll: &DavCollection,
    ) -> Result<Changes, StorageError> {
        let from = change_key(collection, token.saturating_add(1));
        let to = change_key(collection, u64::MAX);
        // A name changed more than once (deleted and put again) keeps its latest record.
        let mut latest: std::collections::HashMap<String, (u64, bool)> = Default::default();
        for (order, v) in (0u64..).zip(tree.range(from..=to).values()) {
            let rec: ChangeRecord = keys::decode(&v?, "DAV change")?;
            latest.insert(rec.name, (order, rec.deleted));
        }
        let mut ordered: Vec<(u64, bool, String)> = latest
            .into_iter()
            .filter(|(_, (_, deleted))| !(token == 0 && *deleted))
            .map(|(name, (order, deleted))| (order, deleted, name))
            .collect();
        ordered.sort();
        let (deleted, changed): (Vec<_>, Vec<_>) = ordered.into_iter().partition(|r| r.1);
        Ok(Changes::Since {
            token: coll.sync,
            changed: changed.into_iter().map(|r| r.2).collect(),
            deleted: deleted.into_iter().map(|r| r.2).collect(),
        })
    }
}

impl DavStore for SledStore {
    fn dav_create_collection(&self, new: &NewCollection) -> Result<DavCollection, StorageError> {
        let owner = normalize_owner(&new.owner)?;
        check_name(&new.name)?;
        let new = NewCollection {
            owner: owner.clone(),
            ..new.clone()
        };
        let _admin = self.admin_lock();
        if owner != PUBLIC_OWNER && self.tree(TreeIx::Accounts).get(owner.as_bytes())?.is_none() {
            return Err(StorageError::NotFound(format!("account {owner}")));
        }
        let id = self.db().generate_id()?;
        self.dav_transact(|t| {
            if t[NAMES].get(name_key(&owner, &new.name))?.is_some() {
                return tx_conflict(StorageError::Exists(format!(
                    "collection {owner}/{}",
                    new.name
                )));
            }
            tx_insert_collection(t, id, &new)
        })?;
        self.dav_load(id)
    }

    fn dav_collection(
        &self,
        owner: &str,
        name: &str,
    ) -> Result<Option<DavCollection>, StorageError> {
        let Ok(owner) = normalize_owner(owner) else {
            return Ok(None);
        };
        match self.dav_tree(NAMES)?.get(name_key(&owner, name))? {
            None => Ok(None),
            Some(id) => self
                .dav_load(keys::decode_u64(&id, "collection id")?)
                .map(Some),
        }
    }

    fn dav_collections(&self, owner: &str) -> Result<Vec<DavCollection>, StorageError> {
        let owner = normalize_owner(owner)?;
        if owner != PUBLIC_OWNER {
            let _admin = self.admin_lock();
            if self.tree(TreeIx::Accounts).get(owner.as_bytes())?.is_none() {
                return Err(StorageError::NotFound(format!("account {owner}")));
            }
            self.dav_make_defaults(&owner)?;
        }
        let prefix = name_key(&owner, "");
        let mut out = Vec::new();
        for v in self.dav_tree(NAMES)?.scan_prefix(&prefix).values() {
            out.push(self.dav_load(keys::decode_u64(&v?, "collection id")?)?);
        }
        Ok(out)
    }

    fn dav_all_collections(&self) -> Result<Vec<DavCollection>, StorageError> {
        let mut out = Vec::new();
        for v in self.dav_tree(NAMES)?.iter().values() {
            out.push(self.dav_load(keys::decode_u64(&v?, "collection id")?)?);
        }
        Ok(out)
    }

    fn dav_set_props(
        &self,
        owner: &str,
        name: &str,
        props: &CollectionProps,
    ) -> Result<DavCollection, StorageError> {
        let Some(coll) = self.dav_collection(owner, name)? else {
            return Err(StorageError::NotFound(format!("collection {owner}/{name}")));
        };
        self.dav_transact(|t| {
            let key = coll.id.to_be_bytes();
            let Some(mut c) = tx_collection(t, coll.id)? else {
                return tx_conflict(StorageError::NotFound(format!("collection {name}")));
            };
            c.props = props.clone();
            c.modified = later_time(store_now(), c.modified, None);
            put(&t[COLLECTIONS], &key, &c)?;
            Ok(c)
        })
    }

    fn dav_delete_collection(&self, owner: &str, name: &str) -> Result<(), StorageError> {
        let _admin = self.admin_lock();
        self.dav_remove_collection(owner, name)
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
        let outcome = self.dav_transact(|t| {
            let ckey = collection.to_be_bytes();
            let Some(mut coll) = tx_collection(t, collection)? else {
                return tx_conflict(StorageError::NotFound(format!("collection {collection}")));
            };
            let okey = sub_key(collection, obj.name.as_bytes());
            let existing = tx_object(&t[OBJECTS], &okey)?;
            if !holds(cond, existing.as_ref()) {
                return Ok(PutOutcome::PreconditionFailed);
            }
            let ukey = sub_key(collection, obj.uid.as_bytes());
            if let Some(holder) = t[UIDS].get(&ukey)? {
                if holder.as_ref() != obj.name.as_bytes() {
                    let holder = String::from_utf8_lossy(&holder).into_owned();
                    return Ok(PutOutcome::UidConflict(holder));
                }
            }
            if let Some(old) = &existing {
                t[CHANGES].remove(&change_key(collection, old.changed)[..])?;
                if old.uid != obj.uid {
                    t[UIDS].remove(sub_key(collection, old.uid.as_bytes()))?;
                }
            }
            coll.sync += 1;
            let modified = later_time(
                store_now(),
                coll.modified,
                existing.as_ref().map(|o| o.modified),
            );
            coll.modified = modified;
            let schedule_tag = match &existing {
                Some(old) if (w.keep_schedule_tag)(old) => old.schedule_tag,
                _ => coll.sync,
            };
            let stored = DavObject {
                modified,
                name: obj.name.clone(),
                uid: obj.uid.clone(),
                etag: etag.clone(),
                data: obj.data.clone(),
                component: obj.component.clone(),
                first: obj.first,
                last: obj.last,
                changed: coll.sync,
                schedule_tag,
            };
            put(&t[OBJECTS], &okey, &stored)?;
            t[UIDS].insert(ukey, obj.name.as_bytes())?;
            let rec = ChangeRecord {
                name: obj.name.clone(),
                deleted: false,
            };
            put(&t[CHANGES], &change_key(collection, coll.sync), &rec)?;
            put(&t[COLLECTIONS], &ckey, &coll)?;
            Ok(PutOutcome::Stored {
                object: stored,
                created: existing.is_none(),
            })
        })?;
        Ok(outcome)
    }

    fn dav_get(&self, collection: u64, name: &str) -> Result<Option<DavObject>, StorageError> {
        self.dav_tree(OBJECTS)?
            .get(sub_key(collection, name.as_bytes()))?
            .map(|v| decode_object(&v))
            .transpose()
    }

    fn dav_objects(&self, collection: u64) -> Result<Vec<DavObject>, StorageError> {
        self.dav_tree(OBJECTS)?
            .scan_prefix(collection.to_be_bytes())
            .values()
            .map(|v| decode_object(&v?))
            .collect()
    }

    fn dav_objects_page(
        &self,
        collection: u64,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<DavObject>, StorageError> {
        use std::ops::Bound;
        let prefix = collection.to_be_bytes();
        let start = match after {
            Some(name) => Bound::Excluded(sub_key(collection, name.as_bytes())),
            None => Bound::Included(prefix.to_vec()),
        };
        self.dav_tree(OBJECTS)?
            .range((start, Bound::Unbounded))
            .take_while(|kv| kv.as_ref().map_or(true, |(k, _)| k.starts_with(&prefix)))
            .take(limit)
            .map(|kv| decode_object(&kv?.1))
            .collect()
    }

    fn dav_objects_in_range(
        &self,
        collection: u64,
        start: i64,
        end: i64,
    ) -> Result<Vec<DavObject>, StorageError> {
        // The embedded backend has no span index: it decodes every object and keeps those
        // whose span may overlap (PostgreSQL filters in the query).
        Ok(self
            .dav_objects(collection)?
            .into_iter()
            .filter(|o| may_overlap(o.first, o.last, start, end))
            .collect())
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
        let outcome = self.dav_transact(|t| {
            let ckey = collection.to_be_bytes();
            let Some(mut coll) = tx_collection(t, collection)? else {
                return tx_conflict(StorageError::NotFound(format!("collection {collection}")));
            };
            let okey = sub_key(collection, name.as_bytes());
            let Some(old) = tx_object(&t[OBJECTS], &okey)? else {
                return Ok(DeleteOutcome::NotFound);
            };
            if !holds(cond, Some(&old)) {
                return Ok(DeleteOutcome::PreconditionFailed);
            }
            t[OBJECTS].remove(okey)?;
            t[UIDS].remove(sub_key(collection, old.uid.as_bytes()))?;
            t[CHANGES].remove(&change_key(collection, old.changed)[..])?;
            coll.sync += 1;
            coll.tombstones += 1;
            coll.modified = later_time(store_now(), coll.modified, Some(old.modified));
            let rec = ChangeRecord {
                name: name.to_string(),
                deleted: true,
            };
            put(&t[CHANGES], &change_key(collection, coll.sync), &rec)?;
            put(&t[COLLECTIONS], &ckey, &coll)?;
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
        let coll = self.dav_load(collection)?;
        if token > coll.sync || (token != 0 && token < coll.expired_below) {
            return Ok(Changes::Expired);
        }
        let tree = self.dav_tree(CHANGES)?;
        let changes = self.changes_since(&tree, collection, token, &coll)?;
        // The scan is not a snapshot: a prune while it ran may have dropped tombstones
        // above the token unseen.
        if token != 0 && self.dav_load(collection)?.expired_below > token {
            return Ok(Changes::Expired);
        }
        Ok(changes)
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
        let coll = self.dav_load(collection)?;
        let Some(floor) = page_floor(token, floor, &coll) else {
            return Ok(ChangePage::Expired);
        };
        // The log up to the counter read above, in counter order; at most limit + 1
        // entries are held.
        let from = change_key(collection, token.saturating_add(1));
        let to = change_key(collection, coll.sync);
        let mut read = Vec::new();
        for kv in self.dav_tree(CHANGES)?.range(from..=to) {
            let (k, v) = kv?;
            let rec: ChangeRecord = keys::decode(&v, "DAV change")?;
            let at = keys::decode_u64(&k[8..], "DAV change counter")?;
            if rec.deleted && at <= floor {
                continue;
            }
            read.push(Change {
                name: rec.name,
                deleted: rec.deleted,
                at,
            });
            if read.len() > limit {
                break;
            }
        }
        // The scan is not a snapshot: a prune while it ran may have dropped tombstones
        // above the floor unseen.
        if token != 0 && self.dav_load(collection)?.expired_below > floor {
            return Ok(ChangePage::Expired);
        }
        Ok(change_page(read, limit, coll.sync, floor))
    }

    fn dav_get_acl(&self, collection: u64) -> Result<Vec<(String, String)>, StorageError> {
        self.dav_load(collection)?;
        Ok(
            keys::get(&self.dav_tree(ACL)?, &collection.to_be_bytes(), "DAV acl")?
                .unwrap_or_default(),
        )
    }

    fn dav_set_acl(
        &self,
        collection: u64,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        let identifier = check_acl_change(identifier, rights)?;
        self.dav_transact(|t| {
            if t[COLLECTIONS].get(collection.to_be_bytes())?.is_none() {
                return tx_conflict(StorageError::NotFound(format!("collection {collection}")));
            }
            let old = tx_acl(t, collection)?;
            let new = match acl_after(&old, &identifier, rights) {
                Ok(new) => new,
                Err(e) => return tx_conflict(e),
            };
            tx_write_acl(t, collection, &old, &new)
        })
    }

    fn dav_edit_acl(
        &self,
        collection: u64,
        edit: AclEdit<'_>,
    ) -> Result<Vec<(String, String)>, StorageError> {
        self.dav_transact(|t| {
            if t[COLLECTIONS].get(collection.to_be_bytes())?.is_none() {
                return tx_conflict(StorageError::NotFound(format!("collection {collection}")));
            }
            let old = tx_acl(t, collection)?;
            let new = match normalize_acl(&edit(&old)) {
                Ok(new) => new,
                Err(e) => return tx_conflict(e),
            };
            tx_write_acl(t, collection, &old, &new)?;
            Ok(new)
        })
    }

    fn dav_shared_with(&self, user: &str) -> Result<Vec<DavCollection>, StorageError> {
        let user = normalize_address(user)?;
        let index = self.dav_tree(ACL_INDEX)?;
        let mut ids = std::collections::BTreeSet::new();
        for identifier in [user.as_str(), ANYONE] {
            let prefix = name_key(identifier, "");
            for entry in index.scan_prefix(&prefix) {
                let (k, v) = entry?;
                let rights: String = keys::decode(&v, "DAV acl rights")?;
                if rights.contains('l') {
                    ids.insert(keys::decode_u64(&k[prefix.len()..], "DAV acl index")?);
                }
            }
        }
        let mut out = Vec::new();
        for id in ids {
            match self.dav_load(id) {
                Ok(c) if c.owner != user => out.push(c),
                Ok(_) => {}
                // Deleted between the index scan and now.
                Err(StorageError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| (&a.owner, &a.name).cmp(&(&b.owner, &b.name)));
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects written before the Schedule-Tag (V1) and before the modification time (V2)
    /// read back with their `changed` as the tag and 0 (unknown) as the time; today's
    /// layout reads back whole.
    #[test]
    fn older_object_records_read_back() {
        #[derive(Serialize)]
        struct V2<'a> {
            name: &'a str,
            uid: &'a str,
            etag: &'a str,
            data: &'a str,
            component: &'a str,
            first: Option<i64>,
            last: Option<i64>,
            changed: u64,
            schedule_tag: u64,
        }
        let v2 = V2 {
            name: "a.ics",
            uid: "a",
            etag: "\"e\"",
            data: "BEGIN:VCALENDAR",
            component: "VEVENT",
            first: Some(10),
            last: None,
            changed: 7,
            schedule_tag: 5,
        };
        let o = decode_object(&bincode::serialize(&v2).unwrap()).unwrap();
        assert_eq!((o.changed, o.schedule_tag, o.modified), (7, 5, 0));
        assert_eq!((o.name.as_str(), o.first), ("a.ics", Some(10)));
        // V1: V2 without the tag.
        let v1 = (
            "b.ics",
            "b",
            "\"e\"",
            "BEGIN:VCALENDAR",
            "VTODO",
            None::<i64>,
            None::<i64>,
            9u64,
        );
        let o = decode_object(&bincode::serialize(&v1).unwrap()).unwrap();
        assert_eq!((o.changed, o.schedule_tag, o.modified), (9, 9, 0));
        assert_eq!(o.component, "VTODO");
        let now = DavObject {
            modified: 1_700_000_000,
            ..o
        };
        assert_eq!(
            decode_object(&bincode::serialize(&now).unwrap()).unwrap(),
            now
        );
    }

    /// A collection whose time is ahead of the clock (set back since, or written by a
    /// clock that ran fast): later writes record that time, not an earlier one, on the
    /// object and the collection; a collection record from before the time reads 0.
    #[test]
    fn times_never_go_backwards() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        crate::storage::directory::set_fast_password_hashing_for_tests(true);
        store.add_domain("example.com").unwrap();
        store.add_account("bob@example.com", "pw", false).unwrap();
        let cal = store
            .dav_collections("bob@example.com")
            .unwrap()
            .into_iter()
            .find(|c| c.name == "calendar")
            .unwrap();
        let ahead = store_now() + 86_400;
        store
            .dav_transact(|t| {
                let mut c = tx_collection(t, cal.id)?.unwrap();
                c.modified = ahead;
                put(&t[COLLECTIONS], &cal.id.to_be_bytes(), &c)
            })
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
        assert_eq!(store.dav_load(cal.id).unwrap().modified, ahead);
        store.dav_delete(cal.id, "a.ics", &Condition::Any).unwrap();
        assert_eq!(store.dav_load(cal.id).unwrap().modified, ahead);

        #[derive(Serialize)]
        struct V1<'a> {
            id: u64,
            owner: &'a str,
            name: &'a str,
            kind: CollectionKind,
            props: CollectionProps,
            components: Vec<String>,
            sync: u64,
            expired_below: u64,
            tombstones: u64,
        }
        let old = V1 {
            id: 9,
            owner: "bob@example.com",
            name: "old",
            kind: CollectionKind::Calendar,
            props: CollectionProps::default(),
            components: vec!["VEVENT".into()],
            sync: 4,
            expired_below: 1,
            tombstones: 2,
        };
        let c = decode_collection(&bincode::serialize(&old).unwrap()).unwrap();
        assert_eq!((c.id, c.sync, c.tombstones, c.modified), (9, 4, 2, 0));
        assert_eq!(c.name, "old");
    }
}
