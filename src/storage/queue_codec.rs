//! How a [`QueueRecord`] is stored (bincode, the same bytes in sled's queue trees and in
//! PostgreSQL's `queue.record`), for both backends: decoding records of every shape written
//! so far, and a cheap partial decoding ([`QueueHead`]) for scans that keep few records.
//!
//! bincode is not self-describing: a field added at the end of [`QueueRecord`] makes the
//! records written before it shorter, and decoding them as the new shape fails at their
//! end. [`decode_record`] then tries the older shapes, newest first: V2 (before
//! `history`), V1 (before `folder`).
//!
//! [`QueueHead`] is the record's leading fields up to `auth_as`, with its strings
//! borrowed from the stored bytes: a filtered or domain admin's view of a queue of 100,000
//! records decides on the head of each (no allocation per string) and decodes whole only
//! the records of the page it shows ([`select_page`]).

use serde::{Deserialize, Serialize};

use super::blobs::BlobId;
use super::queue::{EnvelopeParams, QueueId, QueueName, QueueRecipient, QueueRecord};
use super::StorageError;

/// The shape of [`QueueRecord`] before `folder` was added.
#[derive(Serialize, Deserialize)]
pub(crate) struct QueueRecordV1 {
    pub id: QueueId,
    pub queue: QueueName,
    pub blob: BlobId,
    pub size: u64,
    pub mail_from: String,
    pub recipients: Vec<QueueRecipient>,
    pub params: EnvelopeParams,
    pub received_at: i64,
    pub due: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub origin: String,
    pub auth_as: Option<String>,
}

/// The shape of [`QueueRecord`] before `history` was added: V1's fields and `folder`.
#[derive(Serialize, Deserialize)]
pub(crate) struct QueueRecordV2 {
    pub id: QueueId,
    pub queue: QueueName,
    pub blob: BlobId,
    pub size: u64,
    pub mail_from: String,
    pub recipients: Vec<QueueRecipient>,
    pub params: EnvelopeParams,
    pub received_at: i64,
    pub due: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub origin: String,
    pub auth_as: Option<String>,
    pub folder: Option<String>,
}

fn from_v1(v1: QueueRecordV1) -> QueueRecord {
    QueueRecord {
        id: v1.id,
        queue: v1.queue,
        blob: v1.blob,
        size: v1.size,
        mail_from: v1.mail_from,
        recipients: v1.recipients,
        params: v1.params,
        received_at: v1.received_at,
        due: v1.due,
        attempts: v1.attempts,
        last_error: v1.last_error,
        origin: v1.origin,
        auth_as: v1.auth_as,
        folder: None,
        history: Vec::new(),
    }
}

fn from_v2(v2: QueueRecordV2) -> QueueRecord {
    QueueRecord {
        id: v2.id,
        queue: v2.queue,
        blob: v2.blob,
        size: v2.size,
        mail_from: v2.mail_from,
        recipients: v2.recipients,
        params: v2.params,
        received_at: v2.received_at,
        due: v2.due,
        attempts: v2.attempts,
        last_error: v2.last_error,
        origin: v2.origin,
        auth_as: v2.auth_as,
        folder: v2.folder,
        history: Vec::new(),
    }
}

/// The stored bytes of a record.
pub(crate) fn encode_record(rec: &QueueRecord) -> Result<Vec<u8>, StorageError> {
    bincode::serialize(rec).map_err(|e| StorageError::Encoding(format!("queue record: {e}")))
}

/// `bincode::deserialize`'s encoding, but refusing bytes left over: a whole record must end
/// where its bytes do, so that a truncated record of the current shape is not read as an
/// older, shorter one.
fn strict<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, bincode::Error> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(bytes)
}

/// A stored record of any shape written so far.
pub(crate) fn decode_record(bytes: &[u8]) -> Result<QueueRecord, StorageError> {
    let err = |e: bincode::Error| StorageError::Encoding(format!("queue record: {e}"));
    match strict::<QueueRecord>(bytes) {
        Ok(rec) => Ok(rec),
        Err(e) => {
            if let Ok(v2) = strict::<QueueRecordV2>(bytes) {
                return Ok(from_v2(v2));
            }
            match strict::<QueueRecordV1>(bytes) {
                Ok(v1) => Ok(from_v1(v1)),
                Err(_) => Err(err(e)),
            }
        }
    }
}

