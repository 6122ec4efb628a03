//! CalDAV scheduling end to end (RFC 6638 implicit scheduling, RFC 6047 iMIP), on loopback:
//! bob@example.com organizes an event with alice@example.com (local) and carol@remote.test
//! (outside, whose MX is the test sink). alice's schedule inbox and calendar get the
//! invitation; carol's leaves through the remote queue as iMIP; carol's REPLY (ACCEPTED),
//! sent by SMTP to bob, updates bob's event: it passes DMARC (SPF for remote.test allows
//! loopback, which is not a trusted network here), without which it would be ignored.
//!
//! The organizer's event arrives by CalDAV PUT; discovery (OPTIONS, the principal's
//! schedule-inbox-URL/outbox-URL) and a free/busy POST to the outbox are checked too.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::dns::TestDns;
use common::sink::Sink;
use common::{http, Client, TestServer, PASSWORD};
use ferrymail::protocols::caldav::validate::parse_calendar;
use ferrymail::protocols::itip::{self, Method};
use ferrymail::storage::davstore::DavCollection;
use ferrymail::storage::Store;
use mail_parser::{MessageParser, MimeHeaders};

const EVENT: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\n\
BEGIN:VEVENT\r\nUID:planning-2027@example.com\r\nDTSTAMP:20270101T090000Z\r\n\
DTSTART:20270110T100000Z\r\nDTEND:20270110T110000Z\r\nSUMMARY:Quarterly planning\r\n\
SEQUENCE:0\r\nORGANIZER;CN=Bob:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED;ROLE=CHAIR:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice@example.com\r\n\
ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@remote.test\r\n\
END:VEVENT\r\nEND:VCALENDAR\r\n";

const UID: &str = "planning-2027@example.com";

/// carol's answer as a mail program sends it (RFC 6047 §2.4, §3).
const REPLY_MAIL: &str = "From: Carol <carol@remote.test>\r\nTo: bob@example.com\r\n\
Subject: Accepted: Quarterly planning\r\nMessage-ID: <reply-1@remote.test>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n\
--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nCarol has accepted.\r\n\
--b1\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n\
BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Remote client//EN\r\nMETHOD:REPLY\r\n\
BEGIN:VEVENT\r\nUID:planning-2027@example.com\r\nDTSTAMP:20270102T080000Z\r\n\
DTSTART:20270110T100000Z\r\nSEQUENCE:0\r\nORGANIZER:mailto:bob@example.com\r\n\
ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@remote.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n\
--b1--\r\n";

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn calendar(store: &Store, owner: &str) -> DavCollection {
    store
        .dav_collections(owner)
        .unwrap()
        .into_iter()
        .find(|c| c.name == "calendar")
        .expect("default calendar")
}

fn partstat(store: &Store, owner: &str, who: &str) -> Option<String> {
    let c = calendar(store, owner);
    let obj = store
        .dav_objects(c.id)
        .unwrap()
        .into_iter()
        .find(|o| o.uid == UID)?;
    let cal = parse_calendar(&obj.data).ok()?;
    itip::attendees(&cal)
        .get(who)
        .map(|(a, _)| a.partstat.clone())
}

