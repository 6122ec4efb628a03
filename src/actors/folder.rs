//! `MailboxFolderActor`: the one writer of a folder (docs/architecture.md §3). It assigns UIDs and
//! modseqs through storage's single-transaction operations and broadcasts a typed
//! [`MailboxChanged`] to every subscribed session after each change.
//!
//! One actor per open folder, started on demand by [`FolderRegistry`] on a folder arbiter
//! under `actix::Supervisor`; a panic in a handler is contained (`supervisor::guarded`),
//! answered with an error and the actor restarts with its state reloaded from storage.
//! A panic that escapes (outside `guarded`) ends the actor for good; the registry's
//! watchdog starts a new one on the next use. The subscriber list lives in the registry,
//! not in the actor, so the sessions in IDLE keep hearing of changes from the new actor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::prelude::*;

use super::account_events::AccountChanged;
use super::supervisor::{apply_backoff, guarded, lock};
use super::ServerContext;
use crate::protocols::imap::notify::{AccountEvent, MessageKind};
use crate::storage::{
    FlagMode, Flags, FolderId, FolderWriter, NewMessage, QueueId, QueueName, StorageError,
    StoreResult,
};

pub use super::folder_changes::MailboxChanged;
use super::folder_changes::{Known, SharedKnown};

#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Failed(#[from] super::supervisor::Panicked),
    #[error("folder actor unavailable: {0}")]
    Unavailable(String),
}

/// Append a message (local delivery, APPEND). Sent by the local queue and sessions; the reply
/// is the new (UID, modseq). With `consume`, the queue recipient is marked delivered in the
/// same transaction, so a retried delivery can never duplicate (StorageError::Conflict, or
/// Gone when the record is no longer queued). `seen` is the consumed record as the sender
/// last saw it ([`crate::storage::FolderWrites::append_delivery`]); it never changes the
/// result, only how many statements it takes.
#[derive(Message, Debug)]
#[rtype(result = "Result<(u32, u64), FolderError>")]
pub struct AppendMessage {
    pub message: NewMessage,
    pub consume: Option<(QueueName, QueueId, usize)>,
    pub seen: Option<std::sync::Arc<crate::storage::QueueRecord>>,
}

/// Replace a message's flags. Reply: the new modseq.
#[derive(Message, Debug)]
#[rtype(result = "Result<u64, FolderError>")]
pub struct SetFlags {
    pub uid: u32,
    pub flags: Flags,
}

/// Remove messages. Reply: the new modseq.
#[derive(Message, Debug)]
#[rtype(result = "Result<u64, FolderError>")]
pub struct Expunge {
    pub uids: Vec<u32>,
}

/// Subscribe a session to this folder's changes (IMAP IDLE, webmail, EAS Ping).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe(pub Recipient<MailboxChanged>);

/// Stop telling a session about this folder's changes (IMAP UNAUTHENTICATE).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Unsubscribe(pub Recipient<MailboxChanged>);

pub struct MailboxFolderActor {
    id: FolderId,
    /// The owning account ("" for public folders), whose account-event listeners hear of
    /// every change here.
    owner: String,
    path: String,
    ctx: Arc<ServerContext>,
    /// The folder writes (from the registry): this actor is the folder's one writer.
    writer: FolderWriter,
    subscribers: Subscribers,
    /// What this node has told the subscribers, when other nodes share the folder (see
    /// [`Known`]); `None` on a single node.
    known: Option<SharedKnown>,
    /// Messages handled since the last idle check.
    handled: u64,
}

/// How often an open folder actor checks whether it is still needed; one with no
/// subscribers that handled nothing for a whole period stops (issue 3: "stopped when idle").
pub const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(300);

impl MailboxFolderActor {
    /// Tells the subscribers and the account's listeners of a change this node made, and
    /// remembers it so that it is not announced again as another node's.
    fn broadcast(&mut self, change: MailboxChanged) {
        if let Some(known) = &self.known {
            lock(known).local(&change);
        }
        self.publish(change);
    }

