//! calendar-query without a time range and the first sync-collection read the collection
//! page by page while they answer (`report::Pages`): over more objects than two pages,
//! every member is answered exactly once, and the first sync's token then reports what
//! changed after it.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::report::parse_sync_token;
use super::tests::{call, service};
use crate::http::server::{app, routes, Front, Listener};
use crate::http::tests::{peer, world, World};
use crate::protocols::caldav::validate::{validate_calendar, ComponentKind};
use crate::protocols::webdav::xml::{self, DAV};
use crate::storage::davstore::{Condition, NewObject};

const ALICE: &str = "alice@example.com";
const CAL: &str = "/dav/calendars/alice@example.com/calendar/";
const C: &str = "urn:ietf:params:xml:ns:caldav";
/// More than two of `report`'s pages (256).
const N: usize = 600;

fn put(w: &World, coll: u64, i: usize, summary: &str) {
    let data = format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:u{i}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260120T090000Z\r\nDTEND:20260120T100000Z\r\n\
SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    );
    let obj = validate_calendar(&data, &ComponentKind::ALL, usize::MAX).unwrap();
    let new = NewObject {
        name: format!("{i:04}.ics"),
        uid: obj.uid,
        data,
        component: "VEVENT".into(),
        first: obj.first,
        last: obj.last,
    };
    w.ctx.store.dav_put(coll, &new, &Condition::Any).unwrap();
}

/// The hrefs of a multistatus' responses and its sync-token.
fn hrefs(body: &str) -> (Vec<String>, Option<String>) {
    let root = xml::parse(body.as_bytes()).unwrap().expect("a multistatus");
    let hrefs = root
        .elements()
        .filter(|e| e.is(DAV, "response"))
        .filter_map(|r| r.child(DAV, "href").map(|h| h.text().trim().to_string()))
        .collect();
    let token = root
        .child(DAV, "sync-token")
        .map(|t| t.text().trim().to_string());
    (hrefs, token)
}

#[actix_rt::test]
async fn unranged_query_and_first_sync_answer_every_member_once() {
    let w = world("");
    let coll = w
        .ctx
        .store
        .dav_collections(ALICE)
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .unwrap()
        .id;
    for i in 0..N {
        put(&w, coll, i, if i % 2 == 0 { "even" } else { "odd" });
    }
    let svc = service!(w);

    // No time range: every VEVENT; a text-match: only the matching half.
    let query = |inner: &str| {
        format!(
            "<?xml version=\"1.0\"?><C:calendar-query xmlns:D=\"DAV:\" xmlns:C=\"{C}\">\
<D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name=\"VCALENDAR\">\
<C:comp-filter name=\"VEVENT\">{inner}</C:comp-filter></C:comp-filter></C:filter>\
</C:calendar-query>"
        )
    };
    let (s, _, text) = call!(svc, "REPORT", CAL, [("Depth", "1")], query("").as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    let (all, _) = hrefs(&text);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (N, N));
    assert!(all.contains(&format!("{CAL}0599.ics")), "the last page too");
    let odd =
        query("<C:prop-filter name=\"SUMMARY\"><C:text-match>odd</C:text-match></C:prop-filter>");
    let (_, _, text) = call!(svc, "REPORT", CAL, [("Depth", "1")], odd.as_bytes());
    let (half, _) = hrefs(&text);
    assert_eq!(half.len(), N / 2);
    assert!(half.iter().all(|h| {
        let n: usize = h[CAL.len()..CAL.len() + 4].parse().unwrap();
        n % 2 == 1
    }));

    // The first sync: every member once and the counter as the token.
    let sync = |token: &str| {
        format!(
            "<?xml version=\"1.0\"?><D:sync-collection xmlns:D=\"DAV:\">\
<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>\
<D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
    };
    let (s, _, text) = call!(svc, "REPORT", CAL, [("Depth", "0")], sync("").as_bytes());
    assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
    let (all, token) = hrefs(&text);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (N, N));
    let token = token.expect("a sync-token");
    assert_eq!(parse_sync_token(&token), Some(N as u64));
    // What changes after it is what the next sync reports.
    put(&w, coll, 7, "changed");
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&token).as_bytes()
    );
    let (changed, _) = hrefs(&text);
    assert_eq!(changed, [format!("{CAL}0007.ics")]);
}

/// sync-collection with a `limit` over 10,000 objects: each answer holds at most the limit
/// and, while more remain, a 507 `number-of-matches-within-limits` response for the
/// collection and a token that continues; following the tokens answers every member once
/// and ends without the 507; a deletion and a change after that are what the next one says.
#[actix_rt::test]
async fn limited_sync_walks_a_large_collection_in_bounded_answers() {
    const MANY: usize = 10_000;
    const LIMIT: usize = 1_000;
    let w = world("");
    let coll = w
        .ctx
        .store
        .dav_collections(ALICE)
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .unwrap()
        .id;
    for i in 0..MANY {
        put(&w, coll, i, "x");
    }
    let svc = service!(w);
    let sync = |token: &str| {
        format!(
            "<?xml version=\"1.0\"?><D:sync-collection xmlns:D=\"DAV:\">\
<D:sync-token>{token}</D:sync-token><D:sync-level>1</D:sync-level>\
<D:limit><D:nresults>{LIMIT}</D:nresults></D:limit>\
<D:prop><D:getetag/></D:prop></D:sync-collection>"
        )
    };
    let mut seen = BTreeSet::new();
    let mut token = String::new();
    let mut answers = 0;
    let mut finished = false;
    for _ in 0..(MANY / LIMIT + 2) {
        let (s, _, text) = call!(
            svc,
            "REPORT",
            CAL,
            [("Depth", "0")],
            sync(&token).as_bytes()
        );
        assert_eq!(s, StatusCode::MULTI_STATUS, "{text}");
        answers += 1;
        let (hrefs, next) = hrefs(&text);
        token = next.expect("a sync-token");
        let cut = hrefs.last().is_some_and(|h| h == CAL);
        assert_eq!(cut, text.contains("number-of-matches-within-limits"));
        let members: Vec<&String> = hrefs.iter().filter(|h| *h != CAL).collect();
        assert!(members.len() <= LIMIT, "{} > {LIMIT}", members.len());
        for m in members {
            assert!(seen.insert(m.clone()), "{m} answered twice");
        }
        if !cut {
            finished = true;
            break;
        }
    }
    assert!(finished, "no answer without a 507");
    assert_eq!(seen.len(), MANY);
    assert_eq!(
        answers,
        MANY / LIMIT,
        "ten full answers, the last without a 507"
    );
    assert_eq!(parse_sync_token(&token), Some(MANY as u64));
    w.ctx
        .store
        .dav_delete(coll, "0003.ics", &Condition::Any)
        .unwrap();
    put(&w, coll, 9_999, "changed");
    let (_, _, text) = call!(
        svc,
        "REPORT",
        CAL,
        [("Depth", "0")],
        sync(&token).as_bytes()
    );
    let (hrefs, _) = hrefs(&text);
    assert_eq!(
        hrefs,
        [format!("{CAL}9999.ics"), format!("{CAL}0003.ics")],
        "{text}"
    );
}
