//! Writing a copy of another backend's data (`ferrymail storage migrate`) with direct SQL,
//! and reading back what the verification compares. Every batch writes its rows and its
//! entry in `migration_progress` in one transaction, so after an interruption the copy
//! continues from the last batch committed and ends the same as an uninterrupted one.
//! The target must be empty or hold an earlier run of the same migration.

use std::collections::HashMap;

use super::dkim;
use super::fetch::put_source;
use super::folders::{blob_of, state_of, u32_of, u64_of, STATE_COLUMNS};
use super::pool::{pg_error, Conn, Db, Tx};
use super::settings::{decode, encode};
use super::PgStore;
use crate::storage::dump::*;
use crate::storage::{
    CachedStsPolicy, FetchSource, FolderId, MessageRecord, QueueName, QueueRecord, SourceId,
    StorageError,
};

/// The progress entries (see the `storage migrate` section of `0001_init.sql`).
pub(crate) const SOURCE: &str = "source";
pub(crate) const DIRECTORY: &str = "directory";
pub(crate) const BLOBREFS: &str = "blobrefs";
pub(crate) const COUNTERS: &str = "counters";
pub(crate) const COMPLETE: &str = "complete";
/// The value of a folder's entry once everything of it is copied.
pub(crate) const DONE: &str = "done";

pub(crate) fn folder_item(id: FolderId) -> String {
    format!("folder:{id}")
}

pub(crate) fn queue_item(q: QueueName) -> String {
    format!("queue:{}", q.as_str())
}

/// The entry of one of the smaller stores (value: the rows copied so far).
pub(crate) fn small_item(store: SmallStore) -> String {
    format!("store:{}", store.name())
}

/// The entry of the bodies copied to another directory (value: the last blob, hex).
pub(crate) const BODIES: &str = "bodies";

/// The tables a migration fills; a target holding rows in any of them, without a
/// `migration_progress` entry naming the same source, is refused.
pub(crate) const TABLES: [&str; 31] = [
    "domains",
    "accounts",
    "aliases",
    "quota",
    "sender_rights",
    "folders",
    "messages",
    "expunged",
    "acl",
    "subscriptions",
    "metadata",
    "urlauth",
    "queue",
    "blobrefs",
    "dkim_keys",
    "fetch_sources",
    "fetch_status",
    "fetch_seen",
    "fetch_dedup",
    "mta_sts",
    "tlsrpt",
    "screen_addresses",
    "screen_accounts",
    "screen_rules",
    "totp",
    "api_keys",
    "snooze",
    "remembered_devices",
    "dav_homes",
    "dav_collections",
    "dav_objects",
];

fn int(n: u64, what: &str) -> Result<i64, StorageError> {
    i64::try_from(n).map_err(|_| StorageError::Invalid(format!("{what} {n} is out of range")))
}

fn set_progress(tx: &mut Tx<'_>, item: &str, value: &str) -> Result<(), StorageError> {
    tx.execute(
        "INSERT INTO migration_progress (item, value) VALUES ($1, $2)
         ON CONFLICT (item) DO UPDATE SET value = EXCLUDED.value, done = now()",
        &[&item, &value],
    )
    .map_err(pg_error)?;
    Ok(())
}

fn insert_metadata(tx: &mut Tx<'_>, rows: &[MetadataDump]) -> Result<(), StorageError> {
    let st = tx
        .prepare("INSERT INTO metadata (folder, owner, name, value) VALUES ($1, $2, $3, $4)")
        .map_err(pg_error)?;
    for m in rows {
        tx.execute(
            &st,
            &[&int(m.folder, "folder id")?, &m.owner, &m.name, &m.value],
        )
        .map_err(pg_error)?;
    }
    Ok(())
}

