//! vdirsyncer (the Debian package) against the real binary's CalDAV and CardDAV (issue 15):
//! a calendar and an address book of 1,000 items each (events, a few of them recurring in a
//! VTIMEZONE with an overridden instance, one with an attachment of some KB; vCards 3.0 and
//! 4.0, some with photos of some KB), two thirds made in local filesystem storages and one
//! third put on the server first (PUT with If-None-Match: *), paired with the server's
//! default `calendar` and `contacts` found by discovery. `discover` and the first `sync`
//! carry each side's items to the other (PUTs one way, multiget REPORTs the other); then an
//! edit on each side, the same item edited on both sides (the default reports the conflict
//! and changes nothing, `conflict_resolution = "a wins"` puts the local copy on the server),
//! a delete on each side, an idle sync (also listing the calendar through a
//! calendar-query), and `metasync` of names and colour (PROPPATCH both ways). After every sync
//! both sides are compared item by item: the server's through PROPFIND depth 1 and multiget
//! REPORTs, a few by GET byte for byte.
//!
//! Two more pairs point at one calendar URL each (`collections = null`): eve syncs bob's
//! calendar shared with her, read-write (edits and a new item go both ways) and then
//! read-only (her local edit is refused with 403 and reported, the server's copy and her
//! file stay as they were, and bob's later edit still reaches her); and a sync limited
//! by `start_date`/`end_date` (vdirsyncer's calendar-query with a time-range, for VEVENT
//! and VTODO) over single, recurring (RRULE, RDATE, an overridden instance moved into the
//! range) and all-day events and a task brings exactly the items in the range.
//!
//! vdirsyncer missing: a loud SKIP, a failure when `FERRYMAIL_REQUIRE_VDIRSYNCER=1`.
//! On the backend `FERRYMAIL_TEST_BACKEND` names (`common::storage_section`).

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use common::dav::{as_user, fold, have, server, PASSWORD};
use common::proc::cli;
use ferrymail::protocols::webdav::xml::{self, Element, DAV};

const WHO: &str = "bob@example.com";
/// Items in each of the calendar and the address book.
const N: usize = 1000;
/// How long one vdirsyncer run may take before it is killed (a bound, not an expectation).
const RUN_BOUND: Duration = Duration::from_secs(900);
const CALDAV: &str = "urn:ietf:params:xml:ns:caldav";
const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";

/// The event that carries an attachment, and every hundredth from 3 on recurs.
const ATTACHED: usize = 7;

/// Whether item `i` starts on the server (a third of them); the rest start locally.
fn made_on_server(i: usize) -> bool {
    i % 3 == 1
}

