//! Fetch sources: the outside mailboxes Ferrymail collects mail from (MDaemon's MultiPOP,
//! per account, and DomainPOP, per domain), what has been fetched from each, and how the
//! last runs went.
//!
//! | tree               | key                                          | value                    |
//! |--------------------|----------------------------------------------|--------------------------|
//! | `v1/fetch_sources` | source id u64 BE                             | `FetchSource`            |
//! | `v1/fetch_seen`    | source id u64 BE ++ mark (UIDL, or "V:U")    | fetched-at i64 BE        |
//! | `v1/fetch_status`  | source id u64 BE                             | `FetchStatus`            |
//! | `v1/fetch_dedup`   | source id ++ recipient ++ 0x00 ++ Message-ID | delivered-at i64 BE      |
//!
//! Exactly once: [`SledStore::fetch_accept`] writes a fetched message's queue records, its
//! seen mark and its duplicate-suppression marks in one transaction, and does nothing when
//! the mark is already there. A crash before the commit loses the records and the mark
//! together (the message is fetched again); after it, both are there (it is never fetched
//! again). The remote copy is deleted only after that commit is durable.
//!
//! Passwords are sealed with the data directory's secret key (see `secrets`) and opened
//! only by the fetcher that logs in with them.

use std::collections::HashSet;

use super::blobrefs::RefDelta;
use crate::storage::fetch::*;
use crate::storage::traits::FetchStore;

use super::keys::{self, TreeIx};
use super::queue::tx_insert;
use super::queue_counts::QueueDelta;
use super::{SledStore, StorageError};
use crate::storage::queue::QueueName;

fn id_key(id: SourceId) -> [u8; 8] {
    id.to_be_bytes()
}

fn seen_key(source: SourceId, mark: &str) -> Vec<u8> {
    let mut k = id_key(source).to_vec();
    k.extend_from_slice(mark.as_bytes());
    k
}

fn dedup_key(source: SourceId, recipient: &str, message_id: &str) -> Vec<u8> {
    let mut k = id_key(source).to_vec();
    k.extend_from_slice(recipient.to_ascii_lowercase().as_bytes());
    k.push(0);
    k.extend_from_slice(message_id.as_bytes());
    k
}

fn decode_time(v: &[u8]) -> i64 {
    v.try_into().map(i64::from_be_bytes).unwrap_or(0)
}

impl SledStore {
    /// Deletes the sources owned by `owner` (an account or a domain being deleted).
    pub(crate) fn drop_fetch_sources(&self, owner: &str) -> Result<(), StorageError> {
        crate::storage::fetch::drop_sources_of(self, owner)
    }
}

impl FetchStore for SledStore {
    fn seal_secret(&self, plaintext: &str) -> Result<Vec<u8>, StorageError> {
        self.secret_key()?.seal(plaintext)
    }

    fn open_secret(&self, sealed: &[u8]) -> Result<String, StorageError> {
        self.secret_key()?.open(sealed)
    }

    fn derived_key(&self, purpose: &str) -> Result<[u8; 32], StorageError> {
        Ok(self.secret_key()?.derive(purpose))
    }

    fn fetch_add_source(&self, mut source: FetchSource) -> Result<FetchSource, StorageError> {
        let _admin = self.admin_lock();
        let tree = self.tree(TreeIx::FetchSources);
        let last = match tree.last()? {
            Some((k, _)) => keys::decode_u64(&k, "source id")?,
            None => 0,
        };
        source.id = last + 1;
        tree.insert(id_key(source.id), keys::encode(&source)?)?;
        Ok(source)
    }

    fn fetch_set_domainpop(&self, source: FetchSource) -> Result<FetchSource, StorageError> {
        let SourceOwner::Domain(domain) = &source.owner else {
            return Err(StorageError::Invalid("not a DomainPOP source".into()));
        };
        match self.fetch_domainpop(domain)? {
            Some(old) => {
                let source = FetchSource {
                    id: old.id,
                    ..source
                };
                self.tree(TreeIx::FetchSources)
                    .insert(id_key(source.id), keys::encode(&source)?)?;
                Ok(source)
            }
            None => self.fetch_add_source(source),
        }
    }

    fn fetch_update_source(&self, source: FetchSource) -> Result<FetchSource, StorageError> {
        // Written only where the source still is, in one step: a delete racing with the
        // change cannot bring the source back.
        let bytes = keys::encode(&source)?;
        let written = self
            .tree(TreeIx::FetchSources)
            .update_and_fetch(id_key(source.id), |old| old.map(|_| bytes.clone()))?;
        match written {
            Some(_) => Ok(source),
            None => Err(StorageError::NotFound(format!("source {}", source.id))),
        }
    }

    fn fetch_source(&self, id: SourceId) -> Result<Option<FetchSource>, StorageError> {
        keys::get(self.tree(TreeIx::FetchSources), &id_key(id), "fetch source")
    }

    fn fetch_sources(&self) -> Result<Vec<FetchSource>, StorageError> {
        self.tree(TreeIx::FetchSources)
            .iter()
            .values()
            .map(|v| keys::decode(&v?, "fetch source"))
            .collect()
    }

