//! Sharing calendars and address books through ACLs (issue 15) on the real binary: bob
//! shares his calendar read-only with carol (`calendar share`), carol finds bob's home in
//! it listed in her own calendar home, lists bob's home (only what she may read), GETs and REPORTs
//! the calendar and gets 403 need-privileges on PUT and DELETE; made read-write, her PUT
//! is 201, bob reads it and the sync-token moved once; dave (nothing shared) gets 404
//! everywhere; a public calendar with `anyone lr` is read by every account; an address
//! book shared the same way.
//!
//! On the backend `FERRYMAIL_TEST_BACKEND` names (`common::storage_section`).

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::dav::{server, PASSWORD};
use common::http::{basic, request, Response};
use common::proc::cli;

const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const DAVE: &str = "dave@example.com";
const BOB_CAL: &str = "/dav/calendars/bob@example.com/";

fn as_user(
    who: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let auth = basic(who, PASSWORD);
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    request(addr, false, method, path, &all, body)
}

fn run(config: &Path, args: &[&str]) -> String {
    let (ok, out) = cli(config, args);
    assert!(ok, "{args:?}: {out}");
    out
}

fn event(uid: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrymail test//EN\r\nBEGIN:VEVENT\r\n\
UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260201T090000Z\r\n\
DTEND:20260201T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn card(uid: &str) -> String {
    format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Ann {uid}\r\nEND:VCARD\r\n")
}

const PROPFIND_PRINCIPAL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:A="urn:ietf:params:xml:ns:carddav">
  <D:prop><C:calendar-home-set/><A:addressbook-home-set/></D:prop>
</D:propfind>"#;

const PROPFIND_PRIVS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:current-user-privilege-set/><D:sync-token/></D:prop></D:propfind>"#;

const QUERY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/><C:calendar-data/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter>
</C:calendar-query>"#;

/// The text of every `<D:href>` inside the first element named `marker`.
fn hrefs_in(body: &str, marker: &str) -> Vec<String> {
    let Some(at) = body.find(marker) else {
        return vec![];
    };
    let rest = &body[at..];
    let end = rest[1..].find(marker).map_or(rest.len(), |e| e + 1);
    let mut part = &rest[..end];
    let mut out = Vec::new();
    while let Some(open) = part.find("<D:href>") {
        let from = open + "<D:href>".len();
        let Some(close) = part[from..].find("</D:href>") else {
            break;
        };
        out.push(part[from..from + close].to_string());
        part = &part[from + close..];
    }
    out
}

/// Every `<D:href>` of a multistatus (one per response).
fn all_hrefs(body: &str) -> Vec<String> {
    body.split("<D:href>")
        .skip(1)
        .filter_map(|s| s.split("</D:href>").next())
        .map(str::to_string)
        .collect()
}

fn sync_token(addr: SocketAddr, who: &str, path: &str) -> String {
    let r = as_user(
        who,
        addr,
        "PROPFIND",
        path,
        &[("Depth", "0")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert_eq!(r.status, 207, "{}", r.text());
    let body = r.text();
    let open = body.find("<D:sync-token>").expect("a sync-token") + "<D:sync-token>".len();
    let close = body[open..].find("</D:sync-token>").unwrap() + open;
    body[open..close].to_string()
}

#[test]
fn calendars_and_address_books_shared_through_acls() {
    let (_dir, config, _server, addr) = server("");
    for who in [CAROL, DAVE] {
        run(&config, &["account", "add", who, "--password", PASSWORD]);
    }
    let cal = format!("{BOB_CAL}calendar/");
    let ev = format!("{cal}team.ics");
    let ics = event("team");
    let put = as_user(
        BOB,
        addr,
        "PUT",
        &ev,
        &[("Content-Type", "text/calendar")],
        ics.as_bytes(),
    );
    assert_eq!(put.status, 201, "{}", put.text());
    // A calendar bob shares with nobody: carol must never see it.
    let secret = run(&config, &["calendar", "create", BOB, "secret"]);
    assert!(secret.contains("created"), "{secret}");

    // Read-only.
    let out = run(
        &config,
        &["calendar", "share", BOB, "calendar", CAROL, "lr"],
    );
    assert!(out.contains("now has rights lr"), "{out}");
    let acl = run(&config, &["calendar", "acl", BOB, "calendar"]);
    assert!(acl.contains("(owner)") && acl.contains(CAROL), "{acl}");

    // Carol's principal names her own homes only; bob's shared calendar is listed in her
    // calendar home, under bob's URL.
    let p = as_user(
        CAROL,
        addr,
        "PROPFIND",
        "/dav/principals/carol@example.com/",
        &[("Depth", "0")],
        PROPFIND_PRINCIPAL.as_bytes(),
    );
    assert_eq!(p.status, 207, "{}", p.text());
    assert_eq!(
        hrefs_in(&p.text(), "calendar-home-set"),
        ["/dav/calendars/carol@example.com/"]
    );
    assert_eq!(
        hrefs_in(&p.text(), "addressbook-home-set"),
        ["/dav/addressbooks/carol@example.com/"]
    );
    let mine = as_user(
        CAROL,
        addr,
        "PROPFIND",
        "/dav/calendars/carol@example.com/",
        &[("Depth", "1")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert_eq!(mine.status, 207, "{}", mine.text());
    assert!(
        all_hrefs(&mine.text()).contains(&cal),
        "bob's calendar in carol's home: {}",
        mine.text()
    );

    // Bob's home as carol sees it: the home and the one calendar shared.
    let home = as_user(
        CAROL,
        addr,
        "PROPFIND",
        BOB_CAL,
        &[("Depth", "1")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert_eq!(home.status, 207, "{}", home.text());
    assert_eq!(all_hrefs(&home.text()), [BOB_CAL.to_string(), cal.clone()]);
    let privs = home.text();
    assert!(privs.contains("<D:read/>"), "{privs}");
    assert!(
        !privs.contains("<D:write-content/>") && !privs.contains("<D:all/>"),
        "{privs}"
    );

    // GET and REPORT.
    let get = as_user(CAROL, addr, "GET", &ev, &[], b"");
    assert_eq!(get.status, 200);
    assert_eq!(get.text(), ics);
    let rep = as_user(
        CAROL,
        addr,
        "REPORT",
        &cal,
        &[("Depth", "1")],
        QUERY.as_bytes(),
    );
    assert_eq!(rep.status, 207, "{}", rep.text());
    assert!(rep.text().contains("UID:team"), "{}", rep.text());

    // Writes are refused with need-privileges, and nothing changes.
    let before = sync_token(addr, BOB, &cal);
    let mine = format!("{cal}carol.ics");
    let w = as_user(
        CAROL,
        addr,
        "PUT",
        &mine,
        &[("Content-Type", "text/calendar")],
        event("carol").as_bytes(),
    );
    assert_eq!(w.status, 403, "{}", w.text());
    assert!(w.text().contains("need-privileges"), "{}", w.text());
    let d = as_user(CAROL, addr, "DELETE", &ev, &[], b"");
    assert_eq!(d.status, 403, "{}", d.text());
    assert!(d.text().contains("need-privileges"), "{}", d.text());
    let d = as_user(CAROL, addr, "DELETE", &cal, &[], b"");
    assert_eq!(
        d.status,
        403,
        "the collection stays the owner's: {}",
        d.text()
    );
    assert_eq!(sync_token(addr, BOB, &cal), before);
    // The unshared calendar does not exist for her.
    let s = as_user(
        CAROL,
        addr,
        "PROPFIND",
        &format!("{BOB_CAL}secret/"),
        &[("Depth", "0")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert_eq!(s.status, 404);

    // Read-write: her PUT is stored where bob sees it, the token moves exactly once.
    let out = run(
        &config,
        &["calendar", "share", BOB, "calendar", CAROL, "+wit"],
    );
    assert!(out.contains("now has rights lrwit"), "{out}");
    let w = as_user(
        CAROL,
        addr,
        "PUT",
        &mine,
        &[("Content-Type", "text/calendar"), ("If-None-Match", "*")],
        event("carol").as_bytes(),
    );
    assert_eq!(w.status, 201, "{}", w.text());
    let seen = as_user(BOB, addr, "GET", &mine, &[], b"");
    assert_eq!(seen.status, 200);
    assert!(seen.text().contains("UID:carol"));
    let after = sync_token(addr, BOB, &cal);
    let number = |t: &str| -> u64 {
        t.rsplit('/')
            .next()
            .unwrap()
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse()
            .unwrap_or_else(|_| panic!("token {t}"))
    };
    assert_eq!(number(&after), number(&before) + 1, "{before} -> {after}");
    let privs = as_user(
        CAROL,
        addr,
        "PROPFIND",
        &cal,
        &[("Depth", "0")],
        PROPFIND_PRIVS.as_bytes(),
    )
    .text();
    assert!(
        privs.contains("<D:write-content/>") && privs.contains("<D:unbind/>"),
        "{privs}"
    );

    // Dave has nothing: 404 on all of it.
    for (method, path) in [
        ("PROPFIND", BOB_CAL.to_string()),
        ("PROPFIND", cal.clone()),
        ("GET", ev.clone()),
        ("REPORT", cal.clone()),
        ("PUT", format!("{cal}dave.ics")),
        ("DELETE", ev.clone()),
    ] {
        let r = as_user(
            DAVE,
            addr,
            method,
            &path,
            &[("Depth", "1"), ("Content-Type", "text/calendar")],
            if method == "PUT" {
                ics.as_bytes()
            } else if method == "GET" || method == "DELETE" {
                b""
            } else if method == "REPORT" {
                QUERY.as_bytes()
            } else {
                PROPFIND_PRIVS.as_bytes()
            },
        );
        assert_eq!(r.status, 404, "dave {method} {path}: {}", r.text());
    }
    let p = as_user(
        DAVE,
        addr,
        "PROPFIND",
        "/dav/principals/dave@example.com/",
        &[("Depth", "0")],
        PROPFIND_PRINCIPAL.as_bytes(),
    );
    assert_eq!(
        hrefs_in(&p.text(), "calendar-home-set"),
        ["/dav/calendars/dave@example.com/"]
    );

    // A public calendar everyone reads.
    run(&config, &["calendar", "create", "public", "holidays"]);
    run(
        &config,
        &["calendar", "share", "public", "holidays", "anyone", "lr"],
    );
    run(
        &config,
        &["calendar", "share", "public", "holidays", BOB, "lrwit"],
    );
    let hol = "/dav/calendars/public/holidays/";
    let w = as_user(
        BOB,
        addr,
        "PUT",
        &format!("{hol}newyear.ics"),
        &[("Content-Type", "text/calendar")],
        event("newyear").as_bytes(),
    );
    assert_eq!(w.status, 201, "{}", w.text());
    for who in [CAROL, DAVE, "eve@example.com"] {
        let r = as_user(who, addr, "GET", &format!("{hol}newyear.ics"), &[], b"");
        assert_eq!(r.status, 200, "{who}");
        let w = as_user(
            who,
            addr,
            "PUT",
            &format!("{hol}x.ics"),
            &[("Content-Type", "text/calendar")],
            event("x").as_bytes(),
        );
        assert_eq!(w.status, 403, "{who}: {}", w.text());
        let home = as_user(
            who,
            addr,
            "PROPFIND",
            &format!("/dav/calendars/{who}/"),
            &[("Depth", "1")],
            PROPFIND_PRIVS.as_bytes(),
        );
        assert!(
            all_hrefs(&home.text()).contains(&hol.to_string()),
            "{who}: {}",
            home.text()
        );
    }
    let listed = as_user(
        DAVE,
        addr,
        "PROPFIND",
        "/dav/calendars/public/",
        &[("Depth", "1")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert_eq!(all_hrefs(&listed.text()), ["/dav/calendars/public/", hol]);

    // An address book shared the same way.
    let book = "/dav/addressbooks/bob@example.com/contacts/";
    let w = as_user(
        BOB,
        addr,
        "PUT",
        &format!("{book}ann.vcf"),
        &[("Content-Type", "text/vcard")],
        card("ann").as_bytes(),
    );
    assert_eq!(w.status, 201, "{}", w.text());
    assert_eq!(
        as_user(CAROL, addr, "GET", &format!("{book}ann.vcf"), &[], b"").status,
        404
    );
    run(
        &config,
        &["calendar", "share", BOB, "contacts", CAROL, "lr"],
    );
    let r = as_user(CAROL, addr, "GET", &format!("{book}ann.vcf"), &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("UID:ann"));
    let w = as_user(
        CAROL,
        addr,
        "PUT",
        &format!("{book}bee.vcf"),
        &[("Content-Type", "text/vcard")],
        card("bee").as_bytes(),
    );
    assert_eq!(w.status, 403);
    let p = as_user(
        CAROL,
        addr,
        "PROPFIND",
        "/dav/principals/carol@example.com/",
        &[("Depth", "0")],
        PROPFIND_PRINCIPAL.as_bytes(),
    );
    assert_eq!(
        hrefs_in(&p.text(), "addressbook-home-set"),
        ["/dav/addressbooks/carol@example.com/"]
    );
    let books = as_user(
        CAROL,
        addr,
        "PROPFIND",
        "/dav/addressbooks/carol@example.com/",
        &[("Depth", "1")],
        PROPFIND_PRIVS.as_bytes(),
    );
    assert!(
        all_hrefs(&books.text())
            .iter()
            .any(|h| h.starts_with("/dav/addressbooks/bob@example.com/")),
        "{}",
        books.text()
    );

    // Revoked: back to 404.
    run(
        &config,
        &["calendar", "share", BOB, "calendar", CAROL, "none"],
    );
    assert_eq!(as_user(CAROL, addr, "GET", &ev, &[], b"").status, 404);
}
