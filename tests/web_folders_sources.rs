//! The dashboard's folders page (owners' folders, public folders, ACLs) and its sources
//! page (adding MultiPOP and DomainPOP sources, changing a source's password), driven over
//! HTTPS without a browser against a server in this process: every form round-trip, the
//! refusals (bad rights letters, unknown owners, INBOX, a domain admin outside its domains,
//! posts without the CSRF token), checked against what the console then shows.

mod common;

use common::fetch::{letter, wait_first_run};
use common::web::WebSession;
use common::{TestServer, PASSWORD};

fn console(server: &TestServer, line: &str) -> String {
    let (ok, out) = server.console(line);
    assert!(ok, "{line}: {out}");
    out
}

/// An administrator root@example.com ("root pw"), a domain admin boss@example.com
/// ("boss pw") of example.com only, and carl@other.test in a domain boss does not run.
fn server_with_admins() -> TestServer {
    let server = TestServer::start();
    console(
        &server,
        "account add root@example.com --password 'root pw' --admin",
    );
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    console(&server, "domain add other.test");
    console(&server, "account add carl@other.test --password x");
    server
}

fn ok(s: &WebSession, path: &str, fields: &[(&str, &str)]) -> String {
    let (status, flash) = s.post(path, fields);
    assert_eq!(status, 303, "{path} {fields:?}");
    assert!(flash.starts_with("ok:"), "{path} {fields:?}: {flash}");
    flash
}

fn refused(s: &WebSession, path: &str, fields: &[(&str, &str)]) -> String {
    let (status, flash) = s.post(path, fields);
    assert_eq!(status, 303, "{path} {fields:?}");
    assert!(flash.starts_with("err:"), "{path} {fields:?}: {flash}");
    flash
}

