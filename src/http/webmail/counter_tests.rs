//! Proposals (COUNTER), their answers and REFRESH in the webmail between local accounts,
//! through the real routes: alice invites root and dom; both propose a new time, alice
//! sees each proposal with its attendee, accepts dom's (root's still waits) and declines
//! root's (root's page says so until alice's next REQUEST); a proposal of a new title and
//! place is shown before it is accepted and accepted whole; root asks for the current
//! version (REFRESH) and alice's copy comes back as a REQUEST.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::calendar_tests::{
    body_of, csrf_of, form, get, hidden, log_in, objects, post, put_event, ALICE, ROOT,
};
use super::test_support::service;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD};
use crate::protocols::caldav::validate::parse_calendar;
use crate::protocols::itip::{self, counter, Method};
use crate::scheduling::deliver::{declined_counter, pending_counters, process_local, Applied};
use crate::storage::davstore::{Condition, NewObject, PutOutcome};

const DOM: &str = "dom@example.com";

/// The DTSTART line of `owner`'s copy of the one event in its calendar.
fn line(w: &World, owner: &str, prop: &str) -> String {
    let o = objects(w, owner, "calendar").remove(0);
    o.data
        .replace("\r\n ", "")
        .lines()
        .find(|l| l.starts_with(prop))
        .unwrap_or_default()
        .to_string()
}

fn href(w: &World, owner: &str) -> String {
    let o = objects(w, owner, "calendar").remove(0);
    format!(
        "/calendar/event?cal=calendar&name={}",
        form_urlencoded::byte_serialize(o.name.as_bytes()).collect::<String>()
    )
}

/// The part of an event page that shows `from`'s proposal.
fn proposal_of<'a>(page: &'a str, from: &str) -> &'a str {
    let marker = format!("<span class=\"proposal-from\">{from}</span>");
    page.split("<div class=\"proposal\"")
        .find(|p| p.contains(&marker))
        .unwrap_or_else(|| panic!("no proposal of {from} in {page}"))
}

/// Counts the COUNTERs waiting in alice's schedule inbox.
fn waiting(w: &World) -> Vec<String> {
    let mut from: Vec<String> = objects(w, ALICE, crate::scheduling::INBOX)
        .iter()
        .filter_map(|o| parse_calendar(&o.data).ok())
        .filter(|c| Method::of(c) == Some(Method::Counter))
        .map(|c| itip::reply_attendee(&c).unwrap().address)
        .collect();
    from.sort();
    from
}

