//! Settling a delivery attempt: the per-recipient results of one attempt on one queue record
//! become the records that replace it (the queue actor that holds the record writes them,
//! in one storage transaction): (a) nothing more for delivered recipients, (b) a
//! deferred record with the temporarily failed ones and the time of the next attempt, (c) a
//! bounce (DSN) in the inbound queue for the failed ones — or a bad-queue record when the
//! sender is the null sender — and (d) delay and success reports where NOTIFY asks for them.
//!
//! Retry times follow `[delivery] retry_schedule`, measured on the server [`Clock`]; the
//! last attempt is made when `message_lifetime` runs out, and a recipient still failing then
//! bounces with its last error. A delay notice goes with the first failed attempt whose place
//! in the schedule (the sum of the waits before it) is at or past `delay_notice`: so at most
//! one per message, without any state beyond the attempt count.
//!
//! [`Clock`]: crate::clock::Clock

use crate::config::DeliveryConfig;
use crate::protocols::smtp::client::{Outcome, RcptResult};
use crate::storage::{
    AttemptOutcome, DeliveryAttempt, DsnRet, QueueId, QueueName, QueueRecipient, QueueRecord,
    StorageError, Store,
};

use super::dsn::{self, Action};

/// One recipient's result of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Index of the recipient in the record.
    pub index: usize,
    pub outcome: Outcome,
    /// RFC 3463 status.
    pub status: String,
    /// Why, in one line ("550 5.1.1 no such user", "null MX …").
    pub text: String,
    /// The reply of a remote server, when one gave it (DSN Diagnostic-Code).
    pub diagnostic: Option<String>,
    pub remote_mta: Option<String>,
    /// The server that accepted it supports DSN (so it reports success itself).
    pub peer_dsn: bool,
}

impl Attempt {
    /// The attempt of recipient `index` from a client result against `host`.
    pub fn from_result(index: usize, r: &RcptResult, host: &str, peer_dsn: bool) -> Attempt {
        Attempt {
            index,
            outcome: r.outcome,
            status: r.reply.status_or_default(),
            text: r.reply.one_line(),
            diagnostic: (!r.reply.local).then(|| r.reply.one_line()),
            remote_mta: (!r.reply.local).then(|| host.to_string()),
            peer_dsn,
        }
    }

    /// A result decided here, for a recipient (no server said it).
    pub fn local(index: usize, outcome: Outcome, status: &str, text: &str) -> Attempt {
        Attempt {
            index,
            outcome,
            status: status.to_string(),
            text: text.to_string(),
            diagnostic: None,
            remote_mta: None,
            peer_dsn: false,
        }
    }
}

/// What settling needs to know about the server.
pub struct Context<'a> {
    pub store: &'a Store,
    pub hostname: &'a str,
    pub delivery: &'a DeliveryConfig,
    pub now: i64,
}

/// Where the records made by settling went: notify these queues.
pub type Moved = Vec<(QueueName, QueueId)>;

