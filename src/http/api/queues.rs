//! The six queues: counts, paged records, one record, and the changes the console makes
//! (retry, bounce, move, delete), one or many. Changes go to the queue actors as typed
//! [`Change`]s, so a record being delivered answers 409 (busy) and nothing changes.
//!
//! A domain admin sees the records its users submitted (whole) and those one of whose
//! recipients is in its domains (only its own recipients of them), and changes only the
//! records it sees whole (`http::queue_access`, the rule the dashboard applies too); the
//! others are left out of lists and counts, and answer 404. Its lists read only its
//! domains' records (`storage::queue_index`).
//!
//! Lists page by `offset` or by `after` (keyset: the records whose id is above it); every
//! page but the last links the next one by `after`, so walking a queue of 100,000 records
//! page by page never steps over the records already seen.

use std::io::Read;

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    blocking, hidden, need_scope, queue_change, resource, Body, Ctx, Failures, Manager, Paging,
};
use crate::actors::queues::{Change, Done};
use crate::http::auth::{Principal, Scope};
use crate::http::error::ApiError;
use crate::http::queue_access::{self, head_access, Access};
use crate::storage::{PageStart, QueueHead, QueueName, QueueRecord, QueueView};
use utoipa::IntoParams;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    resource!(cfg, "/queues", GET => queues_counts);
    resource!(cfg, "/queues/{queue}", GET => queue_list);
    resource!(cfg, "/queues/{queue}/bulk", POST => queue_bulk);
    resource!(cfg, "/queues/{queue}/{id}", GET => queue_show, DELETE => queue_delete);
    resource!(cfg, "/queues/{queue}/{id}/retry", POST => queue_retry);
    resource!(cfg, "/queues/{queue}/{id}/bounce", POST => queue_bounce);
    resource!(cfg, "/queues/{queue}/{id}/move", POST => queue_move);
}

/// How much of a body is read to show its header.
const HEADER_READ_LIMIT: u64 = 64 * 1024;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueCount {
    /// inbound, local, remote, deferred, toarchive or bad.
    pub name: String,
    pub count: usize,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueCounts {
    pub items: Vec<QueueCount>,
}

/// A recipient of a queued message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RecipientInfo {
    pub address: String,
    /// As the client gave it.
    pub original: String,
    pub delivered: bool,
    pub last_error: Option<String>,
}

/// A queued message in a list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueItem {
    /// Hexadecimal, as the console shows it.
    pub id: String,
    pub queue: String,
    /// "" is the null sender.
    pub from: String,
    pub recipients: Vec<RecipientInfo>,
    pub size: u64,
    pub attempts: u32,
    /// Unix seconds of the next attempt, if one is planned.
    pub next_attempt: Option<i64>,
    /// Absent when the caller sees only some of the recipients.
    pub last_error: Option<String>,
    /// Unix seconds.
    pub received: i64,
    /// Recipients outside the caller's domains, left out of `recipients` (0 for a full
    /// admin).
    pub hidden_recipients: usize,
}

/// One recipient's result of one delivery attempt.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttemptInfo {
    /// Unix seconds.
    pub at: i64,
    /// The attempt's number (1 for the first).
    pub attempt: u32,
    pub recipient: String,
    /// The server that answered (MX or smarthost), when one did.
    pub host: Option<String>,
    /// RFC 3463 status, e.g. "4.2.0".
    pub status: String,
    /// The reply or the reason, in one line.
    pub text: String,
    /// delivered, deferred or failed.
    pub outcome: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueuePage {
    pub items: Vec<QueueItem>,
    pub total: usize,
    /// The offset asked for (0 with `after`).
    pub offset: usize,
    pub limit: usize,
    /// The `after` asked for, if any.
    pub after: Option<String>,
    /// The next page (`?after=<last id>&limit=…`), absent on the last one. Following it
    /// never steps over the records before it, however deep in the queue.
    pub next: Option<String>,
}

/// Paging of a queue: `offset` or `after` (keyset: the records whose id is above it,
/// hexadecimal as the lists show ids; not with `offset`), and `limit` (default 50, at most
/// 1000).
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueuePaging {
    #[param(minimum = 0, maximum = 9007199254740991_u64)]
    pub offset: Option<usize>,
    #[param(minimum = 0, maximum = 1000)]
    pub limit: Option<usize>,
    /// Start after this record id (hexadecimal, e.g. from `next`).
    #[param(pattern = "^[0-9A-Fa-f]{1,16}$")]
    pub after: Option<String>,
}

