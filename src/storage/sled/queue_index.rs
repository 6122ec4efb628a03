//! The embedded backend's queue domain index (`storage::queue_index`): the tree
//! `v1/queue_domains`, one empty value per (queue, domain, record) keyed
//! `[queue index] domain 0x00 id(u64 BE)`, so one domain's records of one queue are one
//! key range in id order. `queue::tx_insert`/`tx_remove`/`tx_consume` keep it in the
//! transaction that writes the record; [`SledStore::ensure_queue_index`] builds it once for
//! a data directory written before it existed (marker `queue_domains` in the meta tree).

use std::collections::{BTreeMap, BTreeSet};

use sled::IVec;

use super::keys::TreeIx;
use super::{SledStore, StorageError, Tx, TxResult};
use crate::storage::queue::{QueueId, QueueName, QueueRecord};
use crate::storage::queue_index::{
    record_domains, select_ids, select_view, stored_domains, view_domains, PageStart, QueueIndex,
    QueueView,
};

/// Candidate records of a view: (id, stored record), in id order.
type Candidates<'s> = Box<dyn Iterator<Item = Result<(QueueId, IVec), StorageError>> + 's>;

/// The meta key saying the index was built (its value: the index's version, 1).
const BUILT_KEY: &[u8] = b"queue_domains";

/// The key range of `domain`'s records in `queue`.
fn prefix(queue: QueueName, domain: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(domain.len() + 10);
    k.push(queue.index() as u8);
    k.extend_from_slice(domain.as_bytes());
    k.push(0);
    k
}

fn entry_key(queue: QueueName, domain: &str, id: QueueId) -> Vec<u8> {
    let mut k = prefix(queue, domain);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// (queue, domain, id) of an entry's key; `None` for a malformed one.
fn parse_key(k: &[u8]) -> Option<(QueueName, String, QueueId)> {
    let (&q, rest) = k.split_first()?;
    let queue = *QueueName::ALL.get(q as usize)?;
    if rest.len() < 9 || rest[rest.len() - 9] != 0 {
        return None;
    }
    let (domain, id) = rest.split_at(rest.len() - 9);
    let id = u64::from_be_bytes(id[1..].try_into().ok()?);
    Some((queue, String::from_utf8_lossy(domain).into_owned(), id))
}

/// Moves `id`'s entries in `queue` from the domains of `old` to those of `new` (either
/// absent: none), inside the record's transaction.
pub(crate) fn tx_reindex(
    tx: &Tx,
    queue: QueueName,
    id: QueueId,
    old: Option<&QueueRecord>,
    new: Option<&QueueRecord>,
) -> TxResult<()> {
    let tree = tx.tree(TreeIx::QueueDomains);
    let before = old.map(record_domains).unwrap_or_default();
    let after = new.map(record_domains).unwrap_or_default();
    for d in before.difference(&after) {
        tree.remove(entry_key(queue, d, id))?;
    }
    for d in after.difference(&before) {
        tree.insert(entry_key(queue, d, id), &[][..])?;
    }
    Ok(())
}

impl SledStore {
    /// Builds the index from the queues when this data directory has none yet (written by
    /// an older build); a no-op afterwards.
    pub(crate) fn ensure_queue_index(&self) -> Result<(), StorageError> {
        let meta = self.tree(TreeIx::Meta);
        if meta.get(BUILT_KEY)?.is_some() {
            return Ok(());
        }
        let index = self.tree(TreeIx::QueueDomains);
        index.clear()?;
        let mut entries = 0usize;
        for queue in QueueName::ALL {
            let mut batch = sled::Batch::default();
            for kv in self.tree(TreeIx::Queue(queue)).iter() {
                let (k, v) = kv?;
                let Ok(id) = <[u8; 8]>::try_from(&k[..]).map(u64::from_be_bytes) else {
                    continue;
                };
                for d in stored_domains(&v) {
                    batch.insert(entry_key(queue, &d, id), &[][..]);
                    entries += 1;
                }
            }
            index.apply_batch(batch)?;
        }
        meta.insert(BUILT_KEY, &1u32.to_be_bytes())?;
        self.db().flush()?;
        tracing::info!(entries, "queue domain index built");
        Ok(())
    }

    /// The ids of `queue` indexed under any of `domains`, in id order.
    fn indexed_ids(
        &self,
        queue: QueueName,
        domains: &[String],
    ) -> Result<BTreeSet<QueueId>, StorageError> {
        let index = self.tree(TreeIx::QueueDomains);
        let mut ids = BTreeSet::new();
        for d in view_domains(domains) {
            for k in index.scan_prefix(prefix(queue, &d)).keys() {
                let k = k?;
                if let Some((_, _, id)) = parse_key(&k) {
                    ids.insert(id);
                }
            }
        }
        Ok(ids)
    }

    /// The candidates of `view` in `queue`: (id, stored record), in id order.
    fn candidates<'s>(
        &'s self,
        queue: QueueName,
        view: &QueueView<'_>,
    ) -> Result<Candidates<'s>, StorageError> {
        let tree = self.tree(TreeIx::Queue(queue));
        let Some(domains) = view.domains else {
            return Ok(Box::new(tree.iter().filter_map(|kv| {
                match kv {
                    Ok((k, v)) => <[u8; 8]>::try_from(&k[..])
                        .ok()
                        .map(|k| Ok((u64::from_be_bytes(k), v))),
                    Err(e) => Some(Err(e.into())),
                }
            })));
        };
        let ids = self.indexed_ids(queue, domains)?;
        Ok(Box::new(ids.into_iter().filter_map(move |id| {
            // An entry whose record is gone meanwhile (a write between the two reads) is
            // passed over.
            match tree.get(id.to_be_bytes()) {
                Ok(Some(v)) => Some(Ok((id, v))),
                Ok(None) => None,
                Err(e) => Some(Err(e.into())),
            }
        })))
    }
}