/// Decides how `attempts` settle `rec`: the records that replace it (none when everything
/// was delivered). It writes report bodies, but no queue record: the queue actor holding
/// `rec` applies the result in one transaction (`actors::queues`), so a record is never
/// changed under the worker delivering it. Recipients of `rec` without an attempt that are
/// not delivered count as temporarily failed.
pub fn settle(
    cx: &Context,
    rec: &QueueRecord,
    attempts: &[Attempt],
) -> Result<Vec<QueueRecord>, StorageError> {
    let d = cx.delivery;
    let attempt_no = rec.attempts.saturating_add(1);
    let expires = rec
        .received_at
        .saturating_add(d.message_lifetime.as_secs() as i64);
    let expired = cx.now >= expires;
    let delay_due = delay_notice_due(d, rec.attempts);

    let mut deferred: Vec<QueueRecipient> = Vec::new();
    let mut failed: Vec<(QueueRecipient, dsn::Recipient)> = Vec::new();
    let mut delayed: Vec<dsn::Recipient> = Vec::new();
    let mut succeeded: Vec<dsn::Recipient> = Vec::new();
    let mut first_temp: Option<String> = None;
    // What this attempt did for each recipient tried, for the records that stay.
    let mut tried: Vec<DeliveryAttempt> = Vec::new();
    for (i, r) in rec.recipients.iter().enumerate() {
        if r.delivered {
            continue;
        }
        let missing;
        let a = match attempts.iter().find(|a| a.index == i) {
            Some(a) => a,
            None => {
                missing = Attempt::local(i, Outcome::Temporary, "4.3.0", "not attempted");
                &missing
            }
        };
        tried.push(DeliveryAttempt {
            at: cx.now,
            attempt: attempt_no,
            recipient: r.address.clone(),
            host: a.remote_mta.clone(),
            status: a.status.clone(),
            text: a.text.clone(),
            outcome: match a.outcome {
                Outcome::Delivered => AttemptOutcome::Delivered,
                Outcome::Temporary if !expired => AttemptOutcome::Deferred,
                Outcome::Temporary | Outcome::Permanent => AttemptOutcome::Failed,
            },
        });
        let report = |action: Action, reason: String, until: Option<i64>| dsn::Recipient {
            final_recipient: r.address.clone(),
            original: r.orcpt.clone(),
            action,
            status: a.status.clone(),
            diagnostic: a.diagnostic.clone(),
            remote_mta: a.remote_mta.clone(),
            reason,
            will_retry_until: until,
        };
        match a.outcome {
            Outcome::Delivered => {
                let action = if a.peer_dsn || a.remote_mta.is_none() {
                    Action::Delivered
                } else {
                    Action::Relayed
                };
                // A next hop with DSN support reports success itself (RFC 3461 §4.2).
                if !a.peer_dsn && dsn::wanted(r.notify.as_ref(), action) {
                    succeeded.push(report(action, format!("delivered: {}", a.text), None));
                }
            }
            Outcome::Permanent => {
                failed.push((
                    failed_rcpt(r, &a.text),
                    report(Action::Failed, a.text.clone(), None),
                ));
            }
            Outcome::Temporary if expired => {
                let why = format!(
                    "gave up after {} attempts over {}: {}",
                    attempt_no,
                    human_duration(cx.now - rec.received_at),
                    a.text
                );
                failed.push((
                    failed_rcpt(r, &why),
                    report(Action::Failed, why.clone(), None),
                ));
            }
            Outcome::Temporary => {
                first_temp.get_or_insert_with(|| a.text.clone());
                deferred.push(QueueRecipient {
                    last_error: Some(a.text.clone()),
                    ..r.clone()
                });
                if delay_due && dsn::wanted(r.notify.as_ref(), Action::Delayed) {
                    let why = format!("not delivered yet, will retry: {}", a.text);
                    delayed.push(report(Action::Delayed, why, Some(expires)));
                }
            }
        }
    }

    let mut records = Vec::new();
    if !deferred.is_empty() {
        let next = cx
            .now
            .saturating_add(d.retry_after(attempt_no).as_secs() as i64)
            .min(expires);
        let mut kept = QueueRecord {
            queue: QueueName::Deferred,
            recipients: deferred,
            due: Some(next),
            attempts: attempt_no,
            last_error: first_temp,
            ..rec.clone()
        };
        kept.record_attempts(tried.iter().cloned());
        records.push(kept);
    }
    let null_sender = rec.mail_from.is_empty();
    if !failed.is_empty() && null_sender {
        // Never a bounce to the null sender: the bounce that cannot be delivered is kept.
        let reason = failed[0].0.last_error.clone();
        let mut bad = QueueRecord {
            id: cx.store.next_queue_id()?,
            queue: QueueName::Bad,
            recipients: failed.iter().map(|(q, _)| q.clone()).collect(),
            due: None,
            attempts: attempt_no,
            last_error: reason.map(|r| format!("undeliverable bounce: {r}")),
            ..rec.clone()
        };
        bad.record_attempts(tried.iter().cloned());
        records.push(bad);
    }
    if !null_sender {
        let bounces: Vec<dsn::Recipient> = failed
            .into_iter()
            .filter(|(q, _)| dsn::wanted(q.notify.as_ref(), Action::Failed))
            .map(|(_, r)| r)
            .collect();
        for list in [bounces, delayed, succeeded] {
            if let Some(r) = report_record(cx, rec, list)? {
                records.push(r);
            }
        }
    }
    Ok(records)
}

/// Where `records` go: the queues to notify once they are written.
pub fn moved(records: &[QueueRecord]) -> Moved {
    records.iter().map(|r| (r.queue, r.id)).collect()
}

fn failed_rcpt(r: &QueueRecipient, why: &str) -> QueueRecipient {
    QueueRecipient {
        last_error: Some(why.to_string()),
        ..r.clone()
    }
}

/// Whether the failed attempt after `previous` earlier attempts is the one that carries the
/// delay notice.
pub fn delay_notice_due(d: &DeliveryConfig, previous: u32) -> bool {
    let Some(after) = d.delay_notice else {
        return false;
    };
    let offset = |k: u32| -> u64 { (1..=k).map(|i| d.retry_after(i).as_secs()).sum() };
    let here = offset(previous);
    here >= after.as_secs() && (previous == 0 || offset(previous - 1) < after.as_secs())
}

