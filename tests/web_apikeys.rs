//! The dashboard's API keys page, driven over HTTPS without a browser against a server in
//! this process: a key made on the page works as a Bearer token on the API, is listed
//! without its secret, and stops working once revoked; posts without the CSRF token are
//! refused; a domain admin sees and revokes only its own keys.

mod common;

use common::web::{form_urlencoded_pairs, WebSession};
use common::TestServer;

fn console(server: &TestServer, line: &str) -> String {
    let (ok, out) = server.console(line);
    assert!(ok, "{line}: {out}");
    out
}

/// Posts the creation form and returns the answer page (the key is shown on it, not in a
/// redirect).
fn create(s: &WebSession, name: &str, scope: &str) -> common::http::Response {
    let body = form_urlencoded_pairs(&[
        ("csrf", s.csrf.as_str()),
        ("action", "create"),
        ("name", name),
        ("scope", scope),
    ]);
    let cookie = format!("fm_admin={}", s.cookie);
    common::http::request(
        s.addr,
        true,
        "POST",
        "/apikeys",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    )
}

/// The key shown on a creation answer.
fn shown_key(page: &str) -> String {
    page.split("id=\"apikey-secret\" readonly value=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no key on the page: {page}"))
        .to_string()
}

/// The status of `GET /api/v1/domains` with `key` as Bearer token.
fn bearer_status(server: &TestServer, key: &str) -> u16 {
    let auth = format!("Bearer {key}");
    common::http::request(
        server.addr("admin"),
        true,
        "GET",
        "/api/v1/domains",
        &[("Authorization", &auth)],
        b"",
    )
    .status
}

#[test]
fn dashboard_api_keys_create_list_revoke() {
    let server = TestServer::start();
    console(
        &server,
        "account add root@example.com --password 'root pw' --admin",
    );
    console(&server, "account add boss@example.com --password 'boss pw'");
    console(&server, "domainadmin add boss@example.com example.com");
    let root = WebSession::login(server.addr("admin"), "root@example.com", "root pw");

    let page = root.get("/apikeys");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("href=\"/apikeys\""),
        "in the navigation"
    );

    // Made: shown once on the answer, working as a Bearer token.
    let answer = create(&root, "ci deploy", "read-only");
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(
        answer.cookie("fm_flash").is_none(),
        "the key is not put in a cookie"
    );
    let key = shown_key(&answer.text());
    assert!(key.starts_with("fm_"), "{key}");
    assert_eq!(bearer_status(&server, &key), 200);
    let id = key[3..11].to_string();
    assert!(console(&server, "apikey list").contains(&id));

    // Listed with its facts, never with its secret again.
    let list = root.get("/apikeys").text();
    assert!(list.contains(&format!("<code>{id}</code>")), "{list}");
    assert!(
        list.contains("ci deploy") && list.contains("read-only"),
        "{list}"
    );
    assert!(!list.contains(&key), "the secret is shown once only");
    assert!(!list.contains("id=\"apikey-secret\""), "{list}");

    // A bad scope or name is said on the page, and makes nothing.
    let answer = create(&root, "x", "everything").text();
    assert!(answer.contains("id=\"apikey-problem\""), "{answer}");
    assert!(!answer.contains("id=\"apikey-secret\""), "{answer}");

    // Without the CSRF token nothing happens.
    let status = root.post_without_csrf("/apikeys", &[("action", "revoke"), ("id", &id)]);
    assert_eq!(status, 403);
    let status = root.post_without_csrf(
        "/apikeys",
        &[("action", "create"), ("name", "sneaky"), ("scope", "all")],
    );
    assert_eq!(status, 403);
    assert!(!console(&server, "apikey list").contains("sneaky"));
    assert_eq!(bearer_status(&server, &key), 200);

    // A domain admin: sees only its own keys, cannot revoke root's.
    let boss = WebSession::login(server.addr("admin"), "boss@example.com", "boss pw");
    let boss_key = shown_key(&create(&boss, "boss tool", "accounts").text());
    let boss_id = boss_key[3..11].to_string();
    let page = boss.get("/apikeys").text();
    assert!(
        page.contains("href=\"/apikeys\""),
        "in a domain admin's navigation"
    );
    assert!(page.contains(&boss_id) && !page.contains(&id), "{page}");
    let (status, flash) = boss.post("/apikeys", &[("action", "revoke"), ("id", &id)]);
    assert_eq!(status, 303);
    assert!(flash.starts_with("err:") && flash.contains(&id), "{flash}");
    assert_eq!(bearer_status(&server, &key), 200, "root's key still works");

    // Root sees both; revoking makes the key fail at once.
    assert!(root.get("/apikeys").text().contains(&boss_id));
    let (status, flash) = root.post("/apikeys", &[("action", "revoke"), ("id", &id)]);
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
    assert_eq!(bearer_status(&server, &key), 401);
    assert!(!root
        .get("/apikeys")
        .text()
        .contains(&format!("<code>{id}</code>")));

    // A domain admin revokes its own.
    let (status, flash) = boss.post("/apikeys", &[("action", "revoke"), ("id", &boss_id)]);
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:"), "{flash}");
    assert_eq!(bearer_status(&server, &boss_key), 401);
}
