//! The PostgreSQL backend: the index in a PostgreSQL(-compatible) database that several
//! nodes share, beside the blob file store (a directory every node mounts). It implements
//! every trait of `storage::traits` and passes the same conformance suite as the embedded
//! backend; nothing outside this module names PostgreSQL.
//!
//! # Tables
//!
//! The schema is created and migrated at open from the numbered files in `migrations/`
//! (see `schema.rs`); `0001_init.sql` describes every table. In short: `domains`,
//! `accounts`, `aliases`, `quota`, `sender_rights`; `folders` (one row per folder, holding
//! its counters, and the lock every message write of the folder takes), `messages`,
//! `expunged`, `acl`, `subscriptions`, `metadata`, `urlauth`; `queue` (the six queues, with
//! a lease per record), `blobrefs`; `counters`, `nodes`; and the smaller stores' tables.
//!
//! # Transactions and durability
//!
//! Every operation that touches more than one row runs in one transaction
//! ([`pool::Pool::tx`]), committed before the call returns (visible to every node at once)
//! but asynchronously (`synchronous_commit = off`): as with sled, writes are durable after a
//! commit round of [`Durability`](crate::storage::Durability), which syncs the body files and
//! then flushes the WAL once for every transaction before it (`pool::flush_wal`). Callers
//! about to acknowledge wait for that round, as they do on sled. Bodies before records holds
//! as with sled: a body is durable before a record referencing it is inserted.
//!
//! # Several nodes
//!
//! Each node names itself (`[storage] node`) in the `nodes` table and renews its row and
//! its queue leases on a heartbeat. Folder writes notify the channel of
//! [`PgStore::channel`] (`LISTEN`/`NOTIFY`), which other nodes' folder registries hear.

mod acl;
mod append;
mod backend;
mod blobrefs;
mod changes;
mod cluster;
#[cfg(test)]
mod conformance_tests;
mod davfiles;
mod davstore;
mod devices;
mod dircache;
mod directory;
mod directory_helpers;
mod dkim;
mod fetch;
pub(crate) mod folders;
#[cfg(test)]
mod folders_tests;
pub(crate) mod import;
mod messages;
mod metadata;
pub(crate) mod pool;
mod queue;
mod queue_index;
#[cfg(test)]
mod queue_tests;
mod quota;
pub(crate) mod schema;
#[cfg(test)]
mod schema_tests;
mod screen;
mod sender_rights;
mod settings;
#[cfg(test)]
mod small_tests;
mod snooze;
mod subscriptions;
mod sweep;
mod tlspolicy;
mod urlauth;
mod watch;
mod webauth;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::commit::{self, CommitQueue, Committer, IndexFlush};
use super::{BlobId, BlobStore, CommitStats, SecretKey, StorageError, Store, Writers};
use crate::config::PostgresConfig;
use pool::{pg_error, Connect, Db, Pool};

/// Expunged UIDs remembered per folder for QRESYNC (RFC 7162 §3.2.5.2), as with sled.
const EXPUNGED_KEEP: u32 = 100_000;

/// The PostgreSQL backend. Cheap to clone; every clone shares one pool, one blob store and
/// one committer thread, which stops when the last clone is dropped.
#[derive(Clone)]
pub(crate) struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    // Field order matters for Drop: the committer (which holds the pool) stops first.
    committer: Committer,
    pool: Arc<Pool>,
    blobs: Arc<BlobStore>,
    /// This node's data directory (its own files: certificates, the console socket).
    root: PathBuf,
    schema: String,
    node: String,
    lease: Duration,
    poll_interval: Duration,
    expunged_keep: AtomicU32,
    /// The key sealing fetch passwords (kept in the database, shared by every node).
    secret_key: Mutex<Option<Arc<SecretKey>>>,
    /// Recipient lookups, while a `LISTEN` thread hears directory changes.
    dir_cache: dircache::DirCache,
}

impl Store {
    /// Opens (creating and migrating the schema when needed) the PostgreSQL backend of
    /// `cfg`, with bodies in `blobs` (default `data_dir/blobs`). Refuses a database whose
    /// schema is newer than this build's ([`StorageError::Schema`]).
    pub fn open_postgres(
        data_dir: &Path,
        blobs: Option<&Path>,
        cfg: &PostgresConfig,
    ) -> Result<(Store, Writers), StorageError> {
        Ok(Store::new(Arc::new(PgStore::open(data_dir, blobs, cfg)?)))
    }
}

/// The committer's view of PostgreSQL: the round's flush makes every transaction committed
/// before it durable (one WAL flush; transactions commit asynchronously, see `pool.rs`), and
/// the collection of released blobs after it.
struct PgIndex {
    pool: Arc<Pool>,
}

