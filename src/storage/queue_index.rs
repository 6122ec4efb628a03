//! The queues' domain index and the paged views built on it ([`QueueIndex`], both
//! backends).
//!
//! Every queue record is indexed under the domains that may see it: the domain of each
//! recipient's address, of the address the client gave before an alias expanded it, and of
//! the account that submitted it (`auth_as`), lowercase ([`index_domains`]). The entries are
//! written in the same transaction as the record (sled: the `v1/queue_domains` tree keyed
//! queue/domain/id; PostgreSQL: the `domains` array column of the record's own row, with a
//! GIN index), so a domain admin's view of a queue of 100,000 records reads only the records
//! of its domains instead of testing every record's head.
//!
//! The index only narrows the candidates: every candidate still goes through the caller's
//! test ([`QueueView::keep`]), which stays the rule (`http::queue_access`). A record the
//! index misses would be missing from a domain admin's view, so `storage check` reports an
//! entry without a record and a record without its entries, and an index that was never
//! built (a data directory of an older build) is built when the store opens.

use std::collections::BTreeSet;

use super::queue::{QueueId, QueueName, QueueRecord};
use super::queue_codec::{decode_head, decode_record, Keep, QueueHead};
use super::StorageError;

/// Where a page starts: after skipping `offset` kept records, or at the first kept record
/// whose id is above `after` (keyset paging: nothing before it is stepped over in the
/// backends' id order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageStart {
    Offset(usize),
    After(QueueId),
}

/// What a view of a queue keeps.
#[derive(Clone, Copy)]
pub struct QueueView<'a> {
    /// The test on each candidate's head (the final word).
    pub keep: Keep<'a>,
    /// Only the records indexed under one of these domains (a domain admin's); `None`:
    /// every record of the queue is a candidate.
    pub domains: Option<&'a [String]>,
    /// A lowercase text every kept record holds (the list filter), as a hint: a record
    /// whose stored bytes do not hold it (ASCII case-insensitively) and whose id does not
    /// end with it is skipped without decoding its head. `None`: no hint.
    pub text: Option<&'a str>,
}

impl<'a> QueueView<'a> {
    /// Every record `keep` accepts.
    pub fn all(keep: Keep<'a>) -> QueueView<'a> {
        QueueView {
            keep,
            domains: None,
            text: None,
        }
    }
}

/// [`QueueView::text`] made ready for a scan: one ASCII case-insensitive automaton for the
/// text and the two non-ASCII letters whose lowercase is ASCII (KELVIN SIGN, "k"; LATIN
/// CAPITAL LETTER I WITH DOT ABOVE, "i" + U+0307): a record holding one of those is tested
/// the slow way. No hint for an empty or non-ASCII text.
struct Hint {
    text: String,
    finder: Option<aho_corasick::AhoCorasick>,
}

impl Hint {
    fn new(text: Option<&str>) -> Hint {
        let text = text
            .filter(|t| !t.is_empty() && t.is_ascii())
            .unwrap_or_default();
        let finder = (!text.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build([text, "\u{212A}", "\u{0130}"])
                    .ok()
            })
            .flatten();
        Hint {
            text: text.to_string(),
            finder,
        }
    }

    /// Whether the record `id` stored as `bytes` may hold the text.
    fn may_hold(&self, id: QueueId, bytes: &[u8]) -> bool {
        let Some(finder) = &self.finder else {
            return true;
        };
        // The id's end (as the lists show it, lowercase hex): only a hex text can match.
        let text = self.text.as_str();
        if text.len() <= 16
            && text.bytes().all(|b| b.is_ascii_hexdigit())
            && format!("{id:016x}").ends_with(&text.to_ascii_lowercase())
        {
            return true;
        }
        finder.is_match(bytes)
    }
}

/// Reads of the queues through the domain index, and keyset pages.
pub trait QueueIndex: Send + Sync {
    /// At most `limit` records of `queue` whose id is above `after`, in id order: a page
    /// that never steps over the records before it.
    fn queue_page_after(
        &self,
        queue: QueueName,
        after: QueueId,
        limit: usize,
    ) -> Result<Vec<QueueRecord>, StorageError>;

