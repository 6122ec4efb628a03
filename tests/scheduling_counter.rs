//! iTIP COUNTER and REFRESH by mail end to end (RFC 5546 §3.2.7, §3.2.6; RFC 6047): bob
//! organizes an event with carol@remote.test (outside; her MX is the test sink). carol's
//! COUNTER arrives by SMTP (DMARC-aligned: SPF for remote.test allows loopback) and waits
//! in bob's schedule inbox; bob sees the proposed time in the webmail and accepts it, and
//! the changed event leaves as a REQUEST through the remote queue to carol's MX. carol's
//! REFRESH by SMTP makes the server send her the current event the same way. And bob, an
//! attendee of dave@remote.test's event, asks for its current version in the webmail: the
//! REFRESH leaves through the remote queue as iMIP.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::dns::TestDns;
use common::http::{self, request};
use common::sink::{Received, Sink};
use common::web::form_urlencoded_pairs;
use common::{Client, TestServer, PASSWORD};
use ferrymail::protocols::caldav::validate::parse_calendar;
use ferrymail::protocols::itip::{self, Method};
use mail_parser::{MessageParser, MimeHeaders};

const UID: &str = "review-2027@example.com";

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\n\
BEGIN:VEVENT\r\nUID:review-2027@example.com\r\nDTSTAMP:20270101T090000Z\r\n\
DTSTART:20270110T100000Z\r\nDTEND:20270110T110000Z\r\nSUMMARY:Design review\r\n\
SEQUENCE:0\r\nORGANIZER;CN=Bob:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@remote.test\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

/// A mail from carol carrying `method`'s iCalendar object `ics`.
fn mail(method: &str, id: &str, ics: &str) -> String {
    format!(
        "From: Carol <carol@remote.test>\r\nTo: bob@example.com\r\n\
Subject: {method}: Design review\r\nMessage-ID: <{id}@remote.test>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAbout the design review.\r\n\
--b1\r\nContent-Type: text/calendar; method={method}; charset=utf-8\r\n\r\n{ics}\
--b1--\r\n"
    )
}

/// carol proposes 14:00-15:00 instead (the whole event, as mail programs send it).
const COUNTER: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Remote client//EN\r\n\
METHOD:COUNTER\r\nBEGIN:VEVENT\r\nUID:review-2027@example.com\r\nDTSTAMP:20270102T080000Z\r\n\
DTSTART:20270110T140000Z\r\nDTEND:20270110T150000Z\r\nSUMMARY:Design review\r\n\
SEQUENCE:0\r\nORGANIZER:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=TENTATIVE:mailto:carol@remote.test\r\n\
COMMENT:The morning is taken\\, could we meet at two?\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

const REFRESH: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Remote client//EN\r\n\
METHOD:REFRESH\r\nBEGIN:VEVENT\r\nUID:review-2027@example.com\r\nDTSTAMP:20270103T080000Z\r\n\
ORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:carol@remote.test\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The iCalendar object of an iMIP message the sink received, with its METHOD parameter.
fn imip(got: &Received) -> (String, calcard::icalendar::ICalendar) {
    let mail = MessageParser::default()
        .parse(got.data.as_bytes())
        .expect("the iMIP message parses");
    let part = mail
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .expect("a text/calendar part");
    let method = part
        .content_type()
        .and_then(|c| c.attribute("method"))
        .unwrap_or_default()
        .to_string();
    (
        method,
        parse_calendar(part.text_contents().unwrap()).unwrap(),
    )
}

fn dtstart(cal: &calcard::icalendar::ICalendar) -> String {
    cal.to_string()
        .lines()
        .find(|l| l.starts_with("DTSTART"))
        .unwrap_or_default()
        .to_string()
}

/// A webmail session of bob on the `https` listener: (cookie header, CSRF token).
fn webmail_login(https: SocketAddr) -> (String, String) {
    let body = form_urlencoded_pairs(&[("address", "bob@example.com"), ("password", PASSWORD)]);
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let r = request(https, true, "POST", "/login", &form, body.as_bytes());
    assert_eq!(r.status, 303, "{}", r.text());
    let cookie = format!("fm_session={}", r.cookie("fm_session").expect("a cookie"));
    let page = request(https, true, "GET", "/calendar", &[("Cookie", &cookie)], b"").text();
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .expect("a CSRF field")
        .to_string();
    (cookie, csrf)
}

fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    page.split(&marker)
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no {name} field in {page}"))
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
}

#[test]
fn a_counter_by_mail_accepted_in_the_webmail_and_a_refresh_answered() {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    dns.txt("remote.test", "v=spf1 ip4:127.0.0.1 -all");
    dns.txt("_dmarc.remote.test", "v=DMARC1; p=reject");
    let sink = Sink::start();
    let sections = format!(
        "{}\n[delivery]\nport = {}\nconnect_timeout = 5\ncommand_timeout = 20\n\
         [auth]\nverify = true\ndns_timeout = 1\nverify_timeout = 5\ntrusted_networks = []\n",
        dns.config(),
        sink.addr.port()
    );
    let server = TestServer::start_full("", &sections, None);
    let store = server.store();

    // bob's client PUTs the event: the invitation leaves for carol (message 1).
    let auth = http::basic("bob@example.com", PASSWORD);
    let r = http::request(
        server.addr("http"),
        false,
        "PUT",
        "/dav/calendars/bob@example.com/calendar/review.ics",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/calendar; charset=utf-8"),
            ("If-None-Match", "*"),
        ],
        EVENT.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let got = sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "the invitation");
    assert_eq!(imip(&got[0]).0, "REQUEST");

    // carol's COUNTER by SMTP: kept in bob's schedule inbox, with carol as its attendee.
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "carol@remote.test",
        &["bob@example.com"],
        &mail("COUNTER", "counter-1", COUNTER),
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
    let inbox_counter = || {
        store
            .dav_collection("bob@example.com", ferrymail::scheduling::INBOX)
            .unwrap()
            .map(|inbox| store.dav_objects(inbox.id).unwrap())
            .unwrap_or_default()
            .into_iter()
            .find_map(|o| {
                let cal = parse_calendar(&o.data).ok()?;
                (Method::of(&cal) == Some(Method::Counter)).then_some(cal)
            })
    };
    wait_for("the COUNTER in bob's schedule inbox", || {
        inbox_counter().is_some()
    });
    let kept = inbox_counter().unwrap();
    assert_eq!(
        itip::reply_attendee(&kept).unwrap().address,
        "carol@remote.test"
    );
    // bob's event is unchanged until he answers.
    let bobs = || {
        let coll = store
            .dav_collection("bob@example.com", "calendar")
            .unwrap()
            .unwrap();
        store.dav_get(coll.id, "review.ics").unwrap().unwrap()
    };
    assert!(bobs().data.contains("DTSTART:20270110T100000Z"));

    // bob sees the proposal in the webmail and accepts it.
    let https = server.addr("https");
    let (cookie, csrf) = webmail_login(https);
    let page = request(
        https,
        true,
        "GET",
        "/calendar/event?cal=calendar&name=review.ics",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(
        text.contains("<span class=\"proposal-from\">carol@remote.test</span>"),
        "{text}"
    );
    assert!(
        text.contains("2027-01-10 14:00 – 2027-01-10 15:00"),
        "{text}"
    );
    let etag = hidden(&text, "etag");
    let body = form_urlencoded_pairs(&[
        ("csrf", &csrf),
        ("action", "counter-accept"),
        ("cal", "calendar"),
        ("name", "review.ics"),
        ("etag", &etag),
        ("proposal", &hidden(&text, "proposal")),
        ("proposal_etag", &hidden(&text, "proposal_etag")),
    ]);
    let r = request(
        https,
        true,
        "POST",
        "/calendar/event",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());
    assert!(
        bobs().data.contains("DTSTART:20270110T140000Z"),
        "{}",
        bobs().data
    );
    assert!(inbox_counter().is_none(), "the COUNTER is answered");

    // The changed event leaves for carol as a REQUEST through the remote queue.
    let got = sink.wait_accepted(2);
    assert_eq!(got.len(), 2, "the REQUEST after the accepted COUNTER");
    assert_eq!(got[1].rcpts, ["carol@remote.test"]);
    assert_eq!(got[1].mail_from, "bob@example.com");
    let (method, cal) = imip(&got[1]);
    assert_eq!(method, "REQUEST");
    assert_eq!(Method::of(&cal), Some(Method::Request));
    assert_eq!(itip::uid(&cal).as_deref(), Some(UID));
    assert_eq!(dtstart(&cal), "DTSTART:20270110T140000Z");
    assert!(cal.to_string().contains("SEQUENCE:1"), "{cal}");

    // carol's REFRESH by SMTP: the server sends her the current event.
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "carol@remote.test",
        &["bob@example.com"],
        &mail("REFRESH", "refresh-1", REFRESH),
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
    let got = sink.wait_accepted(3);
    assert_eq!(got.len(), 3, "the answer to the REFRESH");
    assert_eq!(got[2].rcpts, ["carol@remote.test"]);
    let (method, cal) = imip(&got[2]);
    assert_eq!(method, "REQUEST");
    assert_eq!(dtstart(&cal), "DTSTART:20270110T140000Z");
    assert!(
        cal.to_string().contains("mailto:carol@remote.test"),
        "{cal}"
    );
}

