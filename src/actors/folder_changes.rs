//! What a folder's subscribers are told: [`MailboxChanged`], and (several nodes on one
//! database; see `storage::Cluster`) the bookkeeping that tells them of other nodes' changes.
//!
//! A folder actor is the one writer of its folder on its node, but other nodes write to the
//! same folder. They notify (`Cluster::watch`), and the server also polls the highest modseq
//! of every watched folder (notifications can be lost). Either way the folder's actor gets
//! [`Refresh`]; it reads what changed since the last modseq this node told its subscribers
//! about (`Folders::changed_since`, `Folders::expunged_since`) and broadcasts the same
//! [`MailboxChanged`] messages and account events as for its own writes.
//!
//! [`Known`] is that bookkeeping. The actor's own broadcasts go through it too, so that a
//! local change is not announced a second time as another node's: they are kept by modseq
//! until the diff passes them. The diff runs in the actor, between its writes, so a local
//! write is never half recorded when a diff reads. Announcing twice would be harmless to
//! IMAP sessions (an expunge of an unknown UID is ignored, a flag change not newer than what
//! the session holds is ignored, an arrival makes the session look for new UIDs), but it
//! would wake IDLE clients for nothing.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};

use actix::prelude::*;

use crate::storage::{Flags, FolderId, FolderState, MessageRecord};

/// Local modseqs remembered at most (on a node whose diffs never run, the oldest are
/// forgotten: at worst a change is announced twice).
const LOCAL_KEEP: usize = 10_000;

/// A change to a folder, broadcast to its subscribers after it is stored. Each names its
/// folder: a session subscribed to several folders over its life tells them apart.
#[derive(Message, Debug, Clone, PartialEq)]
#[rtype(result = "()")]
pub enum MailboxChanged {
    Added {
        folder: FolderId,
        uid: u32,
        modseq: u64,
    },
    Expunged {
        folder: FolderId,
        uids: Vec<u32>,
        modseq: u64,
    },
    Flags {
        folder: FolderId,
        uid: u32,
        flags: Flags,
        modseq: u64,
    },
}

/// What this node has told a folder's subscribers.
#[derive(Debug, Default, PartialEq)]
pub struct Known {
    /// Every change up to this modseq has been told.
    modseq: u64,
    /// Every UID below this one has been told as an arrival.
    uidnext: u32,
    /// This node's own changes above `modseq`: their modseq, with the UIDs they expunged.
    local: BTreeMap<u64, Vec<u32>>,
    /// This node's own arrivals at or above `uidnext` (another node's arrival came between).
    added: BTreeSet<u32>,
}

/// The bookkeeping of one open folder, shared by its actor and the registry (it outlives an
/// actor the watchdog makes anew, like the subscribers).
pub type SharedKnown = Arc<Mutex<Known>>;

impl Known {
    /// Starts from the folder as it is now: its subscribers read it after this.
    pub fn new(state: &FolderState) -> Known {
        Known {
            modseq: state.highest_modseq,
            uidnext: state.uidnext,
            ..Known::default()
        }
    }

    /// The modseq up to which everything was told.
    pub fn modseq(&self) -> u64 {
        self.modseq
    }

    /// Remembers a change this node made (and broadcast itself).
    pub fn local(&mut self, change: &MailboxChanged) {
        let modseq = match change {
            MailboxChanged::Added { uid, modseq, .. } => {
                if *uid >= self.uidnext {
                    self.added.insert(*uid);
                }
                *modseq
            }
            MailboxChanged::Flags { modseq, .. } | MailboxChanged::Expunged { modseq, .. } => {
                *modseq
            }
        };
        if modseq > self.modseq {
            let expunged = self.local.entry(modseq).or_default();
            if let MailboxChanged::Expunged { uids, .. } = change {
                expunged.extend_from_slice(uids);
            }
        }
        self.settle();
        while self.local.len() > LOCAL_KEEP {
            self.local.pop_first();
        }
        while self.added.len() > LOCAL_KEEP {
            self.added.pop_first();
        }
    }

    /// What another node did, from what changed since [`Known::modseq`] (`changed`, in UID
    /// order) and the UIDs expunged since then; `upto` is the folder's highest modseq as
    /// heard. Returns the changes to broadcast (arrivals and flag changes in UID order, then
    /// one expunge) and moves on past them.
    pub fn remote(
        &mut self,
        folder: FolderId,
        upto: u64,
        changed: Vec<MessageRecord>,
        expunged: Vec<u32>,
    ) -> Vec<MailboxChanged> {
        let mut out = Vec::new();
        let mut newest = upto.max(self.modseq);
        let mut uidnext = self.uidnext;
        for r in changed {
            newest = newest.max(r.modseq);
            uidnext = uidnext.max(r.uid.saturating_add(1));
            if r.modseq <= self.modseq || self.local.contains_key(&r.modseq) {
                continue;
            }
            if r.uid >= self.uidnext && !self.added.contains(&r.uid) {
                out.push(MailboxChanged::Added {
                    folder,
                    uid: r.uid,
                    modseq: r.modseq,
                });
            } else {
                out.push(MailboxChanged::Flags {
                    folder,
                    uid: r.uid,
                    flags: r.flags,
                    modseq: r.modseq,
                });
            }
        }
        let ours: HashSet<u32> = self.local.values().flatten().copied().collect();
        let uids: Vec<u32> = expunged.into_iter().filter(|u| !ours.contains(u)).collect();
        if !uids.is_empty() {
            out.push(MailboxChanged::Expunged {
                folder,
                uids,
                modseq: newest,
            });
        }
        // Everything up to `newest` is told now; arrivals of ours that were expunged since
        // are below the new UIDNEXT too (UIDs only grow).
        if let Some(last) = self.added.last() {
            uidnext = uidnext.max(last.saturating_add(1));
        }
        self.modseq = newest;
        self.uidnext = uidnext;
        self.local.retain(|m, _| *m > newest);
        self.added.retain(|u| *u >= uidnext);
        self.settle();
        out
    }

    /// Moves past this node's own changes that directly follow what was told: nothing of
    /// another node's can lie between, so no diff is needed for them.
    fn settle(&mut self) {
        while let Some(entry) = self.local.first_entry() {
            if *entry.key() != self.modseq + 1 {
                break;
            }
            self.modseq += 1;
            entry.remove();
        }
        while self.added.first() == Some(&self.uidnext) {
            self.added.pop_first();
            self.uidnext += 1;
        }
    }
}

#[cfg(test)]
#[path = "folder_changes_tests.rs"]
mod tests;
