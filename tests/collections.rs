//! Calendars and address books in the console and the management API (issue 15): list,
//! create, delete, import as a job with progress (10,000 events), export, the round trip
//! import → export → import compared with calcard, invalid items reported, domain admins
//! kept to their domains, and the console's progress lines over the control socket.
//! Through actix-web's test service with the admin application's real middleware, against
//! a running test server. No test waits on a clock: a job is followed through the jobs
//! registry's change notifications until it has finished.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use calcard::{Entry, Parser};
use serde_json::{json, Value};

use common::{TestServer, PASSWORD};
use ferrymail::http::jobs::{JobState, Jobs};
use ferrymail::http::server::app;
use ferrymail::http::{Front, Listener};

const ROOT: &str = "root@example.com";
const DOM: &str = "dom@example.org";
const CAROL: &str = "carol@example.org";
const BOB: &str = "bob@example.com";
/// A server administrator in the domain admin's domain: visible to it, not changeable.
const CHIEF: &str = "chief@example.org";
/// The most job changes a test waits for.
const MAX_CHANGES: usize = 1_000_000;

fn server() -> TestServer {
    let s = TestServer::start();
    let store = s.store();
    store.add_account(ROOT, PASSWORD, true).unwrap();
    store.add_domain("example.org").unwrap();
    store.add_account(DOM, PASSWORD, false).unwrap();
    store.add_account(CAROL, PASSWORD, false).unwrap();
    store.add_account(CHIEF, PASSWORD, true).unwrap();
    store.add_domain_admin(DOM, "example.org").unwrap();
    store.commit().unwrap();
    s
}

fn basic(who: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{who}:{PASSWORD}"))
    )
}

fn request(method: &str, path: &str, who: &str) -> TestRequest {
    TestRequest::default()
        .method(method.parse().unwrap())
        .uri(path)
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .insert_header((header::AUTHORIZATION, basic(who)))
}

async fn send<S, B>(svc: &S, req: TestRequest) -> (StatusCode, String, web::Bytes)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let res = test::call_service(svc, req.to_request()).await;
    let status = res.status();
    let ct = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ct, test::read_body(res).await)
}

async fn json_of<S, B>(svc: &S, req: TestRequest) -> (StatusCode, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    let (st, _, body) = send(svc, req).await;
    let v = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
    };
    (st, v)
}

/// `n` events (every tenth recurring with one moved instance, in a zone given once) and
/// `bad` events without UID, in one VCALENDAR.
fn calendar_file(n: usize, bad: usize) -> String {
    let mut s = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Import//EN\r\n\
BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:STANDARD\r\nDTSTART:19701025T030000\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n\
BEGIN:DAYLIGHT\r\nDTSTART:19700329T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n",
    );
    for i in 0..n {
        if i % 10 == 0 {
            s.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:ev-{i}\r\nDTSTAMP:20260101T000000Z\r\n\
DTSTART;TZID=Europe/Paris:20260105T090000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=5\r\n\
SUMMARY:Weekly {i}\r\nBEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:soon\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:ev-{i}\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID;TZID=Europe/Paris:20260112T090000\r\n\
DTSTART;TZID=Europe/Paris:20260112T100000\r\nDURATION:PT1H\r\nSUMMARY:Moved {i}\r\nEND:VEVENT\r\n"
            ));
        } else {
            s.push_str(&format!(
                "BEGIN:VEVENT\r\nUID:ev-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:2026{:02}{:02}T100000Z\r\n\
DURATION:PT45M\r\nSUMMARY:Event {i}\r\nLOCATION:Room {}\r\nEND:VEVENT\r\n",
                1 + i % 12,
                1 + i % 28,
                i % 7
            ));
        }
    }
    for j in 0..bad {
        s.push_str(&format!(
            "BEGIN:VEVENT\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260301T100000Z\r\nSUMMARY:bad {j}\r\nEND:VEVENT\r\n"
        ));
    }
    s.push_str("END:VCALENDAR\r\n");
    s
}

