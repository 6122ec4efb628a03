//! The WebDAV file store (`storage::davfiles`) in `v1/dav_files`: key
//! `account \0 path` (path `""` for the root's own record, which exists only once it has
//! dead properties; `/a/b` below it), value a bincode [`DavNode`]. A collection's
//! members are a prefix scan of `account \0 path/`, filtered to one more level.
//!
//! Tree operations scan under the admin lock (which every structural write takes) and
//! then change every record, the blob references (`v1/blobrefs`) and the account's
//! usage (`v1/quota`) in one transaction.

use super::blobrefs::RefDelta;
use super::keys::{self, tx_get, tx_put, TreeIx};
use super::quota::tx_add_usage;
use super::{abort, SledStore, StorageError, Tx, TxResult};
use crate::storage::davfiles::*;
use crate::storage::directory::normalize_address;

fn key(account: &str, path: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + 1 + path.len());
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k.extend_from_slice(path.as_bytes());
    k
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Inside a transaction: Conflict unless `path`'s parent is a collection.
fn tx_parent_is_collection(tx: &Tx, account: &str, path: &str) -> TxResult<()> {
    let Some(parent) = parent(path) else {
        return abort(StorageError::Conflict("the root has no parent".into()));
    };
    if parent.is_empty() {
        return Ok(());
    }
    let node: Option<DavNode> =
        tx_get(tx.tree(TreeIx::DavFiles), &key(account, parent), "dav node")?;
    match node {
        Some(n) if n.is_collection() => Ok(()),
        _ => abort(StorageError::Conflict(format!(
            "{parent} is not a collection"
        ))),
    }
}

fn tx_account_exists(tx: &Tx, account: &str) -> TxResult<()> {
    if tx.tree(TreeIx::Accounts).get(account.as_bytes())?.is_none() {
        return abort(StorageError::NotFound(format!("account {account}")));
    }
    Ok(())
}

impl SledStore {
    /// `path` and every stored node below it.
    pub(crate) fn dav_subtree(
        &self,
        account: &str,
        path: &str,
    ) -> Result<Vec<DavNode>, StorageError> {
        let tree = self.tree(TreeIx::DavFiles);
        let mut out = Vec::new();
        if let Some(n) = keys::get::<DavNode>(tree, &key(account, path), "dav node")? {
            out.push(n);
        }
        for entry in tree.scan_prefix(key(account, &format!("{path}/"))) {
            let (_, v) = entry?;
            out.push(keys::decode(&v, "dav node")?);
        }
        Ok(out)
    }

    /// Removes `nodes` in `tx`, releasing their blobs; returns the bytes they held.
    fn tx_remove_nodes(
        tx: &Tx,
        account: &str,
        nodes: &[DavNode],
        refs: &mut RefDelta,
    ) -> TxResult<u64> {
        let mut bytes = 0u64;
        for n in nodes {
            tx.tree(TreeIx::DavFiles).remove(key(account, &n.path))?;
            if let Some(b) = &n.body {
                refs.release(b.blob);
                bytes = bytes.saturating_add(b.size);
            }
        }
        Ok(bytes)
    }

    fn dav_finish(&self, refs: &RefDelta, tx: &Tx) -> TxResult<Vec<crate::storage::BlobId>> {
        refs.apply(tx, self.blobs())
    }
}

impl DavFiles for SledStore {
    fn dav_get(&self, account: &str, path: &str) -> Result<Option<DavNode>, StorageError> {
        let account = normalize_address(account)?;
        let stored = keys::get(
            self.tree(TreeIx::DavFiles),
            &key(&account, path),
            "dav node",
        )?;
        if stored.is_none() && path.is_empty() && self.get_account(&account)?.is_some() {
            return Ok(Some(DavNode::root()));
        }
        Ok(stored)
    }

