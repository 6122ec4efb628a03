//! Long jobs with live progress (issue 13): a bulk change of a few hundred queue records
//! started from the dashboard's queue page and a check of the store started from the jobs
//! page run as jobs; their event streams send progress until the job ends with the right
//! result; the API lists them; a domain admin sees only its own jobs and may not start a
//! check. Through actix-web's test service with the admin application's real middleware,
//! against a running test server (its queue actors and store). No test waits on a clock:
//! a job's stream ends when the job does.

mod common;

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use serde_json::Value;

use common::{Client, TestServer, PASSWORD};
use ferrymail::http::jobs::Jobs;
use ferrymail::http::server::app;
use ferrymail::http::{Front, Listener};
use ferrymail::storage::migrate::Progress;
use ferrymail::storage::{QueueName, QueueRecipient, QueueRecord};

const ROOT: &str = "root@example.com";
const DOM: &str = "dom@example.org";
/// Records seeded in deferred: `FOR_DOM` of them to example.org, the rest elsewhere.
const RECORDS: usize = 300;
const FOR_DOM: usize = 10;
/// The most frames a test reads from one event stream.
const MAX_FRAMES: usize = 10_000;

/// A test server with an admin, a domain admin of example.org, three messages in alice's
/// INBOX and [`RECORDS`] deferred records due in a day.
fn server() -> TestServer {
    let s = TestServer::start();
    let store = s.store();
    store.add_account(ROOT, PASSWORD, true).unwrap();
    store.add_domain("example.org").unwrap();
    store.add_account(DOM, PASSWORD, false).unwrap();
    store.add_domain_admin(DOM, "example.org").unwrap();
    store.commit().unwrap();
    for i in 0..3 {
        let mut c = Client::connect(s.addr("smtp"));
        let r = c.deliver(
            "someone@example.net",
            &["alice@example.com"],
            &common::message(&format!("stored {i}")),
        );
        assert!(r.starts_with("250"), "{r}");
    }
    s.wait_inbox("alice@example.com", 3);
    let (_, queues) = s.writers();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for i in 0..RECORDS {
        let body = format!("Subject: bulk {i}\r\n\r\nqueued\r\n");
        let blob = store.blobs().put(body.as_bytes()).unwrap();
        let to = if i < FOR_DOM {
            format!("user{i}@example.org")
        } else {
            format!("user{i}@remote.test")
        };
        queues
            .queue_put(&QueueRecord {
                id: store.next_queue_id().unwrap(),
                queue: QueueName::Deferred,
                blob,
                size: body.len() as u64,
                mail_from: "sender@example.net".into(),
                recipients: vec![QueueRecipient::new(&to)],
                params: Default::default(),
                received_at: now,
                due: Some(now + 86_400),
                attempts: 1,
                last_error: Some("451 4.4.1 try later".into()),
                origin: "test".into(),
                auth_as: None,
                folder: None,
                history: Vec::new(),
            })
            .unwrap();
    }
    assert_eq!(s.queue_depth(QueueName::Deferred), RECORDS);
    s
}

fn request(method: &str, path: &str) -> TestRequest {
    TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .peer_addr("127.0.0.1:40000".parse().unwrap())
}

/// A dashboard login: the session cookie and the CSRF token of its pages.
struct Session {
    cookie: String,
    csrf: String,
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

async fn send<S, B>(svc: &S, req: TestRequest) -> ServiceResponse<B>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    test::call_service(svc, req.to_request()).await
}

fn location<B>(res: &ServiceResponse<B>) -> String {
    res.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

async fn login<S, B>(svc: &S, address: &str) -> Session
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = send(
        svc,
        request("POST", "/login")
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form(&[("address", address), ("password", PASSWORD)])),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res
        .response()
        .cookies()
        .find(|c| c.name() == "fm_admin")
        .expect("a session cookie")
        .value()
        .to_string();
    let mut s = Session {
        cookie,
        csrf: String::new(),
    };
    let page = page(svc, &s, "/jobs").await;
    s.csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string();
    s
}

impl Session {
    fn get(&self, path: &str) -> TestRequest {
        request("GET", path).insert_header((header::COOKIE, format!("fm_admin={}", self.cookie)))
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> TestRequest {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        request("POST", path)
            .insert_header((header::COOKIE, format!("fm_admin={}", self.cookie)))
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(form(&all))
    }
}

async fn page<S, B>(svc: &S, s: &Session, path: &str) -> String
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = send(svc, s.get(path)).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    String::from_utf8(test::read_body(res).await.to_vec()).unwrap()
}