impl QueuePaging {
    /// Where the page starts and its limit; 422 for a bad `after`, or one beside `offset`.
    fn resolve(&self) -> Result<(PageStart, usize), ApiError> {
        let (offset, limit) = Paging {
            offset: self.offset,
            limit: self.limit,
        }
        .resolve()?;
        match &self.after {
            None => Ok((PageStart::Offset(offset), limit)),
            Some(_) if self.offset.is_some() => Err(ApiError::unprocessable(
                "give either offset or after, not both",
            )),
            Some(a) if !a.is_empty() && a.len() <= 16 => u64::from_str_radix(a, 16)
                .map(|id| (PageStart::After(id), limit))
                .map_err(|_| bad_after(a)),
            Some(a) => Err(bad_after(a)),
        }
    }
}

fn bad_after(a: &str) -> ApiError {
    ApiError::unprocessable(format!(
        "after {a:?} is not a record id (up to 16 hexadecimal digits)"
    ))
}

/// The link to the page after the record `last`.
fn next_link(q: QueueName, last: u64, limit: usize) -> String {
    format!(
        "/api/v1/queues/{}?after={last:016X}&limit={limit}",
        q.as_str()
    )
}

/// A header field of a queued message.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HeaderField {
    pub name: String,
    pub value: String,
}

/// One queued message: its envelope, header and delivery state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct QueueDetail {
    #[serde(flatten)]
    pub item: QueueItem,
    /// Where it came from, e.g. "smtp from [1.2.3.4] helo x".
    pub origin: String,
    /// The account that submitted it, if authenticated.
    pub authenticated: Option<String>,
    /// MAIL FROM parameters (BODY, SMTPUTF8, RET, ENVID, REQUIRETLS).
    #[schema(value_type = Object)]
    pub params: serde_json::Value,
    /// The message header (unfolded), as far as it is in the first 64 KiB; empty when
    /// some recipients are outside the caller's domains.
    pub headers: Vec<HeaderField>,
    /// The last delivery attempts (up to 20), oldest first, one entry per recipient tried
    /// (of the recipients the caller sees).
    pub history: Vec<AttemptInfo>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveTo {
    /// The queue to move it to.
    pub to: QueueArg,
}

/// A queue name.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum QueueArg {
    Inbound,
    Local,
    Remote,
    Deferred,
    Toarchive,
    Bad,
}

impl From<QueueArg> for QueueName {
    fn from(q: QueueArg) -> QueueName {
        match q {
            QueueArg::Inbound => QueueName::Inbound,
            QueueArg::Local => QueueName::Local,
            QueueArg::Remote => QueueName::Remote,
            QueueArg::Deferred => QueueName::Deferred,
            QueueArg::Toarchive => QueueName::ToArchive,
            QueueArg::Bad => QueueName::Bad,
        }
    }
}

/// What a bulk change does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum BulkAction {
    Retry,
    Bounce,
    Delete,
    Move,
}

/// Where a record is: its id and queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Location {
    /// Hexadecimal.
    pub id: String,
    pub queue: String,
}

impl Location {
    fn new(queue: QueueName, id: u64) -> Location {
        Location {
            id: format!("{id:016X}"),
            queue: queue.as_str().to_string(),
        }
    }
}

/// What a change did.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeResult {
    /// The record's id now. A retry routes the record again, and routing gives it a new id
    /// (the first of `records`); the other changes keep the id asked for.
    pub id: String,
    /// The queue it was in.
    pub from: String,
    /// The queue it is in now; absent when it is gone (deleted, bounced, or retried with
    /// nobody left to deliver to).
    pub queue: Option<String>,
    /// Every record it is now: a retry leaves one per queue its recipients go to (local,
    /// remote, bad); empty when it is gone.
    pub records: Vec<Location>,
    /// The console's answer.
    pub output: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bulk {
    pub action: BulkAction,
    /// Record ids (hexadecimal), at most 1000.
    #[schema(max_items = 1000)]
    pub ids: Vec<String>,
    /// The target queue of `move` (required with it, refused with the others).
    pub to: Option<QueueArg>,
}

/// The outcome for one id of a bulk change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkItem {
    /// The id asked for.
    pub id: String,
    /// The HTTP status this id alone would have had.
    pub status: u16,
    /// Where the record is now, as in the single change's `records` (after a retry: its
    /// new ids); empty when it is gone or the change failed.
    pub records: Vec<Location>,
    pub output: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BulkResult {
    pub done: usize,
    pub failed: usize,
    pub items: Vec<BulkItem>,
}