/// Deterministic bytes of some KB standing for a JPEG or an attachment.
fn blob(seed: usize, len: usize) -> Vec<u8> {
    let mut x = (seed as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0];
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

const BERLIN: &str = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n";

/// Event `i` of the calendar; `variant` goes into its SUMMARY (the edits change it).
fn event(i: usize, variant: &str) -> String {
    let uid = format!("vds-ev-{i:04}");
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrymail vdirsyncer test//EN\r\n",
    );
    let recurring = i % 100 == 3;
    if recurring {
        out.push_str(BERLIN);
    }
    out.push_str(&format!(
        "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
    ));
    let k = i / 100;
    if recurring {
        out.push_str(&format!(
            "DTSTART;TZID=Europe/Berlin:202603{:02}T090000\r\n\
             DTEND;TZID=Europe/Berlin:202603{:02}T100000\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n",
            2 + k,
            2 + k
        ));
    } else {
        let (month, day, hour) = ((i / 28) % 12 + 1, i % 28 + 1, 8 + i % 9);
        out.push_str(&format!(
            "DTSTART:2026{month:02}{day:02}T{hour:02}0000Z\r\n\
             DTEND:2026{month:02}{day:02}T{hour:02}3000Z\r\n"
        ));
    }
    out.push_str(&fold(&format!("SUMMARY:{uid} {variant}")));
    if i == ATTACHED {
        out.push_str(&fold(&format!(
            "ATTACH;FMTTYPE=application/octet-stream;ENCODING=BASE64;VALUE=BINARY:{}",
            b64(&blob(i, 6 * 1024))
        )));
    }
    out.push_str("END:VEVENT\r\n");
    if recurring {
        // The second week's instance moved two hours later.
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n\
             RECURRENCE-ID;TZID=Europe/Berlin:202603{d:02}T090000\r\n\
             DTSTART;TZID=Europe/Berlin:202603{d:02}T110000\r\n\
             DTEND;TZID=Europe/Berlin:202603{d:02}T120000\r\nSUMMARY:{uid} moved\r\n\
             END:VEVENT\r\n",
            d = 9 + k
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

/// The UID of card `i`: vCard 3 cards (even) have plain ones that vdirsyncer uses as the
/// server's file name, vCard 4 cards `urn:uuid:` ones (the server's name is then a UUID
/// vdirsyncer makes up).
fn card_uid(i: usize) -> String {
    if i % 2 == 0 {
        format!("vds-card-{i:04}")
    } else {
        format!("urn:uuid:00000000-0000-4000-8000-{i:012}")
    }
}

/// Card `i` of the address book; `variant` goes into its NOTE (the edits change it).
fn card(i: usize, variant: &str) -> String {
    let uid = card_uid(i);
    let photo = i % 50 < 2;
    if i % 2 == 0 {
        let mut out = format!(
            "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:{uid}\r\nFN:Ann Person{i:04}\r\n\
             N:Person{i:04};Ann;;;\r\nEMAIL;TYPE=INTERNET:ann{i}@example.net\r\n\
             TEL;TYPE=CELL:+1 555 {i:04}\r\n"
        );
        out.push_str(&fold(&format!("NOTE:{variant}")));
        if photo {
            out.push_str(&fold(&format!(
                "PHOTO;ENCODING=b;TYPE=JPEG:{}",
                b64(&blob(i, 5 * 1024))
            )));
        }
        out.push_str("END:VCARD\r\n");
        out
    } else {
        let mut out = format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Bo Person{i:04}\r\n\
             N:Person{i:04};Bo;;;\r\nEMAIL;TYPE=work:bo{i}@example.net\r\n\
             TEL;VALUE=uri;TYPE=cell:tel:+1-555-{i:04}\r\n"
        );
        out.push_str(&fold(&format!("NOTE:{variant}")));
        if photo {
            out.push_str(&fold(&format!(
                "PHOTO:data:image/jpeg;base64,{}",
                b64(&blob(i, 5 * 1024))
            )));
        }
        out.push_str("END:VCARD\r\n");
        out
    }
}

/// The calendar or the address book, as both sides see it.
struct Kind {
    /// vdirsyncer's pair.
    pair: &'static str,
    /// The collection's name on both sides (the server's default one).
    collection: &'static str,
    /// Its URL path on the server.
    path: String,
    ext: &'static str,
    content_type: &'static str,
    /// The multiget REPORT and its data property, in `ns`.
    ns: &'static str,
    multiget: &'static str,
    data: &'static str,
    make: fn(usize, &str) -> String,
    uid: fn(usize) -> String,
    /// Items compared byte for byte by GET after the first sync.
    samples: [usize; 4],
}

impl Kind {
    fn calendar() -> Kind {
        Kind {
            pair: "cal",
            collection: "calendar",
            path: format!("/dav/calendars/{WHO}/calendar/"),
            ext: ".ics",
            content_type: "text/calendar; charset=utf-8",
            ns: CALDAV,
            multiget: "calendar-multiget",
            data: "calendar-data",
            make: event,
            uid: |i| format!("vds-ev-{i:04}"),
            samples: [0, 3, ATTACHED, 103],
        }
    }

    fn contacts() -> Kind {
        Kind {
            pair: "card",
            collection: "contacts",
            path: format!("/dav/addressbooks/{WHO}/contacts/"),
            ext: ".vcf",
            content_type: "text/vcard; charset=utf-8",
            ns: CARDDAV,
            multiget: "addressbook-multiget",
            data: "address-data",
            make: card,
            uid: card_uid,
            samples: [0, 1, 51, 100],
        }
    }

    /// The local directory of the collection.
    fn local(&self, root: &Path) -> PathBuf {
        root.join("local").join(self.pair).join(self.collection)
    }

    /// The local file the test makes for item `i` (vdirsyncer names those it downloads).
    fn file(&self, root: &Path, i: usize) -> PathBuf {
        self.local(root)
            .join(format!("vds-{}-{i:04}{}", self.pair, self.ext))
    }

    /// The URL path the test puts item `i` at on the server (vdirsyncer names those it
    /// uploads).
    fn href(&self, i: usize) -> String {
        format!("{}srv-{i:04}{}", self.path, self.ext)
    }

    /// The local file holding item `i` now, found by its UID.
    fn local_file(&self, root: &Path, i: usize) -> PathBuf {
        let uid = (self.uid)(i);
        local_items(root, self)
            .remove(&uid)
            .unwrap_or_else(|| panic!("{uid} is not in a local file"))
            .0
    }
}

/// A vdirsyncer config: one pair per kind, local filesystem as `a`, the server as `b`,
/// collections found by discovery; `conflict` is the pairs' `conflict_resolution`. With
/// `events_only`, the calendar's server storage has `item_types = ["VEVENT"]`: vdirsyncer
/// then lists it with a calendar-query REPORT instead of a PROPFIND.
fn write_config(
    root: &Path,
    http: SocketAddr,
    conflict: Option<&str>,
    events_only: bool,
) -> PathBuf {
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let mut text = format!(
        "[general]\nstatus_path = {}\n",
        json(&root.join("status").display().to_string())
    );
    for kind in [Kind::calendar(), Kind::contacts()] {
        let (pair, server_type) = (
            kind.pair,
            if kind.ns == CALDAV {
                "caldav"
            } else {
                "carddav"
            },
        );
        let metasync = if kind.ns == CALDAV {
            r#"["displayname", "color"]"#
        } else {
            r#"["displayname"]"#
        };
        text.push_str(&format!(
            "\n[pair {pair}]\na = \"{pair}_local\"\nb = \"{pair}_server\"\ncollections = [{}]\n\
             metadata = {metasync}\n",
            json(kind.collection)
        ));
        if let Some(c) = conflict {
            text.push_str(&format!("conflict_resolution = {}\n", json(c)));
        }
        text.push_str(&format!(
            "\n[storage {pair}_local]\ntype = \"filesystem\"\npath = {}\nfileext = {}\n\
             \n[storage {pair}_server]\ntype = {}\nurl = {}\nusername = {}\npassword = {}\n",
            json(&root.join("local").join(pair).display().to_string()),
            json(kind.ext),
            json(server_type),
            json(&format!("http://{http}/dav/")),
            json(WHO),
            json(PASSWORD),
        ));
        if events_only && kind.ns == CALDAV {
            text.push_str("item_types = [\"VEVENT\"]\n");
        }
    }
    let path = root.join("vdirsyncer.conf");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs vdirsyncer with `args` (no stdin, home and config dirs inside `root`, warnings and
/// errors only unless `FERRYMAIL_VDIRSYNCER_VERBOSITY` names another level, e.g. DEBUG to see
/// every request) within [`RUN_BOUND`]; whether it succeeded, and what it printed.
fn vdirsyncer(root: &Path, config: &Path, args: &[&str]) -> (bool, String) {
    let log = root.join("vdirsyncer.log");
    let out = File::create(&log).unwrap();
    let started = Instant::now();
    let verbosity =
        std::env::var("FERRYMAIL_VDIRSYNCER_VERBOSITY").unwrap_or_else(|_| "WARNING".into());
    let mut child = Command::new("vdirsyncer")
        .env("VDIRSYNCER_CONFIG", config)
        .env("HOME", root)
        .env("XDG_CONFIG_HOME", root.join("xdg-config"))
        .env("XDG_DATA_HOME", root.join("xdg-data"))
        .args(["--verbosity", &verbosity])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("vdirsyncer runs");
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "vdirsyncer {args:?} still running after {RUN_BOUND:?}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!("vdirsyncer {args:?}: {:.1?}", started.elapsed());
    (
        status.success(),
        std::fs::read_to_string(&log).unwrap_or_default(),
    )
}

fn sync_ok(root: &Path, config: &Path) {
    let (ok, log) = vdirsyncer(root, config, &["sync"]);
    assert!(ok, "vdirsyncer sync failed:\n{log}");
}

/// The first element `{ns}local` at or below `el`.
fn find<'e>(el: &'e Element, ns: &str, local: &str) -> Option<&'e Element> {
    if el.is(ns, local) {
        return Some(el);
    }
    el.elements().find_map(|c| find(c, ns, local))
}

/// The UID of an iCalendar object or a vCard (its first UID line, unfolded).
fn uid_of(text: &str) -> Option<String> {
    let unfolded = text.replace("\r\n ", "").replace("\n ", "");
    unfolded.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        (name.split(';').next()?.eq_ignore_ascii_case("UID")).then(|| value.trim().to_string())
    })
}

