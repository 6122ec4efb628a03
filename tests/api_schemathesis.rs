//! The OpenAPI document exercised by schemathesis (PyPI `schemathesis`, `.ci/run` installs
//! it) against the real binary's admin listener over HTTPS, as the postmaster (HTTP
//! Basic), with every check: no 5xx, every answer documented and matching its schema,
//! invalid input refused, and the rest of `--checks all` (valid data may be answered 422 for what no
//! schema can say, e.g. an alias that points to itself: `tests/api/schemathesis.toml`). Deterministic (seed, derandomised generation) and bounded
//! by `--max-examples`, so every machine sends the same requests.
//!
//! Left out: `POST /api/v1/command` (a generated console line could be `shutdown`),
//! `GET /api/v1/logs/stream` (an endless event stream), `POST /api/v1/settings/reload`
//! and `POST /api/v1/screening` (a generated ban could shut the test's own address out);
//! `GET /api/v1/screening` is run like every other operation. They are tested in
//! `tests/api.rs`.
//!
//! Without the `schemathesis` command this test prints SKIPPED loudly and passes, unless
//! `FERRYMAIL_REQUIRE_SCHEMATHESIS` is set (`.ci/run` sets it), then it fails.

#[path = "api/binary.rs"]
mod binary;
mod common;

use std::process::Command;

/// The command, if installed.
fn schemathesis() -> Option<&'static str> {
    ["schemathesis", "st"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn the_openapi_document_holds_under_schemathesis() {
    // The contract is the HTTP layer's, the same on either storage backend: CI runs it in
    // the embedded run and leaves it out of the PostgreSQL one (tests/api.rs runs there).
    if std::env::var("FERRYMAIL_TEST_BACKEND").is_ok_and(|b| b == "postgres") {
        eprintln!("SKIPPED on the postgres backend: the API contract is checked in the sled run");
        return;
    }
    let Some(cmd) = schemathesis() else {
        assert!(
            std::env::var_os("FERRYMAIL_REQUIRE_SCHEMATHESIS").is_none(),
            "schemathesis is required here but not installed (pip install schemathesis)"
        );
        eprintln!("SKIPPED: schemathesis is not installed (pip install schemathesis)");
        return;
    };
    // Its `ignored_auth` check sends wrong credentials on purpose: the per-address login
    // limit would then answer 429 to everything that follows.
    let b = binary::start_with("\n[http]\nlogin_failures = 1000000\n");
    // An API key rather than the postmaster's password: the run changes that password
    // (PATCH /api/v1/accounts/{address} is under test too), which would leave every later
    // request a 401. The API refuses to revoke the key a request comes with.
    let (status, created) = b.call(
        "POST",
        "/api/v1/apikeys",
        Some(serde_json::json!({"name": "schemathesis", "scope": "all"})),
    );
    assert_eq!(status, 201, "{created}");
    let key = created["key"].as_str().expect("a key").to_string();
    let url = format!("https://{}/api/v1/openapi.json", b.admin);
    let report = tempfile::tempdir().unwrap();
    let config =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/schemathesis.toml");
    let out = Command::new(cmd)
        .arg("--no-color")
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(&url)
        .args(["--checks", "all"])
        .args(["--tls-verify", "false"])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        // The same requests on every machine: a fixed seed, derandomised generation and a
        // count (not a time) bounding each operation, so a failure here is one anybody can
        // replay. `--max-time` is only the backstop for a machine far slower than usual.
        .args(["--max-examples", "6"])
        .args(["--max-time", "600"])
        .args(["--generation-deterministic"])
        .args(["--workers", "1"])
        .args(["--seed", "13"])
        .args(["--request-timeout", "30"])
        .args(["--exclude-path", "/api/v1/command"])
        .args(["--exclude-path", "/api/v1/logs/stream"])
        .args(["--exclude-path", "/api/v1/settings/reload"])
        // Only the change: the list (`GET`) is exercised like the rest.
        .args(["--exclude-name", "POST /api/v1/screening"])
        .current_dir(report.path())
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    // The server is still there and answering.
    let r = common::http::get(b.admin, true, "/health");
    assert_eq!(r.status, 200, "{}", r.text());
}
