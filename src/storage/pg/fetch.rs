//! Fetch sources (MultiPOP per account, DomainPOP per domain), what was fetched from each
//! and how the runs went, in the tables `fetch_sources`, `fetch_status`, `fetch_seen` and
//! `fetch_dedup` (the last three are deleted with their source by the foreign keys).
//!
//! Exactly once: [`PgStore::fetch_accept`] writes a fetched message's queue records, its
//! seen mark and its duplicate-suppression marks in one transaction. The seen mark is
//! inserted first (`ON CONFLICT DO NOTHING`): when it is there already, or another node is
//! taking the same message in at the same moment (its insert holds the key until it
//! commits), nothing is written. A crash before the commit loses everything together (the
//! message is fetched again); after it, the mark is there (it is never fetched again).
//!
//! Passwords are sealed with a key kept in the database (table `secrets`), not in a
//! node-local file as with the embedded backend: a password sealed on one node must open
//! on every other. The first node that needs it makes it (`INSERT … ON CONFLICT DO
//! NOTHING`, then reads back what is there, so nodes starting together agree on one key).

use std::collections::HashSet;
use std::sync::Arc;

use super::blobrefs::RefDelta;
use super::pool::{pg_error, Db, Tx};
use super::queue;
use super::settings::{decode, encode, lock_named};
use super::PgStore;
use crate::storage::{
    Accepted, FetchSource, FetchStatus, FetchedMessage, QueueName, SecretKey, SourceId,
    SourceOwner, StorageError,
};

/// The row of `secrets` holding the key that seals fetch passwords.
const SECRET_NAME: &str = "fetch";

/// The advisory lock every source write takes.
const SOURCES_LOCK: &str = "fetch sources";

/// A source id as the `bigint` it is stored as (`None`: no such source can exist).
fn sql_id(id: SourceId) -> Option<i64> {
    i64::try_from(id).ok()
}

fn no_source(id: SourceId) -> StorageError {
    StorageError::NotFound(format!("source {id}"))
}

/// The source of a row selected as `(id, source)`.
fn source_of(row: &postgres::Row) -> Result<FetchSource, StorageError> {
    let id: i64 = row.get(0);
    let mut source: FetchSource = decode(row.get(1), "fetch source")?;
    source.id = id as SourceId;
    Ok(source)
}

/// Writes `source` in the row of its id (inserted or replaced).
pub(super) fn put_source(tx: &mut Tx<'_>, source: &FetchSource) -> Result<(), StorageError> {
    let id = sql_id(source.id).ok_or_else(|| no_source(source.id))?;
    let domainpop = matches!(source.owner, SourceOwner::Domain(_));
    tx.execute(
        "INSERT INTO fetch_sources (id, owner, domainpop, source) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET owner = EXCLUDED.owner,
         domainpop = EXCLUDED.domainpop, source = EXCLUDED.source",
        &[
            &id,
            &source.owner.name().to_ascii_lowercase(),
            &domainpop,
            &encode(source)?,
        ],
    )
    .map_err(pg_error)?;
    Ok(())
}

/// Deletes the sources owned by `owner` (an account or a domain being deleted) with
/// everything remembered about them, inside the caller's transaction; notifies the other
/// nodes when there were any. Returns how many went. `del_account` calls it in its
/// transaction, so an account and its sources go together.
pub(crate) fn drop_sources_tx(
    store: &PgStore,
    tx: &mut Tx<'_>,
    owner: &str,
) -> Result<u64, StorageError> {
    lock_named(tx, SOURCES_LOCK)?;
    let n = tx
        .execute(
            "DELETE FROM fetch_sources WHERE owner = $1",
            &[&owner.to_ascii_lowercase()],
        )
        .map_err(pg_error)?;
    if n > 0 {
        store.notify_settings(tx, "fetch")?;
    }
    Ok(n)
}