/// An item on the server.
#[derive(Debug)]
struct Remote {
    href: String,
    etag: String,
    /// Its data from the multiget REPORT.
    data: String,
}

/// Every item of `kind`'s collection on the server by UID: the members and ETags a depth-1
/// PROPFIND lists (as vdirsyncer asks, getetag and getcontenttype), their data through
/// multiget REPORTs of 100 hrefs, whose ETags must agree.
fn server_items(http: SocketAddr, kind: &Kind) -> BTreeMap<String, Remote> {
    let ask = br#"<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>"#;
    let res = as_user(WHO, http, "PROPFIND", &kind.path, &[("Depth", "1")], ask);
    assert_eq!(res.status, 207, "{}", res.text());
    let root = xml::parse(&res.body).unwrap().expect("a multistatus");
    let mut listed = BTreeMap::new();
    for r in root.elements().filter(|e| e.is(DAV, "response")) {
        let href = find(r, DAV, "href").expect("href").text();
        if href == kind.path {
            continue;
        }
        let etag = find(r, DAV, "getetag").map(|e| e.text());
        let ct = find(r, DAV, "getcontenttype").map(|e| e.text());
        assert!(
            ct.as_deref()
                .is_some_and(|c| c.starts_with(kind.content_type.split(';').next().unwrap())),
            "{href}: content type {ct:?}"
        );
        listed.insert(
            href.clone(),
            etag.unwrap_or_else(|| panic!("{href}: no getetag")),
        );
    }
    let hrefs: Vec<&String> = listed.keys().collect();
    let mut items = BTreeMap::new();
    for chunk in hrefs.chunks(100) {
        let mut body = format!(
            "<c:{} xmlns:d=\"DAV:\" xmlns:c=\"{}\"><d:prop><d:getetag/><c:{}/></d:prop>",
            kind.multiget, kind.ns, kind.data
        );
        for href in chunk {
            body.push_str(&format!("<d:href>{href}</d:href>"));
        }
        body.push_str(&format!("</c:{}>", kind.multiget));
        let res = as_user(
            WHO,
            http,
            "REPORT",
            &kind.path,
            &[("Depth", "1"), ("Content-Type", "application/xml")],
            body.as_bytes(),
        );
        assert_eq!(res.status, 207, "{}", res.text());
        let root = xml::parse(&res.body).unwrap().expect("a multistatus");
        let mut answered = 0;
        for r in root.elements().filter(|e| e.is(DAV, "response")) {
            let href = find(r, DAV, "href").expect("href").text();
            let etag = find(r, DAV, "getetag")
                .unwrap_or_else(|| panic!("{href}: no getetag in the multiget"))
                .text();
            let data = find(r, kind.ns, kind.data)
                .unwrap_or_else(|| panic!("{href}: no {}", kind.data))
                .text();
            assert_eq!(listed.get(&href), Some(&etag), "{href}: ETags differ");
            let uid = uid_of(&data).unwrap_or_else(|| panic!("{href}: no UID in {data}"));
            let before = items.insert(uid.clone(), Remote { href, etag, data });
            assert!(before.is_none(), "UID {uid} twice on the server");
            answered += 1;
        }
        assert_eq!(answered, chunk.len(), "a multiget answered for every href");
    }
    items
}

