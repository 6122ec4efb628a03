//! The webmail calendar through the real routes: an event made, changed and deleted from
//! the form and shown in the month, week and day views (today marked), a weekly event
//! expanded in the month view, a stale ETag answered with a conflict and nothing stored,
//! Accept on an invitation setting the account's PARTSTAT, a post without the CSRF token
//! refused, and another account's events out of reach.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::test_support::service;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::storage::davstore::{Condition, DavObject, NewObject, PutOutcome};

pub(super) const ALICE: &str = "alice@example.com";
pub(super) const ROOT: &str = "root@example.com";

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let location = res
            .headers()
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = test::read_body(res).await;
        (
            status,
            String::from_utf8_lossy(&bytes).into_owned(),
            location,
        )
    }};
}
pub(super) use body_of;

/// Logs `$who` in; (session cookie, CSRF token of its calendar page).
macro_rules! log_in {
    ($svc:expr, $who:expr) => {{
        let body = format!("address={}&password={}", $who, PASSWORD.replace(' ', "+"));
        let req = TestRequest::post()
            .uri("/login")
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body);
        let res = test::call_service($svc, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&res).expect("a session cookie").0;
        let (status, page, _) = body_of!($svc, get(&cookie, "/calendar"));
        assert_eq!(status, StatusCode::OK, "{page}");
        (cookie, csrf_of(&page))
    }};
}
pub(super) use log_in;

pub(super) fn csrf_of(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string()
}

pub(super) fn get(cookie: &str, uri: &str) -> TestRequest {
    TestRequest::get()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
}

pub(super) fn post(cookie: &str, uri: &str, body: &str) -> TestRequest {
    TestRequest::post()
        .uri(uri)
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={cookie}")))
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .set_payload(body.to_string())
}

pub(super) fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// A hidden field's value on `page`.
pub(super) fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    page.split(&marker)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in {page}"))
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
}

/// The objects of `owner`'s collection `coll`.
pub(super) fn objects(w: &World, owner: &str, coll: &str) -> Vec<DavObject> {
    let c = w.ctx.store.dav_collections(owner).unwrap();
    let c = c.iter().find(|c| c.name == coll).expect("collection");
    w.ctx.store.dav_objects(c.id).unwrap()
}

/// Stores a calendar object in `owner`'s `calendar` as a CalDAV client would.
pub(super) fn put_event(w: &World, owner: &str, name: &str, data: &str) -> DavObject {
    let c = w.ctx.store.dav_collections(owner).unwrap();
    let c = c.iter().find(|c| c.name == "calendar").unwrap();
    let obj = validate_calendar(data, &[ComponentKind::Event], 1 << 20).unwrap();
    let new = NewObject {
        name: name.into(),
        uid: obj.uid,
        data: data.into(),
        component: "VEVENT".into(),
        first: obj.first,
        last: obj.last,
    };
    match w.ctx.store.dav_put(c.id, &new, &Condition::Any).unwrap() {
        PutOutcome::Stored { object, .. } => object,
        other => panic!("{other:?}"),
    }
}

fn event_form<'a>(csrf: &'a str, title: &'a str, extra: &[(&'a str, &'a str)]) -> String {
    let mut pairs = vec![
        ("csrf", csrf),
        ("action", "save"),
        ("cal", "calendar"),
        ("name", ""),
        ("etag", ""),
        ("title", title),
        ("start_date", "2027-01-20"),
        ("start_time", "14:00"),
        ("end_date", "2027-01-20"),
        ("end_time", "15:30"),
        ("location", "Room 4"),
        ("description", "agenda"),
        ("repeat", "never"),
        ("attendees", ""),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        pairs.push((k, v));
    }
    form(&pairs)
}