    /// Tells the subscribers and the account's listeners of a change.
    fn publish(&mut self, change: MailboxChanged) {
        // Test hook: a panic outside `guarded`, which ends the actor for good.
        self.ctx.faults.hit("folder.broadcast");
        self.handled += 1;
        {
            let mut subscribers = lock(&self.subscribers);
            subscribers.retain(|s| s.connected());
            for s in subscribers.iter() {
                s.do_send(change.clone());
            }
        }
        let (folder, kind) = match change {
            MailboxChanged::Added { folder, .. } => (folder, MessageKind::New),
            MailboxChanged::Expunged { folder, .. } => (folder, MessageKind::Expunge),
            MailboxChanged::Flags { folder, .. } => (folder, MessageKind::Flags),
        };
        self.ctx.account_events.publish(
            &self.owner,
            AccountChanged(AccountEvent::Message { folder, kind }),
        );
    }
}

impl Actor for MailboxFolderActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        apply_backoff(&self.ctx.registry, &self.path, ctx);
        ctx.run_interval(IDLE_CHECK, |act, ctx| {
            let unwatched = {
                let mut subscribers = lock(&act.subscribers);
                subscribers.retain(|s| s.connected());
                subscribers.is_empty()
            };
            if act.handled == 0 && unwatched {
                // Leave the registry first, so the next user starts a fresh actor.
                act.ctx.folders.forget(act.id);
                act.ctx.registry.unregister(&act.path);
                ctx.stop();
            }
            act.handled = 0;
        });
    }
}

impl Supervised for MailboxFolderActor {
    /// All folder state lives in storage; the subscriber list is in the registry, so
    /// sessions keep their subscription across a restart.
    fn restarting(&mut self, _ctx: &mut Self::Context) {
        tracing::info!(actor = %self.path, "restarting");
    }
}

impl Handler<AppendMessage> for MailboxFolderActor {
    type Result = Result<(u32, u64), FolderError>;

    fn handle(&mut self, msg: AppendMessage, ctx: &mut Self::Context) -> Self::Result {
        let (store, faults, id) = (self.writer.clone(), &self.ctx.faults, self.id);
        let (uid, modseq) = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            faults.hit("folder.append");
            match (msg.consume, &msg.seen) {
                (Some((queue, rec_id, rcpt)), Some(seen))
                    if seen.queue == queue && seen.id == rec_id =>
                {
                    store.append_delivery(id, msg.message, seen, rcpt)
                }
                (consume, _) => store.append_message(id, msg.message, consume),
            }
        })??;
        self.broadcast(MailboxChanged::Added {
            folder: id,
            uid,
            modseq,
        });
        Ok((uid, modseq))
    }
}

impl Handler<SetFlags> for MailboxFolderActor {
    type Result = Result<u64, FolderError>;

    fn handle(&mut self, msg: SetFlags, ctx: &mut Self::Context) -> Self::Result {
        let (store, id) = (self.writer.clone(), self.id);
        let flags = msg.flags.clone();
        let modseq = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            store.set_flags(id, msg.uid, msg.flags)
        })??;
        self.broadcast(MailboxChanged::Flags {
            folder: id,
            uid: msg.uid,
            flags,
            modseq,
        });
        Ok(modseq)
    }
}

impl Handler<Expunge> for MailboxFolderActor {
    type Result = Result<u64, FolderError>;

    fn handle(&mut self, msg: Expunge, ctx: &mut Self::Context) -> Self::Result {
        let (store, id) = (self.writer.clone(), self.id);
        let uids = msg.uids.clone();
        let modseq = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            store.expunge(id, &msg.uids)
        })??;
        self.broadcast(MailboxChanged::Expunged {
            folder: id,
            uids,
            modseq,
        });
        Ok(modseq)
    }
}

impl Handler<Subscribe> for MailboxFolderActor {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _ctx: &mut Self::Context) {
        lock(&self.subscribers).push(msg.0);
    }
}

impl Handler<Unsubscribe> for MailboxFolderActor {
    type Result = ();

    fn handle(&mut self, msg: Unsubscribe, _ctx: &mut Self::Context) {
        lock(&self.subscribers).retain(|s| *s != msg.0);
    }
}

