//! Content-addressed message bodies (`blobs/ab/cdef…`): a file store that every backend shares.
//!
//! A body is written to a unique file in `blobs/tmp`, renamed into place and remembered as
//! pending; the writer returns only after a commit round has synced it (one syncfs for every
//! body of the round), so a record never references a body that is not durable. Reference
//! counts belong to the backend (see `traits::BlobRefs`): they change inside the transactions
//! that add or remove the records holding a blob, and a file whose count reached 0 is deleted
//! only after the round that made that release durable.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::StorageError;

/// Where a writer waits for its files to become durable: the group committer (see
/// `commit.rs`), which runs the rounds that sync them. A trait so that the file store does
/// not depend on the committer that drives it.
pub(crate) trait SyncRounds: Send + Sync {
    /// Returns once a round that started after the call has synced every blob file written
    /// before it.
    fn sync_blobs(&self) -> Result<(), StorageError>;
}

/// The sha256 of a body; printed and parsed as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct BlobId(pub [u8; 32]);

impl BlobId {
    /// The id `content` is stored under.
    pub fn of(content: &[u8]) -> BlobId {
        BlobId(Sha256::digest(content).into())
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl FromStr for BlobId {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid =
            || StorageError::Invalid(format!("invalid blob id {s:?}: need 64 hex digits"));
        if s.len() != 64 {
            return Err(invalid());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| invalid())?;
        Ok(BlobId(out))
    }
}

/// What the committer must still make durable, and what it may collect afterwards. One lock
/// covers it so that a writer's rename and its registration here are one step for a round
/// looking at them (see [`BlobStore::begin_round`]).
#[derive(Default)]
struct Durability {
    /// Directories with new entries since the last round (for the per-file fallback).
    dirty: HashSet<PathBuf>,
    /// Blobs written (renamed into place) but not yet covered by a successful sync, with the
    /// sequence number of their latest write: a round removes only what it covered.
    pending: HashMap<BlobId, u64>,
    seq: u64,
    /// Blobs whose count reached 0, to delete after a round that flushed the index (so that the
    /// release is durable before the file goes).
    released: Vec<BlobId>,
}

/// What a commit round took on at its start (see [`BlobStore::begin_round`]).
pub(crate) struct RoundStart {
    pub(crate) dirs: Vec<PathBuf>,
    /// Pending writes up to this sequence number are covered by the round's sync.
    pub(crate) upto: u64,
    pending: bool,
    pub(crate) released: Vec<BlobId>,
}

impl RoundStart {
    /// Whether there is anything to sync.
    pub(crate) fn needs_sync(&self) -> bool {
        self.pending || !self.dirs.is_empty()
    }
}

/// The blob directory of a data directory.
pub struct BlobStore {
    root: PathBuf,
    pub(crate) tmp: PathBuf,
    durability: Mutex<Durability>,
    commits: Box<dyn SyncRounds>,
    tmp_counter: AtomicU64,
    pins: Pins,
}

/// Blobs that a body just written was found to duplicate, with how many such writers wait
/// to reference them (see [`BlobPin`]).
type Pins = Arc<Mutex<HashMap<BlobId, u32>>>;

/// Keeps an existing blob file from being collected between [`BlobStore::finish`] finding
/// it (and dropping its own identical copy) and the transaction that references it. Without
/// it, an EXPUNGE that drops the last reference in that window deletes the file, and the
/// referencing transaction fails with "blob not found" (seen under imaptest's stress mode,
/// which appends the same messages over and over). The collector skips pinned blobs under
/// the same lock as the pin is taken, so either the file is gone before `finish` looks (and
/// `finish` puts its own copy in place) or it stays until the pin is dropped. Drop the pin
/// after the referencing transaction, whatever its outcome; a blob whose transaction failed
/// is collected later like any unreferenced one.
pub struct BlobPin {
    pins: Pins,
    id: BlobId,
}

impl Drop for BlobPin {
    fn drop(&mut self) {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = pins.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                pins.remove(&self.id);
            }
        }
    }
}

impl BlobStore {
    /// Open `root`, creating it and `root/tmp`; leftovers in `tmp` (from a crash mid-write) are
    /// removed. Writers wait on `commits` for their files to become durable.
    pub(crate) fn open(
        root: &Path,
        commits: Box<dyn SyncRounds>,
    ) -> Result<BlobStore, StorageError> {
        BlobStore::open_with_tmp(root, root.join("tmp"), commits)
    }

