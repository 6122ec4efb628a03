//! Changes to one queued record from outside the queue actors: the console's
//! `queue retry|bounce|move|delete`. Each is a [`Change`] message to the actor of the queue
//! that holds the record, which applies it; nothing else writes queue records.
//!
//! A record being delivered is not changed under its worker: the remote queue (a
//! connection worker has it) and the local queue (a delivery into the folders has it)
//! answer [`Refused::Busy`] at once, and the console says "busy, try again". Waiting is not
//! offered: an attempt can take as long as a slow peer takes to answer DATA, longer than
//! the console waits for an answer. After the attempt settles, the record is in whatever
//! queue settling put it (or gone, when delivered), and the same command works there.
//!
//! A retry routes the record at once (`delivery::route`, the rules the inbound queue
//! applies), in the change's own transaction, instead of handing it to the inbound queue:
//! routing gives the record new ids (one per queue its recipients go to), and only the
//! change that wrote them can say which, so the console and the API answer where the
//! record is now. The outcome is the one inbound would have reached.

use std::sync::Arc;

use actix::prelude::*;

use crate::actors::supervisor::in_actor;
use crate::actors::ServerContext;
use crate::delivery::route;
use crate::outbound::settle;
use crate::protocols::smtp::client::Outcome;
use crate::storage::{QueueId, QueueName, QueueRecord, QueueWriter, StorageError, Store};

use super::messages::path;

/// How often a record that moved to another queue while being changed is looked up again.
const LOOKUPS: usize = 5;

/// A change to one queued record, for the actor of the queue that holds it.
#[derive(Message, Debug, Clone, PartialEq, Eq)]
#[rtype(result = "Result<Changed, Refused>")]
pub enum Change {
    /// Routed again now (due time cleared), to be tried again at once: its recipients go
    /// to the local, remote and bad queues under new ids ([`Done::Retried`]).
    Retry(QueueId),
    /// Every undelivered recipient fails now (5.0.0): the sender gets a DSN as NOTIFY
    /// allows, a null-sender message goes to (or stays in) the bad queue.
    Bounce(QueueId),
    /// Unchanged into another queue (due time cleared).
    MoveTo { id: QueueId, to: QueueName },
    /// Gone, with its body reference.
    Delete(QueueId),
}

impl Change {
    pub fn id(&self) -> QueueId {
        match self {
            Change::Retry(id) | Change::Bounce(id) | Change::Delete(id) => *id,
            Change::MoveTo { id, .. } => *id,
        }
    }
}

/// A change applied (and committed) to record `id`, which was in `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub id: QueueId,
    pub from: QueueName,
    pub done: Done,
}

/// What a change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Retry of a record already in inbound: nothing to do.
    AlreadyInbound,
    /// Routed again: the records (queue, new id) that took its place, one per queue its
    /// recipients went to; none when nothing was left to deliver.
    Retried(Vec<(QueueName, QueueId)>),
    Moved(QueueName),
    Deleted,
    Bounced {
        recipients: usize,
        /// DSNs queued to the sender.
        reports: usize,
        mail_from: String,
    },
}

impl Changed {
    /// The console's answer.
    pub fn text(&self) -> String {
        let (id, from) = (self.id, self.from.as_str());
        match &self.done {
            Done::AlreadyInbound => format!("{id:016X} is already in the inbound queue"),
            Done::Retried(to) if to.is_empty() => {
                format!("{id:016X} retried from {from}: no recipient was left to deliver to")
            }
            Done::Retried(to) => {
                let now: Vec<String> = to
                    .iter()
                    .map(|(q, new)| format!("{new:016X} in {}", q.as_str()))
                    .collect();
                format!(
                    "{id:016X} retried from {from}, another attempt now: {}",
                    now.join(", ")
                )
            }
            Done::Moved(to) => format!("{id:016X} moved from {from} to {}", to.as_str()),
            Done::Deleted => format!("{id:016X} deleted from the {from} queue"),
            Done::Bounced {
                recipients,
                reports,
                mail_from,
            } => format!(
                "{id:016X} bounced from the {from} queue: {recipients} recipient(s), {}",
                match (mail_from.is_empty(), reports) {
                    (true, _) => "no DSN to the null sender (kept in the bad queue)".to_string(),
                    (false, 0) => "no DSN (NOTIFY=NEVER)".to_string(),
                    (false, _) => format!("DSN sent to <{mail_from}>"),
                }
            ),
        }
    }
}

