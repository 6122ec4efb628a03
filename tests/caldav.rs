//! CalDAV and CardDAV on the real binary (issue 15): discovery from `/.well-known/caldav`
//! to the calendar home with a raw HTTP client, MKCALENDAR, an event with a 1 MB
//! description put, read back and deleted, ETag preconditions (412), `no-uid-conflict`,
//! another account's 404, vCard 3 and 4, a depth-1 PROPFIND over 10,000 events; then the
//! python `caldav` library and `caldav-server-tester` (in a virtualenv whose interpreter
//! `FERRYMAIL_CALDAV_PYTHON` names; a loud skip without it, a failure when
//! `FERRYMAIL_REQUIRE_CALDAV=1`).
//!
//! On the backend `FERRYMAIL_TEST_BACKEND` names (`common::storage_section`).

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use common::dav::{as_user, fold, server, PASSWORD};
use common::http::{request, Response};

const CAL: &str = "/dav/calendars/bob@example.com";

fn bob(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    as_user("bob@example.com", addr, method, path, headers, body)
}

/// An event; `description` is folded at 75 octets as RFC 5545 §3.1 says.
fn event(uid: &str, description: &str) -> String {
    let folded = fold(&format!("DESCRIPTION:{description}"));
    format!(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrymail test//EN\r\nBEGIN:VEVENT\r\n\
UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260201T090000Z\r\n\
DTEND:20260201T100000Z\r\nSUMMARY:{uid}\r\n{folded}END:VEVENT\r\nEND:VCALENDAR\r\n"
    )
}

/// The text of the first `<D:href>` after `marker` (a property's name) in a multistatus.
fn href_after(body: &str, marker: &str) -> Option<String> {
    let at = body.find(marker)?;
    let open = body[at..].find("<D:href>")? + at + "<D:href>".len();
    let close = body[open..].find("</D:href>")? + open;
    Some(body[open..close].to_string())
}

