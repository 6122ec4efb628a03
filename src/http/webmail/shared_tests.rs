//! Shared calendars and address books in the webmail, and new times proposed and
//! answered (COUNTER), through the real routes with logged-in sessions: alice shares her
//! calendar and address book with root, first read-only (root sees her events and cards
//! with her name, and every write it posts is refused with nothing changed), then with
//! "w"+"i" (root edits, but may not delete), then with "t" (root deletes).

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::calendar_tests::{
    body_of, csrf_of, form, get, hidden, log_in, objects, post, ALICE, ROOT,
};
use super::test_support::service;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD};
use crate::protocols::caldav::validate::{parse_calendar, validate_calendar, ComponentKind};
use crate::protocols::carddav::validate::validate_card;
use crate::protocols::itip::{self, Method};
use crate::storage::davstore::{Condition, DavObject, NewObject, PutOutcome};

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n\
BEGIN:VEVENT\r\nUID:standup-1\r\nDTSTAMP:20270101T090000Z\r\n\
DTSTART:20270120T090000Z\r\nDTEND:20270120T093000Z\r\nSUMMARY:Team standup\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:urn:uuid:grace\r\nFN:Grace Hopper\r\n\
EMAIL:grace@navy.example\r\nEND:VCARD\r\n";

fn put(w: &World, owner: &str, coll: &str, name: &str, data: &str) -> DavObject {
    let c = w.ctx.store.dav_collection(owner, coll).unwrap().unwrap();
    let (uid, component, first, last) = if coll == "contacts" {
        let o = validate_card(data, 1 << 20).unwrap();
        (o.uid, "VCARD".to_string(), None, None)
    } else {
        let o = validate_calendar(data, &[ComponentKind::Event], 1 << 20).unwrap();
        (o.uid, "VEVENT".to_string(), o.first, o.last)
    };
    let new = NewObject {
        name: name.into(),
        uid,
        data: data.into(),
        component,
        first,
        last,
    };
    match w.ctx.store.dav_put(c.id, &new, &Condition::Any).unwrap() {
        PutOutcome::Stored { object, .. } => object,
        other => panic!("{other:?}"),
    }
}

fn share(w: &World, owner: &str, coll: &str, with: &str, rights: &str) {
    let c = w.ctx.store.dav_collection(owner, coll).unwrap().unwrap();
    w.ctx.store.dav_set_acl(c.id, with, rights).unwrap();
}

fn event_edit<'a>(csrf: &'a str, etag: &'a str, title: &'a str) -> String {
    form(&[
        ("csrf", csrf),
        ("action", "save"),
        ("cal", "alice@example.com/calendar"),
        ("name", "standup.ics"),
        ("etag", etag),
        ("title", title),
        ("start_date", "2027-01-20"),
        ("start_time", "09:00"),
        ("end_date", "2027-01-20"),
        ("end_time", "09:30"),
        ("location", ""),
        ("description", ""),
        ("repeat", "never"),
        ("attendees", ""),
    ])
}

const SHARED_EVENT: &str = "/calendar/event?cal=alice%40example.com%2Fcalendar&name=standup.ics";

/// A DAV lock taken by `owner` on its object (as a LOCK request would); its token.
fn dav_lock(owner: &str, coll: &str, name: &str) -> String {
    use crate::http::dav::locks::{key_of, table, Lock};
    use crate::http::dav::Target;
    let (space, root) = key_of(&Target::Object {
        owner: owner.into(),
        kind: crate::storage::davstore::CollectionKind::Calendar,
        collection: coll.into(),
        name: name.into(),
    })
    .unwrap();
    let token = format!("urn:uuid:test-lock-{owner}-{name}");
    table().push(Lock {
        token: token.clone(),
        account: space,
        root,
        deep: false,
        scope: crate::protocols::webdav::request::LockScope::Exclusive,
        owner: None,
        timeout: 600,
        expires: std::time::Instant::now() + std::time::Duration::from_secs(600),
        href: String::new(),
        by: owner.into(),
    });
    token
}

