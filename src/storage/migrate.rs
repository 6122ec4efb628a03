//! `ferrymail storage migrate`: copies the embedded backend's data directory into a
//! PostgreSQL database, resumably, and verifies the copy.
//!
//! The source is read through the storage traits where they give everything (messages, ACLs,
//! queue records, aliases, quotas, sender rights) and through [`Export`] (the embedded backend's own records) where they do
//! not (see `storage::dump`); the target is written by `pg::import`, batch by batch, each
//! batch in one transaction with its progress entry. The order: bodies (only when they move
//! to another directory; their progress is recorded after each batch of synced copies),
//! directory, folders with their messages, queues, the smaller stores (DKIM keys, fetch
//! sources and marks, TLS policy cache and counts, screening), reference counts, counters.
//! Run again after an interruption, the copy continues after the last batch committed. At
//! the end both sides are compared: row counts per table, a checksum per folder (its state,
//! and uid, modseq, flags and blob of every message), per queue and per smaller store, and
//! every fetch password is opened on both sides and compared.
//!
//! Fetch passwords are re-sealed: opened with the data directory's `secret.key` and sealed
//! with the database's key (made if it has none). Copying the file's key into the database
//! instead would fail on a database that has a key already, and would put one key on two
//! kinds of storage with different backup and access rules; re-sealing works either way.
//!
//! The server must not run on the data directory meanwhile (the caller checks its console
//! socket): the copy is of a directory nothing changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dump::{small_checksum, Checksum, Export, FolderDump, SmallRow, SmallStore};
use super::pg::import::{self, DONE};
use super::pg::PgStore;
use super::traits::Folders;
use super::{BlobId, DavFileStore, QueueName, StorageError};
use crate::config::PostgresConfig;

/// What `storage migrate` was asked for.
#[derive(Clone, Debug)]
pub struct MigrateOptions {
    /// The target database (URL or key=value string).
    pub url: String,
    /// The schema the tables go to (created when missing).
    pub schema: String,
    /// Copy the bodies to this directory (the PostgreSQL configuration's `blobs`); `None`:
    /// they stay where they are.
    pub blobs: Option<PathBuf>,
    /// Rows per transaction.
    pub batch: usize,
    /// Testing aid: stop with an error after this many batches were committed, as an
    /// interruption would.
    pub stop_after: Option<u64>,
}

impl MigrateOptions {
    pub fn new(url: &str, schema: &str) -> MigrateOptions {
        MigrateOptions {
            url: url.to_string(),
            schema: schema.to_string(),
            blobs: None,
            batch: 1000,
            stop_after: None,
        }
    }
}

/// Where a long run reports how far it is.
pub trait Progress {
    /// A phase begins with `total` items.
    fn phase(&mut self, name: &str, total: u64);
    /// `n` more items of the phase are done.
    fn advance(&mut self, n: u64);
    /// The phase is over.
    fn end_phase(&mut self);
}

/// What the final comparison found: one line per thing compared, and the mismatches.
#[derive(Clone, Debug, Default)]
pub struct Verification {
    pub lines: Vec<String>,
    pub mismatches: Vec<String>,
}

impl Verification {
    fn compare(&mut self, what: &str, source: &str, target: &str) {
        if source == target {
            self.lines.push(format!("{what}: {source} (equal)"));
        } else {
            let m = format!("{what}: source {source}, target {target}");
            self.lines.push(format!("MISMATCH {m}"));
            self.mismatches.push(m);
        }
    }