/// Every local item of `kind` by UID: its file and its text.
fn local_items(root: &Path, kind: &Kind) -> BTreeMap<String, (PathBuf, String)> {
    let mut items = BTreeMap::new();
    for entry in std::fs::read_dir(kind.local(root)).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some(&kind.ext[1..]) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let uid = uid_of(&text).unwrap_or_else(|| panic!("{}: no UID", path.display()));
        let before = items.insert(uid.clone(), (path, text));
        assert!(before.is_none(), "UID {uid} twice locally");
    }
    items
}

/// Line ends as `\n`: what an XML reader may make of the CRLFs inside a multistatus.
fn lines(text: &str) -> String {
    text.replace("\r\n", "\n")
}

/// Both sides hold the same `expected` number of items, with the same UIDs and contents.
fn assert_in_step(
    root: &Path,
    http: SocketAddr,
    kind: &Kind,
    expected: usize,
) -> BTreeMap<String, Remote> {
    let remote = server_items(http, kind);
    let local = local_items(root, kind);
    assert_eq!(remote.len(), expected, "{} items on the server", kind.pair);
    assert_eq!(local.len(), expected, "{} items locally", kind.pair);
    for (uid, (path, text)) in &local {
        let r = remote
            .get(uid)
            .unwrap_or_else(|| panic!("{uid} ({}) is not on the server", path.display()));
        assert_eq!(lines(&r.data), lines(text), "{uid}: the two sides differ");
    }
    remote
}

/// The server's bytes of `uid` by GET.
fn get(http: SocketAddr, remote: &BTreeMap<String, Remote>, uid: &str) -> Vec<u8> {
    let r = remote
        .get(uid)
        .unwrap_or_else(|| panic!("{uid} not on the server"));
    let res = as_user(WHO, http, "GET", &r.href, &[], b"");
    assert_eq!(res.status, 200, "GET {}", r.href);
    assert_eq!(res.header("etag"), Some(r.etag.as_str()), "GET {}", r.href);
    res.body
}