#[test]
fn discovery_events_contacts_and_preconditions() {
    let (_dir, _config, _server, http) = server("");
    // RFC 6764: the well-known URI, then current-user-principal, then the home set.
    let res = request(http, false, "PROPFIND", "/.well-known/caldav", &[], b"");
    assert_eq!(res.status, 301);
    let root = res.header("location").unwrap().to_string();
    let ask =
        br#"<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>"#;
    let res = bob(http, "PROPFIND", &root, &[("Depth", "0")], ask);
    assert_eq!(res.status, 207, "{}", res.text());
    let principal = href_after(&res.text(), "current-user-principal").unwrap();
    assert_eq!(principal, "/dav/principals/bob@example.com/");
    let ask = br#"<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-home-set/></d:prop></d:propfind>"#;
    let res = bob(http, "PROPFIND", &principal, &[("Depth", "0")], ask);
    let home = href_after(&res.text(), "calendar-home-set").unwrap();
    assert_eq!(home, format!("{CAL}/"));
    let res = bob(http, "OPTIONS", &home, &[], b"");
    assert!(res
        .header("dav")
        .is_some_and(|d| d.contains("calendar-access")));

    // MKCALENDAR, then the home lists it.
    let mk = br#"<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Trips</d:displayname></d:prop></d:set></c:mkcalendar>"#;
    let res = bob(http, "MKCALENDAR", &format!("{home}trips/"), &[], mk);
    assert_eq!(res.status, 201, "{}", res.text());
    let res = bob(http, "PROPFIND", &home, &[("Depth", "1")], b"");
    assert!(res.text().contains("<D:displayname>Trips</D:displayname>"));

    // An event with a 1 MB description: PUT, GET the same bytes, ETag preconditions.
    let big = "x".repeat(1024 * 1024);
    let ev = event("big-1", &big);
    let url = format!("{home}trips/big-1.ics");
    let ct = ("Content-Type", "text/calendar; charset=utf-8");
    let res = bob(
        http,
        "PUT",
        &url,
        &[ct, ("If-None-Match", "*")],
        ev.as_bytes(),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let etag = res.header("etag").unwrap().to_string();
    let res = bob(http, "GET", &url, &[], b"");
    assert_eq!(res.status, 200);
    assert_eq!(res.body, ev.as_bytes());
    assert_eq!(res.header("etag"), Some(etag.as_str()));
    let res = bob(
        http,
        "PUT",
        &url,
        &[ct, ("If-None-Match", "*")],
        ev.as_bytes(),
    );
    assert_eq!(res.status, 412);
    let res = bob(
        http,
        "PUT",
        &url,
        &[ct, ("If-Match", "\"0000\"")],
        ev.as_bytes(),
    );
    assert_eq!(res.status, 412);
    let res = bob(http, "DELETE", &url, &[("If-Match", "\"0000\"")], b"");
    assert_eq!(res.status, 412);
    // The same UID under another name: no-uid-conflict with the holder's href.
    let res = bob(
        http,
        "PUT",
        &format!("{home}trips/dup.ics"),
        &[ct],
        ev.as_bytes(),
    );
    assert_eq!(res.status, 403);
    assert!(res.text().contains("no-uid-conflict"), "{}", res.text());
    assert!(res.text().contains(&url), "{}", res.text());
    // Another account: 404 for everything of bob's.
    for (method, path) in [
        ("GET", url.as_str()),
        ("PROPFIND", home.as_str()),
        ("DELETE", url.as_str()),
    ] {
        let res = as_user(
            "eve@example.com",
            http,
            method,
            path,
            &[("Depth", "0")],
            b"",
        );
        assert_eq!(res.status, 404, "{method} {path}");
    }
    let res = bob(http, "DELETE", &url, &[("If-Match", etag.as_str())], b"");
    assert_eq!(res.status, 204);
    let res = bob(http, "GET", &url, &[], b"");
    assert_eq!(res.status, 404);

    // vCard 3 and 4 in the default address book.
    let book = "/dav/addressbooks/bob@example.com/contacts";
    let v3 = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Example\r\nN:Example;Ann;;;\r\nUID:ann-3\r\nTEL;TYPE=CELL:+1 555 0100\r\nEND:VCARD\r\n";
    let v4 = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Bo Example\r\nUID:urn:uuid:bo-4\r\nEMAIL;TYPE=work:bo@example.net\r\nEND:VCARD\r\n";
    for (name, card) in [("ann.vcf", v3), ("bo.vcf", v4)] {
        let path = format!("{book}/{name}");
        let res = bob(
            http,
            "PUT",
            &path,
            &[("Content-Type", "text/vcard")],
            card.as_bytes(),
        );
        assert_eq!(res.status, 201, "{name}: {}", res.text());
        let res = bob(http, "GET", &path, &[], b"");
        assert_eq!(res.body, card.as_bytes());
    }
    let res = bob(
        http,
        "PROPFIND",
        &format!("{book}/"),
        &[("Depth", "1")],
        b"",
    );
    assert_eq!(res.text().matches("<D:response>").count(), 3);
}

#[test]
fn propfind_depth_one_over_ten_thousand_events() {
    let (_dir, _config, _server, http) = server("");
    let res = bob(http, "MKCALENDAR", &format!("{CAL}/many/"), &[], b"");
    assert_eq!(res.status, 201);
    let n = 10_000;
    let threads = 4;
    std::thread::scope(|s| {
        for t in 0..threads {
            s.spawn(move || {
                for i in (t..n).step_by(threads) {
                    let ev = event(&format!("e{i}"), "one of many");
                    let res = bob(
                        http,
                        "PUT",
                        &format!("{CAL}/many/e{i}.ics"),
                        &[("Content-Type", "text/calendar")],
                        ev.as_bytes(),
                    );
                    assert_eq!(res.status, 201, "{i}: {}", res.text());
                }
            });
        }
    });
    let ask = br#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;
    let res = bob(
        http,
        "PROPFIND",
        &format!("{CAL}/many/"),
        &[("Depth", "1")],
        ask,
    );
    assert_eq!(res.status, 207);
    let body = res.text();
    assert_eq!(body.matches("<D:response>").count(), n + 1);
    assert_eq!(body.matches("<D:getetag>").count(), n);
    eprintln!("PROPFIND depth 1 over {n} events: {} bytes", body.len());
}

/// The interpreter of the virtualenv with `caldav` and `caldav-server-tester`, or a loud
/// skip (a failure when FERRYMAIL_REQUIRE_CALDAV is set).
fn caldav_python() -> Option<PathBuf> {
    match std::env::var_os("FERRYMAIL_CALDAV_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var("FERRYMAIL_REQUIRE_CALDAV").is_err(),
                "FERRYMAIL_REQUIRE_CALDAV is set but FERRYMAIL_CALDAV_PYTHON is not"
            );
            eprintln!(
                "SKIP: FERRYMAIL_CALDAV_PYTHON is not set (a python with caldav and \
                 caldav-server-tester; FERRYMAIL_REQUIRE_CALDAV=1 makes this a failure)"
            );
            None
        }
    }
}

