//! The six queues: each paged and filterable, one record's envelope, headers and delivery
//! attempts, and retry, bounce, move and delete for one record or the ticked ones. Changes
//! go to the queue actors through the live executor, one command per record, as the
//! console sends them; a record a worker holds answers "busy" and is left alone. A change
//! of one record answers at once; more than one ticked, or every record matching the
//! filter, runs as a job ([`super::bulk`]) and the form lands on the job's page.

use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{gate, redirect_with, render, run, Chrome, Ctx, Need, Pager, PAGE_SIZE};
use crate::admin::{AdminCommand, QUEUE_NAMES};
use crate::http::auth::Principal;
use crate::http::queue_access::{self, Access};
use crate::storage::{PageStart, QueueName, QueueRecord, QueueView};

#[derive(serde::Deserialize)]
pub struct QueueQuery {
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<usize>,
    /// Keyset paging: the records after this id (hex), as the Next link gives it.
    #[serde(default)]
    after: Option<String>,
}

fn age(now: i64, t: i64) -> String {
    let s = (now - t).max(0);
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} d", s / 86_400),
    }
}

struct QueueTab {
    name: &'static str,
    depth: usize,
}

struct Row {
    /// As the console shows it (16 hex digits).
    id: String,
    from: String,
    to: String,
    size: u64,
    age: String,
    attempts: u32,
    due: String,
    error: String,
}

#[derive(Template)]
#[template(path = "queues.html")]
struct QueuesPage {
    chrome: Chrome,
    tabs: Vec<QueueTab>,
    queue: String,
    q: String,
    rows: Vec<Row>,
    pager: Pager,
    /// The query the pager's links keep.
    pager_extra: String,
    /// The `after` this page was asked with ("" for a numbered page).
    after: String,
    /// The Next link's `after` (the last shown id; "" on the last page).
    next: String,
    queue_names: Vec<&'static str>,
    back: String,
}

/// `GET /queues?queue=NAME&q=TEXT&page=N`.
pub async fn list(ctx: Ctx, req: HttpRequest, query: web::Query<QueueQuery>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let queue: QueueName = query
        .queue
        .as_deref()
        .and_then(|q| q.parse().ok())
        .unwrap_or(QueueName::Deferred);
    let filter = query.q.clone().unwrap_or_default().trim().to_lowercase();
    // Depths come from the store's counters; domain admins see only their count.
    let tabs = QueueName::ALL
        .iter()
        .map(|q| QueueTab {
            name: q.as_str(),
            depth: if who.is_admin() {
                ctx.store.queue_depth(*q).unwrap_or(0)
            } else if *q == queue {
                usize::MAX
            } else {
                0
            },
        })
        .collect::<Vec<_>>();
    let after = match query.after.as_deref().filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => match parse_id(a) {
            Ok(id) => Some(id),
            Err(e) => return redirect_with(&req, "/queues", Err(e)),
        },
    };
    let (page, pager, visible_count, next) =
        match read_page(&ctx, &who, queue, &filter, query.page.unwrap_or(1), after).await {
            Ok(x) => x,
            Err(e) => return redirect_with(&req, "/", Err(e)),
        };
    let now = ctx.clock.now();
    let rows = page
        .into_iter()
        .filter_map(|r| queue_access::redacted(&who, r))
        .map(|(r, hidden)| Row {
            id: shown_id(r.id),
            from: if r.mail_from.is_empty() {
                "<>".into()
            } else {
                r.mail_from.clone()
            },
            to: {
                let mut to = r
                    .recipients
                    .iter()
                    .map(|x| x.address.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                if hidden > 0 {
                    to.push_str(&format!(" (and {hidden} in other domains)"));
                }
                to
            },
            size: r.size,
            age: age(now, r.received_at),
            attempts: r.attempts,
            due: r.due.map(crate::clock::iso8601).unwrap_or_default(),
            error: r.last_error.clone().unwrap_or_default(),
        })
        .collect();
    let tabs = tabs
        .into_iter()
        .map(|mut t| {
            if t.depth == usize::MAX {
                t.depth = visible_count;
            }
            t
        })
        .collect();
    let mut back = format!("/queues?queue={}", queue.as_str());
    if !filter.is_empty() {
        back.push_str("&q=");
        back.extend(form_urlencoded::byte_serialize(filter.as_bytes()));
    }
    let t = QueuesPage {
        chrome: Chrome::new(&req, &who, "/queues"),
        tabs,
        queue: queue.as_str().to_string(),
        q: filter.clone(),
        rows,
        pager,
        pager_extra: super::query_tail(&[("queue", queue.as_str()), ("q", &filter)]),
        after: after.map(shown_id).unwrap_or_default(),
        next: next.map(shown_id).unwrap_or_default(),
        queue_names: QUEUE_NAMES.to_vec(),
        back,
    };
    render(&req, &t.chrome, &t)
}