    /// The records of `queue` that `view` keeps, in id order: how many there are, and at
    /// most `limit` of them from `start` on, decoded whole. With `view.domains` only the
    /// records indexed under those domains are read.
    fn queue_view(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        start: PageStart,
        limit: usize,
    ) -> Result<(usize, Vec<QueueRecord>), StorageError>;

    /// The ids of the records of `queue` that `view` keeps, in id order, at most `max`
    /// (no record decoded whole: the dashboard's bulk jobs).
    fn queue_view_ids(
        &self,
        queue: QueueName,
        view: &QueueView<'_>,
        max: usize,
    ) -> Result<Vec<QueueId>, StorageError>;

    /// What is wrong with the index, one line each: an entry naming no record, a record
    /// missing one of its entries (`storage check`).
    fn queue_index_problems(&self) -> Result<Vec<String>, StorageError>;
}

/// The domain part of `address`, lowercase; `None` without one.
fn domain_of(address: &str) -> Option<String> {
    address
        .rsplit_once('@')
        .map(|(_, d)| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
}

/// The domains a record is indexed under (sorted, each once): its recipients' (address and
/// original) and its submitter's.
pub fn index_domains(h: &QueueHead<'_>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for r in &h.recipients {
        out.extend(domain_of(r.address));
        out.extend(domain_of(r.original));
    }
    if let Some(a) = h.auth_as {
        out.extend(domain_of(a));
    }
    out
}

/// [`index_domains`] of a record in memory.
pub fn record_domains(rec: &QueueRecord) -> BTreeSet<String> {
    index_domains(&QueueHead::of(rec))
}

/// [`index_domains`] of a stored record; a record whose head cannot be read has none (only
/// a full admin sees it).
pub(crate) fn stored_domains(bytes: &[u8]) -> BTreeSet<String> {
    decode_head(bytes)
        .map(|h| index_domains(&h))
        .unwrap_or_default()
}

/// The domains of a view, lowercase, sorted, each once.
pub(crate) fn view_domains(domains: &[String]) -> Vec<String> {
    let set: BTreeSet<String> = domains.iter().map(|d| d.to_ascii_lowercase()).collect();
    set.into_iter().collect()
}

/// Whether the stored record `(id, bytes)` passes `view`'s hint and test.
fn kept(
    view: &QueueView<'_>,
    hint: &Hint,
    id: QueueId,
    bytes: &[u8],
) -> Result<bool, StorageError> {
    if !hint.may_hold(id, bytes) {
        return Ok(false);
    }
    Ok((view.keep)(&decode_head(bytes)?))
}

/// From candidate records `(id, stored bytes)` in id order: how many `view` keeps, and the
/// kept ones from `start` on, at most `limit`, decoded whole (in `queue`).
pub(crate) fn select_view<B: AsRef<[u8]>>(
    stored: impl Iterator<Item = Result<(QueueId, B), StorageError>>,
    queue: QueueName,
    view: &QueueView<'_>,
    start: PageStart,
    limit: usize,
) -> Result<(usize, Vec<QueueRecord>), StorageError> {
    let (mut total, mut page, hint) = (0usize, Vec::new(), Hint::new(view.text));
    for item in stored {
        let (id, bytes) = item?;
        let bytes = bytes.as_ref();
        if !kept(view, &hint, id, bytes)? {
            continue;
        }
        let in_page = match start {
            PageStart::Offset(offset) => total >= offset,
            PageStart::After(after) => id > after,
        };
        if in_page && page.len() < limit {
            let mut rec = decode_record(bytes)?;
            rec.queue = queue;
            page.push(rec);
        }
        total += 1;
    }
    Ok((total, page))
}

