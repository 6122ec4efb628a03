//! The jobs page: long jobs (`http::jobs`) with a `<progress>` bar each that `jobs.js`
//! moves live from a server-sent event stream, and the result once a job ends. Admins see
//! every job and may start a check of the store; domain admins see the jobs they started.
//!
//! Streams: `/jobs/events` sends the caller's job list (a JSON array) after every change,
//! `/jobs/{id}/events` one job (a JSON object) and ends once the job has finished. Changes
//! closer together than [`COALESCE`] go out as one event, so a job of a hundred thousand
//! records costs a few events a second; an idle stream sends a comment every
//! [`KEEPALIVE`] (which also notices a server stopping and a browser gone).

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;

use super::forms::Form;
use super::{assets, gate, redirect, redirect_with, render, Chrome, Ctx, Need};
use crate::actors::ServerContext;
use crate::http::auth::Principal;
use crate::http::jobs::{Job, JobHandle, JobKind, JobState, Jobs};

/// Changes within this time go out as one event.
const COALESCE: Duration = Duration::from_millis(250);
/// A comment on an idle stream this often.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The lines of a check's report a job keeps (the console prints it whole).
const REPORT_LINES: usize = 200;

/// A job as the templates show it.
struct Row {
    id: u64,
    title: String,
    owner: String,
    state: &'static str,
    phase: String,
    done: u64,
    total: u64,
    started: String,
    ended: String,
    result: String,
    error: String,
}

impl From<Job> for Row {
    fn from(j: Job) -> Row {
        Row {
            id: j.id,
            title: j.title,
            owner: j.owner,
            state: match j.state {
                JobState::Running => "running",
                JobState::Done => "done",
                JobState::Failed => "failed",
            },
            phase: j.phase,
            done: j.done,
            total: j.total,
            started: crate::clock::iso8601(j.started),
            ended: j.ended.map(crate::clock::iso8601).unwrap_or_default(),
            result: j.result.unwrap_or_default(),
            error: j.error.unwrap_or_default(),
        }
    }
}

impl Row {
    /// "3 of 10" (or the count alone when the total is not known).
    fn count(&self) -> String {
        match (self.done, self.total) {
            (_, 0) if self.state == "running" && self.done == 0 => String::new(),
            (d, 0) => d.to_string(),
            (d, t) => format!("{d} of {t}"),
        }
    }

    /// The bar's maximum.
    fn max(&self) -> u64 {
        self.total.max(1)
    }

    /// The bar's value; none (an indeterminate bar) while the total is not known.
    fn value(&self) -> Option<u64> {
        if self.total > 0 {
            Some(self.done.min(self.total))
        } else if self.state != "running" {
            Some(1)
        } else {
            None
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    events: String,
    jobs_js: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    chrome: Chrome,
    rows: Vec<Row>,
    events: String,
    jobs_js: String,
}

/// The answer on a listener without a registry (only the admin listener has one).
fn no_jobs() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("There are no jobs on this listener.\n")
}

/// `GET /jobs`.
pub async fn list(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(jobs) = crate::http::jobs::of(&req) else {
        return no_jobs();
    };
    let t = JobsPage {
        chrome: Chrome::new(&req, &who, "/jobs"),
        rows: jobs.list(&who).into_iter().map(Row::from).collect(),
        events: "/jobs/events".into(),
        jobs_js: assets::url("jobs.js"),
    };
    render(&req, &t.chrome, &t)
}

/// `GET /jobs/{id}`: one job, or back to the list when it is unknown or not the caller's.
pub async fn show(ctx: Ctx, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(jobs) = crate::http::jobs::of(&req) else {
        return no_jobs();
    };
    let job = id
        .parse::<u64>()
        .ok()
        .and_then(|id| jobs.get(id))
        .filter(|j| j.visible_to(&who));
    let Some(job) = job else {
        return redirect_with(&req, "/jobs", Err(format!("no job {id}")));
    };
    let t = JobPage {
        chrome: Chrome::new(&req, &who, "/jobs"),
        events: format!("/jobs/{}/events", job.id),
        rows: vec![Row::from(job)],
        jobs_js: assets::url("jobs.js"),
    };
    render(&req, &t.chrome, &t)
}

/// `POST /jobs`: `action=check` starts a check of the store (admins only).
pub async fn start(ctx: Ctx, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Admin).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(jobs) = crate::http::jobs::of(&req) else {
        return no_jobs();
    };
    let f = Form::parse(&body);
    if f.get("action") != "check" {
        return redirect_with(
            &req,
            "/jobs",
            Err(format!("unknown job {:?}", f.get("action"))),
        );
    }
    let handle = match jobs.start(
        JobKind::StorageCheck,
        "check the store (bodies and reference counts)".into(),
        &who.address,
        ctx.clock.clone(),
    ) {
        Ok(h) => h,
        Err(e) => return redirect_with(&req, "/jobs", Err(e.to_string())),
    };
    let id = handle.id();
    let sctx: Arc<ServerContext> = ctx.get_ref().clone();
    // The check reads the whole store synchronously: a thread of its own, not the HTTP
    // worker nor the blocking pool the pages' reads share.
    let spawned = std::thread::Builder::new()
        .name(format!("job-{id}-check"))
        .spawn(move || check(&sctx, handle));
    if let Err(e) = spawned {
        // The handle went down with the closure: the job is marked failed.
        return redirect_with(&req, "/jobs", Err(format!("the check did not start: {e}")));
    }
    redirect(&format!("/jobs/{id}"))
}

