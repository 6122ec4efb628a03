//! A real Ferrymail server started in the test's own process on 127.0.0.1, port 0, with the
//! domain example.com and the accounts [`USERS`] (password [`PASSWORD`]): what the tests of
//! `bench imap`, `bench pop3` and `bench relay` load.

use ferrymail::config::Config;
use ferrymail::server::{ServerHandle, StartOptions};

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