#[actix_web::test]
async fn a_calendar_shared_read_only_then_read_write_then_with_delete() {
    let w = world("");
    let svc = service!(w);
    let obj = put(&w, ALICE, "calendar", "standup.ics", EVENT);
    // Before sharing: alice's calendar is out of root's reach.
    let (cookie, csrf) = log_in!(&svc, ROOT);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=week&date=2027-01-20"));
    assert!(!page.contains("Team standup"), "{page}");
    let (status, _, _) = body_of!(&svc, get(&cookie, SHARED_EVENT));
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Read-only: listed with its owner, the event in month, week and day views.
    share(&w, ALICE, "calendar", ROOT, "lr");
    for view in ["month", "week", "day"] {
        let (_, page, _) = body_of!(
            &svc,
            get(&cookie, &format!("/calendar?view={view}&date=2027-01-20"))
        );
        assert!(page.contains("Team standup"), "{view}: {page}");
        assert!(page.contains("09:00–09:30"), "{view}: {page}");
        assert!(
            page.contains("shared by alice@example.com"),
            "{view}: {page}"
        );
        assert!(page.contains("(read only)"), "{view}: {page}");
    }
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar?view=week&date=2027-01-20"));
    assert!(
        page.contains("cal=alice%40example.com%2Fcalendar&#38;name=standup.ics"),
        "{page}"
    );
    let (status, page, _) = body_of!(&svc, get(&cookie, SHARED_EVENT));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Team standup"), "{page}");
    assert!(page.contains("shared with you read-only"), "{page}");
    assert!(!page.contains("id=\"event-save\""), "{page}");
    assert!(!page.contains("id=\"event-delete\""), "{page}");
    // A new event offers only root's own calendars.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar/event?date=2027-01-21"));
    assert!(!page.contains("alice@example.com/calendar"), "{page}");

    // Whatever the form sends, the server refuses: edit, delete, a new event there.
    let (status, page, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_edit(&csrf, &obj.etag, "Hijacked")
        )
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("read-only"), "{page}");
    let del = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("cal", "alice@example.com/calendar"),
        ("name", "standup.ics"),
        ("etag", &obj.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &del));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let new = event_edit(&csrf, "", "Squatter").replace("name=standup.ics", "name=");
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &new));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let stored = objects(&w, ALICE, "calendar");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].data, obj.data);

    // "w"+"i": root edits alice's event (If-Match the page's ETag) but may not delete.
    share(&w, ALICE, "calendar", ROOT, "lrwi");
    let (_, page, _) = body_of!(&svc, get(&cookie, SHARED_EVENT));
    assert!(page.contains("id=\"event-save\""), "{page}");
    assert!(!page.contains("id=\"event-delete\""), "{page}");
    let etag = hidden(&page, "etag");
    let (status, page, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_edit(&csrf, &etag, "Standup (moved)")
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let stored = objects(&w, ALICE, "calendar");
    assert!(
        stored[0].data.contains("SUMMARY:Standup (moved)"),
        "{}",
        stored[0].data
    );

    // A calendar client's DAV LOCK on the event: the webmail (no lock token) is refused
    // and nothing changes; unlocked, the same edit goes through.
    let token = dav_lock(ALICE, "calendar", "standup.ics");
    let (_, page, _) = body_of!(&svc, get(&cookie, SHARED_EVENT));
    let etag = hidden(&page, "etag");
    let (status, page, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_edit(&csrf, &etag, "Locked out")
        )
    );
    assert_ne!(status, StatusCode::SEE_OTHER, "{page}");
    assert!(page.contains("locked"), "{page}");
    assert_eq!(objects(&w, ALICE, "calendar")[0].data, stored[0].data);
    crate::http::dav::locks::table().retain(|l| l.token != token);
    let (status, page, _) = body_of!(
        &svc,
        post(
            &cookie,
            "/calendar/event",
            &event_edit(&csrf, &etag, "Standup (moved)")
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let stored = objects(&w, ALICE, "calendar");
    let del = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("cal", "alice@example.com/calendar"),
        ("name", "standup.ics"),
        ("etag", &stored[0].etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &del));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(objects(&w, ALICE, "calendar").len(), 1);
    // A new event in alice's calendar is now offered and stored there.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/calendar/event?date=2027-01-21"));
    assert!(page.contains("alice@example.com/calendar"), "{page}");
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &new));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(objects(&w, ALICE, "calendar").len(), 2);

    // "t": delete.
    share(&w, ALICE, "calendar", ROOT, "lrwit");
    let (status, _, _) = body_of!(&svc, post(&cookie, "/calendar/event", &del));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let left = objects(&w, ALICE, "calendar");
    assert_eq!(left.len(), 1);
    assert!(left[0].data.contains("Squatter"));

    // Taken back: 404 again.
    share(&w, ALICE, "calendar", ROOT, "");
    let (status, _, _) = body_of!(&svc, get(&cookie, SHARED_EVENT));
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn an_address_book_shared_read_only_then_read_write() {
    let w = world("");
    let svc = service!(w);
    let card = put(&w, ALICE, "contacts", "grace.vcf", CARD);
    let (cookie, csrf) = log_in!(&svc, ROOT);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    assert!(!page.contains("Grace Hopper"), "{page}");
    share(&w, ALICE, "contacts", ROOT, "lr");
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    assert!(page.contains("Grace Hopper"), "{page}");
    assert!(page.contains("(alice@example.com)"), "{page}");
    // Compose's suggestions take it too.
    let (status, json, _) = body_of!(&svc, get(&cookie, "/contacts/suggest?q=grace"));
    assert_eq!(status, StatusCode::OK);
    assert!(json.contains("grace@navy.example"), "{json}");
    let href = "/contacts/card?book=alice%40example.com%2Fcontacts&name=grace.vcf";
    let (status, page, _) = body_of!(&svc, get(&cookie, href));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("shared with you read-only"), "{page}");
    assert!(!page.contains("id=\"contact-save\""), "{page}");
    let edit = |etag: &str| {
        form(&[
            ("csrf", &csrf),
            ("action", "save"),
            ("book", "alice@example.com/contacts"),
            ("name", "grace.vcf"),
            ("etag", etag),
            ("version", "4.0"),
            ("full_name", "Grace B. Hopper"),
            ("emails", "grace@navy.example"),
            ("phones", ""),
            ("org", ""),
            ("note", ""),
        ])
    };
    let (status, page, _) = body_of!(&svc, post(&cookie, "/contacts/card", &edit(&card.etag)));
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert_eq!(objects(&w, ALICE, "contacts")[0].data, card.data);
    share(&w, ALICE, "contacts", ROOT, "lrwi");
    let (status, page, _) = body_of!(&svc, post(&cookie, "/contacts/card", &edit(&card.etag)));
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let now = objects(&w, ALICE, "contacts").remove(0);
    assert!(now.data.contains("Grace B. Hopper"), "{}", now.data);
    let del = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("book", "alice@example.com/contacts"),
        ("name", "grace.vcf"),
        ("etag", &now.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &del));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(objects(&w, ALICE, "contacts").len(), 1);
}