impl PgStore {
    /// Starts (or continues) a migration from `source`: refuses a target that holds data
    /// from anything else. Returns the progress recorded so far.
    pub(crate) fn import_begin(
        &self,
        source: &str,
    ) -> Result<HashMap<String, String>, StorageError> {
        self.pool().tx(|tx| {
            tx.execute("LOCK TABLE migration_progress IN EXCLUSIVE MODE", &[])
                .map_err(pg_error)?;
            let recorded: Option<String> = tx
                .query_opt(
                    "SELECT value FROM migration_progress WHERE item = $1",
                    &[&SOURCE],
                )
                .map_err(pg_error)?
                .map(|r| r.get(0));
            match recorded {
                Some(s) if s == source => {}
                Some(other) => {
                    return Err(StorageError::Conflict(format!(
                        "the target holds a migration of {other}, not of {source}"
                    )))
                }
                None => {
                    for table in TABLES {
                        let held: bool = tx
                            .query_one(&format!("SELECT EXISTS (SELECT 1 FROM {table})"), &[])
                            .map_err(pg_error)?
                            .get(0);
                        if held {
                            return Err(StorageError::Conflict(format!(
                                "the target already holds data (table {table}) that is not from \
                                 this migration; use an empty schema"
                            )));
                        }
                    }
                    set_progress(tx, SOURCE, source)?;
                }
            }
            let rows = tx
                .query("SELECT item, value FROM migration_progress", &[])
                .map_err(pg_error)?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    /// Domains, accounts, aliases, quotas, sender rights, subscriptions and the server's
    /// metadata, in one transaction.
    pub(crate) fn import_directory(&self, d: &DirectoryDump) -> Result<(), StorageError> {
        self.dir_tx(|tx| {
            for (name, created) in &d.domains {
                tx.execute(
                    "INSERT INTO domains (name, created) VALUES ($1, $2)",
                    &[name, &int(*created, "creation time")?],
                )
                .map_err(pg_error)?;
            }
            for a in &d.accounts {
                let domain = a.address.rsplit('@').next().unwrap_or_default();
                tx.execute(
                    "INSERT INTO accounts (address, domain, hash, admin, created, disabled)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &a.address,
                        &domain,
                        &a.hash,
                        &a.admin,
                        &int(a.created, "creation time")?,
                        &a.disabled,
                    ],
                )
                .map_err(pg_error)?;
            }
            for (alias, targets) in &d.aliases {
                for (pos, target) in targets.iter().enumerate() {
                    tx.execute(
                        "INSERT INTO aliases (alias, target, pos) VALUES ($1, $2, $3)",
                        &[alias, target, &(pos as i32)],
                    )
                    .map_err(pg_error)?;
                }
            }
            for (account, q) in &d.quotas {
                let limit = |n: Option<u64>| n.map(|n| int(n, "quota limit")).transpose();
                tx.execute(
                    "INSERT INTO quota (account, storage_used, messages_used, storage_limit,
                     messages_limit) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        account,
                        &int(q.storage_used, "quota usage")?,
                        &int(q.messages_used, "quota usage")?,
                        &limit(q.storage_limit)?,
                        &limit(q.messages_limit)?,
                    ],
                )
                .map_err(pg_error)?;
            }
            for (account, rights) in &d.sender_rights {
                let bytes = bincode::serialize(rights)
                    .map_err(|e| StorageError::Encoding(format!("sender rights: {e}")))?;
                tx.execute(
                    "INSERT INTO sender_rights (account, rights) VALUES ($1, $2)",
                    &[account, &bytes],
                )
                .map_err(pg_error)?;
            }
            for (account, name) in &d.subscriptions {
                tx.execute(
                    "INSERT INTO subscriptions (account, name) VALUES ($1, $2)",
                    &[account, name],
                )
                .map_err(pg_error)?;
            }
            insert_metadata(tx, &d.server_metadata)?;
            set_progress(tx, DIRECTORY, DONE)
        })
    }

