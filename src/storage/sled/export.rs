//! Reading out what the storage traits do not give, for `storage migrate` (see
//! `storage::dump`): raw directory records, each folder's name key, \Recent watermark and
//! expunge history, every user's metadata and URLAUTH keys, the reference counts and the
//! counters, the rows of the smaller stores. Reads only, except [`SledStore::export_counters`] (see there).

use super::directory::DomainRecord;
use super::folder_record::{Folder, FolderExt, FolderRecord};
use super::keys::{self, TreeIx, UIDVALIDITY_KEY};
use super::metadata::MetadataRecord;
use super::tlspolicy::MTA_STS_TREE;
use super::urlauth::KeyRecord;
use super::{SledStore, StorageError};
use crate::storage::directory::AccountRecord;
use crate::storage::dump::*;
use crate::storage::traits::{DkimStore, FetchStore, Screening, TlsPolicyStore, WebAuth};
use crate::storage::DeviceStore;
use crate::storage::{BlobId, FolderId, SourceId};

/// The UTF-8 text of a stored key; `what` names it in the error.
fn key_text(bytes: &[u8], what: &str) -> Result<String, StorageError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| StorageError::Encoding(format!("{what} key is not UTF-8")))
}

/// A key `text 0x00 rest` split at its first NUL.
fn split_nul<'a>(key: &'a [u8], what: &str) -> Result<(&'a [u8], &'a [u8]), StorageError> {
    let at = key
        .iter()
        .position(|b| *b == 0)
        .ok_or_else(|| StorageError::Encoding(format!("{what} key has no separator")))?;
    Ok((&key[..at], &key[at + 1..]))
}

/// A metadata record's entries as rows of `folder`.
fn metadata_rows(folder: FolderId, rec: MetadataRecord) -> Vec<MetadataDump> {
    rec.entries
        .into_iter()
        .map(|((owner, name), value)| MetadataDump {
            folder,
            owner,
            name,
            value,
        })
        .collect()
}

impl SledStore {
    /// Domains, accounts (with their hashes), aliases, quotas, sender rights,
    /// subscriptions and the server's metadata.
    pub(crate) fn export_directory(&self) -> Result<DirectoryDump, StorageError> {
        let domains = keys::list_named::<DomainRecord>(self.tree(TreeIx::Domains), "domain")?
            .into_iter()
            .map(|(name, rec)| (name, rec.created))
            .collect();
        let mut accounts = Vec::new();
        for raw in self.tree(TreeIx::Accounts).iter().values() {
            let a = AccountRecord::decode(&raw?)?;
            accounts.push(AccountDump {
                address: a.address,
                hash: a.hash,
                admin: a.admin,
                created: a.created,
                disabled: a.disabled,
            });
        }
        let mut quotas = Vec::new();
        for key in self.tree(TreeIx::Quota).iter().keys() {
            let account = key_text(&key?, "quota")?;
            let quota = self.quota(&account)?;
            quotas.push((account, quota));
        }
        let mut subscriptions = Vec::new();
        for key in self.tree(TreeIx::Subscriptions).iter().keys() {
            let key = key?;
            let (account, name) = split_nul(&key, "subscription")?;
            subscriptions.push((
                key_text(account, "subscription")?,
                key_text(name, "subscription")?,
            ));
        }
        let mut server_metadata = Vec::new();
        for entry in self.tree(TreeIx::Metadata).scan_prefix(0u64.to_be_bytes()) {
            let (_, v) = entry?;
            let rec: MetadataRecord = keys::decode(&v, "server metadata")?;
            server_metadata.extend(metadata_rows(0, rec));
        }
        server_metadata.sort();
        Ok(DirectoryDump {
            domains,
            accounts,
            aliases: self.list_aliases()?,
            quotas,
            sender_rights: crate::storage::SenderRightsStore::list_sender_rights(self)?,
            subscriptions,
            server_metadata,
        })
    }

    /// Every folder (public ones included), by id.
    pub(crate) fn export_folders(&self) -> Result<Vec<FolderDump>, StorageError> {
        let mut out = Vec::new();
        for entry in self.tree(TreeIx::FolderNames).iter() {
            let (k, v) = entry?;
            let (_, name_key) = split_nul(&k, "folder name")?;
            let id = keys::decode_u64(&v, "folder id")?;
            let key = id.to_be_bytes();
            let rec: FolderRecord = keys::get(self.tree(TreeIx::Folders), &key, "folder")?
                .ok_or_else(|| {
                    StorageError::Encoding(format!("folder name {k:?} names missing folder {id}"))
                })?;
            let ext: FolderExt = keys::get(self.tree(TreeIx::FolderExt), &key, "folder counters")?
                .filter(|ext: &FolderExt| ext.in_step_with(&rec))
                .ok_or_else(|| {
                    StorageError::Encoding(format!(
                        "the counters of folder {id} are out of date; open the data directory \
                         once (the server repairs them) and migrate again"
                    ))
                })?;
            let folder = Folder { rec, ext };
            out.push(FolderDump {
                state: folder.state(id),
                name_key: key_text(name_key, "folder name")?,
                recent_from: folder.ext.recent_from,
                keywords: folder.ext.keywords,
                vanished_horizon: folder.ext.vanished_horizon,
            });
        }
        out.sort_by_key(|f| f.state.id);
        Ok(out)
    }

