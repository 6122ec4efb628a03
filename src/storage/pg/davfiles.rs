//! The WebDAV file store (`storage::davfiles`) in the `dav_files` table, see
//! `migrations/0006_dav_files.sql`. Every write locks the account's row first (`FOR
//! UPDATE`), so the operations of one account are serialised on every node, and a tree
//! read inside the transaction is the tree the transaction changes. Blob references
//! (`blobrefs`) and the account's usage (`quota`) change in the same transaction.

use postgres::Row;

use super::blobrefs::RefDelta;
use super::pool::{pg_error, Db, Tx};
use super::quota::tx_add_usage;
use super::PgStore;
use crate::storage::davfiles::*;
use crate::storage::directory::normalize_address;
use crate::storage::{BlobId, StorageError};

const COLUMNS: &str = "account, path, blob, size, content_type, created, modified, version, props";

/// The rows of `path` and below, within a query's WHERE (`$1` account, `$2` path).
const SUBTREE: &str = "account = $1 AND (path = $2 OR starts_with(path, $2 || '/'))";

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn uint(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn node_of(row: &Row) -> Result<(String, DavNode), StorageError> {
    let blob: Option<Vec<u8>> = row.get("blob");
    let body = match blob {
        None => None,
        Some(b) => Some(DavBody {
            blob: BlobId(
                b.as_slice()
                    .try_into()
                    .map_err(|_| StorageError::Encoding("dav_files blob".into()))?,
            ),
            size: uint(row.get("size")),
            content_type: row.get("content_type"),
        }),
    };
    let props: String = row.get("props");
    let props = serde_json::from_str(&props)
        .map_err(|e| StorageError::Encoding(format!("dav_files props: {e}")))?;
    Ok((
        row.get("account"),
        DavNode {
            path: row.get("path"),
            body,
            created: uint(row.get("created")),
            modified: uint(row.get("modified")),
            version: uint(row.get("version")),
            props,
        },
    ))
}

fn insert(tx: &mut Tx<'_>, account: &str, n: &DavNode) -> Result<(), StorageError> {
    let props = serde_json::to_string(&n.props)
        .map_err(|e| StorageError::Encoding(format!("dav_files props: {e}")))?;
    let blob = n.body.as_ref().map(|b| b.blob.0.to_vec());
    let size = int(n.body.as_ref().map_or(0, |b| b.size));
    let ctype = n
        .body
        .as_ref()
        .map_or(String::new(), |b| b.content_type.clone());
    tx.execute(
        "INSERT INTO dav_files (account, path, blob, size, content_type, created, modified, version, props)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (account, path) DO UPDATE SET blob = EXCLUDED.blob, size = EXCLUDED.size,
             content_type = EXCLUDED.content_type, created = EXCLUDED.created,
             modified = EXCLUDED.modified, version = EXCLUDED.version, props = EXCLUDED.props",
        &[&account, &n.path, &blob, &size, &ctype, &int(n.created), &int(n.modified), &int(n.version), &props],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Locks the account's row (NotFound without one): the per-account writer lock.
fn lock_account(tx: &mut Tx<'_>, account: &str) -> Result<(), StorageError> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM accounts WHERE address = $1 FOR UPDATE",
            &[&account],
        )
        .map_err(pg_error)?;
    match found {
        Some(_) => Ok(()),
        None => Err(StorageError::NotFound(format!("account {account}"))),
    }
}

fn get(c: &mut impl Db, account: &str, path: &str) -> Result<Option<DavNode>, StorageError> {
    c.query_opt(
        &format!("SELECT {COLUMNS} FROM dav_files WHERE account = $1 AND path = $2"),
        &[&account, &path],
    )
    .map_err(pg_error)?
    .map(|r| node_of(&r).map(|(_, n)| n))
    .transpose()
}

fn subtree(c: &mut impl Db, account: &str, path: &str) -> Result<Vec<DavNode>, StorageError> {
    c.query(
        &format!("SELECT {COLUMNS} FROM dav_files WHERE {SUBTREE} ORDER BY path"),
        &[&account, &path],
    )
    .map_err(pg_error)?
    .iter()
    .map(|r| node_of(r).map(|(_, n)| n))
    .collect()
}

fn parent_is_collection(tx: &mut Tx<'_>, account: &str, path: &str) -> Result<(), StorageError> {
    let Some(parent) = parent(path) else {
        return Err(StorageError::Conflict("the root has no parent".into()));
    };
    if parent.is_empty() {
        return Ok(());
    }
    match get(tx, account, parent)? {
        Some(n) if n.is_collection() => Ok(()),
        _ => Err(StorageError::Conflict(format!(
            "{parent} is not a collection"
        ))),
    }
}

/// Deletes `nodes`' rows, releasing their blobs; returns the bytes they held.
fn remove(
    tx: &mut Tx<'_>,
    account: &str,
    nodes: &[DavNode],
    refs: &mut RefDelta,
) -> Result<u64, StorageError> {
    let mut bytes = 0u64;
    for n in nodes {
        tx.execute(
            "DELETE FROM dav_files WHERE account = $1 AND path = $2",
            &[&account, &n.path],
        )
        .map_err(pg_error)?;
        if let Some(b) = &n.body {
            refs.release(b.blob);
            bytes = bytes.saturating_add(b.size);
        }
    }
    Ok(bytes)
}

/// Called when an account is deleted, in its transaction: releases its files' blobs (the
/// rows go with the account's row).
pub(crate) fn drop_account_files(
    tx: &mut Tx<'_>,
    account: &str,
    refs: &mut RefDelta,
) -> Result<(), StorageError> {
    for n in subtree(tx, account, "")? {
        if let Some(b) = n.body {
            refs.release(b.blob);
        }
    }
    Ok(())
}

impl PgStore {
    fn dav_write<T: Send>(
        &self,
        account: &str,
        f: impl Fn(&mut Tx<'_>, &mut RefDelta) -> Result<T, StorageError> + Send + Sync,
    ) -> Result<T, StorageError> {
        let (value, zeroed) = self.pool().tx(|tx| {
            lock_account(tx, account)?;
            let mut refs = RefDelta::default();
            let value = f(tx, &mut refs)?;
            let zeroed = refs.apply(tx, self.blobs())?;
            Ok((value, zeroed))
        })?;
        self.collect_after_commit(&zeroed);
        Ok(value)
    }
}

fn signed(n: u64) -> i64 {
    int(n)
}

impl DavFiles for PgStore {
    fn dav_get(&self, account: &str, path: &str) -> Result<Option<DavNode>, StorageError> {
        let account = normalize_address(account)?;
        self.pool().with(|c| {
            let stored = get(c, &account, path)?;
            if stored.is_none() && path.is_empty() {
                let exists = c
                    .query_opt("SELECT 1 FROM accounts WHERE address = $1", &[&account])
                    .map_err(pg_error)?
                    .is_some();
                return Ok(exists.then(DavNode::root));
            }
            Ok(stored)
        })
    }

    fn dav_children(&self, account: &str, path: &str) -> Result<Vec<DavNode>, StorageError> {
        let account = normalize_address(account)?;
        self.pool().with(|c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM dav_files WHERE account = $1
                     AND starts_with(path, $2 || '/')
                     AND strpos(substr(path, length($2) + 2), '/') = 0 ORDER BY path"
                ),
                &[&account, &path],
            )
            .map_err(pg_error)?
            .iter()
            .map(|r| node_of(r).map(|(_, n)| n))
            .collect()
        })
    }

    fn dav_mkcol(&self, account: &str, path: &str, now: u64) -> Result<DavNode, StorageError> {
        let account = normalize_address(account)?;
        let node = DavNode {
            path: path.to_string(),
            body: None,
            created: now,
            modified: now,
            version: 1,
            props: Vec::new(),
        };
        self.dav_write(&account, |tx, _| {
            if path.is_empty() || get(tx, &account, path)?.is_some() {
                return Err(StorageError::Exists(path.to_string()));
            }
            parent_is_collection(tx, &account, path)?;
            insert(tx, &account, &node)
        })?;
        Ok(node)
    }

    fn dav_put(
        &self,
        account: &str,
        path: &str,
        body: &PutBody,
        now: u64,
    ) -> Result<(bool, DavNode), StorageError> {
        let account = normalize_address(account)?;
        self.dav_write(&account, |tx, refs| {
            parent_is_collection(tx, &account, path)?;
            let old = get(tx, &account, path)?;
            let mut node = match &old {
                Some(o) if o.is_collection() => {
                    return Err(StorageError::Conflict(format!("{path} is a collection")))
                }
                Some(o) => o.clone(),
                None => DavNode {
                    path: path.to_string(),
                    body: None,
                    created: now,
                    modified: now,
                    version: 0,
                    props: Vec::new(),
                },
            };
            refs.add(body.blob);
            let old_size = node.body.as_ref().map_or(0, |b| b.size);
            if let Some(b) = &node.body {
                refs.release(b.blob);
            }
            tx_add_usage(tx, &account, signed(body.size) - signed(old_size), 0)?;
            node.body = Some(DavBody {
                blob: body.blob,
                size: body.size,
                content_type: body.content_type.clone(),
            });
            node.modified = now;
            node.version += 1;
            insert(tx, &account, &node)?;
            Ok((old.is_none(), node))
        })
    }

    fn dav_delete(&self, account: &str, path: &str) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        self.dav_write(&account, |tx, refs| {
            let nodes = subtree(tx, &account, path)?;
            if nodes.is_empty() {
                return Err(StorageError::NotFound(path.to_string()));
            }
            let bytes = remove(tx, &account, &nodes, refs)?;
            tx_add_usage(tx, &account, -signed(bytes), 0)
        })
    }

    fn dav_copy(
        &self,
        account: &str,
        from: &str,
        to: &str,
        deep: bool,
        overwrite: bool,
        remove_source: bool,
        now: u64,
    ) -> Result<bool, StorageError> {
        let account = normalize_address(account)?;
        if is_within(to, from) || to.is_empty() {
            return Err(StorageError::Invalid(
                "a node cannot be copied into itself".into(),
            ));
        }
        self.dav_write(&account, |tx, refs| {
            let mut source = subtree(tx, &account, from)?;
            if source.first().map(|n| n.path.as_str()) != Some(from) {
                return Err(StorageError::NotFound(from.to_string()));
            }
            if !deep && !remove_source {
                source.truncate(1);
            }
            let target = subtree(tx, &account, to)?;
            if !target.is_empty() && !overwrite {
                return Err(StorageError::Exists(to.to_string()));
            }
            parent_is_collection(tx, &account, to)?;
            let mut delta = -signed(remove(tx, &account, &target, refs)?);
            if remove_source {
                delta -= signed(remove(tx, &account, &source, refs)?);
            }
            for n in &source {
                let mut c = n.clone();
                c.path = format!("{to}{}", &n.path[from.len()..]);
                if !remove_source {
                    c.created = now;
                    c.modified = now;
                    c.version = 1;
                }
                if let Some(b) = &c.body {
                    refs.add(b.blob);
                    delta += signed(b.size);
                }
                insert(tx, &account, &c)?;
            }
            tx_add_usage(tx, &account, delta, 0)?;
            Ok(target.is_empty())
        })
    }

    fn dav_patch(
        &self,
        account: &str,
        path: &str,
        changes: &[(String, String, Option<String>)],
    ) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        self.dav_write(&account, |tx, _| {
            let mut node = match get(tx, &account, path)? {
                Some(n) => n,
                None if path.is_empty() => DavNode::root(),
                None => return Err(StorageError::NotFound(path.to_string())),
            };
            for (ns, local, value) in changes {
                node.set_prop(ns, local, value.clone());
            }
            insert(tx, &account, &node)
        })
    }

    fn dav_usage(&self, account: &str) -> Result<u64, StorageError> {
        let account = normalize_address(account)?;
        self.pool().with(|c| {
            let row = c
                .query_one(
                    "SELECT COALESCE(SUM(size), 0)::bigint FROM dav_files WHERE account = $1",
                    &[&account],
                )
                .map_err(pg_error)?;
            Ok(uint(row.get(0)))
        })
    }

    fn dav_all(&self) -> Result<Vec<(String, DavNode)>, StorageError> {
        self.pool().with(|c| {
            c.query(&format!("SELECT {COLUMNS} FROM dav_files ORDER BY account COLLATE \"C\", path COLLATE \"C\""), &[])
                .map_err(pg_error)?
                .iter()
                .map(node_of)
                .collect()
        })
    }

    fn dav_import(&self, account: &str, node: &DavNode) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        self.dav_write(&account, |tx, _| insert(tx, &account, node))
    }
}

impl DavFileStore for PgStore {
    fn dav_files(&self) -> Option<&dyn DavFiles> {
        Some(self)
    }
}