impl IndexFlush for PgIndex {
    fn flush(&self) -> Result<(), StorageError> {
        self.pool.with(pool::flush_wal)
    }

    fn collect(&self, blobs: &BlobStore, released: &[BlobId]) {
        blobrefs::collect(&self.pool, blobs, released);
    }

    /// Side by side, on up to as many threads as the pool has connections: each write is a
    /// transaction of several round trips, and one after the other they bounded a round (and
    /// so SMTP ingest) by the sum of their latencies. They are independent records; the
    /// round's flush still follows them all.
    fn run_writes(&self, writes: Vec<commit::AfterSync>) {
        let threads = writes.len().min(self.pool.size());
        if threads <= 1 {
            writes.into_iter().for_each(commit::run_write);
            return;
        }
        let queue = std::sync::Mutex::new(writes);
        let next = || {
            queue
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .pop()
        };
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    while let Some(write) = next() {
                        commit::run_write(write);
                    }
                });
            }
        });
    }
}

/// The connection settings of `cfg`: its URL or key=value string, with TLS through rustls
/// (the public CA roots) unless the string says `sslmode=disable` or names no TLS.
fn connect_settings(cfg: &PostgresConfig) -> Result<Connect, StorageError> {
    let config: postgres::Config = cfg
        .url
        .parse()
        .map_err(|e| StorageError::Invalid(format!("storage.url: {e}")))?;
    let tls = match config.get_ssl_mode() {
        postgres::config::SslMode::Disable | postgres::config::SslMode::Prefer => None,
        _ => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| StorageError::Invalid(format!("TLS to PostgreSQL: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
            Some(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
        }
    };
    Ok(Connect {
        config,
        tls,
        schema: cfg.schema.clone(),
        statement_timeout: cfg.statement_timeout,
    })
}

impl PgStore {
    pub(crate) fn open(
        data_dir: &Path,
        blobs: Option<&Path>,
        cfg: &PostgresConfig,
    ) -> Result<PgStore, StorageError> {
        std::fs::create_dir_all(data_dir)?;
        let connect = connect_settings(cfg)?;
        // The server opens the store on its runtime's thread.
        pool::off_runtime(|| -> Result<(), StorageError> {
            let mut client = connect.connect()?;
            schema::migrate(&mut client, &cfg.schema).map(|_| ())
        })?;
        let pool = Arc::new(Pool::new(connect, cfg.pool_size));
        let commits = CommitQueue::new();
        let blob_root = blobs
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.join("blobs"));
        let tmp = blob_root.join("tmp").join(node_dir_name(&cfg.node));
        let blobs = Arc::new(BlobStore::open_with_tmp(
            &blob_root,
            tmp,
            Box::new(commits.clone()),
        )?);
        let committer = Committer::start(
            commits,
            commit::Target {
                index: Box::new(PgIndex { pool: pool.clone() }),
                blobs: blobs.clone(),
            },
        )?;
        let store = PgStore {
            inner: Arc::new(Inner {
                committer,
                pool,
                blobs,
                root: data_dir.to_path_buf(),
                schema: cfg.schema.clone(),
                node: cfg.node.clone(),
                lease: cfg.lease,
                poll_interval: cfg.poll_interval,
                expunged_keep: AtomicU32::new(EXPUNGED_KEEP),
                secret_key: Mutex::new(None),
                dir_cache: Default::default(),
            }),
        };
        store.pool().with(|c| {
            c.execute(
                "INSERT INTO nodes (name, started, seen, version) VALUES ($1, now(), now(), $2)
                 ON CONFLICT (name) DO UPDATE SET started = now(), seen = now(),
                 version = EXCLUDED.version",
                &[&store.inner.node, &env!("CARGO_PKG_VERSION")],
            )
            .map_err(pg_error)?;
            Ok(())
        })?;
        store.ensure_queue_index()?;
        Ok(store)
    }

    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// The cached recipient lookups (`dircache.rs`).
    pub(crate) fn dir_cache(&self) -> &dircache::DirCache {
        &self.inner.dir_cache
    }

    /// This node's name.
    pub(crate) fn node(&self) -> &str {
        &self.inner.node
    }

    /// How long a queue lease lasts without renewal.
    pub(crate) fn lease(&self) -> Duration {
        self.inner.lease
    }

    /// How often to look for other nodes' changes without a notification.
    pub(crate) fn poll_interval(&self) -> Duration {
        self.inner.poll_interval
    }

    /// The LISTEN/NOTIFY channel for `kind` ("folders", "settings"): named after the schema,
    /// since channels are per database and several schemas may share one.
    pub(crate) fn channel(&self, kind: &str) -> String {
        format!("ferrymail.{}.{kind}", self.inner.schema)
    }

    /// How many expunged UIDs each folder keeps (at least).
    pub(crate) fn expunged_keep(&self) -> u32 {
        self.inner.expunged_keep.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub(crate) fn set_expunged_keep(&self, keep: u32) {
        self.inner.expunged_keep.store(keep, Ordering::Relaxed);
    }

    pub(crate) fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub(crate) fn blob_root(&self) -> PathBuf {
        self.inner.blobs.root().to_path_buf()
    }

    /// Delete the files of `zeroed` blobs after the next commit round, if their count is
    /// still 0 then.
    pub(crate) fn collect_after_commit(&self, zeroed: &[BlobId]) {
        self.blobs().release(zeroed);
    }

    pub(crate) fn root(&self) -> &Path {
        &self.inner.root
    }

    pub(crate) fn commit(&self) -> Result<(), StorageError> {
        self.inner.committer.queue().commit()
    }

    pub(crate) fn commit_async(
        &self,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.inner.committer.queue().commit_async()
    }

    pub(crate) fn write_after_sync(
        &self,
        write: commit::AfterSync,
    ) -> impl std::future::Future<Output = Result<(), StorageError>> + Send + 'static {
        self.inner.committer.queue().write_after_sync(write)
    }

    pub(crate) fn commit_stats(&self) -> CommitStats {
        self.inner.committer.queue().stats()
    }

    #[cfg(any(test, feature = "fault-injection"))]
    pub(crate) fn inject_sync_errors(&self, rounds: u32) {
        self.inner.committer.queue().inject_sync_errors(rounds);
    }

    /// The slot of the key that seals fetch passwords (see `fetch.rs`).
    pub(crate) fn secret_key_slot(&self) -> &Mutex<Option<Arc<SecretKey>>> {
        &self.inner.secret_key
    }
}

/// A node name as a directory name (anything but letters, digits, '-', '.' and '_' becomes
/// '_').
fn node_dir_name(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Opening the backend in tests: the database named by `FERRYMAIL_TEST_PG_URL` (which
/// `.ci/run` always sets), one schema per data directory so that tests do not share tables.
#[cfg(any(test, feature = "fault-injection"))]
pub mod testing {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::PostgresConfig;
    use crate::storage::{StorageError, Store, Writers};

    /// The variable naming the test database.
    pub const URL_VAR: &str = "FERRYMAIL_TEST_PG_URL";

    /// The test database's URL, or `None` (with a loud note on stderr) when it is not set:
    /// the caller then skips its test.
    pub fn url(test: &str) -> Option<String> {
        match std::env::var(URL_VAR) {
            Ok(u) if !u.trim().is_empty() => Some(u),
            _ => {
                eprintln!("SKIPPED {test}: no PostgreSQL ({URL_VAR} is not set; .ci/run sets it)");
                None
            }
        }
    }

    /// The settings for a test node `node` on schema `schema`.
    pub fn config(url: &str, schema: &str, node: &str) -> PostgresConfig {
        PostgresConfig {
            url: url.to_string(),
            schema: schema.to_string(),
            pool_size: 8,
            statement_timeout: Duration::from_secs(60),
            node: node.to_string(),
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
        }
    }

    /// A schema name unique to `dir` (the same one on every open of it).
    pub fn schema_for(dir: &Path) -> String {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(dir.to_string_lossy().as_bytes());
        format!("t_{}", hex::encode(&digest[..10]))
    }

    /// Opens the backend on `dir` with its own schema in the test database.
    pub fn open(url: &str, dir: &Path) -> Result<(Store, Writers), StorageError> {
        Store::open_postgres(dir, None, &config(url, &schema_for(dir), "test-node"))
    }

    /// Opens node `node` of a test cluster: the nodes share `schema` and the bodies in
    /// `dir/blobs`; each has its own data directory `dir/<node>`.
    pub fn open_node(url: &str, dir: &Path, schema: &str, node: &str) -> (Store, PostgresConfig) {
        let cfg = config(url, schema, node);
        let (store, _) = Store::open_postgres(&dir.join(node), Some(&dir.join("blobs")), &cfg)
            .unwrap_or_else(|e| panic!("opening node {node}: {e}"));
        (store, cfg)
    }

    /// Drops `schema` and everything in it.
    pub fn drop_schema(url: &str, schema: &str) {
        if let Ok(mut c) = url
            .parse::<postgres::Config>()
            .and_then(|c| c.connect(postgres::NoTls))
        {
            let _ = c.batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {} CASCADE",
                super::pool::quote_ident(schema)
            ));
        }
    }
}
