//! Content-addressed message bodies (`blobs/ab/cdef…`) and their reference counts.
//!
//! A body is written to a unique file in `blobs/tmp`, fsynced, then renamed into place; its
//! directory is remembered as dirty so that the next [`Store::commit`] fsyncs it (which makes the
//! rename durable). Reference counts live in `v1/blobrefs` and change inside the transactions
//! that add or remove the records holding a blob.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::keys::{decode_u64, TreeIx};
use super::{abort, StorageError, Store, Tx, TxResult};

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

/// Directories whose new entries are not yet fsynced; drained by the committer.
pub(crate) type DirtyDirs = Arc<Mutex<HashSet<PathBuf>>>;

/// The blob directory of a data directory.
pub struct BlobStore {
    root: PathBuf,
    tmp: PathBuf,
    dirty: DirtyDirs,
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
    /// removed.
    pub(crate) fn open(root: &Path) -> Result<BlobStore, StorageError> {
        let tmp = root.join("tmp");
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
            dirty: Arc::new(Mutex::new(HashSet::new())),
            tmp_counter: AtomicU64::new(0),
            pins: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn dirty_dirs(&self) -> DirtyDirs {
        self.dirty.clone()
    }

    fn mark_dirty(&self, dir: PathBuf) {
        self.dirty
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(dir);
    }

    fn tmp_path(&self) -> PathBuf {
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

    /// Moves a written body into place under its sha256, like [`BlobStore::put`]; returns
    /// the id, the size and a pin that keeps the file until the caller's transaction has
    /// referenced it (see [`BlobPin`]).
    pub fn finish(&self, writer: BlobWriter) -> Result<(BlobId, u64, BlobPin), StorageError> {
        let id = BlobId(writer.hasher.clone().finalize().into());
        let len = writer.len;
        // Pinned before `place` looks for an existing file: see `BlobPin`.
        let pin = {
            let mut pins = self.pins.lock().unwrap_or_else(|p| p.into_inner());
            *pins.entry(id).or_insert(0) += 1;
            BlobPin {
                pins: self.pins.clone(),
                id,
            }
        };
        self.place(&writer.path, &id)?;
        Ok((id, len, pin))
    }

    /// Renames a written tmp file to the blob `id` (or drops it when the blob exists).
    fn place(&self, tmp_path: &Path, id: &BlobId) -> Result<(), StorageError> {
        let target = self.path(id);
        let dir = self.dir_of(id);
        if !dir.is_dir() {
            fs::create_dir_all(&dir)?;
            self.mark_dirty(self.root.clone());
        }
        if target.exists() {
            // Written meanwhile by someone else: same content, keep theirs.
            let _ = fs::remove_file(tmp_path);
        } else if let Err(e) = fs::rename(tmp_path, &target) {
            let _ = fs::remove_file(tmp_path);
            return Err(e.into());
        }
        self.mark_dirty(dir);
        Ok(())
    }

    /// Store `content` under its sha256: tmp file, rename into place (or drop the tmp when the
    /// blob already exists). The file and its directory entry become durable at the next
    /// [`Store::commit`] (one syncfs for every blob of that round). Blocking.
    pub fn put(&self, content: &[u8]) -> Result<BlobId, StorageError> {
        let id = BlobId::of(content);
        let target = self.path(&id);
        if target.exists() {
            return Ok(id);
        }
        let tmp_path = self.tmp_path();
        // No fsync here: the next commit round makes every blob written since the last one
        // durable with one syncfs (commit.rs). A blob is referenced only by records that are
        // committed after it is written, so nothing acknowledged can point at a lost file.
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
    fn remove(&self, id: &BlobId) -> Result<(), StorageError> {
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

/// Reference-count changes collected during one transaction, applied at its end.
#[derive(Default)]
pub(crate) struct RefDelta {
    deltas: BTreeMap<BlobId, i64>,
}

impl RefDelta {
    pub(crate) fn add(&mut self, blob: BlobId) {
        *self.deltas.entry(blob).or_insert(0) += 1;
    }

    pub(crate) fn release(&mut self, blob: BlobId) {
        *self.deltas.entry(blob).or_insert(0) -= 1;
    }

    /// Write the new counts. A count going from 0 to positive requires the blob file to exist.
    /// Returns the blobs whose count reached 0 (to collect after the commit).
    pub(crate) fn apply(&self, tx: &Tx, blobs: &BlobStore) -> TxResult<Vec<BlobId>> {
        let tree = tx.tree(TreeIx::BlobRefs);
        let mut zeroed = Vec::new();
        for (blob, delta) in &self.deltas {
            if *delta == 0 {
                continue;
            }
            let current = match tree.get(blob.0)? {
                None => 0,
                Some(v) => match decode_u64(&v, "blob refcount") {
                    Ok(n) => n,
                    Err(e) => return abort(e),
                },
            };
            let new = i128::from(current) + i128::from(*delta);
            if new <= 0 {
                if new < 0 {
                    tracing::warn!(%blob, current, delta, "blob refcount would go negative");
                }
                tree.remove(&blob.0)?;
                zeroed.push(*blob);
            } else {
                if current == 0 && !blobs.exists(blob) {
                    return abort(StorageError::NotFound(format!("blob {blob}")));
                }
                let new = u64::try_from(new).unwrap_or(u64::MAX);
                tree.insert(&blob.0, &new.to_be_bytes())?;
            }
        }
        Ok(zeroed)
    }
}

impl Store {
    /// The number of records holding `blob`.
    pub fn blob_refcount(&self, blob: &BlobId) -> Result<u64, StorageError> {
        match self.tree(TreeIx::BlobRefs).get(blob.0)? {
            None => Ok(0),
            Some(v) => decode_u64(&v, "blob refcount"),
        }
    }

    /// Delete the files of `zeroed` blobs whose count is still 0. Runs as a transaction so that
    /// it is ordered against a concurrent 0 → 1 (which checks the file exists). Failures are
    /// logged: a leftover file wastes space, nothing more.
    pub(crate) fn collect_blobs(&self, zeroed: &[BlobId]) {
        for blob in zeroed {
            let res = self.transact(|tx| {
                if tx.tree(TreeIx::BlobRefs).get(blob.0)?.is_none() {
                    if let Err(e) = self.blobs().remove(blob) {
                        return super::abort(e);
                    }
                }
                Ok(())
            });
            if let Err(e) = res {
                tracing::warn!(%blob, error = %e, "cannot delete unreferenced blob");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::store;
    use super::*;

    #[test]
    fn blob_id_hex_round_trip() {
        let id = BlobId::of(b"hello");
        let s = id.to_string();
        assert_eq!(
            s,
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(s.parse::<BlobId>().unwrap(), id);
        assert!("abc".parse::<BlobId>().is_err());
        assert!("zz".repeat(32).parse::<BlobId>().is_err());
    }

    #[test]
    fn put_get_path_exists() {
        let (_dir, store) = store();
        let blobs = store.blobs();
        let id = blobs.put(b"body").unwrap();
        assert_eq!(id, BlobId::of(b"body"));
        assert!(blobs.exists(&id));
        assert_eq!(blobs.get(&id).unwrap(), b"body");
        let hex = id.to_string();
        assert!(blobs
            .path(&id)
            .ends_with(format!("{}/{}", &hex[..2], &hex[2..])));
        // Same content again: same id, no tmp file left behind.
        assert_eq!(blobs.put(b"body").unwrap(), id);
        assert_eq!(fs::read_dir(&blobs.tmp).unwrap().count(), 0);
        // The directory is fsynced by the next commit.
        assert!(blobs.dirty.lock().unwrap().contains(&blobs.dir_of(&id)));
        store.commit().unwrap();
        assert!(blobs.dirty.lock().unwrap().is_empty());
    }

    #[test]
    fn get_missing_blob_is_not_found() {
        let (_dir, store) = store();
        let err = store.blobs().get(&BlobId::of(b"nothing")).unwrap_err();
        assert!(matches!(err, StorageError::NotFound(_)));
        assert!(err.to_string().starts_with("blob "), "{err}");
    }

    #[test]
    fn open_clears_tmp_leftovers() {
        let dir = tempfile::TempDir::new().unwrap();
        let tmp = dir.path().join("blobs/tmp");
        fs::create_dir_all(&tmp).unwrap();
        fs::write(tmp.join("partial"), b"x").unwrap();
        let _store = Store::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0);
    }

    /// A streamed body that duplicates an unreferenced blob pins it: the collector (an
    /// EXPUNGE that dropped the last reference) leaves the file until the pin is gone, so
    /// the append's transaction finds it. Collected first, the file is written anew.
    #[test]
    fn a_pinned_duplicate_survives_collection() {
        let (_dir, store) = store();
        let content = b"Subject: same\r\n\r\nagain\r\n";
        let id = store.blobs().put(content).unwrap();
        let path = store.blobs().path(&id);
        let mut w = store.blobs().writer().unwrap();
        w.write(content).unwrap();
        let (found, len, pin) = store.blobs().finish(w).unwrap();
        assert_eq!((found, len), (id, content.len() as u64));
        store.collect_blobs(&[id]);
        assert!(path.exists(), "a pinned blob was collected");
        drop(pin);
        store.collect_blobs(&[id]);
        assert!(!path.exists(), "an unpinned, unreferenced blob stayed");
        let mut w = store.blobs().writer().unwrap();
        w.write(content).unwrap();
        let (_, _, _pin) = store.blobs().finish(w).unwrap();
        assert_eq!(fs::read(&path).unwrap(), content);
    }

    #[test]
    fn refcount_zero_to_one_needs_the_file() {
        let (_dir, store) = store();
        let ghost = BlobId::of(b"never written");
        let err = store
            .transact(|tx| {
                let mut d = RefDelta::default();
                d.add(ghost);
                d.apply(tx, store.blobs())
            })
            .unwrap_err();
        assert!(matches!(err, StorageError::NotFound(_)));
        assert_eq!(store.blob_refcount(&ghost).unwrap(), 0);
    }

    #[test]
    fn collect_deletes_only_unreferenced_files() {
        let (_dir, store) = store();
        let a = store.blobs().put(b"a").unwrap();
        let b = store.blobs().put(b"b").unwrap();
        store
            .transact(|tx| {
                let mut d = RefDelta::default();
                d.add(b);
                d.apply(tx, store.blobs())
            })
            .unwrap();
        store.collect_blobs(&[a, b]);
        assert!(!store.blobs().exists(&a));
        assert!(store.blobs().exists(&b));
        assert_eq!(store.blob_refcount(&b).unwrap(), 1);
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