    /// One batch of folder `f`: its row with the first batch (`first`), `messages`, and with
    /// the last batch (`extras` given) its expunge history, ACL, metadata and URLAUTH keys.
    pub(crate) fn import_folder_batch(
        &self,
        f: &FolderDump,
        first: bool,
        messages: &[MessageRecord],
        extras: Option<&FolderExtras>,
    ) -> Result<(), StorageError> {
        let id = int(f.state.id, "folder id")?;
        self.pool().tx(|tx| {
            if first {
                let s = &f.state;
                tx.execute(
                    "INSERT INTO folders (id, account, name, name_key, special_use, uidvalidity,
                     uidnext, highest_modseq, exists_count, unseen, deleted, size, subscribed,
                     noselect, recent_from, keywords, vanished_horizon)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15,
                     $16, $17)",
                    &[
                        &id,
                        &s.account,
                        &s.name,
                        &f.name_key,
                        &s.special_use,
                        &i64::from(s.uidvalidity),
                        &i64::from(s.uidnext),
                        &int(s.highest_modseq, "modseq")?,
                        &i64::from(s.exists),
                        &i64::from(s.unseen),
                        &i64::from(s.deleted),
                        &int(s.size, "folder size")?,
                        &s.subscribed,
                        &s.noselect,
                        &i64::from(f.recent_from),
                        &f.keywords,
                        &int(f.vanished_horizon, "modseq")?,
                    ],
                )
                .map_err(pg_error)?;
            }
            let st = tx
                .prepare(
                    "INSERT INTO messages (folder, uid, modseq, system_flags, keywords, size,
                     internal_date, save_date, blob) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .map_err(pg_error)?;
            for m in messages {
                tx.execute(
                    &st,
                    &[
                        &id,
                        &i64::from(m.uid),
                        &int(m.modseq, "modseq")?,
                        &i16::from(m.flags.system),
                        &m.flags.keywords,
                        &int(m.size, "message size")?,
                        &m.internal_date,
                        &m.save_date,
                        &&m.blob.0[..],
                    ],
                )
                .map_err(pg_error)?;
            }
            let value = match extras {
                None => messages
                    .last()
                    .map(|m| m.uid.to_string())
                    .unwrap_or_default(),
                Some(x) => {
                    import_extras(tx, id, x)?;
                    DONE.to_string()
                }
            };
            set_progress(tx, &folder_item(f.state.id), &value)
        })
    }

    /// One batch of queue `q` (records in id order).
    pub(crate) fn import_queue_batch(
        &self,
        q: QueueName,
        records: &[QueueRecord],
    ) -> Result<(), StorageError> {
        self.pool().tx(|tx| {
            let st = tx
                .prepare(
                    "INSERT INTO queue (id, queue, blob, record, domains)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .map_err(pg_error)?;
            for r in records {
                let bytes = bincode::serialize(r)
                    .map_err(|e| StorageError::Encoding(format!("queue record: {e}")))?;
                // The domain index comes along (storage::queue_index).
                let domains: Vec<String> = crate::storage::record_domains(r).into_iter().collect();
                tx.execute(
                    &st,
                    &[
                        &int(r.id, "queue id")?,
                        &q.as_str(),
                        &&r.blob.0[..],
                        &bytes,
                        &domains,
                    ],
                )
                .map_err(pg_error)?;
            }
            let last = records.last().map(|r| r.id.to_string()).unwrap_or_default();
            set_progress(tx, &queue_item(q), &last)
        })
    }

    /// One batch of reference counts (in blob order).
    pub(crate) fn import_refcounts(&self, counts: &[RefCount]) -> Result<(), StorageError> {
        self.pool().tx(|tx| {
            let st = tx
                .prepare("INSERT INTO blobrefs (blob, refcount) VALUES ($1, $2)")
                .map_err(pg_error)?;
            for (blob, n) in counts {
                tx.execute(&st, &[&&blob.0[..], &int(*n, "refcount")?])
                    .map_err(pg_error)?;
            }
            let last = counts.last().map(|c| c.0.to_string()).unwrap_or_default();
            set_progress(tx, BLOBREFS, &last)
        })
    }

    /// The counters, past every copied value, and the end of the copy.
    pub(crate) fn import_counters(&self, c: Counters) -> Result<(), StorageError> {
        let watermark = int(c.id_watermark, "id")?;
        self.pool().tx(|tx| {
            tx.execute(
                "INSERT INTO counters (name, value) VALUES ('uidvalidity', $1)
                 ON CONFLICT (name) DO UPDATE SET value = GREATEST(counters.value, EXCLUDED.value)",
                &[&i64::from(c.uidvalidity)],
            )
            .map_err(pg_error)?;
            for seq in ["folder_ids", "queue_ids"] {
                tx.execute(
                    &format!(
                        "SELECT setval('{seq}', GREATEST($1, (SELECT last_value FROM {seq})))"
                    ),
                    &[&watermark],
                )
                .map_err(pg_error)?;
            }
            set_progress(tx, COUNTERS, DONE)?;
            set_progress(tx, COMPLETE, DONE)
        })
    }

    /// One batch of the rows of a smaller store (`store`), the `copied` first of which are
    /// there already. Fetch passwords must be sealed with this database's key.
    pub(crate) fn import_small_batch(
        &self,
        store: SmallStore,
        copied: u64,
        rows: &[SmallRow],
    ) -> Result<(), StorageError> {
        self.pool().tx(|tx| {
            for row in rows {
                insert_small(tx, row)?;
            }
            let done = copied + rows.len() as u64;
            set_progress(tx, &small_item(store), &done.to_string())
        })
    }

    /// Records a progress entry by itself (for work outside the database, such as bodies).
    pub(crate) fn import_mark(&self, item: &str, value: &str) -> Result<(), StorageError> {
        self.pool().tx(|tx| set_progress(tx, item, value))
    }

    /// Takes the migration's own row out of `nodes` (it is no node of the cluster).
    pub(crate) fn import_leave(&self) -> Result<(), StorageError> {
        self.pool().with(|c| {
            c.execute("DELETE FROM nodes WHERE name = $1", &[&self.node()])
                .map_err(pg_error)?;
            Ok(())
        })
    }

    // ---- reading back for the verification ----

    /// The number of rows of each of [`TABLES`].
    pub(crate) fn import_counts(&self) -> Result<Vec<(&'static str, u64)>, StorageError> {
        self.pool().with(|c| {
            let mut out = Vec::new();
            for table in TABLES {
                let n: i64 = c
                    .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                    .map_err(pg_error)?
                    .get(0);
                out.push((table, n.max(0) as u64));
            }
            Ok(out)
        })
    }

    /// The checksum of folder `id` as stored (see [`Checksum`]); `None` if it is missing.
    pub(crate) fn import_folder_checksum(
        &self,
        id: FolderId,
    ) -> Result<Option<(u64, String)>, StorageError> {
        let id = int(id, "folder id")?;
        self.pool().with(|c| {
            let Some(r) = c
                .query_opt(
                    &format!(
                        "SELECT {STATE_COLUMNS}, name_key, recent_from, keywords, \
                         vanished_horizon FROM folders WHERE id = $1"
                    ),
                    &[&id],
                )
                .map_err(pg_error)?
            else {
                return Ok(None);
            };
            let folder = FolderDump {
                state: state_of(&r)?,
                name_key: r.get("name_key"),
                recent_from: u32_of(&r, "recent_from")?,
                keywords: r.get("keywords"),
                vanished_horizon: u64_of(&r, "vanished_horizon")?,
            };
            let mut sum = Checksum::default();
            sum.folder(&folder);
            let rows = c
                .query(
                    "SELECT uid, modseq, system_flags, keywords, blob FROM messages
                     WHERE folder = $1 ORDER BY uid",
                    &[&id],
                )
                .map_err(pg_error)?;
            for m in rows {
                let keywords: Vec<String> = m.get("keywords");
                let flags = u8::try_from(m.get::<_, i16>("system_flags")).unwrap_or(u8::MAX);
                sum.message(
                    u32_of(&m, "uid")?,
                    u64_of(&m, "modseq")?,
                    flags,
                    &keywords,
                    &blob_of(m.get("blob"))?,
                );
            }
            Ok(Some(sum.finish()))
        })
    }

    /// The rows of a smaller store as stored (the order does not matter, see
    /// [`small_checksum`]).
    pub(crate) fn import_small_rows(
        &self,
        store: SmallStore,
    ) -> Result<Vec<SmallRow>, StorageError> {
        self.pool().with(|c| small_rows(c, store))
    }

    /// The checksum of queue `q`'s records as stored, in id order.
    pub(crate) fn import_queue_checksum(
        &self,
        q: QueueName,
    ) -> Result<(u64, String), StorageError> {
        self.pool().with(|c| {
            let rows = c
                .query(
                    "SELECT record FROM queue WHERE queue = $1 ORDER BY id",
                    &[&q.as_str()],
                )
                .map_err(pg_error)?;
            let mut sum = Checksum::default();
            for r in rows {
                sum.record(r.get::<_, &[u8]>(0));
            }
            Ok(sum.finish())
        })
    }
}