/// Whether the caller sees the record at all (for lists and counts).
fn listed(p: &Principal, h: &QueueHead<'_>) -> bool {
    head_access(p, h) != Access::Hidden
}

fn queue_name(name: &str) -> Result<QueueName, ApiError> {
    name.parse()
        .map_err(|_| ApiError::not_found(crate::admin::exec::unknown_queue(name)))
}

fn queue_id(id: &str) -> Result<u64, ApiError> {
    u64::from_str_radix(id, 16)
        .map_err(|_| ApiError::not_found(format!("no queued message {id} (ids are hexadecimal)")))
}

fn item(r: &QueueRecord, hidden_recipients: usize) -> QueueItem {
    QueueItem {
        id: format!("{:016X}", r.id),
        queue: r.queue.as_str().to_string(),
        from: r.mail_from.clone(),
        recipients: r
            .recipients
            .iter()
            .map(|x| RecipientInfo {
                address: x.address.clone(),
                original: x.original.clone(),
                delivered: x.delivered,
                last_error: x.last_error.clone(),
            })
            .collect(),
        size: r.size,
        attempts: r.attempts,
        next_attempt: r.due,
        last_error: r.last_error.clone(),
        received: r.received_at,
        hidden_recipients,
    }
}

/// The header of a body file: fields unfolded, up to the blank line or the read limit.
fn headers(path: &std::path::Path) -> Vec<HeaderField> {
    let mut buf = Vec::new();
    let Ok(f) = std::fs::File::open(path) else {
        return Vec::new();
    };
    if f.take(HEADER_READ_LIMIT).read_to_end(&mut buf).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&buf);
    let mut out: Vec<HeaderField> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.value.push(' ');
                last.value.push_str(line.trim());
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push(HeaderField {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    out
}

/// Each queue's number of records (a domain admin's: of those it may see).
#[utoipa::path(get, path = "/api/v1/queues", tag = "queues",
    responses((status = 200, body = QueueCounts), Failures))]
