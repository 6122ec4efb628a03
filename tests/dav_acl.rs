//! RFC 3744 access control on calendars and address books (issue 15) on the real binary,
//! with raw requests: the `acl` property mapped from the sharing rights (owner, a sharee
//! with the admin right, `anyone`), `acl-restrictions`, `supported-privilege-set`,
//! `inherited-acl-set`; 403 on `acl` for a sharee without "a"; the ACL method replacing
//! the grants (the sharee can write after it), each refusal with its precondition and
//! nothing changed, 403 need-privileges for anyone but the owner; a public calendar's
//! `owner` is empty and its `anyone` entry reads `authenticated`.
//!
//! On the backend `FERRYMAIL_TEST_BACKEND` names (`common::storage_section`).

mod common;

use std::net::SocketAddr;
use std::path::Path;

use common::dav::{as_user, server, PASSWORD};
use common::proc::cli;

const BOB: &str = "bob@example.com";
const EVE: &str = "eve@example.com";
const CAROL: &str = "carol@example.com";
const CAL: &str = "/dav/calendars/bob@example.com/calendar/";

fn run(config: &Path, args: &[&str]) -> String {
    let (ok, out) = cli(config, args);
    assert!(ok, "{args:?}: {out}");
    out
}

const PROPFIND_ACL: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:acl/><D:acl-restrictions/><D:supported-privilege-set/>
<D:inherited-acl-set/><D:owner/><D:current-user-privilege-set/></D:prop></D:propfind>"#;

/// (principal, privileges sorted, protected) of each ACE of a multistatus, in order.
fn aces(body: &str) -> Vec<(String, Vec<String>, bool)> {
    let mut out = Vec::new();
    for part in body.split("<D:ace>").skip(1) {
        let ace = &part[..part.find("</D:ace>").expect("a closed ace")];
        let principal = if let Some(at) = ace.find("<D:href>") {
            let rest = &ace[at + 8..];
            rest[..rest.find("</D:href>").unwrap()].to_string()
        } else if ace.contains("<D:authenticated/>") {
            "authenticated".to_string()
        } else {
            panic!("an ace without a principal I know: {ace}")
        };
        let mut privileges: Vec<String> = ace
            .split("<D:privilege><D:")
            .skip(1)
            .map(|p| p[..p.find("/>").unwrap()].to_string())
            .collect();
        privileges.sort();
        out.push((principal, privileges, ace.contains("<D:protected/>")));
    }
    out
}

fn ace(principal: &str, privileges: &[&str], protected: bool) -> (String, Vec<String>, bool) {
    let mut p: Vec<String> = privileges.iter().map(|s| s.to_string()).collect();
    p.sort();
    (principal.to_string(), p, protected)
}

fn principal(who: &str) -> String {
    format!("/dav/principals/{who}/")
}

/// An ACL request body of `aces` (already XML).
fn acl_body(aces: &[String]) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<D:acl xmlns:D=\"DAV:\">{}</D:acl>",
        aces.concat()
    )
}

fn grant(principal: &str, privileges: &[&str]) -> String {
    let privs: String = privileges
        .iter()
        .map(|p| format!("<D:privilege><D:{p}/></D:privilege>"))
        .collect();
    format!("<D:ace><D:principal>{principal}</D:principal><D:grant>{privs}</D:grant></D:ace>")
}

fn href(who: &str) -> String {
    format!("<D:href>{}</D:href>", principal(who))
}

fn propfind_acl(who: &str, addr: SocketAddr, path: &str) -> String {
    let r = as_user(
        who,
        addr,
        "PROPFIND",
        path,
        &[("Depth", "0")],
        PROPFIND_ACL.as_bytes(),
    );
    assert_eq!(r.status, 207, "{}", r.text());
    r.text()
}

fn acl(who: &str, addr: SocketAddr, path: &str, body: &str) -> common::http::Response {
    as_user(
        who,
        addr,
        "ACL",
        path,
        &[("Content-Type", "application/xml")],
        body.as_bytes(),
    )
}

