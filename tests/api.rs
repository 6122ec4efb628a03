//! The management API (`/api/v1`): through actix-web's test service, with the admin
//! application's real middleware (`http::server::app`) and authentication (HTTP Basic,
//! API keys) against a running test server (its actors, queues and store), and end to end
//! over HTTPS against the running server's admin listener.
//!
//! Callers: root@example.com (admin), dom@example.org (domain admin of example.org only),
//! bob@example.com (a user).

#[path = "api/binary.rs"]
mod binary;
mod common;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use serde_json::{json, Value};

use common::{Client, TestServer, PASSWORD};
use ferrymail::actors::ServerContext;
use ferrymail::http::server::app;
use ferrymail::http::{Front, Listener};
use ferrymail::storage::QueueName;

const ROOT: &str = "root@example.com";
const DOM: &str = "dom@example.org";
const BOB: &str = "bob@example.com";

/// A test server with the callers above, example.org, and one DKIM key of example.com.
fn server() -> TestServer {
    // Submission without TLS (AUTH over plain text, loopback only) for the deferred records.
    let s = TestServer::start_with("allow_plaintext_auth = true");
    let store = s.store();
    store.add_account(ROOT, PASSWORD, true).unwrap();
    store.add_domain("example.org").unwrap();
    store.add_account(DOM, PASSWORD, false).unwrap();
    store
        .add_account("carol@example.org", PASSWORD, false)
        .unwrap();
    store.add_domain_admin(DOM, "example.org").unwrap();
    store.commit().unwrap();
    let (ok, out) = s.console("dkim generate example.com --algorithm ed25519 --selector s1");
    assert!(ok, "{out}");
    s
}

fn basic(who: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{who}:{PASSWORD}"))
    )
}

/// Runs `f` with a test service of the admin application serving the API on `ctx`.
fn with_api<F, Fut, T>(ctx: Arc<ServerContext>, f: F) -> T
where
    F: FnOnce(Api) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    actix_rt::System::new().block_on(async move {
        let front = Front {
            listener: Listener::Admin,
            https_port: None,
        };
        let svc = test::init_service(app(web::Data::new(ctx), front, |cfg| {
            ferrymail::http::api::configure(cfg)
        }))
        .await;
        f(Api(Box::new(Boxed { inner: svc }))).await
    })
}

type Svc = Box<
    dyn actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        Future = futures_util::future::LocalBoxFuture<
            'static,
            Result<actix_web::dev::ServiceResponse, actix_web::Error>,
        >,
    >,
>;

/// The application's service with its body type boxed, so that helpers can name it.
struct Boxed<S> {
    inner: S,
}

impl<S, B> actix_web::dev::Service<actix_http::Request> for Boxed<S>
where
    S: actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >,
    S::Future: 'static,
    B: actix_web::body::MessageBody + 'static,
{
    type Response = actix_web::dev::ServiceResponse;
    type Error = actix_web::Error;
    type Future =
        futures_util::future::LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    actix_web::dev::forward_ready!(inner);

    fn call(&self, req: actix_http::Request) -> Self::Future {
        let f = self.inner.call(req);
        Box::pin(async move { f.await.map(|r| r.map_into_boxed_body()) })
    }
}

/// The test service, with a request helper.
struct Api(Svc);

impl Api {
    /// `method path` as `who` (None: no credentials) with an optional JSON body; returns
    /// the status and the body as JSON (Null when empty).
    async fn call(
        &self,
        who: Option<&str>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.call_auth(who.map(basic), method, path, body).await
    }

    async fn call_auth(
        &self,
        auth: Option<String>,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = TestRequest::default()
            .method(method)
            .uri(path)
            .peer_addr("127.0.0.1:40000".parse().unwrap());
        if let Some(a) = auth {
            req = req.insert_header(("Authorization", a));
        }
        if let Some(b) = body {
            req = req.set_json(b);
        }
        let resp = test::call_service(&self.0, req.to_request()).await;
        let status = resp.status();
        let bytes = test::read_body(resp).await;
        let v = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{path}: not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, v)
    }

    async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (s, v) = self.call(Some(ROOT), method.clone(), path, body).await;
        assert!(s.is_success(), "{method} {path}: {s} {v}");
        v
    }
}

