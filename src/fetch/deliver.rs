//! What a fetched message becomes here: the trace and loop stamp put on it, its queue
//! records (one inbound record to the account for MultiPOP; for DomainPOP the records the
//! recipient rule of [`super::recipients`] calls for), and DomainPOP's raw copy. Storage
//! reads only; the fetcher actor writes the records (`storage::fetch`).

use std::cell::RefCell;
use std::io::Write;

use super::recipients::{self, STAMP_HEADER};
use crate::storage::{
    Dedup, DomainPop, FetchSource, QueueName, QueueRecipient, QueueRecord, SourceId, SourceOwner,
    StorageError, Store, UnknownTarget,
};

pub fn to_bad(base: QueueRecord, recipients: Vec<QueueRecipient>, why: String) -> QueueRecord {
    QueueRecord {
        id: base.id,
        queue: QueueName::Bad,
        recipients,
        last_error: Some(why),
        ..base
    }
}

/// DomainPOP: one inbound record for the local recipients (and the unknown ones, when they
/// go to an account), or a bad record for the unknown ones; duplicate suppression by
/// Message-ID when configured and the message has one.
pub fn domainpop_records(
    store: &Store,
    domain: &str,
    dp: &DomainPop,
    raw: &[u8],
    base: QueueRecord,
) -> Result<(Vec<QueueRecord>, Option<Dedup>), StorageError> {
    let failure: RefCell<Option<StorageError>> = RefCell::new(None);
    let keep = |r: Result<bool, StorageError>| {
        r.unwrap_or_else(|e| {
            failure.borrow_mut().get_or_insert(e);
            false
        })
    };
    let found = recipients::find_recipients(
        raw,
        &dp.headers,
        |a| keep(store.is_local_domain(a.rsplit_once('@').map_or("", |(_, d)| d))),
        |a| keep(store.resolve_recipient(a).map(|d| !d.is_empty())),
    );
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let mut inbound: Vec<QueueRecipient> =
        found.local.iter().map(|a| QueueRecipient::new(a)).collect();
    let mut unknown = found.unknown.clone();
    let nobody = found.local.is_empty() && unknown.is_empty();
    if nobody {
        unknown.push(String::new());
    }
    let mut records = Vec::new();
    match &dp.unknown {
        UnknownTarget::Account(target) => {
            inbound.extend(unknown.iter().map(|u| QueueRecipient {
                original: if u.is_empty() {
                    target.clone()
                } else {
                    u.clone()
                },
                ..QueueRecipient::new(target)
            }));
        }
        UnknownTarget::BadQueue => {
            let to: Vec<QueueRecipient> = unknown
                .iter()
                .map(|u| {
                    if u.is_empty() {
                        QueueRecipient::new(&format!("postmaster@{domain}"))
                    } else {
                        QueueRecipient::new(u)
                    }
                })
                .collect();
            let why = if nobody {
                "DomainPOP: no local recipient in the headers".to_string()
            } else {
                "DomainPOP: no such local recipient".to_string()
            };
            let bad_id = if inbound.is_empty() {
                base.id
            } else {
                store.next_queue_id()?
            };
            records.push(to_bad(
                QueueRecord {
                    id: bad_id,
                    ..base.clone()
                },
                to,
                why,
            ));
        }
    }
    if !inbound.is_empty() {
        records.insert(
            0,
            QueueRecord {
                recipients: inbound,
                ..base
            },
        );
    }
    let dedup = dp
        .dedup_window
        .zip(recipients::message_id(raw))
        .map(|(window, message_id)| Dedup { message_id, window });
    Ok((records, dedup))
}

/// The fetched message with our trace: a Received header (RFC 5321 §4.4) and the loop stamp.
pub fn stamped(
    raw: &[u8],
    hostname: &str,
    source: &FetchSource,
    protocol: &str,
    id: u64,
    now: i64,
) -> Vec<u8> {
    let date = crate::protocols::smtp::rfc5322_date(now);
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control() && !"()<>;".contains(*c))
            .collect()
    };
    let host = clean(&source.host);
    let header = match &source.owner {
        SourceOwner::Account(a) => format!(
            "Received: from {host} by {hostname} (Ferrymail) with {protocol} id {id:016X}\r\n\tfor <{}>; {date}\r\n",
            clean(a)
        ),
        SourceOwner::Domain(_) => format!(
            "Received: from {host} by {hostname} (Ferrymail) with {protocol} id {id:016X};\r\n\t{date}\r\n"
        ),
    };
    let mut out = Vec::with_capacity(header.len() + raw.len() + 64);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(format!("{STAMP_HEADER}: {hostname}\r\n").as_bytes());
    out.extend_from_slice(raw);
    out
}

