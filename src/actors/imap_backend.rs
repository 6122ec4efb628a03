//! The IMAP session's [`Backend`], over storage and the folder actors.
//!
//! Reads go to storage directly (index reads and body files). Changes to a folder's messages
//! go through its `MailboxFolderActor` (the one writer, which also tells every other session);
//! the session thread waits for the actor's answer. Folder actors live on the folder arbiters,
//! sessions on the session arbiters, so waiting cannot deadlock; the wait is one storage
//! transaction long.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use super::account_events::{AccountChanged, AccountEvent};
use super::folder::{
    AppendMessages, ClaimRecent, CopyMessages, DeleteFolder, Expunge, FolderError, RenameFolder,
    ReplaceMessage, StoreFlags,
};
use super::ServerContext;
use crate::protocols::imap::backend::{
    Backend, BackendError, FlagOp, FolderInfo, FolderRef, MessageMeta, NewMessage, QuotaInfo,
    StagedBody, StagedMessage, StoreOutcome,
};
use crate::storage::{self, FlagMode, Flags, FolderState, StorageError};

pub struct StoreBackend {
    pub ctx: Arc<ServerContext>,
}

/// The records of the messages the protocol said it will read next
/// ([`Backend::will_read`]), as they were then; a UID asked for and absent maps to `None`.
/// Kept per thread: the protocol gives the hint and reads the messages within one call on
/// one thread, and ends the hint before it returns (`protocols::imap::backend::ReadAhead`).
struct ReadAhead {
    /// Whose store ([`ServerContext`]'s address) and which folder.
    ctx: usize,
    folder: FolderRef,
    records: HashMap<u32, Option<storage::MessageRecord>>,
}

thread_local! {
    static READ_AHEAD: RefCell<Option<ReadAhead>> = const { RefCell::new(None) };
}