/// The events of a stream, at most `max` of them (or fewer when it ends): (event name,
/// data as JSON). Keep-alive comments are skipped.
async fn events<B: MessageBody>(res: ServiceResponse<B>, max: usize) -> Vec<(String, Value)> {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        "text/event-stream"
    );
    let mut body = Box::pin(res.into_body());
    let (mut buf, mut out) = (String::new(), Vec::new());
    for _ in 0..MAX_FRAMES {
        let frame = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await;
        let Some(Ok(bytes)) = frame else {
            break;
        };
        buf.push_str(std::str::from_utf8(&bytes).unwrap());
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut name = "message".to_string();
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(d).unwrap());
                }
            }
            if let Some(d) = data {
                out.push((name, d));
            }
        }
        if out.len() >= max {
            break;
        }
    }
    out
}

/// Follows a job's stream to its end: its events, in order. Checks that progress never
/// goes back within a phase and never passes the phase's total.
async fn follow<S, B>(svc: &S, s: &Session, job: &str) -> Vec<Value>
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = send(svc, s.get(&format!("{job}/events"))).await;
    let evs: Vec<Value> = events(res, usize::MAX)
        .await
        .into_iter()
        .map(|(name, v)| {
            assert_eq!(name, "message");
            v
        })
        .collect();
    assert!(!evs.is_empty());
    for w in evs.windows(2) {
        if w[0]["phase"] == w[1]["phase"] {
            assert!(w[0]["done"].as_u64() <= w[1]["done"].as_u64(), "{w:?}");
        }
    }
    for e in &evs {
        if e["total"].as_u64().unwrap() > 0 {
            assert!(e["done"].as_u64() <= e["total"].as_u64(), "{e}");
        }
    }
    let last = evs.last().unwrap();
    assert_ne!(
        last["state"], "running",
        "the stream ends with the job: {last}"
    );
    evs
}

fn basic(who: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{who}:{PASSWORD}"))
    )
}

async fn api<S, B>(svc: &S, who: &str, path: &str) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = send(
        svc,
        request("GET", path).insert_header((header::AUTHORIZATION, basic(who))),
    )
    .await;
    let status = res.status();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).unwrap())
}

/// Counts each phase's advances.
#[derive(Default)]
struct Count {
    phases: Vec<(String, u64, u64)>,
}

impl Progress for Count {
    fn phase(&mut self, name: &str, total: u64) {
        self.phases.push((name.to_string(), total, 0));
    }
    fn advance(&mut self, n: u64) {
        if let Some(p) = self.phases.last_mut() {
            p.2 += n;
        }
    }
    fn end_phase(&mut self) {}
}

