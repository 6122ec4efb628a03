//! The message list's query: sort, search and conversations (`GET /mail/{folder}?…`).
//!
//! - `sort=date|arrival|from|subject|size` and `order=asc|desc`: IMAP SORT (RFC 5256 §3)
//!   through `protocols::imap::sort::sort`: "date" is the `Date:` header, else the
//!   arrival date (INTERNALDATE); "subject" the base subject (§2.1); "from" the first
//!   mailbox's local part. Without `sort`, newest arrival first, as before.
//! - `from`, `to`, `cc`, `subject`, `body`, `since`, `before` (`YYYY-MM-DD`): one IMAP
//!   SEARCH (RFC 9051 §6.4.4) with the keys ANDed, evaluated by the IMAP code
//!   (`protocols::imap::query`): FROM/TO/CC/SUBJECT/BODY substring matches on decoded
//!   text, SINCE/BEFORE on the arrival date (the date the list shows).
//! - `view=threads`: THREAD=REFERENCES (RFC 5256 §4, `protocols::imap::thread`) over the
//!   matching messages, one line per conversation, newest (by its latest arrival) first;
//!   `thread=UID` lists the conversation holding that message, in thread order.
//!
//! Implementation notes:
//! - Only what the request needs is read: sorting by arrival or size without a content
//!   search uses the folder index alone; other sorts and threads read every matching
//!   message's header (through the header cache); BODY reads the bodies. The shown page
//!   has its header read again for display (decoded From and Subject).
//! - Every list link (pager, column headers, conversations) carries the other parameters,
//!   so paging keeps the sort and the search.

use crate::http::dashboard::{query_tail, Pager};
use crate::protocols::date::{civil_from_days, days_from_civil};
use crate::protocols::imap::backend::{Backend, FolderInfo, FolderRef, MessageMeta};
use crate::protocols::imap::query::FolderQuery;
use crate::protocols::imap::sort::{sort, SortInput};
use crate::protocols::imap::thread::{thread_references, Thread};
use crate::protocols::imap::types::{Date, SearchKey, SortCriterion, SortKey};
use actix_web::web;

use super::rows::Row;
use super::MailError;

/// The query string as it comes.
#[derive(serde::Deserialize, Default, Clone)]
pub struct ListQuery {
    pub page: Option<usize>,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub order: String,
    #[serde(default)]
    pub view: String,
    pub thread: Option<u32>,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub cc: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub before: String,
}

/// The sort keys the list offers, by their query name.
const SORTS: [(&str, SortKey); 5] = [
    ("date", SortKey::Date),
    ("arrival", SortKey::Arrival),
    ("from", SortKey::From),
    ("subject", SortKey::Subject),
    ("size", SortKey::Size),
];

/// A checked query.
pub struct Parsed {
    /// The sort key's query name ("" for the default, newest arrival first).
    pub sort: &'static str,
    pub key: SortKey,
    pub reverse: bool,
    pub threads: bool,
    pub thread: Option<u32>,
    pub keys: Vec<SearchKey>,
}

/// Checks `q`; the error is the message the user sees.
pub fn parse(q: &ListQuery) -> Result<Parsed, String> {
    let (sort, key) = match q.sort.as_str() {
        "" => ("", SortKey::Arrival),
        s => SORTS
            .iter()
            .find(|(n, _)| *n == s)
            .copied()
            .ok_or_else(|| {
                format!("cannot sort by \"{s}\": use date, arrival, from, subject or size")
            })?,
    };
    let reverse = match q.order.as_str() {
        // Newest first unless asked otherwise; text keys A to Z.
        "" => sort.is_empty() || default_desc(key),
        "asc" => false,
        "desc" => true,
        o => return Err(format!("order \"{o}\" is neither asc nor desc")),
    };
    let threads = match q.view.as_str() {
        "" | "list" => q.thread.is_some(),
        "threads" => true,
        v => return Err(format!("view \"{v}\" is neither list nor threads")),
    };
    let mut keys = Vec::new();
    for (value, make) in [
        (&q.from, SearchKey::From as fn(String) -> SearchKey),
        (&q.to, SearchKey::To),
        (&q.cc, SearchKey::Cc),
        (&q.subject, SearchKey::Subject),
        (&q.body, SearchKey::Body),
    ] {
        let v = value.trim();
        if !v.is_empty() {
            keys.push(make(v.to_string()));
        }
    }
    if !q.since.trim().is_empty() {
        keys.push(SearchKey::Since(date(&q.since, "since")?));
    }
    if !q.before.trim().is_empty() {
        keys.push(SearchKey::Before(date(&q.before, "before")?));
    }
    Ok(Parsed {
        sort,
        key,
        reverse,
        threads,
        thread: q.thread,
        keys,
    })
}