/// Append several messages at once (IMAP APPEND, MULTIAPPEND), in order, in one transaction:
/// all or none. Reply: the UIDs.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<u32>, FolderError>")]
pub struct AppendMessages(pub Vec<NewMessage>);

/// Change the flags of many messages in one transaction (IMAP STORE). Reply: what changed.
#[derive(Message, Debug)]
#[rtype(result = "Result<StoreResult, FolderError>")]
pub struct StoreFlags {
    pub uids: Vec<u32>,
    pub mode: FlagMode,
    pub flags: Flags,
    pub unchanged_since: Option<u64>,
}

/// Copy (or move, RFC 6851) messages of this folder into `to`, in one transaction. Reply:
/// (source uid, new uid) pairs. The target folder's actor is told to announce the arrivals.
#[derive(Message, Debug)]
#[rtype(result = "Result<Vec<(u32, u32)>, FolderError>")]
pub struct CopyMessages {
    pub uids: Vec<u32>,
    pub to: FolderId,
    pub remove: bool,
    pub target: Option<Addr<MailboxFolderActor>>,
}

/// Tell this folder's subscribers about a change made in another folder's transaction (the
/// target of a COPY or MOVE).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Announce(pub MailboxChanged);

impl Handler<AppendMessages> for MailboxFolderActor {
    type Result = Result<Vec<u32>, FolderError>;

    fn handle(&mut self, msg: AppendMessages, ctx: &mut Self::Context) -> Self::Result {
        let (store, faults, id) = (self.writer.clone(), &self.ctx.faults, self.id);
        let added = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            faults.hit("folder.append");
            // One transaction: all or none (RFC 3502 MULTIAPPEND; quota checked for all).
            store.append_messages(id, &msg.0)
        })??;
        let (uids, modseq) = added;
        for uid in &uids {
            self.broadcast(MailboxChanged::Added {
                folder: id,
                uid: *uid,
                modseq,
            });
        }
        Ok(uids)
    }
}

impl Handler<StoreFlags> for MailboxFolderActor {
    type Result = Result<StoreResult, FolderError>;

    fn handle(&mut self, msg: StoreFlags, ctx: &mut Self::Context) -> Self::Result {
        let (store, id) = (self.writer.clone(), self.id);
        let result = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            store.store_flags(id, &msg.uids, msg.mode, &msg.flags, msg.unchanged_since)
        })??;
        self.broadcast_flags(&result);
        Ok(result)
    }
}

impl MailboxFolderActor {
    fn broadcast_flags(&mut self, result: &StoreResult) {
        for (uid, flags, modseq) in &result.changed {
            self.broadcast(MailboxChanged::Flags {
                folder: self.id,
                uid: *uid,
                flags: flags.clone(),
                modseq: *modseq,
            });
        }
    }
}

/// POP3 UPDATE (RFC 1939 §6): `\Seen` on `seen` and the expunge of `deleted`, in one
/// transaction (`FolderWriter::update_maildrop`): never flagged but not expunged.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), FolderError>")]
pub struct UpdateMaildrop {
    pub seen: Vec<u32>,
    pub deleted: Vec<u32>,
}

impl Handler<UpdateMaildrop> for MailboxFolderActor {
    type Result = Result<(), FolderError>;

    fn handle(&mut self, msg: UpdateMaildrop, ctx: &mut Self::Context) -> Self::Result {
        let (store, faults, id) = (self.writer.clone(), &self.ctx.faults, self.id);
        let (flagged, modseq) = guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
            store.update_maildrop(id, &msg.seen, &msg.deleted, || {
                if faults.take("folder.maildrop.between") {
                    return Err(StorageError::Io(std::io::Error::other("fault injected")));
                }
                Ok(())
            })
        })??;
        self.broadcast_flags(&flagged);
        if !msg.deleted.is_empty() {
            self.broadcast(MailboxChanged::Expunged {
                folder: id,
                uids: msg.deleted,
                modseq,
            });
        }
        Ok(())
    }
}

impl Handler<CopyMessages> for MailboxFolderActor {
    type Result = Result<Vec<(u32, u32)>, FolderError>;

