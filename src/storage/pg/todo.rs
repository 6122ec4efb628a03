//! Methods not written yet for PostgreSQL (removed one by one as they are).

use super::PgStore;
use crate::storage::*;

fn todo(name: &str) -> StorageError {
    StorageError::Backend(format!("PostgreSQL backend: {name} is not implemented yet"))
}

impl PgStore {
    pub(crate) fn add_domain(&self, name: &str) -> Result<(), StorageError> {
        let _ = (name,);
        Err(todo("add_domain"))
    }

    pub(crate) fn del_domain(&self, name: &str) -> Result<(), StorageError> {
        let _ = (name,);
        Err(todo("del_domain"))
    }

    pub(crate) fn list_domains(&self) -> Result<Vec<String>, StorageError> {
        Err(todo("list_domains"))
    }

    pub(crate) fn is_local_domain(&self, name: &str) -> Result<bool, StorageError> {
        let _ = (name,);
        Err(todo("is_local_domain"))
    }

    pub(crate) fn add_account(
        &self,
        address: &str,
        password: &str,
        admin: bool,
    ) -> Result<Account, StorageError> {
        let _ = (address, password, admin);
        Err(todo("add_account"))
    }

    pub(crate) fn set_password(&self, address: &str, password: &str) -> Result<(), StorageError> {
        let _ = (address, password);
        Err(todo("set_password"))
    }

    pub(crate) fn list_accounts(&self) -> Result<Vec<Account>, StorageError> {
        Err(todo("list_accounts"))
    }

    pub(crate) fn get_account(&self, address: &str) -> Result<Option<Account>, StorageError> {
        let _ = (address,);
        Err(todo("get_account"))
    }

    pub(crate) fn account_stamp(
        &self,
        login: &str,
    ) -> Result<Option<(String, [u8; 32])>, StorageError> {
        let _ = (login,);
        Err(todo("account_stamp"))
    }

    pub(crate) fn verify_password(
        &self,
        login: &str,
        password: &str,
    ) -> Result<AuthOutcome, StorageError> {
        let _ = (login, password);
        Err(todo("verify_password"))
    }

    pub(crate) fn add_alias(&self, alias: &str, target: &str) -> Result<(), StorageError> {
        let _ = (alias, target);
        Err(todo("add_alias"))
    }

    pub(crate) fn del_alias(&self, alias: &str, target: Option<&str>) -> Result<(), StorageError> {
        let _ = (alias, target);
        Err(todo("del_alias"))
    }

    pub(crate) fn list_aliases(&self) -> Result<Vec<(String, Vec<String>)>, StorageError> {
        Err(todo("list_aliases"))
    }

    pub(crate) fn resolve_recipient(
        &self,
        address: &str,
    ) -> Result<Vec<Destination>, StorageError> {
        let _ = (address,);
        Err(todo("resolve_recipient"))
    }

    pub(crate) fn check_recipient(&self, address: &str) -> Result<RecipientKind, StorageError> {
        let _ = (address,);
        Err(todo("check_recipient"))
    }

    pub(crate) fn set_quota(
        &self,
        account: &str,
        storage_bytes: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), StorageError> {
        let _ = (account, storage_bytes, messages);
        Err(todo("set_quota"))
    }

    pub(crate) fn recompute_quota(&self, account: &str) -> Result<Quota, StorageError> {
        let _ = (account,);
        Err(todo("recompute_quota"))
    }

    pub(crate) fn sender_rights(&self, account: &str) -> Result<SenderRights, StorageError> {
        let _ = (account,);
        Err(todo("sender_rights"))
    }

    pub(crate) fn list_sender_rights(&self) -> Result<Vec<(String, SenderRights)>, StorageError> {
        Err(todo("list_sender_rights"))
    }

