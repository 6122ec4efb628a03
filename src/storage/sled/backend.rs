//! The storage traits whose methods span several files of [`SledStore`]: `Directory`
//! (domains, accounts, aliases in `directory.rs`, quota limits in `quota.rs`), `Folders` and
//! `FolderWrites` (`folders.rs`, `messages.rs`, `acl.rs`, `quota.rs`, `subscriptions.rs`,
//! `metadata.rs`, `urlauth.rs`), `BlobRefs` and `Durability`. A trait has one impl block,
//! so each method here is the sled method of the same name in the file of its concern. The
//! traits kept in one file (`Queue`, `QueueWrites`, `DkimStore`, `FetchStore`,
//! `TlsPolicyStore`, `Screening`, `SenderRightsStore`) are implemented there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::SledStore;
use crate::storage::traits::*;
use crate::storage::*;

impl Directory for SledStore {
    fn add_domain(&self, name: &str) -> Result<(), StorageError> {
        SledStore::add_domain(self, name)
    }

    fn del_domain(&self, name: &str) -> Result<(), StorageError> {
        SledStore::del_domain(self, name)
    }

    fn list_domains(&self) -> Result<Vec<String>, StorageError> {
        SledStore::list_domains(self)
    }

    fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        SledStore::is_local_domain(self, name)
    }

    fn add_account(
        &self,
        address: &str,
        password: &str,
        admin: bool,
    ) -> Result<Account, StorageError> {
        SledStore::add_account(self, address, password, admin)
    }

    fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        SledStore::set_password(self, address, password)
    }

    fn set_admin(&self, address: &str, admin: bool) -> Result<(), StorageError> {
        SledStore::set_admin(self, address, admin)
    }

    fn set_disabled(&self, address: &str, disabled: bool) -> Result<(), StorageError> {
        SledStore::set_disabled(self, address, disabled)
    }

    fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        SledStore::list_accounts(self)
    }

    fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        SledStore::get_account(self, address)
    }

    fn account_stamp(&self, login: &str) -> Result<Option<(String, [u8; 32])>, StorageError> {
        SledStore::account_stamp(self, login)
    }

    fn verify_password(&self, login: &str, password: &str) -> Result<AuthOutcome, StorageError> {
        SledStore::verify_password(self, login, password)
    }

    fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        SledStore::add_alias(self, alias, target)
    }

    fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
        SledStore::del_alias(self, alias, target)
    }

    fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        SledStore::list_aliases(self)
    }

    fn resolve_recipient(&self, address: &str) -> Result<Vec<Destination>, StorageError> {
        SledStore::resolve_recipient(self, address)
    }

    fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        SledStore::check_recipient(self, address)
    }

    fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError> {
        SledStore::set_quota(self, account, storage_bytes, messages)
    }

    fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError> {
        SledStore::recompute_quota(self, account)
    }
}

impl Folders for SledStore {
    fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError> {
        SledStore::get_acl(self, folder)
    }

    fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError> {
        SledStore::rights(self, folder, user)
    }

    fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError> {
        SledStore::folders_visible_to(self, user)
    }

    fn folder_id(&self, account: &str, name: &str) -> Result<Option<FolderId>, StorageError> {
        SledStore::folder_id(self, account, name)
    }

    fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        SledStore::folder_state(self, id)
    }

    fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        SledStore::list_folders(self, account)
    }

    fn list_messages(&self, folder: FolderId) -> Result<Vec<MessageRecord>, StorageError> {
        SledStore::list_messages(self, folder)
    }

    fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        SledStore::messages_from(self, folder, first_uid)
    }

    fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError> {
        SledStore::get_message(self, folder, uid)
    }

    fn expunged_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StorageError> {
        SledStore::expunged_since(self, folder, modseq)
    }

    fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        SledStore::recent_count(self, folder)
    }

    fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        SledStore::message_count(self, folder)
    }

    fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        SledStore::uid_list(self, folder)
    }

    fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        SledStore::folder_keywords(self, folder)
    }

    fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        SledStore::vanished_horizon(self, folder)
    }

    fn changed_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        // sled keeps no modseq index: one prefix scan of the folder.
        let mut changed = SledStore::list_messages(self, folder)?;
        changed.retain(|m| m.modseq > modseq);
        Ok(changed)
    }

    fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        SledStore::metadata(self, on, user)
    }

    fn quota(&self, account: &str) -> Result<Quota, StorageError> {
        SledStore::quota(self, account)
    }

    fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError> {
        SledStore::subscriptions(self, account)
    }
}

impl FolderWrites for SledStore {
    fn del_account(&self, address: &str) -> Result<(), StorageError> {
        SledStore::del_account(self, address)
    }

    fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        SledStore::rename_folder(self, id, new_name)
    }

    fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError> {
        SledStore::rename_inbox(self, account, to)
    }

    fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        SledStore::delete_folder(self, id)
    }

    fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError> {
        SledStore::append_message(self, folder, msg, consume)
    }

    fn set_flags(&self, folder: FolderId, uid: u32, flags: Flags) -> Result<u64, StorageError> {
        SledStore::set_flags(self, folder, uid, flags)
    }

    fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        SledStore::expunge(self, folder, uids)
    }

    fn store_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        mode: FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StorageError> {
        SledStore::store_flags(self, folder, uids, mode, flags, unchanged_since)
    }

    fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: &dyn Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        SledStore::update_maildrop(self, folder, seen, deleted, between)
    }

    fn append_messages(
        &self,
        folder: FolderId,
        msgs: &[NewMessage],
    ) -> Result<(Vec<u32>, u64), StorageError> {
        SledStore::append_messages(self, folder, msgs)
    }

    fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError> {
        SledStore::copy_messages(self, from, uids, to)
    }

    fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        SledStore::move_messages(self, from, uids, to)
    }

    fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError> {
        SledStore::replace_message(self, from, uid, to, msg)
    }

    fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        SledStore::claim_recent(self, folder)
    }
}

impl CatalogWrites for SledStore {
    fn set_acl(
        &self,
        folder: FolderId,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        SledStore::set_acl(self, folder, identifier, rights)
    }

    fn delete_acl(&self, folder: FolderId, identifier: &str) -> Result<(), StorageError> {
        SledStore::delete_acl(self, folder, identifier)
    }

    fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        SledStore::create_folder(self, account, name, special_use)
    }

    fn set_subscribed(&self, id: FolderId, subscribed: bool) -> Result<(), StorageError> {
        SledStore::set_subscribed(self, id, subscribed)
    }

    fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError> {
        SledStore::set_metadata(self, on, user, changes)
    }

    fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError> {
        SledStore::subscribe(self, account, name)
    }

    fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError> {
        SledStore::unsubscribe(self, account, name)
    }

    fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        SledStore::urlauth_key(self, folder, user, create)
    }

    fn reset_urlauth_key(&self, folder: FolderId, user: &str) -> Result<(), StorageError> {
        SledStore::reset_urlauth_key(self, folder, user)
    }
}

impl BlobRefs for SledStore {
    fn blobs(&self) -> &BlobStore {
        SledStore::blobs(self)
    }

    fn blob_root(&self) -> PathBuf {
        SledStore::blob_root(self)
    }

    fn collect_after_commit(&self, zeroed: &[BlobId]) {
        SledStore::collect_after_commit(self, zeroed)
    }

    fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError> {
        SledStore::blob_refcount(self, blob)
    }
}

impl Durability for SledStore {
    fn root(&self) -> &Path {
        SledStore::root(self)
    }

    fn commit(&self) -> Result<(), StorageError> {
        SledStore::commit(self)
    }

    fn commit_async(&self) -> CommitFuture {
        Box::pin(SledStore::commit_async(self))
    }

    fn write_after_sync(&self, write: AfterSync) -> CommitFuture {
        Box::pin(SledStore::write_after_sync(self, write))
    }

    fn commit_stats(&self) -> CommitStats {
        SledStore::commit_stats(self)
    }

    #[cfg(any(test, feature = "fault-injection"))]
    fn inject_sync_errors(&self, rounds: u32) {
        SledStore::inject_sync_errors(self, rounds)
    }

    fn sweep(&self, grace: Duration) -> Result<SweepReport, StorageError> {
        SledStore::sweep(self, grace)
    }
}

/// The embedded backend is a cluster of one node.
impl Cluster for SledStore {
    fn node_name(&self) -> String {
        String::new()
    }

    fn heartbeat(&self) -> Result<(), StorageError> {
        Ok(())
    }

    fn queue_claim_startup(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
        self.queue_list(queue)
    }

    fn queue_claim_orphans(
        &self,
        _queue: QueueName,
        _max: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        Ok(Vec::new())
    }

    fn cluster_nodes(&self) -> Result<Vec<NodeInfo>, StorageError> {
        Ok(Vec::new())
    }

    fn queue_leases(&self) -> Result<Vec<Lease>, StorageError> {
        Ok(Vec::new())
    }

    fn watch(
        &self,
        _on_event: Box<dyn Fn(ClusterEvent) + Send + Sync>,
    ) -> Result<(), StorageError> {
        Ok(())
    }

    fn poll_interval(&self) -> Option<Duration> {
        None
    }
}
