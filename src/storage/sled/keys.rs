//! Tree names, key encodings and the value codec (see the table in the module above).

use serde::de::DeserializeOwned;
use serde::Serialize;
use sled::transaction::TransactionalTree;

use super::{abort, StorageError, TxResult};
use crate::storage::queue::QueueName;

/// Unversioned tree holding the schema version and counters.
pub(crate) const META_TREE: &str = "meta";
pub(crate) const SCHEMA_KEY: &[u8] = b"schema";
pub(crate) const UIDVALIDITY_KEY: &[u8] = b"uidvalidity";

/// The trees every transaction spans.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TreeIx {
    Meta,
    Domains,
    Accounts,
    Aliases,
    Folders,
    FolderNames,
    Messages,
    Expunged,
    BlobRefs,
    FolderExt,
    Quota,
    Acl,
    AclIndex,
    Subscriptions,
    Dkim,
    FetchSources,
    FetchSeen,
    FetchStatus,
    FetchDedup,
    Metadata,
    UrlAuth,
    SenderRights,
    Totp,
    ApiKeys,
    Devices,
    DavFiles,
    /// The queues' domain index (`storage::queue_index`): queue, domain, 0, id.
    QueueDomains,
    Queue(QueueName),
}

impl TreeIx {
    const FIXED: [TreeIx; 27] = [
        TreeIx::Meta,
        TreeIx::Domains,
        TreeIx::Accounts,
        TreeIx::Aliases,
        TreeIx::Folders,
        TreeIx::FolderNames,
        TreeIx::Messages,
        TreeIx::Expunged,
        TreeIx::BlobRefs,
        TreeIx::FolderExt,
        TreeIx::Quota,
        TreeIx::Acl,
        TreeIx::AclIndex,
        TreeIx::Subscriptions,
        TreeIx::Dkim,
        TreeIx::FetchSources,
        TreeIx::FetchSeen,
        TreeIx::FetchStatus,
        TreeIx::FetchDedup,
        TreeIx::Metadata,
        TreeIx::UrlAuth,
        TreeIx::SenderRights,
        TreeIx::Totp,
        TreeIx::ApiKeys,
        TreeIx::Devices,
        TreeIx::DavFiles,
        TreeIx::QueueDomains,
    ];
    pub(crate) const COUNT: usize = Self::FIXED.len() + QueueName::ALL.len();

    /// Every tree, in index order.
    pub(crate) fn all() -> impl Iterator<Item = TreeIx> {
        Self::FIXED
            .into_iter()
            .chain(QueueName::ALL.into_iter().map(TreeIx::Queue))
    }

    pub(crate) fn index(self) -> usize {
        match self {
            TreeIx::Meta => 0,
            TreeIx::Domains => 1,
            TreeIx::Accounts => 2,
            TreeIx::Aliases => 3,
            TreeIx::Folders => 4,
            TreeIx::FolderNames => 5,
            TreeIx::Messages => 6,
            TreeIx::Expunged => 7,
            TreeIx::BlobRefs => 8,
            TreeIx::FolderExt => 9,
            TreeIx::Quota => 10,
            TreeIx::Acl => 11,
            TreeIx::AclIndex => 12,
            TreeIx::Subscriptions => 13,
            TreeIx::Dkim => 14,
            TreeIx::FetchSources => 15,
            TreeIx::FetchSeen => 16,
            TreeIx::FetchStatus => 17,
            TreeIx::FetchDedup => 18,
            TreeIx::Metadata => 19,
            TreeIx::UrlAuth => 20,
            TreeIx::SenderRights => 21,
            TreeIx::Totp => 22,
            TreeIx::ApiKeys => 23,
            TreeIx::Devices => 24,
            TreeIx::DavFiles => 25,
            TreeIx::QueueDomains => 26,
            TreeIx::Queue(q) => Self::FIXED.len() + q.index(),
        }
    }

    pub(crate) fn tree_name(self) -> String {
        match self {
            TreeIx::Meta => META_TREE.to_string(),
            TreeIx::Domains => "v1/domains".into(),
            TreeIx::Accounts => "v1/accounts".into(),
            TreeIx::Aliases => "v1/aliases".into(),
            TreeIx::Folders => "v1/folders".into(),
            TreeIx::FolderNames => "v1/folder_names".into(),
            TreeIx::Messages => "v1/messages".into(),
            TreeIx::Expunged => "v1/expunged".into(),
            TreeIx::BlobRefs => "v1/blobrefs".into(),
            TreeIx::FolderExt => "v1/folder_ext".into(),
            TreeIx::Quota => "v1/quota".into(),
            TreeIx::Acl => "v1/acl".into(),
            TreeIx::AclIndex => "v1/acl_index".into(),
            TreeIx::Subscriptions => "v1/subscriptions".into(),
            TreeIx::Dkim => "v1/dkim".into(),
            TreeIx::FetchSources => "v1/fetch_sources".into(),
            TreeIx::FetchSeen => "v1/fetch_seen".into(),
            TreeIx::FetchStatus => "v1/fetch_status".into(),
            TreeIx::FetchDedup => "v1/fetch_dedup".into(),
            TreeIx::Metadata => "v1/metadata".into(),
            TreeIx::UrlAuth => "v1/urlauth".into(),
            TreeIx::SenderRights => "v1/sender_rights".into(),
            TreeIx::Totp => "v1/totp".into(),
            TreeIx::ApiKeys => "v1/api_keys".into(),
            TreeIx::Devices => "v1/devices".into(),
            TreeIx::DavFiles => "v1/dav_files".into(),
            TreeIx::QueueDomains => "v1/queue_domains".into(),
            TreeIx::Queue(q) => format!("v1/queue/{}", q.as_str()),
        }
    }
}