pub async fn queues_counts(ctx: Ctx, m: Manager) -> Result<HttpResponse, ApiError> {
    let p = m.0;
    let items = blocking(&ctx, move |ctx| {
        QueueName::ALL
            .iter()
            .map(|q| {
                let count = if p.is_admin() {
                    // The store's in-memory counter: no scan.
                    ctx.store.queue_depth(*q)?
                } else {
                    // Its domains' records (the index), their heads only.
                    let keep = |h: &QueueHead<'_>| listed(&p, h);
                    let view = QueueView {
                        keep: &keep,
                        domains: queue_access::view_domains(&p),
                        text: None,
                    };
                    ctx.store.queue_view(*q, &view, PageStart::Offset(0), 0)?.0
                };
                Ok(QueueCount {
                    name: q.as_str().to_string(),
                    count,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(QueueCounts { items }))
}

/// A queue's records, in id order, paged by `offset` or by `after` (the id of the last
/// record of the previous page, as in `next`).
#[utoipa::path(get, path = "/api/v1/queues/{queue}", tag = "queues",
    params(("queue" = String, Path, description = "inbound, local, remote, deferred, toarchive or bad"), QueuePaging),
    responses((status = 200, body = QueuePage), Failures))]
pub async fn queue_list(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    paging: web::Query<QueuePaging>,
) -> Result<HttpResponse, ApiError> {
    let q = queue_name(&path)?;
    let (p, paging) = (m.0, paging.into_inner());
    let (start, limit) = paging.resolve()?;
    let page = blocking(&ctx, move |ctx| {
        // One more than the page says whether there is a next one.
        let (total, mut records) = if p.is_admin() {
            // Everything is visible: the depth counter is the total and only the page's
            // records are read (a queue of 100,000 records is not decoded per request).
            let total = ctx.store.queue_depth(q)?;
            let records = match start {
                PageStart::Offset(offset) => ctx.store.queue_page(q, offset, limit + 1)?,
                PageStart::After(after) => ctx.store.queue_page_after(q, after, limit + 1)?,
            };
            (total, records)
        } else {
            // Its domains' records only (the index), decided on each head; only the page
            // is decoded whole.
            let keep = |h: &QueueHead<'_>| listed(&p, h);
            let view = QueueView {
                keep: &keep,
                domains: queue_access::view_domains(&p),
                text: None,
            };
            ctx.store.queue_view(q, &view, start, limit + 1)?
        };
        let more = records.len() > limit;
        records.truncate(limit);
        let next = match records.last() {
            Some(last) if more => Some(next_link(q, last.id, limit)),
            _ => None,
        };
        Ok(QueuePage {
            total,
            items: records
                .into_iter()
                .filter_map(|r| queue_access::redacted(&p, r))
                .map(|(r, hidden)| item(&r, hidden))
                .collect(),
            offset: match start {
                PageStart::Offset(o) => o,
                PageStart::After(_) => 0,
            },
            limit,
            after: paging.after.clone(),
            next,
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The record `id` of `queue` (whole) if the caller may see it, with its access; or 404.
fn record(
    ctx: &crate::actors::ServerContext,
    p: &Principal,
    queue: &str,
    id: &str,
) -> Result<(QueueRecord, Access), ApiError> {
    let (q, n) = (queue_name(queue)?, queue_id(id)?);
    match ctx.store.queue_get(q, n)? {
        Some(r) => match queue_access::access(p, &r) {
            Access::Hidden => Err(hidden(&format!("queued message {id} in {queue}"))),
            a => Ok((r, a)),
        },
        None => Err(hidden(&format!("queued message {id} in {queue}"))),
    }
}

/// One record: envelope, header, attempts and errors.
#[utoipa::path(get, path = "/api/v1/queues/{queue}/{id}", tag = "queues",
    params(("queue" = String, Path, description = "queue name"),
           ("id" = String, Path, description = "record id (hexadecimal)")),
    responses((status = 200, body = QueueDetail), Failures))]
pub async fn queue_show(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (queue, id) = path.into_inner();
    let p = m.0;
    let detail = blocking(&ctx, move |ctx| {
        let (r, access) = record(ctx, &p, &queue, &id)?;
        // The header names every recipient (To, Cc): only for a record seen whole.
        let headers = match access {
            Access::Full => headers(&ctx.store.blobs().path(&r.blob)),
            _ => Vec::new(),
        };
        let Some((r, hidden_recipients)) = queue_access::redacted(&p, r) else {
            return Err(hidden(&format!("queued message {id} in {queue}")));
        };
        Ok(QueueDetail {
            item: item(&r, hidden_recipients),
            origin: r.origin.clone(),
            authenticated: r.auth_as.clone(),
            params: serde_json::to_value(&r.params).unwrap_or(serde_json::Value::Null),
            headers,
            history: r
                .history
                .iter()
                .map(|a| AttemptInfo {
                    at: a.at,
                    attempt: a.attempt,
                    recipient: a.recipient.clone(),
                    host: a.host.clone(),
                    status: a.status.clone(),
                    text: a.text.clone(),
                    outcome: a.outcome.as_str().to_string(),
                })
                .collect(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Checks and applies one change to `id` of `queue`.
async fn change_one(
    ctx: &Ctx,
    p: &Principal,
    queue: &str,
    id: &str,
    make: impl FnOnce(u64) -> Result<Change, ApiError>,
) -> Result<ChangeResult, ApiError> {
    let (rec, access) = record(ctx, p, queue, id)?;
    need_scope(p, Scope::Queues)?;
    if access != Access::Full {
        return Err(ApiError::forbidden(queue_access::partial_refusal(rec.id)));
    }
    let changed = queue_change(ctx, make(rec.id)?).await?;
    let records: Vec<Location> = match &changed.done {
        // Only the change knows the ids routing gave (the old one is gone).
        Done::Retried(to) => to.iter().map(|(q, id)| Location::new(*q, *id)).collect(),
        _ => ctx
            .store
            .queue_find(rec.id)?
            .map(|r| Location::new(r.queue, r.id))
            .into_iter()
            .collect(),
    };
    let (id, queue) = match records.first() {
        Some(now) => (now.id.clone(), Some(now.queue.clone())),
        None => (format!("{:016X}", rec.id), None),
    };
    Ok(ChangeResult {
        id,
        from: changed.from.as_str().to_string(),
        queue,
        records,
        output: changed.text(),
    })
}

/// Another attempt now: the record is routed again (new ids; the answer says where it is).
#[utoipa::path(post, path = "/api/v1/queues/{queue}/{id}/retry", tag = "queues",
    params(("queue" = String, Path, description = "queue name"),
           ("id" = String, Path, description = "record id (hexadecimal)")),
    responses((status = 200, body = ChangeResult), Failures))]
pub async fn queue_retry(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (q, id) = path.into_inner();
    let r = change_one(&ctx, &m.0, &q, &id, |n| Ok(Change::Retry(n))).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Bounce now: a DSN to the sender for every undelivered recipient, then gone.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/{id}/bounce", tag = "queues",
    params(("queue" = String, Path, description = "queue name"),
           ("id" = String, Path, description = "record id (hexadecimal)")),
    responses((status = 200, body = ChangeResult), Failures))]
pub async fn queue_bounce(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (q, id) = path.into_inner();
    let r = change_one(&ctx, &m.0, &q, &id, |n| Ok(Change::Bounce(n))).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Moves the record, unchanged, into another queue.
#[utoipa::path(post, path = "/api/v1/queues/{queue}/{id}/move", tag = "queues",
    params(("queue" = String, Path, description = "queue name"),
           ("id" = String, Path, description = "record id (hexadecimal)")),
    request_body = MoveTo,
    responses((status = 200, body = ChangeResult), Failures))]
pub async fn queue_move(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
    body: Body<MoveTo>,
) -> Result<HttpResponse, ApiError> {
    let (q, id) = path.into_inner();
    let to = body.into_inner().to;
    let r = change_one(&ctx, &m.0, &q, &id, |n| {
        Ok(Change::MoveTo {
            id: n,
            to: to.into(),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(r))
}

/// Deletes the record (no DSN).
#[utoipa::path(delete, path = "/api/v1/queues/{queue}/{id}", tag = "queues",
    params(("queue" = String, Path, description = "queue name"),
           ("id" = String, Path, description = "record id (hexadecimal)")),
    responses((status = 200, body = ChangeResult), Failures))]
pub async fn queue_delete(
    ctx: Ctx,
    m: Manager,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (q, id) = path.into_inner();
    let r = change_one(&ctx, &m.0, &q, &id, |n| Ok(Change::Delete(n))).await?;
    Ok(HttpResponse::Ok().json(r))
}

/// The largest bulk change.
const MAX_BULK: usize = 1000;

/// One change to many records of the queue; each id's outcome is reported (200 even when
/// some failed: see `failed`).
#[utoipa::path(post, path = "/api/v1/queues/{queue}/bulk", tag = "queues",
    params(("queue" = String, Path, description = "queue name")),
    request_body = Bulk,
    responses((status = 200, body = BulkResult), Failures))]
pub async fn queue_bulk(
    ctx: Ctx,
    m: Manager,
    path: web::Path<String>,
    body: Body<Bulk>,
) -> Result<HttpResponse, ApiError> {
    let queue = path.into_inner();
    queue_name(&queue)?;
    need_scope(&m.0, Scope::Queues)?;
    let Bulk { action, ids, to } = body.into_inner();
    if ids.len() > MAX_BULK {
        return Err(ApiError::unprocessable(format!(
            "at most {MAX_BULK} ids at a time"
        )));
    }
    let to: Option<QueueName> = match (action, to) {
        (BulkAction::Move, Some(t)) => Some(t.into()),
        (BulkAction::Move, None) => return Err(ApiError::unprocessable("move needs \"to\"")),
        (_, None) => None,
        (_, Some(_)) => return Err(ApiError::unprocessable("\"to\" is only for move")),
    };
    let mut items = Vec::with_capacity(ids.len());
    for id in ids {
        let r = change_one(&ctx, &m.0, &queue, &id, |n| {
            Ok(match (action, to) {
                (BulkAction::Retry, _) => Change::Retry(n),
                (BulkAction::Bounce, _) => Change::Bounce(n),
                (BulkAction::Delete, _) => Change::Delete(n),
                (BulkAction::Move, Some(to)) => Change::MoveTo { id: n, to },
                (BulkAction::Move, None) => {
                    return Err(ApiError::unprocessable("move needs \"to\""))
                }
            })
        })
        .await;
        items.push(match r {
            Ok(c) => BulkItem {
                id,
                status: 200,
                records: c.records,
                output: Some(c.output),
                error: None,
            },
            Err(e) => BulkItem {
                id,
                status: e.status.as_u16(),
                records: Vec::new(),
                output: None,
                error: Some(e.message),
            },
        });
    }
    let done = items.iter().filter(|i| i.status == 200).count();
    Ok(HttpResponse::Ok().json(BulkResult {
        done,
        failed: items.len() - done,
        items,
    }))
}
