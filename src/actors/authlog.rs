//! The auth-failure log: every failed login on any protocol, one line each, in
//! `data/logs/auth-failures.log` (always on: it is what an admin greps after an attack)
//! and as a `tracing` warning.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Mutex;

use super::supervisor::lock;
use crate::clock::{iso8601, unix_now};

#[derive(Debug)]
pub struct AuthFailureLog {
    file: Mutex<Option<File>>,
}

impl AuthFailureLog {
    /// Opens (appending) `logs/auth-failures.log` under the data directory.
    pub fn open(data_dir: &Path) -> std::io::Result<AuthFailureLog> {
        let dir = data_dir.join("logs");
        std::fs::create_dir_all(&dir)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("auth-failures.log"))?;
        Ok(AuthFailureLog {
            file: Mutex::new(Some(file)),
        })
    }

    /// Records one failure. `account` is the account the login matched, if any.
    /// The password is never passed here.
    pub fn record(
        &self,
        protocol: &str,
        session: &str,
        ip: IpAddr,
        login: &str,
        account: Option<&str>,
    ) {
        let login = sanitize(login);
        let account = account.map(sanitize);
        tracing::warn!(
            target: "auth_failures",
            protocol,
            session,
            %ip,
            login = %login,
            account = account.as_deref().unwrap_or("none"),
            "authentication failed"
        );
        let line = format!(
            "{} protocol={} session={} ip={} login={:?} account={}\n",
            iso8601(unix_now()),
            protocol,
            session,
            ip,
            login,
            account.as_deref().unwrap_or("none")
        );
        if let Some(f) = lock(&self.file).as_mut() {
            if let Err(e) = f.write_all(line.as_bytes()) {
                tracing::error!("cannot write the auth-failure log: {e}");
            }
        }
    }
}

/// Logins come from the network: keep the log one line per record.
fn sanitize(s: &str) -> String {
    s.chars()
        .take(256)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_one_line_per_failure_without_control_chars() {
        let dir = tempfile::tempdir().unwrap();
        let log = AuthFailureLog::open(dir.path()).unwrap();
        log.record("smtp", "S1", "127.0.0.1".parse().unwrap(), "bob\r\nx", None);
        log.record(
            "smtp",
            "S2",
            "127.0.0.1".parse().unwrap(),
            "alice@example.com",
            Some("alice@example.com"),
        );
        let text = std::fs::read_to_string(dir.path().join("logs/auth-failures.log")).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0]
            .contains("protocol=smtp session=S1 ip=127.0.0.1 login=\"bob??x\" account=none"));
        assert!(lines[1].contains("account=alice@example.com"));
    }
}