    fn handle(&mut self, msg: CopyMessages, ctx: &mut Self::Context) -> Self::Result {
        let (store, id) = (self.writer.clone(), self.id);
        let (pairs, expunge_modseq) =
            guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
                if msg.remove {
                    store
                        .move_messages(id, &msg.uids, msg.to)
                        .map(|(p, m)| (p, Some(m)))
                } else {
                    store
                        .copy_messages(id, &msg.uids, msg.to)
                        .map(|p| (p, None))
                }
            })??;
        if let Some(modseq) = expunge_modseq {
            self.broadcast(MailboxChanged::Expunged {
                folder: id,
                uids: pairs.iter().map(|(s, _)| *s).collect(),
                modseq,
            });
        }
        let announce = |change: MailboxChanged| {
            if let Some(t) = &msg.target {
                t.do_send(Announce(change));
            }
        };
        let modseq = self
            .ctx
            .store
            .folder_state(msg.to)
            .map(|f| f.highest_modseq)
            .unwrap_or(0);
        for (_, new) in &pairs {
            let change = MailboxChanged::Added {
                folder: msg.to,
                uid: *new,
                modseq,
            };
            if msg.to == id {
                self.broadcast(change);
            } else {
                announce(change);
            }
        }
        Ok(pairs)
    }
}

/// REPLACE (RFC 8508): expunge `uid` of this folder and append `message` to `to` in one
/// transaction. Reply: the new UID. `target` (the actor of `to`, when it is another folder)
/// is told to announce the arrival.
#[derive(Message, Debug)]
#[rtype(result = "Result<u32, FolderError>")]
pub struct ReplaceMessage {
    pub uid: u32,
    pub to: FolderId,
    pub message: NewMessage,
    pub target: Option<Addr<MailboxFolderActor>>,
}

impl Handler<ReplaceMessage> for MailboxFolderActor {
    type Result = Result<u32, FolderError>;

    fn handle(&mut self, msg: ReplaceMessage, ctx: &mut Self::Context) -> Self::Result {
        let (store, id) = (self.writer.clone(), self.id);
        let (new, expunged, added) =
            guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || {
                store.replace_message(id, msg.uid, msg.to, &msg.message)
            })??;
        self.broadcast(MailboxChanged::Expunged {
            folder: id,
            uids: vec![msg.uid],
            modseq: expunged,
        });
        let change = MailboxChanged::Added {
            folder: msg.to,
            uid: new,
            modseq: added,
        };
        match &msg.target {
            Some(t) if msg.to != id => t.do_send(Announce(change)),
            _ => self.broadcast(change),
        }
        Ok(new)
    }
}

impl MailboxFolderActor {
    /// Runs one write on this folder under `guarded` (a panic is counted and contained).
    fn write<R>(
        &self,
        ctx: &mut Context<Self>,
        work: impl FnOnce(&FolderWriter, FolderId) -> Result<R, StorageError>,
    ) -> Result<R, FolderError> {
        let (writer, id) = (&self.writer, self.id);
        guarded::<Self, _>(&self.ctx.registry, &self.path, ctx, || work(writer, id))?
            .map_err(FolderError::from)
    }
}

/// Claims the folder's \Recent messages for one session (RFC 3501 §2.3.2). Reply: the
/// first UID that is recent for it.
#[derive(Message, Debug)]
#[rtype(result = "Result<u32, FolderError>")]
pub struct ClaimRecent;

impl Handler<ClaimRecent> for MailboxFolderActor {
    type Result = Result<u32, FolderError>;

    fn handle(&mut self, _msg: ClaimRecent, ctx: &mut Self::Context) -> Self::Result {
        self.write(ctx, |w, id| w.claim_recent(id))
    }
}

/// Deletes the folder with its messages (see `FolderWrites::delete_folder`). The caller
/// commits and announces it to the account.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), FolderError>")]
pub struct DeleteFolder;

impl Handler<DeleteFolder> for MailboxFolderActor {
    type Result = Result<(), FolderError>;

    fn handle(&mut self, _msg: DeleteFolder, ctx: &mut Self::Context) -> Self::Result {
        self.write(ctx, |w, id| w.delete_folder(id))
    }
}