impl QueueIndex for SledStore {
    fn queue_page_after(
        &self,
        queue: QueueName,
        after: QueueId,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError> {
        let Some(from) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        self.tree(TreeIx::Queue(queue))
            .range(from.to_be_bytes()..)
            .values()
            .take(limit)
            .map(|v| {
                let mut rec = crate::storage::queue_codec::decode_record(&v?)?;
                rec.queue = queue;
                Ok(rec)
            })
            .collect()
    }

    fn queue_view(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        start: PageStart,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError> {
        select_view(self.candidates(queue, view)?, queue, view, start, limit)
    }

    fn queue_view_ids(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        max: usize,
    ) -> Result<Vec<QueueId>, StorageError> {
        select_ids(self.candidates(queue, view)?, view, max)
    }

    fn queue_index_problems(&self) -> Result<Vec<String>, StorageError> {
        // Every entry the records call for, then each stored entry ticked off.
        let mut wanted: BTreeMap<Vec<u8>, (QueueName, String, QueueId)> = BTreeMap::new();
        for queue in QueueName::ALL {
            for kv in self.tree(TreeIx::Queue(queue)).iter() {
                let (k, v) = kv?;
                let Ok(id) = <[u8; 8]>::try_from(&k[..]).map(u64::from_be_bytes) else {
                    continue;
                };
                for d in stored_domains(&v) {
                    wanted.insert(entry_key(queue, &d, id), (queue, d, id));
                }
            }
        }
        let mut problems = Vec::new();
        for k in self.tree(TreeIx::QueueDomains).iter().keys() {
            let k = k?;
            if wanted.remove(&k[..]).is_some() {
                continue;
            }
            problems.push(match parse_key(&k) {
                Some((q, d, id)) => {
                    format!("queue index entry {q}/{d}/{id:016X} names no record of that queue")
                }
                None => format!("queue index entry {k:?} is malformed"),
            });
        }
        for (q, d, id) in wanted.into_values() {
            problems.push(format!(
                "queue record {id:016X} in {q} is missing its index entry for {d}"
            ));
        }
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{record, store};
    use super::*;
    use crate::storage::{Queue, QueueWrites};

    #[test]
    fn keys_round_trip() {
        let k = entry_key(QueueName::Remote, "example.org", 0x1234);
        assert_eq!(
            parse_key(&k),
            Some((QueueName::Remote, "example.org".into(), 0x1234))
        );
        assert_eq!(parse_key(b"\x09x\x00"), None);
    }

    /// A data directory of an older build (no index, no marker) gets its index at open.
    #[test]
    fn an_old_data_directory_is_indexed_at_open() {
        let (dir, store) = store();
        let rec = record(&store, QueueName::Deferred, b"m", &["a@example.org"]);
        store.queue_put(&rec).unwrap();
        // As an older build left it.
        store.tree(TreeIx::QueueDomains).clear().unwrap();
        store.tree(TreeIx::Meta).remove(BUILT_KEY).unwrap();
        assert_eq!(store.queue_index_problems().unwrap().len(), 1);
        store.commit().unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).expect("reopen");
        assert_eq!(store.queue_index_problems().unwrap(), Vec::<String>::new());
        let mine = ["example.org".to_string()];
        let keep = |_: &crate::storage::QueueHead<'_>| true;
        let view = QueueView {
            keep: &keep,
            domains: Some(&mine),
            text: None,
        };
        let (total, page) = store
            .queue_view(QueueName::Deferred, &view, PageStart::Offset(0), 10)
            .unwrap();
        assert_eq!((total, page[0].id), (1, rec.id));
        assert_eq!(store.queue_depth(QueueName::Deferred).unwrap(), 1);
    }
}
