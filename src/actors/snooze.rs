//! Snooze: a message put away until a chosen time leaves its folder for the account's
//! `Snoozed` folder and comes back, unread, at that time — also across restarts. The
//! webmail's Snooze control (`http::webmail::snooze`) calls [`snooze`]; the waker task
//! started here ([`start`]) brings messages back.
//!
//! Implementation notes:
//!
//! - Every move goes through the folder actors (the backend's `move_messages`, as IMAP
//!   MOVE), so IMAP clients see EXPUNGE in the folder left and EXISTS in the other;
//!   `Snoozed` is an ordinary folder, made on first use, visible to IMAP clients.
//! - Order, so that a crash can never lose track of a message: (1) the record
//!   (`storage::snooze`) is written and made durable, naming the folder, the UID there and
//!   the message's EMAILID; (2) the message is moved; (3) the record is rewritten with
//!   the UID in `Snoozed`. A crash after (1) leaves a record whose move never happened;
//!   one after (2) a record without the new UID. The waker copes with both: it looks for
//!   the message in `Snoozed` by the recorded UID, else by its EMAILID; found, it moves it
//!   back; not found but still at its old place (the move never happened), it clears
//!   \Seen there; neither (the user deleted it, or moved it out of `Snoozed`), it drops
//!   the record with a log line and touches nothing.
//! - Waking: the message moves back to the folder it came from (by name; INBOX when that
//!   folder is gone), \Seen is cleared on it, then the record is dropped. A crash between
//!   the move and the drop leaves a record whose message is no longer in `Snoozed`: it is
//!   dropped at the next run, as above, and the message stays where it came back to.
//! - Timing: at start and after each run the waker sleeps until the earliest wake time
//!   (`SnoozeStore::snooze_next`), at most [`MAX_SLEEP`] (the wall clock may jump, and
//!   other nodes of a cluster add records this node hears nothing of), or until a new
//!   snooze wakes it ([`SnoozeWaker::rescheduled`]). Everything due is woken at once, in
//!   batches of [`BATCH`]. Time is the server's `Clock`, so tests move a manual clock and
//!   call [`wake_due`] instead of sleeping.
//! - In a cluster two nodes may wake the same record: the second finds the message gone
//!   from `Snoozed` and drops the record.

use std::sync::Arc;
use std::time::Duration;

use super::imap_backend::StoreBackend;
use super::ServerContext;
use crate::protocols::imap::backend::{flag_bits, Backend, BackendError, FlagOp, FolderRef};
use crate::storage::{SnoozeRecord, StorageError};

/// The folder snoozed messages wait in (one per account, made on first use).
pub const SNOOZED: &str = crate::storage::snooze::SNOOZED_FOLDER;

/// Records woken per storage read.
pub const BATCH: usize = 100;

/// The longest the waker sleeps without looking at the store again.
pub const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// After a failure (storage or a folder actor unavailable), the waker tries again this much
/// later.
const RETRY: i64 = 60;

/// The waker's doorbell, in the server context: rung after each snooze so that a wake time
/// earlier than the one the waker sleeps towards is honoured.
#[derive(Debug, Default)]
pub struct SnoozeWaker {
    bell: tokio::sync::Notify,
}

impl SnoozeWaker {
    /// A record was added: look at the next wake time again. A ring while the waker is
    /// busy is kept for its next sleep.
    pub fn rescheduled(&self) {
        self.bell.notify_one();
    }
}

/// Snoozes `uids` of `folder` (owned by `account`) until `wake`, in the order of the
/// module notes; answers how many moved (UIDs no longer there are skipped, and their
/// records dropped). The caller checks rights first. Blocking (the folder actors).
pub fn snooze(
    b: &StoreBackend,
    account: &str,
    folder: FolderRef,
    uids: &[u32],
    wake: i64,
) -> Result<usize, BackendError> {
    let store = &b.ctx.store;
    let from = b.folder(folder)?;
    let snoozed = snoozed_folder(b, account)?;
    if snoozed == folder {
        return Err(BackendError::Invalid(
            "these messages are snoozed already".into(),
        ));
    }
    // (1) The records, durable before anything moves.
    let mut records = Vec::with_capacity(uids.len());
    for &uid in uids {
        let rec = SnoozeRecord {
            id: rand::random::<u64>() >> 1,
            account: account.to_ascii_lowercase(),
            wake,
            folder: from.name.clone(),
            from_uid: uid,
            snoozed_uid: None,
            email_id: b.email_id(folder, uid)?,
        };
        store.snooze_put(&rec).map_err(storage)?;
        records.push(rec);
    }
    store.commit().map_err(storage)?;
    // (2) The move, as IMAP MOVE.
    let moved = b.move_messages(folder, uids, snoozed)?;
    // (3) The new UIDs; records of messages that were gone already are dropped.
    for mut rec in records {
        match moved.iter().find(|(old, _)| *old == rec.from_uid) {
            Some(&(_, new)) => {
                rec.snoozed_uid = Some(new);
                store.snooze_put(&rec).map_err(storage)?;
            }
            None => {
                store.snooze_delete(rec.id).map_err(storage)?;
            }
        }
    }
    b.ctx.snoozes.rescheduled();
    Ok(moved.len())
}

