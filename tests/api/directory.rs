//! Aliases, sender rights, DKIM keys, folders and ACLs through the API.

use super::*;

#[test]
fn aliases_sender_rights_dkim_folders_and_acls() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let v = api
            .ok(
                Method::POST,
                "/api/v1/aliases",
                Some(json!({"alias": "info@example.com", "target": BOB})),
            )
            .await;
        assert_eq!(v["targets"], json!([BOB]));
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/aliases",
                Some(json!({"alias": "info@example.com", "target": BOB})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let list = api.ok(Method::GET, "/api/v1/aliases", None).await;
        assert!(list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["alias"] == "info@example.com"));
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/aliases/info@example.com",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);

        let v = api
            .ok(
                Method::POST,
                "/api/v1/accounts/bob@example.com/sendas",
                Some(json!({"sender": "@example.com"})),
            )
            .await;
        assert_eq!(v["send_as"], json!(["@example.com"]));
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/accounts/bob@example.com/sendas/@example.com",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let v = api
            .ok(
                Method::POST,
                "/api/v1/domains/example.com/admins",
                Some(json!({"account": BOB})),
            )
            .await;
        assert_eq!(v["admins"], json!([BOB]));
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/domains/example.com/admins/bob@example.com",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);

        // DKIM: the key made by the console, a new one, activation, deletion.
        let v = api
            .ok(Method::GET, "/api/v1/domains/example.com/dkim", None)
            .await;
        let k = &v["items"][0];
        assert_eq!(k["selector"], "s1");
        assert_eq!(k["dns_name"], "s1._domainkey.example.com");
        assert!(k["dns_txt"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=ed25519; p="));
        let v = api
            .ok(
                Method::POST,
                "/api/v1/domains/example.com/dkim",
                Some(json!({"algorithm": "ed25519", "selector": "s2"})),
            )
            .await;
        assert_eq!(v["selector"], "s2");
        assert_eq!(v["active"], false);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/domains/example.com/dkim",
                Some(json!({"selector": "s2"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let v = api
            .ok(
                Method::POST,
                "/api/v1/domains/example.com/dkim/s2/activate",
                None,
            )
            .await;
        assert_eq!(v["active"], true);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/domains/example.com/dkim/s1",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);

        // Folders and ACLs.
        let v = api
            .ok(
                Method::POST,
                "/api/v1/folders/bob@example.com",
                Some(json!({"name": "Projects"})),
            )
            .await;
        assert!(v["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "Projects"));
        let v = api
            .ok(
                Method::PUT,
                "/api/v1/folders/bob@example.com/acl",
                Some(
                    json!({"name": "Projects", "identifier": "alice@example.com", "rights": "lr"}),
                ),
            )
            .await;
        assert_eq!(v["entries"][0]["identifier"], "alice@example.com");
        let v = api
            .ok(
                Method::GET,
                "/api/v1/folders/bob@example.com/acl?name=Projects",
                None,
            )
            .await;
        assert_eq!(v["entries"][0]["rights"], "lr");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/folders/bob@example.com?name=Projects",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/folders/bob@example.com/acl?name=Projects",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let v = api
            .ok(
                Method::POST,
                "/api/v1/folders/public",
                Some(json!({"name": "Shared"})),
            )
            .await;
        assert_eq!(v["owner"], "public");
    });
}
