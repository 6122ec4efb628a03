//! Who may do what on the dashboard, driven over HTTPS without a browser against a server in
//! this process: a domain admin may not change or delete, in its own domain, an account
//! that is a server administrator or administers a domain the caller does not.

mod common;

use common::web::WebSession;
use common::TestServer;

fn console(server: &TestServer, line: &str) -> String {
    let (ok, out) = server.console(line);
    assert!(ok, "{line}: {out}");
    out
}

#[test]
fn a_domain_admin_cannot_change_a_wider_admin_of_its_domain() {
    let server = TestServer::start();
    console(
        &server,
        "account add root@example.com --password 'root pw' --admin",
    );
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    console(&server, "domain add other.test");
    console(&server, "account add wide@example.com --password 'wide pw'");
    console(&server, "domainadmin add wide@example.com example.com");
    console(&server, "domainadmin add wide@example.com other.test");
    console(&server, "account add plain@example.com --password x");

    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    for target in ["root@example.com", "wide@example.com"] {
        for fields in [
            vec![("action", "password"), ("password", "taken over")],
            vec![("action", "disable")],
            vec![("action", "twofa-reset")],
            vec![("action", "quota"), ("storage", "1K")],
            vec![("action", "delete")],
        ] {
            let mut all = vec![("address", target)];
            all.extend(fields.iter().copied());
            let (status, flash) = boss.post("/accounts", &all);
            assert_eq!(status, 303, "{all:?}");
            assert!(
                flash.starts_with("err:") && flash.contains("administrator"),
                "{all:?}: {flash}"
            );
        }
    }
    // Both still log in with their passwords, enabled and present.
    WebSession::login(server.addr("admin"), "root@example.com", "root pw");
    WebSession::login(server.addr("admin"), "wide@example.com", "wide pw");
    // A plain account of its domain: yes.
    let (status, flash) = boss.post(
        "/accounts",
        &[
            ("address", "plain@example.com"),
            ("action", "password"),
            ("password", "new pw"),
        ],
    );
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
}

/// A domain admin may not change the folders or ACLs of a server administrator of its
/// domain from the folders page (it could grant itself that admin's mail); a plain
/// account's it may.
#[test]
fn a_domain_admin_cannot_grant_itself_rights_on_a_server_admins_folders() {
    let server = TestServer::start();
    console(
        &server,
        "account add root@example.com --password 'root pw' --admin",
    );
    console(&server, "folder create root@example.com Board");
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    console(&server, "account add plain@example.com --password x");
    console(&server, "folder create plain@example.com Shared");

    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    for fields in [
        vec![
            ("action", "grant"),
            ("folder", "Board"),
            ("identifier", "boss@example.com"),
            ("rights", "lrswipkxtea"),
        ],
        vec![("action", "create"), ("folder", "Planted")],
        vec![("action", "delete"), ("folder", "Board")],
    ] {
        let mut all = vec![("owner", "root@example.com")];
        all.extend(fields.iter().copied());
        let (status, flash) = boss.post("/folders", &all);
        assert_eq!(status, 303, "{all:?}");
        assert!(
            flash.starts_with("err:") && flash.contains("administrator"),
            "{all:?}: {flash}"
        );
    }
    let out = console(&server, "acl get root@example.com Board");
    assert!(!out.contains("boss@example.com"), "{out}");
    let out = console(&server, "folder list root@example.com");
    assert!(out.contains("Board") && !out.contains("Planted"), "{out}");

    let (status, flash) = boss.post(
        "/folders",
        &[
            ("owner", "plain@example.com"),
            ("action", "grant"),
            ("folder", "Shared"),
            ("identifier", "boss@example.com"),
            ("rights", "lr"),
        ],
    );
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
    let out = console(&server, "acl get plain@example.com Shared");
    assert!(out.contains("boss@example.com"), "{out}");
}

