//! A real Ferrymail server started in the test's own process on 127.0.0.1, port 0, with the
//! domain example.com and the accounts [`USERS`] (password [`PASSWORD`]): what the tests of
//! `bench imap`, `bench pop3` and `bench relay` load.

use std::future::Future;
use std::time::Duration;

use ferrymail::config::Config;
use ferrymail::server::{ServerHandle, StartOptions};

use crate::options::Credentials;

pub const PASSWORD: &str = "bench pass";
pub const USERS: [&str; 2] = ["bob@example.com", "alice@example.com"];

/// Stopped when dropped, so a failing test leaves no server behind.
pub struct TestServer {
    handle: Option<ServerHandle>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Starts a server whose config is `sections` (whole TOML sections, `[listeners]` first)
    /// after the hostname and a temporary data directory, and adds the accounts.
    pub fn start(sections: &str) -> TestServer {
        ferrymail::storage::set_fast_password_hashing_for_tests(true);
        let dir = tempfile::tempdir().expect("tempdir");
        let text = format!(
            "hostname = \"mx.example.com\"\ndata_dir = \"{}\"\n{sections}\n[log]\nlevel = \"warn\"\n",
            dir.path().join("data").display()
        );
        let config = Config::parse(&text, dir.path(), None).expect("config parses");
        let handle =
            ferrymail::server::start(config, StartOptions::default()).expect("server starts");
        let store = handle.ctx.store.clone();
        store.add_domain("example.com").expect("domain");
        for user in USERS {
            store.add_account(user, PASSWORD, false).expect("account");
        }
        store.commit().expect("commit");
        TestServer {
            handle: Some(handle),
            _dir: dir,
        }
    }

    pub fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("running")
    }

    /// The `ip:port` the listener `service` (a `[listeners]` name) is bound to.
    pub fn addr(&self, service: &str) -> String {
        self.handle().addr(service).to_string()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop();
        }
    }
}

/// [`USERS`] with [`PASSWORD`], as a tool's `--users` list.
pub fn accounts() -> Vec<Credentials> {
    USERS
        .iter()
        .map(|u| Credentials {
            user: u.to_string(),
            pass: PASSWORD.into(),
        })
        .collect()
}

/// Runs a load to its report on a runtime of its own, failing the test when it does not
/// start or has not finished within a minute.
pub fn run_bounded<R>(load: impl Future<Output = Result<R, String>>) -> R {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(60), load)
            .await
            .expect("run finishes in time")
            .expect("run starts")
    })
}