/// A folder's expunge history, ACL, metadata and URLAUTH keys.
fn import_extras(tx: &mut Tx<'_>, id: i64, x: &FolderExtras) -> Result<(), StorageError> {
    let st = tx
        .prepare("INSERT INTO expunged (folder, uid, modseq) VALUES ($1, $2, $3)")
        .map_err(pg_error)?;
    for (uid, modseq) in &x.expunged {
        tx.execute(&st, &[&id, &i64::from(*uid), &int(*modseq, "modseq")?])
            .map_err(pg_error)?;
    }
    tx.execute(
        "UPDATE folders SET expunged_count = $2 WHERE id = $1",
        &[&id, &(x.expunged.len() as i64)],
    )
    .map_err(pg_error)?;
    for (identifier, rights) in &x.acl {
        tx.execute(
            "INSERT INTO acl (folder, identifier, rights) VALUES ($1, $2, $3)",
            &[&id, identifier, rights],
        )
        .map_err(pg_error)?;
    }
    insert_metadata(tx, &x.metadata)?;
    for (user, key) in &x.urlauth {
        tx.execute(
            "INSERT INTO urlauth (folder, \"user\", key) VALUES ($1, $2, $3)",
            &[&id, user, key],
        )
        .map_err(pg_error)?;
    }
    Ok(())
}