    fn fetch_domainpop(&self, domain: &str) -> Result<Option<FetchSource>, StorageError> {
        let domain = domain.to_ascii_lowercase();
        Ok(self
            .fetch_sources()?
            .into_iter()
            .find(|s| s.owner == SourceOwner::Domain(domain.clone())))
    }

    fn fetch_del_source(&self, id: SourceId) -> Result<FetchSource, StorageError> {
        let Some(source) = self.fetch_source(id)? else {
            return Err(StorageError::NotFound(format!("source {id}")));
        };
        self.tree(TreeIx::FetchSources).remove(id_key(id))?;
        self.tree(TreeIx::FetchStatus).remove(id_key(id))?;
        for tree in [TreeIx::FetchSeen, TreeIx::FetchDedup] {
            let tree = self.tree(tree);
            for k in tree.scan_prefix(id_key(id)).keys() {
                tree.remove(k?)?;
            }
        }
        Ok(source)
    }

    fn fetch_status(&self, id: SourceId) -> Result<FetchStatus, StorageError> {
        Ok(
            keys::get(self.tree(TreeIx::FetchStatus), &id_key(id), "fetch status")?
                .unwrap_or_default(),
        )
    }

    fn fetch_set_status(&self, id: SourceId, status: &FetchStatus) -> Result<(), StorageError> {
        self.tree(TreeIx::FetchStatus)
            .insert(id_key(id), keys::encode(status)?)?;
        Ok(())
    }

    fn fetch_seen(&self, source: SourceId) -> Result<HashSet<String>, StorageError> {
        let prefix = id_key(source);
        let mut out = HashSet::new();
        for k in self.tree(TreeIx::FetchSeen).scan_prefix(prefix).keys() {
            let k = k?;
            out.insert(String::from_utf8_lossy(&k[prefix.len()..]).into_owned());
        }
        Ok(out)
    }