#[actix_web::test]
async fn an_event_is_made_shown_changed_and_deleted() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    // The layout links to the calendar and contacts; today (T0: 2027-01-15) is marked.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar"));
    assert!(page.contains("id=\"calendar-link\""), "{page}");
    assert!(page.contains("id=\"contacts-link\""), "{page}");
    assert!(page.contains("January 2027"), "{page}");
    assert!(
        page.contains("data-date=\"2027-01-15\" aria-current=\"date\""),
        "{page}"
    );

    let (status, _, location) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_form(&csrf, "Design review", &[])
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/calendar?view=week&date=2027-01-20");
    let stored = objects(&w, ALICE, "calendar");
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].data.contains("SUMMARY:Design review"),
        "{}",
        stored[0].data
    );
    assert!(
        stored[0].data.contains("DTSTART:20270120T140000Z"),
        "{}",
        stored[0].data
    );

    for view in ["month", "week", "day"] {
        let (_, page, _) = body_of!(
            &svc,
            get(&cookie, &format!("/calendar?view={view}&date=2027-01-20"))
        );
        assert!(page.contains("Design review"), "{view}: {page}");
        assert!(page.contains("14:00–15:30"), "{view}: {page}");
    }
    // Not in February.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=month&date=2027-02-10"));
    assert!(!page.contains("Design review"), "{page}");

    // Edit: the form carries the ETag; the change is stored under the same name.
    let href = format!(
        "/calendar/event?cal=calendar&name={}",
        form_urlencoded::byte_serialize(stored[0].name.as_bytes()).collect::<String>()
    );
    let (status, page, _) = body_of!(&svc, get(&cookie, &href));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("value=\"Design review\""), "{page}");
    let etag = hidden(&page, "etag");
    assert_eq!(etag, stored[0].etag);
    let body = event_form(
        &csrf,
        "Design review (moved)",
        &[
            ("name", &stored[0].name),
            ("etag", &etag),
            ("start_time", "16:00"),
            ("end_time", "17:00"),
        ],
    );
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = objects(&w, ALICE, "calendar");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].name, stored[0].name);
    assert!(after[0].data.contains("SUMMARY:Design review (moved)"));
    assert!(after[0].data.contains("SEQUENCE:1"), "{}", after[0].data);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=day&date=2027-01-20"));
    assert!(page.contains("16:00–17:00"), "{page}");

    // Delete, with the current ETag.
    let body = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("cal", "calendar"),
        ("name", &after[0].name),
        ("etag", &after[0].etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(objects(&w, ALICE, "calendar").is_empty());
}

#[actix_web::test]
async fn times_follow_the_users_zone_and_bad_forms_are_refused() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let body = form(&[
        ("csrf", &csrf),
        ("action", "prefs"),
        ("display_name", ""),
        ("signature", ""),
        ("time_zone", "Europe/Paris"),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/settings", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_form(&csrf, "Paris time", &[])
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    let stored = objects(&w, ALICE, "calendar");
    assert!(
        stored[0]
            .data
            .contains("DTSTART;TZID=Europe/Paris:20270120T140000"),
        "{}",
        stored[0].data
    );
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=day&date=2027-01-20"));
    assert!(page.contains("14:00–15:30"), "{page}");
    assert!(page.contains("Times in Europe/Paris"), "{page}");

    // An end before the start: 422 with the reason, nothing stored.
    let bad = event_form(&csrf, "Backwards", &[("end_time", "13:00")]);
    let (status, page, _) = body_of!(&svc, post(&cookie, "/calendar/event", &bad));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("ends before it starts"), "{page}");
    let bad = event_form(&csrf, "Who", &[("attendees", "not an address")]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &bad));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(objects(&w, ALICE, "calendar").len(), 1);
}