struct Recipient {
    address: String,
    state: String,
}

/// One line of the delivery history.
struct AttemptRow {
    at: String,
    attempt: u32,
    recipient: String,
    host: String,
    status: String,
    text: String,
    outcome: &'static str,
}

#[derive(Template)]
#[template(path = "queue_record.html")]
struct RecordPage {
    chrome: Chrome,
    id: String,
    queue: String,
    from: String,
    recipients: Vec<Recipient>,
    /// Recipients in other domains, not shown.
    hidden_recipients: usize,
    size: u64,
    received: String,
    origin: String,
    auth_as: String,
    attempts: u32,
    due: String,
    error: String,
    /// Shown only when every recipient is the caller's.
    headers: Option<String>,
    history: Vec<AttemptRow>,
    /// Whether the caller may change it (every recipient is its own).
    changeable: bool,
    queue_names: Vec<&'static str>,
    back: String,
}

/// A queue id as the console shows and reads it: 16 hex digits.
pub(super) fn shown_id(id: u64) -> String {
    format!("{id:016x}")
}

/// A queue id typed or linked as the console shows it (hex, at most 16 digits).
pub(super) fn parse_id(s: &str) -> Result<u64, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > 16 {
        return Err(format!("bad message id {s:?}"));
    }
    u64::from_str_radix(s, 16).map_err(|_| format!("bad message id {s:?}"))
}