impl StoreBackend {
    /// A message's index record, from what [`Backend::will_read`] looked up if it asked
    /// for it, else from storage; `None` when the folder has no such UID.
    fn lookup(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<Option<storage::MessageRecord>, BackendError> {
        let me = Arc::as_ptr(&self.ctx) as usize;
        let ahead = READ_AHEAD.with_borrow(|ahead| match ahead {
            Some(a) if a.ctx == me && a.folder == folder => a.records.get(&uid).cloned(),
            _ => None,
        });
        match ahead {
            Some(found) => Ok(found),
            None => self.ctx.store.get_message(folder, uid).map_err(err),
        }
    }

    /// A message's index record; NotFound when the folder has no such UID.
    fn message_record(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<storage::MessageRecord, BackendError> {
        self.lookup(folder, uid)?
            .ok_or_else(|| BackendError::NotFound(format!("message {uid}")))
    }
}

/// Why [`ask_folder`] got no answer.
pub(super) enum AskError {
    /// The folder's actor could not be found or started.
    Folder(FolderError),
    /// It did not answer (restarting, or stopped).
    Mailbox(actix::MailboxError),
}

/// Sends `msg` to the folder's actor and waits for its answer. Sessions run on the session
/// arbiters, folder actors on the folder arbiters, so waiting cannot deadlock; the wait is one
/// storage transaction long.
pub(super) fn ask_folder<M>(
    ctx: &Arc<ServerContext>,
    folder: FolderRef,
    msg: M,
) -> Result<M::Result, AskError>
where
    M: actix::Message + Send + 'static,
    M::Result: Send,
    super::folder::MailboxFolderActor: actix::Handler<M>,
{
    let addr = ctx.folders.get(ctx, folder).map_err(AskError::Folder)?;
    futures_executor::block_on(addr.send(msg)).map_err(AskError::Mailbox)
}

fn err(e: StorageError) -> BackendError {
    match e {
        StorageError::NotFound(m) => BackendError::NotFound(format!("{m} not found")),
        StorageError::Exists(m) => BackendError::Exists(format!("{m} already exists")),
        StorageError::Invalid(m) => BackendError::Invalid(m),
        StorageError::Conflict(m) => BackendError::Conflict(m),
        StorageError::OverQuota { resource } => BackendError::OverQuota(resource),
        other => {
            tracing::error!("storage: {other}");
            BackendError::Unavailable("storage error".into())
        }
    }
}

fn folder_err(e: FolderError) -> BackendError {
    match e {
        FolderError::Storage(s) => err(s),
        other => BackendError::Unavailable(other.to_string()),
    }
}

impl StoreBackend {
    fn publish(&self, account: &str, event: AccountChanged) {
        self.ctx.account_events.publish(account, event);
    }

    /// One event for the changed entries: to the folder's owner (server entries: to all).
    fn publish_metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) {
        let entries: Vec<String> = changes.iter().map(|(e, _)| e.clone()).collect();
        let private_to = Some(user.to_string());
        match folder {
            None => {
                self.ctx
                    .account_events
                    .publish_server(AccountChanged(AccountEvent::Metadata {
                        mailbox: None,
                        entries,
                        private_to,
                    }))
            }
            Some(id) => {
                let Ok(f) = self.ctx.store.folder_state(id) else {
                    return;
                };
                let event = AccountChanged(AccountEvent::Metadata {
                    mailbox: Some((f.account.clone(), f.name.clone())),
                    entries,
                    private_to,
                });
                self.publish(&f.account, event);
            }
        }
    }

    fn info(&self, f: FolderState) -> FolderInfo {
        let recent = self.ctx.store.recent_count(f.id).unwrap_or(0);
        FolderInfo {
            id: f.id,
            owner: f.account,
            name: f.name,
            special_use: f.special_use,
            uidvalidity: f.uidvalidity,
            uidnext: f.uidnext,
            highest_modseq: f.highest_modseq,
            exists: f.exists,
            unseen: f.unseen,
            deleted: f.deleted,
            size: f.size,
            recent,
            subscribed: f.subscribed,
            noselect: f.noselect,
        }
    }

    /// Sends a message to the folder's actor and waits for the answer.
    fn ask<M>(&self, folder: FolderRef, msg: M) -> Result<M::Result, BackendError>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        super::folder::MailboxFolderActor: actix::Handler<M>,
    {
        ask_folder(&self.ctx, folder, msg).map_err(|e| match e {
            AskError::Folder(f) => folder_err(f),
            AskError::Mailbox(m) => BackendError::Unavailable(format!("folder actor: {m}")),
        })
    }
}

fn meta(m: storage::MessageRecord) -> MessageMeta {
    MessageMeta {
        uid: m.uid,
        flags: m.flags.system,
        keywords: m.flags.keywords,
        size: m.size,
        internal_date: m.internal_date,
        modseq: m.modseq,
        save_date: m.save_date,
    }
}

impl Backend for StoreBackend {
    fn folders(&self, owner: &str) -> Result<Vec<FolderInfo>, BackendError> {
        let list = self.ctx.store.list_folders(owner).map_err(err)?;
        Ok(list.into_iter().map(|f| self.info(f)).collect())
    }

    fn shared_folders(&self, user: &str) -> Result<Vec<FolderInfo>, BackendError> {
        let list = self.ctx.store.folders_visible_to(user).map_err(err)?;
        Ok(list.into_iter().map(|f| self.info(f)).collect())
    }

    fn folder(&self, id: FolderRef) -> Result<FolderInfo, BackendError> {
        Ok(self.info(self.ctx.store.folder_state(id).map_err(err)?))
    }

    fn find_folder(&self, owner: &str, name: &str) -> Result<Option<FolderInfo>, BackendError> {
        let Some(id) = self.ctx.store.folder_id(owner, name).map_err(err)? else {
            return Ok(None);
        };
        Ok(Some(self.folder(id)?))
    }

    fn account_exists(&self, address: &str) -> bool {
        matches!(self.ctx.store.get_account(address), Ok(Some(_)))
    }

    fn is_admin(&self, user: &str) -> bool {
        matches!(self.ctx.store.get_account(user), Ok(Some(a)) if a.admin)
    }

    fn rights(&self, folder: FolderRef, user: &str) -> Result<String, BackendError> {
        self.ctx.store.rights(folder, user).map_err(err)
    }