/// The queue pages for a domain admin (of example.com): records are shown by their
/// recipients, never by the sender; of a record with recipients elsewhere only its own are
/// shown (with how many others), no header and no change buttons, and a change is refused;
/// the filter does not find text of the hidden parts.
#[test]
fn a_domain_admin_sees_queued_mail_by_its_recipients_on_the_dashboard() {
    let server = TestServer::start();
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    let forged = common::put_deferred(&server, "boss@example.com", &["x@remote.test"], "forged");
    let mixed = common::put_deferred(
        &server,
        "x@remote.test",
        &["secret@remote.test", "alice@example.com"],
        "mixed",
    );
    let own = common::put_deferred(&server, "x@remote.test", &["alice@example.com"], "own");

    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    let list = boss.get("/queues?queue=deferred").text();
    assert!(!list.contains(&format!("{forged:016x}")), "{list}");
    assert!(list.contains(&format!("{mixed:016x}")), "{list}");
    assert!(list.contains(&format!("{own:016x}")), "{list}");
    assert!(!list.contains("secret@remote.test"), "{list}");
    assert!(list.contains("(and 1 in other domains)"), "{list}");
    // The hidden recipient and the record's error (which names it) are not searchable.
    for probe in ["secret", "busy"] {
        let found = boss
            .get(&format!("/queues?queue=deferred&q={probe}"))
            .text();
        assert!(
            !found.contains(&format!("{mixed:016x}")),
            "{probe}: {found}"
        );
    }

    let page = boss.get(&format!("/queues/record/{mixed:016x}")).text();
    assert!(!page.contains("secret@remote.test"), "{page}");
    assert!(page.contains("alice@example.com"), "{page}");
    assert!(page.contains("id=\"record-hidden\""), "{page}");
    assert!(page.contains("id=\"record-no-header\""), "{page}");
    assert!(!page.contains("value=\"retry\""), "{page}");
    let page = boss.get(&format!("/queues/record/{own:016x}")).text();
    assert!(page.contains("Subject: own"), "{page}");
    assert!(page.contains("value=\"retry\""), "{page}");
    let page = boss.get(&format!("/queues/record/{forged:016x}"));
    assert!(!page.text().contains("Subject: forged"));

    for id in [mixed, forged] {
        let (status, flash) = boss.post(
            "/queues",
            &[("action", "delete"), ("id", &format!("{id:016x}"))],
        );
        assert_eq!(status, 303);
        assert!(flash.starts_with("err:"), "{flash}");
    }
    let (_, flash) = boss.post(
        "/queues",
        &[("action", "delete"), ("id", &format!("{mixed:016x}"))],
    );
    assert!(flash.contains("outside your domains"), "{flash}");
    let (status, flash) = boss.post(
        "/queues",
        &[("action", "delete"), ("id", &format!("{own:016x}"))],
    );
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
    let store = server.store();
    assert!(store.queue_find(mixed).unwrap().is_some());
    assert!(store.queue_find(forged).unwrap().is_some());
}

/// The queue page walked by its Next link (keyset: `after=<last id>`) shows every record of
/// a domain admin's once, in id order, and stops; its users' outgoing mail (submitted by an
/// account of its domain) is among them with every recipient, and may be changed; mail
/// another domain's account submitted, or that only claims its domain as the sender, never
/// shows.
#[test]
fn a_domain_admin_walks_its_queue_by_next_and_sees_its_users_outgoing_mail() {
    let server = TestServer::start();
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    console(&server, "domain add other.test");
    let outgoing = common::put_deferred_as(
        &server,
        Some("alice@example.com"),
        "alice@example.com",
        &["far@remote.test", "near@third.test"],
        "outgoing",
    );
    let foreign = common::put_deferred_as(
        &server,
        Some("x@other.test"),
        "alice@example.com",
        &["far@remote.test"],
        "foreign",
    );
    let mut want = vec![outgoing];
    for i in 0..60 {
        want.push(common::put_deferred(
            &server,
            "x@remote.test",
            &[&format!("u{i}@example.com")],
            "in",
        ));
        common::put_deferred(&server, "x@remote.test", &["y@remote.test"], "elsewhere");
    }
    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    let mut path = "/queues?queue=deferred".to_string();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let page = boss.get(&path).text();
        assert!(!page.contains(&format!("{foreign:016x}")), "{page}");
        assert!(!page.contains("y@remote.test"), "{page}");
        for line in page
            .lines()
            .filter(|l| l.contains("href=\"/queues/record/"))
        {
            let id = line
                .split("href=\"/queues/record/")
                .nth(1)
                .and_then(|r| r.get(..16))
                .unwrap();
            seen.push(u64::from_str_radix(id, 16).unwrap());
        }
        match page.split("id=\"queue-next\"").next().and_then(|before| {
            let at = before.rfind("href=\"?after=")?;
            Some(before[at + 6..].split('"').next()?.replace("&amp;", "&"))
        }) {
            Some(next) if page.contains("id=\"queue-next\"") => path = format!("/queues{next}"),
            _ => break,
        }
    }
    assert_eq!(seen, want, "every record of its domain once, in id order");
    let first = boss.get("/queues?queue=deferred").text();
    assert!(first.contains("near@third.test"), "{first}");
    let record = boss.get(&format!("/queues/record/{outgoing:016x}")).text();
    assert!(record.contains("value=\"retry\""), "{record}");
    assert!(record.contains("Subject: outgoing"), "{record}");
    let (status, flash) = boss.post(
        "/queues",
        &[("action", "delete"), ("id", &format!("{outgoing:016x}"))],
    );
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
    let (_, flash) = boss.post(
        "/queues",
        &[("action", "delete"), ("id", &format!("{foreign:016x}"))],
    );
    assert!(flash.starts_with("err:"), "{flash}");
    assert!(server.store().queue_find(foreign).unwrap().is_some());
}