#[test]
fn bulk_queue_changes_and_the_store_check_run_as_jobs() {
    let s = server();
    let ctx = s.handle().ctx.clone();
    let s = &s;
    actix_rt::System::new().block_on(async move {
        let front = Front {
            listener: Listener::Admin,
            https_port: None,
        };
        let jobs = web::Data::new(Jobs::new());
        let svc = test::init_service(
            app(web::Data::new(Arc::clone(&ctx)), front, |cfg| {
                ferrymail::http::server::admin_routes(cfg)
            })
            .app_data(jobs.clone()),
        )
        .await;
        let root = login(&svc, ROOT).await;
        let dom = login(&svc, DOM).await;

        // The domain admin moves "every matching record": only the ones its list shows.
        let form = [
            ("back", "/queues?queue=deferred"),
            ("queue", "deferred"),
            ("q", ""),
            ("all", "1"),
            ("action", "move"),
            ("to", "bad"),
        ];
        let res = send(&svc, dom.post("/queues", &form)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let dom_job = location(&res);
        assert!(dom_job.starts_with("/jobs/"), "{dom_job}");
        let evs = follow(&svc, &dom, &dom_job).await;
        let last = evs.last().unwrap();
        assert_eq!(last["state"], "done", "{last}");
        assert_eq!(last["owner"], DOM);
        assert_eq!(last["phase"], "move to bad");
        assert_eq!(
            (last["done"].as_u64(), last["total"].as_u64()),
            (Some(FOR_DOM as u64), Some(FOR_DOM as u64))
        );
        assert_eq!(
            last["result"],
            format!("move to bad: {FOR_DOM} of {FOR_DOM} records done")
        );
        assert_eq!(s.queue_depth(QueueName::Bad), FOR_DOM);

        // The admin moves the rest, a few hundred records.
        let res = send(&svc, root.post("/queues", &form)).await;
        let root_job = location(&res);
        let page_html = page(&svc, &root, &root_job).await;
        assert!(page_html.contains("<progress"), "{page_html}");
        assert!(page_html.contains(&format!("data-events=\"{root_job}/events\"")));
        let evs = follow(&svc, &root, &root_job).await;
        let last = evs.last().unwrap();
        let rest = (RECORDS - FOR_DOM) as u64;
        assert_eq!(last["state"], "done", "{last}");
        assert_eq!(
            (last["done"].as_u64(), last["total"].as_u64()),
            (Some(rest), Some(rest))
        );
        assert_eq!(
            last["result"],
            format!("move to bad: {rest} of {rest} records done")
        );
        assert_eq!(s.queue_depth(QueueName::Bad), RECORDS);
        assert_eq!(s.queue_depth(QueueName::Deferred), 0);
        // The finished job's page shows the full bar and the result.
        let page_html = page(&svc, &root, &root_job).await;
        assert!(
            page_html.contains(&format!("max=\"{rest}\" value=\"{rest}\"")),
            "{page_html}"
        );
        assert!(page_html.contains(&format!("move to bad: {rest} of {rest} records done")));

        // Ticked records (more than one) run as a job too; an id it may not see fails.
        let ids: Vec<String> = s
            .store()
            .queue_list(QueueName::Bad)
            .unwrap()
            .iter()
            .filter(|r| r.recipients[0].address.ends_with("@remote.test"))
            .take(2)
            .map(|r| format!("{:016x}", r.id))
            .collect();
        let res = send(
            &svc,
            dom.post(
                "/queues",
                &[
                    ("back", "/queues?queue=bad"),
                    ("action", "delete"),
                    ("id", &ids[0]),
                    ("id", &ids[1]),
                ],
            ),
        )
        .await;
        let refused = location(&res);
        let last = follow(&svc, &dom, &refused).await.pop().unwrap();
        assert_eq!(last["state"], "failed", "{last}");
        assert_eq!(last["result"], "delete: 0 of 2 records done");
        assert!(
            last["error"].as_str().unwrap().starts_with("2 failed:"),
            "{last}"
        );
        assert_eq!(s.queue_depth(QueueName::Bad), RECORDS);

        // Who sees what: the API, the pages and the list stream.
        let id_of = |path: &str| path.trim_start_matches("/jobs/").parse::<u64>().unwrap();
        let (st, v) = api(&svc, ROOT, "/api/v1/jobs").await;
        assert_eq!(st, StatusCode::OK);
        let all: Vec<u64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .collect();
        assert_eq!(
            all,
            vec![id_of(&refused), id_of(&root_job), id_of(&dom_job)]
        );
        let (_, v) = api(&svc, DOM, "/api/v1/jobs").await;
        let mine: Vec<u64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .collect();
        assert_eq!(mine, vec![id_of(&refused), id_of(&dom_job)]);
        let (st, v) = api(&svc, ROOT, &format!("/api/v1{root_job}")).await;
        assert_eq!(st, StatusCode::OK);
        assert_eq!(v["done"].as_u64(), Some(rest));
        let (st, v) = api(&svc, DOM, &format!("/api/v1{root_job}")).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(v["error"]["code"], "not_found");
        let (st, _) = api(&svc, ROOT, "/api/v1/jobs/999").await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let res = send(&svc, request("GET", "/api/v1/jobs")).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let res = send(&svc, dom.get(&root_job)).await;
        assert_eq!(
            (res.status(), location(&res)),
            (StatusCode::SEE_OTHER, "/jobs".to_string())
        );
        let gone = events(send(&svc, dom.get(&format!("{root_job}/events"))).await, 5).await;
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].0, "gone");
        let listed = events(send(&svc, dom.get("/jobs/events")).await, 1).await;
        let seen: Vec<u64> = listed[0]
            .1
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["id"].as_u64().unwrap())
            .collect();
        assert_eq!(seen, mine);
        let html = page(&svc, &dom, "/jobs").await;
        assert!(
            !html.contains("id=\"job-check\""),
            "no check button for a domain admin"
        );
        let res = send(&svc, dom.post("/jobs", &[("action", "check")])).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);

        // The store check: its result is the console's report of the same store.
        let html = page(&svc, &root, "/jobs").await;
        assert!(html.contains("id=\"job-check\""));
        assert!(html.contains("ferrymail storage migrate"));
        let res = send(&svc, root.post("/jobs", &[("action", "check")])).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let check_job = location(&res);
        let evs = follow(&svc, &root, &check_job).await;
        let last = evs.last().unwrap();
        assert_eq!(last["state"], "done", "{last}");
        assert_eq!(last["kind"], "storage_check");
        let report = ferrymail::storage::check::check(&s.store()).unwrap();
        assert!(
            report.messages >= 3 && report.queue_records == RECORDS as u64,
            "{report:?}"
        );
        assert_eq!(last["result"].as_str(), Some(report.render().as_str()));
    });

    // Each phase of the check with a known total reaches it.
    let mut count = Count::default();
    ferrymail::storage::check::check_with(&s.store(), &mut count).unwrap();
    let names: Vec<&str> = count.phases.iter().map(|p| p.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "folders",
            "queues",
            "bodies",
            "orphans",
            "calendars and contacts"
        ]
    );
    for (name, total, done) in &count.phases {
        if *total > 0 {
            assert_eq!(done, total, "{name}");
        }
    }
    assert_eq!(count.phases[1].1, 6);
    assert!(count.phases[2].1 >= RECORDS as u64 + 3);
}