    /// [`BlobStore::open`] with temporary files in `tmp` (under `root/tmp`, on the same file
    /// system): the nodes of a cluster share `root`, and each empties only its own `tmp`.
    pub(crate) fn open_with_tmp(
        root: &Path,
        tmp: PathBuf,
        commits: Box<dyn SyncRounds>,
    ) -> Result<BlobStore, StorageError> {
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let entry = entry?;
            if let Err(e) = fs::remove_file(entry.path()) {
                tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove stale blob tmp file");
            }
        }
        Ok(BlobStore {
            root: root.to_path_buf(),
            tmp,
            durability: Mutex::new(Durability::default()),
            commits,
            tmp_counter: AtomicU64::new(0),
            pins: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn durability(&self) -> std::sync::MutexGuard<'_, Durability> {
        self.durability
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes what a commit round covers: the dirty directories, the pending writes so far
    /// and (for a round that flushes the index) the released blobs.
    pub(crate) fn begin_round(&self, take_released: bool) -> RoundStart {
        let mut d = self.durability();
        RoundStart {
            dirs: d.dirty.drain().collect(),
            upto: d.seq,
            pending: !d.pending.is_empty(),
            released: if take_released {
                std::mem::take(&mut d.released)
            } else {
                Vec::new()
            },
        }
    }

    /// The round's sync failed: its directories stay dirty and its releases waiting. The
    /// files of the writes it covered are deleted: after a failed writeback the kernel may
    /// have dropped their pages while a later sync reports success, so they cannot be
    /// trusted. Nothing references them (their writers get this round's error), and the
    /// next writer of the same content writes it anew.
    pub(crate) fn round_failed(&self, start: RoundStart) {
        let mut d = self.durability();
        d.dirty.extend(start.dirs);
        d.released.extend(start.released);
        let suspect: Vec<BlobId> = d
            .pending
            .iter()
            .filter(|(_, seq)| **seq <= start.upto)
            .map(|(id, _)| *id)
            .collect();
        for id in suspect {
            d.pending.remove(&id);
            match fs::remove_file(self.path(&id)) {
                Ok(()) => tracing::warn!(blob = %id, "body dropped after a failed sync"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::error!(blob = %id, error = %e, "cannot drop a body whose sync failed")
                }
            }
        }
    }

    /// The round's sync succeeded: writes up to `upto` are durable. `unreleased` (releases
    /// whose index flush failed) wait for the next round.
    pub(crate) fn round_synced(&self, upto: u64, unreleased: Vec<BlobId>) {
        let mut d = self.durability();
        d.pending.retain(|_, seq| *seq > upto);
        d.released.extend(unreleased);
    }

    /// Remembers blobs whose count reached 0, to delete after the next round that flushes
    /// the index.
    pub(crate) fn release(&self, zeroed: &[BlobId]) {
        if !zeroed.is_empty() {
            self.durability().released.extend_from_slice(zeroed);
        }
    }

    /// Makes every file under the blob directory durable, whoever wrote it (the start-up
    /// sweep: files a previous process left are trusted by deduplication from then on).
    pub(crate) fn sync_all(&self) -> Result<(), StorageError> {
        self.durability().dirty.insert(self.root.clone());
        self.commits.sync_blobs()
    }

    /// Whether `id` was written and not yet made durable.
    #[cfg(test)]
    pub(super) fn is_pending(&self, id: &BlobId) -> bool {
        self.durability().pending.contains_key(id)
    }

    pub(crate) fn tmp_path(&self) -> PathBuf {
        self.tmp.join(format!(
            "{}-{}-{:016x}",
            std::process::id(),
            self.tmp_counter.fetch_add(1, Ordering::Relaxed),
            rand::random::<u64>()
        ))
    }

    /// A body to be written piece by piece (IMAP APPEND streams its literal here): a new
    /// tmp file, hashed as it is written; [`BlobStore::finish`] moves it into place.
    pub fn writer(&self) -> Result<BlobWriter, StorageError> {
        let path = self.tmp_path();
        let file = File::create(&path)?;
        Ok(BlobWriter {
            file,
            path,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Moves a written body into place under its sha256, like [`BlobStore::put`], and
    /// returns once it is durable; returns the id, the size and a pin that keeps the file
    /// until the caller's transaction has referenced it (see [`BlobPin`]).
    pub fn finish(&self, writer: BlobWriter) -> Result<(BlobId, u64, BlobPin), StorageError> {
        let placed = self.place_pinned(writer)?;
        self.await_durable(&[placed.0])?;
        Ok(placed)
    }

    /// [`BlobStore::finish`] for the bodies of one MULTIAPPEND: one wait covers them all.
    /// On failure the bodies already placed are left to the collector.
    pub fn finish_all(
        &self,
        writers: Vec<BlobWriter>,
    ) -> Result<Vec<(BlobId, u64, BlobPin)>, StorageError> {
        let mut placed = Vec::with_capacity(writers.len());
        for writer in writers {
            match self.place_pinned(writer) {
                Ok(p) => placed.push(p),
                Err(e) => return Err(self.abandon(placed.iter().map(|p| p.0), e)),
            }
        }
        let ids: Vec<BlobId> = placed.iter().map(|p| p.0).collect();
        match self.await_durable(&ids) {
            Ok(()) => Ok(placed),
            Err(e) => Err(self.abandon(ids, e)),
        }
    }

    /// Bodies written for a transaction that will not happen: nothing references them, so
    /// they are collected after the next commit (unless referenced meanwhile). Returns `e`.
    fn abandon(&self, ids: impl IntoIterator<Item = BlobId>, e: StorageError) -> StorageError {
        self.release(&ids.into_iter().collect::<Vec<_>>());
        e
    }

    /// Pins a written body's id (before `place` looks for an existing file: see `BlobPin`)
    /// and moves it into place.
    fn place_pinned(&self, writer: BlobWriter) -> Result<(BlobId, u64, BlobPin), StorageError> {
        let id = BlobId(writer.hasher.clone().finalize().into());
        let pin = self.pin(id);
        self.place(&writer.path, &id)?;
        Ok((id, writer.len, pin))
    }

    /// Renames a written tmp file to the blob `id` (or drops it when the blob exists) and
    /// registers the write as pending, under the durability lock: a writer that finds the
    /// file finds it pending too until a round has synced it.
    pub(crate) fn place(&self, tmp_path: &Path, id: &BlobId) -> Result<(), StorageError> {
        let target = self.path(id);
        let dir = self.dir_of(id);
        let mut d = self.durability();
        if !dir.is_dir() {
            fs::create_dir_all(&dir)?;
            d.dirty.insert(self.root.clone());
        }
        if target.exists() {
            // Written meanwhile by someone else: same content, keep theirs (pending or not).
            let _ = fs::remove_file(tmp_path);
            return Ok(());
        }
        if let Err(e) = fs::rename(tmp_path, &target) {
            let _ = fs::remove_file(tmp_path);
            return Err(e.into());
        }
        d.seq += 1;
        let seq = d.seq;
        d.pending.insert(*id, seq);
        d.dirty.insert(dir);
        Ok(())
    }

    /// Returns once the files of `ids` are durable: at once when no round is still to sync
    /// them, else after one round that started now (a sync covers every write before it).
    fn await_durable(&self, ids: &[BlobId]) -> Result<(), StorageError> {
        let pending = {
            let d = self.durability();
            ids.iter().any(|id| d.pending.contains_key(id))
        };
        if pending {
            self.commits.sync_blobs()?;
        }
        Ok(())
    }

    /// Keeps blob `id` from being collected until the pin is dropped (see [`BlobPin`]).
    fn pin(&self, id: BlobId) -> BlobPin {
        let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        *pins.entry(id).or_insert(0) += 1;
        BlobPin {
            pins: self.pins.clone(),
            id,
        }
    }

    /// [`BlobStore::put`] with a pin that keeps the file until the caller's transaction has
    /// referenced it: a body identical to one whose last reference was just dropped may
    /// find that file and keep it instead of writing its own, and without the pin the
    /// collector could delete it before the referencing transaction (which would then fail
    /// with "blob not found"). Drop the pin after that transaction, whatever its outcome.
    pub fn put_pinned(&self, content: &[u8]) -> Result<(BlobId, BlobPin), StorageError> {
        // Pinned before `write` looks for an existing file: see `BlobPin`.
        let pin = self.pin(BlobId::of(content));
        let id = self.write(content)?;
        self.await_durable(&[id])?;
        Ok((id, pin))
    }

    /// Writes `content` to its blob file (or finds it) without waiting for it to be
    /// durable, pinned as [`BlobStore::put_pinned`]. Only for a body whose record is then
    /// written through [`super::Store::write_after_sync`], which runs the write after the sync.
    pub fn write_pinned(&self, content: &[u8]) -> Result<(BlobId, BlobPin), StorageError> {
        let pin = self.pin(BlobId::of(content));
        Ok((self.write(content)?, pin))
    }

    /// [`BlobStore::put_all`] with pins, as [`BlobStore::put_pinned`].
    pub fn put_all_pinned(
        &self,
        contents: &[&[u8]],
    ) -> Result<(Vec<BlobId>, Vec<BlobPin>), StorageError> {
        let pins = contents.iter().map(|c| self.pin(BlobId::of(c))).collect();
        Ok((self.put_all(contents)?, pins))
    }

    /// Store `content` under its sha256: tmp file, rename into place (or drop the tmp when the
    /// blob already exists), and return once the file is durable. A body is durable before
    /// any record can reference it; the wait is grouped (one syncfs per commit round for
    /// every body written since the last one), and a duplicate of a body written but not yet
    /// synced waits for that sync too. Blocking.
    pub fn put(&self, content: &[u8]) -> Result<BlobId, StorageError> {
        let id = self.write(content)?;
        self.await_durable(&[id])?;
        Ok(id)
    }

    /// [`BlobStore::put`] for several bodies (a MULTIAPPEND): one wait covers them all. On
    /// failure the bodies already written are left to the collector.
    pub fn put_all(&self, contents: &[&[u8]]) -> Result<Vec<BlobId>, StorageError> {
        let mut ids = Vec::with_capacity(contents.len());
        for content in contents {
            match self.write(content) {
                Ok(id) => ids.push(id),
                Err(e) => return Err(self.abandon(ids, e)),
            }
        }
        match self.await_durable(&ids) {
            Ok(()) => Ok(ids),
            Err(e) => Err(self.abandon(ids, e)),
        }
    }

    /// Writes `content` to its blob file unless it exists; not yet durable.
    fn write(&self, content: &[u8]) -> Result<BlobId, StorageError> {
        let id = BlobId::of(content);
        if self.path(&id).exists() {
            return Ok(id);
        }
        let tmp_path = self.tmp_path();
        let written = (|| -> std::io::Result<()> {
            let mut f = File::create(&tmp_path)?;
            f.write_all(content)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp_path);
            return Err(e.into());
        }
        self.place(&tmp_path, &id)?;
        Ok(id)
    }

    /// The content of a blob.
    pub fn get(&self, id: &BlobId) -> Result<Vec<u8>, StorageError> {
        fs::read(self.path(id)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => StorageError::NotFound(format!("blob {id}")),
            _ => StorageError::Io(e),
        })
    }

    /// Where a blob's file is (whether or not it exists).
    pub fn path(&self, id: &BlobId) -> PathBuf {
        let hex = id.to_string();
        self.root.join(&hex[..2]).join(&hex[2..])
    }

    pub fn exists(&self, id: &BlobId) -> bool {
        self.path(id).is_file()
    }

    fn dir_of(&self, id: &BlobId) -> PathBuf {
        self.root.join(hex::encode(&id.0[..1]))
    }

    /// Delete a blob file unless a writer has pinned it; a missing file is fine.
    pub(crate) fn remove(&self, id: &BlobId) -> Result<(), StorageError> {
        // Held while the file goes, so that `finish` sees it either present and pinned or
        // already gone.
        let pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
        if pins.contains_key(id) {
            tracing::debug!(blob = %id, "not collected: a new reference is on its way");
            return Ok(());
        }
        match fs::remove_file(self.path(id)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A body being written to a tmp file of the blob store (see [`BlobStore::writer`]). Dropped
/// without [`BlobStore::finish`], its file is removed. Like [`BlobStore::put`], no fsync: the
/// commit round that makes its record durable makes the file durable too.
pub struct BlobWriter {
    file: File,
    path: PathBuf,
    hasher: Sha256,
    len: u64,
}

impl BlobWriter {
    /// Appends bytes. Blocking.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), StorageError> {
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// What was written so far, read back from the temporary file. Blocking.
    pub fn contents(&self) -> Result<Vec<u8>, StorageError> {
        Ok(fs::read(&self.path)?)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After `finish` the file has moved: nothing to remove then.
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove a blob tmp file");
            }
        }
    }
}

#[cfg(test)]
mod proptests {
    use super::BlobId;

    proptest::proptest! {
        #[test]
        fn blob_id_display_parse_round_trip(bytes in proptest::prelude::any::<[u8; 32]>()) {
            let id = BlobId(bytes);
            proptest::prop_assert_eq!(id.to_string().parse::<BlobId>().unwrap(), id);
            proptest::prop_assert_eq!(id.to_string().to_uppercase().parse::<BlobId>().unwrap(), id);
        }
    }
}