    fn dav_children(&self, account: &str, path: &str) -> Result<Vec<DavNode>, StorageError> {
        let account = normalize_address(account)?;
        let mut out = Vec::new();
        for entry in self
            .tree(TreeIx::DavFiles)
            .scan_prefix(key(&account, &format!("{path}/")))
        {
            let (_, v) = entry?;
            let node: DavNode = keys::decode(&v, "dav node")?;
            if parent(&node.path) == Some(path) {
                out.push(node);
            }
        }
        Ok(out)
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
        let _admin = self.admin_lock();
        self.transact(|tx| {
            tx_account_exists(tx, &account)?;
            let k = key(&account, path);
            if path.is_empty() || tx.tree(TreeIx::DavFiles).get(&k)?.is_some() {
                return abort(StorageError::Exists(path.to_string()));
            }
            tx_parent_is_collection(tx, &account, path)?;
            tx_put(tx.tree(TreeIx::DavFiles), &k, &node)
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
        let _admin = self.admin_lock();
        let (created, node, zeroed) = self.transact(|tx| {
            tx_account_exists(tx, &account)?;
            tx_parent_is_collection(tx, &account, path)?;
            let k = key(&account, path);
            let old: Option<DavNode> = tx_get(tx.tree(TreeIx::DavFiles), &k, "dav node")?;
            let mut refs = RefDelta::default();
            refs.add(body.blob);
            let mut node = match &old {
                Some(o) if o.is_collection() => {
                    return abort(StorageError::Conflict(format!("{path} is a collection")))
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
            tx_put(tx.tree(TreeIx::DavFiles), &k, &node)?;
            let zeroed = self.dav_finish(&refs, tx)?;
            Ok((old.is_none(), node, zeroed))
        })?;
        self.collect_after_commit(&zeroed);
        Ok((created, node))
    }

    fn dav_delete(&self, account: &str, path: &str) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        let nodes = self.dav_subtree(&account, path)?;
        if nodes.is_empty() {
            return Err(StorageError::NotFound(path.to_string()));
        }
        let zeroed = self.transact(|tx| {
            let mut refs = RefDelta::default();
            let bytes = Self::tx_remove_nodes(tx, &account, &nodes, &mut refs)?;
            tx_add_usage(tx, &account, -signed(bytes), 0)?;
            self.dav_finish(&refs, tx)
        })?;
        self.collect_after_commit(&zeroed);
        Ok(())
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
        let _admin = self.admin_lock();
        let mut source = self.dav_subtree(&account, from)?;
        if source.first().map(|n| n.path.as_str()) != Some(from) {
            return Err(StorageError::NotFound(from.to_string()));
        }
        if !deep && !remove_source {
            source.truncate(1);
        }
        let target = self.dav_subtree(&account, to)?;
        if !target.is_empty() && !overwrite {
            return Err(StorageError::Exists(to.to_string()));
        }
        let copies: Vec<DavNode> = source
            .iter()
            .map(|n| {
                let mut c = n.clone();
                c.path = format!("{to}{}", &n.path[from.len()..]);
                if !remove_source {
                    c.created = now;
                    c.modified = now;
                    c.version = 1;
                }
                c
            })
            .collect();
        let zeroed = self.transact(|tx| {
            tx_parent_is_collection(tx, &account, to)?;
            let mut refs = RefDelta::default();
            let mut delta = -signed(Self::tx_remove_nodes(tx, &account, &target, &mut refs)?);
            if remove_source {
                delta -= signed(Self::tx_remove_nodes(tx, &account, &source, &mut refs)?);
            }
            for c in &copies {
                if let Some(b) = &c.body {
                    refs.add(b.blob);
                    delta += signed(b.size);
                }
                tx_put(tx.tree(TreeIx::DavFiles), &key(&account, &c.path), c)?;
            }
            tx_add_usage(tx, &account, delta, 0)?;
            self.dav_finish(&refs, tx)
        })?;
        self.collect_after_commit(&zeroed);
        Ok(target.is_empty())
    }

    fn dav_patch(
        &self,
        account: &str,
        path: &str,
        changes: &[(String, String, Option<String>)],
    ) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            tx_account_exists(tx, &account)?;
            let k = key(&account, path);
            let stored: Option<DavNode> = tx_get(tx.tree(TreeIx::DavFiles), &k, "dav node")?;
            let mut node = match stored {
                Some(n) => n,
                None if path.is_empty() => DavNode::root(),
                None => return abort(StorageError::NotFound(path.to_string())),
            };
            for (ns, local, value) in changes {
                node.set_prop(ns, local, value.clone());
            }
            tx_put(tx.tree(TreeIx::DavFiles), &k, &node)
        })
    }

    fn dav_usage(&self, account: &str) -> Result<u64, StorageError> {
        let account = normalize_address(account)?;
        let mut bytes = 0u64;
        for n in self.dav_subtree(&account, "")? {
            bytes = bytes.saturating_add(n.body.map_or(0, |b| b.size));
        }
        Ok(bytes)
    }

    fn dav_all(&self) -> Result<Vec<(String, DavNode)>, StorageError> {
        let mut out = Vec::new();
        for entry in self.tree(TreeIx::DavFiles).iter() {
            let (k, v) = entry?;
            let end = k.iter().position(|b| *b == 0).unwrap_or(k.len());
            let account = String::from_utf8_lossy(&k[..end]).into_owned();
            out.push((account, keys::decode(&v, "dav node")?));
        }
        Ok(out)
    }

    fn dav_import(&self, account: &str, node: &DavNode) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        let _admin = self.admin_lock();
        self.transact(|tx| {
            tx_account_exists(tx, &account)?;
            tx_put(tx.tree(TreeIx::DavFiles), &key(&account, &node.path), node)
        })
    }
}

impl DavFileStore for SledStore {
    fn dav_files(&self) -> Option<&dyn DavFiles> {
        Some(self)
    }
}

/// Called when an account is deleted, inside its transaction, with its nodes (scanned
/// before it under the admin lock): the records go, their blobs are released.
pub(crate) fn tx_drop_dav(
    tx: &Tx,
    account: &str,
    nodes: &[DavNode],
    refs: &mut RefDelta,
) -> TxResult<()> {
    SledStore::tx_remove_nodes(tx, account, nodes, refs).map(|_| ())
}