#[actix_web::test]
async fn a_weekly_event_is_expanded_in_the_month_view() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let body = event_form(
        &csrf,
        "Standup",
        &[
            ("start_date", "2027-01-04"),
            ("end_date", "2027-01-04"),
            ("repeat", "weekly"),
            ("start_time", "09:00"),
            ("end_time", "09:15"),
        ],
    );
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    // An all-day event from a CalDAV client, monthly, two instances only.
    put_event(
        &w,
        ALICE,
        "rent.ics",
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:rent\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20261228\r\nSUMMARY:Rent\r\n\
RRULE:FREQ=MONTHLY;COUNT=2\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    );
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=month&date=2027-01-01"));
    // January 2027's grid runs from Monday 28 December to Sunday 31 January: Mondays
    // 4, 11, 18, 25 (the 28th of December is before the rule's start).
    assert_eq!(page.matches("Standup").count(), 4, "{page}");
    for d in ["2027-01-04", "2027-01-11", "2027-01-18", "2027-01-25"] {
        let cell = page.split(&format!("data-date=\"{d}\"")).nth(1).unwrap();
        let cell = cell.split("</td>").next().unwrap();
        assert!(cell.contains("Standup"), "{d}: {cell}");
        assert!(cell.contains("09:00–09:15"), "{d}: {cell}");
    }
    // Rent: 28 December (shown, outside the month) and 28 January, all day.
    assert_eq!(page.matches("Rent").count(), 2, "{page}");
    let cell = page.split("data-date=\"2027-01-28\"").nth(1).unwrap();
    assert!(cell.split("</td>").next().unwrap().contains("all day"));
    // February: four more Mondays, no rent.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=month&date=2027-02-01"));
    assert_eq!(page.matches("Standup").count(), 4, "{page}");
    assert!(!page.contains("Rent"), "{page}");
    // The event form shows the simple repeat.
    let name = &objects(&w, ALICE, "calendar")
        .into_iter()
        .find(|o| o.data.contains("Standup"))
        .unwrap()
        .name;
    let (_, page, _) = body_of!(
        &svc,
        get(
            &cookie,
            &format!("/calendar/event?cal=calendar&name={name}")
        )
    );
    assert!(
        page.contains("<option value=\"weekly\" selected>"),
        "{page}"
    );
}

