//! Who may do what: domain admins confined to their domains, API keys and their scopes.

use super::queues::deferred_record;
use super::*;

/// A domain admin of example.org on example.com's objects: 404 for every object (as if it
/// did not exist) and 403 for server-wide things; and its own domain works.
#[test]
fn a_domain_admin_is_refused_on_another_domain_on_every_endpoint() {
    let s = server();
    let id = deferred_record(&s);
    let hex = format!("{id:016X}");
    s.console("alias add info@example.com bob@example.com");
    s.console("folder create bob@example.com Projects");
    with_api(s.handle().ctx.clone(), move |api| async move {
        let q = format!("/api/v1/queues/deferred/{hex}");
        let table: Vec<(Method, String, Option<Value>, StatusCode)> = vec![
            (
                Method::GET,
                "/api/v1/domains/example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/domains/example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/domains/example.com/admins".into(),
                Some(json!({"account": DOM})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/domains/example.com/admins/root@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/api/v1/domains/example.com/dkim".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/domains/example.com/dkim".into(),
                Some(json!({})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/domains/example.com/dkim/s1/activate".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/domains/example.com/dkim/s1".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/domains".into(),
                Some(json!({"name": "evil.test"})),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/accounts/bob@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PATCH,
                "/api/v1/accounts/bob@example.com".into(),
                Some(json!({"password": "x"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/accounts/bob@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/accounts".into(),
                Some(json!({"address": "x@example.com", "password": "p"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/accounts/bob@example.com/sendas".into(),
                Some(json!({"sender": "@example.org"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/accounts/bob@example.com/sendas/@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/aliases".into(),
                Some(json!({"alias": "x@example.com", "target": DOM})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/aliases/info@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/api/v1/folders/bob@example.com".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/folders/bob@example.com".into(),
                Some(json!({"name": "X"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/folders/bob@example.com?name=Projects".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/api/v1/folders/bob@example.com/acl?name=Projects".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::PUT,
                "/api/v1/folders/bob@example.com/acl".into(),
                Some(json!({"name": "Projects", "identifier": DOM, "rights": "lr"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/api/v1/folders/public".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (Method::GET, q.clone(), None, StatusCode::NOT_FOUND),
            (Method::DELETE, q.clone(), None, StatusCode::NOT_FOUND),
            (
                Method::POST,
                format!("{q}/retry"),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                format!("{q}/bounce"),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                format!("{q}/move"),
                Some(json!({"to": "bad"})),
                StatusCode::NOT_FOUND,
            ),
            (
                Method::GET,
                "/api/v1/status".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/cluster".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/settings".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::POST,
                "/api/v1/settings/reload".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::POST,
                "/api/v1/command".into(),
                Some(json!({"line": "domain list"})),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/logs".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/logs/stream".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::GET,
                "/api/v1/screening".into(),
                None,
                StatusCode::FORBIDDEN,
            ),
            (
                Method::POST,
                "/api/v1/screening".into(),
                Some(json!({"action": "ban", "address": "192.0.2.1"})),
                StatusCode::FORBIDDEN,
            ),
            (
                Method::POST,
                "/api/v1/sources/1/run".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::DELETE,
                "/api/v1/sources/1".into(),
                None,
                StatusCode::NOT_FOUND,
            ),
            (
                Method::POST,
                "/api/v1/apikeys".into(),
                Some(json!({"name": "k", "owner": ROOT})),
                StatusCode::FORBIDDEN,
            ),
        ];
        for (method, path, body, want) in table {
            let (st, v) = api.call(Some(DOM), method.clone(), &path, body).await;
            assert_eq!(st, want, "{method} {path}: {v}");
        }
        // Lists leave the other domain out.
        let v = api
            .call(Some(DOM), Method::GET, "/api/v1/domains", None)
            .await
            .1;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        assert_eq!(v["items"][0]["name"], "example.org");
        let v = api
            .call(Some(DOM), Method::GET, "/api/v1/accounts", None)
            .await
            .1;
        let addrs: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["address"].as_str().unwrap())
            .collect();
        assert_eq!(addrs, ["carol@example.org", DOM]);
        let v = api
            .call(Some(DOM), Method::GET, "/api/v1/aliases", None)
            .await
            .1;
        assert_eq!(v["items"], json!([]));
        let v = api
            .call(Some(DOM), Method::GET, "/api/v1/queues/deferred", None)
            .await
            .1;
        assert_eq!(v["total"], 0, "{v}");
        let v = api
            .call(Some(DOM), Method::GET, "/api/v1/queues", None)
            .await
            .1;
        assert!(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|q| q["count"] == 0),
            "{v}"
        );
        // Its own domain works.
        let (st, v) = api
            .call(
                Some(DOM),
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"address": "new@example.org", "password": "p"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let (st, v) = api
            .call(
                Some(DOM),
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"address": "boss@example.org", "password": "p", "admin": true})),
            )
            .await;
        assert_eq!(
            st,
            StatusCode::FORBIDDEN,
            "no admin rights from a domain admin: {v}"
        );
        let (st, _) = api
            .call(
                Some(DOM),
                Method::GET,
                "/api/v1/domains/example.org/dkim",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
    });
    // Nothing of example.com changed.
    assert!(s.store().get_account(BOB).unwrap().is_some());
    assert!(s.store().queue_find(id).unwrap().is_some());
}

#[test]
fn api_keys_scopes_and_the_console_line() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/apikeys",
                Some(json!({"name": "ro", "scope": "read-only"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        let key = v["key"].as_str().unwrap().to_string();
        let key_id = v["info"]["id"].as_str().unwrap().to_string();
        assert!(key.starts_with("fm_"));
        let bearer = || Some(format!("Bearer {key}"));
        // A read-only key reads, and is refused every change.
        let (st, _) = api
            .call_auth(bearer(), Method::GET, "/api/v1/accounts", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        let (st, v) = api
            .call_auth(
                bearer(),
                Method::POST,
                "/api/v1/domains",
                Some(json!({"name": "k.test"})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        let (st, _) = api
            .call_auth(
                bearer(),
                Method::POST,
                "/api/v1/command",
                Some(json!({"line": "domain list"})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let v = api.ok(Method::GET, "/api/v1/apikeys", None).await;
        assert!(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == key_id.as_str() && k["scope"] == "read-only"));
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                &format!("/api/v1/apikeys/{key_id}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = api
            .call_auth(bearer(), Method::GET, "/api/v1/accounts", None)
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "a revoked key stops working");

        // The console line: output, and 422 for a line that does not parse or fails.
        let v = api
            .ok(
                Method::POST,
                "/api/v1/command",
                Some(json!({"line": "domain list"})),
            )
            .await;
        assert!(v["output"].as_str().unwrap().contains("example.org"), "{v}");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/command",
                Some(json!({"line": "frobnicate"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/command",
                Some(json!({"line": "domain del nowhere.test"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
    });
}

/// A domain admin may not change or delete, in its own domain, an account that is a server
/// administrator or administers a domain the caller does not (it would set its password
/// and log in as it): 403 `forbidden`; a plain account of its domain it may.
#[test]
fn a_domain_admin_cannot_take_over_a_wider_admin_in_its_domain() {
    let s = server();
    let store = s.store();
    store
        .add_account("chief@example.org", PASSWORD, true)
        .unwrap();
    store
        .add_account("wide@example.org", PASSWORD, false)
        .unwrap();
    store
        .add_domain_admin("wide@example.org", "example.org")
        .unwrap();
    store
        .add_domain_admin("wide@example.org", "example.com")
        .unwrap();
    store.commit().unwrap();
    with_api(s.handle().ctx.clone(), move |api| async move {
        for target in ["chief@example.org", "wide@example.org"] {
            let path = format!("/api/v1/accounts/{target}");
            let table: Vec<(Method, Option<Value>)> = vec![
                (Method::PATCH, Some(json!({"password": "taken over"}))),
                (Method::PATCH, Some(json!({"disabled": true}))),
                (Method::PATCH, Some(json!({"quota": {"storage": 1}}))),
                (Method::DELETE, None),
            ];
            for (method, body) in table {
                let (st, v) = api.call(Some(DOM), method.clone(), &path, body).await;
                assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
                assert_eq!(v["error"]["code"], "forbidden", "{v}");
            }
            // Seeing it is still allowed (it is in the caller's domain).
            let (st, _) = api.call(Some(DOM), Method::GET, &path, None).await;
            assert_eq!(st, StatusCode::OK);
            // The full admin may.
            let (st, v) = api
                .call(
                    Some(ROOT),
                    Method::PATCH,
                    &path,
                    Some(json!({"quota": {"storage": 1000000}})),
                )
                .await;
            assert_eq!(st, StatusCode::OK, "{v}");
        }
        // A plain account of its domain: yes.
        let (st, v) = api
            .call(
                Some(DOM),
                Method::PATCH,
                "/api/v1/accounts/carol@example.org",
                Some(json!({"password": "new one"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    });
    // Nothing of the two changed but the admin's quota.
    let store = s.store();
    for target in ["chief@example.org", "wide@example.org"] {
        let a = store.get_account(target).unwrap().expect("not deleted");
        assert!(!a.disabled, "{target}");
        assert!(
            matches!(
                store.verify_password(target, PASSWORD).unwrap(),
                ferrymail::storage::AuthOutcome::Ok(_)
            ),
            "{target}: the password changed"
        );
    }
}

/// A domain admin may not change the folders or the ACLs of an account of its domain that
/// it may not change (a server administrator): else it could give itself rights on that
/// admin's INBOX. 403 `forbidden`, the ACL unchanged; reading them and a plain account's
/// ACL it may.
#[test]
fn a_domain_admin_cannot_grant_itself_rights_on_a_server_admins_folders() {
    let s = server();
    let store = s.store();
    store
        .add_account("chief@example.org", PASSWORD, true)
        .unwrap();
    store.commit().unwrap();
    s.console("folder create chief@example.org Board");
    with_api(s.handle().ctx.clone(), move |api| async move {
        let acl = "/api/v1/folders/chief@example.org/acl";
        let table: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::PUT,
                acl.into(),
                Some(json!({"name": "INBOX", "identifier": DOM, "rights": "lrswipkxtea"})),
            ),
            (
                Method::PUT,
                acl.into(),
                Some(json!({"name": "Board", "identifier": "anyone", "rights": "lr"})),
            ),
            (
                Method::POST,
                "/api/v1/folders/chief@example.org".into(),
                Some(json!({"name": "Planted"})),
            ),
            (
                Method::DELETE,
                "/api/v1/folders/chief@example.org?name=Board".into(),
                None,
            ),
        ];
        for (method, path, body) in table {
            let (st, v) = api.call(Some(DOM), method.clone(), &path, body).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert_eq!(v["error"]["code"], "forbidden", "{v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("administrator"),
                "{v}"
            );
        }
        // Reading is still allowed (the account is in its domain).
        let (st, v) = api
            .call(Some(DOM), Method::GET, &format!("{acl}?name=Board"), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(
            !v["entries"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["identifier"] == DOM),
            "{v}"
        );
        // A plain account of its domain: yes.
        let (st, v) = api
            .call(
                Some(DOM),
                Method::PUT,
                "/api/v1/folders/carol@example.org/acl",
                Some(json!({"name": "INBOX", "identifier": DOM, "rights": "lr"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        // The server admin may change the admin's folders.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::PUT,
                acl,
                Some(json!({"name": "Board", "identifier": ROOT, "rights": "lr"})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    });
    let store = s.store();
    let board = store
        .folder_id("chief@example.org", "Board")
        .unwrap()
        .unwrap();
    assert!(
        !store
            .get_acl(board)
            .unwrap()
            .iter()
            .any(|(who, _)| who == DOM || who == "anyone"),
        "the ACL changed"
    );
    assert!(store
        .folder_id("chief@example.org", "Board")
        .unwrap()
        .is_some());
    assert!(store
        .folder_id("chief@example.org", "Planted")
        .unwrap()
        .is_none());
}