/// The check job's body.
fn check(ctx: &ServerContext, mut job: JobHandle) {
    match crate::storage::check::check_with(&ctx.store, &mut job) {
        Ok(report) => {
            let text = cut_lines(&report.render(), REPORT_LINES);
            if report.ok() {
                job.finish(Some(text), None);
            } else {
                job.finish(None, Some(text));
            }
        }
        Err(e) => job.finish(None, Some(format!("storage check: {e}"))),
    }
}

/// The first `max` lines of `text`, then how many were left out; the last line (the
/// summary of a report) is always kept.
fn cut_lines(text: &str, max: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= max {
        return text.to_string();
    }
    let mut out = lines[..max - 1].join("\n");
    out.push_str(&format!("\n… {} more lines\n", lines.len() - max));
    out.push_str(lines[lines.len() - 1]);
    out
}

/// What a stream sends.
#[derive(Clone, Copy)]
enum Watch {
    All,
    One(u64),
}

struct StreamState {
    /// The server's shutdown signal.
    stop: tokio::sync::watch::Receiver<bool>,
    jobs: Arc<Jobs>,
    who: Principal,
    watch: Watch,
    rx: tokio::sync::watch::Receiver<u64>,
    first: bool,
    over: bool,
}

/// The next event of a stream (module notes); `None` ends it.
async fn next_event(mut s: StreamState) -> Option<(web::Bytes, StreamState)> {
    if s.over || *s.stop.borrow() {
        return None;
    }
    if !s.first {
        match tokio::time::timeout(KEEPALIVE, s.rx.changed()).await {
            Ok(Ok(())) => tokio::time::sleep(COALESCE).await,
            // The registry is gone with its application.
            Ok(Err(_)) => return None,
            Err(_) => return Some((web::Bytes::from_static(b": keep-alive\n\n"), s)),
        }
    }
    s.first = false;
    s.rx.mark_unchanged();
    let data = match s.watch {
        Watch::All => serde_json::to_string(&s.jobs.list(&s.who)),
        Watch::One(id) => match s.jobs.get(id).filter(|j| j.visible_to(&s.who)) {
            Some(job) => {
                s.over = job.finished();
                serde_json::to_string(&job)
            }
            None => {
                s.over = true;
                return Some((web::Bytes::from_static(b"event: gone\ndata: {}\n\n"), s));
            }
        },
    };
    let line = match data {
        Ok(json) => format!("data: {json}\n\n"),
        Err(e) => {
            tracing::error!("jobs: event: {e}");
            return None;
        }
    };
    Some((web::Bytes::from(line), s))
}