#[test]
fn dashboard_folders_and_acls() {
    let server = server_with_admins();
    let root = WebSession::login(server.addr("admin"), "root@example.com", "root pw");
    let bob = "bob@example.com";

    let page = root.get("/folders");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("href=\"/folders\""),
        "in the navigation"
    );
    let page = root.get("/folders?owner=bob%40example.com").text();
    assert!(
        page.contains("Folders of account bob@example.com"),
        "{page}"
    );
    assert!(page.contains("<td>INBOX"), "{page}");

    // Create, with a missing parent made too.
    let folder = [("owner", bob), ("folder", "Projects/2026")];
    ok(
        &root,
        "/folders",
        &[&[("action", "create")], &folder[..]].concat(),
    );
    let list = console(&server, "folder list bob@example.com");
    assert!(
        list.contains("Projects/2026") && list.contains("Projects "),
        "{list}"
    );

    // Grant, add a right, refuse nonsense, revoke.
    let grant = |id: &'static str, rights: &'static str| {
        [
            ("action", "grant"),
            ("owner", bob),
            ("folder", "Projects/2026"),
            ("identifier", id),
            ("rights", rights),
        ]
    };
    ok(&root, "/folders", &grant("Alice@Example.com", "lrs"));
    let acl = || console(&server, "acl get bob@example.com Projects/2026");
    assert!(acl().contains("alice@example.com  lrs"), "{}", acl());
    ok(&root, "/folders", &grant("alice@example.com", "+w"));
    assert!(acl().contains("alice@example.com  lrsw"), "{}", acl());
    let page = root.get("/folders?owner=bob%40example.com").text();
    assert!(
        page.contains("alice@example.com: <code>lrsw</code>"),
        "{page}"
    );
    let flash = refused(&root, "/folders", &grant("alice@example.com", "lrz"));
    assert!(flash.contains("lrz"), "{flash}");
    let flash = refused(&root, "/folders", &grant("nobody@example.com", "lr"));
    assert!(flash.contains("no account nobody@example.com"), "{flash}");
    assert!(acl().contains("alice@example.com  lrsw"), "{}", acl());
    ok(
        &root,
        "/folders",
        &[
            ("action", "revoke"),
            ("owner", bob),
            ("folder", "Projects/2026"),
            ("identifier", "alice@example.com"),
        ],
    );
    assert!(!acl().contains("alice@example.com"), "{}", acl());

    // INBOX stays; another folder goes.
    let flash = refused(
        &root,
        "/folders",
        &[("action", "delete"), ("owner", bob), ("folder", "INBOX")],
    );
    assert!(flash.contains("INBOX cannot be deleted"), "{flash}");
    ok(
        &root,
        "/folders",
        &[
            ("action", "delete"),
            ("owner", bob),
            ("folder", "Projects/2026"),
        ],
    );
    assert!(!console(&server, "folder list bob@example.com").contains("Projects/2026"));

    // Unknown owners: a flash on posts, a message in place of the list on the page.
    let flash = refused(
        &root,
        "/folders",
        &[
            ("action", "create"),
            ("owner", "nobody@example.com"),
            ("folder", "X"),
        ],
    );
    assert!(flash.contains("no account nobody@example.com"), "{flash}");
    let page = root.get("/folders?owner=nobody%40example.com").text();
    assert!(page.contains("id=\"folder-problem\""), "{page}");
    assert!(!page.contains("id=\"folder-create-form\""), "{page}");

    // Public folders, shared with everyone.
    ok(
        &root,
        "/folders",
        &[
            ("action", "create"),
            ("owner", "Public"),
            ("folder", "Notices"),
        ],
    );
    ok(
        &root,
        "/folders",
        &[
            ("action", "grant"),
            ("owner", "public"),
            ("folder", "Notices"),
            ("identifier", "anyone"),
            ("rights", "lr"),
        ],
    );
    assert!(console(&server, "folder list public").contains("Notices"));
    assert!(console(&server, "acl get public Notices").contains("anyone  lr"));
    assert!(root
        .get("/folders?owner=public")
        .text()
        .contains("<h2>Public folders</h2>"));

    // Without the CSRF token nothing happens.
    let status = root.post_without_csrf(
        "/folders",
        &[("action", "create"), ("owner", bob), ("folder", "Sneaky")],
    );
    assert_eq!(status, 403);
    assert!(!console(&server, "folder list bob@example.com").contains("Sneaky"));

    // A domain admin: its domain's accounts, not another domain's, not the public folders.
    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    let page = boss.get("/folders").text();
    assert!(
        page.contains("href=\"/folders\"") && page.contains(bob),
        "{page}"
    );
    assert!(!page.contains("carl@other.test"), "{page}");
    assert!(!page.contains("value=\"public\""), "{page}");
    for owner in ["carl%40other.test", "public"] {
        let page = boss.get(&format!("/folders?owner={owner}")).text();
        assert!(page.contains("id=\"folder-problem\""), "{owner}: {page}");
        assert!(!page.contains("<td>INBOX"), "{owner}: {page}");
    }
    for owner in ["carl@other.test", "public"] {
        refused(
            &boss,
            "/folders",
            &[("action", "create"), ("owner", owner), ("folder", "Mine")],
        );
        refused(
            &boss,
            "/folders",
            &[
                ("action", "grant"),
                ("owner", owner),
                ("folder", "INBOX"),
                ("identifier", "anyone"),
                ("rights", "lr"),
            ],
        );
    }
    assert!(!console(&server, "folder list carl@other.test").contains("Mine"));
    assert!(!console(&server, "folder list public").contains("Mine"));
    assert!(!console(&server, "acl get carl@other.test INBOX").contains("anyone"));
    ok(
        &boss,
        "/folders",
        &[("action", "create"), ("owner", bob), ("folder", "Mine")],
    );
    assert!(console(&server, "folder list bob@example.com").contains("Mine"));
}

