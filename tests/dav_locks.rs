//! Locks (RFC 4918 class 2) and modification times on calendars and address books (issue
//! 15), on the real binary with raw requests:
//!
//! - OPTIONS says class 2; LOCK on an object answers its lock (`Lock-Token`,
//!   `lockdiscovery`); PUT, DELETE and MOVE without the token answer 423
//!   `lock-token-submitted`, with it (`If: (<token>)`) they go through; `lockdiscovery` and
//!   `supportedlock` are answered by PROPFIND; a sharee with write rights sees the lock and
//!   cannot UNLOCK it, the taker can; a depth-infinity lock on a collection guards the
//!   creation of objects in it; an address-book object locks the same way.
//! - `getlastmodified` (PROPFIND) and Last-Modified (GET, HEAD) on objects, and the
//!   calendar's `getlastmodified` (its last member write); If-Modified-Since answers 304
//!   (no body, ETag and Last-Modified) for an unchanged object, If-Unmodified-Since 412 for
//!   one changed after the date.
//! - A sharee takes at most 100 locks in another's home; the owner more.
//!
//! On the backend `FERRYMAIL_TEST_BACKEND` names (`common::storage_section`).

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::dav::{as_user, server};
use common::proc::cli;

const BOB: &str = "bob@example.com";
const EVE: &str = "eve@example.com";
const CAL: &str = "/dav/calendars/bob@example.com/calendar/";
const BOOK: &str = "/dav/addressbooks/bob@example.com/contacts/";

const LOCKINFO: &[u8] = br#"<?xml version="1.0" encoding="utf-8"?>
<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>
<D:locktype><D:write/></D:locktype><D:owner>bob's client</D:owner></D:lockinfo>"#;

fn run(config: &Path, args: &[&str]) {
    let (ok, out) = cli(config, args);
    assert!(ok, "{args:?}: {out}");
}

fn event(uid: &str, summary: &str) -> String {
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260201T090000Z\r\nDTEND:20260201T100000Z\r\n\
SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

fn put(who: &str, addr: SocketAddr, path: &str, body: &str, extra: &[(&str, &str)]) -> u16 {
    let mut h = vec![("Content-Type", "text/calendar; charset=utf-8")];
    h.extend_from_slice(extra);
    let r = as_user(who, addr, "PUT", path, &h, body.as_bytes());
    assert!(
        r.status < 300 || r.status == 423 || r.status == 412,
        "{path}: {} {}",
        r.status,
        r.text()
    );
    if r.status == 423 {
        assert!(r.text().contains("lock-token-submitted"), "{}", r.text());
    }
    r.status
}

/// LOCK `path` as `who`: the token.
fn lock(who: &str, addr: SocketAddr, path: &str, depth: &str) -> String {
    let r = as_user(
        who,
        addr,
        "LOCK",
        path,
        &[("Depth", depth), ("Timeout", "Second-600")],
        LOCKINFO,
    );
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    let token = r
        .header("Lock-Token")
        .expect("a Lock-Token")
        .trim_matches(|c| c == '<' || c == '>')
        .to_string();
    assert!(r.text().contains(&token), "{}", r.text());
    assert!(r.text().contains("<D:lockroot><D:href>"), "{}", r.text());
    token
}

fn props(who: &str, addr: SocketAddr, path: &str, names: &str) -> String {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><D:propfind xmlns:D=\"DAV:\"><D:prop>{names}\
</D:prop></D:propfind>"
    );
    let r = as_user(
        who,
        addr,
        "PROPFIND",
        path,
        &[("Depth", "0")],
        body.as_bytes(),
    );
    assert_eq!(r.status, 207, "{}", r.text());
    r.text()
}

