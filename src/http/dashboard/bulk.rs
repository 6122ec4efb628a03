//! A change of many queue records from the queue page, run as a job (`http::jobs`): the
//! ticked records, or every record of a queue that the list shows with its filter. The job
//! runs on its own task (not in the request, not on an actor's thread), sends one command
//! per record through the live executor as the one-record form does, and advances its bar
//! after each. A domain admin's job touches only the records its list shows; the record set
//! of "every matching record" is read when the job starts, so records queued later are left
//! alone.

use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::forms::Form;
use super::queues::{parse_id, shown_id};
use super::{gate, redirect, redirect_with, run, Ctx, Need};
use crate::admin::AdminCommand;
use crate::http::auth::Principal;
use crate::http::jobs::{JobHandle, JobKind};
use crate::http::queue_access;
use crate::storage::migrate::Progress;
use crate::storage::QueueName;

/// The failures a job's result lists one by one; more are counted.
const FAILURES_SHOWN: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Retry,
    Bounce,
    Delete,
    Move(QueueName),
}

impl Action {
    fn parse(action: &str, to: &str) -> Result<Action, String> {
        Ok(match action {
            "retry" => Action::Retry,
            "bounce" => Action::Bounce,
            "delete" => Action::Delete,
            "move" => Action::Move(
                to.parse()
                    .map_err(|_| crate::admin::exec::unknown_queue(to))?,
            ),
            other => return Err(format!("unknown action {other:?}")),
        })
    }

    fn name(self) -> String {
        match self {
            Action::Retry => "retry".into(),
            Action::Bounce => "bounce".into(),
            Action::Delete => "delete".into(),
            Action::Move(q) => format!("move to {}", q.as_str()),
        }
    }

    fn command(self, id: u64) -> AdminCommand {
        match self {
            Action::Retry => AdminCommand::QueueRetry(id),
            Action::Bounce => AdminCommand::QueueBounce(id),
            Action::Delete => AdminCommand::QueueDelete(id),
            Action::Move(q) => AdminCommand::QueueMove {
                id,
                to: q.as_str().to_string(),
            },
        }
    }
}

/// Which records.
enum Selection {
    Ticked(Vec<u64>),
    /// Every record of the queue the caller's list shows with this filter (lowercase).
    Matching {
        queue: QueueName,
        filter: String,
    },
}

/// Starts the job the queue form asks for; its id.
pub(super) fn start(ctx: &Ctx, req: &HttpRequest, who: Principal, f: &Form) -> Result<u64, String> {
    let Some(jobs) = crate::http::jobs::of(req) else {
        return Err("jobs cannot run on this listener".into());
    };
    let action = Action::parse(f.get("action"), f.get("to"))?;
    let selection = if f.checked("all") {
        let queue: QueueName = f
            .get("queue")
            .parse()
            .map_err(|_| crate::admin::exec::unknown_queue(f.get("queue")))?;
        Selection::Matching {
            queue,
            filter: f.get("q").trim().to_lowercase(),
        }
    } else {
        let ids = f
            .all("id")
            .into_iter()
            .map(parse_id)
            .collect::<Result<Vec<_>, _>>()?;
        if ids.is_empty() {
            return Err("no message ticked".into());
        }
        Selection::Ticked(ids)
    };
    let title = match &selection {
        Selection::Ticked(ids) => format!("{}: {} ticked records", action.name(), ids.len()),
        Selection::Matching { queue, filter } if filter.is_empty() => {
            format!("{}: every record of {}", action.name(), queue.as_str())
        }
        Selection::Matching { queue, filter } => format!(
            "{}: every record of {} matching {filter:?}",
            action.name(),
            queue.as_str()
        ),
    };
    let handle = jobs
        .start(JobKind::QueueBulk, title, &who.address, ctx.clock.clone())
        .map_err(|e| e.to_string())?;
    let id = handle.id();
    let ctx = ctx.clone();
    actix_rt::spawn(async move { work(ctx, who, action, selection, handle).await });
    Ok(id)
}

/// The job's body: the records, then one command each.
async fn work(ctx: Ctx, who: Principal, action: Action, selection: Selection, mut job: JobHandle) {
    let ids = match selection {
        Selection::Ticked(ids) => ids,
        Selection::Matching { queue, filter } => {
            job.phase("reading the queue", 0);
            match matching(&ctx, &who, queue, filter).await {
                Ok(ids) => ids,
                Err(e) => return job.finish(None, Some(e)),
            }
        }
    };
    job.phase(&action.name(), ids.len() as u64);
    let (mut done, mut failed) = (0usize, Vec::new());
    for id in &ids {
        match one(&ctx, &who, action, *id).await {
            Ok(()) => done += 1,
            Err(e) => failed.push(format!("{}: {e}", shown_id(*id))),
        }
        job.advance(1);
    }
    job.end_phase();
    let result = format!("{}: {done} of {} records done", action.name(), ids.len());
    if failed.is_empty() {
        return job.finish(Some(result), None);
    }
    let more = failed.len().saturating_sub(FAILURES_SHOWN);
    let mut error = format!("{} failed:\n", failed.len());
    error.push_str(&failed[..failed.len() - more].join("\n"));
    if more > 0 {
        error.push_str(&format!("\n… and {more} more"));
    }
    job.finish(Some(result), Some(error));
}

/// The ids of the records of `queue` that `who`'s list shows with `filter`, in id order.
async fn matching(
    ctx: &Ctx,
    who: &Principal,
    queue: QueueName,
    filter: String,
) -> Result<Vec<u64>, String> {
    let (sctx, who) = (ctx.get_ref().clone(), who.clone());
    let mut ids = web::block(move || {
        let keep =
            |h: &crate::storage::QueueHead<'_>| queue_access::shown_in_list(&who, &filter, h);
        // Ids only (no record decoded whole); a domain admin's from its domains' index.
        let view = crate::storage::QueueView {
            keep: &keep,
            domains: queue_access::view_domains(&who),
            text: (!filter.is_empty()).then_some(filter.as_str()),
        };
        sctx.store.queue_view_ids(queue, &view, usize::MAX)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    ids.sort_unstable();
    Ok(ids)
}

/// One record: a domain admin acts only on records whose recipients are all its own
/// (`http::queue_access`).
async fn one(ctx: &Ctx, who: &Principal, action: Action, id: u64) -> Result<(), String> {
    let sctx: Arc<crate::actors::ServerContext> = ctx.get_ref().clone();
    let rec = web::block(move || sctx.store.queue_find(id))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    match rec {
        Some(r) => queue_access::may_change(who, &r)?,
        None => return Err("no such queued message".into()),
    }
    run(ctx, action.command(id)).await.map(|_| ())
}

/// `POST /queues`: `action` (retry, bounce, delete, move with `to`) on every ticked `id`,
/// or with `all` on every record of `queue` matching the filter `q`. One record is changed
/// at once; more run as a job, and the answer is a redirect to its page.
pub async fn action(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let f = Form::parse(&body);
    // Back to the list the form came from (only a queue page).
    let back = match f.get("back") {
        b if b.starts_with("/queues") && !b.contains("//") => b.to_string(),
        _ => "/queues".to_string(),
    };
    if f.checked("all") || f.all("id").len() > 1 {
        return match start(&ctx, &req, who, &f) {
            Ok(job) => redirect(&format!("/jobs/{job}")),
            Err(e) => redirect_with(&req, &back, Err(e)),
        };
    }
    let result = super::queues::apply(&ctx, &who, &f).await;
    redirect_with(&req, &back, result)
}