/// Keys whose natural first look is the largest (dates, sizes).
fn default_desc(key: SortKey) -> bool {
    matches!(key, SortKey::Date | SortKey::Arrival | SortKey::Size)
}

/// `YYYY-MM-DD` (what `<input type="date">` sends), a real calendar day.
fn date(s: &str, field: &str) -> Result<Date, String> {
    let bad = || format!("\"{}\" in {field} is not a date: use YYYY-MM-DD", s.trim());
    let mut parts = s.trim().splitn(3, '-');
    let mut num = || -> Option<u32> {
        let p = parts.next()?;
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    let (y, m, d) = match (num(), num(), num()) {
        (Some(y), Some(m), Some(d)) => (y, m, d),
        _ => return Err(bad()),
    };
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || d == 0 {
        return Err(bad());
    }
    // A day past the month's end comes back as another date.
    if civil_from_days(days_from_civil(i64::from(y), m, d)) != (i64::from(y), m, d) {
        return Err(bad());
    }
    Ok(Date {
        year: y as u16,
        month: m as u8,
        day: d as u8,
    })
}

/// One line of the conversation view.
pub struct Conversation {
    /// Its latest message.
    pub latest: Row,
    pub count: usize,
}

/// A sortable column header.
pub struct Column {
    pub label: &'static str,
    pub href: String,
    /// `aria-sort` of the column the list is sorted by.
    pub aria: Option<&'static str>,
}

/// The search form's values, shown again.
#[derive(Default)]
pub struct Form {
    pub from: String,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub body: String,
    pub since: String,
    pub before: String,
    pub sort: String,
    pub order: String,
}

/// What the list template shows besides the rows.
#[derive(Default)]
pub struct ListView {
    pub form: Form,
    pub columns: Vec<Column>,
    pub conversations: Vec<Conversation>,
    pub threads: bool,
    /// The conversation opened (`thread=`), by one of its UIDs.
    pub thread: Option<u32>,
    pub searching: bool,
    /// The plain list (newest first, no search, no conversations): the live updates
    /// (`live.rs`, `mail-live.js`) add new mail at its top; elsewhere they only change
    /// and remove rows.
    pub live: bool,
    pub error: Option<String>,
    /// The table caption: how the list is ordered.
    pub caption: String,
    /// `?view=…` links keeping the search: to the list and to conversations.
    pub list_href: String,
    pub threads_href: String,
}

/// The query string of `q` without the page, for pager and column links.
fn tail(q: &ListQuery, sort: &str, order: &str, view: &str) -> String {
    query_tail(&[
        ("sort", sort),
        ("order", order),
        ("view", view),
        ("from", q.from.trim()),
        ("to", q.to.trim()),
        ("cc", q.cc.trim()),
        ("subject", q.subject.trim()),
        ("body", q.body.trim()),
        ("since", q.since.trim()),
        ("before", q.before.trim()),
    ])
}

/// The form and links for `q` (also for a query that did not parse: the form shows what
/// was typed).
pub fn view(folder: FolderRef, q: &ListQuery, p: Option<&Parsed>) -> ListView {
    let form = Form {
        from: q.from.clone(),
        to: q.to.clone(),
        cc: q.cc.clone(),
        subject: q.subject.clone(),
        body: q.body.clone(),
        since: q.since.clone(),
        before: q.before.clone(),
        sort: q.sort.clone(),
        order: q.order.clone(),
    };
    let (cur, reverse) = p.map_or(("", true), |p| (p.sort, p.reverse));
    // The Date column shows the arrival date, so the default order is its own.
    let cur = if cur.is_empty() { "arrival" } else { cur };
    let columns = [
        ("From", "from"),
        ("Subject", "subject"),
        ("Date", "arrival"),
        ("Size", "size"),
    ]
    .into_iter()
    .map(|(label, key)| {
        let active = key == cur;
        let natural_desc = matches!(key, "arrival" | "size");
        // A click on the sorted column turns the order round.
        let desc = if active { !reverse } else { natural_desc };
        let order = if desc { "desc" } else { "asc" };
        Column {
            label,
            href: format!("/mail/{folder}?page=1{}", tail(q, key, order, "")),
            aria: active.then_some(if reverse { "descending" } else { "ascending" }),
        }
    })
    .collect();
    let name = SORTS
        .iter()
        .find(|(n, _)| *n == cur)
        .map_or("arrival", |(n, _)| n);
    let threads = p.is_some_and(|p| p.threads);
    let caption = if threads {
        "conversations, newest first".to_string()
    } else {
        format!(
            "sorted by {name}, {}",
            if reverse { "descending" } else { "ascending" }
        )
    };
    ListView {
        form,
        columns,
        conversations: Vec::new(),
        threads,
        thread: p.and_then(|p| p.thread),
        searching: p.is_some_and(|p| !p.keys.is_empty()),
        live: p.is_some_and(|p| p.sort.is_empty() && p.keys.is_empty() && !p.threads),
        error: None,
        caption,
        list_href: format!("/mail/{folder}?page=1{}", tail(q, &q.sort, &q.order, "")),
        threads_href: format!("/mail/{folder}?page=1{}", tail(q, "", "", "threads")),
    }
}

/// The pager's `&…` tail for `q`.
pub fn pager_extra(q: &ListQuery) -> String {
    let mut t = tail(q, &q.sort, &q.order, &q.view);
    if let Some(u) = q.thread {
        t.push_str(&format!("&thread={u}"));
    }
    t
}

/// The list a form came from, as the `&…` tail of the list's URL: the form's `list`
/// field (the page's [`pager_extra`]) read again as a query, so the redirect after an
/// action keeps the sort and search and carries nothing else.
pub fn back_tail(raw: &str) -> String {
    web::Query::<ListQuery>::from_query(raw.trim_start_matches('&'))
        .map(|q| pager_extra(&q))
        .unwrap_or_default()
}

/// The rows (or conversations) of page `page` for the parsed query.
pub fn page(
    b: &dyn Backend,
    user: &str,
    info: FolderInfo,
    p: &Parsed,
    page: usize,
    prefs: &super::prefs::Prefs,
    view: &mut ListView,
) -> Result<(Vec<Row>, Pager), MailError> {
    let folder = info.id;
    let mut metas = b.messages(folder)?;
    metas.sort_by_key(|m| m.uid);
    let needs_headers = p.threads || !matches!(p.key, SortKey::Arrival | SortKey::Size);
    // The IMAP selection is built only when a search or the headers are needed.
    let query =
        (needs_headers || !p.keys.is_empty()).then(|| FolderQuery::new(user, info, metas.clone()));
    let uids: Vec<u32> = match (&query, p.keys.is_empty() || p.thread.is_some()) {
        // An opened conversation shows all its messages, matching or not.
        (Some(q), false) => q.search(&p.keys, b)?,
        _ => metas.iter().map(|m| m.uid).collect(),
    };
    let inputs: Vec<SortInput> = match (&query, needs_headers) {
        (Some(q), true) => q.sort_inputs(&uids, b)?,
        _ => uids
            .iter()
            .filter_map(|u| meta(&metas, *u))
            .map(|m| SortInput {
                seq_or_uid: m.uid,
                arrival: m.internal_date,
                size: m.size,
                ..SortInput::default()
            })
            .collect(),
    };
    if p.threads {
        let mut convs = conversations(&inputs);
        if let Some(uid) = p.thread {
            // One conversation: its messages in thread order.
            let members = convs
                .into_iter()
                .find(|c| c.contains(&uid))
                .ok_or(MailError::NotFound)?;
            let (shown, pager) = Pager::cut(members, page);
            return Ok((rows(b, folder, &metas, &shown, prefs)?, pager));
        }
        // Newest conversation first: by its latest arrival (then UID).
        let latest = |c: &Vec<u32>| {
            c.iter()
                .filter_map(|u| meta(&metas, *u))
                .map(|m| (m.internal_date, m.uid))
                .max()
                .unwrap_or((0, 0))
        };
        convs.sort_by_cached_key(|c| std::cmp::Reverse(latest(c)));
        let (shown, pager) = Pager::cut(convs, page);
        let heads: Vec<u32> = shown.iter().map(|c| latest(c).1).collect();
        let mut latest_rows: std::collections::HashMap<u32, Row> =
            rows(b, folder, &metas, &heads, prefs)?
                .into_iter()
                .map(|r| (r.uid, r))
                .collect();
        for (c, head) in shown.iter().zip(heads) {
            // A row is missing when its message was expunged meanwhile.
            if let Some(latest) = latest_rows.remove(&head) {
                view.conversations.push(Conversation {
                    latest,
                    count: c.len(),
                });
            }
        }
        return Ok((Vec::new(), pager));
    }
    let order = if p.sort.is_empty() {
        // The list's order before sorting existed: (arrival, UID) descending.
        let mut o: Vec<(i64, u32)> = inputs.iter().map(|i| (i.arrival, i.seq_or_uid)).collect();
        o.sort_unstable_by(|a, b| b.cmp(a));
        o.into_iter().map(|(_, u)| u).collect()
    } else {
        sort(
            &inputs,
            &[SortCriterion {
                reverse: p.reverse,
                key: p.key,
            }],
        )
    };
    let (shown, pager) = Pager::cut(order, page);
    Ok((rows(b, folder, &metas, &shown, prefs)?, pager))
}

/// The UIDs of each thread (preorder, dummies left out).
fn conversations(inputs: &[SortInput]) -> Vec<Vec<u32>> {
    fn walk(t: &Thread, out: &mut Vec<u32>) {
        // Iterative: a long reply chain must not exhaust the stack.
        let mut stack = vec![t];
        while let Some(n) = stack.pop() {
            out.extend(n.id);
            stack.extend(n.children.iter().rev());
        }
    }
    thread_references(inputs)
        .iter()
        .map(|t| {
            let mut ids = Vec::new();
            walk(t, &mut ids);
            ids
        })
        .filter(|ids| !ids.is_empty())
        .collect()
}

fn meta(metas: &[MessageMeta], uid: u32) -> Option<&MessageMeta> {
    metas
        .binary_search_by_key(&uid, |m| m.uid)
        .ok()
        .map(|i| &metas[i])
}

/// The list lines of `uids`, in that order: only their headers are read.
fn rows(
    b: &dyn Backend,
    folder: FolderRef,
    metas: &[MessageMeta],
    uids: &[u32],
    prefs: &super::prefs::Prefs,
) -> Result<Vec<Row>, MailError> {
    let parser = mail_parser::MessageParser::new();
    let mut rows = Vec::with_capacity(uids.len());
    for m in uids.iter().filter_map(|u| meta(metas, *u)) {
        // None: expunged since the index was read, not on this page any more.
        rows.extend(super::rows::row(b, folder, m, &parser, prefs)?);
    }
    Ok(rows)
}