#[test]
fn locks_guard_calendar_and_contact_writes() {
    let (_dir, config, _server, addr) = server("");
    run(
        &config,
        &["calendar", "share", BOB, "calendar", EVE, "lrwit"],
    );
    let options = as_user(BOB, addr, "OPTIONS", CAL, &[], b"");
    let dav = options.header("DAV").unwrap_or("").to_string();
    assert!(dav.split(',').any(|c| c.trim() == "2"), "{dav}");
    assert!(options.header("Allow").unwrap_or("").contains("LOCK"));

    let ev = format!("{CAL}ev.ics");
    assert_eq!(put(BOB, addr, &ev, &event("ev", "one"), &[]), 201);
    let token = lock(BOB, addr, &ev, "0");
    let with = format!("(<{token}>)");

    // What PROPFIND says of it.
    let text = props(BOB, addr, &ev, "<D:lockdiscovery/><D:supportedlock/>");
    assert!(text.contains(&token), "{text}");
    assert!(text.contains("<D:exclusive/>"), "{text}");
    assert!(text.contains("<D:lockentry>"), "{text}");
    // The sharee sees it too (the lock is on the resource).
    let text = props(EVE, addr, &ev, "<D:lockdiscovery/>");
    assert!(text.contains(&token), "{text}");

    // Writes without the token: 423; a second exclusive lock: 423.
    assert_eq!(put(BOB, addr, &ev, &event("ev", "two"), &[]), 423);
    assert_eq!(put(EVE, addr, &ev, &event("ev", "two"), &[]), 423);
    let r = as_user(BOB, addr, "DELETE", &ev, &[], b"");
    assert_eq!(r.status, 423, "{}", r.text());
    let r = as_user(
        BOB,
        addr,
        "MOVE",
        &ev,
        &[("Destination", &format!("{CAL}moved.ics"))],
        b"",
    );
    assert_eq!(r.status, 423, "{}", r.text());
    let r = as_user(BOB, addr, "LOCK", &ev, &[("Depth", "0")], LOCKINFO);
    assert_eq!(r.status, 423, "{}", r.text());
    assert_eq!(
        as_user(BOB, addr, "GET", &ev, &[], b"").text(),
        event("ev", "one"),
        "nothing changed"
    );
    // The token is no capability (RFC 4918 §6.4): the sharee, who read it from
    // lockdiscovery, is still refused, and cannot refresh the lock.
    assert_eq!(
        put(EVE, addr, &ev, &event("ev", "two"), &[("If", &with)]),
        423
    );
    let r = as_user(EVE, addr, "DELETE", &ev, &[("If", &with)], b"");
    assert_eq!(r.status, 423, "{}", r.text());
    let r = as_user(EVE, addr, "LOCK", &ev, &[("If", &with)], b"");
    assert!(r.status >= 400, "{}: {}", r.status, r.text());
    // With it, by the taker: the write goes through.
    assert_eq!(
        put(BOB, addr, &ev, &event("ev", "two"), &[("If", &with)]),
        204
    );
    // A refresh (no body) keeps the token.
    let r = as_user(BOB, addr, "LOCK", &ev, &[("If", &with)], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(&token));

    // UNLOCK: not by the sharee; by the taker; then writes need nothing.
    let unlock = |who: &str| {
        as_user(
            who,
            addr,
            "UNLOCK",
            &ev,
            &[("Lock-Token", &format!("<{token}>"))],
            b"",
        )
    };
    assert_eq!(unlock(EVE).status, 403);
    assert_eq!(unlock(BOB).status, 204);
    assert!(!props(BOB, addr, &ev, "<D:lockdiscovery/>").contains(&token));
    assert_eq!(put(EVE, addr, &ev, &event("ev", "three"), &[]), 204);

    // A depth-infinity lock on the calendar (by the sharee): new objects and the
    // members need its token; DELETE of the locked object with it removes the lock's
    // hold on that object.
    let token = lock(EVE, addr, CAL, "infinity");
    let with = format!("(<{token}>)");
    let new = format!("{CAL}new.ics");
    assert_eq!(put(BOB, addr, &new, &event("new", "n"), &[]), 423);
    assert_eq!(put(BOB, addr, &ev, &event("ev", "four"), &[]), 423);
    // The owner holding the sharee's token is not the lock's taker either.
    assert_eq!(
        put(BOB, addr, &new, &event("new", "n"), &[("If", &with)]),
        423
    );
    assert_eq!(
        put(EVE, addr, &new, &event("new", "n"), &[("If", &with)]),
        201
    );
    let r = as_user(EVE, addr, "DELETE", &new, &[("If", &with)], b"");
    assert_eq!(r.status, 204, "{}", r.text());
    let text = props(BOB, addr, CAL, "<D:lockdiscovery/><D:supportedlock/>");
    assert!(
        text.contains(&token) && text.contains("<D:lockentry>"),
        "{text}"
    );
    // The owner may UNLOCK what a sharee took.
    let r = as_user(
        BOB,
        addr,
        "UNLOCK",
        CAL,
        &[("Lock-Token", &format!("<{token}>"))],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(put(BOB, addr, &new, &event("new", "n"), &[]), 201);

    // An address-book object the same way.
    let card = format!("{BOOK}c.vcf");
    let vcard = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:c1\r\nFN:Carol\r\nEND:VCARD\r\n";
    let h = [("Content-Type", "text/vcard")];
    assert_eq!(
        as_user(BOB, addr, "PUT", &card, &h, vcard.as_bytes()).status,
        201
    );
    let token = lock(BOB, addr, &card, "0");
    assert_eq!(
        as_user(BOB, addr, "PUT", &card, &h, vcard.as_bytes()).status,
        423
    );
    let with = format!("(<{token}>)");
    let h2 = [("Content-Type", "text/vcard"), ("If", with.as_str())];
    assert_eq!(
        as_user(BOB, addr, "PUT", &card, &h2, vcard.as_bytes()).status,
        204
    );
    // Homes are not lockable.
    let r = as_user(
        BOB,
        addr,
        "LOCK",
        "/dav/calendars/bob@example.com/",
        &[],
        LOCKINFO,
    );
    assert_eq!(r.status, 405, "{}", r.text());
}

#[test]
fn objects_have_a_modification_time() {
    let (_dir, _config, _server, addr) = server("");
    let ev = format!("{CAL}t.ics");
    assert_eq!(put(BOB, addr, &ev, &event("t", "one"), &[]), 201);
    let r = as_user(BOB, addr, "GET", &ev, &[], b"");
    assert_eq!(r.status, 200);
    let stamp = r
        .header("Last-Modified")
        .expect("Last-Modified")
        .to_string();
    assert!(stamp.ends_with(" GMT"), "{stamp}");
    let head = as_user(BOB, addr, "HEAD", &ev, &[], b"");
    assert_eq!(head.header("Last-Modified"), Some(stamp.as_str()));
    let text = props(BOB, addr, &ev, "<D:getlastmodified/>");
    assert!(
        text.contains(&format!("<D:getlastmodified>{stamp}</D:getlastmodified>")),
        "{text}"
    );
    // allprop has it too (the object's, not the collection's).
    let r = as_user(
        BOB,
        addr,
        "PROPFIND",
        &ev,
        &[("Depth", "0")],
        br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>"#,
    );
    assert!(r.text().contains("getlastmodified"), "{}", r.text());

    // The calendar's time is its last member write's: this one.
    let text = props(BOB, addr, CAL, "<D:getlastmodified/>");
    assert!(
        text.contains(&format!("<D:getlastmodified>{stamp}</D:getlastmodified>")),
        "{text}"
    );

    // Unchanged since its own time: 304, no body, the validators a 200 carries; since
    // long before: 200.
    let r = as_user(BOB, addr, "GET", &ev, &[("If-Modified-Since", &stamp)], b"");
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty(), "{}", r.text());
    assert_eq!(r.header("Last-Modified"), Some(stamp.as_str()));
    assert!(r.header("ETag").is_some_and(|e| e.starts_with('"')));
    let old = "Sat, 01 Jan 2000 00:00:00 GMT";
    let r = as_user(BOB, addr, "GET", &ev, &[("If-Modified-Since", old)], b"");
    assert_eq!(r.status, 200);
    // If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    let r = as_user(
        BOB,
        addr,
        "GET",
        &ev,
        &[
            ("If-Modified-Since", &stamp),
            ("If-None-Match", "\"other\""),
        ],
        b"",
    );
    assert_eq!(r.status, 200);
    // Changed after 2000: a write conditioned on it fails; on its own time it holds.
    let h = [("If-Unmodified-Since", old)];
    assert_eq!(put(BOB, addr, &ev, &event("t", "two"), &h), 412);
    let r = as_user(BOB, addr, "DELETE", &ev, &h, b"");
    assert_eq!(r.status, 412, "{}", r.text());
    let h = [("If-Unmodified-Since", stamp.as_str())];
    assert_eq!(put(BOB, addr, &ev, &event("t", "two"), &h), 204);
    assert!(as_user(BOB, addr, "GET", &ev, &[], b"")
        .text()
        .contains("SUMMARY:two"));
}