/// Writes one row of a smaller store.
fn insert_small(tx: &mut Tx<'_>, row: &SmallRow) -> Result<(), StorageError> {
    let id = |id: SourceId| int(id, "fetch source id");
    match row {
        SmallRow::Dkim(key, private) => return dkim::insert_key(tx, key, private),
        SmallRow::FetchSource(source) => return put_source(tx, source),
        SmallRow::FetchStatus(source, status) => tx.execute(
            "INSERT INTO fetch_status (source, status) VALUES ($1, $2)",
            &[&id(*source)?, &encode(status)?],
        ),
        SmallRow::FetchSeen(source, mark, at) => tx.execute(
            "INSERT INTO fetch_seen (source, mark, fetched_at) VALUES ($1, $2, $3)",
            &[&id(*source)?, mark, at],
        ),
        SmallRow::FetchDedup(source, recipient, message_id, at) => tx.execute(
            "INSERT INTO fetch_dedup (source, recipient, message_id, delivered_at)
             VALUES ($1, $2, $3, $4)",
            &[&id(*source)?, recipient, message_id, at],
        ),
        SmallRow::MtaSts(domain, p) => tx.execute(
            "INSERT INTO mta_sts (domain, id, text, fetched_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            &[domain, &p.id, &p.text, &p.fetched_at, &p.expires_at],
        ),
        SmallRow::TlsRpt(day, domain, counts) => tx.execute(
            "INSERT INTO tlsrpt (day, domain, counts) VALUES ($1, $2, $3)",
            &[&i64::from(*day), domain, &encode(counts)?],
        ),
        SmallRow::ScreenAddress(ip, rec) => tx.execute(
            "INSERT INTO screen_addresses (address, record) VALUES ($1, $2)",
            &[&ip.to_string(), &encode(rec)?],
        ),
        SmallRow::ScreenAccount(account, times) => tx.execute(
            "INSERT INTO screen_accounts (account, times) VALUES ($1, $2)",
            &[account, times],
        ),
        SmallRow::ScreenRule(rule, network) => tx.execute(
            "INSERT INTO screen_rules (rule, network) VALUES ($1, $2)",
            &[rule, network],
        ),
        SmallRow::Totp(account, state) => {
            return match super::webauth::put_totp(tx, account, state)? {
                true => Ok(()),
                false => Err(StorageError::NotFound(format!("account {account}"))),
            }
        }
        SmallRow::ApiKey(key) => {
            return match super::webauth::put_key(tx, key)? {
                true => Ok(()),
                false => Err(StorageError::NotFound(format!("account {}", key.owner))),
            }
        }
        SmallRow::Snooze(rec) => return super::snooze::insert(tx, rec),
        SmallRow::Device(device) => {
            return match super::devices::put_device(tx, device)? {
                true => Ok(()),
                false => Err(StorageError::NotFound(format!(
                    "account {}",
                    device.account
                ))),
            }
        }
        SmallRow::DavCollection(_)
        | SmallRow::DavObject(..)
        | SmallRow::DavHome(_)
        | SmallRow::DavAcl(..) => return super::davstore::import_row(tx, row),
    }
    .map_err(pg_error)?;
    Ok(())
}

/// A source id as stored.
fn source_id(row: &postgres::Row, column: &str) -> Result<SourceId, StorageError> {
    let id: i64 = row.get(column);
    SourceId::try_from(id)
        .map_err(|_| StorageError::Encoding(format!("fetch source id {id} out of range")))
}