/// A recipient as [`QueueHead`] reads it.
#[derive(Debug, Deserialize)]
pub struct HeadRecipient<'a> {
    pub address: &'a str,
    pub original: &'a str,
    pub orcpt: Option<&'a str>,
    /// The NOTIFY list in its stored form ("SUCCESS,FAILURE").
    pub notify: Option<&'a str>,
    pub delivered: bool,
    pub last_error: Option<&'a str>,
}

/// The leading fields of a stored [`QueueRecord`], strings borrowed from its bytes. The
/// fields after `auth_as` are not read, so it reads every shape [`decode_record`] does.
#[derive(Debug, Deserialize)]
pub struct QueueHead<'a> {
    pub id: QueueId,
    pub queue: QueueName,
    pub blob: BlobId,
    pub size: u64,
    pub mail_from: &'a str,
    #[serde(borrow)]
    pub recipients: Vec<HeadRecipient<'a>>,
    pub params: EnvelopeParams,
    pub received_at: i64,
    pub due: Option<i64>,
    pub attempts: u32,
    pub last_error: Option<&'a str>,
    /// Where it came from ("smtp from [1.2.3.4] …").
    pub origin: &'a str,
    /// The account that submitted it, when it authenticated (set by the server, not by
    /// the client's envelope).
    pub auth_as: Option<&'a str>,
}

impl<'a> QueueHead<'a> {
    /// The head of a record in memory (for callers that have the record, not its bytes).
    pub fn of(rec: &'a QueueRecord) -> QueueHead<'a> {
        QueueHead {
            id: rec.id,
            queue: rec.queue,
            blob: rec.blob,
            size: rec.size,
            mail_from: &rec.mail_from,
            recipients: rec
                .recipients
                .iter()
                .map(|r| HeadRecipient {
                    address: &r.address,
                    original: &r.original,
                    orcpt: r.orcpt.as_deref(),
                    notify: None,
                    delivered: r.delivered,
                    last_error: r.last_error.as_deref(),
                })
                .collect(),
            params: rec.params.clone(),
            received_at: rec.received_at,
            due: rec.due,
            attempts: rec.attempts,
            last_error: rec.last_error.as_deref(),
            origin: &rec.origin,
            auth_as: rec.auth_as.as_deref(),
        }
    }
}

/// The head of the stored record `bytes` (the legacy bincode options allow the bytes left
/// after it).
pub(crate) fn decode_head(bytes: &[u8]) -> Result<QueueHead<'_>, StorageError> {
    bincode::deserialize(bytes)
        .map_err(|e| StorageError::Encoding(format!("queue record head: {e}")))
}