/// The DTSTART line of `owner`'s copy of the one event in its calendar.
fn dtstart(w: &World, owner: &str) -> String {
    let o = objects(w, owner, "calendar").remove(0);
    o.data
        .lines()
        .find(|l| l.starts_with("DTSTART"))
        .unwrap()
        .to_string()
}

#[actix_web::test]
async fn an_attendee_proposes_a_new_time_and_the_organizer_accepts_or_declines() {
    let w = world("");
    let svc = service!(w);
    let (alice, alice_csrf) = log_in!(&svc, ALICE);
    // alice invites root (a local account: its copy arrives at once).
    let body = form(&[
        ("csrf", &alice_csrf),
        ("action", "save"),
        ("cal", "calendar"),
        ("name", ""),
        ("etag", ""),
        ("title", "Budget"),
        ("start_date", "2027-01-20"),
        ("start_time", "14:00"),
        ("end_date", "2027-01-20"),
        ("end_time", "15:00"),
        ("location", ""),
        ("description", ""),
        ("repeat", "never"),
        ("attendees", "root@example.com"),
    ]);
    let (status, _, _) = body_of!(&svc, post(&alice, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(dtstart(&w, ROOT), "DTSTART:20270120T140000Z");

    // root proposes 16:00–17:00: a COUNTER in alice's schedule inbox; no copy changed.
    let (root, root_csrf) = log_in!(&svc, ROOT);
    let copy = objects(&w, ROOT, "calendar").remove(0);
    let href = format!(
        "/calendar/event?cal=calendar&name={}",
        form_urlencoded::byte_serialize(copy.name.as_bytes()).collect::<String>()
    );
    let (_, page, _) = body_of!(&svc, get(&root, &href));
    assert!(page.contains("id=\"counter-form\""), "{page}");
    let propose = |csrf: &str, etag: &str, name: &str, start: &str, end: &str| {
        form(&[
            ("csrf", csrf),
            ("action", "counter"),
            ("cal", "calendar"),
            ("name", name),
            ("etag", etag),
            ("p_start_date", "2027-01-20"),
            ("p_start_time", start),
            ("p_end_date", "2027-01-20"),
            ("p_end_time", end),
        ])
    };
    let (status, _, location) = body_of!(
        &svc,
        post(
            &root,
            "/calendar/event",
            &propose(&root_csrf, &copy.etag, &copy.name, "16:00", "17:00")
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/calendar?view=week&date=2027-01-20");
    let inbox = objects(&w, ALICE, crate::scheduling::INBOX);
    assert_eq!(inbox.len(), 1);
    let counter = parse_calendar(&inbox[0].data).unwrap();
    assert_eq!(Method::of(&counter), Some(Method::Counter));
    assert_eq!(
        itip::reply_attendee(&counter).unwrap().address,
        "root@example.com"
    );
    assert_eq!(dtstart(&w, ALICE), "DTSTART:20270120T140000Z");
    assert_eq!(dtstart(&w, ROOT), "DTSTART:20270120T140000Z");

    // alice sees the proposal and accepts: her event moves, root's copy follows (REQUEST).
    let mine = objects(&w, ALICE, "calendar").remove(0);
    let alice_href = format!(
        "/calendar/event?cal=calendar&name={}",
        form_urlencoded::byte_serialize(mine.name.as_bytes()).collect::<String>()
    );
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(
        page.contains("<span class=\"proposal-from\">root@example.com</span>"),
        "{page}"
    );
    assert!(
        page.contains("2027-01-20 16:00 – 2027-01-20 17:00"),
        "{page}"
    );
    let (proposal, proposal_etag) = (hidden(&page, "proposal"), hidden(&page, "proposal_etag"));
    let answer = |action: &str, etag: &str, (proposal, proposal_etag): (&str, &str)| {
        form(&[
            ("csrf", &alice_csrf),
            ("action", action),
            ("cal", "calendar"),
            ("name", &mine.name),
            ("etag", etag),
            ("proposal", proposal),
            ("proposal_etag", proposal_etag),
        ])
    };
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-accept", &mine.etag, (&proposal, &proposal_etag))
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(dtstart(&w, ALICE), "DTSTART:20270120T160000Z");
    assert_eq!(dtstart(&w, ROOT), "DTSTART:20270120T160000Z");
    assert!(objects(&w, ALICE, "calendar")[0]
        .data
        .contains("SEQUENCE:1"));
    assert!(objects(&w, ALICE, crate::scheduling::INBOX).is_empty());
    // Nothing waits any more: a second accept is refused.
    let mine2 = objects(&w, ALICE, "calendar").remove(0);
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-accept", &mine2.etag, (&proposal, &proposal_etag))
        )
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // root proposes again; alice declines: root gets a DECLINECOUNTER, nothing moves.
    let copy = objects(&w, ROOT, "calendar").remove(0);
    let (status, _, _) = body_of!(
        &svc,
        post(
            &root,
            "/calendar/event",
            &propose(&root_csrf, &copy.etag, &copy.name, "08:00", "09:00")
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(
        page.contains("2027-01-20 08:00 – 2027-01-20 09:00"),
        "{page}"
    );
    let (proposal, proposal_etag) = (hidden(&page, "proposal"), hidden(&page, "proposal_etag"));
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-decline", &mine2.etag, (&proposal, &proposal_etag))
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(dtstart(&w, ALICE), "DTSTART:20270120T160000Z");
    assert_eq!(dtstart(&w, ROOT), "DTSTART:20270120T160000Z");
    assert!(objects(&w, ALICE, crate::scheduling::INBOX).is_empty());
    let root_inbox = objects(&w, ROOT, crate::scheduling::INBOX);
    let declined = parse_calendar(&root_inbox[0].data).unwrap();
    assert_eq!(Method::of(&declined), Some(Method::DeclineCounter));

    // The organizer cannot propose to itself; an unknown action is refused.
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &propose(&alice_csrf, &mine2.etag, &mine2.name, "10:00", "11:00")
        )
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