/// Why a change was not made; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("no queued message {0:016X} (ids are hexadecimal, as `queue list` shows them)")]
    NoSuchRecord(QueueId),
    #[error(
        "{0:016X} is being delivered right now (the {1} queue has it): busy, try again when \
         the attempt settles"
    )]
    Busy(QueueId, QueueName),
    #[error("{0:016X} is already in the {1} queue")]
    AlreadyThere(QueueId, QueueName),
    /// Not (or no longer) in the queue asked: it moved meanwhile.
    #[error("{0:016X} moved to another queue meanwhile; try again")]
    Moved(QueueId),
    #[error("{0}")]
    Failed(String),
}

impl From<StorageError> for Refused {
    fn from(e: StorageError) -> Refused {
        Refused::Failed(e.to_string())
    }
}

/// Sends `change` to the actor of the queue that holds the record and returns its answer.
/// A record that moved on between the look-up and the actor (routed, released, settled)
/// is looked up again, a few times.
pub async fn change(ctx: &ServerContext, change: Change) -> Result<Changed, Refused> {
    let id = change.id();
    for _ in 0..LOOKUPS {
        let rec = ctx.store.queue_find(id)?.ok_or(Refused::NoSuchRecord(id))?;
        let q = ctx.queues();
        let c = change.clone();
        let answer = match rec.queue {
            QueueName::Inbound => q.inbound.send(c).await,
            QueueName::Local => q.local.send(c).await,
            QueueName::Remote => q.remote.send(c).await,
            QueueName::Deferred => q.deferred.send(c).await,
            QueueName::ToArchive => q.toarchive.send(c).await,
            QueueName::Bad => q.bad.send(c).await,
        };
        match answer {
            Ok(Err(Refused::Moved(_))) => continue,
            Ok(answer) => return answer,
            Err(e) => {
                return Err(Refused::Failed(format!(
                    "the {} queue does not answer: {e}",
                    rec.queue
                )))
            }
        }
    }
    Err(Refused::Moved(id))
}

/// Applies `change` with no server running (the one-shot CLI): then no worker has the
/// record. Bounce needs the running server (its DSN goes through the queues).
pub fn apply_offline(
    store: &Store,
    writer: &QueueWriter,
    change: &Change,
) -> Result<Changed, Refused> {
    let id = change.id();
    let rec = store.queue_find(id)?.ok_or(Refused::NoSuchRecord(id))?;
    let (records, done) = match plan(store, rec.queue, change)? {
        Plan::Nothing(done) => return Ok(changed(id, rec.queue, done)),
        Plan::Replace(records, done) => (Some(records), done),
        Plan::Delete => (None, Done::Deleted),
        Plan::Bounce(_) => {
            return Err(Refused::Failed(
                "the server is not running; this command needs a running server".into(),
            ))
        }
    };
    write(writer, rec.queue, id, records.as_deref())?;
    store
        .commit()
        .map_err(|e| Refused::Failed(format!("flush failed: {e}")))?;
    Ok(changed(id, rec.queue, done))
}

/// The queue actor's side: applies `change` to the record in `queue`, commits, and tells
/// the queues that got records. The actor has made sure no worker of its own has the
/// record; a record that moved meanwhile is [`Refused::Moved`] (every write is one
/// transaction that checks the record is still where it was).
pub(super) fn apply<A>(
    sctx: Arc<ServerContext>,
    queue: QueueName,
    change: Change,
) -> impl ActorFuture<A, Output = Result<Changed, Refused>>
where
    A: Actor<Context = Context<A>>,
{
    let id = change.id();
    let work = {
        let sctx = sctx.clone();
        async move {
            let store = &sctx.store;
            let (records, done) = match plan(store, queue, &change)? {
                Plan::Nothing(done) => return Ok(changed(id, queue, done)),
                Plan::Replace(records, done) => (Some(records), done),
                Plan::Delete => (None, Done::Deleted),
                Plan::Bounce(rec) => bounce(&sctx, *rec).await?,
            };
            write(super::writer(&sctx), queue, id, records.as_deref())?;
            store.commit_async().await?;
            for (q, new) in settle::moved(records.as_deref().unwrap_or_default()) {
                sctx.queues().notify(q, new);
            }
            Ok(changed(id, queue, done))
        }
    };
    in_actor(sctx, path(queue), work).map(|res, _act, _ctx| {
        res.unwrap_or_else(|p| Err(Refused::Failed(format!("the change failed: {p}"))))
    })
}

