//! The storage traits implemented for [`PgStore`]: each method is the inherent method of the
//! same name in the file of its concern (`directory.rs`, `folders.rs`, `catalog.rs`,
//! `queue.rs`, `dkim.rs`, `fetch.rs`, …), as the sled backend does.

use std::collections::HashSet;
use std::net::IpAddr;

use super::PgStore;
use crate::storage::traits::*;
use crate::storage::*;

impl Directory for PgStore {
    fn add_domain(&self, name: &str) -> Result<(), StorageError> {
        PgStore::add_domain(self, name)
    }

    fn del_domain(&self, name: &str) -> Result<(), StorageError> {
        PgStore::del_domain(self, name)
    }

    fn list_domains(&self) -> Result<Vec<String>, StorageError> {
        PgStore::list_domains(self)
    }

    fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        PgStore::is_local_domain(self, name)
    }

    fn add_account(
        &self,
        address: &str,
        password: &str,
        admin: bool,
    ) -> Result<Account, StorageError> {
        PgStore::add_account(self, address, password, admin)
    }

    fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        PgStore::set_password(self, address, password)
    }

    fn set_admin(&self, address: &str, admin: bool) -> Result<(), StorageError> {
        PgStore::set_admin(self, address, admin)
    }

    fn set_disabled(&self, address: &str, disabled: bool) -> Result<(), StorageError> {
        PgStore::set_disabled(self, address, disabled)
    }

    fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        PgStore::list_accounts(self)
    }

    fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        PgStore::get_account(self, address)
    }

    fn account_stamp(&self, login: &str) -> Result<Option<(String, [u8; 32])>, StorageError> {
        PgStore::account_stamp(self, login)
    }

    fn verify_password(&self, login: &str, password: &str) -> Result<AuthOutcome, StorageError> {
        PgStore::verify_password(self, login, password)
    }

    fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        PgStore::add_alias(self, alias, target)
    }

    fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
        PgStore::del_alias(self, alias, target)
    }

    fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        PgStore::list_aliases(self)
    }

    fn resolve_recipient(&self, address: &str) -> Result<Vec<Destination>, StorageError> {
        PgStore::resolve_recipient(self, address)
    }

    fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        PgStore::check_recipient(self, address)
    }

    fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError> {
        PgStore::set_quota(self, account, storage_bytes, messages)
    }

    fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError> {
        PgStore::recompute_quota(self, account)
    }
}

impl SenderRightsStore for PgStore {
    fn sender_rights(&self, account: &str) -> Result<SenderRights, StorageError> {
        PgStore::sender_rights(self, account)
    }

    fn list_sender_rights(&self) -> Result<Vec<(String, SenderRights)>, StorageError> {
        PgStore::list_sender_rights(self)
    }

    fn add_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        PgStore::add_send_as(self, account, entry)
    }

    fn del_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        PgStore::del_send_as(self, account, entry)
    }

    fn add_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        PgStore::add_domain_admin(self, account, domain)
    }

    fn del_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        PgStore::del_domain_admin(self, account, domain)
    }
}

impl Folders for PgStore {
    fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError> {
        PgStore::get_acl(self, folder)
    }

    fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError> {
        PgStore::rights(self, folder, user)
    }

    fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError> {
        PgStore::folders_visible_to(self, user)
    }

    fn folder_id(&self, account: &str, name: &str) -> Result<Option<FolderId>, StorageError> {
        PgStore::folder_id(self, account, name)
    }

    fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        PgStore::folder_state(self, id)
    }

    fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        PgStore::list_folders(self, account)
    }

    fn list_messages(&self, folder: FolderId) -> Result<Vec<MessageRecord>, StorageError> {
        PgStore::list_messages(self, folder)
    }

    fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        PgStore::messages_from(self, folder, first_uid)
    }

    fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError> {
        PgStore::get_message(self, folder, uid)
    }

    fn get_messages(
        &self,
        folder: FolderId,
        uids: &[u32],
    ) -> Result<Vec<MessageRecord>, StorageError> {
        PgStore::get_messages(self, folder, uids)
    }

    fn expunged_since(&self, folder: FolderId, modseq: u64) -> Result<Vec<u32>, StorageError> {
        PgStore::expunged_since(self, folder, modseq)
    }

    fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        PgStore::recent_count(self, folder)
    }

    fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        PgStore::message_count(self, folder)
    }

    fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        PgStore::uid_list(self, folder)
    }

    fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        PgStore::folder_keywords(self, folder)
    }

    fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        PgStore::vanished_horizon(self, folder)
    }

    fn changed_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        PgStore::changed_since(self, folder, modseq)
    }

    fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        PgStore::metadata(self, on, user)
    }

    fn quota(&self, account: &str) -> Result<Quota, StorageError> {
        PgStore::quota(self, account)
    }

    fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError> {
        PgStore::subscriptions(self, account)
    }
}