/// bob's copy of an event organized by dave@remote.test (outside).
const REMOTE_EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Remote client//EN\r\n\
BEGIN:VEVENT\r\nUID:offsite-2027@remote.test\r\nDTSTAMP:20270101T090000Z\r\n\
DTSTART:20270210T100000Z\r\nDTEND:20270210T110000Z\r\nSUMMARY:Offsite\r\n\
SEQUENCE:4\r\nORGANIZER;CN=Dave:mailto:dave@remote.test\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:dave@remote.test\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:carol@remote.test\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

#[test]
fn a_refresh_asked_in_the_webmail_leaves_for_an_outside_organizer_as_imip() {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    let sink = Sink::start();
    let sections = format!(
        "{}\n[delivery]\nport = {}\nconnect_timeout = 5\ncommand_timeout = 20\n",
        dns.config(),
        sink.addr.port()
    );
    let server = TestServer::start_full("", &sections, None);
    let store = server.store();
    // bob's copy, as dave's invitation left it (stored without scheduling).
    let coll = store
        .dav_collection("bob@example.com", "calendar")
        .unwrap()
        .unwrap();
    let put = store
        .dav_put(
            coll.id,
            &ferrymail::storage::davstore::NewObject {
                name: "offsite.ics".into(),
                uid: "offsite-2027@remote.test".into(),
                data: REMOTE_EVENT.into(),
                component: "VEVENT".into(),
                first: None,
                last: None,
            },
            &ferrymail::storage::davstore::Condition::Absent,
        )
        .unwrap();
    assert!(matches!(
        put,
        ferrymail::storage::davstore::PutOutcome::Stored { .. }
    ));

    let https = server.addr("https");
    let (cookie, csrf) = webmail_login(https);
    let page = request(
        https,
        true,
        "GET",
        "/calendar/event?cal=calendar&name=offsite.ics",
        &[("Cookie", &cookie)],
        b"",
    );
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(text.contains("id=\"refresh-send\""), "{text}");
    let body = form_urlencoded_pairs(&[
        ("csrf", &csrf),
        ("action", "refresh"),
        ("cal", "calendar"),
        ("name", "offsite.ics"),
        ("etag", &hidden(&text, "etag")),
    ]);
    let r = request(
        https,
        true,
        "POST",
        "/calendar/event",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 303, "{}", r.text());

    // The REFRESH leaves through the remote queue as iMIP to dave's MX.
    let got = sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "the REFRESH");
    assert_eq!(got[0].rcpts, ["dave@remote.test"]);
    assert_eq!(got[0].mail_from, "bob@example.com");
    let (method, cal) = imip(&got[0]);
    assert_eq!(method, "REFRESH");
    assert_eq!(Method::of(&cal), Some(Method::Refresh));
    assert_eq!(itip::uid(&cal).as_deref(), Some("offsite-2027@remote.test"));
    let t = cal.to_string();
    assert!(t.contains("mailto:bob@example.com"), "{t}");
    assert!(t.contains("mailto:dave@remote.test"), "{t}");
    assert!(!t.contains("carol@remote.test"), "only the asker: {t}");
    assert!(!t.contains("DTSTART"), "a REFRESH carries no times: {t}");
    // Nothing changed here: the organizer's answer will.
    let copy = store.dav_get(coll.id, "offsite.ics").unwrap().unwrap();
    assert_eq!(copy.data, REMOTE_EVENT);
}