impl PgStore {
    /// The key that seals fetch passwords (the database's, made on first use), cached.
    fn secret_key(&self) -> Result<Arc<SecretKey>, StorageError> {
        let mut slot = self
            .secret_key_slot()
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let fresh = SecretKey::new_key_bytes();
        let stored: Vec<u8> = self.pool().with(|c| {
            c.execute(
                "INSERT INTO secrets (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
                &[&SECRET_NAME, &fresh],
            )
            .map_err(pg_error)?;
            Ok(
                c.query_one("SELECT key FROM secrets WHERE name = $1", &[&SECRET_NAME])
                    .map_err(pg_error)?
                    .get(0),
            )
        })?;
        let key = Arc::new(SecretKey::from_bytes(
            &stored,
            "the fetch key in the database's secrets table",
        )?);
        *slot = Some(key.clone());
        Ok(key)
    }

    pub(crate) fn seal_secret(&self, plaintext: &str) -> Result<Vec<u8>, StorageError> {
        self.secret_key()?.seal(plaintext)
    }

    pub(crate) fn open_secret(&self, sealed: &[u8]) -> Result<String, StorageError> {
        self.secret_key()?.open(sealed)
    }

    pub(crate) fn derived_key(&self, purpose: &str) -> Result<[u8; 32], StorageError> {
        Ok(self.secret_key()?.derive(purpose))
    }

    pub(crate) fn fetch_add_source(
        &self,
        source: FetchSource,
    ) -> Result<FetchSource, StorageError> {
        self.pool().tx(|tx| {
            lock_named(tx, SOURCES_LOCK)?;
            let last: i64 = tx
                .query_one("SELECT coalesce(max(id), 0) FROM fetch_sources", &[])
                .map_err(pg_error)?
                .get(0);
            let source = FetchSource {
                id: last as SourceId + 1,
                ..source.clone()
            };
            put_source(tx, &source)?;
            self.notify_settings(tx, "fetch")?;
            Ok(source)
        })
    }

    pub(crate) fn fetch_set_domainpop(
        &self,
        source: FetchSource,
    ) -> Result<FetchSource, StorageError> {
        let SourceOwner::Domain(domain) = &source.owner else {
            return Err(StorageError::Invalid("not a DomainPOP source".into()));
        };
        let domain = domain.to_ascii_lowercase();
        self.pool().tx(|tx| {
            lock_named(tx, SOURCES_LOCK)?;
            let id: i64 = match domainpop_id(tx, &domain)? {
                Some(id) => id,
                None => tx
                    .query_one("SELECT coalesce(max(id), 0) + 1 FROM fetch_sources", &[])
                    .map_err(pg_error)?
                    .get(0),
            };
            let source = FetchSource {
                id: id as SourceId,
                ..source.clone()
            };
            put_source(tx, &source)?;
            self.notify_settings(tx, "fetch")?;
            Ok(source)
        })
    }

    pub(crate) fn fetch_update_source(
        &self,
        source: FetchSource,
    ) -> Result<FetchSource, StorageError> {
        let id = sql_id(source.id).ok_or_else(|| no_source(source.id))?;
        self.pool().tx(|tx| {
            lock_named(tx, SOURCES_LOCK)?;
            let there = tx
                .query_opt("SELECT 1 FROM fetch_sources WHERE id = $1", &[&id])
                .map_err(pg_error)?
                .is_some();
            if !there {
                return Err(no_source(source.id));
            }
            put_source(tx, &source)?;
            self.notify_settings(tx, "fetch")?;
            Ok(source.clone())
        })
    }

    pub(crate) fn fetch_source(&self, id: SourceId) -> Result<Option<FetchSource>, StorageError> {
        let Some(id) = sql_id(id) else {
            return Ok(None);
        };
        self.pool().with(|c| {
            c.query_opt("SELECT id, source FROM fetch_sources WHERE id = $1", &[&id])
                .map_err(pg_error)?
                .as_ref()
                .map(source_of)
                .transpose()
        })
    }

    pub(crate) fn fetch_sources(&self) -> Result<Vec<FetchSource>, StorageError> {
        self.pool().with(|c| {
            c.query("SELECT id, source FROM fetch_sources ORDER BY id", &[])
                .map_err(pg_error)?
                .iter()
                .map(source_of)
                .collect()
        })
    }