/// Replaces `uid` on the server with `body`, with If-Match its ETag (a stale one is refused).
fn put_on_server(
    http: SocketAddr,
    kind: &Kind,
    remote: &BTreeMap<String, Remote>,
    uid: &str,
    body: &str,
) {
    let r = &remote[uid];
    let ct = ("Content-Type", kind.content_type);
    let res = as_user(
        WHO,
        http,
        "PUT",
        &r.href,
        &[ct, ("If-Match", "\"stale\"")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 412, "PUT with a stale ETag: {}", res.text());
    let res = as_user(
        WHO,
        http,
        "PUT",
        &r.href,
        &[ct, ("If-Match", r.etag.as_str())],
        body.as_bytes(),
    );
    assert!(
        matches!(res.status, 200 | 204),
        "PUT {}: {} {}",
        r.href,
        res.status,
        res.text()
    );
}

#[test]
fn calendar_and_address_book_of_a_thousand_items_both_ways() {
    if !have("vdirsyncer", "FERRYMAIL_REQUIRE_VDIRSYNCER") {
        return;
    }
    let started = Instant::now();
    let (dir, _config, _server, http) = server("");
    let root = dir.path();
    let kinds = [Kind::calendar(), Kind::contacts()];
    for kind in &kinds {
        std::fs::create_dir_all(kind.local(root)).unwrap();
        for i in 0..N {
            let body = (kind.make)(i, "as made");
            if !made_on_server(i) {
                std::fs::write(kind.file(root, i), body).unwrap();
                continue;
            }
            let headers = [("Content-Type", kind.content_type), ("If-None-Match", "*")];
            let res = as_user(WHO, http, "PUT", &kind.href(i), &headers, body.as_bytes());
            assert_eq!(res.status, 201, "PUT {}: {}", kind.href(i), res.text());
        }
    }
    let config = write_config(root, http, None, false);

    // Discovery finds the default calendar and address book; the first sync uploads all.
    let (ok, log) = vdirsyncer(root, &config, &["discover"]);
    assert!(ok, "vdirsyncer discover failed:\n{log}");
    sync_ok(root, &config);
    for kind in &kinds {
        let remote = assert_in_step(root, http, kind, N);
        for i in kind.samples {
            // Byte for byte on both sides, whichever side the item started on.
            let uid = (kind.uid)(i);
            let made = (kind.make)(i, "as made");
            let local = std::fs::read_to_string(kind.local_file(root, i)).unwrap();
            assert_eq!(local, made, "{uid}: the local file differs");
            assert_eq!(
                get(http, &remote, &uid),
                made.as_bytes(),
                "{uid}: GET differs"
            );
        }
    }
    eprintln!(
        "first sync of {N} events and {N} cards: {:.1?}",
        started.elapsed()
    );

    // One edit on each side: item 10 locally, item 11 on the server.
    let (local_edit, server_edit) = (10, 11);
    for kind in &kinds {
        let remote = server_items(http, kind);
        std::fs::write(
            kind.local_file(root, local_edit),
            (kind.make)(local_edit, "edited locally"),
        )
        .unwrap();
        let body = (kind.make)(server_edit, "edited on the server");
        put_on_server(http, kind, &remote, &(kind.uid)(server_edit), &body);
    }
    sync_ok(root, &config);
    for kind in &kinds {
        let remote = assert_in_step(root, http, kind, N);
        let uid = (kind.uid)(local_edit);
        assert_eq!(
            get(http, &remote, &uid),
            (kind.make)(local_edit, "edited locally").as_bytes(),
            "{uid}: the local edit is on the server"
        );
        assert_eq!(
            std::fs::read_to_string(kind.local_file(root, server_edit)).unwrap(),
            (kind.make)(server_edit, "edited on the server"),
            "the server's edit is in the local file"
        );
    }

    // The same item (12) edited on both sides: without a resolution vdirsyncer reports the
    // conflict and leaves both copies as they are.
    let both = 12;
    let (mine, theirs) = ("conflict, local side", "conflict, server side");
    for kind in &kinds {
        let remote = server_items(http, kind);
        std::fs::write(kind.local_file(root, both), (kind.make)(both, mine)).unwrap();
        put_on_server(
            http,
            kind,
            &remote,
            &(kind.uid)(both),
            &(kind.make)(both, theirs),
        );
    }
    // One pair per run: vdirsyncer 0.19 closes the HTTP session all pairs share as soon as
    // one fails, so a second pair running alongside fails with "Session is closed".
    for kind in &kinds {
        let (ok, log) = vdirsyncer(root, &config, &["sync", kind.pair]);
        assert!(
            !ok,
            "a conflict without a resolution fails the sync:\n{log}"
        );
        let uid = (kind.uid)(both);
        assert!(
            log.contains("One item changed on both sides") && log.contains(&uid),
            "the conflict on {uid} is reported:\n{log}"
        );
        let remote = server_items(http, kind);
        assert_eq!(
            get(http, &remote, &uid),
            (kind.make)(both, theirs).as_bytes()
        );
        assert_eq!(
            std::fs::read_to_string(kind.local_file(root, both)).unwrap(),
            (kind.make)(both, mine)
        );
    }
    // With "a wins" the local copy (side a) replaces the server's.
    let config = write_config(root, http, Some("a wins"), false);
    sync_ok(root, &config);
    for kind in &kinds {
        let remote = assert_in_step(root, http, kind, N);
        let uid = (kind.uid)(both);
        assert_eq!(
            get(http, &remote, &uid),
            (kind.make)(both, mine).as_bytes(),
            "{uid}: side a won"
        );
    }

    // A delete on each side: item 13 locally, item 14 on the server (If-Match).
    let (local_delete, server_delete) = (13, 14);
    for kind in &kinds {
        let remote = server_items(http, kind);
        std::fs::remove_file(kind.local_file(root, local_delete)).unwrap();
        let r = &remote[&(kind.uid)(server_delete)];
        let res = as_user(
            WHO,
            http,
            "DELETE",
            &r.href,
            &[("If-Match", "\"stale\"")],
            b"",
        );
        assert_eq!(res.status, 412, "DELETE with a stale ETag");
        let res = as_user(WHO, http, "DELETE", &r.href, &[("If-Match", &r.etag)], b"");
        assert_eq!(res.status, 204, "DELETE {}: {}", r.href, res.text());
    }
    sync_ok(root, &config);
    for kind in &kinds {
        let remote = assert_in_step(root, http, kind, N - 2);
        for i in [local_delete, server_delete] {
            assert!(
                !remote.contains_key(&(kind.uid)(i)),
                "{i} gone from the server"
            );
            let uid = (kind.uid)(i);
            assert!(
                !local_items(root, kind).contains_key(&uid),
                "{uid} gone locally"
            );
        }
    }
    // Nothing left to do: another sync changes neither side, also when vdirsyncer lists the
    // calendar through a calendar-query for VEVENTs (an item missing from that list would be
    // taken for deleted on the server and deleted locally).
    let before: Vec<_> = kinds.iter().map(|k| server_items(http, k)).collect();
    let config = write_config(root, http, Some("a wins"), true);
    let (ok, log) = vdirsyncer(root, &config, &["discover", "cal"]);
    assert!(ok, "vdirsyncer discover failed:\n{log}");
    sync_ok(root, &config);
    for (kind, before) in kinds.iter().zip(before) {
        let after = assert_in_step(root, http, kind, N - 2);
        for (uid, r) in &after {
            assert_eq!(before[uid].etag, r.etag, "{uid} untouched by an idle sync");
        }
    }

    // metasync: the calendar's name and colour set locally go to the server (its own name
    // loses to side a), the address book's name set on the server (PROPPATCH) comes here.
    let cal = &kinds[0];
    std::fs::write(cal.local(root).join("displayname"), "Work and trips").unwrap();
    std::fs::write(cal.local(root).join("color"), "#00AA00").unwrap();
    let book = &kinds[1];
    let patch = br#"<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>Friends and family</d:displayname></d:prop></d:set></d:propertyupdate>"#;
    let res = as_user(WHO, http, "PROPPATCH", &book.path, &[], patch);
    assert_eq!(res.status, 207, "{}", res.text());
    let (ok, log) = vdirsyncer(root, &config, &["metasync"]);
    assert!(ok, "vdirsyncer metasync failed:\n{log}");
    let ask = br#"<d:propfind xmlns:d="DAV:" xmlns:a="http://apple.com/ns/ical/"><d:prop><d:displayname/><a:calendar-color/></d:prop></d:propfind>"#;
    let res = as_user(WHO, http, "PROPFIND", &cal.path, &[("Depth", "0")], ask);
    assert_eq!(res.status, 207, "{}", res.text());
    let props = xml::parse(&res.body).unwrap().expect("a multistatus");
    let name = find(&props, DAV, "displayname").map(|e| e.text());
    assert_eq!(name.as_deref(), Some("Work and trips"), "{}", res.text());
    let color = find(&props, "http://apple.com/ns/ical/", "calendar-color").map(|e| e.text());
    assert_eq!(color.as_deref(), Some("#00AA00"), "{}", res.text());
    let name = std::fs::read_to_string(book.local(root).join("displayname")).unwrap();
    assert_eq!(name.trim(), "Friends and family");
    eprintln!("vdirsyncer test: {:.1?} in all", started.elapsed());
}

/// A vdirsyncer config with one pair `pair`: a local directory (`root/local/<pair>`) and
/// the CalDAV collection at `path` as `who` (`collections = null`: that URL itself), with
/// `extra` lines on the server storage.
fn write_pair_config(
    root: &Path,
    http: SocketAddr,
    pair: &str,
    who: &str,
    path: &str,
    extra: &str,
) -> (PathBuf, PathBuf) {
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let local = root.join("local").join(pair);
    std::fs::create_dir_all(&local).unwrap();
    let text = format!(
        "[general]\nstatus_path = {}\n\n[pair {pair}]\na = \"{pair}_local\"\n\
         b = \"{pair}_server\"\ncollections = null\n\n[storage {pair}_local]\n\
         type = \"filesystem\"\npath = {}\nfileext = \".ics\"\n\n[storage {pair}_server]\n\
         type = \"caldav\"\nurl = {}\nusername = {}\npassword = {}\n{extra}",
        json(&root.join(format!("status-{pair}")).display().to_string()),
        json(&local.display().to_string()),
        json(&format!("http://{http}{path}")),
        json(who),
        json(PASSWORD),
    );
    let config = root.join(format!("vdirsyncer-{pair}.conf"));
    std::fs::write(&config, text).unwrap();
    (config, local)
}

/// The items of a local directory by UID: (file, text).
fn local_dir(dir: &Path) -> BTreeMap<String, (PathBuf, String)> {
    let mut items = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("ics") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let uid = uid_of(&text).unwrap_or_else(|| panic!("{}: no UID", path.display()));
        assert!(
            items.insert(uid.clone(), (path, text)).is_none(),
            "{uid} twice"
        );
    }
    items
}