/// Encode a value for storage.
pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StorageError> {
    bincode::serialize(value).map_err(|e| StorageError::Encoding(e.to_string()))
}

/// Decode a stored value; `what` names it in the error.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, StorageError> {
    bincode::deserialize(bytes).map_err(|e| StorageError::Encoding(format!("{what}: {e}")))
}

pub(crate) fn decode_u32(bytes: &[u8], what: &str) -> Result<u32, StorageError> {
    let arr: [u8; 4] = bytes
        .try_into()
        .map_err(|_| StorageError::Encoding(format!("{what}: expected 4 bytes")))?;
    Ok(u32::from_be_bytes(arr))
}

pub(crate) fn decode_u64(bytes: &[u8], what: &str) -> Result<u64, StorageError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StorageError::Encoding(format!("{what}: expected 8 bytes")))?;
    Ok(u64::from_be_bytes(arr))
}

/// `folder id BE ++ uid BE`: the key of `v1/messages` and `v1/expunged`.
pub(crate) fn message_key(folder: u64, uid: u32) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..8].copy_from_slice(&folder.to_be_bytes());
    k[8..].copy_from_slice(&uid.to_be_bytes());
    k
}

/// The uid part of a `message_key`.
pub(crate) fn uid_of_message_key(key: &[u8]) -> Result<u32, StorageError> {
    match key.get(8..) {
        Some(tail) => decode_u32(tail, "message key"),
        None => Err(StorageError::Encoding("message key: too short".into())),
    }
}

/// `account 0x00 name`: the key of `v1/folder_names`. INBOX is stored uppercase.
pub(crate) fn folder_name_key(account: &str, name: &str) -> Vec<u8> {
    let mut k = account_prefix(account);
    k.extend_from_slice(name.as_bytes());
    k
}

/// The prefix of every `folder_name_key` of `account`.
pub(crate) fn account_prefix(account: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + 16);
    k.extend_from_slice(account.as_bytes());
    k.push(0);
    k
}

/// `identifier 0x00 folder id BE`: the key of `v1/acl_index`.
pub(crate) fn acl_index_key(identifier: &str, folder: u64) -> Vec<u8> {
    let mut k = account_prefix(identifier);
    k.extend_from_slice(&folder.to_be_bytes());
    k
}

/// The folder id at the end of an `acl_index_key`.
pub(crate) fn folder_of_acl_index_key(key: &[u8]) -> Result<u64, StorageError> {
    match key.len().checked_sub(8).and_then(|at| key.get(at..)) {
        Some(tail) => decode_u64(tail, "acl index key"),
        None => Err(StorageError::Encoding("acl index key: too short".into())),
    }
}

/// Typed get inside a transaction.
pub(crate) fn tx_get<T: DeserializeOwned>(
    tree: &TransactionalTree,
    key: &[u8],
    what: &str,
) -> TxResult<Option<T>> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => match decode(&v, what) {
            Ok(t) => Ok(Some(t)),
            Err(e) => abort(e),
        },
    }
}

/// Typed insert inside a transaction.
pub(crate) fn tx_put<T: Serialize>(
    tree: &TransactionalTree,
    key: &[u8],
    value: &T,
) -> TxResult<()> {
    match encode(value) {
        Ok(bytes) => {
            tree.insert(key, bytes)?;
            Ok(())
        }
        Err(e) => abort(e),
    }
}

/// Typed get outside transactions.
/// Every entry of a tree keyed by a name (an address, a domain), in key order, the values
/// decoded; `what` names them in errors.
pub(crate) fn list_named<T: DeserializeOwned>(
    tree: &sled::Tree,
    what: &str,
) -> Result<Vec<(String, T)>, StorageError> {
    tree.iter()
        .map(|entry| {
            let (k, v) = entry?;
            let name = String::from_utf8(k.to_vec())
                .map_err(|_| StorageError::Encoding(format!("{what} key is not UTF-8")))?;
            Ok((name, decode(&v, what)?))
        })
        .collect()
}

pub(crate) fn get<T: DeserializeOwned>(
    tree: &sled::Tree,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, StorageError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => decode(&v, what).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;

    #[test]
    fn tree_indexes_are_dense_and_names_unique() {
        let all: Vec<TreeIx> = TreeIx::all().collect();
        assert_eq!(all.len(), TreeIx::COUNT);
        for (i, ix) in all.iter().enumerate() {
            assert_eq!(ix.index(), i);
        }
        let mut names: Vec<String> = all.iter().map(|t| t.tree_name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TreeIx::COUNT);
        assert!(names.contains(&"v1/queue/toarchive".to_string()));
    }

    #[test]
    fn message_keys_sort_by_folder_then_uid() {
        assert!(message_key(1, 300) < message_key(2, 1));
        assert!(message_key(1, 2) < message_key(1, 256));
        assert_eq!(uid_of_message_key(&message_key(9, 77)).unwrap(), 77);
        assert!(uid_of_message_key(&[1, 2]).is_err());
    }

    #[test]
    fn decoding_garbage_is_an_error_not_a_panic() {
        assert!(matches!(
            decode::<Vec<String>>(&[0xff; 3], "x"),
            Err(StorageError::Encoding(_))
        ));
        assert!(decode_u64(&[1, 2, 3], "x").is_err());
    }
}
