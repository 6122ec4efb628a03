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