#[test]
fn dashboard_sources_add_change_password_and_run() {
    let server = server_with_admins();
    let root = WebSession::login(server.addr("admin"), "root@example.com", "root pw");
    // The outside mailbox is alice@'s on this same server, read over POP3 without TLS.
    common::fetch::fill(
        &server,
        "alice@example.com",
        &[letter("dash", 1, "To: alice@example.com\r\n")],
    );
    let port = server.addr("pop3").port().to_string();
    let add = |password: &'static str| {
        vec![
            ("action", "add"),
            ("kind", "multipop"),
            ("owner", "Bob@Example.com"),
            ("protocol", "pop3"),
            ("host", "127.0.0.1"),
            ("port", port.as_str()),
            ("tls", "none"),
            ("user", "alice@example.com"),
            ("password", password),
            ("interval", "3600"),
        ]
    };

    // Added with a wrong password: the first run fails and the page shows why.
    let flash = ok(&root, "/sources", &add("wrong secret"));
    assert!(!flash.contains("wrong secret"), "{flash}");
    let id = common::fetch::source_id(&flash);
    let status = wait_first_run(&server, id);
    assert!(!status.contains("last error: none"), "{status}");
    let page = root.get("/sources").text();
    assert!(page.contains("MultiPOP → bob@example.com"), "{page}");
    assert!(page.contains("pop3 127.0.0.1:"), "{page}");
    assert!(!page.contains("wrong secret"), "passwords are never shown");
    assert!(!page.contains("<td class=\"error\"></td>"), "{page}");
    assert!(server.inbox("bob@example.com").is_empty());

    // The right password: the next run fetches the letter.
    let idw = id.to_string();
    refused(&root, "/sources", &[("action", "passwd"), ("id", &idw)]);
    let flash = refused(
        &root,
        "/sources",
        &[("action", "passwd"), ("id", "99"), ("password", "x")],
    );
    assert!(flash.contains("no source 99"), "{flash}");
    let flash = ok(
        &root,
        "/sources",
        &[("action", "passwd"), ("id", &idw), ("password", PASSWORD)],
    );
    assert!(!flash.contains(PASSWORD), "{flash}");
    ok(&root, "/sources", &[("action", "run"), ("id", &idw)]);
    let inbox = server.wait_inbox("bob@example.com", 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("<1-dash@example.net>"));
    assert!(console(&server, &format!("source status {id}")).contains("last error: none"));

    // DomainPOP, with its own options (the server is a closed port: nothing is fetched).
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .unwrap();
    let domainpop = |owner: &'static str, dedup: &'static str| {
        vec![
            ("action", "add"),
            ("kind", "domainpop"),
            ("owner", owner),
            ("protocol", "imap"),
            ("host", "127.0.0.1"),
            ("port", closed.as_str()),
            ("tls", "none"),
            ("user", "collector"),
            ("password", "pw"),
            ("unknown", "bad"),
            ("dedup", dedup),
            ("headers", "X-Original-To,To/Cc"),
        ]
    };
    ok(&root, "/sources", &domainpop("example.com", "off"));
    let shown = console(&server, "domainpop show example.com");
    assert!(
        shown.contains("imap://collector@127.0.0.1")
            && shown.contains("unknown recipients: bad queue")
            && shown.contains("duplicate suppression: off")
            && shown.contains("recipient headers: X-Original-To, To/Cc"),
        "{shown}"
    );
    refused(&root, "/sources", &domainpop("bob@example.com", "off"));
    refused(&root, "/sources", &domainpop("nowhere.test", "off"));
    refused(&root, "/sources", &domainpop("example.com", "soon"));
    let mut bad_tls = add("pw");
    bad_tls[6] = ("tls", "maybe");
    refused(&root, "/sources", &bad_tls);
    let mut to_domain = add("pw");
    to_domain[2] = ("owner", "example.com");
    refused(&root, "/sources", &to_domain);
    let count = || {
        console(&server, "source status")
            .lines()
            .filter(|l| l.starts_with("source "))
            .count()
    };
    assert_eq!(count(), 2);

    // Without the CSRF token nothing is added (domain admins:
    // `a_domain_admin_manages_the_sources_of_its_domains_only`).
    assert_eq!(root.post_without_csrf("/sources", &add("pw")), 403);
    assert_eq!(count(), 2);
}