#[test]
fn python_caldav_library() {
    let Some(python) = caldav_python() else {
        return;
    };
    let (_dir, _config, _server, http) = server("");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/caldav/client.py");
    let url = format!("http://{http}/dav/");
    let out = Command::new(&python)
        .arg(&script)
        .args([&url, "bob@example.com", PASSWORD, "reports"])
        .output()
        .expect("the python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for step in [
        "ok principal",
        "ok calendar-home-set",
        "ok make_calendar",
        "ok save_event",
        "ok load event",
        "ok edit event",
        "ok save_todo",
        "ok events",
        "ok time-range search",
        "ok sync token",
        "ok delete event",
        "ok delete calendar",
    ] {
        assert!(stdout.contains(step), "{step} missing:\n{stdout}\n{stderr}");
    }
}

/// The python `caldav` library as a sharee: eve discovers her own home (the principal
/// also names bob's home, whose calendar he shared with her read-only), reads the shared
/// calendar's events and finds herself by principal search.
#[test]
fn python_caldav_as_a_sharee() {
    let Some(python) = caldav_python() else {
        return;
    };
    let (_dir, config, _server, http) = server("");
    let res = bob(
        http,
        "PUT",
        &format!("{CAL}/calendar/shared.ics"),
        &[("Content-Type", "text/calendar")],
        event("shared-1", "x")
            .replace("SUMMARY:shared-1", "SUMMARY:Shared planning")
            .as_bytes(),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let (ok, out) = common::proc::cli(
        &config,
        &[
            "calendar",
            "share",
            "bob@example.com",
            "calendar",
            "eve@example.com",
            "lr",
        ],
    );
    assert!(ok, "{out}");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/caldav/sharee.py");
    let url = format!("http://{http}/dav/");
    let out = Command::new(&python)
        .arg(&script)
        .args([&url, "eve@example.com", PASSWORD, "bob@example.com"])
        .output()
        .expect("the python interpreter runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("ok calendar-home-set ")
                && l.ends_with("/dav/calendars/eve@example.com/")),
        "{stdout}"
    );
    assert!(stdout.contains("ok shared events"), "{stdout}");
    assert!(stdout.contains("ok principal search"), "{stdout}");
}

/// `caldav-server-tester` (from the same virtualenv) over the server: what it finds is
/// printed; the features built here must not deviate (a missing entry is full support:
/// the report lists deviations only).
#[test]
fn caldav_server_tester_finds_what_is_built() {
    let Some(python) = caldav_python() else {
        return;
    };
    let tester = python.with_file_name("caldav-server-tester");
    assert!(
        tester.exists(),
        "{} is missing: install caldav-server-tester into the venv",
        tester.display()
    );
    let (_dir, _config, _server, http) = server("");
    let url = format!("http://{http}/dav/");
    let out = Command::new(&tester)
        .args(["--caldav-url", &url, "--caldav-username", "bob@example.com"])
        .args(["--caldav-password", PASSWORD, "--format", "json"])
        .output()
        .expect("caldav-server-tester runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("a JSON report");
    let features = report["features"].as_object().expect("features");
    for (name, found) in features {
        eprintln!("caldav-server-tester: {name}: {found}");
    }
    for name in [
        "create-calendar",
        "delete-calendar",
        "save-load.event",
        "save-load.todo",
        "save-load.event.timezone",
        "save.no-uid-conflict",
        "calendar-color",
        "search.time-range.event",
        "search.recurrences.expanded.exception",
        "principal-search.by-name.self",
        "principal-search.list-all",
        "sync-token",
    ] {
        let support = features
            .get(name)
            .map_or("full", |f| f["support"].as_str().unwrap_or("?"));
        assert_eq!(support, "full", "{name}: {:?}", features.get(name));
    }
    // Nothing half-working: what is not supported says so (a feature left out, e.g.
    // Schedule-Tag, is "unsupported"), never a wrong or a crashing answer.
    for (name, found) in features {
        let support = found["support"].as_str().unwrap_or("?");
        assert!(
            !matches!(support, "ungraceful" | "fragile" | "broken"),
            "{name}: {found}"
        );
    }
}