#[test]
fn invitation_to_a_local_and_an_outside_attendee_and_the_reply_by_mail() {
    let dns = TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", Ipv4Addr::LOCALHOST);
    // carol's REPLY comes from loopback: checked (no trusted networks), and SPF-aligned.
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

    // bob's client PUTs the event; the server schedules before it answers.
    let coll = calendar(&store, "bob@example.com");
    let auth = http::basic("bob@example.com", PASSWORD);
    let web = server.addr("http");
    let r = http::request(
        web,
        false,
        "PUT",
        "/dav/calendars/bob@example.com/calendar/planning.ics",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/calendar; charset=utf-8"),
            ("If-None-Match", "*"),
        ],
        EVENT.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // The stored object gained SCHEDULE-STATUS: no ETag of what was sent (RFC 4791 §5.3.4).
    assert_eq!(r.header("etag"), None);

    // alice (local): the REQUEST in her schedule inbox, the event in her calendar.
    let inbox = store
        .dav_collection("alice@example.com", ferrymail::scheduling::INBOX)
        .unwrap()
        .expect("alice's schedule inbox");
    let items = store.dav_objects(inbox.id).unwrap();
    assert_eq!(items.len(), 1);
    let request = parse_calendar(&items[0].data).unwrap();
    assert_eq!(Method::of(&request), Some(Method::Request));
    assert_eq!(
        partstat(&store, "alice@example.com", "alice@example.com").as_deref(),
        Some("NEEDS-ACTION")
    );

    // bob's event records how each invitation went.
    let bobs = store.dav_get(coll.id, "planning.ics").unwrap().unwrap();
    // Unfolded (RFC 5545 §3.1) to read whole lines.
    let unfolded = bobs.data.replace("\r\n ", "");
    assert!(
        unfolded.contains("SCHEDULE-STATUS=1.2:mailto:alice@example.com"),
        "{unfolded}"
    );
    assert!(
        unfolded.contains("SCHEDULE-STATUS=1.1:mailto:carol@remote.test"),
        "{unfolded}"
    );

    // carol (outside): iMIP through the remote queue to the MX.
    let got = sink.wait_accepted(1);
    assert_eq!(got.len(), 1, "one iMIP message");
    assert_eq!(got[0].rcpts, ["carol@remote.test"]);
    assert_eq!(got[0].mail_from, "bob@example.com");
    let mail = MessageParser::default()
        .parse(got[0].data.as_bytes())
        .expect("the iMIP message parses");
    assert_eq!(
        mail.from()
            .and_then(|a| a.first())
            .and_then(|a| a.address()),
        Some("bob@example.com")
    );
    let top = mail.parts[0].content_type().unwrap();
    assert_eq!(top.ctype(), "multipart");
    assert_eq!(top.subtype(), Some("alternative"));
    let part = mail
        .parts
        .iter()
        .find(|p| {
            p.content_type()
                .is_some_and(|c| c.ctype() == "text" && c.subtype() == Some("calendar"))
        })
        .expect("a text/calendar part");
    let ct = part.content_type().unwrap();
    assert_eq!(ct.attribute("method"), Some("REQUEST"));
    assert_eq!(ct.attribute("charset"), Some("utf-8"));
    let ics = parse_calendar(part.text_contents().unwrap()).unwrap();
    assert_eq!(Method::of(&ics), Some(Method::Request));
    assert_eq!(itip::uid(&ics).as_deref(), Some(UID));
    assert!(mail.parts.iter().any(|p| p
        .content_type()
        .is_some_and(|c| c.subtype() == Some("plain"))
        && p.text_contents()
            .unwrap_or("")
            .contains("Quarterly planning")));

    // carol accepts by mail; bob's event takes her PARTSTAT, and the mail is in his INBOX.
    assert_eq!(
        partstat(&store, "bob@example.com", "carol@remote.test").as_deref(),
        Some("NEEDS-ACTION")
    );
    let mut c = Client::connect(server.addr("smtp"));
    let r = c.deliver("carol@remote.test", &["bob@example.com"], REPLY_MAIL);
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
    wait_for("bob's event to take carol's answer", || {
        partstat(&store, "bob@example.com", "carol@remote.test").as_deref() == Some("ACCEPTED")
    });
    let inbox = server.wait_inbox("bob@example.com", 1);
    assert!(String::from_utf8_lossy(inbox.last().unwrap()).contains("METHOD:REPLY"));
    // The reply also sits in bob's schedule inbox; alice's answer is untouched.
    let bob_inbox = store
        .dav_collection("bob@example.com", ferrymail::scheduling::INBOX)
        .unwrap()
        .expect("bob's schedule inbox");
    assert_eq!(store.dav_objects(bob_inbox.id).unwrap().len(), 1);
    assert_eq!(
        partstat(&store, "bob@example.com", "alice@example.com").as_deref(),
        Some("NEEDS-ACTION")
    );

    // RFC 6638 discovery: the DAV class, the principal's inbox and outbox.
    let r = http::request(
        web,
        false,
        "OPTIONS",
        "/dav/calendars/bob@example.com/",
        &[("Authorization", auth.as_str())],
        b"",
    );
    assert!(
        r.header("dav")
            .unwrap_or("")
            .contains("calendar-auto-schedule"),
        "{:?}",
        r.headers
    );
    let body = br#"<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:schedule-inbox-URL/><C:schedule-outbox-URL/></D:prop></D:propfind>"#;
    let r = http::request(
        web,
        false,
        "PROPFIND",
        "/dav/principals/bob@example.com/",
        &[
            ("Authorization", auth.as_str()),
            ("Depth", "0"),
            ("Content-Type", "application/xml"),
        ],
        body,
    );
    assert_eq!(r.status, 207, "{}", r.text());
    assert!(
        r.text().contains("/dav/calendars/bob@example.com/inbox/"),
        "{}",
        r.text()
    );
    assert!(
        r.text().contains("/dav/calendars/bob@example.com/outbox/"),
        "{}",
        r.text()
    );

    // Free/busy of alice through bob's outbox: busy at the planning meeting.
    let fb = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test client//EN\r\nMETHOD:REQUEST\r\n\
BEGIN:VFREEBUSY\r\nUID:fb-1\r\nDTSTAMP:20270101T090000Z\r\nDTSTART:20270110T000000Z\r\n\
DTEND:20270111T000000Z\r\nORGANIZER:mailto:bob@example.com\r\nATTENDEE:mailto:alice@example.com\r\n\
END:VFREEBUSY\r\nEND:VCALENDAR\r\n";
    let r = http::request(
        web,
        false,
        "POST",
        "/dav/calendars/bob@example.com/outbox/",
        &[
            ("Authorization", auth.as_str()),
            ("Content-Type", "text/calendar"),
        ],
        fb.as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text().replace("\r\n ", "");
    assert!(text.contains("2.0;Success"), "{text}");
    assert!(
        text.contains("FBTYPE=BUSY:20270110T100000Z/20270110T110000Z"),
        "{text}"
    );
}