#[actix_web::test]
async fn a_stale_etag_gets_a_conflict_and_changes_nothing() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let (status, _, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_form(&csrf, "Original", &[])
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    let first = objects(&w, ALICE, "calendar").remove(0);
    // Another client changes it.
    let changed = first
        .data
        .replace("SUMMARY:Original", "SUMMARY:Changed elsewhere");
    let theirs = put_event(&w, ALICE, &first.name, &changed);
    // The form drawn before still carries the old ETag.
    let body = event_form(
        &csrf,
        "Mine",
        &[("name", &first.name), ("etag", &first.etag)],
    );
    let (status, page, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("changed by someone else"), "{page}");
    assert!(
        page.contains("value=\"Mine\""),
        "the user's version is kept: {page}"
    );
    assert_eq!(hidden(&page, "etag"), theirs.etag);
    let now = objects(&w, ALICE, "calendar");
    assert_eq!(now.len(), 1);
    assert!(now[0].data.contains("SUMMARY:Changed elsewhere"));
    // A delete with the stale ETag too.
    let body = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("cal", "calendar"),
        ("name", &first.name),
        ("etag", &first.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(objects(&w, ALICE, "calendar").len(), 1);
    // With the ETag the conflict page gave, the save goes through.
    let body = event_form(
        &csrf,
        "Mine",
        &[("name", &first.name), ("etag", &theirs.etag)],
    );
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(objects(&w, ALICE, "calendar")[0]
        .data
        .contains("SUMMARY:Mine"));
}

const INVITE: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\n\
UID:inv-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20270122T100000Z\r\nDTEND:20270122T110000Z\r\n\
SUMMARY:Budget\r\nORGANIZER;CN=Carol:mailto:carol@example.org\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@example.org\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com\r\n\
X-OTHER-CLIENT:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[actix_web::test]
async fn accept_on_an_invitation_sets_the_partstat() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let obj = put_event(&w, ALICE, "inv.ics", INVITE);
    let (status, page, _) = body_of!(
        &svc,
        get(&cookie, "/calendar/event?cal=calendar&name=inv.ics")
    );
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Invitation from carol@example.org"), "{page}");
    assert!(page.contains("id=\"rsvp-accept\""), "{page}");
    assert!(page.contains("NEEDS-ACTION"), "{page}");
    // The invitation's fields are the organizer's: shown disabled, without Save, and a
    // save posted anyway is refused with nothing changed.
    assert!(page.contains("id=\"invite-readonly\""), "{page}");
    assert!(!page.contains("id=\"event-save\""), "{page}");
    let etag0 = hidden(&page, "etag");
    let (status, page2, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_form(
                &csrf,
                "Hijacked",
                &[("name", "inv.ics"), ("etag", etag0.as_str())]
            )
        )
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page2}");
    assert!(page2.contains("only your answer"), "{page2}");
    assert_eq!(objects(&w, ALICE, "calendar")[0].data, obj.data);
    let body = form(&[
        ("csrf", &csrf),
        ("action", "accept"),
        ("cal", "calendar"),
        ("name", "inv.ics"),
        ("etag", &obj.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let data = objects(&w, ALICE, "calendar").remove(0).data;
    let line = data
        .lines()
        .find(|l| l.contains("mailto:alice@example.com"))
        .unwrap();
    assert!(line.contains("PARTSTAT=ACCEPTED"), "{data}");
    assert!(!line.contains("RSVP"), "{data}");
    assert!(data.contains("X-OTHER-CLIENT:kept"), "{data}");
    let carol = data
        .lines()
        .find(|l| l.starts_with("ATTENDEE") && l.contains("carol"))
        .unwrap();
    assert!(carol.contains("PARTSTAT=ACCEPTED"));
    let (_, page, _) = body_of!(
        &svc,
        get(&cookie, "/calendar/event?cal=calendar&name=inv.ics")
    );
    assert!(
        page.contains("<strong id=\"my-partstat\">ACCEPTED</strong>"),
        "{page}"
    );
    // Decline then, with the new ETag.
    let etag = hidden(&page, "etag");
    let body = form(&[
        ("csrf", &csrf),
        ("action", "decline"),
        ("cal", "calendar"),
        ("name", "inv.ics"),
        ("etag", &etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(objects(&w, ALICE, "calendar")[0]
        .data
        .contains("PARTSTAT=DECLINED"));
    // An event the account organises shows no answer buttons.
    let (status, _, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_form(
                &csrf,
                "Mine",
                &[("attendees", "bob@example.org, root@example.com")]
            )
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    // Scheduling ran before the answer: the local invitee has the event, to be answered.
    let theirs = objects(&w, ROOT, "calendar")
        .into_iter()
        .find(|o| o.data.contains("SUMMARY:Mine"))
        .expect("the invitation in root's calendar");
    assert!(
        theirs.data.contains("PARTSTAT=NEEDS-ACTION"),
        "{}",
        theirs.data
    );
    let mine = objects(&w, ALICE, "calendar")
        .into_iter()
        .find(|o| o.data.contains("SUMMARY:Mine"))
        .unwrap();
    assert!(
        mine.data.contains("ORGANIZER:mailto:alice@example.com"),
        "{}",
        mine.data
    );
    let (_, page, _) = body_of!(
        &svc,
        get(
            &cookie,
            &format!("/calendar/event?cal=calendar&name={}", mine.name)
        )
    );
    assert!(!page.contains("rsvp-accept"), "{page}");
    assert!(page.contains("bob@example.org"), "{page}");
}

#[actix_web::test]
async fn no_csrf_token_no_write_and_other_accounts_are_out_of_reach() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let body = event_form(&csrf, "Forged", &[]).replace(&format!("csrf={csrf}&"), "");
    assert!(!body.contains("csrf"));
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(objects(&w, ALICE, "calendar").is_empty());

    // Root's event: alice cannot open, change, answer or delete it, nor see it.
    let theirs = put_event(
        &w,
        ROOT,
        "root.ics",
        &INVITE.replace("alice@example.com", "root@example.com"),
    );
    let (status, _, _) = body_of!(
        &svc,
        get(&cookie, "/calendar/event?cal=calendar&name=root.ics")
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    for action in ["delete", "accept"] {
        let body = form(&[
            ("csrf", &csrf),
            ("action", action),
            ("cal", "calendar"),
            ("name", "root.ics"),
            ("etag", &theirs.etag),
        ]);
        let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
        assert_eq!(status, StatusCode::NOT_FOUND, "{action}");
    }
    let (status, _, _) = body_of!(
        &svc,
        get(&cookie, "/calendar/event?cal=nosuch&name=root.ics")
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=week&date=2027-01-22"));
    assert!(!page.contains("Budget"), "{page}");
    assert_eq!(objects(&w, ROOT, "calendar"), vec![theirs]);
    // Without a session: to the login page.
    let res = test::call_service(
        &svc,
        TestRequest::get()
            .uri("/calendar")
            .peer_addr(peer())
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}