#[actix_web::test]
async fn proposals_are_kept_per_attendee_answered_one_by_one_and_refreshed() {
    let w = world("");
    let svc = service!(w);
    let (alice, alice_csrf) = log_in!(&svc, ALICE);
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
        ("location", "Room 1"),
        ("description", ""),
        ("repeat", "never"),
        ("attendees", "root@example.com, dom@example.com"),
    ]);
    let (status, _, _) = body_of!(&svc, post(&alice, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(line(&w, DOM, "DTSTART"), "DTSTART:20270120T140000Z");

    // root proposes 16:00, dom 08:00: both wait.
    for (who, start, end) in [(ROOT, "16:00", "17:00"), (DOM, "08:00", "09:00")] {
        let (cookie, csrf) = log_in!(&svc, who);
        let copy = objects(&w, who, "calendar").remove(0);
        let body = form(&[
            ("csrf", &csrf),
            ("action", "counter"),
            ("cal", "calendar"),
            ("name", &copy.name),
            ("etag", &copy.etag),
            ("p_start_date", "2027-01-20"),
            ("p_start_time", start),
            ("p_end_date", "2027-01-20"),
            ("p_end_time", end),
        ]);
        let (status, page, _) = body_of!(&svc, post(&cookie, "/calendar/event", &body));
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    }
    assert_eq!(waiting(&w), [DOM, ROOT]);

    // alice sees each proposal with its attendee, and accepts dom's only.
    let alice_href = href(&w, ALICE);
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(page.contains("2 changes proposed"), "{page}");
    assert!(proposal_of(&page, ROOT).contains("2027-01-20 16:00 – 2027-01-20 17:00"));
    let doms = proposal_of(&page, DOM);
    assert!(
        doms.contains("2027-01-20 08:00 – 2027-01-20 09:00"),
        "{doms}"
    );
    let answer = |action: &str, etag: &str, part: &str| {
        form(&[
            ("csrf", &alice_csrf),
            ("action", action),
            ("cal", "calendar"),
            ("name", &hidden(&page, "name")),
            ("etag", etag),
            ("proposal", &hidden(part, "proposal")),
            ("proposal_etag", &hidden(part, "proposal_etag")),
        ])
    };
    let etag = hidden(&page, "etag");
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-accept", &etag, doms)
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(line(&w, ALICE, "DTSTART"), "DTSTART:20270120T080000Z");
    assert_eq!(line(&w, ROOT, "DTSTART"), "DTSTART:20270120T080000Z");
    assert_eq!(
        waiting(&w),
        [ROOT],
        "root's proposal is neither accepted nor declined"
    );

    // The page now shows root's alone; alice declines it.
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(page.contains("A change proposed"), "{page}");
    assert!(!page.contains(&format!("<span class=\"proposal-from\">{DOM}</span>")));
    let roots = proposal_of(&page, ROOT);
    let etag = hidden(&page, "etag");
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-decline", &etag, roots)
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(waiting(&w).is_empty());
    assert_eq!(line(&w, ALICE, "DTSTART"), "DTSTART:20270120T080000Z");

    // root's page says that alice declined his proposal.
    let (root, root_csrf) = log_in!(&svc, ROOT);
    let root_href = href(&w, ROOT);
    let (_, page, _) = body_of!(&svc, get(&root, &root_href));
    assert!(page.contains("id=\"counter-declined\""), "{page}");
    assert!(
        page.contains("alice@example.com declined your proposal on 20"),
        "{page}"
    );

    // dom proposes a new title and place too (as another client would): alice's page shows
    // them before she accepts, and accepting takes them.
    let alice_copy = parse_calendar(&objects(&w, ALICE, "calendar").remove(0).data).unwrap();
    let dom_copy = objects(&w, DOM, "calendar").remove(0).data;
    let proposed = parse_calendar(
        &dom_copy
            .replace("SUMMARY:Budget", "SUMMARY:Budget (final)")
            .replace("LOCATION:Room 1", "LOCATION:Room 7"),
    )
    .unwrap();
    let mut m = counter::counter(&proposed, DOM, 0).unwrap();
    m.calendar = counter::for_inbox(&m.calendar, DOM);
    assert_eq!(itip::uid(&alice_copy), Some(m.uid.clone()));
    let store = w.ctx.store.clone();
    let applied =
        actix_web::rt::task::spawn_blocking(move || process_local(&store, ALICE, &m, 0).unwrap())
            .await
            .unwrap();
    assert_eq!(applied, Applied::InboxOnly);
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let doms = proposal_of(&page, DOM);
    assert!(
        doms.contains("<strong class=\"proposal-title\">Budget (final)</strong>"),
        "{doms}"
    );
    assert!(
        doms.contains("<strong class=\"proposal-location\">Room 7</strong>"),
        "{doms}"
    );
    let etag = hidden(&page, "etag");
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer("counter-accept", &etag, doms)
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(line(&w, ALICE, "SUMMARY"), "SUMMARY:Budget (final)");
    assert_eq!(line(&w, ALICE, "LOCATION"), "LOCATION:Room 7");
    // root's copy follows (REQUEST), and that REQUEST clears the declined notice.
    assert_eq!(line(&w, ROOT, "LOCATION"), "LOCATION:Room 7");
    let (_, page, _) = body_of!(&svc, get(&root, &root_href));
    assert!(!page.contains("id=\"counter-declined\""), "{page}");

    // alice's copy changes without scheduling (say, an import); root asks for the current
    // version and gets it back as a REQUEST.
    let mine = objects(&w, ALICE, "calendar").remove(0);
    let c = w
        .ctx
        .store
        .dav_collection(ALICE, "calendar")
        .unwrap()
        .unwrap();
    let changed = NewObject {
        name: mine.name.clone(),
        uid: mine.uid.clone(),
        data: mine
            .data
            .replace("SUMMARY:Budget (final)", "SUMMARY:Budget (v3)"),
        component: mine.component.clone(),
        first: mine.first,
        last: mine.last,
    };
    assert!(matches!(
        w.ctx
            .store
            .dav_put(c.id, &changed, &Condition::Match(mine.etag.clone()))
            .unwrap(),
        PutOutcome::Stored { .. }
    ));
    assert_eq!(line(&w, ROOT, "SUMMARY"), "SUMMARY:Budget (final)");
    let (_, page, _) = body_of!(&svc, get(&root, &root_href));
    assert!(page.contains("id=\"refresh-send\""), "{page}");
    let copy = objects(&w, ROOT, "calendar").remove(0);
    let body = form(&[
        ("csrf", &root_csrf),
        ("action", "refresh"),
        ("cal", "calendar"),
        ("name", &copy.name),
        ("etag", &copy.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&root, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(line(&w, ROOT, "SUMMARY"), "SUMMARY:Budget (v3)");
    // The organizer has no such button, and a REFRESH of its own is refused.
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(!page.contains("id=\"refresh-send\""), "{page}");
    let mine = objects(&w, ALICE, "calendar").remove(0);
    let body = form(&[
        ("csrf", &alice_csrf),
        ("action", "refresh"),
        ("cal", "calendar"),
        ("name", &mine.name),
        ("etag", &mine.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&alice, "/calendar/event", &body));
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// `who` proposes `start`–`end` on 2027-01-20 from its event page.
macro_rules! propose {
    ($svc:expr, $w:expr, $who:expr, $start:expr, $end:expr) => {{
        let (cookie, csrf) = log_in!($svc, $who);
        let copy = objects($w, $who, "calendar").remove(0);
        let body = form(&[
            ("csrf", &csrf),
            ("action", "counter"),
            ("cal", "calendar"),
            ("name", &copy.name),
            ("etag", &copy.etag),
            ("p_start_date", "2027-01-20"),
            ("p_start_time", $start),
            ("p_end_date", "2027-01-20"),
            ("p_end_time", $end),
        ]);
        let (status, page, _) = body_of!($svc, post(&cookie, "/calendar/event", &body));
        assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
        cookie
    }};
}

#[actix_web::test]
async fn a_proposal_for_an_earlier_version_may_only_be_declined() {
    let w = world("");
    let svc = service!(w);
    let (alice, alice_csrf) = log_in!(&svc, ALICE);
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
        ("location", "Room 1"),
        ("description", ""),
        ("repeat", "never"),
        ("attendees", "root@example.com, dom@example.com"),
    ]);
    let (status, _, _) = body_of!(&svc, post(&alice, "/calendar/event", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let root = propose!(&svc, &w, ROOT, "16:00", "17:00");
    propose!(&svc, &w, DOM, "08:00", "09:00");
    let alice_href = href(&w, ALICE);
    let answer = |page: &str, action: &str, part: &str| {
        form(&[
            ("csrf", &alice_csrf),
            ("action", action),
            ("cal", "calendar"),
            ("name", &hidden(page, "name")),
            ("etag", &hidden(page, "etag")),
            ("proposal", &hidden(part, "proposal")),
            ("proposal_etag", &hidden(part, "proposal_etag")),
        ])
    };
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    assert!(!page.contains("proposal-stale"), "{page}");
    let doms = proposal_of(&page, DOM).to_string();
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer(&page, "counter-accept", &doms)
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    // root's proposal was made for SEQUENCE 0; the event is at 1 now.
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let roots = proposal_of(&page, ROOT).to_string();
    assert!(roots.contains("proposal-stale"), "{roots}");
    assert!(!roots.contains("value=\"counter-accept\""), "{roots}");
    assert!(roots.contains("value=\"counter-decline\""), "{roots}");
    let (status, text, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer(&page, "counter-accept", &roots)
        )
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(text.contains("earlier version"), "{text}");
    assert_eq!(line(&w, ALICE, "DTSTART"), "DTSTART:20270120T080000Z");
    assert_eq!(waiting(&w), [ROOT]);
    let (status, _, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &answer(&page, "counter-decline", &roots)
        )
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(waiting(&w).is_empty());

    // root sees the decline, proposes again (on the current version): the notice goes,
    // and alice may accept the new proposal.
    let root_href = href(&w, ROOT);
    let (_, page, _) = body_of!(&svc, get(&root, &root_href));
    assert!(page.contains("id=\"counter-declined\""), "{page}");
    let root = propose!(&svc, &w, ROOT, "18:00", "19:00");
    let (_, page, _) = body_of!(&svc, get(&root, &root_href));
    assert!(!page.contains("id=\"counter-declined\""), "{page}");
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let roots = proposal_of(&page, ROOT).to_string();
    assert!(!roots.contains("proposal-stale"), "{roots}");
    assert!(roots.contains("value=\"counter-accept\""), "{roots}");
}

/// The organizer's copy is the account's to edit, ORGANIZER included: a decline is not sent
/// in the name of an address the account may not send as (here another local account's).
#[actix_web::test]
async fn a_decline_is_refused_when_the_copy_names_an_organizer_the_account_may_not_send_as() {
    let w = world("");
    let svc = service!(w);
    let (alice, alice_csrf) = log_in!(&svc, ALICE);
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
    propose!(&svc, &w, ROOT, "16:00", "17:00");
    assert_eq!(waiting(&w), [ROOT]);
    // alice rewrites her copy's ORGANIZER to dom (as a CalDAV client could).
    let copy = objects(&w, ALICE, "calendar").remove(0);
    let forged = copy
        .data
        .replace("\r\n ", "")
        .replace(&format!("mailto:{ALICE}"), &format!("mailto:{DOM}"));
    assert_ne!(forged, copy.data);
    put_event(&w, ALICE, &copy.name, &forged);
    let alice_href = href(&w, ALICE);
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let roots = proposal_of(&page, ROOT).to_string();
    let (status, text, _) = body_of!(
        &svc,
        post(
            &alice,
            "/calendar/event",
            &form(&[
                ("csrf", &alice_csrf),
                ("action", "counter-decline"),
                ("cal", "calendar"),
                ("name", &hidden(&page, "name")),
                ("etag", &hidden(&page, "etag")),
                ("proposal", &hidden(&roots, "proposal")),
                ("proposal_etag", &hidden(&roots, "proposal_etag")),
            ])
        )
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
    // Nothing was sent in dom's name: root's page shows no decline, the COUNTER still waits.
    assert_eq!(waiting(&w), [ROOT]);
    assert!(declined_counter(&w.ctx.store, ROOT, &copy.uid)
        .unwrap()
        .is_none());
}

#[actix_web::test]
async fn a_list_alias_organizer_accepts_and_declines_from_the_webmail() {
    let w = world("");
    let store = w.ctx.store.clone();
    // team@ leads to alice and root; alice holds the organizer's copy.
    store.add_alias("team@example.com", ALICE).unwrap();
    store.add_alias("team@example.com", ROOT).unwrap();
    let svc = service!(w);
    let (alice, alice_csrf) = log_in!(&svc, ALICE);
    let data = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n\
        UID:team-ev\r\nDTSTAMP:20270101T000000Z\r\nDTSTART:20270120T140000Z\r\n\
        DTEND:20270120T150000Z\r\nSUMMARY:Team day\r\nSEQUENCE:0\r\n\
        ORGANIZER:mailto:team@example.com\r\n\
        ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:dom@example.com\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    put_event(&w, ALICE, "team.ics", data);
    let copy = parse_calendar(data).unwrap();
    let request = itip::organizer_messages(None, Some(&copy), "team@example.com", 0)
        .into_iter()
        .find(|m| m.recipient == DOM)
        .unwrap();
    let (s2, r2) = (store.clone(), request.clone());
    let applied =
        actix_web::rt::task::spawn_blocking(move || process_local(&s2, DOM, &r2, 0).unwrap())
            .await
            .unwrap();
    assert_eq!(applied, Applied::Done);
    // dom proposes twice (the second after alice's answer to the first).
    let counter_to_team = |store: crate::storage::Store, start: &'static str| async move {
        let dom_copy = objects_of(&store, DOM);
        let proposed =
            parse_calendar(&dom_copy.replace("DTSTART:20270120T140000Z", start)).unwrap();
        let mut m = counter::counter(&proposed, DOM, 0).unwrap();
        assert_eq!(m.recipient, "team@example.com");
        m.calendar = counter::for_inbox(&m.calendar, DOM);
        actix_web::rt::task::spawn_blocking(move || {
            let a = process_local(&store, ALICE, &m, 0).unwrap();
            let r = process_local(&store, ROOT, &m, 0).unwrap();
            (a, r)
        })
        .await
        .unwrap()
    };
    let (a, r) = counter_to_team(store.clone(), "DTSTART:20270120T080000Z").await;
    assert_eq!(a, Applied::InboxOnly);
    assert!(matches!(r, Applied::Ignored(_)), "{r:?}");
    let alice_href = String::from("/calendar/event?cal=calendar&name=team.ics");
    let answer = |page: &str, action: &str| {
        let part = proposal_of(page, DOM);
        form(&[
            ("csrf", &alice_csrf),
            ("action", action),
            ("cal", "calendar"),
            ("name", &hidden(page, "name")),
            ("etag", &hidden(page, "etag")),
            ("proposal", &hidden(part, "proposal")),
            ("proposal_etag", &hidden(part, "proposal_etag")),
        ])
    };
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let (status, text, _) = body_of!(
        &svc,
        post(&alice, "/calendar/event", &answer(&page, "counter-accept"))
    );
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    // The REQUEST went out as team@: dom's copy moved.
    assert!(
        objects_of(&store, DOM).contains("DTSTART:20270120T080000Z"),
        "{}",
        objects_of(&store, DOM)
    );
    assert!(pending_counters(&store, ALICE, "team-ev")
        .unwrap()
        .is_none_or(|(_, w)| w.is_empty()));

    let (a, _) = counter_to_team(store.clone(), "DTSTART:20270120T180000Z").await;
    assert_eq!(a, Applied::InboxOnly);
    let (_, page, _) = body_of!(&svc, get(&alice, &alice_href));
    let (status, text, _) = body_of!(
        &svc,
        post(&alice, "/calendar/event", &answer(&page, "counter-decline"))
    );
    assert_eq!(status, StatusCode::SEE_OTHER, "{text}");
    // Sent as the organizer team@, so dom's copy (organized by team@) takes it.
    let (cal, _) = declined_counter(&store, DOM, "team-ev")
        .unwrap()
        .expect("dom is told");
    assert_eq!(
        itip::organizer(&cal).map(|o| o.0).as_deref(),
        Some("team@example.com")
    );
}

/// The data of `owner`'s one event in its calendar, unfolded.
fn objects_of(store: &crate::storage::Store, owner: &str) -> String {
    let c = store.dav_collection(owner, "calendar").unwrap().unwrap();
    store
        .dav_objects(c.id)
        .unwrap()
        .remove(0)
        .data
        .replace("\r\n ", "")
}
