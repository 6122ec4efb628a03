//! A real `ferrymail serve` for the DAV tests (tests/dav.rs, tests/caldav.rs): a config on
//! 127.0.0.1 port 0, accounts bob@ and eve@example.com, and the loud skip of a missing
//! external tool.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::proc::{cli, Running};

pub const PASSWORD: &str = "dav pass 1";

pub fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n\
             http = \"127.0.0.1:0\"\n[server]\nshutdown_grace = 5\n[auth]\nverify = false\n{extra}{}",
            super::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

/// A server with accounts bob@ and eve@example.com (both with [`PASSWORD`]).
pub fn server(extra: &str) -> (tempfile::TempDir, PathBuf, Running, SocketAddr) {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), extra);
    let server = Running::start(&config);
    let http = server.addr("http");
    let (ok, out) = cli(&config, &["domain", "add", "example.com"]);
    assert!(ok, "{out}");
    for who in ["bob@example.com", "eve@example.com"] {
        let (ok, out) = cli(&config, &["account", "add", who, "--password", PASSWORD]);
        assert!(ok, "{out}");
    }
    (dir, config, server, http)
}

/// Whether `tool` runs; otherwise a loud SKIP, or a failure when `require` is set.
pub fn have(tool: &str, require: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var(require).is_err(),
            "{tool} is not installed and {require} is set"
        );
        eprintln!("SKIP: {tool} is not installed (set {require}=1 to make this a failure)");
    }
    found
}

/// One request as `who` (with [`PASSWORD`]).
pub fn as_user(
    who: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> super::http::Response {
    let auth = super::http::basic(who, PASSWORD);
    let mut all = vec![("Authorization", auth.as_str())];
    all.extend_from_slice(headers);
    super::http::request(addr, false, method, path, &all, body)
}

/// A content line folded at 75 octets (RFC 5545 §3.1, RFC 6350 §3.2), CRLF-terminated.
/// The line is ASCII (fixtures only).
pub fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 37 + 2);
    let mut rest = line;
    let mut width = 75;
    loop {
        let (head, tail) = rest.split_at(width.min(rest.len()));
        if width == 74 {
            out.push(' ');
        }
        out.push_str(head);
        out.push_str("\r\n");
        if tail.is_empty() {
            return out;
        }
        rest = tail;
        width = 74;
    }
}
