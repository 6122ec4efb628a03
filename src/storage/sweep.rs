//! The start-up sweep's constants and report (see `traits::Durability::sweep`).

use std::time::{Duration, SystemTime};

use super::blobs::{BlobId, BlobStore};
use super::StorageError;

/// How old an unreferenced body file must be before the sweep removes it.
pub const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// The keyword of a folder message whose body was lost or cut short.
pub const DAMAGED_KEYWORD: &str = "$Damaged";

/// What a sweep found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Queue records moved to the bad queue (body missing or short).
    pub queue_records_damaged: usize,
    /// Folder messages newly flagged [`DAMAGED_KEYWORD`].
    pub messages_damaged: usize,
    /// Blob reference counts that disagreed with the records and were corrected.
    pub refcounts_fixed: usize,
    /// Unreferenced body files removed.
    pub orphans_removed: usize,
    /// Unreferenced body files left because they are younger than the grace period.
    pub orphans_kept: usize,
}

/// Why a record's body cannot be used.
pub(crate) enum BodyFault {
    Missing,
    Short { found: u64 },
}

impl BodyFault {
    /// Whether the body `blob` of a record of `size` bytes is there in full (every backend's
    /// sweep asks the same of the shared file store).
    pub(crate) fn check(
        blobs: &BlobStore,
        blob: &BlobId,
        size: u64,
    ) -> Result<Option<BodyFault>, StorageError> {
        match std::fs::metadata(blobs.path(blob)) {
            Ok(m) if m.len() < size => Ok(Some(BodyFault::Short { found: m.len() })),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Some(BodyFault::Missing)),
            Err(e) => Err(e.into()),
        }
    }

    /// The reason logged and kept (a bad queue record's `last_error`).
    pub(crate) fn describe(&self, blob: &BlobId, size: u64) -> String {
        match self {
            BodyFault::Missing => format!("body {blob} is missing (lost in a crash?)"),
            BodyFault::Short { found } => {
                format!("body {blob} has {found} of its {size} bytes (cut short in a crash?)")
            }
        }
    }
}

/// The body files under `blobs`, one two-hex-digit directory at a time: `visit` gets the
/// directory's first byte and each file's id with its age (by mtime; 0 when in the future).
/// `tmp` and anything that is not a blob file are skipped.
pub(crate) fn visit_blob_dirs(
    blobs: &BlobStore,
    mut visit: impl FnMut(u8, &[(BlobId, Duration)]) -> Result<(), StorageError>,
) -> Result<(), StorageError> {
    let now = SystemTime::now();
    for dir in std::fs::read_dir(blobs.root())? {
        let dir = dir?;
        let prefix = dir.file_name().to_string_lossy().into_owned();
        if prefix.len() != 2 || !dir.file_type()?.is_dir() {
            continue;
        }
        let Ok([first]) = <[u8; 1]>::try_from(hex::decode(&prefix).unwrap_or_default()) else {
            continue;
        };
        let mut files = Vec::new();
        for file in std::fs::read_dir(dir.path())? {
            let file = file?;
            let name = file.file_name().to_string_lossy().into_owned();
            let Ok(blob) = format!("{prefix}{name}").parse::<BlobId>() else {
                continue;
            };
            let age = file
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            files.push((blob, age));
        }
        visit(first, &files)?;
    }
    Ok(())
}

/// A backend's sweep, step by step. [`SweepSteps::run_sweep`] runs them in the order that
/// keeps the repairs sound: the bodies present made durable first; then the records (a
/// damaged one is moved or flagged, still holding its body); then the counts, rebuilt from
/// the records; last the files no count references.
pub(crate) trait SweepSteps {
    fn body_store(&self) -> &BlobStore;
    fn sweep_queues(&self, report: &mut SweepReport) -> Result<(), StorageError>;
    fn sweep_messages(&self, report: &mut SweepReport) -> Result<(), StorageError>;
    fn rebuild_refcounts(&self, report: &mut SweepReport) -> Result<(), StorageError>;
    fn sweep_orphans(&self, grace: Duration, report: &mut SweepReport) -> Result<(), StorageError>;
    /// Makes the sweep's changes durable (a commit round).
    fn commit_sweep(&self) -> Result<(), StorageError>;

    fn run_sweep(&self, grace: Duration) -> Result<SweepReport, StorageError> {
        let mut report = SweepReport::default();
        self.body_store().sync_all()?;
        self.sweep_queues(&mut report)?;
        self.sweep_messages(&mut report)?;
        self.rebuild_refcounts(&mut report)?;
        self.sweep_orphans(grace, &mut report)?;
        self.commit_sweep()?;
        Ok(report)
    }
}
