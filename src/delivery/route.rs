//! Routing rules: where the recipients of an inbound record go (local accounts, remote
//! addresses, the bad queue), and which folder a local delivery lands in.
//!
//! Plain functions over the store's directory and folders: they decide, and write nothing.
//! The queue actors apply what they decide (`actors::queues`), so the rules can be tested
//! with a store alone.

use std::collections::HashSet;

use crate::storage::{
    Destination, FolderId, QueueId, QueueName, QueueRecipient, QueueRecord, StorageError, Store,
};

/// The reply recorded on a recipient that resolves to nothing.
pub const NO_SUCH_MAILBOX: &str = "550 5.1.1 no such mailbox";

/// Where the undelivered recipients of one record go.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Routes {
    /// Local accounts (after aliases and plus-addressing), each once.
    pub local: Vec<QueueRecipient>,
    /// Addresses in other domains, each once.
    pub remote: Vec<QueueRecipient>,
    /// Recipients of a local domain that resolve to nothing, with the reason.
    pub bad: Vec<QueueRecipient>,
}

/// Resolves the undelivered recipients of `rec`: aliases are followed and plus-addresses
/// reach their base account (`Store::resolve_recipient`); an address reached twice (two
/// aliases to one account) gets one recipient. Each new recipient keeps the original's
/// DSN parameters.
pub fn route(store: &Store, rec: &QueueRecord) -> Result<Routes, StorageError> {
    let mut routes = Routes::default();
    let mut seen = HashSet::new();
    for r in rec.recipients.iter().filter(|r| !r.delivered) {
        let dests = store.resolve_recipient(&r.address)?;
        if dests.is_empty() {
            routes.bad.push(QueueRecipient {
                last_error: Some(NO_SUCH_MAILBOX.into()),
                ..r.clone()
            });
        }
        for d in dests {
            let (list, address) = match d {
                Destination::Local(a) => (&mut routes.local, a),
                Destination::Remote(a) => (&mut routes.remote, a),
            };
            if seen.insert(address.clone()) {
                list.push(QueueRecipient {
                    address,
                    delivered: false,
                    last_error: None,
                    ..r.clone()
                });
            }
        }
    }
    Ok(routes)
}

impl Routes {
    /// The records that replace the routed one: one per queue that got recipients (local,
    /// remote, bad), each with a new id from `next_id`, sharing the body.
    pub fn into_records(
        self,
        rec: &QueueRecord,
        mut next_id: impl FnMut() -> Result<QueueId, StorageError>,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let mut records = Vec::new();
        for (queue, recipients) in [
            (QueueName::Local, self.local),
            (QueueName::Remote, self.remote),
            (QueueName::Bad, self.bad),
        ] {
            if recipients.is_empty() {
                continue;
            }
            let last_error = (queue == QueueName::Bad).then(|| "no such mailbox".to_string());
            records.push(QueueRecord {
                id: next_id()?,
                queue,
                recipients,
                last_error,
                ..rec.clone()
            });
        }
        Ok(records)
    }
}

/// The folder a local record is delivered to: INBOX, or the record's `folder` hint (a DMARC
/// quarantine sets "Junk"). A hinted folder the account does not have is looked up by
/// special use (`\\Junk` for "Junk", whatever the user renamed it to), then INBOX: the
/// message is delivered either way. `None` when the account has no INBOX (no such mailbox).
pub fn target_folder(
    store: &Store,
    account: &str,
    hint: Option<&str>,
) -> Result<Option<FolderId>, StorageError> {
    if let Some(name) = hint {
        if let Some(f) = store.folder_id(account, name)? {
            return Ok(Some(f));
        }
        let special = format!("\\{name}");
        if let Ok(folders) = store.list_folders(account) {
            if let Some(f) = folders
                .iter()
                .find(|f| f.special_use.as_deref() == Some(special.as_str()) && !f.noselect)
            {
                return Ok(Some(f.id));
            }
        }
    }
    store.folder_id(account, "INBOX")
}

#[cfg(test)]
mod tests;