    pub fn ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// The marker of an interruption asked for with [`MigrateOptions::stop_after`].
pub const STOPPED: &str = "migration stopped on request after";

/// Counts committed batches and stops after the asked number.
struct Batches {
    done: u64,
    stop_after: Option<u64>,
}

impl Batches {
    fn committed(&mut self) -> Result<(), StorageError> {
        self.done += 1;
        match self.stop_after {
            Some(n) if self.done >= n => Err(StorageError::Invalid(format!(
                "{STOPPED} {n} batches (--stop-after)"
            ))),
            _ => Ok(()),
        }
    }
}

/// Copies the embedded data directory `data_dir` (bodies in `blobs`, default
/// `data_dir/blobs`) into the database of `opts` (see the module notes) and verifies it.
pub fn migrate(
    data_dir: &Path,
    blobs: Option<&Path>,
    opts: &MigrateOptions,
    progress: &mut dyn Progress,
) -> Result<Verification, StorageError> {
    let source_store = <dyn Export>::open_embedded(data_dir, blobs)?;
    let sled: &dyn Export = &*source_store;
    let target_blobs = opts.blobs.clone().or(blobs.map(Path::to_path_buf));
    let pg_cfg = PostgresConfig {
        url: opts.url.clone(),
        schema: opts.schema.clone(),
        pool_size: 2,
        statement_timeout: Duration::from_secs(600),
        node: "storage-migrate".into(),
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_secs(5),
    };
    let pg = PgStore::open(data_dir, target_blobs.as_deref(), &pg_cfg)?;
    let source = std::fs::canonicalize(data_dir)?
        .to_string_lossy()
        .into_owned();
    let result = copy(sled, &pg, &source, opts, progress).and_then(|()| {
        progress.phase("verify", 0);
        let v = verify(sled, &pg);
        progress.end_phase();
        v
    });
    pg.import_leave()?;
    result
}

fn copy(
    sled: &dyn Export,
    pg: &PgStore,
    source: &str,
    opts: &MigrateOptions,
    progress: &mut dyn Progress,
) -> Result<(), StorageError> {
    let done = pg.import_begin(source)?;
    if done.contains_key(import::COMPLETE) {
        return Ok(());
    }
    let batch = opts.batch.max(1);
    let mut batches = Batches {
        done: 0,
        stop_after: opts.stop_after,
    };
    let refcounts = sled.export_refcounts()?;
    if sled.blob_root() != pg.blob_root() {
        copy_bodies(
            sled,
            pg,
            &refcounts,
            done.get(import::BODIES),
            batch,
            &mut batches,
            progress,
        )?;
    }

    if !done.contains_key(import::DIRECTORY) {
        progress.phase("directory", 1);
        pg.import_directory(&sled.export_directory()?)?;
        progress.advance(1);
        progress.end_phase();
        batches.committed()?;
    }

    let folders = sled.export_folders()?;
    let total = folders.iter().map(|f| u64::from(f.state.exists)).sum();
    progress.phase("folders", total);
    for f in &folders {
        copy_folder(
            sled,
            pg,
            f,
            done.get(&import::folder_item(f.state.id)),
            batch,
            &mut batches,
            progress,
        )?;
    }
    progress.end_phase();

    for q in QueueName::ALL {
        let records = sled.queue_list(q)?;
        progress.phase(&format!("queue {}", q.as_str()), records.len() as u64);
        let after: u64 = match done.get(&import::queue_item(q)) {
            Some(v) => parse(v, "queue progress")?,
            None => 0,
        };
        progress.advance(records.iter().filter(|r| r.id <= after).count() as u64);
        let rest: Vec<_> = records.into_iter().filter(|r| r.id > after).collect();
        for chunk in rest.chunks(batch) {
            pg.import_queue_batch(q, chunk)?;
            progress.advance(chunk.len() as u64);
            batches.committed()?;
        }
        progress.end_phase();
    }

    for store in SmallStore::ALL {
        let copied: u64 = match done.get(&import::small_item(store)) {
            Some(v) => parse(v, "store progress")?,
            None => 0,
        };
        let rows = sled.export_small(store)?;
        progress.phase(store.name(), rows.len() as u64);
        progress.advance(copied.min(rows.len() as u64));
        let mut at = copied;
        let rest = rows
            .get(usize::try_from(copied).unwrap_or(usize::MAX)..)
            .unwrap_or(&[]);
        for chunk in rest.chunks(batch) {
            let chunk = chunk
                .iter()
                .map(|row| reseal(sled, pg, row))
                .collect::<Result<Vec<_>, _>>()?;
            pg.import_small_batch(store, at, &chunk)?;
            at += chunk.len() as u64;
            progress.advance(chunk.len() as u64);
            batches.committed()?;
        }
        progress.end_phase();
    }

    // WebDAV files: rows as they are (their references and usage come with the reference
    // counts and the directory); an upsert, so a resumed copy simply writes them again.
    if let (Some(from), Some(to)) = (sled.dav_files(), pg.dav_files()) {
        let nodes = from.dav_all()?;
        progress.phase("dav files", nodes.len() as u64);
        for chunk in nodes.chunks(batch) {
            for (account, node) in chunk {
                to.dav_import(account, node)?;
            }
            progress.advance(chunk.len() as u64);
            batches.committed()?;
        }
        progress.end_phase();
    }

    progress.phase("reference counts", refcounts.len() as u64);
    let after: Option<BlobId> = done
        .get(import::BLOBREFS)
        .filter(|v| !v.is_empty())
        .map(|v| v.parse())
        .transpose()?;
    let start = refcounts.partition_point(|(b, _)| Some(*b) <= after);
    progress.advance(start as u64);
    for chunk in refcounts[start..].chunks(batch.saturating_mul(10)) {
        pg.import_refcounts(chunk)?;
        progress.advance(chunk.len() as u64);
        batches.committed()?;
    }
    progress.end_phase();

    pg.import_counters(sled.export_counters()?)
}

/// `row`, with a fetch password sealed with the target's key instead of the source's.
fn reseal(sled: &dyn Export, pg: &PgStore, row: &SmallRow) -> Result<SmallRow, StorageError> {
    match row {
        SmallRow::FetchSource(s) if !s.password.is_empty() => {
            let plain = sled.open_secret(&s.password).map_err(|e| {
                StorageError::Invalid(format!(
                    "the password of fetch source {} does not open with the data directory's \
                     key: {e}",
                    s.id
                ))
            })?;
            let mut s = s.clone();
            s.password = pg.seal_secret(&plain)?;
            Ok(SmallRow::FetchSource(s))
        }
        other => Ok(other.clone()),
    }
}

fn parse<T: std::str::FromStr>(v: &str, what: &str) -> Result<T, StorageError> {
    v.parse()
        .map_err(|_| StorageError::Encoding(format!("{what}: unreadable value {v:?}")))
}

/// Copies folder `f` after the last UID recorded as done (`recorded`).
fn copy_folder(
    sled: &dyn Export,
    pg: &PgStore,
    f: &FolderDump,
    recorded: Option<&String>,
    batch: usize,
    batches: &mut Batches,
    progress: &mut dyn Progress,
) -> Result<(), StorageError> {
    let id = f.state.id;
    let after: u32 = match recorded.map(String::as_str) {
        Some(DONE) => {
            progress.advance(u64::from(f.state.exists));
            return Ok(());
        }
        Some("") | None => 0,
        Some(v) => parse(v, "folder progress")?,
    };
    let messages = Folders::messages_from(sled, id, after.saturating_add(1))?;
    progress.advance(u64::from(f.state.exists).saturating_sub(messages.len() as u64));
    let extras = sled.export_folder_extras(id)?;
    let mut first = recorded.is_none();
    let mut chunks = messages.chunks(batch).peekable();
    if chunks.peek().is_none() {
        pg.import_folder_batch(f, first, &[], Some(&extras))?;
        return batches.committed();
    }
    while let Some(chunk) = chunks.next() {
        let last = chunks.peek().is_none();
        pg.import_folder_batch(f, first, chunk, last.then_some(&extras))?;
        first = false;
        progress.advance(chunk.len() as u64);
        batches.committed()?;
    }
    Ok(())
}

/// Copies every referenced body after the last one recorded (`recorded`) to the target's
/// blob directory, checking each copy's size and sha256 (a file already there is checked the
/// same way, and replaced if it differs). The last body of each batch is recorded once the
/// batch's copies are synced, so a rerun does not copy them again.
fn copy_bodies(
    sled: &dyn Export,
    pg: &PgStore,
    refcounts: &[(BlobId, u64)],
    recorded: Option<&String>,
    batch: usize,
    batches: &mut Batches,
    progress: &mut dyn Progress,
) -> Result<(), StorageError> {
    progress.phase("bodies", refcounts.len() as u64);
    let after: Option<BlobId> = recorded
        .filter(|v| !v.is_empty())
        .map(|v| v.parse())
        .transpose()?;
    let start = refcounts.partition_point(|(b, _)| Some(*b) <= after);
    progress.advance(start as u64);
    for chunk in refcounts[start..].chunks(batch) {
        copy_body_batch(sled, pg, chunk)?;
        if let Some((last, _)) = chunk.last() {
            pg.import_mark(import::BODIES, &last.to_string())?;
        }
        progress.advance(chunk.len() as u64);
        batches.committed()?;
    }
    progress.end_phase();
    Ok(())
}

/// Copies (or checks) the bodies of `chunk`.
fn copy_body_batch(
    sled: &dyn Export,
    pg: &PgStore,
    chunk: &[(BlobId, u64)],
) -> Result<(), StorageError> {
    for (blob, _) in chunk {
        let from = sled.blobs().path(blob);
        let to = pg.blobs().path(blob);
        let size = std::fs::metadata(&from)
            .map_err(|e| StorageError::Invalid(format!("body {blob} ({}): {e}", from.display())))?
            .len();
        if !body_matches(&to, blob, size) {
            copy_file(&from, &to)?;
            if !body_matches(&to, blob, size) {
                return Err(StorageError::Invalid(format!(
                    "the copy of body {blob} at {} does not match (size or sha256)",
                    to.display()
                )));
            }
        }
    }
    Ok(())
}

/// Whether `path` holds body `blob` of `size` bytes.
fn body_matches(path: &Path, blob: &BlobId, size: u64) -> bool {
    match std::fs::read(path) {
        Ok(bytes) => bytes.len() as u64 == size && BlobId::of(&bytes) == *blob,
        Err(_) => false,
    }
}

/// Copies `from` to `to` through a temporary file beside it, synced before the rename.
fn copy_file(from: &Path, to: &Path) -> Result<(), StorageError> {
    let dir = to
        .parent()
        .ok_or_else(|| StorageError::Invalid(format!("{} has no directory", to.display())))?;
    std::fs::create_dir_all(dir)?;
    let tmp = to.with_extension("copying");
    std::fs::copy(from, &tmp)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, to)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// (sealed passwords in `rows`, those of them that open in `target` to what they open to on
/// the source).
fn compare_passwords(
    sled: &dyn Export,
    pg: &PgStore,
    rows: &[SmallRow],
    target: &[SmallRow],
) -> Result<(u64, u64), StorageError> {
    let copies: HashMap<u64, &[u8]> = target
        .iter()
        .filter_map(|r| match r {
            SmallRow::FetchSource(s) => Some((s.id, s.password.as_slice())),
            _ => None,
        })
        .collect();
    let (mut sealed, mut opened) = (0, 0);
    for row in rows {
        let SmallRow::FetchSource(s) = row else {
            continue;
        };
        if s.password.is_empty() {
            continue;
        }
        sealed += 1;
        let plain = sled.open_secret(&s.password)?;
        let copy = copies.get(&s.id).map(|c| pg.open_secret(c));
        if matches!(copy, Some(Ok(p)) if p == plain) {
            opened += 1;
        }
    }
    Ok((sealed, opened))
}

/// Compares the source with the copy: row counts, per-folder, per-queue and per-store
/// checksums, fetch passwords.
fn verify(sled: &dyn Export, pg: &PgStore) -> Result<Verification, StorageError> {
    let d = sled.export_directory()?;
    let folders = sled.export_folders()?;
    let mut v = Verification::default();
    let mut source: HashMap<&str, u64> = HashMap::new();
    source.insert("domains", d.domains.len() as u64);
    source.insert("accounts", d.accounts.len() as u64);
    source.insert(
        "aliases",
        d.aliases.iter().map(|(_, t)| t.len() as u64).sum(),
    );
    source.insert("quota", d.quotas.len() as u64);
    source.insert("sender_rights", d.sender_rights.len() as u64);
    source.insert("folders", folders.len() as u64);
    source.insert("subscriptions", d.subscriptions.len() as u64);
    source.insert("blobrefs", sled.export_refcounts()?.len() as u64);
    let mut metadata = d.server_metadata.len() as u64;
    let (mut messages, mut expunged, mut acl, mut urlauth) = (0, 0, 0, 0);
    for f in &folders {
        let mut sum = Checksum::default();
        sum.folder(f);
        for m in Folders::list_messages(sled, f.state.id)? {
            sum.message(m.uid, m.modseq, m.flags.system, &m.flags.keywords, &m.blob);
        }
        let x = sled.export_folder_extras(f.state.id)?;
        expunged += x.expunged.len() as u64;
        acl += x.acl.len() as u64;
        metadata += x.metadata.len() as u64;
        urlauth += x.urlauth.len() as u64;
        let (n, digest) = sum.finish();
        messages += n;
        let target = match pg.import_folder_checksum(f.state.id)? {
            Some((n, d)) => format!("{n} messages, {d}"),
            None => "missing".into(),
        };
        v.compare(
            &format!(
                "folder {} {:?} of {:?}",
                f.state.id, f.state.name, f.state.account
            ),
            &format!("{n} messages, {digest}"),
            &target,
        );
    }
    source.insert("messages", messages);
    source.insert("expunged", expunged);
    source.insert("acl", acl);
    source.insert("metadata", metadata);
    source.insert("urlauth", urlauth);
    let mut queued = 0;
    for q in QueueName::ALL {
        let mut sum = Checksum::default();
        for r in sled.queue_list(q)? {
            let bytes = bincode::serialize(&r)
                .map_err(|e| StorageError::Encoding(format!("queue record: {e}")))?;
            sum.record(&bytes);
        }
        let (n, digest) = sum.finish();
        queued += n;
        let (tn, td) = pg.import_queue_checksum(q)?;
        v.compare(
            &format!("queue {}", q.as_str()),
            &format!("{n} records, {digest}"),
            &format!("{tn} records, {td}"),
        );
    }
    source.insert("queue", queued);
    // The copy's domain index (storage::queue_index), written with each record: no
    // problem on either side.
    let problems = |p: Vec<String>| format!("{} problems {}", p.len(), p.join("; "));
    v.compare(
        "queue domain index",
        &problems(sled.queue_index_problems()?),
        &problems(super::QueueIndex::queue_index_problems(pg)?),
    );
    for store in SmallStore::ALL {
        let rows = sled.export_small(store)?;
        for row in &rows {
            *source.entry(row.table()).or_insert(0) += 1;
        }
        let target = pg.import_small_rows(store)?;
        let (n, digest) = small_checksum(&rows)?;
        let (tn, td) = small_checksum(&target)?;
        v.compare(
            &format!("store {}", store.name()),
            &format!("{n} rows, {digest}"),
            &format!("{tn} rows, {td}"),
        );
        if store == SmallStore::Fetch {
            let (sealed, opened) = compare_passwords(sled, pg, &rows, &target)?;
            v.compare(
                "fetch passwords opening equal on both sides",
                &format!("{sealed}"),
                &format!("{opened}"),
            );
        }
    }
    if let (Some(from), Some(to)) = (sled.dav_files(), pg.dav_files()) {
        let digest =
            |nodes: Vec<(String, super::davfiles::DavNode)>| -> Result<String, StorageError> {
                let mut sum = Checksum::default();
                for n in &nodes {
                    let bytes = bincode::serialize(n)
                        .map_err(|e| StorageError::Encoding(format!("dav node: {e}")))?;
                    sum.record(&bytes);
                }
                let (n, d) = sum.finish();
                Ok(format!("{n} nodes, {d}"))
            };
        v.compare(
            "dav files",
            &digest(from.dav_all()?)?,
            &digest(to.dav_all()?)?,
        );
    }
    for (table, n) in pg.import_counts()? {
        let s = source.get(table).copied().unwrap_or(0);
        v.compare(
            &format!("table {table}"),
            &format!("{s} rows"),
            &format!("{n} rows"),
        );
    }
    Ok(v)
}
