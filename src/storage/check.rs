//! `ferrymail storage check`: a read-only consistency check of any backend, through the
//! storage traits. Every message and queue record must have its body file with the recorded
//! size, and its entries in the queues' domain index (an entry without its record is
//! reported too); every reference count must equal a recount of the records holding the blob; body
//! files nothing references (orphans) are listed, and so are snooze records whose message
//! is not in the account's `Snoozed` folder under the recorded UID (not a fault: the
//! snooze waker settles them at their time, see `actors::snooze`). The start-up sweep repairs what this
//! finds; this only reports, so it may run beside a running server (a write landing during
//! the check can then show as a passing difference).
//!
//! [`check_with`] reports its phases through `migrate::Progress`: the dashboard runs the
//! check as a job with a live bar (`http::jobs`); the console's [`check`] reports nothing
//! and prints only the report, as it always did.

use std::collections::BTreeMap;

use super::migrate::Progress;
use super::sweep::visit_blob_dirs;
use super::{BlobId, StorageError, Store, PUBLIC_OWNER};
use crate::storage::QueueName;

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    pub folders: u64,
    pub messages: u64,
    pub queue_records: u64,
    /// Distinct bodies referenced.
    pub bodies: u64,
    /// Records whose body file is missing: (record, blob).
    pub missing: Vec<(String, BlobId)>,
    /// Records whose body file has another size: (record, blob, recorded, on disk).
    pub wrong_size: Vec<(String, BlobId, u64, u64)>,
    /// Reference counts that differ from the recount: (blob, stored, recounted).
    pub wrong_refcount: Vec<(BlobId, u64, u64)>,
    /// Body files no record references (the start-up sweep removes them).
    pub orphans: Vec<BlobId>,
    /// Snooze records (`storage::snooze`).
    pub snoozed: u64,
    /// Snooze records whose message is not in `Snoozed` under the recorded UID.
    pub stale_snoozes: Vec<String>,
    /// Calendars and address books (`storage::check_dav`).
    pub dav: super::check_dav::DavCheck,
    /// The queues' domain index (`storage::queue_index`): entries naming no record,
    /// records missing entries. A domain admin would not see such a record.
    pub queue_index: Vec<String>,
}

impl CheckReport {
    /// Whether anything is wrong (orphans only waste space and are not counted).
    pub fn ok(&self) -> bool {
        self.missing.is_empty()
            && self.wrong_size.is_empty()
            && self.wrong_refcount.is_empty()
            && self.dav.problems.is_empty()
            && self.queue_index.is_empty()
    }

    /// The report as text: the problems, one per line, then a summary line.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        for (rec, blob) in &self.missing {
            out.push(format!("missing body: {rec}: {blob}"));
        }
        for (rec, blob, want, have) in &self.wrong_size {
            out.push(format!(
                "wrong body size: {rec}: {blob} is {have} bytes, recorded {want}"
            ));
        }
        for (blob, stored, counted) in &self.wrong_refcount {
            out.push(format!(
                "wrong reference count: {blob} stored {stored}, records holding it {counted}"
            ));
        }
        for blob in &self.orphans {
            out.push(format!("orphan body file (no reference): {blob}"));
        }
        for rec in &self.stale_snoozes {
            out.push(format!(
                "{rec}: its message is not in Snoozed under the recorded UID (settled at its wake time)"
            ));
        }
        if self.snoozed > 0 {
            out.push(format!(
                "{} snooze records, {} not in Snoozed",
                self.snoozed,
                self.stale_snoozes.len()
            ));
        }
        out.extend(self.queue_index.iter().cloned());
        out.extend(self.dav.problems.iter().cloned());
        out.push(format!(
            "calendars and contacts: {} collections, {} objects, {} ACL entries; {} problems",
            self.dav.collections,
            self.dav.objects,
            self.dav.acl_entries,
            self.dav.problems.len()
        ));
        out.push(format!(
            "{}: {} folders, {} messages, {} queue records, {} bodies; {} missing, {} wrong \
             size, {} wrong reference counts, {} orphan files",
            if self.ok() { "OK" } else { "PROBLEMS" },
            self.folders,
            self.messages,
            self.queue_records,
            self.bodies,
            self.missing.len(),
            self.wrong_size.len(),
            self.wrong_refcount.len(),
            self.orphans.len()
        ));
        out.join("\n")
    }
}

/// Checks `store` (see the module notes).
pub fn check(store: &Store) -> Result<CheckReport, StorageError> {
    check_with(store, &mut Silent)
}