impl FolderWrites for PgStore {
    fn del_account(&self, address: &str) -> Result<(), StorageError> {
        PgStore::del_account(self, address)
    }

    fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        PgStore::rename_folder(self, id, new_name)
    }

    fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError> {
        PgStore::rename_inbox(self, account, to)
    }

    fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        PgStore::delete_folder(self, id)
    }

    fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError> {
        PgStore::append_message(self, folder, msg, consume, None)
    }

    fn append_delivery(
        &self,
        folder: FolderId,
        msg: NewMessage,
        seen: &QueueRecord,
        rcpt: usize,
    ) -> Result<(u32, u64), StorageError> {
        let consume = Some((seen.queue, seen.id, rcpt));
        PgStore::append_message(self, folder, msg, consume, Some(seen))
    }

    fn set_flags(&self, folder: FolderId, uid: u32, flags: Flags) -> Result<u64, StorageError> {
        PgStore::set_flags(self, folder, uid, flags)
    }

    fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        PgStore::expunge(self, folder, uids)
    }

    fn store_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        mode: FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StorageError> {
        PgStore::store_flags(self, folder, uids, mode, flags, unchanged_since)
    }

    fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: &dyn Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        PgStore::update_maildrop(self, folder, seen, deleted, between)
    }

    fn append_messages(
        &self,
        folder: FolderId,
        msgs: &[NewMessage],
    ) -> Result<(Vec<u32>, u64), StorageError> {
        PgStore::append_messages(self, folder, msgs)
    }

    fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError> {
        PgStore::copy_messages(self, from, uids, to)
    }

    fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        PgStore::move_messages(self, from, uids, to)
    }

    fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError> {
        PgStore::replace_message(self, from, uid, to, msg)
    }

    fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        PgStore::claim_recent(self, folder)
    }
}

impl CatalogWrites for PgStore {
    fn set_acl(
        &self,
        folder: FolderId,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        PgStore::set_acl(self, folder, identifier, rights)
    }

    fn delete_acl(&self, folder: FolderId, identifier: &str) -> Result<(), StorageError> {
        PgStore::delete_acl(self, folder, identifier)
    }

    fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        PgStore::create_folder(self, account, name, special_use)
    }

    fn set_subscribed(&self, id: FolderId, subscribed: bool) -> Result<(), StorageError> {
        PgStore::set_subscribed(self, id, subscribed)
    }

    fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError> {
        PgStore::set_metadata(self, on, user, changes)
    }

    fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError> {
        PgStore::subscribe(self, account, name)
    }

    fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError> {
        PgStore::unsubscribe(self, account, name)
    }

    fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        PgStore::urlauth_key(self, folder, user, create)
    }

    fn reset_urlauth_key(&self, folder: FolderId, user: &str) -> Result<(), StorageError> {
        PgStore::reset_urlauth_key(self, folder, user)
    }
}

impl Queue for PgStore {
    fn next_queue_id(&self) -> Result<QueueId, StorageError> {
        PgStore::next_queue_id(self)
    }

    fn queue_get(
        &self,
        queue: QueueName,
        id: QueueId,
    ) -> Result<Option<QueueRecord>, StorageError> {
        PgStore::queue_get(self, queue, id)
    }

    fn queue_find(&self, id: QueueId) -> Result<Option<QueueRecord>, StorageError> {
        PgStore::queue_find(self, id)
    }

    fn queue_list(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
        PgStore::queue_list(self, queue)
    }

    fn queue_page(
        &self,
        queue: QueueName,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        PgStore::queue_page(self, queue, offset, limit)
    }

