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
#[path = "api/directory.rs"]
mod directory;
#[path = "api/end_to_end.rs"]
mod end_to_end;
#[path = "api/queue_views.rs"]
mod queue_views;
#[path = "api/queues.rs"]
mod queues;
#[path = "api/rights.rs"]
mod rights;

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
        assert_eq!(v["effective"]["smtp"]["max_recipients"], 100, "{v}");
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