    /// A folder's expunge history, ACL, metadata and URLAUTH keys.
    pub(crate) fn export_folder_extras(&self, id: FolderId) -> Result<FolderExtras, StorageError> {
        let key = id.to_be_bytes();
        let mut expunged = Vec::new();
        for entry in self.tree(TreeIx::Expunged).scan_prefix(key) {
            let (k, v) = entry?;
            expunged.push((
                keys::uid_of_message_key(&k)?,
                keys::decode_u64(&v, "expunge modseq")?,
            ));
        }
        let metadata = keys::get::<MetadataRecord>(self.tree(TreeIx::Metadata), &key, "metadata")?
            .map(|rec| metadata_rows(id, rec))
            .unwrap_or_default();
        let urlauth = keys::get::<KeyRecord>(self.tree(TreeIx::UrlAuth), &key, "urlauth keys")?
            .map(|rec| rec.keys.into_iter().collect())
            .unwrap_or_default();
        Ok(FolderExtras {
            expunged,
            acl: self.get_acl(id)?,
            metadata,
            urlauth,
        })
    }

    /// Every blob reference count, by blob.
    pub(crate) fn export_refcounts(&self) -> Result<Vec<RefCount>, StorageError> {
        self.tree(TreeIx::BlobRefs)
            .iter()
            .map(|entry| {
                let (k, v) = entry?;
                let id: [u8; 32] = k.as_ref().try_into().map_err(|_| {
                    StorageError::Encoding("blob reference key: expected 32 bytes".into())
                })?;
                Ok((BlobId(id), keys::decode_u64(&v, "blob refcount")?))
            })
            .collect()
    }

    /// The last UIDVALIDITY and a value above every folder and queue id handed out. Both
    /// come from sled's id generator, whose current value can only be read by taking the
    /// next one: this burns one id (a gap, which ids may have) and is the export's only
    /// write.
    pub(crate) fn export_counters(&self) -> Result<Counters, StorageError> {
        let meta = self.db().open_tree(keys::META_TREE)?;
        let uidvalidity = match meta.get(UIDVALIDITY_KEY)? {
            Some(v) => keys::decode_u32(&v, "uidvalidity counter")?,
            None => 0,
        };
        // Ids are `generate_id() + 1` (see folders.rs and queue.rs): every one so far is at
        // most this one's value.
        let id_watermark = self.db().generate_id()? + 1;
        Ok(Counters {
            uidvalidity,
            id_watermark,
        })
    }
}