fn changed(id: QueueId, from: QueueName, done: Done) -> Changed {
    Changed { id, from, done }
}

/// What a change does to a record.
enum Plan {
    Nothing(Done),
    /// These records take its place.
    Replace(Vec<QueueRecord>, Done),
    Delete,
    /// Settle it as failed (which writes the DSN bodies: off the actor's thread).
    Bounce(Box<QueueRecord>),
}

fn plan(store: &Store, queue: QueueName, change: &Change) -> Result<Plan, Refused> {
    let id = change.id();
    let rec = store.queue_get(queue, id)?.ok_or(Refused::Moved(id))?;
    let elsewhere = |to: QueueName| QueueRecord {
        queue: to,
        due: None,
        ..rec.clone()
    };
    Ok(match change {
        Change::Retry(_) if queue == QueueName::Inbound => Plan::Nothing(Done::AlreadyInbound),
        Change::Retry(_) => {
            let again = QueueRecord {
                due: None,
                ..rec.clone()
            };
            let records =
                route::route(store, &again)?.into_records(&again, || store.next_queue_id())?;
            let to = settle::moved(&records);
            Plan::Replace(records, Done::Retried(to))
        }
        Change::MoveTo { to, .. } if *to == queue => return Err(Refused::AlreadyThere(id, *to)),
        Change::MoveTo { to, .. } => Plan::Replace(vec![elsewhere(*to)], Done::Moved(*to)),
        Change::Delete(_) => Plan::Delete,
        Change::Bounce(_) => Plan::Bounce(Box::new(rec)),
    })
}

/// Writes a planned change in one transaction: `records` replace record `id` of `queue`,
/// or (`None`) it is deleted.
fn write(
    writer: &QueueWriter,
    queue: QueueName,
    id: QueueId,
    records: Option<&[QueueRecord]>,
) -> Result<(), Refused> {
    let written = match records {
        Some(records) => writer.queue_replace(queue, id, records),
        None => writer.queue_delete(queue, id),
    };
    written.map_err(|e| match e {
        StorageError::Conflict(_) | StorageError::NotFound(_) => Refused::Moved(id),
        e => e.into(),
    })
}

/// The records a bounce of `rec` leaves (DSNs, or a bad record for the null sender), made
/// on the blocking pool: a DSN body put waits for its sync round.
async fn bounce(
    sctx: &ServerContext,
    rec: QueueRecord,
) -> Result<(Option<Vec<QueueRecord>>, Done), Refused> {
    let attempts: Vec<settle::Attempt> = (0..rec.recipients.len())
        .filter(|i| !rec.recipients[*i].delivered)
        .map(|i| {
            settle::Attempt::local(
                i,
                Outcome::Permanent,
                "5.0.0",
                "bounced by the administrator",
            )
        })
        .collect();
    let recipients = attempts.len();
    let mail_from = rec.mail_from.clone();
    let records = settle_off_thread(sctx, rec, attempts)
        .await
        .map_err(|e| Refused::Failed(format!("the bounce failed: {e}")))??;
    let reports = records
        .iter()
        .filter(|r| r.queue == QueueName::Inbound)
        .count();
    let done = Done::Bounced {
        recipients,
        reports,
        mail_from,
    };
    Ok((Some(records), done))
}

/// `outbound::settle` on the blocking pool: settling may write a DSN body, and a body put
/// waits for its sync round (docs/architecture.md §4), which must not stall the core
/// arbiter. Writes no queue record: the caller's queue actor applies the result.
pub(super) async fn settle_off_thread(
    sctx: &ServerContext,
    rec: QueueRecord,
    attempts: Vec<settle::Attempt>,
) -> Result<Result<Vec<QueueRecord>, StorageError>, tokio::task::JoinError> {
    let (store, config, now) = (sctx.store.clone(), sctx.config(), sctx.clock.now());
    tokio::task::spawn_blocking(move || {
        let cx = settle::Context {
            store: &store,
            hostname: &config.hostname,
            delivery: &config.delivery,
            now,
        };
        settle::settle(&cx, &rec, &attempts)
    })
    .await
}