    pub(crate) fn add_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let _ = (account, entry);
        Err(todo("add_send_as"))
    }

    pub(crate) fn del_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let _ = (account, entry);
        Err(todo("del_send_as"))
    }

    pub(crate) fn add_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let _ = (account, domain);
        Err(todo("add_domain_admin"))
    }

    pub(crate) fn del_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let _ = (account, domain);
        Err(todo("del_domain_admin"))
    }

    pub(crate) fn get_acl(&self, folder: FolderId) -> Result<Vec<(String, String)>, StorageError> {
        let _ = (folder,);
        Err(todo("get_acl"))
    }

    pub(crate) fn rights(&self, folder: FolderId, user: &str) -> Result<String, StorageError> {
        let _ = (folder, user);
        Err(todo("rights"))
    }

    pub(crate) fn folders_visible_to(&self, user: &str) -> Result<Vec<FolderState>, StorageError> {
        let _ = (user,);
        Err(todo("folders_visible_to"))
    }

    pub(crate) fn folder_id(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<FolderId>, StorageError> {
        let _ = (account, name);
        Err(todo("folder_id"))
    }

    pub(crate) fn folder_state(&self, id: FolderId) -> Result<FolderState, StorageError> {
        let _ = (id,);
        Err(todo("folder_state"))
    }

    pub(crate) fn list_folders(&self, account: &str) -> Result<Vec<FolderState>, StorageError> {
        let _ = (account,);
        Err(todo("list_folders"))
    }

    pub(crate) fn list_messages(
        &self,
        folder: FolderId,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let _ = (folder,);
        Err(todo("list_messages"))
    }

    pub(crate) fn messages_from(
        &self,
        folder: FolderId,
        first_uid: u32,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let _ = (folder, first_uid);
        Err(todo("messages_from"))
    }

    pub(crate) fn get_message(
        &self,
        folder: FolderId,
        uid: u32,
    ) -> Result<Option<MessageRecord>, StorageError> {
        let _ = (folder, uid);
        Err(todo("get_message"))
    }

    pub(crate) fn expunged_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<u32>, StorageError> {
        let _ = (folder, modseq);
        Err(todo("expunged_since"))
    }

    pub(crate) fn recent_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        let _ = (folder,);
        Err(todo("recent_count"))
    }

    pub(crate) fn message_count(&self, folder: FolderId) -> Result<u32, StorageError> {
        let _ = (folder,);
        Err(todo("message_count"))
    }

    pub(crate) fn uid_list(&self, folder: FolderId) -> Result<Vec<u32>, StorageError> {
        let _ = (folder,);
        Err(todo("uid_list"))
    }

    pub(crate) fn folder_keywords(&self, folder: FolderId) -> Result<Vec<String>, StorageError> {
        let _ = (folder,);
        Err(todo("folder_keywords"))
    }

    pub(crate) fn vanished_horizon(&self, folder: FolderId) -> Result<u64, StorageError> {
        let _ = (folder,);
        Err(todo("vanished_horizon"))
    }

    pub(crate) fn metadata(
        &self,
        on: MetadataOwner,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, StorageError> {
        let _ = (on, user);
        Err(todo("metadata"))
    }

    pub(crate) fn quota(&self, account: &str) -> Result<Quota, StorageError> {
        let _ = (account,);
        Err(todo("quota"))
    }

    pub(crate) fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError> {
        let _ = (account,);
        Err(todo("subscriptions"))
    }

    pub(crate) fn del_account(&self, address: &str) -> Result<(), StorageError> {
        let _ = (address,);
        Err(todo("del_account"))
    }

    pub(crate) fn rename_folder(&self, id: FolderId, new_name: &str) -> Result<(), StorageError> {
        let _ = (id, new_name);
        Err(todo("rename_folder"))
    }

    pub(crate) fn rename_inbox(&self, account: &str, to: &str) -> Result<FolderId, StorageError> {
        let _ = (account, to);
        Err(todo("rename_inbox"))
    }

    pub(crate) fn delete_folder(&self, id: FolderId) -> Result<(), StorageError> {
        let _ = (id,);
        Err(todo("delete_folder"))
    }

    pub(crate) fn append_message(
        &self,
        folder: FolderId,
        msg: NewMessage,
        consume: Option<(QueueName, QueueId, usize)>,
    ) -> Result<(u32, u64), StorageError> {
        let _ = (folder, msg, consume);
        Err(todo("append_message"))
    }

    pub(crate) fn set_flags(
        &self,
        folder: FolderId,
        uid: u32,
        flags: Flags,
    ) -> Result<u64, StorageError> {
        let _ = (folder, uid, flags);
        Err(todo("set_flags"))
    }

    pub(crate) fn expunge(&self, folder: FolderId, uids: &[u32]) -> Result<u64, StorageError> {
        let _ = (folder, uids);
        Err(todo("expunge"))
    }

    pub(crate) fn store_flags(
        &self,
        folder: FolderId,
        uids: &[u32],
        mode: FlagMode,
        flags: &Flags,
        unchanged_since: Option<u64>,
    ) -> Result<StoreResult, StorageError> {
        let _ = (folder, uids, mode, flags, unchanged_since);
        Err(todo("store_flags"))
    }

    pub(crate) fn update_maildrop(
        &self,
        folder: FolderId,
        seen: &[u32],
        deleted: &[u32],
        between: &dyn Fn() -> Result<(), StorageError>,
    ) -> Result<(StoreResult, u64), StorageError> {
        let _ = (folder, seen, deleted, between);
        Err(todo("update_maildrop"))
    }

    pub(crate) fn append_messages(
        &self,
        folder: FolderId,
        msgs: &[NewMessage],
    ) -> Result<(Vec<u32>, u64), StorageError> {
        let _ = (folder, msgs);
        Err(todo("append_messages"))
    }

    pub(crate) fn copy_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<Vec<(u32, u32)>, StorageError> {
        let _ = (from, uids, to);
        Err(todo("copy_messages"))
    }

    pub(crate) fn move_messages(
        &self,
        from: FolderId,
        uids: &[u32],
        to: FolderId,
    ) -> Result<(Vec<(u32, u32)>, u64), StorageError> {
        let _ = (from, uids, to);
        Err(todo("move_messages"))
    }

    pub(crate) fn replace_message(
        &self,
        from: FolderId,
        uid: u32,
        to: FolderId,
        msg: &NewMessage,
    ) -> Result<(u32, u64, u64), StorageError> {
        let _ = (from, uid, to, msg);
        Err(todo("replace_message"))
    }

    pub(crate) fn claim_recent(&self, folder: FolderId) -> Result<u32, StorageError> {
        let _ = (folder,);
        Err(todo("claim_recent"))
    }

    pub(crate) fn set_acl(
        &self,
        folder: FolderId,
        identifier: &str,
        rights: &str,
    ) -> Result<(), StorageError> {
        let _ = (folder, identifier, rights);
        Err(todo("set_acl"))
    }

    pub(crate) fn delete_acl(
        &self,
        folder: FolderId,
        identifier: &str,
    ) -> Result<(), StorageError> {
        let _ = (folder, identifier);
        Err(todo("delete_acl"))
    }

    pub(crate) fn create_folder(
        &self,
        account: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderId, StorageError> {
        let _ = (account, name, special_use);
        Err(todo("create_folder"))
    }

    pub(crate) fn set_subscribed(
        &self,
        id: FolderId,
        subscribed: bool,
    ) -> Result<(), StorageError> {
        let _ = (id, subscribed);
        Err(todo("set_subscribed"))
    }

    pub(crate) fn set_metadata(
        &self,
        on: MetadataOwner,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), StorageError> {
        let _ = (on, user, changes);
        Err(todo("set_metadata"))
    }

    pub(crate) fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError> {
        let _ = (account, name);
        Err(todo("subscribe"))
    }

    pub(crate) fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError> {
        let _ = (account, name);
        Err(todo("unsubscribe"))
    }

    pub(crate) fn urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let _ = (folder, user, create);
        Err(todo("urlauth_key"))
    }

    pub(crate) fn reset_urlauth_key(
        &self,
        folder: FolderId,
        user: &str,
    ) -> Result<(), StorageError> {
        let _ = (folder, user);
        Err(todo("reset_urlauth_key"))
    }

    pub(crate) fn next_queue_id(&self) -> Result<QueueId, StorageError> {
        Err(todo("next_queue_id"))
    }

    pub(crate) fn queue_get(
        &self,
        queue: QueueName,
        id: QueueId,
    ) -> Result<Option<QueueRecord>, StorageError> {
        let _ = (queue, id);
        Err(todo("queue_get"))
    }

    pub(crate) fn queue_find(&self, id: QueueId) -> Result<Option<QueueRecord>, StorageError> {
        let _ = (id,);
        Err(todo("queue_find"))
    }

    pub(crate) fn queue_list(&self, queue: QueueName) -> Result<Vec<QueueRecord>, StorageError> {
        let _ = (queue,);
        Err(todo("queue_list"))
    }

    pub(crate) fn queue_depth(&self, queue: QueueName) -> Result<usize, StorageError> {
        let _ = (queue,);
        Err(todo("queue_depth"))
    }

    pub(crate) fn queue_put(&self, rec: &QueueRecord) -> Result<(), StorageError> {
        let _ = (rec,);
        Err(todo("queue_put"))
    }

    pub(crate) fn queue_replace(
        &self,
        from: QueueName,
        id: QueueId,
        new_records: &[QueueRecord],
    ) -> Result<(), StorageError> {
        let _ = (from, id, new_records);
        Err(todo("queue_replace"))
    }

    pub(crate) fn queue_move(
        &self,
        id: QueueId,
        from: QueueName,
        to: QueueName,
    ) -> Result<(), StorageError> {
        let _ = (id, from, to);
        Err(todo("queue_move"))
    }

    pub(crate) fn queue_delete(&self, queue: QueueName, id: QueueId) -> Result<(), StorageError> {
        let _ = (queue, id);
        Err(todo("queue_delete"))
    }
}

