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

    // Without the CSRF token, or as a domain admin: nothing is added.
    assert_eq!(root.post_without_csrf("/sources", &add("pw")), 403);
    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    assert_eq!(boss.get("/sources").status, 403);
    let (status, _) = boss.post("/sources", &add("pw"));
    assert_eq!(status, 403);
    assert_eq!(count(), 2);
}