/// Renames the folder (and those below it) to `to`; renaming INBOX moves its messages to a
/// new folder `to` instead (RFC 9051 §6.3.6). The caller commits and announces it.
#[derive(Message, Debug)]
#[rtype(result = "Result<(), FolderError>")]
pub struct RenameFolder {
    pub to: String,
}

impl Handler<RenameFolder> for MailboxFolderActor {
    type Result = Result<(), FolderError>;

    fn handle(&mut self, msg: RenameFolder, ctx: &mut Self::Context) -> Self::Result {
        let state = self.ctx.store.folder_state(self.id)?;
        self.write(ctx, |w, id| {
            if state.name == "INBOX" {
                w.rename_inbox(&state.account, &msg.to).map(|_| ())
            } else {
                w.rename_folder(id, &msg.to)
            }
        })
    }
}

impl Handler<Announce> for MailboxFolderActor {
    type Result = ();

    fn handle(&mut self, msg: Announce, _ctx: &mut Self::Context) {
        self.broadcast(msg.0);
    }
}

/// Another node may have changed the folder: look and tell the subscribers. `modseq`: the
/// folder's highest modseq as notified (0: deleted or renamed), or `None` to read it.
#[derive(Message, Debug, Clone, Copy, PartialEq, Eq)]
#[rtype(result = "()")]
pub struct Refresh {
    pub modseq: Option<u64>,
}

impl Handler<Refresh> for MailboxFolderActor {
    type Result = ();

    fn handle(&mut self, msg: Refresh, ctx: &mut Self::Context) {
        let Some(known) = self.known.clone() else {
            return;
        };
        match self.refresh(&known, msg.modseq) {
            Ok(changes) => changes.into_iter().for_each(|c| self.publish(c)),
            Err(StorageError::NotFound(_)) => {
                // Deleted on another node: this actor has nothing left to serve. Its
                // sessions find the folder gone at their next command.
                tracing::info!(actor = %self.path, "folder deleted on another node");
                self.ctx.folders.forget(self.id);
                self.ctx.registry.unregister(&self.path);
                ctx.stop();
            }
            Err(e) => tracing::warn!(actor = %self.path, "reading other nodes' changes: {e}"),
        }
    }
}

impl MailboxFolderActor {
    /// The changes other nodes made since `known`, recorded as told.
    fn refresh(
        &self,
        known: &SharedKnown,
        heard: Option<u64>,
    ) -> Result<Vec<MailboxChanged>, StorageError> {
        let store = &self.ctx.store;
        let upto = match heard {
            Some(m) if m > 0 => m,
            // Deleted or renamed (or not said): the folder's own state tells.
            _ => store.folder_state(self.id)?.highest_modseq,
        };
        let from = lock(known).modseq();
        if upto <= from {
            return Ok(Vec::new());
        }
        let changed = store.changed_since(self.id, from)?;
        let expunged = store.expunged_since(self.id, from)?;
        Ok(lock(known).remote(self.id, upto, changed, expunged))
    }
}

/// The sessions subscribed to one folder. Kept by the registry, so that it outlives the
/// folder's actor: an actor the watchdog makes anew serves the same subscribers.
pub type Subscribers = Arc<Mutex<Vec<Recipient<MailboxChanged>>>>;

/// An open folder: its actor, its subscribers and (several nodes) what they were told.
struct OpenFolder {
    addr: Addr<MailboxFolderActor>,
    subscribers: Subscribers,
    known: Option<SharedKnown>,
}

/// Finds or starts the actor of a folder. A folder actor that died for good (its address
/// no longer connected) is started anew, with the old one's subscribers, and counted as a
/// restart: the watchdog half of supervision.
pub struct FolderRegistry {
    open: Mutex<HashMap<FolderId, OpenFolder>>,
    /// The store's folder writes, given to each folder actor it starts and to no one else.
    writer: FolderWriter,
    /// Whether other nodes write to the same folders (then each open folder keeps a
    /// [`Known`] to tell its subscribers of their changes).
    clustered: bool,
}