#[test]
fn acl_property_and_method_on_calendars() {
    let (_dir, config, _server, addr) = server("");
    run(&config, &["account", "add", CAROL, "--password", PASSWORD]);
    run(
        &config,
        &["calendar", "share", BOB, "calendar", CAROL, "lrak"],
    );
    run(
        &config,
        &["calendar", "share", BOB, "calendar", EVE, "lrsp"],
    );

    let options = as_user(BOB, addr, "OPTIONS", CAL, &[], b"");
    assert!(
        options
            .header("DAV")
            .unwrap_or("")
            .contains("access-control"),
        "{:?}",
        options.header("DAV")
    );
    assert!(options.header("Allow").unwrap_or("").contains("ACL"));

    // The owner reads the ACL: its own protected `all`, carol's read and ACL rights
    // (read-acl only: the ACL method is the owner's), eve's read; "k", "s" and "p" have
    // no DAV privilege.
    let body = propfind_acl(BOB, addr, CAL);
    let expected = vec![
        ace(&principal(BOB), &["all"], true),
        ace(&principal(CAROL), &["read", "read-acl"], false),
        ace(&principal(EVE), &["read"], false),
    ];
    assert_eq!(aces(&body), expected, "{body}");
    assert!(
        body.contains("<D:acl-restrictions><D:grant-only/><D:no-invert/></D:acl-restrictions>"),
        "{body}"
    );
    for p in [
        "all",
        "read",
        "write",
        "write-content",
        "bind",
        "unbind",
        "read-acl",
        "write-acl",
    ] {
        assert!(
            body.contains(&format!("<D:privilege><D:{p}/></D:privilege>")),
            "{p}: {body}"
        );
    }
    assert!(body.contains("<D:inherited-acl-set/>"), "{body}");
    assert!(
        body.contains(&format!(
            "<D:owner><D:href>{}</D:href></D:owner>",
            principal(BOB)
        )),
        "{body}"
    );

    // Carol (admin right) reads it too, and has read-acl among her privileges.
    let body = propfind_acl(CAROL, addr, CAL);
    assert_eq!(aces(&body), expected, "{body}");
    assert!(body.contains("<D:read-acl/>"), "{body}");
    // Eve (no admin right) gets 403 for `acl` alone.
    let body = propfind_acl(EVE, addr, CAL);
    assert!(aces(&body).is_empty(), "{body}");
    let denied = &body[body.find("<D:acl/>").expect("acl named in a propstat")..];
    assert!(
        denied.contains("HTTP/1.1 403"),
        "acl in a 403 propstat: {body}"
    );
    assert!(body.contains("<D:acl-restrictions>"), "{body}");
    // The same through allprop's include: 403, not left out.
    let r = as_user(
        EVE,
        addr,
        "PROPFIND",
        CAL,
        &[("Depth", "0")],
        br#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:acl/></D:include></D:propfind>"#,
    );
    assert_eq!(r.status, 207, "{}", r.text());
    let body = r.text();
    assert!(aces(&body).is_empty(), "{body}");
    let denied = &body[body.find("<D:acl/>").expect("acl named in a propstat")..];
    assert!(denied.contains("HTTP/1.1 403"), "{body}");

    // Only the owner sets the ACL.
    let replace = acl_body(&[
        grant(&href(EVE), &["read", "write-content", "bind", "unbind"]),
        grant(&href(CAROL), &["read"]),
        grant("<D:authenticated/>", &["read"]),
    ]);
    for who in [CAROL, EVE] {
        let r = acl(who, addr, CAL, &replace);
        assert_eq!(r.status, 403, "{who}: {}", r.text());
        assert!(r.text().contains("need-privileges"), "{}", r.text());
    }
    let r = acl(BOB, addr, CAL, &replace);
    assert_eq!(r.status, 200, "{}", r.text());
    let after = vec![
        ace(&principal(BOB), &["all"], true),
        ace("authenticated", &["read"], false),
        ace(&principal(CAROL), &["read"], false),
        ace(
            &principal(EVE),
            &["read", "write-content", "bind", "unbind"],
            false,
        ),
    ];
    let body = propfind_acl(BOB, addr, CAL);
    assert_eq!(aces(&body), after, "{body}");
    let console = run(&config, &["calendar", "acl", BOB, "calendar"]);
    // The letters without a DAV privilege stayed on the entries the method replaced
    // (eve's "s" and "p", carol's "k").
    let line = |who: &str| {
        console
            .lines()
            .find(|l| l.starts_with(who))
            .unwrap_or_else(|| panic!("{who}: {console}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let sorted = |r: String| {
        let mut c: Vec<char> = r.chars().collect();
        c.sort();
        c.into_iter().collect::<String>()
    };
    assert_eq!(sorted(line(EVE)), sorted("lrwitsp".into()), "{console}");
    assert_eq!(sorted(line(CAROL)), sorted("lrk".into()), "{console}");
    // The grants hold: eve writes now, carol no longer reads the ACL.
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\n\
DTSTAMP:20260101T000000Z\r\nDTSTART:20260201T090000Z\r\nDTEND:20260201T100000Z\r\n\
SUMMARY:e1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let put = as_user(
        EVE,
        addr,
        "PUT",
        &format!("{CAL}e1.ics"),
        &[("Content-Type", "text/calendar")],
        ics.as_bytes(),
    );
    assert_eq!(put.status, 201, "{}", put.text());
    assert!(aces(&propfind_acl(CAROL, addr, CAL)).is_empty());

    // Refusals, each with its precondition; a good ACE beside a bad one changes nothing.
    let good = grant(&href(CAROL), &["all"]);
    let cases = [
        (
            "<D:ace><D:principal><D:authenticated/></D:principal><D:deny><D:privilege><D:read/>\
</D:privilege></D:deny></D:ace>"
                .to_string(),
            "grant-only",
        ),
        (
            format!(
                "<D:ace><D:invert><D:principal>{}</D:principal></D:invert><D:grant><D:privilege>\
<D:read/></D:privilege></D:grant></D:ace>",
                href(EVE)
            ),
            "no-invert",
        ),
        (
            grant(&href(EVE), &["write-properties"]),
            "not-supported-privilege",
        ),
        // Changing the ACL stays the owner's: write-acl is granted to nobody.
        (
            grant(&href(EVE), &["read", "read-acl", "write-acl"]),
            "not-supported-privilege",
        ),
        (
            "<D:ace><D:principal><D:href>/dav/principals/eve@example.com/</D:href></D:principal>\
<D:grant><D:privilege><X:frob xmlns:X=\"urn:x\"/></D:privilege></D:grant></D:ace>"
                .to_string(),
            "not-supported-privilege",
        ),
        (
            grant(&href("nobody@example.com"), &["read"]),
            "recognized-principal",
        ),
        (
            grant("<D:href>/dav/files/eve@example.com/</D:href>", &["read"]),
            "recognized-principal",
        ),
        (
            grant("<D:unauthenticated/>", &["read"]),
            "recognized-principal",
        ),
        (grant(&href(BOB), &["read"]), "no-protected-ace-conflict"),
    ];
    for (bad, condition) in &cases {
        let r = acl(BOB, addr, CAL, &acl_body(&[good.clone(), bad.clone()]));
        assert_eq!(r.status, 403, "{condition}: {}", r.text());
        assert!(
            r.text().contains(&format!("<D:{condition}")),
            "{condition}: {}",
            r.text()
        );
        assert_eq!(aces(&propfind_acl(BOB, addr, CAL)), after, "{condition}");
    }
    // The owner's ACE sent back as read is no change; `all` is every mapped right;
    // an empty ACL removes every grant.
    let r = acl(
        BOB,
        addr,
        CAL,
        &acl_body(&[grant(&href(BOB), &["all"]), good.clone()]),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        aces(&propfind_acl(BOB, addr, CAL)),
        vec![
            ace(&principal(BOB), &["all"], true),
            ace(
                &principal(CAROL),
                &["read", "write-content", "bind", "unbind", "read-acl",],
                false
            ),
        ]
    );
    let r = acl(BOB, addr, CAL, &acl_body(&[]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        aces(&propfind_acl(BOB, addr, CAL)),
        vec![ace(&principal(BOB), &["all"], true)]
    );
    assert_eq!(
        as_user(EVE, addr, "GET", &format!("{CAL}e1.ics"), &[], b"").status,
        404
    );
    // Malformed: 400; on an object: 403.
    let r = acl(BOB, addr, CAL, "<D:propfind xmlns:D=\"DAV:\"/>");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = acl(BOB, addr, &format!("{CAL}e1.ics"), &acl_body(&[good]));
    assert_eq!(r.status, 403, "{}", r.text());

    // An address book the same way.
    let book = "/dav/addressbooks/bob@example.com/contacts/";
    let r = acl(BOB, addr, book, &acl_body(&[grant(&href(EVE), &["read"])]));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        aces(&propfind_acl(BOB, addr, book)),
        vec![
            ace(&principal(BOB), &["all"], true),
            ace(&principal(EVE), &["read"], false)
        ]
    );
    let listed = as_user(
        EVE,
        addr,
        "PROPFIND",
        book,
        &[("Depth", "0")],
        PROPFIND_ACL.as_bytes(),
    );
    assert_eq!(listed.status, 207, "eve reads the book now");
}

#[test]
fn a_public_calendar_has_no_owner_principal() {
    let (_dir, config, _server, addr) = server("");
    run(&config, &["calendar", "create", "public", "holidays"]);
    run(
        &config,
        &["calendar", "share", "public", "holidays", "anyone", "lr"],
    );
    let hol = "/dav/calendars/public/holidays/";
    for path in [hol, "/dav/calendars/public/"] {
        let r = as_user(
            EVE,
            addr,
            "PROPFIND",
            path,
            &[("Depth", "0")],
            br#"<?xml version="1.0" encoding="utf-8"?>
<D:propfind xmlns:D="DAV:"><D:prop><D:owner/></D:prop></D:propfind>"#,
        );
        assert_eq!(r.status, 207, "{path}: {}", r.text());
        let body = r.text();
        assert!(!body.contains("/dav/principals//"), "{path}: {body}");
        assert!(body.contains("<D:owner/>"), "{path}: {body}");
    }
    // Its ACL has no owner ACE; `anyone` is `authenticated`. Nobody owns it, so nobody
    // changes it over DAV (the console does).
    let r = as_user(
        EVE,
        addr,
        "PROPFIND",
        hol,
        &[("Depth", "0")],
        PROPFIND_ACL.as_bytes(),
    );
    assert!(aces(&r.text()).is_empty(), "eve has no admin right");
    run(
        &config,
        &["calendar", "share", "public", "holidays", EVE, "lra"],
    );
    let body = propfind_acl(EVE, addr, hol);
    assert_eq!(
        aces(&body),
        vec![
            ace("authenticated", &["read"], false),
            ace(&principal(EVE), &["read", "read-acl"], false),
        ],
        "{body}"
    );
    let r = acl(EVE, addr, hol, &acl_body(&[grant("<D:all/>", &["read"])]));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("need-privileges"));
}