/// bob's calendar by UID (as bob reads it) and its local copy agree item by item.
fn shared_in_step(http: SocketAddr, local: &Path, expected: usize) -> BTreeMap<String, Remote> {
    let remote = server_items(http, &Kind::calendar());
    let here = local_dir(local);
    assert_eq!(remote.len(), expected, "items on the server");
    assert_eq!(here.len(), expected, "items locally");
    for (uid, (_, text)) in &here {
        let r = remote
            .get(uid)
            .unwrap_or_else(|| panic!("{uid} not on the server"));
        assert_eq!(lines(&r.data), lines(text), "{uid}: the two sides differ");
    }
    remote
}

#[test]
fn a_shared_calendar_synced_by_the_sharee_read_write_then_read_only() {
    if !have("vdirsyncer", "FERRYMAIL_REQUIRE_VDIRSYNCER") {
        return;
    }
    const EVE: &str = "eve@example.com";
    const ITEMS: usize = 24;
    let (dir, config, _server, http) = server("");
    let root = dir.path();
    let kind = Kind::calendar();
    for i in 0..ITEMS {
        let headers = [("Content-Type", kind.content_type), ("If-None-Match", "*")];
        let body = event(i, "as made");
        let res = as_user(WHO, http, "PUT", &kind.href(i), &headers, body.as_bytes());
        assert_eq!(res.status, 201, "PUT {}: {}", kind.href(i), res.text());
    }
    let (ok, out) = cli(
        &config,
        &["calendar", "share", WHO, "calendar", EVE, "lrwit"],
    );
    assert!(ok, "{out}");
    let (vconf, local) = write_pair_config(root, http, "shared", EVE, &kind.path, "");
    let (ok, log) = vdirsyncer(root, &vconf, &["discover"]);
    assert!(ok, "vdirsyncer discover failed:\n{log}");
    sync_ok(root, &vconf);
    shared_in_step(http, &local, ITEMS);

    // Read-write: eve edits one and adds one, bob edits another; each reaches the other.
    let here = local_dir(&local);
    std::fs::write(&here[&(kind.uid)(3)].0, event(3, "edited by eve")).unwrap();
    std::fs::write(local.join("eve-new.ics"), event(500, "made by eve")).unwrap();
    let remote = server_items(http, &kind);
    put_on_server(
        http,
        &kind,
        &remote,
        &(kind.uid)(5),
        &event(5, "edited by bob"),
    );
    sync_ok(root, &vconf);
    let remote = shared_in_step(http, &local, ITEMS + 1);
    assert!(remote[&(kind.uid)(3)].data.contains("edited by eve"));
    assert!(remote[&(kind.uid)(500)].data.contains("made by eve"));
    assert!(local_dir(&local)[&(kind.uid)(5)]
        .1
        .contains("edited by bob"));

    // Read-only: eve's local edit is refused (403) and reported; nothing changes on the
    // server, her file stays as she wrote it, and the next sync reports it again.
    let (ok, out) = cli(&config, &["calendar", "share", WHO, "calendar", EVE, "lr"]);
    assert!(ok, "{out}");
    let before = server_items(http, &kind);
    let file = local_dir(&local)[&(kind.uid)(4)].0.clone();
    std::fs::write(&file, event(4, "edited by eve, read-only")).unwrap();
    let (ok, log) = vdirsyncer(root, &vconf, &["sync"]);
    assert!(!ok, "a refused upload is an error:\n{log}");
    assert!(log.contains("403"), "the refusal is reported:\n{log}");
    let after = server_items(http, &kind);
    assert_eq!(after.len(), before.len());
    for (uid, r) in &before {
        assert_eq!(after[uid].etag, r.etag, "{uid} changed on the server");
        assert_eq!(after[uid].data, r.data, "{uid} changed on the server");
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        event(4, "edited by eve, read-only"),
        "the sharee's edit stays in her file"
    );
    // bob's later edit of another item still reaches her; her refused edit is reported
    // again and still changes nothing.
    put_on_server(http, &kind, &after, &(kind.uid)(6), &event(6, "bob again"));
    let (ok, log) = vdirsyncer(root, &vconf, &["sync"]);
    assert!(!ok && log.contains("403"), "reported again:\n{log}");
    let here = local_dir(&local);
    assert!(
        here[&(kind.uid)(6)].1.contains("bob again"),
        "{}",
        here[&(kind.uid)(6)].1
    );
    assert!(here[&(kind.uid)(4)].1.contains("edited by eve, read-only"));
    let last = server_items(http, &kind);
    assert_eq!(last.len(), ITEMS + 1);
    assert!(
        last[&(kind.uid)(4)].data.contains("as made"),
        "{}",
        last[&(kind.uid)(4)].data
    );
}