/// A progress that reports nothing.
struct Silent;

impl Progress for Silent {
    fn phase(&mut self, _: &str, _: u64) {}
    fn advance(&mut self, _: u64) {}
    fn end_phase(&mut self) {}
}

/// Bodies checked between two reports of progress (a report takes a lock).
const REPORT_EVERY: u64 = 64;

/// [`check`], reporting its phases to `progress`: "folders" (one item per owner), "queues"
/// (one per queue), "bodies" (one per distinct body) and "orphans" (files seen; the total
/// is not known beforehand).
pub fn check_with(store: &Store, progress: &mut dyn Progress) -> Result<CheckReport, StorageError> {
    let mut report = CheckReport::default();
    // blob → (records holding it, a record naming it and its recorded size).
    let mut held: BTreeMap<BlobId, (u64, String, u64)> = BTreeMap::new();
    let mut note = |blob: BlobId, what: String, size: u64| {
        held.entry(blob).or_insert((0, what, size)).0 += 1;
    };
    let mut owners: Vec<String> = store
        .list_accounts()?
        .into_iter()
        .map(|a| a.address)
        .collect();
    owners.push(PUBLIC_OWNER.to_string());
    progress.phase("folders", owners.len() as u64);
    for owner in &owners {
        for f in store.list_folders(owner)? {
            report.folders += 1;
            for m in store.list_messages(f.id)? {
                report.messages += 1;
                let what = format!("message {} of folder {:?} of {owner:?}", m.uid, f.name);
                note(m.blob, what, m.size);
            }
        }
        progress.advance(1);
    }
    progress.end_phase();
    progress.phase("queues", QueueName::ALL.len() as u64);
    for q in QueueName::ALL {
        for r in store.queue_list(q)? {
            report.queue_records += 1;
            note(
                r.blob,
                format!("queue {} record {}", q.as_str(), r.id),
                r.size,
            );
        }
        progress.advance(1);
    }
    report.queue_index = store.queue_index_problems()?;
    progress.end_phase();
    // WebDAV resources hold bodies too (storage::davfiles).
    if let Some(files) = store.dav_files() {
        for (account, node) in files.dav_all()? {
            if let Some(b) = node.body {
                note(
                    b.blob,
                    format!("file {:?} of {account:?}", node.path),
                    b.size,
                );
            }
        }
    }
    report.bodies = held.len() as u64;
    progress.phase("bodies", report.bodies);
    let mut unreported = 0;
    let blobs = store.blobs();
    for (blob, (count, what, size)) in &held {
        unreported += 1;
        if unreported == REPORT_EVERY {
            progress.advance(unreported);
            unreported = 0;
        }
        match std::fs::metadata(blobs.path(blob)) {
            Ok(meta) if meta.len() == *size => {}
            Ok(meta) => report
                .wrong_size
                .push((what.clone(), *blob, *size, meta.len())),
            Err(_) => report.missing.push((what.clone(), *blob)),
        }
        let stored = store.blob_refcount(blob)?;
        if stored != *count {
            report.wrong_refcount.push((*blob, stored, *count));
        }
    }
    progress.advance(unreported);
    progress.end_phase();
    progress.phase("orphans", 0);
    visit_blob_dirs(blobs, |_, files| {
        progress.advance(files.len() as u64);
        for (blob, _) in files {
            if held.contains_key(blob) {
                continue;
            }
            report.orphans.push(*blob);
            let stored = store.blob_refcount(blob)?;
            if stored != 0 {
                report.wrong_refcount.push((*blob, stored, 0));
            }
        }
        Ok(())
    })?;
    progress.end_phase();
    report.orphans.sort();
    check_snoozes(store, &mut report)?;
    progress.phase("calendars and contacts", 0);
    report.dav = super::check_dav::check_dav(store)?;
    progress.end_phase();
    Ok(report)
}

/// Counts the snooze records and lists those whose message is not where they say.
fn check_snoozes(store: &Store, report: &mut CheckReport) -> Result<(), StorageError> {
    for rec in store.snooze_list()? {
        report.snoozed += 1;
        let folder = store.folder_id(&rec.account, super::snooze::SNOOZED_FOLDER)?;
        let present = match (folder, rec.snoozed_uid) {
            (Some(f), Some(uid)) => store.get_message(f, uid)?.is_some(),
            _ => false,
        };
        if !present {
            report.stale_snoozes.push(format!(
                "snooze record {} of {} (from {:?})",
                rec.id, rec.account, rec.folder
            ));
        }
    }
    Ok(())
}