impl SledStore {
    /// The rows of one of the smaller stores (see [`SmallStore`]), in a stable order:
    /// DKIM keys with their private keys (the files under `dkim/`), fetch sources (passwords
    /// sealed with this data directory's key) then their status, seen and duplicate marks,
    /// the MTA-STS cache and TLSRPT counts, the screening state.
    pub(crate) fn export_small(&self, store: SmallStore) -> Result<Vec<SmallRow>, StorageError> {
        let mut rows = Vec::new();
        match store {
            SmallStore::Dkim => {
                let mut domains: Vec<String> = Vec::new();
                for key in self.tree(TreeIx::Dkim).iter().keys() {
                    let key = key?;
                    let domain = key_text(split_nul(&key, "DKIM")?.0, "DKIM")?;
                    if domains.last() != Some(&domain) {
                        domains.push(domain);
                    }
                }
                for domain in domains {
                    for key in DkimStore::dkim_list(self, &domain)? {
                        let private = DkimStore::dkim_private_key(self, &key)?;
                        rows.push(SmallRow::Dkim(key, private));
                    }
                }
            }
            SmallStore::Fetch => {
                let sources = FetchStore::fetch_sources(self)?;
                let ids: Vec<SourceId> = sources.iter().map(|s| s.id).collect();
                rows.extend(sources.into_iter().map(SmallRow::FetchSource));
                for id in ids {
                    let key = id.to_be_bytes();
                    if let Some(status) =
                        keys::get(self.tree(TreeIx::FetchStatus), &key, "fetch status")?
                    {
                        rows.push(SmallRow::FetchStatus(id, status));
                    }
                    for entry in self.tree(TreeIx::FetchSeen).scan_prefix(key) {
                        let (k, v) = entry?;
                        let mark = key_text(&k[key.len()..], "fetch seen")?;
                        rows.push(SmallRow::FetchSeen(id, mark, time_of(&v, "fetch seen")?));
                    }
                    for entry in self.tree(TreeIx::FetchDedup).scan_prefix(key) {
                        let (k, v) = entry?;
                        let (recipient, message_id) = split_nul(&k[key.len()..], "fetch dedup")?;
                        rows.push(SmallRow::FetchDedup(
                            id,
                            key_text(recipient, "fetch dedup")?,
                            key_text(message_id, "fetch dedup")?,
                            time_of(&v, "fetch dedup")?,
                        ));
                    }
                }
            }
            SmallStore::TlsPolicy => {
                for entry in self.db().open_tree(MTA_STS_TREE)?.iter() {
                    let (k, v) = entry?;
                    rows.push(SmallRow::MtaSts(
                        key_text(&k, "MTA-STS")?,
                        keys::decode(&v, "MTA-STS policy")?,
                    ));
                }
                for (day, domain, counts) in TlsPolicyStore::tlsrpt_list(self)? {
                    rows.push(SmallRow::TlsRpt(day, domain, counts));
                }
            }
            SmallStore::Screening => {
                let s = Screening::screen_load(self)?;
                rows.extend(
                    s.addresses
                        .into_iter()
                        .map(|(ip, r)| SmallRow::ScreenAddress(ip, r)),
                );
                rows.extend(
                    s.accounts
                        .into_iter()
                        .map(|(a, t)| SmallRow::ScreenAccount(a, t)),
                );
                rows.extend(
                    s.allow
                        .into_iter()
                        .map(|n| SmallRow::ScreenRule("allow", n)),
                );
                rows.extend(s.deny.into_iter().map(|n| SmallRow::ScreenRule("deny", n)));
            }
            SmallStore::Dav => rows.extend(self.dav_export()?),
            SmallStore::WebAuth => {
                rows.extend(
                    WebAuth::totp_list(self)?
                        .into_iter()
                        .map(|(a, t)| SmallRow::Totp(a, t)),
                );
                rows.extend(
                    WebAuth::apikey_list(self)?
                        .into_iter()
                        .map(SmallRow::ApiKey),
                );
                rows.extend(
                    DeviceStore::device_list(self, None)?
                        .into_iter()
                        .map(SmallRow::Device),
                );
            }
            SmallStore::Snooze => {
                use crate::storage::SnoozeStore;
                rows.extend(self.snooze_list()?.into_iter().map(SmallRow::Snooze));
            }
        }
        Ok(rows)
    }
}

/// A time stored as i64 big-endian.
fn time_of(v: &[u8], what: &str) -> Result<i64, StorageError> {
    let bytes: [u8; 8] = v
        .try_into()
        .map_err(|_| StorageError::Encoding(format!("{what} time: expected 8 bytes")))?;
    Ok(i64::from_be_bytes(bytes))
}

#[cfg(test)]
impl SledStore {
    /// Damage for `storage check` tests: one more reference on `blob` than records hold.
    fn bump_refcount(&self, blob: &BlobId) {
        let tree = self.tree(TreeIx::BlobRefs);
        let old = tree
            .get(blob.0)
            .expect("read refcount")
            .map(|v| keys::decode_u64(&v, "refcount").expect("refcount"))
            .unwrap_or(0);
        tree.insert(blob.0, &(old + 1).to_be_bytes())
            .expect("write refcount");
    }
}

impl Export for SledStore {
    fn export_directory(&self) -> Result<DirectoryDump, StorageError> {
        SledStore::export_directory(self)
    }

    fn export_folders(&self) -> Result<Vec<FolderDump>, StorageError> {
        SledStore::export_folders(self)
    }

    fn export_folder_extras(&self, id: FolderId) -> Result<FolderExtras, StorageError> {
        SledStore::export_folder_extras(self, id)
    }

    fn export_refcounts(&self) -> Result<Vec<RefCount>, StorageError> {
        SledStore::export_refcounts(self)
    }

    fn export_counters(&self) -> Result<Counters, StorageError> {
        SledStore::export_counters(self)
    }

    fn export_small(&self, store: SmallStore) -> Result<Vec<SmallRow>, StorageError> {
        SledStore::export_small(self, store)
    }
}

impl dyn Export {
    /// The embedded backend on `data_dir` (bodies in `blobs`, default `data_dir/blobs`) as a
    /// migration's source.
    pub(crate) fn open_embedded(
        data_dir: &std::path::Path,
        blobs: Option<&std::path::Path>,
    ) -> Result<Box<dyn Export>, StorageError> {
        Ok(Box::new(SledStore::open_at(data_dir, blobs)?))
    }
}

#[cfg(test)]
mod tests {
    use super::SledStore;
    use crate::storage::migrate_tests::{damage_and_check, fill};
    use crate::storage::Store;

    /// `storage check` on the embedded backend (the PostgreSQL twin is in `migrate_tests`).
    #[test]
    fn check_finds_a_missing_body_and_a_wrong_refcount_on_sled() {
        let src = tempfile::TempDir::new().unwrap();
        fill(src.path());
        let sled = SledStore::open(src.path()).unwrap();
        let (store, _w) = Store::new(std::sync::Arc::new(sled.clone()));
        damage_and_check(&store, |blob| sled.bump_refcount(blob));
    }
}