/// The objects of the date-range test: (UID, whether its time touches March 2026 (UTC),
/// body). A VEVENT or VTODO in a VCALENDAR.
fn ranged() -> Vec<(&'static str, bool, String)> {
    let wrap = |uid: &str, comp: &str, props: &str, extra: &str| {
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ferrymail vdirsyncer test//EN\r\n\
             BEGIN:{comp}\r\nUID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:{uid}\r\n\
             {props}END:{comp}\r\n{extra}END:VCALENDAR\r\n"
        )
    };
    let ev = |uid: &'static str, inside: bool, props: &str| {
        (uid, inside, wrap(uid, "VEVENT", props, ""))
    };
    vec![
        ev("single-in", true, "DTSTART:20260310T100000Z\r\nDTEND:20260310T110000Z\r\n"),
        ev("single-before", false, "DTSTART:20260210T100000Z\r\nDTEND:20260210T110000Z\r\n"),
        ev("single-after", false, "DTSTART:20260410T100000Z\r\nDTEND:20260410T110000Z\r\n"),
        // Overlaps the range's start; the next one ends exactly where the range starts.
        ev("spans-start", true, "DTSTART:20260228T220000Z\r\nDTEND:20260301T020000Z\r\n"),
        ev("ends-at-start", false, "DTSTART:20260228T230000Z\r\nDTEND:20260301T000000Z\r\n"),
        ev("starts-at-end", false, "DTSTART:20260401T000000Z\r\nDURATION:PT1H\r\n"),
        ev("allday-last", true, "DTSTART;VALUE=DATE:20260331\r\n"),
        // Weekly from January through March; another that stops in January.
        ev(
            "weekly-into",
            true,
            "DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=20\r\n",
        ),
        ev(
            "weekly-ended",
            false,
            "DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\n",
        ),
        // Its span covers March, its instances (January, May) do not.
        ev(
            "jan-and-may",
            false,
            "DTSTART:20260115T090000Z\r\nDTEND:20260115T100000Z\r\n\
             RRULE:FREQ=MONTHLY;BYMONTH=1,5;COUNT=2\r\n",
        ),
        ev(
            "rdate-in",
            true,
            "DTSTART:20260120T090000Z\r\nDTEND:20260120T100000Z\r\nRDATE:20260315T090000Z\r\n",
        ),
        ev(
            "yearly-in",
            true,
            "DTSTART:20250310T090000Z\r\nDTEND:20250310T100000Z\r\nRRULE:FREQ=YEARLY\r\n",
        ),
        // Three Mondays of February, the last one moved into March.
        (
            "moved-in",
            true,
            wrap(
                "moved-in",
                "VEVENT",
                "DTSTART:20260202T090000Z\r\nDTEND:20260202T100000Z\r\nRRULE:FREQ=WEEKLY;COUNT=3\r\n",
                "BEGIN:VEVENT\r\nUID:moved-in\r\nDTSTAMP:20260101T000000Z\r\n\
                 RECURRENCE-ID:20260216T090000Z\r\nDTSTART:20260303T090000Z\r\n\
                 DTEND:20260303T100000Z\r\nSUMMARY:moved-in, moved\r\nEND:VEVENT\r\n",
            ),
        ),
        (
            "task-in",
            true,
            wrap("task-in", "VTODO", "DTSTART:20260318T090000Z\r\nDUE:20260320T090000Z\r\n", ""),
        ),
        (
            "task-after",
            false,
            wrap("task-after", "VTODO", "DTSTART:20260418T090000Z\r\nDUE:20260420T090000Z\r\n", ""),
        ),
    ]
}