/// A DSN to the sender of `rec` about `recipients`, as a new inbound record (its body
/// stored). `None` when there is nothing to report.
pub fn report_record(
    cx: &Context,
    rec: &QueueRecord,
    recipients: Vec<dsn::Recipient>,
) -> Result<Option<QueueRecord>, StorageError> {
    if recipients.is_empty() || rec.mail_from.is_empty() {
        return Ok(None);
    }
    let original = cx.store.blobs().get(&rec.blob)?;
    let id = cx.store.next_queue_id()?;
    let bytes = dsn::build(&dsn::Report {
        reporting_mta: cx.hostname,
        envid: rec.params.envid.as_deref(),
        arrival: rec.received_at,
        last_attempt: cx.now,
        to: &rec.mail_from,
        recipients,
        original: &original,
        // RFC 8689 §5: a REQUIRETLS message is not returned whole (its DSN may not travel
        // over TLS); the headers say which message it was.
        return_full: !rec.params.requiretls && rec.params.ret != Some(DsnRet::Hdrs),
        unique: format!("{id:016X}.dsn"),
    })
    .map_err(StorageError::Invalid)?;
    let blob = cx.store.blobs().put(&bytes)?;
    Ok(Some(QueueRecord {
        id,
        queue: QueueName::Inbound,
        blob,
        size: bytes.len() as u64,
        mail_from: String::new(),
        recipients: vec![QueueRecipient::new(&rec.mail_from)],
        params: Default::default(),
        received_at: cx.now,
        due: None,
        attempts: 0,
        last_error: None,
        origin: format!("DSN for {:016X}", rec.id),
        auth_as: None,
        folder: None,
        history: Vec::new(),
    }))
}

/// A success report ("delivered", RFC 3461 §6.2.2) for the local recipients `indexes` of
/// `rec` whose NOTIFY asks for one; `None` when none does (or the sender is null).
pub fn delivered_report(
    cx: &Context,
    rec: &QueueRecord,
    indexes: &[usize],
) -> Result<Option<QueueRecord>, StorageError> {
    let recipients = indexes
        .iter()
        .filter_map(|i| rec.recipients.get(*i))
        .filter(|r| dsn::wanted(r.notify.as_ref(), Action::Delivered))
        .map(|r| dsn::Recipient {
            final_recipient: r.address.clone(),
            original: r.orcpt.clone(),
            action: Action::Delivered,
            status: "2.0.0".into(),
            diagnostic: None,
            remote_mta: None,
            reason: "delivered to the mailbox".into(),
            will_retry_until: None,
        })
        .collect();
    report_record(cx, rec, recipients)
}

/// The failure report for local recipients that could not be delivered after the message
/// was accepted (the mailbox went away or filled up): `failed` holds each recipient's index
/// in `rec` and the reply that explains it ("552 5.2.2 …"). NOTIFY and the null sender are
/// honoured as for remote failures.
pub fn local_failure_report(
    cx: &Context,
    rec: &QueueRecord,
    failed: &[(usize, String)],
) -> Result<Option<QueueRecord>, StorageError> {
    let recipients = failed
        .iter()
        .filter_map(|(i, why)| rec.recipients.get(*i).map(|r| (r, why)))
        .filter(|(r, _)| dsn::wanted(r.notify.as_ref(), Action::Failed))
        .map(|(r, why)| dsn::Recipient {
            final_recipient: r.address.clone(),
            original: r.orcpt.clone(),
            action: Action::Failed,
            status: enhanced_status(why).unwrap_or("5.0.0").to_string(),
            diagnostic: Some(why.clone()),
            remote_mta: None,
            reason: why.clone(),
            will_retry_until: None,
        })
        .collect();
    report_record(cx, rec, recipients)
}

/// The enhanced status code (RFC 3463) of a reply such as "552 5.2.2 mailbox full".
fn enhanced_status(reply: &str) -> Option<&str> {
    let code = reply.split_whitespace().nth(1)?;
    let parts: Vec<&str> = code.split('.').collect();
    (parts.len() == 3
        && matches!(parts[0], "2" | "4" | "5")
        && parts[1..]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit())))
    .then_some(code)
}

fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    if secs >= 2 * 86_400 {
        format!("{} days", secs / 86_400)
    } else if secs >= 2 * 3600 {
        format!("{} hours", secs / 3600)
    } else {
        format!("{} minutes", secs / 60)
    }
}

#[cfg(test)]
mod tests;