    fn acl(&self, folder: FolderRef) -> Result<Vec<(String, String)>, BackendError> {
        self.ctx.store.get_acl(folder).map_err(err)
    }

    fn quota(&self, account: &str) -> Result<QuotaInfo, BackendError> {
        let q = self.ctx.store.quota(account).map_err(err)?;
        Ok(QuotaInfo {
            storage_used: q.storage_used,
            storage_limit: q.storage_limit,
            messages_used: q.messages_used,
            messages_limit: q.messages_limit,
        })
    }

    fn messages(&self, folder: FolderRef) -> Result<Vec<MessageMeta>, BackendError> {
        let list = self.ctx.store.list_messages(folder).map_err(err)?;
        Ok(list.into_iter().map(meta).collect())
    }

    fn messages_from(
        &self,
        folder: FolderRef,
        first_uid: u32,
    ) -> Result<Vec<MessageMeta>, BackendError> {
        let list = self
            .ctx
            .store
            .messages_from(folder, first_uid)
            .map_err(err)?;
        Ok(list.into_iter().map(meta).collect())
    }

    fn will_read(&self, folder: FolderRef, uids: &[u32]) {
        READ_AHEAD.set(None);
        if uids.is_empty() {
            return;
        }
        // A failed lookup leaves nothing read ahead: each message is then looked up alone
        // and its own error reported there.
        if let Ok(found) = self.ctx.store.get_messages(folder, uids) {
            let mut records: HashMap<u32, Option<storage::MessageRecord>> =
                uids.iter().map(|u| (*u, None)).collect();
            for m in found {
                records.insert(m.uid, Some(m));
            }
            READ_AHEAD.set(Some(ReadAhead {
                ctx: Arc::as_ptr(&self.ctx) as usize,
                folder,
                records,
            }));
        }
    }