    pub(crate) fn fetch_domainpop(
        &self,
        domain: &str,
    ) -> Result<Option<FetchSource>, StorageError> {
        let domain = domain.to_ascii_lowercase();
        self.pool().with(|c| {
            c.query_opt(
                "SELECT id, source FROM fetch_sources WHERE owner = $1 AND domainpop
                 ORDER BY id LIMIT 1",
                &[&domain],
            )
            .map_err(pg_error)?
            .as_ref()
            .map(source_of)
            .transpose()
        })
    }

    pub(crate) fn fetch_del_source(&self, id: SourceId) -> Result<FetchSource, StorageError> {
        let sql = sql_id(id).ok_or_else(|| no_source(id))?;
        self.pool().tx(|tx| {
            lock_named(tx, SOURCES_LOCK)?;
            let row = tx
                .query_opt(
                    "DELETE FROM fetch_sources WHERE id = $1 RETURNING id, source",
                    &[&sql],
                )
                .map_err(pg_error)?
                .ok_or_else(|| no_source(id))?;
            self.notify_settings(tx, "fetch")?;
            source_of(&row)
        })
    }

    pub(crate) fn fetch_status(&self, id: SourceId) -> Result<FetchStatus, StorageError> {
        let Some(id) = sql_id(id) else {
            return Ok(FetchStatus::default());
        };
        self.pool().with(|c| {
            match c
                .query_opt("SELECT status FROM fetch_status WHERE source = $1", &[&id])
                .map_err(pg_error)?
            {
                Some(row) => decode(row.get(0), "fetch status"),
                None => Ok(FetchStatus::default()),
            }
        })
    }

    /// Stores the status of source `id`; nothing when the source is gone (a run that
    /// finished after its source was deleted).
    pub(crate) fn fetch_set_status(
        &self,
        id: SourceId,
        status: &FetchStatus,
    ) -> Result<(), StorageError> {
        let Some(id) = sql_id(id) else {
            return Ok(());
        };
        let bytes = encode(status)?;
        self.pool().with(|c| {
            c.execute(
                "INSERT INTO fetch_status (source, status)
                 SELECT id, $2 FROM fetch_sources WHERE id = $1
                 ON CONFLICT (source) DO UPDATE SET status = EXCLUDED.status",
                &[&id, &bytes],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    pub(crate) fn fetch_seen(&self, source: SourceId) -> Result<HashSet<String>, StorageError> {
        let Some(id) = sql_id(source) else {
            return Ok(HashSet::new());
        };
        self.pool().with(|c| {
            Ok(
                c.query("SELECT mark FROM fetch_seen WHERE source = $1", &[&id])
                    .map_err(pg_error)?
                    .iter()
                    .map(|row| row.get(0))
                    .collect(),
            )
        })
    }

    pub(crate) fn fetch_forget_gone(
        &self,
        source: SourceId,
        on_server: &HashSet<String>,
    ) -> Result<usize, StorageError> {
        let Some(id) = sql_id(source) else {
            return Ok(0);
        };
        let on_server: Vec<&str> = on_server.iter().map(String::as_str).collect();
        self.pool().with(|c| {
            let n = c
                .execute(
                    "DELETE FROM fetch_seen WHERE source = $1 AND NOT (mark = ANY ($2))",
                    &[&id, &on_server],
                )
                .map_err(pg_error)?;
            Ok(n as usize)
        })
    }

    pub(crate) fn fetch_expire_dedup(
        &self,
        source: SourceId,
        window: u64,
        now: i64,
    ) -> Result<usize, StorageError> {
        let Some(id) = sql_id(source) else {
            return Ok(0);
        };
        let before = expired_before(window, now);
        self.pool().with(|c| {
            let n = c
                .execute(
                    "DELETE FROM fetch_dedup WHERE source = $1 AND delivered_at <= $2",
                    &[&id, &before],
                )
                .map_err(pg_error)?;
            Ok(n as usize)
        })
    }

    pub(crate) fn fetch_is_seen(&self, source: SourceId, mark: &str) -> Result<bool, StorageError> {
        let Some(id) = sql_id(source) else {
            return Ok(false);
        };
        self.pool().with(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM fetch_seen WHERE source = $1 AND mark = $2",
                &[&id, &mark],
            )
            .map_err(pg_error)?
            .is_some())
        })
    }

    /// [`crate::storage::QueueWrites::fetch_accept`] (see the module notes). NotFound when
    /// the source was deleted meanwhile: nothing is written, and the message stays on the
    /// server.
    pub(crate) fn fetch_accept(&self, msg: &FetchedMessage) -> Result<Accepted, StorageError> {
        let id = sql_id(msg.source).ok_or_else(|| no_source(msg.source))?;
        let lease_ms = queue::lease_millis(self);
        let (accepted, zeroed) = self.pool().tx(|tx| {
            // Keeps the source (and its marks) from being deleted until the commit.
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM fetch_sources WHERE id = $1 FOR KEY SHARE",
                    &[&id],
                )
                .map_err(pg_error)?
                .is_some();
            if !exists {
                return Err(no_source(msg.source));
            }
            let marked = tx
                .execute(
                    "INSERT INTO fetch_seen (source, mark, fetched_at) VALUES ($1, $2, $3)
                     ON CONFLICT (source, mark) DO NOTHING",
                    &[&id, &msg.mark, &msg.now],
                )
                .map_err(pg_error)?;
            if marked == 0 {
                return Ok((Accepted::AlreadySeen, Vec::new()));
            }
            let mut refs = RefDelta::default();
            let mut written = Vec::new();
            let mut suppressed = 0;
            for rec in &msg.records {
                let mut rec = rec.clone();
                if let Some(d) = msg
                    .dedup
                    .as_ref()
                    .filter(|_| rec.queue == QueueName::Inbound)
                {
                    let before = expired_before(d.window, msg.now);
                    let mut kept = Vec::new();
                    for r in rec.recipients {
                        if dedup_mark(tx, id, &r.original, &d.message_id, msg.now, before)? {
                            kept.push(r);
                        } else {
                            suppressed += 1;
                        }
                    }
                    rec.recipients = kept;
                }
                if rec.recipients.is_empty() {
                    continue;
                }
                queue::insert_tx(tx, &mut refs, &rec, self.node(), lease_ms)?;
                written.push((rec.queue, rec.id));
            }
            // With nothing written, nothing holds the body: it is collected after the commit.
            let zeroed = if written.is_empty() {
                vec![msg.blob]
            } else {
                refs.apply(tx, self.blobs())?
            };
            let accepted = Accepted::New {
                records: written,
                suppressed,
            };
            Ok((accepted, zeroed))
        })?;
        if accepted == Accepted::AlreadySeen {
            self.collect_after_commit(&[msg.blob]);
        }
        self.collect_after_commit(&zeroed);
        Ok(accepted)
    }
}