/// What a selective read of a queue keeps: a test on a record's head.
pub type Keep<'k> = &'k (dyn Fn(&QueueHead<'_>) -> bool + Sync);

/// From stored records in id order: how many `keep` accepts, and the accepted ones from the
/// `offset`-th on, at most `limit`, decoded whole (in `queue`).
pub(crate) fn select_page<B: AsRef<[u8]>>(
    stored: impl Iterator<Item = Result<B, StorageError>>,
    queue: QueueName,
    keep: Keep<'_>,
    offset: usize,
    limit: usize,
) -> Result<(usize, Vec<QueueRecord>), StorageError> {
    let mut total = 0usize;
    let mut page = Vec::new();
    for bytes in stored {
        let bytes = bytes?;
        let bytes = bytes.as_ref();
        if !keep(&decode_head(bytes)?) {
            continue;
        }
        if total >= offset && page.len() < limit {
            let mut rec = decode_record(bytes)?;
            rec.queue = queue;
            page.push(rec);
        }
        total += 1;
    }
    Ok((total, page))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::queue::DeliveryAttempt;

    fn rec() -> QueueRecord {
        let mut r = QueueRecord::inbound(
            7,
            BlobId::of(b"x"),
            10,
            "a@b.example".into(),
            vec![
                QueueRecipient::new("c@d.example"),
                QueueRecipient::new("e@f.example"),
            ],
            "smtp".into(),
            100,
        );
        r.last_error = Some("451 later".into());
        r.recipients[1].notify = Some("SUCCESS,FAILURE".to_string().try_into().unwrap());
        r
    }

    /// Records of every older shape still decode; the current shape round-trips with its
    /// history; a truncated record is an error, not a panic.
    #[test]
    fn every_shape_decodes() {
        let mut r = rec();
        r.folder = Some("Junk".into());
        r.history.push(DeliveryAttempt {
            at: 5,
            attempt: 1,
            recipient: "c@d.example".into(),
            host: Some("mx.d.example".into()),
            status: "4.2.0".into(),
            text: "451 4.2.0 later".into(),
            outcome: crate::storage::AttemptOutcome::Deferred,
        });
        let bytes = encode_record(&r).unwrap();
        assert_eq!(decode_record(&bytes).unwrap(), r);
        assert!(decode_record(&bytes[..bytes.len() - 1]).is_err());

        let v2 = QueueRecordV2 {
            id: r.id,
            queue: r.queue,
            blob: r.blob,
            size: r.size,
            mail_from: r.mail_from.clone(),
            recipients: r.recipients.clone(),
            params: r.params.clone(),
            received_at: r.received_at,
            due: Some(9),
            attempts: 2,
            last_error: r.last_error.clone(),
            origin: r.origin.clone(),
            auth_as: Some("a@b.example".into()),
            folder: Some("Junk".into()),
        };
        let back = decode_record(&bincode::serialize(&v2).unwrap()).unwrap();
        assert_eq!(back.folder.as_deref(), Some("Junk"));
        assert_eq!((back.due, back.attempts), (Some(9), 2));
        assert!(back.history.is_empty());

        let v1 = QueueRecordV1 {
            id: r.id,
            queue: r.queue,
            blob: r.blob,
            size: r.size,
            mail_from: r.mail_from.clone(),
            recipients: r.recipients.clone(),
            params: r.params.clone(),
            received_at: r.received_at,
            due: None,
            attempts: 3,
            last_error: None,
            origin: r.origin.clone(),
            auth_as: None,
        };
        let bytes = bincode::serialize(&v1).unwrap();
        let back = decode_record(&bytes).unwrap();
        assert_eq!((back.folder, back.attempts), (None, 3));
        assert_eq!(back.recipients, r.recipients);
        assert!(decode_record(&bytes[..bytes.len() - 1]).is_err());
    }

    /// The head reads the same fields as the whole record, from every shape.
    #[test]
    fn the_head_reads_what_the_record_has() {
        let r = rec();
        let bytes = encode_record(&r).unwrap();
        let h = decode_head(&bytes).unwrap();
        assert_eq!((h.id, h.size, h.mail_from), (7, 10, "a@b.example"));
        assert_eq!(h.recipients.len(), 2);
        assert_eq!(h.recipients[1].address, "e@f.example");
        assert_eq!(h.recipients[1].notify, Some("SUCCESS,FAILURE"));
        assert_eq!(h.last_error, Some("451 later"));
        assert!(decode_head(&bytes[..20]).is_err());
    }

    #[test]
    fn select_page_counts_all_and_decodes_the_page() {
        let stored: Vec<Vec<u8>> = (0..10u64)
            .map(|i| {
                let mut r = rec();
                r.id = i;
                r.size = i;
                encode_record(&r).unwrap()
            })
            .collect();
        let keep = |h: &QueueHead<'_>| h.size % 2 == 0;
        let (total, page) =
            select_page(stored.iter().map(Ok), QueueName::Deferred, &keep, 1, 2).unwrap();
        assert_eq!(total, 5);
        assert_eq!(page.iter().map(|r| r.id).collect::<Vec<_>>(), vec![2, 4]);
        assert!(page.iter().all(|r| r.queue == QueueName::Deferred));
    }
}
