//! The real binary for the API's end-to-end tests (`tests/api.rs`,
//! `tests/api_schemathesis.rs`).

// Each test binary uses part of it.
#![allow(dead_code)]

use serde_json::Value;

use crate::common;

/// The real binary with admin over HTTPS, submission on loopback with plain-text AUTH, and
/// a name server that fails every lookup (so remote mail is deferred); with the
/// postmaster's address and password printed at first start.
pub struct Binary {
    pub server: common::proc::Running,
    pub admin: std::net::SocketAddr,
    pub login: String,
    pub password: String,
    _dns: common::dns::TestDns,
    _dir: tempfile::TempDir,
}

pub fn start() -> Binary {
    start_with("")
}

/// [`start`] with `extra` sections at the end of the configuration.
pub fn start_with(extra: &str) -> Binary {
    let dir = tempfile::tempdir().unwrap();
    let dns = common::dns::TestDns::failing();
    let path = dir.path().join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n\
             submission = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\
             [smtp]\nallow_plaintext_auth = true\n\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n{}{}{extra}",
            dns.config(),
            common::storage_section(&dir.path().join("data"), "node-a")
        ),
    )
    .unwrap();
    let server = common::proc::Running::start(&path);
    let (login, password) = server
        .lines
        .iter()
        .find_map(|l| {
            let rest = l.split("created admin account ").nth(1)?;
            let mut w = rest.split_whitespace();
            let login = w.next()?.to_string();
            let password = rest
                .split(" with password ")
                .nth(1)?
                .split_whitespace()
                .next()?;
            Some((login, password.to_string()))
        })
        .unwrap_or_else(|| panic!("no first-start line in {:?}", server.lines));
    let admin = server.addr("admin");
    Binary {
        server,
        admin,
        login,
        password,
        _dns: dns,
        _dir: dir,
    }
}

impl Binary {
    /// `method path` over HTTPS as the postmaster; (status, JSON or Null).
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let auth = common::http::basic(&self.login, &self.password);
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers = vec![("Authorization", auth.as_str())];
        if !body.is_empty() {
            headers.push(("Content-Type", "application/json"));
        }
        let r = common::http::request(self.admin, true, method, path, &headers, body.as_bytes());
        let v = if r.body.is_empty() {
            Value::Null
        } else {
            r.json()
        };
        (r.status, v)
    }
}