impl PgStore {
    pub(crate) fn sweep(&self, grace: std::time::Duration) -> Result<SweepReport, StorageError> {
        let _ = grace;
        Err(todo("sweep"))
    }
}

impl PgStore {
    pub(crate) fn changed_since(
        &self,
        folder: FolderId,
        modseq: u64,
    ) -> Result<Vec<MessageRecord>, StorageError> {
        let _ = (folder, modseq);
        Err(todo("changed_since"))
    }

    pub(crate) fn heartbeat(&self) -> Result<(), StorageError> {
        Err(todo("heartbeat"))
    }

    pub(crate) fn queue_claim_startup(
        &self,
        queue: QueueName,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let _ = queue;
        Err(todo("queue_claim_startup"))
    }

    pub(crate) fn queue_claim_orphans(
        &self,
        queue: QueueName,
        max: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let _ = (queue, max);
        Err(todo("queue_claim_orphans"))
    }

    pub(crate) fn cluster_nodes(&self) -> Result<Vec<NodeInfo>, StorageError> {
        Err(todo("cluster_nodes"))
    }

    pub(crate) fn queue_leases(&self) -> Result<Vec<Lease>, StorageError> {
        Err(todo("queue_leases"))
    }

    pub(crate) fn watch(
        &self,
        on_event: Box<dyn Fn(ClusterEvent) + Send + Sync>,
    ) -> Result<(), StorageError> {
        let _ = on_event;
        Err(todo("watch"))
    }
}
