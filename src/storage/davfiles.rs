//! The WebDAV file store (RFC 4918 resources): per account, a tree of collections and
//! resources under `/dav/files/<address>/`, with dead properties, strong ETags, content
//! types and times. Bodies are content-addressed blobs (`storage::blobs`) counted in
//! `BlobRefs` like message bodies: a resource's record and its blob's reference change in
//! one transaction, and the blob is durable before the record that holds it is written.
//! Resources count against the account's storage quota (RFC 4331; over it is
//! `StorageError::OverQuota`, 507 on the wire).
//!
//! Paths are the decoded path below the account's root, `""` for the root itself and
//! `/a/b` below it (no trailing slash; names never contain `/`). The root exists for
//! every account and is not stored.
//!
//! Implementation notes:
//!
//! - Tree operations (MKCOL, PUT, DELETE, COPY, MOVE) are all-or-nothing: a backend runs
//!   each in one transaction, so a COPY of a collection is never seen half-made.
//! - The [`DavFiles`] trait is reached through [`DavFileStore::dav_files`]: a backend
//!   without a file store answers `None` (and DAV answers 501 there).

use serde::{Deserialize, Serialize};

use super::{BlobId, StorageError};

/// A dead property (RFC 4918 §4.2): name and value as XML content (`protocols::webdav`
/// writes it self-contained, namespaces declared where used).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadProp {
    pub ns: String,
    pub local: String,
    pub value: String,
}

/// A resource's content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DavBody {
    pub blob: BlobId,
    pub size: u64,
    pub content_type: String,
}

/// A collection or resource of the file store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DavNode {
    /// `""` (the root) or `/a/b`.
    pub path: String,
    /// `None` for a collection.
    pub body: Option<DavBody>,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub modified: u64,
    /// Changes on every write of the body: with the blob id it makes the strong ETag
    /// (two resources with the same content may share a blob, not a tag history).
    pub version: u64,
    /// Sorted by (namespace, local name).
    pub props: Vec<DeadProp>,
}

impl DavNode {
    pub fn is_collection(&self) -> bool {
        self.body.is_none()
    }

    /// The strong entity tag (RFC 9110 §8.8.3), quoted; `None` for a collection.
    pub fn etag(&self) -> Option<String> {
        self.body
            .as_ref()
            .map(|b| format!("\"{}-{}\"", &b.blob.to_string()[..16], self.version))
    }

    /// The synthetic root collection of an account.
    pub fn root() -> DavNode {
        DavNode {
            path: String::new(),
            body: None,
            created: 0,
            modified: 0,
            version: 0,
            props: Vec::new(),
        }
    }

    /// Sets (`Some`) or removes (`None`) a dead property, keeping the list sorted.
    pub fn set_prop(&mut self, ns: &str, local: &str, value: Option<String>) {
        let pos = self
            .props
            .binary_search_by(|p| (p.ns.as_str(), p.local.as_str()).cmp(&(ns, local)));
        match (pos, value) {
            (Ok(i), Some(v)) => self.props[i].value = v,
            (Ok(i), None) => {
                self.props.remove(i);
            }
            (Err(i), Some(value)) => self.props.insert(
                i,
                DeadProp {
                    ns: ns.to_string(),
                    local: local.to_string(),
                    value,
                },
            ),
            (Err(_), None) => {}
        }
    }
}

/// The parent of a path (`None` for the root).
pub fn parent(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// Whether `path` is `ancestor` or below it.
pub fn is_within(path: &str, ancestor: &str) -> bool {
    path == ancestor
        || (path.len() > ancestor.len()
            && path.starts_with(ancestor)
            && path.as_bytes()[ancestor.len()] == b'/')
}

/// What a PUT stores: a body already written durably to the blob store and pinned.
#[derive(Clone, Debug)]
pub struct PutBody {
    pub blob: BlobId,
    pub size: u64,
    pub content_type: String,
}

/// The file store of every account. Every write is durable at the next commit round
/// (`Durability::commit`), which the HTTP layer waits for before it answers.
pub trait DavFiles: Send + Sync {
    /// The node at `path` (the root always exists for an existing account).
    fn dav_get(&self, account: &str, path: &str) -> Result<Option<DavNode>, StorageError>;

    /// The direct members of a collection, by path.
    fn dav_children(&self, account: &str, path: &str) -> Result<Vec<DavNode>, StorageError>;

    /// MKCOL: Exists when something is at `path`, Conflict when the parent is not a
    /// collection.
    fn dav_mkcol(&self, account: &str, path: &str, now: u64) -> Result<DavNode, StorageError>;

    /// PUT: creates or replaces the resource at `path` (true when created). Conflict when
    /// the parent is not a collection or `path` is one; OverQuota when the account's
    /// storage limit would be passed.
    fn dav_put(
        &self,
        account: &str,
        path: &str,
        body: &PutBody,
        now: u64,
    ) -> Result<(bool, DavNode), StorageError>;

    /// DELETE: the node and everything below it. NotFound when nothing is there.
    fn dav_delete(&self, account: &str, path: &str) -> Result<(), StorageError>;

    /// COPY (`deep`: Depth infinity; otherwise a collection is copied without members)
    /// or MOVE (`remove_source`) from `from` to `to` within the account. Whatever is at
    /// `to` is replaced when `overwrite`, else Exists. Conflict when the parent of `to`
    /// is not a collection. Returns true when `to` was created (nothing was there).
    #[allow(clippy::too_many_arguments)]
    fn dav_copy(
        &self,
        account: &str,
        from: &str,
        to: &str,
        deep: bool,
        overwrite: bool,
        remove_source: bool,
        now: u64,
    ) -> Result<bool, StorageError>;

    /// PROPPATCH: sets (`Some`) or removes (`None`) dead properties, all or none.
    fn dav_patch(
        &self,
        account: &str,
        path: &str,
        changes: &[(String, String, Option<String>)],
    ) -> Result<(), StorageError>;

    /// Bytes the account's resources hold.
    fn dav_usage(&self, account: &str) -> Result<u64, StorageError>;

    /// Every stored node of every account, by account then path (dump, check, migrate).
    fn dav_all(&self) -> Result<Vec<(String, DavNode)>, StorageError>;

    /// Writes a node as it is, replacing any at its path (`storage migrate`, which copies
    /// blob reference counts and quota usage verbatim in their own phases, so neither is
    /// touched here). NotFound without the account.
    fn dav_import(&self, account: &str, node: &DavNode) -> Result<(), StorageError>;
}

/// How a backend offers its file store (part of `traits::Shared`).
pub trait DavFileStore: Send + Sync {
    /// The file store, or `None` on a backend that has none yet.
    fn dav_files(&self) -> Option<&dyn DavFiles> {
        None
    }
}