/// The sources the API shows `who` (HTTP Basic over HTTPS): (id, owner) pairs.
fn api_sources(server: &TestServer, who: &str, password: &str) -> Vec<(u64, String)> {
    let auth = common::http::basic(who, password);
    let r = common::http::request(
        server.addr("admin"),
        true,
        "GET",
        "/api/v1/sources",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let mut out: Vec<(u64, String)> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_u64().unwrap(),
                s["owner"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

/// A domain admin (boss, of example.com) gets the sources page with the sources of its
/// domain only, as the API shows them to it, and cannot see, run, change or delete another
/// domain's, nor add one for another domain, nor send DomainPOP's unknown recipients to
/// another domain's account or into a raw copy folder on the server.
#[test]
fn a_domain_admin_manages_the_sources_of_its_domains_only() {
    let server = server_with_admins();
    // The sources' server is a closed port: runs fail, nothing is fetched.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port().to_string())
        .unwrap();
    let source = |owner: &str| {
        let out = console(
            &server,
            &format!(
                "source add {owner} --host 127.0.0.1 --port {closed} --protocol pop3 --tls none \
                 --user u --password 'pw' --interval 3600"
            ),
        );
        common::fetch::source_id(&out)
    };
    let bobs = source("bob@example.com");
    let carls = source("carl@other.test");
    console(
        &server,
        &format!(
            "domainpop set other.test --host 127.0.0.1 --port {closed} --protocol pop3 \
             --tls none --user u --password pw"
        ),
    );
    let all = api_sources(&server, "root@example.com", "root pw");
    assert_eq!(all.len(), 3, "{all:?}");
    let other_domain = all
        .iter()
        .find(|(_, owner)| owner == "other.test")
        .map(|(id, _)| *id)
        .expect("the DomainPOP source");

    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    let page = boss.get("/sources");
    assert_eq!(page.status, 200, "{}", page.text());
    let text = page.text();
    assert!(text.contains("href=\"/sources\""), "in the navigation");
    assert!(text.contains("MultiPOP → bob@example.com"), "{text}");
    assert!(!text.contains("carl@other.test"), "{text}");
    assert!(!text.contains("other.test"), "{text}");
    // The same sources the API shows boss.
    assert_eq!(
        api_sources(&server, "boss@example.com", "boss pw"),
        vec![(bobs, "bob@example.com".to_string())]
    );

    // Another domain's sources are answered as missing, and stay as they were.
    for id in [carls, other_domain] {
        let id = id.to_string();
        for fields in [
            vec![("action", "run"), ("id", id.as_str())],
            vec![("action", "delete"), ("id", id.as_str())],
            vec![
                ("action", "passwd"),
                ("id", id.as_str()),
                ("password", "new"),
            ],
        ] {
            let flash = refused(&boss, "/sources", &fields);
            assert!(flash.contains(&format!("no source {id}")), "{flash}");
        }
    }
    assert_eq!(api_sources(&server, "root@example.com", "root pw"), all);

    // Adding: for its own accounts and domain only, with unknown recipients kept inside.
    let port = closed.as_str();
    let add = |kind: &'static str, owner: &'static str, extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("action", "add"),
            ("kind", kind),
            ("owner", owner),
            ("protocol", "pop3"),
            ("host", "127.0.0.1"),
            ("port", port),
            ("tls", "none"),
            ("user", "u"),
            ("password", "pw"),
            ("interval", "3600"),
        ];
        f.extend_from_slice(extra);
        f
    };
    let flash = refused(&boss, "/sources", &add("multipop", "carl@other.test", &[]));
    assert!(flash.contains("not in a domain you administer"), "{flash}");
    refused(&boss, "/sources", &add("domainpop", "other.test", &[]));
    let flash = refused(
        &boss,
        "/sources",
        &add(
            "domainpop",
            "example.com",
            &[("unknown", "carl@other.test")],
        ),
    );
    assert!(flash.contains("carl@other.test"), "{flash}");
    let flash = refused(
        &boss,
        "/sources",
        &add("domainpop", "example.com", &[("raw_copy", "raw")]),
    );
    assert!(flash.contains("raw copy"), "{flash}");
    assert_eq!(api_sources(&server, "root@example.com", "root pw"), all);
    ok(
        &boss,
        "/sources",
        &add("multipop", "alice@example.com", &[]),
    );
    ok(
        &boss,
        "/sources",
        &add(
            "domainpop",
            "example.com",
            &[("unknown", "bob@example.com")],
        ),
    );
    let mine = api_sources(&server, "boss@example.com", "boss pw");
    let owners: Vec<&str> = mine.iter().map(|(_, o)| o.as_str()).collect();
    assert_eq!(
        owners,
        ["bob@example.com", "alice@example.com", "example.com"],
        "{mine:?}"
    );
    assert_eq!(api_sources(&server, "root@example.com", "root pw").len(), 5);

    // Its own: run, change the password, delete.
    let id = bobs.to_string();
    // The run itself fails (a closed port), but it is boss's to start.
    let (status, flash) = boss.post("/sources", &[("action", "run"), ("id", &id)]);
    assert_eq!(status, 303);
    assert!(!flash.contains("no source"), "{flash}");
    ok(
        &boss,
        "/sources",
        &[("action", "passwd"), ("id", &id), ("password", "new pw")],
    );
    ok(&boss, "/sources", &[("action", "delete"), ("id", &id)]);
    let left = api_sources(&server, "root@example.com", "root pw");
    assert_eq!(left.len(), 4, "{left:?}");
    assert!(left.iter().all(|(i, _)| *i != bobs));
    assert!(left.iter().any(|(i, _)| *i == carls));
}
