//! What the queue actors say to each other and hear from the rest of the server: the
//! types every queue module shares, kept apart from the actors so that none of them
//! imports another (the remote queue and the others used to import each other).

use actix::prelude::*;

use crate::actors::supervisor::Panicked;
use crate::storage::{Accepted, FetchedMessage, QueueId, QueueName, QueueRecord, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Failed(#[from] Panicked),
    #[error("queue unavailable: {0}")]
    Unavailable(String),
}

/// Accept a new message into the inbound queue (SMTP DATA, fetchers, reports). Sent by
/// sessions; the reply comes only after the record is durably committed: then the sender
/// may acknowledge (RFC 5321 §6.1).
#[derive(Message, Debug)]
#[rtype(result = "Result<QueueId, QueueError>")]
pub struct Enqueue(pub QueueRecord);

/// Take in a fetched message (MultiPOP/DomainPOP fetchers): its records and its seen mark
/// in one transaction (`Store::fetch_accept`), answered after the commit, so the fetcher
/// may then delete the remote copy.
#[derive(Message, Debug)]
#[rtype(result = "Result<Accepted, QueueError>")]
pub struct EnqueueFetched(pub FetchedMessage);

/// A record is waiting in the receiving actor's queue (after a move by another actor or the
/// console). Each queue does its own work with it: route, deliver, archive, or hold.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Queued(pub QueueId);

/// A record just committed into the local queue, handed over whole by the queue that wrote
/// it, so that the local queue does not read back what it is told about (one read per
/// message on its thread). It is what was committed; the delivery still consumes the
/// stored record in the append's transaction, so a stale copy can never deliver twice.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct QueuedRecord(pub Box<QueueRecord>);

/// Reload the queue from storage and work through everything in it.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Rescan;

/// Release deferred records whose time has come (the deferred queue's timer sends it; tests
/// send it after moving a `ManualClock`). Reply: how many were released.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<usize, QueueError>")]
pub struct ReleaseDue;

/// The supervision path of a queue's actor ("queue/remote").
pub fn path(q: QueueName) -> String {
    format!("queue/{}", q.as_str())
}