/// One page of `queue` as `who` may see it, filtered, from page `page` or (keyset) after
/// the id `after`; with the number of records shown over all pages and the id the Next
/// link starts after (none on the last page). An admin without a filter sees every record:
/// the depth counter is the total and only the page is read. A domain admin reads only its
/// domains' records (`storage::queue_index`); a filter is tested on each candidate's head,
/// and only the page is decoded whole.
async fn read_page(
    ctx: &Ctx,
    who: &Principal,
    queue: QueueName,
    filter: &str,
    page: usize,
    after: Option<u64>,
) -> Result<(Vec<QueueRecord>, Pager, usize, Option<u64>), String> {
    let sctx = ctx.get_ref().clone();
    // One more than a page says whether there is a next one.
    let (total, mut records, page) = if who.is_admin() && filter.is_empty() {
        let total = ctx.store.queue_depth(queue).map_err(|e| e.to_string())?;
        let pages = total.div_ceil(PAGE_SIZE).max(1);
        let page = page.clamp(1, pages);
        let records = web::block(move || match after {
            Some(after) => sctx.store.queue_page_after(queue, after, PAGE_SIZE + 1),
            None => sctx
                .store
                .queue_page(queue, (page - 1) * PAGE_SIZE, PAGE_SIZE + 1),
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        (total, records, page)
    } else {
        // The page number is clamped like `Pager::cut` does, which needs the total: a
        // page past the end is read again as the last one.
        let (who, filter) = (who.clone(), filter.to_string());
        let select = move |page: usize| {
            let keep =
                |h: &crate::storage::QueueHead<'_>| queue_access::shown_in_list(&who, &filter, h);
            let view = QueueView {
                keep: &keep,
                domains: queue_access::view_domains(&who),
                text: (!filter.is_empty()).then_some(filter.as_str()),
            };
            let start = |page: usize| match after {
                Some(after) => PageStart::After(after),
                None => PageStart::Offset((page - 1) * PAGE_SIZE),
            };
            let (total, records) =
                sctx.store
                    .queue_view(queue, &view, start(page), PAGE_SIZE + 1)?;
            let pages = total.div_ceil(PAGE_SIZE).max(1);
            if page <= pages || after.is_some() {
                return Ok((total, records, page));
            }
            let (total, records) =
                sctx.store
                    .queue_view(queue, &view, start(pages), PAGE_SIZE + 1)?;
            Ok::<_, crate::storage::StorageError>((total, records, pages))
        };
        let page = page.max(1);
        web::block(move || select(page))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?
    };
    let next = if records.len() > PAGE_SIZE {
        records.truncate(PAGE_SIZE);
        records.last().map(|r| r.id)
    } else {
        None
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    Ok((records, Pager { page, pages, total }, total, next))
}

/// The most of a message's header shown.
const HEADER_MAX: usize = 64 * 1024;

/// `GET /queues/record/{id}`.
pub async fn record(ctx: Ctx, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(e) => return redirect_with(&req, "/queues", Err(e)),
    };
    let sctx = ctx.get_ref().clone();
    let found = web::block(move || {
        let rec = sctx.store.queue_find(id).map_err(|e| e.to_string())?;
        let head = match &rec {
            Some(r) => sctx
                .store
                .blobs()
                .get(&r.blob)
                .map(|body| header_part(&body))
                .unwrap_or_else(|e| format!("(the message body cannot be read: {e})")),
            None => String::new(),
        };
        Ok::<_, String>(rec.map(|r| (r, head)))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    let (rec, headers, access) = match found {
        Ok(Some((r, h))) if queue_access::access(&who, &r) != Access::Hidden => {
            let access = queue_access::access(&who, &r);
            (r, h, access)
        }
        Ok(_) => {
            return redirect_with(
                &req,
                "/queues",
                Err(format!("no queued message {}", shown_id(id))),
            );
        }
        Err(e) => return redirect_with(&req, "/queues", Err(e)),
    };
    let Some((rec, hidden_recipients)) = queue_access::redacted(&who, rec) else {
        return redirect_with(
            &req,
            "/queues",
            Err(format!("no queued message {}", shown_id(id))),
        );
    };
    let t = RecordPage {
        chrome: Chrome::new(&req, &who, "/queues"),
        id: shown_id(id),
        hidden_recipients,
        changeable: access == Access::Full,
        history: rec
            .history
            .iter()
            .map(|a| AttemptRow {
                at: crate::clock::iso8601(a.at),
                attempt: a.attempt,
                recipient: a.recipient.clone(),
                host: a.host.clone().unwrap_or_default(),
                status: a.status.clone(),
                text: a.text.clone(),
                outcome: a.outcome.as_str(),
            })
            .collect(),
        queue: rec.queue.as_str().to_string(),
        from: if rec.mail_from.is_empty() {
            "<>".into()
        } else {
            rec.mail_from.clone()
        },
        recipients: rec
            .recipients
            .iter()
            .map(|r| Recipient {
                address: r.address.clone(),
                state: if r.delivered {
                    "delivered".into()
                } else {
                    r.last_error.clone().unwrap_or_else(|| "pending".into())
                },
            })
            .collect(),
        size: rec.size,
        received: crate::clock::iso8601(rec.received_at),
        origin: rec.origin.clone(),
        auth_as: rec.auth_as.clone().unwrap_or_default(),
        attempts: rec.attempts,
        due: rec.due.map(crate::clock::iso8601).unwrap_or_default(),
        error: rec.last_error.clone().unwrap_or_default(),
        // The header names every recipient (To, Cc): only for a record seen whole.
        headers: (access == Access::Full).then_some(headers),
        queue_names: QUEUE_NAMES.to_vec(),
        back: format!("/queues?queue={}", rec.queue.as_str()),
    };
    render(&req, &t.chrome, &t)
}

/// The header block of a message (up to the first empty line), at most [`HEADER_MAX`].
fn header_part(body: &[u8]) -> String {
    let end = body
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| body.windows(2).position(|w| w == b"\n\n"))
        .unwrap_or(body.len())
        .min(HEADER_MAX);
    String::from_utf8_lossy(&body[..end]).into_owned()
}

/// One ticked record's change, at once (`bulk::action` runs more as a job).
pub(super) async fn apply(ctx: &Ctx, who: &Principal, f: &Form) -> Result<String, String> {
    let ids: Vec<u64> = f
        .all("id")
        .into_iter()
        .map(parse_id)
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err("no message ticked".into());
    }
    let action = f.get("action");
    let to = f.get("to").to_string();
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for id in ids {
        // A domain admin acts only on records whose recipients are all its own.
        let rec = ctx.store.queue_find(id).map_err(|e| e.to_string())?;
        let allowed = match &rec {
            Some(r) => queue_access::may_change(who, r),
            None => Err("no such queued message".into()),
        };
        if let Err(e) = allowed {
            failed.push(format!("{}: {e}", shown_id(id)));
            continue;
        }
        let cmd = match action {
            "retry" => AdminCommand::QueueRetry(id),
            "bounce" => AdminCommand::QueueBounce(id),
            "delete" => AdminCommand::QueueDelete(id),
            "move" => AdminCommand::QueueMove { id, to: to.clone() },
            other => return Err(format!("unknown action {other:?}")),
        };
        match run(ctx, cmd).await {
            Ok(out) => done.push(out),
            Err(e) => failed.push(format!("{}: {e}", shown_id(id))),
        }
    }
    let mut text = done.join("; ");
    if failed.is_empty() {
        Ok(text)
    } else {
        if !text.is_empty() {
            text.push_str("; ");
        }
        text.push_str(&failed.join("; "));
        Err(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_part_stops_at_the_blank_line() {
        assert_eq!(header_part(b"A: 1\r\nB: 2\r\n\r\nbody"), "A: 1\r\nB: 2");
        assert_eq!(header_part(b"A: 1\n\nbody"), "A: 1");
        assert_eq!(header_part(b"A: 1"), "A: 1");
    }

    #[test]
    fn ids_as_the_console_writes_them() {
        assert_eq!(shown_id(16), "0000000000000010");
        assert_eq!(parse_id("0000000000000010"), Ok(16));
        assert_eq!(parse_id("10"), Ok(16));
        assert!(parse_id("").is_err());
        assert!(parse_id("xyz").is_err());
        assert!(parse_id("00000000000000001").is_err());
    }
}