/// UID → every top-level component of its objects in `text` (one file or many objects),
/// written alone by calcard, sorted. VTIMEZONEs are keyed `tz:` + TZID.
fn by_uid<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for text in texts {
        let mut p = Parser::new(text);
        let mut guard = 0;
        while let Entry::ICalendar(cal) = p.entry() {
            guard += 1;
            assert!(guard < 100_000);
            for id in &cal.components[0].component_ids {
                let c = &cal.components[*id as usize];
                let key = match c.uid() {
                    Some(u) => u.to_string(),
                    None => format!(
                        "tz:{}",
                        c.property(&calcard::icalendar::ICalendarProperty::Tzid)
                            .and_then(|e| e.values.first())
                            .and_then(|v| v.as_text())
                            .unwrap_or("")
                    ),
                };
                // The component with its children, as calcard writes it.
                let mut one = calcard::icalendar::ICalendar {
                    components: vec![calcard::icalendar::ICalendarComponent {
                        component_type: calcard::icalendar::ICalendarComponentType::VCalendar,
                        entries: vec![],
                        component_ids: vec![1],
                    }],
                };
                let base = one.components.len() as u32;
                let mut copy = c.clone();
                copy.component_ids = c
                    .component_ids
                    .iter()
                    .enumerate()
                    .map(|(k, _)| base + 1 + k as u32)
                    .collect();
                one.components.push(copy);
                for child in &c.component_ids {
                    let mut cc = cal.components[*child as usize].clone();
                    assert!(cc.component_ids.is_empty(), "one level of children here");
                    cc.component_ids.clear();
                    one.components.push(cc);
                }
                out.entry(key).or_default().push(one.to_string());
            }
        }
    }
    for v in out.values_mut() {
        v.sort();
        v.dedup();
    }
    out
}

/// Waits (on the registry's notifications, not a clock) until job `id` has finished;
/// returns its last state and how many distinct `done` values were seen while it ran.
async fn finished(jobs: &Arc<Jobs>, id: u64) -> (ferrymail::http::jobs::Job, usize) {
    let mut rx = jobs.subscribe();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..MAX_CHANGES {
        let job = jobs.get(id).expect("the job is known");
        if job.state == JobState::Running {
            seen.insert(job.done);
        } else {
            return (job, seen.len());
        }
        rx.changed().await.expect("the registry lives");
    }
    panic!("job {id} did not finish within {MAX_CHANGES} changes");
}