    fn fetch_forget_gone(
        &self,
        source: SourceId,
        on_server: &HashSet<String>,
    ) -> Result<usize, StorageError> {
        let tree = self.tree(TreeIx::FetchSeen);
        let mut n = 0;
        for mark in self.fetch_seen(source)? {
            if !on_server.contains(&mark) {
                tree.remove(seen_key(source, &mark))?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn fetch_expire_dedup(
        &self,
        source: SourceId,
        window: u64,
        now: i64,
    ) -> Result<usize, StorageError> {
        let tree = self.tree(TreeIx::FetchDedup);
        let mut n = 0;
        for entry in tree.scan_prefix(id_key(source)) {
            let (k, v) = entry?;
            if now.saturating_sub(decode_time(&v)) >= window as i64 {
                tree.remove(k)?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn fetch_is_seen(&self, source: SourceId, mark: &str) -> Result<bool, StorageError> {
        Ok(self
            .tree(TreeIx::FetchSeen)
            .contains_key(seen_key(source, mark))?)
    }
}

impl SledStore {
    /// [`crate::storage::QueueWrites::fetch_accept`]: the records of a fetched message are
    /// queue records, so the trait method is with the other queue writes (in `queue.rs`).
    pub(super) fn accept_fetched(&self, msg: &FetchedMessage) -> Result<Accepted, StorageError> {
        let seen = seen_key(msg.source, &msg.mark);
        let (accepted, zeroed, queued) = self.transact(|tx| {
            if tx.tree(TreeIx::FetchSeen).get(&seen)?.is_some() {
                return Ok((Accepted::AlreadySeen, Vec::new(), QueueDelta::default()));
            }
            let (mut refs, mut queued) = (RefDelta::default(), QueueDelta::default());
            let mut written = Vec::new();
            let mut suppressed = 0;
            for rec in &msg.records {
                let mut rec = rec.clone();
                if let Some(d) = msg
                    .dedup
                    .as_ref()
                    .filter(|_| rec.queue == QueueName::Inbound)
                {
                    let mut kept = Vec::new();
                    for r in rec.recipients {
                        let key = dedup_key(msg.source, &r.original, &d.message_id);
                        let dedup = tx.tree(TreeIx::FetchDedup);
                        let fresh = dedup.get(&key)?.is_some_and(|v| {
                            msg.now.saturating_sub(decode_time(&v)) < d.window as i64
                        });
                        if fresh {
                            suppressed += 1;
                        } else {
                            dedup.insert(key, &msg.now.to_be_bytes())?;
                            kept.push(r);
                        }
                    }
                    rec.recipients = kept;
                }
                if rec.recipients.is_empty() {
                    continue;
                }
                tx_insert(tx, &mut refs, &mut queued, &rec)?;
                written.push((rec.queue, rec.id));
            }
            tx.tree(TreeIx::FetchSeen)
                .insert(seen.as_slice(), &msg.now.to_be_bytes())?;
            if written.is_empty() {
                // Nothing holds the body: it is collected below.
                return Ok((
                    Accepted::New {
                        records: written,
                        suppressed,
                    },
                    vec![msg.blob],
                    queued,
                ));
            }
            let zeroed = refs.apply(tx, self.blobs())?;
            Ok((
                Accepted::New {
                    records: written,
                    suppressed,
                },
                zeroed,
                queued,
            ))
        })?;
        self.count_queued(queued);
        if accepted == Accepted::AlreadySeen {
            self.collect_after_commit(&[msg.blob]);
        }
        self.collect_after_commit(&zeroed);
        Ok(accepted)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store_with_bob;
    use super::*;
    use crate::storage::QueueRecipient;
    #[allow(unused_imports)]
    use crate::storage::*;

    fn source(store: &SledStore) -> FetchSource {
        store
            .fetch_add_source(FetchSource {
                id: 0,
                owner: SourceOwner::Account("bob@example.com".into()),
                protocol: FetchProtocol::Imap,
                host: "imap.example.net".into(),
                port: 993,
                tls: TlsMode::Implicit,
                verify_cert: true,
                user: "bob".into(),
                password: store.seal_secret("pw").unwrap(),
                leave_on_server: true,
                interval: 300,
                domainpop: None,
            })
            .unwrap()
    }

    fn fetched(store: &SledStore, source: SourceId, mark: &str, to: &[&str]) -> FetchedMessage {
        let body = format!("Subject: {mark}\r\n\r\nbody\r\n");
        let blob = store.blobs().put(body.as_bytes()).unwrap();
        let rec = QueueRecord {
            id: store.next_queue_id().unwrap(),
            queue: QueueName::Inbound,
            blob,
            size: body.len() as u64,
            mail_from: String::new(),
            recipients: to.iter().map(|a| QueueRecipient::new(a)).collect(),
            params: Default::default(),
            received_at: 0,
            due: None,
            attempts: 0,
            last_error: None,
            origin: "fetch".into(),
            auth_as: None,
            folder: None,
            history: Vec::new(),
        };
        FetchedMessage {
            source,
            mark: mark.into(),
            blob,
            records: vec![rec],
            dedup: None,
            now: 1000,
        }
    }

    #[test]
    fn a_mark_is_taken_in_once() {
        let (_dir, store) = store_with_bob();
        let s = source(&store);
        assert_eq!(s.id, 1);
        assert_eq!(store.open_secret(&s.password).unwrap(), "pw");
        let m = fetched(&store, s.id, "7:1", &["bob@example.com"]);
        assert!(matches!(
            store.fetch_accept(&m).unwrap(),
            Accepted::New { .. }
        ));
        // The same message again, as after a crash between commit and the remote delete.
        let again = fetched(&store, s.id, "7:1", &["bob@example.com"]);
        assert_eq!(store.fetch_accept(&again).unwrap(), Accepted::AlreadySeen);
        assert_eq!(store.queue_depth(QueueName::Inbound).unwrap(), 1);
        assert!(store.fetch_is_seen(s.id, "7:1").unwrap());
        // Gone from the server: forgotten; still there: kept.
        let on_server: HashSet<String> = ["7:2".to_string()].into();
        assert_eq!(store.fetch_forget_gone(s.id, &on_server).unwrap(), 1);
        assert!(store.fetch_seen(s.id).unwrap().is_empty());
    }

    #[test]
    fn dedup_drops_recipients_within_the_window_only() {
        let (_dir, store) = store_with_bob();
        let s = source(&store);
        let to = ["bob@example.com", "frank@example.com", "henry@example.com"];
        let dedup = Some(Dedup {
            message_id: "<m1@x>".into(),
            window: 3600,
        });
        for (i, now) in [(1, 1000), (2, 1001), (3, 1002)] {
            let mut m = fetched(&store, s.id, &format!("u{i}"), &to);
            m.dedup = dedup.clone();
            m.now = now;
            let got = store.fetch_accept(&m).unwrap();
            let Accepted::New {
                records,
                suppressed,
            } = got
            else {
                panic!("{got:?}")
            };
            if i == 1 {
                assert_eq!((records.len(), suppressed), (1, 0));
            } else {
                assert_eq!((records.len(), suppressed), (0, 3));
            }
        }
        assert_eq!(store.queue_depth(QueueName::Inbound).unwrap(), 1);
        // After the window the same Message-ID is delivered again.
        let mut late = fetched(&store, s.id, "u4", &to[..1]);
        late.dedup = dedup;
        late.now = 1000 + 3600;
        assert_eq!(store.fetch_expire_dedup(s.id, 3600, late.now).unwrap(), 3);
        assert!(matches!(
            store.fetch_accept(&late).unwrap(),
            Accepted::New { ref records, suppressed: 0 } if records.len() == 1
        ));
    }

    #[test]
    fn deleting_the_account_deletes_its_sources_and_marks() {
        let (_dir, store) = store_with_bob();
        let s = source(&store);
        store
            .fetch_accept(&fetched(&store, s.id, "a", &["bob@example.com"]))
            .unwrap();
        store.del_account("bob@example.com").unwrap();
        assert!(store.fetch_sources().unwrap().is_empty());
        assert!(store.fetch_seen(s.id).unwrap().is_empty());
        assert!(store.fetch_del_source(s.id).is_err());
    }
}