/// In `Snoozed`: the records of `uids` get the new wake time (a UID without a record is
/// skipped).
pub fn reschedule(
    b: &StoreBackend,
    account: &str,
    uids: &[u32],
    wake: i64,
) -> Result<(), BackendError> {
    for &uid in uids {
        let Some(mut rec) = record_of(b, account, uid)? else {
            continue;
        };
        rec.wake = wake;
        b.ctx.store.snooze_put(&rec).map_err(storage)?;
    }
    b.ctx.snoozes.rescheduled();
    Ok(())
}

/// The record of the message `uid` of `account`'s `Snoozed` folder.
pub fn record_of(
    b: &StoreBackend,
    account: &str,
    uid: u32,
) -> Result<Option<SnoozeRecord>, BackendError> {
    let records = b.ctx.store.snooze_of(account).map_err(storage)?;
    Ok(records.into_iter().find(|r| r.snoozed_uid == Some(uid)))
}

/// The id of `account`'s `Snoozed` folder, made now when it has none.
pub fn snoozed_folder(b: &impl Backend, account: &str) -> Result<FolderRef, BackendError> {
    match b.find_folder(account, SNOOZED)? {
        Some(f) => Ok(f.id),
        None => match b.create_folder(account, SNOOZED, None) {
            Ok(id) => Ok(id),
            // Made by a concurrent snooze meanwhile.
            Err(BackendError::Exists(_)) => b
                .find_folder(account, SNOOZED)?
                .map(|f| f.id)
                .ok_or_else(|| BackendError::NotFound(SNOOZED.into())),
            Err(e) => Err(e),
        },
    }
}

/// What waking one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Woken {
    /// Moved back to its folder and marked unread: its new place.
    Back(FolderRef, u32),
    /// The move had never happened: marked unread where it was.
    Unmoved(FolderRef, u32),
    /// Neither in `Snoozed` nor at its old place: nothing touched.
    Gone,
}

/// Wakes `rec` now, whatever its wake time (the Snoozed list's "Wake now" and the waker),
/// then drops it. Blocking (the folder actors).
pub fn wake(b: &StoreBackend, rec: &SnoozeRecord) -> Result<Woken, BackendError> {
    let woken = bring_back(b, rec)?;
    if woken == Woken::Gone {
        tracing::info!(
            account = %rec.account,
            folder = %rec.folder,
            "snoozed message gone (deleted or moved out of {SNOOZED}); its record is dropped"
        );
    }
    b.ctx.store.snooze_delete(rec.id).map_err(storage)?;
    Ok(woken)
}

/// The message of `rec`, moved back and marked unread (module notes).
fn bring_back(b: &StoreBackend, rec: &SnoozeRecord) -> Result<Woken, BackendError> {
    if let Some(snoozed) = b.find_folder(&rec.account, SNOOZED)? {
        if let Some(uid) = find_message(b, snoozed.id, rec.snoozed_uid, &rec.email_id)? {
            let to = match b.find_folder(&rec.account, &rec.folder)? {
                Some(f) if !f.noselect && f.id != snoozed.id => f.id,
                _ => b
                    .find_folder(&rec.account, "INBOX")?
                    .map(|f| f.id)
                    .ok_or_else(|| BackendError::NotFound("INBOX".into()))?,
            };
            let moved = b.move_messages(snoozed.id, &[uid], to)?;
            let Some(&(_, new)) = moved.first() else {
                // Expunged between the look and the move.
                return Ok(Woken::Gone);
            };
            unread(b, to, new)?;
            return Ok(Woken::Back(to, new));
        }
    }
    if rec.snoozed_uid.is_none() {
        if let Some(f) = b.find_folder(&rec.account, &rec.folder)? {
            if find_message(b, f.id, Some(rec.from_uid), &rec.email_id)? == Some(rec.from_uid) {
                unread(b, f.id, rec.from_uid)?;
                return Ok(Woken::Unmoved(f.id, rec.from_uid));
            }
        }
    }
    Ok(Woken::Gone)
}

