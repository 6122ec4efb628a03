//! The start-up sweep's constants and report (see `traits::Durability::sweep`).

use std::time::Duration;

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