#[test]
fn collections_over_the_api_with_an_import_job_of_ten_thousand_events() {
    let s = server();
    let ctx = s.handle().ctx.clone();
    actix_rt::System::new().block_on(async move {
        let front = Front {
            listener: Listener::Admin,
            https_port: None,
        };
        let jobs = Jobs::new();
        let svc = test::init_service(
            app(web::Data::new(Arc::clone(&ctx)), front, |cfg| {
                ferrymail::http::api::configure(cfg)
            })
            .app_data(web::Data::new(jobs.clone())),
        )
        .await;
        let base = format!("/api/v1/accounts/{CAROL}/collections");

        // The defaults, listed.
        let (st, v) = json_of(&svc, request("GET", &base, ROOT)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["calendar", "contacts", "tasks"]);
        assert_eq!(v["items"][1]["kind"], "addressbook");
        assert_eq!(v["items"][2]["components"], json!(["VTODO"]));

        // Create (201), again (409), bad name (422), user (403), delete (204).
        let (st, v) = json_of(
            &svc,
            request("POST", &base, DOM).set_json(json!({"name": "big", "display_name": "Big one"})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(
            (v["kind"].as_str(), v["objects"].as_u64()),
            (Some("calendar"), Some(0))
        );
        let (st, v) = json_of(
            &svc,
            request("POST", &base, DOM).set_json(json!({"name": "big"})),
        )
        .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let (st, _) = json_of(
            &svc,
            request("POST", &base, DOM).set_json(json!({"name": "../x"})),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        // An import without a file, or of something that is no calendar, is refused.
        let (st, v) = json_of(
            &svc,
            request("POST", &format!("{base}/calendar/import"), ROOT),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, v) = json_of(
            &svc,
            request("POST", &format!("{base}/calendar/import"), ROOT)
                .insert_header((header::CONTENT_TYPE, "text/vcard"))
                .set_payload("{}"),
        )
        .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        // Scheduling's names are kept.
        let (st, v) = json_of(
            &svc,
            request("POST", &base, DOM).set_json(json!({"name": "inbox", "kind": "addressbook"})),
        )
        .await;
        assert!(st.is_client_error(), "{st} {v}");
        // A console line sent to the API cannot read or write files on the server.
        for line in [
            format!("calendar import {CAROL} calendar /etc/passwd"),
            format!("calendar export {CAROL} calendar exported.ics"),
        ] {
            let (st, v) = json_of(
                &svc,
                request("POST", "/api/v1/command", ROOT).set_json(json!({ "line": line })),
            )
            .await;
            assert!(st.is_client_error(), "{line}: {st} {v}");
            assert!(v.to_string().contains("console"), "{v}");
        }
        assert!(!std::path::Path::new("exported.ics").exists());
        let (st, _) = json_of(&svc, request("GET", &base, BOB)).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let (st, v) = json_of(
            &svc,
            request("POST", &base, ROOT).set_json(json!({"name": "gone", "kind": "addressbook"})),
        )
        .await;
        assert_eq!(
            (st, v["kind"].as_str()),
            (StatusCode::CREATED, Some("addressbook"))
        );
        let (st, _) = json_of(&svc, request("DELETE", &format!("{base}/gone"), ROOT)).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = json_of(&svc, request("GET", &format!("{base}/gone"), ROOT)).await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // A domain admin does not reach another domain's account: 404, as if absent.
        let other = format!("/api/v1/accounts/{BOB}/collections");
        for (m, path) in [
            ("GET", other.clone()),
            ("GET", format!("{other}/calendar")),
            ("GET", format!("{other}/calendar/export")),
            ("DELETE", format!("{other}/calendar")),
            ("POST", format!("{other}/calendar/import")),
        ] {
            let (st, v) = json_of(&svc, request(m, &path, DOM).set_payload("x")).await;
            assert_eq!(st, StatusCode::NOT_FOUND, "{m} {path}: {v}");
            assert_eq!(v["error"]["code"], "not_found");
        }
        let (st, v) = json_of(
            &svc,
            request("POST", &other, DOM).set_json(json!({"name": "x"})),
        )
        .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
        assert!(s_store(&ctx).dav_collection(BOB, "x").unwrap().is_none());

        // A server admin in its domain: seen (200), but not changed (403, nothing done).
        let chief = format!("/api/v1/accounts/{CHIEF}/collections");
        let (st, v) = json_of(&svc, request("GET", &chief, DOM)).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        for (m, path) in [
            ("DELETE", format!("{chief}/calendar")),
            ("POST", format!("{chief}/calendar/import")),
        ] {
            let (st, v) = json_of(
                &svc,
                request(m, &path, DOM)
                    .insert_header((header::CONTENT_TYPE, "text/calendar"))
                    .set_payload("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"),
            )
            .await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{m} {path}: {v}");
            assert_eq!(v["error"]["code"], "forbidden");
        }
        let (st, v) = json_of(
            &svc,
            request("POST", &chief, DOM).set_json(json!({"name": "x"})),
        )
        .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        assert!(s_store(&ctx).dav_collection(CHIEF, "x").unwrap().is_none());
        assert!(s_store(&ctx)
            .dav_collection(CHIEF, "calendar")
            .unwrap()
            .is_some());

        // 10,000 events and 2 invalid ones, as a job with progress.
        let file = calendar_file(10_000, 2);
        let (st, job) = json_of(
            &svc,
            request("POST", &format!("{base}/big/import"), DOM)
                .insert_header((header::CONTENT_TYPE, "text/calendar"))
                .set_payload(file.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED, "{job}");
        assert_eq!(job["kind"], "collection_import");
        let id = job["id"].as_u64().unwrap();
        let (done, running_states) = finished(&jobs, id).await;
        eprintln!("import job: {running_states} distinct progress values seen while running");
        assert_eq!(done.phase, "import");
        // Every item of the file, the invalid ones included.
        assert_eq!((done.done, done.total), (10_002, 10_002));
        let result = done.result.clone().unwrap();
        assert!(result.contains("10000 stored (10000 new"), "{result}");
        assert!(result.contains("2 invalid"), "{result}");
        assert_eq!(
            result.matches("a VEVENT without UID").count(),
            2,
            "{result}"
        );
        assert!(done.error.unwrap().contains("2 invalid"));
        // The API shows the job to its owner.
        let (st, v) = json_of(&svc, request("GET", &format!("/api/v1/jobs/{id}"), DOM)).await;
        assert_eq!((st, v["state"].as_str()), (StatusCode::OK, Some("failed")));
        let (st, v) = json_of(&svc, request("GET", &format!("{base}/big"), ROOT)).await;
        assert_eq!(
            (st, v["objects"].as_u64()),
            (StatusCode::OK, Some(10_000)),
            "{v}"
        );

        // Export, import the export elsewhere, and compare with calcard.
        let (st, ct, body) = send(&svc, request("GET", &format!("{base}/big/export"), DOM)).await;
        assert_eq!(st, StatusCode::OK);
        assert!(ct.starts_with("text/calendar"), "{ct}");
        let exported = String::from_utf8(body.to_vec()).unwrap();
        assert_eq!(exported.matches("BEGIN:VTIMEZONE").count(), 1);
        let original = by_uid([file.as_str()]);
        let after_export = by_uid([exported.as_str()]);
        assert_eq!(after_export.len(), 10_001, "every UID and the zone");
        // The events without UID (keyed "tz:" by `by_uid`) are the ones left out.
        let expected: BTreeMap<_, _> = original.into_iter().filter(|(k, _)| k != "tz:").collect();
        assert!(after_export == expected, "the export differs from the file");
        let (st, _) = json_of(
            &svc,
            request("POST", &base, DOM).set_json(json!({"name": "again"})),
        )
        .await;
        assert_eq!(st, StatusCode::CREATED);
        let (st, job) = json_of(
            &svc,
            request("POST", &format!("{base}/again/import"), DOM).set_payload(exported.clone()),
        )
        .await;
        assert_eq!(st, StatusCode::ACCEPTED);
        let (done, _) = finished(&jobs, job["id"].as_u64().unwrap()).await;
        assert_eq!(done.state, JobState::Done, "{done:?}");
        let store = s_store(&ctx);
        let coll = store.dav_collection(CAROL, "again").unwrap().unwrap();
        let stored = store.dav_objects(coll.id).unwrap();
        assert_eq!(stored.len(), 10_000);
        let again = by_uid(stored.iter().map(|o| o.data.as_str()));
        assert!(
            again == after_export,
            "the second import differs from the export"
        );

        // An address book exports as vCard.
        let (st, ct, _) = send(
            &svc,
            request("GET", &format!("{base}/contacts/export"), ROOT),
        )
        .await;
        assert_eq!(st, StatusCode::OK);
        assert!(ct.starts_with("text/vcard"), "{ct}");
    });
}

fn s_store(ctx: &ferrymail::actors::ServerContext) -> &ferrymail::storage::Store {
    &ctx.store
}

#[test]
fn the_console_imports_with_progress_lines_and_exports() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.ics");
    std::fs::write(&file, calendar_file(2_000, 1)).unwrap();
    let sock = ferrymail::admin::socket::socket_path(&s.data_dir());
    let mut progress = Vec::new();
    let line = format!("calendar import {CAROL} calendar {}", file.display());
    let r = ferrymail::admin::control::client_request_with_progress(
        &sock,
        &line,
        Duration::from_secs(120),
        &mut |p| progress.push(p.to_string()),
    )
    .expect("the console socket answers");
    assert!(r.ok, "{}", r.output);
    assert!(
        r.output.contains("2000 stored") && r.output.contains("1 invalid"),
        "{}",
        r.output
    );
    // About one line per percent of the 2001 items, the last one complete.
    assert!(
        (100..=101).contains(&progress.len()),
        "one line per percent: {progress:?}"
    );
    assert_eq!(progress.last().unwrap(), "import: 2001/2001");
    // A client that does not read progress still gets the answer.
    let (ok, out) = s.console(&format!("calendar list {CAROL}"));
    assert!(ok && out.contains("2000"), "{out}");
    let out_file = dir.path().join("out.ics");
    let (ok, out) = s.console(&format!(
        "calendar export {CAROL} calendar {}",
        out_file.display()
    ));
    assert!(ok, "{out}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(by_uid([text.as_str()]).len(), 2_001);
}
