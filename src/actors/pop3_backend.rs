//! The POP3 session's [`Backend`], over storage and the INBOX's folder actor, and the
//! server-wide state POP3 sessions share: the maildrop locks and the octet counts.
//!
//! - Locks (RFC 1939 §8: one session per maildrop): an in-memory set of account addresses
//!   in the [`ServerContext`]; a [`MaildropLock`] leaves it on drop, so a session that ends
//!   in any way (QUIT, timeout, lost connection, panic) releases its maildrop.
//! - Octet counts: a message's size as POP3 sends it differs from the stored size when it
//!   holds bare LFs (an IMAP APPEND may store them). Bodies are content-addressed and never
//!   change, so the count is computed once per body and kept in a bounded map.
//! - UPDATE goes through the folder actor (`UpdateMaildrop`: \Seen on the retrieved and the
//!   expunge of exactly the DELE'd UIDs, in one transaction), which tells IMAP sessions;
//!   then the store is flushed before +OK.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::folder::{FolderError, UpdateMaildrop};
use super::imap_backend::{ask_folder, AskError};
use super::supervisor::lock;
use super::ServerContext;
use crate::protocols::pop3::backend::{Backend, BackendError, Maildrop, MessageInfo, Update};
use crate::protocols::pop3::message::wire_size;
use crate::storage::{BlobId, FolderId, MessageRecord, StorageError};

/// Bodies whose octet count is remembered; past this the map starts over.
const SIZE_CACHE_ENTRIES: usize = 200_000;

/// What POP3 sessions share, in the [`ServerContext`].
#[derive(Debug, Default)]
pub struct Pop3Shared {
    locks: Arc<Mutex<HashSet<String>>>,
    sizes: Mutex<HashMap<BlobId, u64>>,
}

/// One session's hold on a maildrop; released on drop.
#[derive(Debug)]
pub struct MaildropLock {
    locks: Arc<Mutex<HashSet<String>>>,
    account: String,
}

impl Drop for MaildropLock {
    fn drop(&mut self) {
        lock(&self.locks).remove(&self.account);
    }
}

impl Pop3Shared {
    /// Takes `account`'s maildrop, or `None` when another session holds it.
    pub fn try_lock(&self, account: &str) -> Option<MaildropLock> {
        let account = account.to_ascii_lowercase();
        lock(&self.locks)
            .insert(account.clone())
            .then(|| MaildropLock {
                locks: self.locks.clone(),
                account,
            })
    }

    /// The octet count of a stored message as POP3 sends it.
    fn wire_size(&self, ctx: &ServerContext, m: &MessageRecord) -> Result<u64, StorageError> {
        if let Some(n) = lock(&self.sizes).get(&m.blob) {
            return Ok(*n);
        }
        let n = match ctx.store.blobs().get(&m.blob) {
            Ok(body) => wire_size(&body),
            // A body lost in a crash (the start-up sweep flags the message): the maildrop
            // still opens, with the recorded size; RETR of it answers -ERR.
            Err(StorageError::NotFound(_)) => {
                tracing::warn!(blob = %m.blob, uid = m.uid, "message body missing: listed with its recorded size");
                return Ok(m.size);
            }
            Err(e) => return Err(e),
        };
        let mut sizes = lock(&self.sizes);
        if sizes.len() >= SIZE_CACHE_ENTRIES {
            sizes.clear();
        }
        sizes.insert(m.blob, n);
        Ok(n)
    }
}

/// One POP3 session's backend: holds the lock from login to the end of the session.
pub struct Pop3StoreBackend {
    pub ctx: Arc<ServerContext>,
    inbox: Option<FolderId>,
    held: Option<MaildropLock>,
}

impl Pop3StoreBackend {
    pub fn new(ctx: Arc<ServerContext>) -> Pop3StoreBackend {
        Pop3StoreBackend {
            ctx,
            inbox: None,
            held: None,
        }
    }

    fn folder(&self) -> Result<FolderId, BackendError> {
        self.inbox
            .ok_or_else(|| BackendError::Permanent("no maildrop open".into()))
    }

    /// Sends a message to the INBOX's actor and waits for the answer.
    fn ask<M>(&self, msg: M) -> Result<M::Result, BackendError>
    where
        M: actix::Message + Send + 'static,
        M::Result: Send,
        super::folder::MailboxFolderActor: actix::Handler<M>,
    {
        ask_folder(&self.ctx, self.folder()?, msg).map_err(|e| match e {
            AskError::Folder(f) => folder_err(f),
            AskError::Mailbox(m) => BackendError::Unavailable(format!("folder actor: {m}")),
        })
    }
}

fn err(e: StorageError) -> BackendError {
    match e {
        StorageError::NotFound(m) => BackendError::Gone(format!("{m} not found")),
        other => {
            tracing::error!("storage: {other}");
            BackendError::Unavailable("Storage error, try again later".into())
        }
    }
}

fn folder_err(e: FolderError) -> BackendError {
    match e {
        FolderError::Storage(s) => err(s),
        other => BackendError::Unavailable(other.to_string()),
    }
}

impl Backend for Pop3StoreBackend {
    fn open(&mut self, account: &str) -> Result<Maildrop, BackendError> {
        let store = &self.ctx.store;
        let Some(inbox) = store.folder_id(account, "INBOX").map_err(err)? else {
            return Err(BackendError::Permanent(format!("{account} has no INBOX")));
        };
        let Some(held) = self.ctx.pop3.try_lock(account) else {
            return Err(BackendError::InUse(
                "Maildrop is in use by another POP3 session".into(),
            ));
        };
        let uidvalidity = store.folder_state(inbox).map_err(err)?.uidvalidity;
        let mut messages = Vec::new();
        for m in store.list_messages(inbox).map_err(err)? {
            let size = self.ctx.pop3.wire_size(&self.ctx, &m).map_err(err)?;
            messages.push(MessageInfo { uid: m.uid, size });
        }
        tracing::info!(account, messages = messages.len(), "maildrop opened");
        self.inbox = Some(inbox);
        self.held = Some(held);
        Ok(Maildrop {
            uidvalidity,
            messages,
        })
    }

    fn message(&mut self, uid: u32) -> Result<Vec<u8>, BackendError> {
        let folder = self.folder()?;
        let m = self
            .ctx
            .store
            .get_message(folder, uid)
            .map_err(err)?
            .ok_or_else(|| BackendError::Gone(format!("message {uid} not found")))?;
        self.ctx.store.blobs().get(&m.blob).map_err(err)
    }

    fn commit(&mut self, update: &Update) -> Result<(), BackendError> {
        if !update.seen.is_empty() || !update.deleted.is_empty() {
            self.ask(UpdateMaildrop {
                seen: update.seen.clone(),
                deleted: update.deleted.clone(),
            })?
            .map_err(folder_err)?;
        }
        // Durable before +OK (docs/architecture.md §3).
        self.ctx.store.commit().map_err(err)?;
        tracing::info!(
            expunged = update.deleted.len(),
            seen = update.seen.len(),
            "maildrop updated"
        );
        Ok(())
    }

    fn release(&mut self) {
        self.held = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_lock_per_account_released_on_drop() {
        let shared = Pop3Shared::default();
        let a = shared.try_lock("bob@example.com").expect("free");
        assert!(shared.try_lock("Bob@Example.com").is_none(), "held");
        let other = shared.try_lock("alice@example.com");
        assert!(other.is_some());
        drop(a);
        assert!(shared.try_lock("bob@example.com").is_some(), "released");
    }
}