/// The id of `domain`'s DomainPOP source, if it has one.
fn domainpop_id(c: &mut impl Db, domain: &str) -> Result<Option<i64>, StorageError> {
    Ok(c.query_opt(
        "SELECT id FROM fetch_sources WHERE owner = $1 AND domainpop ORDER BY id LIMIT 1",
        &[&domain],
    )
    .map_err(pg_error)?
    .map(|row| row.get(0)))
}

/// Duplicate marks at or before this time are outside a `window` ending at `now`.
fn expired_before(window: u64, now: i64) -> i64 {
    now.saturating_sub(i64::try_from(window).unwrap_or(i64::MAX))
}

/// Marks `message_id` delivered to `recipient` at `now` unless it was delivered after
/// `before` (within the window): true when it is to be delivered. One statement, so two
/// nodes taking in copies of one message at once deliver it once.
fn dedup_mark(
    tx: &mut Tx<'_>,
    source: i64,
    recipient: &str,
    message_id: &str,
    now: i64,
    before: i64,
) -> Result<bool, StorageError> {
    Ok(tx
        .query_opt(
            "INSERT INTO fetch_dedup (source, recipient, message_id, delivered_at)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (source, recipient, message_id)
             DO UPDATE SET delivered_at = EXCLUDED.delivered_at
             WHERE fetch_dedup.delivered_at <= $5
             RETURNING 1",
            &[
                &source,
                &recipient.to_ascii_lowercase(),
                &message_id,
                &now,
                &before,
            ],
        )
        .map_err(pg_error)?
        .is_some())
}