    fn queue_select(
        &self,
        queue: QueueName,
        keep: crate::storage::Keep<'_>,
        offset: usize,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError> {
        PgStore::queue_select(self, queue, keep, offset, limit)
    }

    fn queue_depth(&self, queue: QueueName) -> Result<usize, StorageError> {
        PgStore::queue_depth(self, queue)
    }
}

impl QueueWrites for PgStore {
    fn queue_put(&self, rec: &QueueRecord) -> Result<(), StorageError> {
        PgStore::queue_put(self, rec)
    }

    fn queue_replace(
        &self,
        from: QueueName,
        id: QueueId,
        new_records: &[QueueRecord],
    ) -> Result<(), StorageError> {
        PgStore::queue_replace(self, from, id, new_records)
    }

    fn queue_move(&self, id: QueueId, from: QueueName, to: QueueName) -> Result<(), StorageError> {
        PgStore::queue_move(self, id, from, to)
    }

    fn queue_delete(&self, queue: QueueName, id: QueueId) -> Result<(), StorageError> {
        PgStore::queue_delete(self, queue, id)
    }

    fn fetch_accept(&self, msg: &FetchedMessage) -> Result<Accepted, StorageError> {
        PgStore::fetch_accept(self, msg)
    }
}

impl DkimStore for PgStore {
    fn dkim_add(
        &self,
        domain: &str,
        selector: &str,
        algorithm: DkimAlgorithm,
        public_key: &str,
        private_pem: &[u8],
        created: i64,
    ) -> Result<DkimKey, StorageError> {
        PgStore::dkim_add(
            self,
            domain,
            selector,
            algorithm,
            public_key,
            private_pem,
            created,
        )
    }

    fn dkim_list(&self, domain: &str) -> Result<Vec<DkimKey>, StorageError> {
        PgStore::dkim_list(self, domain)
    }

    fn dkim_active(&self, domain: &str) -> Result<Option<DkimKey>, StorageError> {
        PgStore::dkim_active(self, domain)
    }

    fn dkim_activate(&self, domain: &str, selector: &str) -> Result<DkimKey, StorageError> {
        PgStore::dkim_activate(self, domain, selector)
    }

    fn dkim_delete(&self, domain: &str, selector: &str) -> Result<(), StorageError> {
        PgStore::dkim_delete(self, domain, selector)
    }

    fn dkim_private_key(&self, key: &DkimKey) -> Result<Vec<u8>, StorageError> {
        PgStore::dkim_private_key(self, key)
    }
}

impl FetchStore for PgStore {
    fn seal_secret(&self, plaintext: &str) -> Result<Vec<u8>, StorageError> {
        PgStore::seal_secret(self, plaintext)
    }

    fn open_secret(&self, sealed: &[u8]) -> Result<String, StorageError> {
        PgStore::open_secret(self, sealed)
    }

    fn derived_key(&self, purpose: &str) -> Result<[u8; 32], StorageError> {
        PgStore::derived_key(self, purpose)
    }

    fn fetch_add_source(&self, source: FetchSource) -> Result<FetchSource, StorageError> {
        PgStore::fetch_add_source(self, source)
    }

    fn fetch_set_domainpop(&self, source: FetchSource) -> Result<FetchSource, StorageError> {
        PgStore::fetch_set_domainpop(self, source)
    }

    fn fetch_update_source(&self, source: FetchSource) -> Result<FetchSource, StorageError> {
        PgStore::fetch_update_source(self, source)
    }

    fn fetch_source(&self, id: SourceId) -> Result<Option<FetchSource>, StorageError> {
        PgStore::fetch_source(self, id)
    }

    fn fetch_sources(&self) -> Result<Vec<FetchSource>, StorageError> {
        PgStore::fetch_sources(self)
    }

    fn fetch_domainpop(&self, domain: &str) -> Result<Option<FetchSource>, StorageError> {
        PgStore::fetch_domainpop(self, domain)
    }

    fn fetch_del_source(&self, id: SourceId) -> Result<FetchSource, StorageError> {
        PgStore::fetch_del_source(self, id)
    }

    fn fetch_status(&self, id: SourceId) -> Result<FetchStatus, StorageError> {
        PgStore::fetch_status(self, id)
    }

    fn fetch_set_status(&self, id: SourceId, status: &FetchStatus) -> Result<(), StorageError> {
        PgStore::fetch_set_status(self, id, status)
    }

    fn fetch_seen(&self, source: SourceId) -> Result<HashSet<String>, StorageError> {
        PgStore::fetch_seen(self, source)
    }