/// The UID of the message with `email_id` in `folder`: `hint` when it is that message,
/// else the first one found by a look through the folder (a record without its UID in
/// `Snoozed`, written before a crash).
fn find_message(
    b: &StoreBackend,
    folder: FolderRef,
    hint: Option<u32>,
    email_id: &str,
) -> Result<Option<u32>, BackendError> {
    let is = |uid: u32| match b.email_id(folder, uid) {
        Ok(id) => Ok(id == email_id),
        Err(BackendError::NotFound(_)) => Ok(false),
        Err(e) => Err(e),
    };
    if let Some(uid) = hint {
        if is(uid)? {
            return Ok(Some(uid));
        }
        if b.folder(folder)?.name != SNOOZED {
            // At the old place only the recorded UID counts: another copy is not this one.
            return Ok(None);
        }
    }
    for m in b.messages(folder)? {
        if is(m.uid)? {
            return Ok(Some(m.uid));
        }
    }
    Ok(None)
}

fn unread(b: &StoreBackend, folder: FolderRef, uid: u32) -> Result<(), BackendError> {
    b.store_flags(folder, &[uid], FlagOp::Remove, flag_bits::SEEN, &[], None)?;
    Ok(())
}

/// Wakes every record due at the server clock's now; answers when to look again (the next
/// wake time, `None` when there is none). A record that fails for a passing reason
/// (storage, a folder actor) stays, and the answer is a retry soon. Blocking.
pub fn wake_due(ctx: &Arc<ServerContext>) -> Result<Option<i64>, StorageError> {
    let b = StoreBackend { ctx: ctx.clone() };
    let now = ctx.clock.now();
    // Bounded: each round drops up to BATCH records or stops.
    for _ in 0..10_000 {
        let due = ctx.store.snooze_due(now, BATCH)?;
        if due.is_empty() {
            break;
        }
        for rec in &due {
            match wake(&b, rec) {
                Ok(_) => {}
                Err(BackendError::NotFound(what)) => {
                    tracing::info!(account = %rec.account, "snoozed message's {what}: record dropped");
                    ctx.store.snooze_delete(rec.id)?;
                }
                Err(e) => {
                    tracing::warn!(account = %rec.account, "cannot wake a snoozed message now: {e}");
                    return Ok(Some(now + RETRY));
                }
            }
        }
    }
    ctx.store.snooze_next()
}

/// How long to sleep until `next` (unix seconds) at `now`: at most [`MAX_SLEEP`].
pub fn sleep_for(next: Option<i64>, now: i64) -> Duration {
    match next {
        Some(t) => Duration::from_secs(t.saturating_sub(now).max(0) as u64).min(MAX_SLEEP),
        None => MAX_SLEEP,
    }
}

/// Starts the waker on the core arbiter, supervised (console `actors`: `snooze`): at once
/// it wakes everything that came due while the server was down.
pub fn start(ctx: &Arc<ServerContext>) {
    let sctx = ctx.clone();
    ctx.core_arbiter().spawn(async move {
        let run_ctx = sctx.clone();
        super::supervisor::supervise_task(sctx, "snooze".into(), "task", move || {
            run(run_ctx.clone())
        })
        .await;
    });
}

/// The waker's loop (module notes), until the server shuts down.
async fn run(ctx: Arc<ServerContext>) {
    let mut shutdown = ctx.shutdown_signal();
    loop {
        if ctx.is_shutting_down() {
            return;
        }
        let c = ctx.clone();
        let next = match tokio::task::spawn_blocking(move || wake_due(&c)).await {
            Ok(Ok(next)) => next,
            Ok(Err(e)) => {
                tracing::warn!("snooze waker: {e}");
                Some(ctx.clock.now() + RETRY)
            }
            Err(e) => {
                tracing::error!("snooze waker: {e}");
                Some(ctx.clock.now() + RETRY)
            }
        };
        let delay = sleep_for(next, ctx.clock.now());
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = ctx.snoozes.bell.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

fn storage(e: StorageError) -> BackendError {
    tracing::error!("snooze: {e}");
    BackendError::Unavailable("storage error".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_until_the_next_wake_time_at_most_an_hour() {
        assert_eq!(sleep_for(Some(1_030), 1_000), Duration::from_secs(30));
        assert_eq!(sleep_for(Some(900), 1_000), Duration::ZERO);
        assert_eq!(sleep_for(Some(1_000 + 86_400), 1_000), MAX_SLEEP);
        assert_eq!(sleep_for(None, 1_000), MAX_SLEEP);
    }
}