/// Reads back the rows of a smaller store.
fn small_rows(c: &mut Conn, store: SmallStore) -> Result<Vec<SmallRow>, StorageError> {
    let mut out = Vec::new();
    let mut query = |sql: &str| c.query(sql, &[]).map_err(pg_error);
    match store {
        SmallStore::Dkim => {
            for r in query(&format!(
                "SELECT {}, private_key FROM dkim_keys",
                dkim::KEY_COLUMNS
            ))? {
                out.push(SmallRow::Dkim(dkim::key_of(&r)?, r.get("private_key")));
            }
        }
        SmallStore::Fetch => {
            for r in query("SELECT id, source FROM fetch_sources")? {
                let mut source: FetchSource = decode(r.get("source"), "fetch source")?;
                source.id = source_id(&r, "id")?;
                out.push(SmallRow::FetchSource(source));
            }
            for r in query("SELECT source, status FROM fetch_status")? {
                let status = decode(r.get("status"), "fetch status")?;
                out.push(SmallRow::FetchStatus(source_id(&r, "source")?, status));
            }
            for r in query("SELECT source, mark, fetched_at FROM fetch_seen")? {
                out.push(SmallRow::FetchSeen(
                    source_id(&r, "source")?,
                    r.get("mark"),
                    r.get("fetched_at"),
                ));
            }
            for r in query("SELECT source, recipient, message_id, delivered_at FROM fetch_dedup")? {
                out.push(SmallRow::FetchDedup(
                    source_id(&r, "source")?,
                    r.get("recipient"),
                    r.get("message_id"),
                    r.get("delivered_at"),
                ));
            }
        }
        SmallStore::TlsPolicy => {
            for r in query("SELECT domain, id, text, fetched_at, expires_at FROM mta_sts")? {
                let policy = CachedStsPolicy {
                    id: r.get("id"),
                    text: r.get("text"),
                    fetched_at: r.get("fetched_at"),
                    expires_at: r.get("expires_at"),
                };
                out.push(SmallRow::MtaSts(r.get("domain"), policy));
            }
            for r in query("SELECT day, domain, counts FROM tlsrpt")? {
                let day: i64 = r.get("day");
                let day = u32::try_from(day).map_err(|_| {
                    StorageError::Encoding(format!("TLS report day {day} out of range"))
                })?;
                let counts = decode(r.get("counts"), "TLS report")?;
                out.push(SmallRow::TlsRpt(day, r.get("domain"), counts));
            }
        }
        SmallStore::Screening => {
            for r in query("SELECT address, record FROM screen_addresses")? {
                let address: &str = r.get("address");
                let ip = address.parse().map_err(|_| {
                    StorageError::Encoding(format!("screening: {address:?} is not an address"))
                })?;
                let rec = decode(r.get("record"), "screening record")?;
                out.push(SmallRow::ScreenAddress(ip, rec));
            }
            for r in query("SELECT account, times FROM screen_accounts")? {
                out.push(SmallRow::ScreenAccount(r.get("account"), r.get("times")));
            }
            for r in query("SELECT rule, network FROM screen_rules")? {
                let rule = match r.get::<_, &str>("rule") {
                    "allow" => "allow",
                    "deny" => "deny",
                    other => {
                        return Err(StorageError::Encoding(format!(
                            "screening rule {other:?} is neither allow nor deny"
                        )))
                    }
                };
                out.push(SmallRow::ScreenRule(rule, r.get("network")));
            }
        }
        SmallStore::Dav => out.extend(super::davstore::export_rows(c)?),
        SmallStore::WebAuth => {
            out.extend(
                super::webauth::totp_rows(c)?
                    .into_iter()
                    .map(|(a, t)| SmallRow::Totp(a, t)),
            );
            out.extend(
                super::webauth::key_rows(c)?
                    .into_iter()
                    .map(SmallRow::ApiKey),
            );
            out.extend(
                super::devices::device_rows(c)?
                    .into_iter()
                    .map(SmallRow::Device),
            );
        }
        SmallStore::Snooze => {
            for r in query(&format!(
                "SELECT {} FROM snooze ORDER BY wake, id",
                super::snooze::COLUMNS
            ))? {
                out.push(SmallRow::Snooze(super::snooze::record_of(&r)?));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
impl PgStore {
    /// Damage for `storage check` tests: one more reference on `blob` than records hold.
    pub(crate) fn test_bump_refcount(&self, blob: &crate::storage::BlobId) {
        self.pool()
            .with(|c| {
                c.execute(
                    "UPDATE blobrefs SET refcount = refcount + 1 WHERE blob = $1",
                    &[&&blob.0[..]],
                )
                .map_err(pg_error)
            })
            .expect("bump refcount");
    }
}