    fn fetch_forget_gone(
        &self,
        source: SourceId,
        on_server: &HashSet<String>,
    ) -> Result<usize, StorageError> {
        PgStore::fetch_forget_gone(self, source, on_server)
    }

    fn fetch_expire_dedup(
        &self,
        source: SourceId,
        window: u64,
        now: i64,
    ) -> Result<usize, StorageError> {
        PgStore::fetch_expire_dedup(self, source, window, now)
    }

    fn fetch_is_seen(&self, source: SourceId, mark: &str) -> Result<bool, StorageError> {
        PgStore::fetch_is_seen(self, source, mark)
    }
}

impl TlsPolicyStore for PgStore {
    fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>, StorageError> {
        PgStore::mta_sts_get(self, domain)
    }

    fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<(), StorageError> {
        PgStore::mta_sts_put(self, domain, p)
    }

    fn tlsrpt_add(&self, day: u32, domain: &str, r: &TlsResult) -> Result<(), StorageError> {
        PgStore::tlsrpt_add(self, day, domain, r)
    }

    fn tlsrpt_list(&self) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError> {
        PgStore::tlsrpt_list(self)
    }

    fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError> {
        PgStore::tlsrpt_remove(self, day, domain)
    }
}

impl Screening for PgStore {
    fn screen_load(&self) -> Result<ScreenSnapshot, StorageError> {
        PgStore::screen_load(self)
    }

    fn screen_put_address(
        &self,
        ip: IpAddr,
        rec: Option<&ScreenRecord>,
    ) -> Result<(), StorageError> {
        PgStore::screen_put_address(self, ip, rec)
    }

    fn screen_put_account(
        &self,
        account: &str,
        times: Option<&Vec<i64>>,
    ) -> Result<(), StorageError> {
        PgStore::screen_put_account(self, account, times)
    }

    fn screen_put_rule(
        &self,
        rule: ScreenRule,
        network: &str,
        present: bool,
    ) -> Result<(), StorageError> {
        PgStore::screen_put_rule(self, rule, network, present)
    }
}
impl BlobRefs for PgStore {
    fn blobs(&self) -> &BlobStore {
        PgStore::blobs(self)
    }

    fn blob_root(&self) -> std::path::PathBuf {
        PgStore::blob_root(self)
    }

    fn collect_after_commit(&self, zeroed: &[BlobId]) {
        PgStore::collect_after_commit(self, zeroed)
    }

    fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError> {
        PgStore::blob_refcount(self, blob)
    }
}

impl Durability for PgStore {
    fn root(&self) -> &std::path::Path {
        PgStore::root(self)
    }

    fn commit(&self) -> Result<(), StorageError> {
        PgStore::commit(self)
    }

    fn commit_async(&self) -> CommitFuture {
        Box::pin(PgStore::commit_async(self))
    }

    fn write_after_sync(&self, write: AfterSync) -> CommitFuture {
        Box::pin(PgStore::write_after_sync(self, write))
    }

    fn commit_stats(&self) -> CommitStats {
        PgStore::commit_stats(self)
    }

    #[cfg(any(test, feature = "fault-injection"))]
    fn inject_sync_errors(&self, rounds: u32) {
        PgStore::inject_sync_errors(self, rounds)
    }

    fn sweep(&self, grace: std::time::Duration) -> Result<SweepReport, StorageError> {
        PgStore::sweep(self, grace)
    }
}

impl Cluster for PgStore {
    fn node_name(&self) -> String {
        PgStore::node(self).to_string()
    }

    fn heartbeat(&self) -> Result<(), StorageError> {
        PgStore::heartbeat(self)
    }

    fn queue_claim_startup(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
        PgStore::queue_claim_startup(self, queue)
    }

    fn queue_claim_orphans(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        PgStore::queue_claim_orphans(self, queue, max)
    }

    fn cluster_nodes(&self) -> Result<Vec<NodeInfo>, StorageError> {
        PgStore::cluster_nodes(self)
    }

    fn queue_leases(&self) -> Result<Vec<Lease>, StorageError> {
        PgStore::queue_leases(self)
    }

    fn watch(&self, on_event: Box<dyn Fn(ClusterEvent) + Send + Sync>) -> Result<(), StorageError> {
        PgStore::watch(self, on_event)
    }

    fn poll_interval(&self) -> Option<std::time::Duration> {
        Some(PgStore::poll_interval(self))
    }
}