/// From candidate records `(id, stored bytes)` in id order: the ids `view` keeps, at most
/// `max`.
pub(crate) fn select_ids<B: AsRef<[u8]>>(
    stored: impl Iterator<Item = Result<(QueueId, B), StorageError>>,
    view: &QueueView<'_>,
    max: usize,
) -> Result<Vec<QueueId>, StorageError> {
    let (mut ids, hint) = (Vec::new(), Hint::new(view.text));
    for item in stored {
        if ids.len() >= max {
            break;
        }
        let (id, bytes) = item?;
        if kept(view, &hint, id, bytes.as_ref())? {
            ids.push(id);
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::queue_codec::encode_record;
    use crate::storage::{BlobId, QueueRecipient};

    fn rec(id: QueueId, to: &[&str], auth: Option<&str>) -> QueueRecord {
        let mut r = QueueRecord::inbound(
            id,
            BlobId::of(b"x"),
            1,
            "x@forged.example".into(),
            to.iter().map(|a| QueueRecipient::new(a)).collect(),
            "test".into(),
            0,
        );
        r.auth_as = auth.map(str::to_string);
        r
    }

    #[test]
    fn domains_are_the_recipients_and_the_submitters_not_the_sender() {
        let mut r = rec(1, &["a@Example.ORG", "b@other.test"], Some("u@Sub.test"));
        r.recipients[1].original = "info@alias.test".into();
        let d: Vec<String> = record_domains(&r).into_iter().collect();
        assert_eq!(d, ["alias.test", "example.org", "other.test", "sub.test"]);
        assert!(record_domains(&rec(2, &["nodomain"], None)).is_empty());
        assert_eq!(stored_domains(b"\x01"), BTreeSet::new());
    }

    #[test]
    fn views_page_by_offset_and_by_id_and_count_all_kept() {
        let stored: Vec<(QueueId, Vec<u8>)> = (1..=10u64)
            .map(|i| {
                let to = format!("u{i}@{}.test", if i % 2 == 0 { "even" } else { "odd" });
                (i, encode_record(&rec(i, &[&to], None)).unwrap())
            })
            .collect();
        let keep = |h: &QueueHead<'_>| h.recipients[0].address.ends_with("@even.test");
        let view = QueueView::all(&keep);
        let run = |start, limit| {
            let (total, page) = select_view(
                stored.iter().map(|(i, b)| Ok((*i, b))),
                QueueName::Deferred,
                &view,
                start,
                limit,
            )
            .unwrap();
            (total, page.iter().map(|r| r.id).collect::<Vec<_>>())
        };
        assert_eq!(run(PageStart::Offset(1), 2), (5, vec![4, 6]));
        assert_eq!(run(PageStart::After(4), 2), (5, vec![6, 8]));
        assert_eq!(run(PageStart::After(10), 2), (5, vec![]));
        let ids = select_ids(stored.iter().map(|(i, b)| Ok((*i, b))), &view, 3).unwrap();
        assert_eq!(ids, vec![2, 4, 6]);
    }

    /// The text hint skips only records that cannot hold the text: ASCII case folding,
    /// the id's end, and the two non-ASCII letters whose lowercase is ASCII.
    #[test]
    fn the_text_hint_never_hides_a_match() {
        let bytes = encode_record(&rec(0xab, &["Bob@Example.ORG"], None)).unwrap();
        let may = |text: &str, id, bytes: &[u8]| Hint::new(Some(text)).may_hold(id, bytes);
        assert!(may("bob@example", 0xab, &bytes));
        assert!(may("00ab", 0xab, &bytes));
        assert!(may("00AB", 0xab, &bytes));
        assert!(!may("carol", 0xab, &bytes));
        assert!(may("café", 0xab, &bytes), "non-ASCII: no hint");
        assert!(Hint::new(None).may_hold(1, b""));
        let kelvin = encode_record(&rec(1, &["\u{212A}elvin@example.org"], None)).unwrap();
        assert!("\u{212A}elvin".to_lowercase().contains("kelvin"));
        assert!(may("kelvin", 1, &kelvin));
        let dotted = encode_record(&rec(1, &["\u{0130}nfo@example.org"], None)).unwrap();
        assert!(may("info", 1, &dotted));
    }
}