/// A sharee takes at most 100 locks in another's home (503 with a body saying so; one
/// released makes room again); the owner is not held to that and takes more.
#[test]
fn a_sharee_cannot_use_up_the_homes_locks() {
    let (_dir, config, _server, addr) = server("");
    run(
        &config,
        &["calendar", "share", BOB, "calendar", EVE, "lrwit"],
    );
    // Locks on unmapped object URLs: nothing to create first.
    let tokens: Vec<String> = (0..100)
        .map(|i| lock(EVE, addr, &format!("{CAL}eve-{i}.ics"), "0"))
        .collect();
    let over = format!("{CAL}eve-100.ics");
    let lock_over = || {
        as_user(
            EVE,
            addr,
            "LOCK",
            &over,
            &[("Depth", "0"), ("Timeout", "Second-600")],
            LOCKINFO,
        )
    };
    let r = lock_over();
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text().contains("eve@example.com holds 100"),
        "{}",
        r.text()
    );
    // The owner is held to the home's limit only.
    for i in 0..150 {
        lock(BOB, addr, &format!("{CAL}bob-{i}.ics"), "0");
    }
    // One of the sharee's released: room for one more, then full again.
    let first = format!("{CAL}eve-0.ics");
    let r = as_user(
        EVE,
        addr,
        "UNLOCK",
        &first,
        &[("Lock-Token", &format!("<{}>", tokens[0]))],
        b"",
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(lock_over().status, 200);
    assert_eq!(
        as_user(
            EVE,
            addr,
            "LOCK",
            &first,
            &[("Depth", "0"), ("Timeout", "Second-600")],
            LOCKINFO,
        )
        .status,
        503
    );
}