#[test]
fn a_date_range_sync_brings_exactly_the_items_in_the_range() {
    if !have("vdirsyncer", "FERRYMAIL_REQUIRE_VDIRSYNCER") {
        return;
    }
    let (dir, _config, _server, http) = server("");
    let root = dir.path();
    // A calendar of events and tasks, so that both of vdirsyncer's queries have matches.
    let path = format!("/dav/calendars/{WHO}/ranged/");
    let mk =
        "<c:mkcalendar xmlns:d=\"DAV:\" xmlns:c=\"urn:ietf:params:xml:ns:caldav\"><d:set><d:prop>\
              <c:supported-calendar-component-set><c:comp name=\"VEVENT\"/><c:comp name=\"VTODO\"/>\
              </c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>";
    let res = as_user(
        WHO,
        http,
        "MKCALENDAR",
        &path,
        &[("Content-Type", "application/xml")],
        mk.as_bytes(),
    );
    assert_eq!(res.status, 201, "{}", res.text());
    let items = ranged();
    for (uid, _, body) in &items {
        let href = format!("{path}{uid}.ics");
        let headers = [
            ("Content-Type", "text/calendar; charset=utf-8"),
            ("If-None-Match", "*"),
        ];
        let res = as_user(WHO, http, "PUT", &href, &headers, body.as_bytes());
        assert_eq!(res.status, 201, "PUT {href}: {}", res.text());
    }
    let extra = "start_date = \"datetime(2026, 3, 1)\"\nend_date = \"datetime(2026, 4, 1)\"\n";
    let (vconf, local) = write_pair_config(root, http, "ranged", WHO, &path, extra);
    let (ok, log) = vdirsyncer(root, &vconf, &["discover"]);
    assert!(ok, "vdirsyncer discover failed:\n{log}");
    sync_ok(root, &vconf);
    let here = local_dir(&local);
    let got: Vec<&str> = here.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = items.iter().filter(|i| i.1).map(|i| i.0).collect();
    want.sort();
    assert_eq!(got, want, "exactly the items touching March arrive");
    for (uid, _, body) in items.iter().filter(|i| i.1) {
        assert_eq!(lines(&here[*uid].1), lines(body), "{uid} arrives whole");
    }
    // A second sync changes nothing on either side: the items out of range stay on the
    // server (vdirsyncer never saw them, so it deletes none).
    sync_ok(root, &vconf);
    assert_eq!(local_dir(&local).len(), want.len());
    for (uid, _, body) in &items {
        let res = as_user(WHO, http, "GET", &format!("{path}{uid}.ics"), &[], b"");
        assert_eq!(res.status, 200, "{uid} is still on the server");
        assert_eq!(lines(&res.text()), lines(body));
    }
}
