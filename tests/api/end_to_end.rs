//! The API over HTTPS against the running binary, and the published schema against what
//! the server enforces.

use super::*;

#[test]
fn end_to_end_over_https_against_the_binary() {
    let b = binary::start();
    // Without credentials: 401 with the JSON error.
    let r = common::http::get(b.admin, true, "/api/v1/domains");
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "unauthorized");

    let (st, v) = b.call("POST", "/api/v1/domains", Some(json!({"name": "e2e.test"})));
    assert_eq!(st, 201, "{v}");
    let (st, v) = b.call(
        "POST",
        "/api/v1/accounts",
        Some(json!({"address": "sam@e2e.test", "password": "sam's pw"})),
    );
    assert_eq!(st, 201, "{v}");
    let (st, v) = b.call("GET", "/api/v1/accounts?domain=e2e.test", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["total"], 1);
    assert_eq!(v["items"][0]["address"], "sam@e2e.test");
    let (st, v) = b.call("GET", "/api/v1/domains", None);
    assert_eq!(st, 200);
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["name"] == "e2e.test"));

    // A deferred record: sam sends to a remote domain whose lookup fails.
    let mut c = Client::connect(b.server.addr("submission"));
    c.cmd("EHLO client.example.net");
    let r = c.auth_plain("sam@e2e.test", "sam's pw");
    assert!(r.starts_with("235"), "{r}");
    assert!(c.cmd("MAIL FROM:<sam@e2e.test>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<someone@remote.test>").starts_with("250"));
    assert!(c.data("Subject: e2e\r\n\r\nHi.\r\n").starts_with("250"));
    c.cmd("QUIT");
    let mut id = None;
    for _ in 0..600 {
        let (st, v) = b.call("GET", "/api/v1/queues/deferred", None);
        assert_eq!(st, 200, "{v}");
        if let Some(i) = v["items"][0]["id"].as_str() {
            id = Some(i.to_string());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = id.expect("the message is deferred");
    let (st, v) = b.call("GET", "/api/v1/queues", None);
    assert_eq!(st, 200);
    let deferred = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "deferred")
        .unwrap();
    assert_eq!(deferred["count"], 1, "{v}");
    let (st, first) = b.call("GET", &format!("/api/v1/queues/deferred/{id}"), None);
    assert_eq!(st, 200, "{first}");
    assert_eq!(first["attempts"], 1, "{first}");
    let (st, retried) = b.call("POST", &format!("/api/v1/queues/deferred/{id}/retry"), None);
    assert_eq!(st, 200, "{retried}");
    assert_eq!(retried["from"], "deferred");
    assert_eq!(retried["queue"], "remote", "{retried}");

    // Where the retried message went: routing gives it a new record id (inbound, then one
    // record per destination), so the old id is gone at once; the remote attempt fails
    // again (the name server fails every lookup) and the message is back in deferred
    // under its new id with a second attempt counted. Not expired, and the delay notice
    // (4 h by default) is not due, so no DSN: the sender's mailbox stays empty.
    let mut again = None;
    for _ in 0..600 {
        let (st, v) = b.call("GET", "/api/v1/queues/deferred", None);
        assert_eq!(st, 200, "{v}");
        if let Some(item) = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["attempts"] == 2)
        {
            again = Some(item.clone());
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let again = again.expect("the retried message is deferred again after a second attempt");
    assert_ne!(again["id"], json!(id), "{again}");
    assert_eq!(again["id"], retried["id"], "the id the retry answered");
    assert_eq!(again["from"], "sam@e2e.test", "{again}");
    assert_eq!(again["recipients"][0]["address"], "someone@remote.test");
    assert_eq!(again["recipients"][0]["delivered"], false);
    assert_eq!(again["received"], first["received"], "the same message");
    assert!(again["last_error"].is_string(), "{again}");
    assert!(again["next_attempt"].is_i64(), "{again}");
    let (st, _) = b.call("GET", &format!("/api/v1/queues/deferred/{id}"), None);
    assert_eq!(st, 404, "the old record id is gone");
    // Nothing else anywhere: one message, in deferred, and no DSN queued...
    let (st, v) = b.call("GET", "/api/v1/queues", None);
    assert_eq!(st, 200);
    for q in v["items"].as_array().unwrap() {
        let want = if q["name"] == "deferred" { 1 } else { 0 };
        assert_eq!(q["count"], want, "{v}");
    }
    // ...nor delivered to the sender (checked after the queues: a DSN on its way would
    // have been in one of them).
    let (st, v) = b.call("GET", "/api/v1/accounts/sam@e2e.test", None);
    assert_eq!(st, 200, "{v}");
    assert_eq!(
        v["quota"]["messages_used"], 0,
        "no DSN in the sender's mailbox: {v}"
    );

    // Delete the account and the domain.
    let (st, v) = b.call("DELETE", "/api/v1/accounts/sam@e2e.test", None);
    assert_eq!(st, 204, "{v}");
    let (st, _) = b.call("GET", "/api/v1/accounts/sam@e2e.test", None);
    assert_eq!(st, 404);
    let (st, v) = b.call("DELETE", "/api/v1/domains/e2e.test", None);
    assert_eq!(st, 204, "{v}");

    // The document is served.
    let r = common::http::get(b.admin, true, "/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    assert!(r.json()["paths"]["/api/v1/accounts"].is_object());
}

/// What the OpenAPI document says is invalid, the server refuses (422), and what it says is
/// valid but the state forbids is a 409: the rules schemathesis holds the API to.
#[test]
fn the_published_schema_is_what_the_server_enforces() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let refused = |path: &'static str, method: Method, body: Value| {
            let api = &api;
            async move {
                let (st, v) = api.call(Some(ROOT), method, path, Some(body)).await;
                assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {v}");
                assert_eq!(code(&v), "invalid", "{v}");
                v
            }
        };
        // A key name outside its pattern, a folder name above its length, a domain and an
        // address outside the grammar the document publishes.
        refused("/api/v1/apikeys", Method::POST, json!({"name": "ops*"})).await;
        let v = refused(
            "/api/v1/folders/bob@example.com",
            Method::POST,
            json!({"name": "x".repeat(64)}),
        )
        .await;
        assert!(
            v["error"]["message"].as_str().unwrap().contains("/name"),
            "{v}"
        );
        refused(
            "/api/v1/domains",
            Method::POST,
            json!({"name": "-bad-.test"}),
        )
        .await;
        refused(
            "/api/v1/accounts",
            Method::POST,
            json!({"address": "someone@.example.com", "password": "pw"}),
        )
        .await;
        // Nothing half-done: neither the domain nor the account exists.
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/accounts/someone@.example.com",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // An offset beyond the document's maximum.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/accounts?offset=9007199254740992",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/accounts?offset=9007199254740991",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        // A log level outside the documented names (tracing itself would read "2").
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/logs?level=2", None)
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/logs?level=WARN", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        // The domain exists; the account the body names does not.
        refused(
            "/api/v1/domains/example.com/admins",
            Method::POST,
            json!({"account": "nobody@example.com"}),
        )
        .await;
        // Well formed, but INBOX is never deleted: a conflict with the folder's state.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/folders/bob@example.com?name=INBOX",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "conflict");
        // A key cannot revoke itself; another credential can.
        let v = api
            .ok(
                Method::POST,
                "/api/v1/apikeys",
                Some(json!({"name": "ops", "scope": "all"})),
            )
            .await;
        let key = v["key"].as_str().unwrap().to_string();
        let id = v["info"]["id"].as_str().unwrap().to_string();
        let path = format!("/api/v1/apikeys/{id}");
        let (st, v) = api
            .call_auth(Some(format!("Bearer {key}")), Method::DELETE, &path, None)
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let (st, _) = api
            .call_auth(
                Some(format!("Bearer {key}")),
                Method::GET,
                "/api/v1/apikeys",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "the key still works");
        let (st, _) = api.call(Some(ROOT), Method::DELETE, &path, None).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
    });
}