/// The Return-Path of the fetched message, as the envelope sender ("" if none).
pub fn return_path(raw: &[u8]) -> String {
    recipients::headers(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Return-Path"))
        .and_then(|(_, v)| recipients::addresses(&v).into_iter().next())
        .unwrap_or_default()
}

/// DomainPOP's "extra copy": the message as fetched, in `data_dir/<folder>/`, named by
/// source and mark (a message fetched again after a crash overwrites its own copy).
pub fn write_raw_copy(
    store: &Store,
    folder: &str,
    source: SourceId,
    mark: &str,
    raw: &[u8],
) -> std::io::Result<()> {
    let dir = store.root().join(folder);
    std::fs::create_dir_all(&dir)?;
    let name: String = mark
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = dir.join(format!("{source}-{name}.eml"));
    let tmp = dir.join(format!(".{source}-{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(raw)?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(&dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{BlobId, FetchProtocol, TlsMode};

    fn base(store: &Store) -> QueueRecord {
        let id = store.next_queue_id().unwrap();
        QueueRecord::inbound(
            id,
            BlobId::of(b"x"),
            1,
            String::new(),
            Vec::new(),
            "t".into(),
            0,
        )
    }

    fn options(unknown: UnknownTarget) -> DomainPop {
        DomainPop {
            headers: recipients::DEFAULT_HEADERS
                .iter()
                .map(|h| h.to_string())
                .collect(),
            unknown,
            dedup_window: Some(60),
            raw_copy: None,
        }
    }

    fn to(records: &[QueueRecord]) -> Vec<(QueueName, Vec<(String, String)>)> {
        records
            .iter()
            .map(|r| {
                let who = r
                    .recipients
                    .iter()
                    .map(|x| (x.address.clone(), x.original.clone()));
                (r.queue, who.collect())
            })
            .collect()
    }

    #[test]
    fn domainpop_records_for_known_unknown_and_nobody() {
        let (_dir, store) = crate::storage::testutil_store_with_bob();
        let raw = b"To: bob@example.com, nobody@example.com\r\nMessage-ID: <m@x>\r\n\r\nhi\r\n";
        let pm = UnknownTarget::Account("postmaster@example.com".into());
        let (recs, dedup) = domainpop_records(
            &store,
            "example.com",
            &options(pm.clone()),
            raw,
            base(&store),
        )
        .unwrap();
        let s = |a: &str| a.to_string();
        assert_eq!(
            to(&recs),
            vec![(
                QueueName::Inbound,
                vec![
                    (s("bob@example.com"), s("bob@example.com")),
                    (s("postmaster@example.com"), s("nobody@example.com")),
                ]
            )]
        );
        assert_eq!(
            dedup.map(|d| (d.message_id, d.window)),
            Some((s("<m@x>"), 60))
        );

        // To the bad queue: a second record with its own id.
        let b = base(&store);
        let (recs, _) = domainpop_records(
            &store,
            "example.com",
            &options(UnknownTarget::BadQueue),
            raw,
            b.clone(),
        )
        .unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].id, b.id);
        assert_ne!(recs[1].id, b.id);
        assert_eq!(
            to(&recs)[1],
            (
                QueueName::Bad,
                vec![(s("nobody@example.com"), s("nobody@example.com"))]
            )
        );

        // No local address at all, no Message-ID: the whole message to the target, no dedup.
        let raw = b"To: a@elsewhere.net\r\n\r\nhi\r\n";
        let (recs, dedup) =
            domainpop_records(&store, "example.com", &options(pm), raw, base(&store)).unwrap();
        assert_eq!(
            to(&recs),
            vec![(
                QueueName::Inbound,
                vec![(s("postmaster@example.com"), s("postmaster@example.com"))]
            )]
        );
        assert!(dedup.is_none());
        let (recs, _) = domainpop_records(
            &store,
            "example.com",
            &options(UnknownTarget::BadQueue),
            raw,
            base(&store),
        )
        .unwrap();
        assert_eq!(recs[0].queue, QueueName::Bad);
        assert_eq!(
            recs[0].last_error.as_deref(),
            Some("DomainPOP: no local recipient in the headers")
        );
    }

    #[test]
    fn stamp_return_path_and_raw_copy() {
        let (dir, store) = crate::storage::testutil_store_with_bob();
        let source = FetchSource {
            id: 3,
            owner: SourceOwner::Account("bob@example.com".into()),
            protocol: FetchProtocol::Pop3,
            host: "pop.example.net".into(),
            port: 995,
            tls: TlsMode::Implicit,
            verify_cert: true,
            user: "bob".into(),
            password: Vec::new(),
            leave_on_server: true,
            interval: 60,
            domainpop: None,
        };
        let out = stamped(
            b"Subject: x\r\n\r\nbody\r\n",
            "mx.example.com",
            &source,
            "POP3",
            0xAB,
            0,
        );
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("Received: from pop.example.net by mx.example.com (Ferrymail) with POP3 id 00000000000000AB\r\n\tfor <bob@example.com>; "), "{text}");
        assert!(
            text.ends_with("X-Ferrymail-Fetched: mx.example.com\r\nSubject: x\r\n\r\nbody\r\n"),
            "{text}"
        );
        assert!(recipients::has_stamp(text.as_bytes(), "mx.example.com"));

        assert_eq!(
            return_path(b"Return-Path: <a@b.example>\r\nTo: x@y\r\n\r\n"),
            "a@b.example"
        );
        assert_eq!(return_path(b"Return-Path: <>\r\n\r\n"), "");

        write_raw_copy(&store, "raw/in", 3, "1700:42", b"raw bytes").unwrap();
        write_raw_copy(&store, "raw/in", 3, "1700:42", b"raw bytes again").unwrap();
        let files: Vec<_> = std::fs::read_dir(dir.path().join("raw/in"))
            .unwrap()
            .collect();
        assert_eq!(files.len(), 1, "a refetch overwrites its own copy");
        let copy = std::fs::read(dir.path().join("raw/in/3-1700_42.eml")).unwrap();
        assert_eq!(copy, b"raw bytes again");
    }
}