fn code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn domains_and_accounts_crud_with_statuses() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        // 401 without or with wrong credentials, 403 for a user.
        let (st, v) = api.call(None, Method::GET, "/api/v1/domains", None).await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
        assert_eq!(code(&v), "unauthorized");
        let (st, _) = api
            .call_auth(
                Some("Basic cm9vdEBleGFtcGxlLmNvbTp3cm9uZw==".into()),
                Method::GET,
                "/api/v1/domains",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED);
        let (st, v) = api
            .call(Some(BOB), Method::GET, "/api/v1/domains", None)
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");

        // Domains: create (201), duplicate (409), list, delete.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/domains",
                Some(json!({"name": "New.Test"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["name"], "new.test");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/domains",
                Some(json!({"name": "new.test"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        assert_eq!(code(&v), "conflict");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/domains",
                Some(json!({"nom": "x"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let list = api.ok(Method::GET, "/api/v1/domains", None).await;
        let names: Vec<&str> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["example.com", "example.org", "mx.example.com", "new.test"]
        );
        assert!(
            s.store().is_local_domain("new.test").unwrap(),
            "really stored"
        );

        // Accounts: create (201), duplicate (409), bad domain (422), get, patch, list.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"address": "Zed@new.test", "password": "pw one"})),
            )
            .await;
        assert_eq!(st, StatusCode::CREATED, "{v}");
        assert_eq!(v["address"], "zed@new.test");
        assert_eq!(v["admin"], false);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"address": "zed@new.test", "password": "x"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/accounts",
                Some(json!({"address": "a@nowhere.test", "password": "x"})),
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        // The domain still has an account: 409.
        let (st, v) = api
            .call(Some(ROOT), Method::DELETE, "/api/v1/domains/new.test", None)
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let v = api
            .ok(
                Method::PATCH,
                "/api/v1/accounts/zed@new.test",
                Some(json!({"password": "pw two"})),
            )
            .await;
        assert_eq!(v["address"], "zed@new.test");
        assert!(matches!(
            s.store().verify_password("zed@new.test", "pw two").unwrap(),
            ferrymail::storage::AuthOutcome::Ok(_)
        ));
        let page = api
            .ok(
                Method::GET,
                "/api/v1/accounts?domain=example.com&limit=2",
                None,
            )
            .await;
        assert_eq!(page["total"], 3, "{page}");
        assert_eq!(page["limit"], 2);
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let page = api
            .ok(Method::GET, "/api/v1/accounts?q=ZED&offset=0", None)
            .await;
        assert_eq!(page["total"], 1, "{page}");
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/accounts?limit=5000", None)
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        // Delete the account (204), then again (404), then the domain (204).
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/accounts/zed@new.test",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        assert!(s.store().get_account("zed@new.test").unwrap().is_none());
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                "/api/v1/accounts/zed@new.test",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
        assert_eq!(code(&v), "not_found");
        let (st, _) = api
            .call(Some(ROOT), Method::DELETE, "/api/v1/domains/new.test", None)
            .await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/domains/new.test", None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    });
}

#[test]
fn account_patch_admin_flag_disabled_and_quota() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let carol = "/api/v1/accounts/carol@example.org";
        // The admin flag: a full admin grants it, a domain admin is refused (403).
        let v = api
            .ok(Method::PATCH, carol, Some(json!({"admin": true})))
            .await;
        assert_eq!(v["admin"], true, "{v}");
        assert!(
            s.store()
                .get_account("carol@example.org")
                .unwrap()
                .unwrap()
                .admin
        );
        let (st, v) = api
            .call(
                Some(DOM),
                Method::PATCH,
                carol,
                Some(json!({"admin": false})),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN, "{v}");
        assert!(
            s.store()
                .get_account("carol@example.org")
                .unwrap()
                .unwrap()
                .admin
        );
        let v = api
            .ok(Method::PATCH, carol, Some(json!({"admin": false})))
            .await;
        assert_eq!(v["admin"], false, "{v}");

        // Disabled: shown back, then Basic auth as that account is refused (401), until
        // it is enabled again. A domain admin may disable an account of their domain.
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::PATCH,
                &format!("/api/v1/accounts/{DOM}"),
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["disabled"], true, "{v}");
        let (st, v) = api
            .call(Some(DOM), Method::GET, "/api/v1/accounts", None)
            .await;
        assert_eq!(st, StatusCode::UNAUTHORIZED, "{v}");
        let list = api.ok(Method::GET, "/api/v1/accounts?q=dom@", None).await;
        assert_eq!(list["items"][0]["disabled"], true, "{list}");
        api.ok(
            Method::PATCH,
            &format!("/api/v1/accounts/{DOM}"),
            Some(json!({"disabled": false})),
        )
        .await;
        let (st, v) = api
            .call(
                Some(DOM),
                Method::PATCH,
                carol,
                Some(json!({"disabled": true})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["disabled"], true);
        assert!(
            s.store()
                .get_account("carol@example.org")
                .unwrap()
                .unwrap()
                .disabled
        );

        // Quota: set both, then lift one (null) while the other is kept (absent).
        let v = api
            .ok(
                Method::PATCH,
                "/api/v1/accounts/bob@example.com",
                Some(json!({"quota": {"storage": 1048576, "messages": 10}})),
            )
            .await;
        assert_eq!(v["quota"]["storage_limit"], 1048576, "{v}");
        assert_eq!(v["quota"]["messages_limit"], 10, "{v}");
        let v = api
            .ok(
                Method::PATCH,
                "/api/v1/accounts/bob@example.com",
                Some(json!({"quota": {"messages": null}})),
            )
            .await;
        assert_eq!(v["quota"]["storage_limit"], 1048576, "{v}");
        assert_eq!(v["quota"]["messages_limit"], Value::Null, "{v}");
        let q = s.store().quota("bob@example.com").unwrap();
        assert_eq!((q.storage_limit, q.messages_limit), (Some(1048576), None));
        let v = api
            .ok(Method::GET, "/api/v1/accounts/bob@example.com", None)
            .await;
        assert_eq!(v["quota"]["storage_limit"], 1048576, "{v}");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::PATCH,
                "/api/v1/accounts/bob@example.com",
                Some(json!({"quota": {"bytes": 1}})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        // Not on one's own account: 409, and nothing changed.
        let me = format!("/api/v1/accounts/{ROOT}");
        for body in [json!({"disabled": true}), json!({"admin": false})] {
            let (st, v) = api.call(Some(ROOT), Method::PATCH, &me, Some(body)).await;
            assert_eq!(st, StatusCode::CONFLICT, "{v}");
        }
        let root = s.store().get_account(ROOT).unwrap().unwrap();
        assert!(root.admin && !root.disabled);
    });
}

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

/// Submits a message from bob to a remote address: with the test server's failing name
/// server it ends up deferred.
fn deferred_record(s: &TestServer) -> u64 {
    let before = s.queue_depth(QueueName::Deferred);
    let mut c = Client::connect(s.addr("submission"));
    c.cmd("EHLO client.example.net");
    assert!(c.auth_plain(BOB, PASSWORD).starts_with("235"));
    assert!(c.cmd("MAIL FROM:<bob@example.com>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<carol@remote.test>").starts_with("250"));
    let r = c.data(
        "From: bob@example.com\r\nTo: carol@remote.test\r\nSubject: api test\r\n\r\nHello.\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
    for _ in 0..600 {
        if s.queue_depth(QueueName::Deferred) > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let recs = s.store().queue_list(QueueName::Deferred).unwrap();
    assert!(recs.len() > before, "the message was deferred");
    recs.last().unwrap().id
}

#[test]
fn queues_list_show_and_change() {
    let s = server();
    let id = deferred_record(&s);
    let hex = format!("{id:016X}");
    let ctx = s.handle().ctx.clone();
    let h = hex.clone();
    with_api(ctx, |api| async move {
        let hex = h;
        let v = api.ok(Method::GET, "/api/v1/queues", None).await;
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 6);
        let deferred = items.iter().find(|q| q["name"] == "deferred").unwrap();
        assert_eq!(deferred["count"], 1);

        let v = api
            .ok(Method::GET, "/api/v1/queues/deferred?limit=10", None)
            .await;
        assert_eq!(v["total"], 1);
        let item = &v["items"][0];
        assert_eq!(item["id"], hex);
        assert_eq!(item["from"], BOB);
        assert_eq!(item["recipients"][0]["address"], "carol@remote.test");
        assert!(item["attempts"].as_u64().unwrap() >= 1, "{item}");
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/queues/nope", None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        let v = api
            .ok(Method::GET, &format!("/api/v1/queues/deferred/{hex}"), None)
            .await;
        assert!(
            v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "Subject" && h["value"] == "api test"),
            "{v}"
        );
        assert_eq!(v["authenticated"], BOB);
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/queues/remote/00000000000000FF",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Move to bad, then bulk: an unknown id is reported, the real one moves back.
        let v = api
            .ok(
                Method::POST,
                &format!("/api/v1/queues/deferred/{hex}/move"),
                Some(json!({"to": "bad"})),
            )
            .await;
        assert_eq!(v["queue"], "bad", "{v}");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                &format!("/api/v1/queues/bad/{hex}/move"),
                Some(json!({"to": "bad"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let v = api
            .ok(
                Method::POST,
                "/api/v1/queues/bad/bulk",
                Some(json!({"action": "move", "to": "deferred", "ids": [hex, "00000000000000FF"]})),
            )
            .await;
        assert_eq!(v["done"], 1, "{v}");
        assert_eq!(v["failed"], 1);
        assert_eq!(v["items"][1]["status"], 404);
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/queues/deferred/bulk",
                Some(json!({"action": "explode", "ids": []})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                &format!("/api/v1/queues/deferred/{hex}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["queue"], Value::Null, "gone");
    });
    assert!(s.store().queue_find(id).unwrap().is_none());

    // Retry of a deferred record: routed again at once, under a new id, which the answer
    // gives with its queue (remote: carol@remote.test).
    let id = deferred_record(&s);
    let hex = format!("{id:016X}");
    let attempts = s.store().queue_find(id).unwrap().unwrap().attempts;
    let v = with_api(s.handle().ctx.clone(), |api| async move {
        api.ok(
            Method::POST,
            &format!("/api/v1/queues/deferred/{hex}/retry"),
            None,
        )
        .await
    });
    assert_eq!(v["from"], "deferred", "{v}");
    assert_eq!(v["queue"], "remote", "{v}");
    let new_hex = v["id"].as_str().expect("id").to_string();
    let new = u64::from_str_radix(&new_hex, 16).expect("hexadecimal id");
    assert_ne!(new, id, "routing gives a new id");
    assert_eq!(
        v["records"],
        json!([{"id": new_hex, "queue": "remote"}]),
        "{v}"
    );
    assert!(
        v["output"].as_str().unwrap().contains(&format!(
            "retried from deferred, another attempt now: {new_hex} in remote"
        )),
        "{v}"
    );
    assert!(s.store().queue_find(id).unwrap().is_none(), "replaced");
    // The attempt is made at once: the new record is tried (it comes back to deferred
    // with one more attempt, under the same id), or settles for good.
    let mut moved_on = false;
    for _ in 0..600 {
        moved_on = s
            .store()
            .queue_find(new)
            .unwrap()
            .is_none_or(|r| r.queue == QueueName::Deferred && r.attempts > attempts);
        if moved_on {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(moved_on, "another attempt was made");

    // The bulk retry reports each id's new place the same way.
    let back = s.store().queue_find(new).unwrap();
    assert!(
        back.is_some_and(|r| r.queue == QueueName::Deferred),
        "back in deferred: remote.test does not resolve"
    );
    let v = with_api(s.handle().ctx.clone(), |api| async move {
        api.ok(
            Method::POST,
            "/api/v1/queues/deferred/bulk",
            Some(json!({"action": "retry", "ids": [new_hex]})),
        )
        .await
    });
    assert_eq!(v["done"], 1, "{v}");
    let item = &v["items"][0];
    assert_eq!(item["status"], 200, "{v}");
    let now = &item["records"][0];
    assert_eq!(now["queue"], "remote", "{v}");
    let again = u64::from_str_radix(now["id"].as_str().unwrap(), 16).unwrap();
    assert_ne!(again, new, "{v}");
    assert!(s.store().queue_find(new).unwrap().is_none());
}

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

#[test]
fn status_settings_screening_sources_logs_and_the_openapi_document() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let v = api.ok(Method::GET, "/api/v1/status", None).await;
        assert_eq!(v["status"], "ok");
        assert_eq!(v["queues"].as_object().unwrap().len(), 6);
        let v = api.ok(Method::GET, "/api/v1/cluster", None).await;
        assert!(v["nodes"].is_array());
        let v = api.ok(Method::GET, "/api/v1/settings", None).await;
        assert_eq!(v["hostname"], "mx.example.com");
        assert_eq!(v["file"]["smtp"]["max_recipients"], 100, "{v}");
        let v = api.ok(Method::POST, "/api/v1/settings/reload", None).await;
        assert!(v["output"].as_str().unwrap().starts_with("reloaded"), "{v}");

        let v = api
            .ok(
                Method::POST,
                "/api/v1/screening",
                Some(json!({"action": "ban", "address": "192.0.2.7", "for": "1h"})),
            )
            .await;
        assert!(
            v["bans"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["address"] == "192.0.2.7"),
            "{v}"
        );
        let v = api
            .ok(
                Method::POST,
                "/api/v1/screening",
                Some(json!({"action": "deny", "address": "198.51.100.0/24"})),
            )
            .await;
        assert_eq!(v["deny"], json!(["198.51.100.0/24"]), "{v}");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/screening",
                Some(json!({"action": "ban", "address": "not-an-ip"})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        let v = api.ok(Method::GET, "/api/v1/sources", None).await;
        assert_eq!(v["items"], json!([]));
        let (st, _) = api
            .call(Some(ROOT), Method::POST, "/api/v1/sources/99/run", None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Logs: a line logged in a session span shows with its service and session.
        let tail = ferrymail::http::logtail::global();
        tail.push(ferrymail::http::logtail::LogLine {
            seq: 0,
            time_ms: 1,
            level: "WARN".into(),
            target: "ferrymail::actors::smtp_session".into(),
            service: "smtp".into(),
            session: Some("APITEST1".into()),
            message: "a line for the API test".into(),
        });
        let v = api
            .ok(
                Method::GET,
                "/api/v1/logs?session=APITEST1&level=warn",
                None,
            )
            .await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v["items"][0]["service"], "smtp");
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/logs?level=loud", None)
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);

        let (st, doc) = api
            .call(None, Method::GET, "/api/v1/openapi.json", None)
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for p in [
            "/api/v1/domains",
            "/api/v1/accounts",
            "/api/v1/queues",
            "/api/v1/queues/{queue}/{id}/retry",
        ] {
            assert!(doc["paths"][p].is_object(), "{p} is documented");
        }
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        // Every operation documents the error answers with the error schema.
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for code in ["401", "403", "404", "422"] {
                    let r = &op["responses"][code]["content"]["application/json"]["schema"]
                        ["properties"]["error"]["$ref"];
                    assert_eq!(
                        r, "#/components/schemas/ErrorInner",
                        "{method} {path} {code}"
                    );
                }
                // A 429 says when to try again.
                assert!(
                    op["responses"]["429"]["headers"]["Retry-After"].is_object(),
                    "{method} {path} 429"
                );
            }
        }
        // A change answers where the record is now: `records` of `{id, queue}`.
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["ChangeResult"]["properties"]["records"]["items"]["$ref"],
            "#/components/schemas/Location",
            "{}",
            schemas["ChangeResult"]
        );
        assert!(schemas["Location"]["properties"]["queue"].is_object());
        assert!(schemas["BulkItem"]["properties"]["records"].is_object());
        // An actual error has that shape.
        let (_, v) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/accounts/none@example.com",
                None,
            )
            .await;
        let e: ferrymail::http::api::ErrorBody = serde_json::from_value(v).unwrap();
        assert_eq!(e.error.code, "not_found");
    });
}

/// The live stream: a line pushed after the stream opened arrives as an SSE event.
#[test]
fn the_log_stream_sends_new_lines_as_server_sent_events() {
    let s = server();
    with_api(s.handle().ctx.clone(), |api| async move {
        let req = TestRequest::get()
            .uri("/api/v1/logs/stream?session=STREAM1")
            .insert_header(("Authorization", basic(ROOT)))
            .peer_addr("127.0.0.1:40000".parse().unwrap())
            .to_request();
        let resp = test::call_service(&api.0, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        let mut body = resp.into_body();
        use actix_web::body::MessageBody;
        let mut got = String::new();
        let tail = ferrymail::http::logtail::global();
        for i in 0..20 {
            tail.push(ferrymail::http::logtail::LogLine {
                seq: 0,
                time_ms: i,
                level: "INFO".into(),
                target: "t".into(),
                service: "imap".into(),
                session: Some(if i % 2 == 0 { "STREAM1" } else { "OTHER" }.into()),
                message: format!("line {i}"),
            });
            let chunk =
                std::future::poll_fn(|cx| std::pin::Pin::new(&mut body).poll_next(cx)).await;
            got.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap()));
            if got.contains("line 2\"") {
                break;
            }
        }
        assert!(got.contains(": stream open"), "{got}");
        assert!(got.contains("event: log\ndata: {"), "{got}");
        assert!(got.contains("\"message\":\"line 0\""), "{got}");
        assert!(!got.contains("line 1\""), "filtered by session: {got}");
    });
}

// ---------------------------------------------------------------- end to end

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