async fn stream(ctx: Ctx, req: HttpRequest, watch: Watch) -> HttpResponse {
    let who = match gate(&ctx, &req, Need::Manager).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let Some(jobs) = crate::http::jobs::of(&req) else {
        return no_jobs();
    };
    let state = StreamState {
        stop: ctx.shutdown_signal(),
        rx: jobs.subscribe(),
        jobs,
        who,
        watch,
        first: true,
        over: false,
    };
    let events = futures_util::stream::unfold(state, |s| async move {
        next_event(s)
            .await
            .map(|(b, s)| (Ok::<_, actix_web::Error>(b), s))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(events)
}

/// `GET /jobs/events`: the caller's jobs after every change.
pub async fn events(ctx: Ctx, req: HttpRequest) -> HttpResponse {
    stream(ctx, req, Watch::All).await
}

/// `GET /jobs/{id}/events`: one job after every change, until it has finished.
pub async fn job_events(ctx: Ctx, req: HttpRequest, id: web::Path<String>) -> HttpResponse {
    match id.parse::<u64>() {
        Ok(id) => stream(ctx, req, Watch::One(id)).await,
        Err(_) => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such job\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::http::auth::{Role, Scope, Via};
    use crate::storage::migrate::Progress;

    fn who(address: &str, role: Role) -> Principal {
        Principal {
            address: address.into(),
            role,
            scope: Scope::All,
            via: Via::Session,
        }
    }

    fn state(jobs: &Arc<Jobs>, who: Principal, watch: Watch) -> StreamState {
        StreamState {
            stop: tokio::sync::watch::channel(false).1,
            rx: jobs.subscribe(),
            jobs: jobs.clone(),
            who,
            watch,
            first: true,
            over: false,
        }
    }

    /// The JSON of a `data:` event.
    fn data(b: &web::Bytes) -> serde_json::Value {
        let text = std::str::from_utf8(b).unwrap();
        let json = text.strip_prefix("data: ").unwrap().trim_end();
        serde_json::from_str(json).unwrap()
    }

    #[tokio::test]
    async fn a_job_stream_sends_progress_and_ends_with_the_job() {
        let jobs = Jobs::new();
        let root = who("root@x.test", Role::Admin);
        let mut h = jobs
            .start(
                JobKind::QueueBulk,
                "t".into(),
                "root@x.test",
                ManualClock::new(1_800_000_000),
            )
            .unwrap();
        let s = state(&jobs, root.clone(), Watch::One(h.id()));
        let (b, s) = next_event(s).await.unwrap();
        assert_eq!(data(&b)["state"], "running");
        h.phase("move", 3);
        h.advance(2);
        let (b, s) = next_event(s).await.unwrap();
        let v = data(&b);
        assert_eq!(
            (v["phase"].as_str(), v["done"].as_u64(), v["total"].as_u64()),
            (Some("move"), Some(2), Some(3))
        );
        h.advance(1);
        h.finish(Some("3 moved".into()), None);
        let (b, s) = next_event(s).await.unwrap();
        let v = data(&b);
        assert_eq!(
            (v["state"].as_str(), v["done"].as_u64()),
            (Some("done"), Some(3))
        );
        assert_eq!(v["result"], "3 moved");
        assert!(
            next_event(s).await.is_none(),
            "the stream ends with the job"
        );

        // Another's job is "gone" to a domain admin, and left out of its list.
        let dom = who("dom@a.test", Role::DomainAdmin(vec!["a.test".into()]));
        let (b, s) = next_event(state(&jobs, dom.clone(), Watch::One(1)))
            .await
            .unwrap();
        assert_eq!(&b[..], b"event: gone\ndata: {}\n\n");
        assert!(next_event(s).await.is_none());
        let (b, _) = next_event(state(&jobs, dom, Watch::All)).await.unwrap();
        assert_eq!(data(&b), serde_json::json!([]));
        let (b, _) = next_event(state(&jobs, root, Watch::All)).await.unwrap();
        assert_eq!(data(&b)[0]["id"], 1);
    }

    #[test]
    fn long_reports_keep_their_summary() {
        assert_eq!(cut_lines("a\nb\nc", 3), "a\nb\nc");
        assert_eq!(cut_lines("a\nb\nc\nd\nsum", 3), "a\nb\n… 2 more lines\nsum");
    }
}