impl FolderRegistry {
    /// The registry owning `writer` (made once, at server start, with the store);
    /// `clustered` when other nodes share the store.
    pub fn new(writer: FolderWriter, clustered: bool) -> FolderRegistry {
        FolderRegistry {
            open: Mutex::default(),
            writer,
            clustered,
        }
    }

    /// The open folders that have subscribers on this node: those whose other nodes'
    /// changes matter here.
    pub fn watched(&self) -> Vec<FolderId> {
        let open = lock(&self.open);
        open.iter()
            .filter(|(_, o)| {
                let mut s = lock(&o.subscribers);
                s.retain(|r| r.connected());
                !s.is_empty()
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Another node changed `folder` (its highest modseq now `modseq`; `None`: look it
    /// up): its actor tells the subscribers, if the folder has any here.
    pub fn changed_elsewhere(
        &self,
        ctx: &Arc<ServerContext>,
        folder: FolderId,
        modseq: Option<u64>,
    ) {
        let addr = {
            let open = lock(&self.open);
            let Some(o) = open.get(&folder) else { return };
            if lock(&o.subscribers).is_empty() {
                return;
            }
            o.addr.connected().then(|| o.addr.clone())
        };
        // A dead actor is started anew (the watchdog), with the same subscribers.
        match addr.map_or_else(|| self.get(ctx, folder), Ok) {
            Ok(addr) => addr.do_send(Refresh { modseq }),
            Err(e) => tracing::warn!(folder, "cannot tell of another node's change: {e}"),
        }
    }

    /// Delete an account with all its folders (one transaction; see
    /// [`crate::storage::FolderWrites::del_account`]). The registry makes it because it owns the folder
    /// writes: a folder actor still open on one of those folders finds its folder gone at its
    /// next write and answers that it no longer exists.
    pub fn delete_account(&self, address: &str) -> Result<(), StorageError> {
        self.writer.del_account(address)
    }

    pub fn get(
        &self,
        ctx: &Arc<ServerContext>,
        id: FolderId,
    ) -> Result<Addr<MailboxFolderActor>, FolderError> {
        let mut open = lock(&self.open);
        let (subscribers, known) = match open.get(&id) {
            Some(o) if o.addr.connected() => return Ok(o.addr.clone()),
            Some(o) => (Some(o.subscribers.clone()), o.known.clone()),
            None => (None, None),
        };
        let state = ctx.store.folder_state(id)?;
        let known = match known {
            Some(k) => Some(k),
            None => self
                .clustered
                .then(|| Arc::new(Mutex::new(Known::new(&state)))),
        };
        let path = format!("folder/{}/{}", state.account, state.name);
        ctx.registry.register(&path, "folder");
        if subscribers.is_some() {
            ctx.registry
                .record_failure(&path, "the actor died; started anew by the watchdog");
            tracing::warn!(actor = %path, "folder actor died; started anew");
        }
        let subscribers = subscribers.unwrap_or_default();
        let actor_ctx = ctx.clone();
        let owner = state.account.clone();
        let shared = subscribers.clone();
        let writer = self.writer.clone();
        let actor_known = known.clone();
        let addr =
            Supervisor::start_in_arbiter(ctx.folder_arbiter(id), move |_| MailboxFolderActor {
                id,
                owner,
                path,
                ctx: actor_ctx,
                writer,
                subscribers: shared,
                known: actor_known,
                handled: 1,
            });
        open.insert(
            id,
            OpenFolder {
                addr: addr.clone(),
                subscribers,
                known,
            },
        );
        Ok(addr)
    }

    /// The folder writes, for integration tests that seed folders directly (test builds
    /// only: see `ServerContext::writers_for_tests`).
    #[cfg(feature = "fault-injection")]
    pub(crate) fn writer_for_tests(&self) -> &FolderWriter {
        &self.writer
    }

    pub fn open_count(&self) -> usize {
        lock(&self.open).len()
    }

    /// Drops the registry's handle on an idle folder actor (which then stops for good).
    pub fn forget(&self, id: FolderId) {
        lock(&self.open).remove(&id);
    }
}