    fn message_meta(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<Option<MessageMeta>, BackendError> {
        Ok(self.lookup(folder, uid)?.map(meta))
    }

    fn now(&self) -> i64 {
        self.ctx.clock.now()
    }

    fn open_content(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<(u64, Box<dyn std::io::Read + Send>), BackendError> {
        let m = self.message_record(folder, uid)?;
        let path = self.ctx.store.blobs().path(&m.blob);
        let file = std::fs::File::open(&path)
            .and_then(|f| Ok((f.metadata()?.len(), f)))
            .map_err(|e| {
                tracing::error!("cannot read message {uid}: {e}");
                BackendError::Unavailable("cannot read the message".into())
            })?;
        Ok((file.0, Box::new(file.1)))
    }

    fn message_content(&self, folder: FolderRef, uid: u32) -> Result<Vec<u8>, BackendError> {
        let m = self.message_record(folder, uid)?;
        self.ctx.store.blobs().get(&m.blob).map_err(err)
    }

    fn message_header(&self, folder: FolderRef, uid: u32) -> Result<Vec<u8>, BackendError> {
        let m = self.message_record(folder, uid)?;
        let path = self.ctx.store.blobs().path(&m.blob);
        let header = self.ctx.headers.get(&m.blob, &path).map_err(|e| {
            tracing::error!("cannot read message {uid}: {e}");
            BackendError::Unavailable("cannot read the message".into())
        })?;
        Ok(header.to_vec())
    }

    fn sort_fields(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<std::sync::Arc<crate::protocols::imap::sort::SortInput>, BackendError> {
        let m = self.message_record(folder, uid)?;
        let path = self.ctx.store.blobs().path(&m.blob);
        self.ctx.headers.sort_fields(&m.blob, &path).map_err(|e| {
            tracing::error!("cannot read message {uid}: {e}");
            BackendError::Unavailable("cannot read the message".into())
        })
    }

    fn email_id(&self, folder: FolderRef, uid: u32) -> Result<String, BackendError> {
        let m = self.message_record(folder, uid)?;
        // The blob id is the sha256 of the bytes: the same EMAILID the content would give.
        Ok(crate::protocols::imap::objectid::email_id_from_digest(
            &m.blob.0,
        ))
    }

    fn expunged_since(&self, folder: FolderRef, modseq: u64) -> Result<Vec<u32>, BackendError> {
        self.ctx.store.expunged_since(folder, modseq).map_err(err)
    }

    fn claim_recent(&self, folder: FolderRef) -> Result<u32, BackendError> {
        self.ask(folder, ClaimRecent)?.map_err(folder_err)
    }

    fn append(
        &self,
        folder: FolderRef,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<u32>, BackendError> {
        // Bodies are written (and made durable, one wait for all) here, on the session's
        // thread; the folder actor only adds the index entries.
        let contents: Vec<&[u8]> = messages.iter().map(|m| m.content.as_slice()).collect();
        // The pins live until the folder actor's transaction has referenced the bodies.
        let (blobs, _pins) = self
            .ctx
            .store
            .blobs()
            .put_all_pinned(&contents)
            .map_err(err)?;
        let batch = messages
            .into_iter()
            .zip(blobs)
            .map(|(m, blob)| storage::NewMessage {
                blob,
                size: m.content.len() as u64,
                flags: Flags {
                    system: m.flags,
                    keywords: m.keywords,
                },
                internal_date: m.internal_date,
            })
            .collect();
        let uids = self
            .ask(folder, AppendMessages(batch))?
            .map_err(folder_err)?;
        // Durable before OK (docs/architecture.md §3).
        self.ctx.store.commit().map_err(err)?;
        Ok(uids)
    }

    fn stage(&self) -> Result<Box<dyn StagedBody>, BackendError> {
        let writer = self.ctx.store.blobs().writer().map_err(err)?;
        Ok(Box::new(StagedBlob(writer)))
    }

    fn append_staged(
        &self,
        folder: FolderRef,
        messages: Vec<StagedMessage>,
    ) -> Result<Vec<u32>, BackendError> {
        let mut writers = Vec::with_capacity(messages.len());
        let mut meta = Vec::with_capacity(messages.len());
        for m in messages {
            let Ok(staged) = m.body.into_any().downcast::<StagedBlob>() else {
                return Err(BackendError::Invalid("body staged elsewhere".into()));
            };
            writers.push(staged.0);
            meta.push((m.flags, m.keywords, m.internal_date));
        }
        // One wait makes every body durable; the pins are dropped after the append's
        // transaction, whatever its outcome (storage::BlobPin).
        let placed = self.ctx.store.blobs().finish_all(writers).map_err(err)?;
        let mut pins = Vec::with_capacity(placed.len());
        let mut batch: Vec<storage::NewMessage> = Vec::with_capacity(placed.len());
        for ((blob, size, pin), (system, keywords, internal_date)) in placed.into_iter().zip(meta) {
            pins.push(pin);
            batch.push(storage::NewMessage {
                blob,
                size,
                flags: Flags { system, keywords },
                internal_date,
            });
        }
        // One transaction for the whole batch: a MULTIAPPEND is all or nothing.
        let blobs: Vec<storage::BlobId> = batch.iter().map(|m| m.blob).collect();
        let appended = self.ask(folder, AppendMessages(batch));
        drop(pins);
        let uids = match appended {
            Ok(Ok(uids)) => uids,
            Ok(Err(e)) => {
                self.forget(blobs);
                return Err(folder_err(e));
            }
            Err(e) => {
                self.forget(blobs);
                return Err(e);
            }
        };
        // Durable before OK (docs/architecture.md §3).
        self.ctx.store.commit().map_err(err)?;
        Ok(uids)
    }

    fn store_flags(
        &self,
        folder: FolderRef,
        uids: &[u32],
        op: FlagOp,
        flags: u8,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, BackendError> {
        let mode = match op {
            FlagOp::Replace => FlagMode::Replace,
            FlagOp::Add => FlagMode::Add,
            FlagOp::Remove => FlagMode::Remove,
        };
        let r = self
            .ask(
                folder,
                StoreFlags {
                    uids: uids.to_vec(),
                    mode,
                    flags: Flags {
                        system: flags,
                        keywords: keywords.to_vec(),
                    },
                    unchanged_since,
                },
            )?
            .map_err(folder_err)?;
        Ok(StoreOutcome {
            changed: r
                .changed
                .into_iter()
                .map(|(u, f, m)| (u, f.system, f.keywords, m))
                .collect(),
            modified: r.modified,
        })
    }

    fn expunge(&self, folder: FolderRef, uids: &[u32]) -> Result<u64, BackendError> {
        let m = self
            .ask(
                folder,
                Expunge {
                    uids: uids.to_vec(),
                },
            )?
            .map_err(folder_err)?;
        self.ctx.store.commit().map_err(err)?;
        Ok(m)
    }

    fn replace(
        &self,
        from: FolderRef,
        uid: u32,
        to: FolderRef,
        message: NewMessage,
    ) -> Result<u32, BackendError> {
        let (blob, _pin) = self
            .ctx
            .store
            .blobs()
            .put_pinned(&message.content)
            .map_err(err)?;
        let message = storage::NewMessage {
            blob,
            size: message.content.len() as u64,
            flags: Flags {
                system: message.flags,
                keywords: message.keywords,
            },
            internal_date: message.internal_date,
        };
        let target = self.other_folder(from, to)?;
        let new = self
            .ask(
                from,
                ReplaceMessage {
                    uid,
                    to,
                    message,
                    target,
                },
            )?
            .map_err(folder_err)?;
        // Durable before OK (docs/architecture.md §3).
        self.ctx.store.commit().map_err(err)?;
        Ok(new)
    }

    fn copy(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        self.copy_or_move(from, uids, to, false)
    }

    fn move_messages(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        self.copy_or_move(from, uids, to, true)
    }

    fn create_folder(
        &self,
        owner: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderRef, BackendError> {
        let id = self
            .ctx
            .store
            .create_folder(owner, name, special_use)
            .map_err(err)?;
        self.ctx.store.commit().map_err(err)?;
        self.publish(
            owner,
            AccountChanged(AccountEvent::Created {
                owner: owner.to_string(),
                name: name.to_string(),
            }),
        );
        Ok(id)
    }

    fn delete_folder(&self, folder: FolderRef) -> Result<(), BackendError> {
        // The folder's subscription moves onto the owner's list in the same transaction.
        let f = self.ctx.store.folder_state(folder).map_err(err)?;
        self.ask(folder, DeleteFolder)?.map_err(folder_err)?;
        self.ctx.store.commit().map_err(err)?;
        self.publish(
            &f.account,
            AccountChanged(AccountEvent::Deleted {
                owner: f.account.clone(),
                name: f.name,
            }),
        );
        Ok(())
    }

    fn rename_folder(&self, folder: FolderRef, new_name: &str) -> Result<(), BackendError> {
        let f = self.ctx.store.folder_state(folder).map_err(err)?;
        let to = new_name.to_string();
        self.ask(folder, RenameFolder { to })?.map_err(folder_err)?;
        self.ctx.store.commit().map_err(err)?;
        // Renaming INBOX moves its messages to a new mailbox and leaves INBOX in place
        // (RFC 9051 §6.3.6): for watchers that is a new mailbox.
        let event = if f.name == "INBOX" {
            AccountChanged(AccountEvent::Created {
                owner: f.account.clone(),
                name: new_name.to_string(),
            })
        } else {
            AccountChanged(AccountEvent::Renamed {
                owner: f.account.clone(),
                from: f.name,
                to: new_name.to_string(),
            })
        };
        self.publish(&f.account, event);
        Ok(())
    }

    fn set_subscribed(&self, folder: FolderRef, subscribed: bool) -> Result<(), BackendError> {
        self.ctx
            .store
            .set_subscribed(folder, subscribed)
            .map_err(err)
    }

    fn subscription_list(&self, user: &str) -> Result<Vec<String>, BackendError> {
        self.ctx.store.subscriptions(user).map_err(err)
    }

    fn set_subscription(&self, user: &str, name: &str, on: bool) -> Result<(), BackendError> {
        if on {
            self.ctx.store.subscribe(user, name).map_err(err)?;
        } else {
            self.ctx.store.unsubscribe(user, name).map_err(err)?;
        }
        self.publish(
            user,
            AccountChanged(AccountEvent::Subscription {
                user: user.to_string(),
                name: name.to_string(),
                on,
            }),
        );
        Ok(())
    }

    fn set_acl(
        &self,
        folder: FolderRef,
        identifier: &str,
        rights: &str,
    ) -> Result<(), BackendError> {
        self.ctx
            .store
            .set_acl(folder, identifier, rights)
            .map_err(err)?;
        self.ctx.store.commit().map_err(err)
    }

    fn delete_acl(&self, folder: FolderRef, identifier: &str) -> Result<(), BackendError> {
        self.ctx.store.delete_acl(folder, identifier).map_err(err)?;
        self.ctx.store.commit().map_err(err)
    }

    fn metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        self.ctx
            .store
            .metadata(Self::metadata_owner(folder), user)
            .map_err(err)
    }

    fn set_metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), BackendError> {
        let store = &self.ctx.store;
        store
            .set_metadata(Self::metadata_owner(folder), user, changes)
            .map_err(err)?;
        // RFC 5464 gives no weaker promise than any other change: durable before OK.
        store.commit().map_err(err)?;
        self.publish_metadata(folder, user, changes);
        Ok(())
    }

    fn urlauth_key(
        &self,
        folder: FolderRef,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let store = &self.ctx.store;
        let existing = store.urlauth_key(folder, user, false).map_err(err)?;
        if existing.is_some() || !create {
            return Ok(existing);
        }
        let key = store.urlauth_key(folder, user, true).map_err(err)?;
        // A URL made with a key that a crash would lose would stop working: durable first.
        store.commit().map_err(err)?;
        Ok(key)
    }

    fn reset_urlauth_key(&self, folder: FolderRef, user: &str) -> Result<(), BackendError> {
        let store = &self.ctx.store;
        store.reset_urlauth_key(folder, user).map_err(err)?;
        store.commit().map_err(err)
    }

    fn set_quota(
        &self,
        account: &str,
        storage: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), BackendError> {
        self.ctx
            .store
            .set_quota(account, storage, messages)
            .map_err(err)?;
        self.ctx.store.commit().map_err(err)
    }
}

/// An APPEND body staged in the blob store's tmp directory (see `Backend::stage`).
struct StagedBlob(storage::BlobWriter);

impl StagedBody for StagedBlob {
    fn write(&mut self, bytes: &[u8]) -> Result<(), BackendError> {
        self.0.write(bytes).map_err(err)
    }
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn contents(&self) -> Result<Vec<u8>, BackendError> {
        self.0.contents().map_err(err)
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

impl StoreBackend {
    fn metadata_owner(folder: Option<FolderRef>) -> storage::MetadataOwner {
        folder.map_or(
            storage::MetadataOwner::Server,
            storage::MetadataOwner::Folder,
        )
    }

    /// The bodies of an append that failed: nothing refers to them, so their files go
    /// (unless another append stored the same content meanwhile: the removal checks).
    fn forget(&self, blobs: Vec<storage::BlobId>) {
        self.ctx.store.collect_after_commit(&blobs);
    }

    /// The actor of `to` when it differs from `from` (COPY, MOVE and REPLACE into another
    /// folder: `from`'s actor hands the change on to it), else `None`.
    fn other_folder(
        &self,
        from: FolderRef,
        to: FolderRef,
    ) -> Result<Option<actix::Addr<super::folder::MailboxFolderActor>>, BackendError> {
        if from == to {
            return Ok(None);
        }
        self.ctx
            .folders
            .get(&self.ctx, to)
            .map(Some)
            .map_err(folder_err)
    }

    fn copy_or_move(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
        remove: bool,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        let target = self.other_folder(from, to)?;
        let pairs = self
            .ask(
                from,
                CopyMessages {
                    uids: uids.to_vec(),
                    to,
                    remove,
                    target,
                },
            )?
            .map_err(folder_err)?;
        self.ctx.store.commit().map_err(err)?;
        Ok(pairs)
    }
}
