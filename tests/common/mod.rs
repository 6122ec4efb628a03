//! Test harness: a real server on 127.0.0.1 port 0 in this process, a tiny SMTP client,
//! and helpers to look at what was delivered.
#![allow(dead_code)]

pub mod ca;
pub mod dav;
pub mod dns;
pub mod fetch;
pub mod http;
pub mod https;
pub mod proc;
pub mod sink;
pub mod tls_imap;
pub mod web;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrymail::config::Config;
use ferrymail::server::{ServerHandle, StartOptions};
use ferrymail::storage::{FolderWriter, QueueName, QueueWriter, Store};

pub const DOMAIN: &str = "example.com";
pub const PASSWORD: &str = "correct horse";

/// The config every test starts from; `smtp_extra` lines go into `[smtp]`. Mail checks
/// are off: with them on, the system resolver would be asked (tests use only loopback; see
/// [`config_text_with`] and `dns::TestDns` for tests of the checks).
pub fn config_text(data_dir: &Path, smtp_extra: &str) -> String {
    config_text_with(data_dir, smtp_extra, "[auth]\nverify = false\n")
}

/// The backend the end-to-end tests run on: the embedded one, unless
/// `FERRYMAIL_TEST_BACKEND=postgres` (then `FERRYMAIL_TEST_PG_URL` names the database; `.ci/run`
/// runs the suite both ways).
pub fn on_postgres() -> bool {
    std::env::var("FERRYMAIL_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// The `[storage]` section for a server on `data_dir`: empty on the embedded backend; on
/// PostgreSQL a schema of its own (named after the data directory) in the test database, so
/// that tests never share tables, and node name `node`.
pub fn storage_section(data_dir: &Path, node: &str) -> String {
    if !on_postgres() {
        return String::new();
    }
    let url = std::env::var(ferrymail::storage::pg_testing::URL_VAR)
        .expect("FERRYMAIL_TEST_BACKEND=postgres needs FERRYMAIL_TEST_PG_URL");
    format!(
        "\n[storage]\nbackend = \"postgres\"\nurl = \"{url}\"\nschema = \"{}\"\nnode = \"{node}\"\n",
        ferrymail::storage::pg_testing::schema_for(data_dir)
    )
}

/// Opens the store of a stopped server on `data_dir` with the backend the tests run on
/// (see [`on_postgres`]).
pub fn open_store(data_dir: &Path) -> Store {
    if on_postgres() {
        let url = std::env::var(ferrymail::storage::pg_testing::URL_VAR)
            .expect("FERRYMAIL_TEST_BACKEND=postgres needs FERRYMAIL_TEST_PG_URL");
        let cfg = ferrymail::storage::pg_testing::config(
            &url,
            &ferrymail::storage::pg_testing::schema_for(data_dir),
            "test-reader",
        );
        Store::open_postgres(data_dir, None, &cfg)
            .expect("open the PostgreSQL store")
            .0
    } else {
        Store::open(data_dir).expect("open the store").0
    }
}

/// As [`config_text`], with `tail` (whole sections, e.g. `[dns]` and `[auth]`) at the end.
pub fn config_text_with(data_dir: &Path, smtp_extra: &str, tail: &str) -> String {
    let storage = storage_section(data_dir, "node-a");
    format!(
        r#"
hostname = "mx.example.com"
data_dir = "{}"
[listeners]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
smtps = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = "127.0.0.1:0"
http = "127.0.0.1:0"
https = "127.0.0.1:0"
admin = "127.0.0.1:0"
[smtp]
max_message_size = 100000
max_recipients = 100
{smtp_extra}
[imap]
allow_plaintext_login = true
append_limit = 1000000
[pop3]
allow_plaintext_login = true
[queue]
local_retry_interval = 1
deferred_check_interval = 3600
[server]
shutdown_grace = 5
{tail}
{storage}
"#,
        data_dir.display()
    )
}

pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub dir: tempfile::TempDir,
    pub config: Config,
    pub clock: Option<std::sync::Arc<ferrymail::clock::ManualClock>>,
    /// The name server of a test that configured none: it fails every lookup at once
    /// (SERVFAIL), so remote mail defers and no test ever asks a real name server.
    pub dns: Option<dns::TestDns>,
}

impl TestServer {
    pub fn start() -> TestServer {
        TestServer::start_with("")
    }

    /// Starts a server with extra `[smtp]` lines, domain example.com and the accounts
    /// bob@, alice@ (password `PASSWORD`) and an alias team@ -> bob@, alice@.
    pub fn start_with(smtp_extra: &str) -> TestServer {
        TestServer::start_opts(smtp_extra, None)
    }

    /// As `start_with`, on a clock that moves only when the test moves it.
    pub fn start_opts(
        smtp_extra: &str,
        clock: Option<std::sync::Arc<ferrymail::clock::ManualClock>>,
    ) -> TestServer {
        TestServer::start_full(smtp_extra, "[auth]\nverify = false\n", clock)
    }

    /// As `start_opts`, with `tail` sections at the end of the config (see
    /// [`config_text_with`]).
    pub fn start_full(
        smtp_extra: &str,
        tail: &str,
        clock: Option<std::sync::Arc<ferrymail::clock::ManualClock>>,
    ) -> TestServer {
        TestServer::start_edited(smtp_extra, tail, clock, |text| text)
    }

    /// As `start_full`, with the config text passed through `edit` first (to change a
    /// value the common config sets, e.g. `[imap] append_limit`).
    pub fn start_edited(
        smtp_extra: &str,
        tail: &str,
        clock: Option<std::sync::Arc<ferrymail::clock::ManualClock>>,
        edit: impl FnOnce(String) -> String,
    ) -> TestServer {
        ferrymail::storage::set_fast_password_hashing_for_tests(true);
        let dir = tempfile::tempdir().expect("tempdir");
        let (dns, sections) = if tail.contains("[dns]") {
            (None, tail.to_string())
        } else {
            let d = dns::TestDns::failing();
            let s = format!("{}{tail}", d.config());
            (Some(d), s)
        };
        let text = edit(config_text_with(
            &dir.path().join("data"),
            smtp_extra,
            &sections,
        ));
        // A real file, so that the console's `reload` can read it again.
        let path = dir.path().join("ferrymail.toml");
        std::fs::write(&path, text).expect("write config");
        let config = Config::load(Some(&path)).expect("test config parses");
        let mut server = TestServer {
            handle: None,
            dir,
            config,
            clock,
            dns,
        };
        server.boot();
        let store = server.store();
        if !store.is_local_domain(DOMAIN).unwrap() {
            store.add_domain(DOMAIN).unwrap();
            store
                .add_account("bob@example.com", PASSWORD, false)
                .unwrap();
            store
                .add_account("alice@example.com", PASSWORD, false)
                .unwrap();
            store
                .add_alias("team@example.com", "bob@example.com")
                .unwrap();
            store
                .add_alias("team@example.com", "alice@example.com")
                .unwrap();
            store.commit().unwrap();
        }
        server
    }

    pub fn boot(&mut self) {
        let mut options = StartOptions::default();
        if let Some(c) = &self.clock {
            options.clock = c.clone();
        }
        let handle = ferrymail::server::start(self.config.clone(), options).expect("server starts");
        self.handle = Some(handle);
    }

    /// Graceful stop, then start again on the same data directory (new ports).
    pub fn restart(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop();
        }
        self.boot();
    }

    pub fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("server running")
    }

    pub fn addr(&self, service: &str) -> SocketAddr {
        self.handle().addr(service)
    }

    pub fn store(&self) -> Store {
        self.handle().ctx.store.clone()
    }

    /// The test door to the folder and queue writes (`ServerContext::writers_for_tests`),
    /// for tests that seed messages or queue records directly. Drop them with the store
    /// before a restart (they share its backend).
    pub fn writers(&self) -> (FolderWriter, QueueWriter) {
        let (folders, queues) = self.handle().ctx.writers_for_tests();
        (folders.clone(), queues.clone())
    }

    /// Runs one console command through the control socket.
    pub fn console(&self, line: &str) -> (bool, String) {
        let sock = ferrymail::admin::socket::socket_path(&self.data_dir());
        let r = ferrymail::admin::control::client_request(&sock, line, Duration::from_secs(30))
            .expect("console socket answers");
        (r.ok, r.output)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("ferrymail.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// The bodies in `account`'s INBOX, in UID order.
    pub fn inbox(&self, account: &str) -> Vec<Vec<u8>> {
        inbox_of(&self.store(), account)
    }

    /// Waits (bounded) until `account`'s INBOX holds at least `n` messages.
    pub fn wait_inbox(&self, account: &str, n: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.inbox(account);
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn queue_depth(&self, q: QueueName) -> usize {
        self.store().queue_depth(q).unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.stop();
        }
    }
}

pub fn inbox_of(store: &Store, account: &str) -> Vec<Vec<u8>> {
    let Some(folder) = store.folder_id(account, "INBOX").unwrap() else {
        return Vec::new();
    };
    store
        .list_messages(folder)
        .unwrap()
        .iter()
        .map(|m| store.blobs().get(&m.blob).unwrap())
        .collect()
}

/// Strips the Received header(s) we add in front of a stored message.
pub fn without_trace(stored: &[u8]) -> &[u8] {
    let mut rest = stored;
    while rest.starts_with(b"Received:") {
        // A header ends at a CRLF not followed by folding whitespace.
        let mut i = 0;
        loop {
            let Some(p) = rest[i..].windows(2).position(|w| w == b"\r\n") else {
                return rest;
            };
            i += p + 2;
            if !matches!(rest.get(i), Some(b' ') | Some(b'\t')) {
                break;
            }
        }
        rest = &rest[i..];
    }
    rest
}

/// A minimal blocking SMTP client for tests: send raw lines, read whole replies.
pub struct Client {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    pub greeting: String,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut c = Client {
            stream,
            reader,
            greeting: String::new(),
        };
        c.greeting = c.reply();
        c
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// One complete reply (all its lines), as text with CRLFs.
    pub fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return all,
                Ok(_) => {}
            }
            all.push_str(&line);
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return all;
            }
        }
    }

    pub fn cmd(&mut self, line: &str) -> String {
        self.send(line);
        self.reply()
    }

    /// Sends a whole message after DATA (dot-stuffing it) and returns the final reply.
    pub fn data(&mut self, message: &str) -> String {
        let r = self.cmd("DATA");
        assert!(r.starts_with("354"), "DATA: {r}");
        let mut wire = String::new();
        for line in message.split_inclusive("\r\n") {
            if line.starts_with('.') {
                wire.push('.');
            }
            wire.push_str(line);
        }
        if !wire.ends_with("\r\n") {
            wire.push_str("\r\n");
        }
        wire.push_str(".\r\n");
        self.send_raw(wire.as_bytes());
        self.reply()
    }

    /// EHLO, MAIL, RCPT(s), DATA: the usual transaction; returns the final reply.
    /// AUTH PLAIN as `user`; the reply.
    pub fn auth_plain(&mut self, user: &str, password: &str) -> String {
        use base64::Engine;
        let token =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{user}\0{password}"));
        self.cmd(&format!("AUTH PLAIN {token}"))
    }

    pub fn deliver(&mut self, from: &str, to: &[&str], message: &str) -> String {
        let r = self.cmd("EHLO client.example.net");
        assert!(r.starts_with("250"), "EHLO: {r}");
        let r = self.cmd(&format!("MAIL FROM:<{from}>"));
        assert!(r.starts_with("250"), "MAIL: {r}");
        for t in to {
            let r = self.cmd(&format!("RCPT TO:<{t}>"));
            assert!(r.starts_with("250"), "RCPT {t}: {r}");
        }
        self.data(message)
    }

    /// Reads until the server closes the connection; returns what came.
    pub fn read_to_close(&mut self) -> String {
        let mut s = String::new();
        let _ = self.reader.read_to_string(&mut s);
        s
    }
}

pub fn message(subject: &str) -> String {
    format!(
        "From: Sender <sender@example.net>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example.net>\r\n\r\nHello Bob.\r\n.leading dot\r\nBye.\r\n"
    )
}

/// A minimal blocking IMAP client for tests: tagged commands, responses as text lines.
pub struct Imap {
    pub stream: TcpStream,
    reader: BufReader<TcpStream>,
    next: u32,
    pub greeting: String,
}

impl Imap {
    pub fn connect(addr: SocketAddr) -> Imap {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        let mut c = Imap {
            stream,
            reader,
            next: 1,
            greeting: String::new(),
        };
        c.greeting = c.read_line();
        c
    }

    /// Connects and logs in as `user` (password `PASSWORD`).
    pub fn login(addr: SocketAddr, user: &str) -> Imap {
        let mut c = Imap::connect(addr);
        let r = c.cmd(&format!("LOGIN {user} \"{PASSWORD}\""));
        assert!(r.last().unwrap().contains("OK"), "{r:?}");
        c
    }

    /// One line without its CRLF ("" at EOF).
    pub fn read_line(&mut self) -> String {
        let mut line = String::new();
        let _ = self.reader.read_line(&mut line);
        line.trim_end_matches(['\r', '\n']).to_string()
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Sends `tag command` and reads up to and including the tagged completion. Literals in
    /// responses are read as part of their line.
    pub fn cmd(&mut self, command: &str) -> Vec<String> {
        let tag = format!("t{}", self.next);
        self.next += 1;
        self.send_raw(format!("{tag} {command}\r\n").as_bytes());
        self.until_tagged(&tag)
    }

    pub fn until_tagged(&mut self, tag: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let mut l = self.read_line();
            // A line ending in {n} announces n bytes of literal data.
            while let Some(n) = literal_len(&l) {
                let mut data = vec![0u8; n];
                std::io::Read::read_exact(&mut self.reader, &mut data).unwrap();
                l.push_str("\r\n");
                l.push_str(&String::from_utf8_lossy(&data));
                let rest = self.read_line();
                l.push_str(&rest);
            }
            if l.is_empty() {
                panic!("connection closed before {tag} completed; got {lines:?}");
            }
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    }

    /// The tag the next `cmd` will use.
    pub fn next_tag(&self) -> String {
        format!("t{}", self.next)
    }

    pub fn bump(&mut self) -> String {
        let t = self.next_tag();
        self.next += 1;
        t
    }
}

fn literal_len(line: &str) -> Option<usize> {
    let open = line.rfind('{')?;
    let inner = line[open + 1..].strip_suffix('}')?;
    inner.trim_end_matches('+').parse().ok()
}

/// Whether the tagged completion (last line) is OK.
pub fn ok(lines: &[String]) -> bool {
    lines
        .last()
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("OK"))
}

/// Puts a record from `from` to `to` into the deferred queue directly (due in a day, one
/// failed attempt, a last error naming the first recipient), for the queue visibility
/// tests; its id.
#[allow(dead_code)]
pub fn put_deferred(server: &TestServer, from: &str, to: &[&str], subject: &str) -> u64 {
    put_deferred_as(server, None, from, to, subject)
}

/// [`put_deferred`] submitted by the account `auth_as` (as SMTP AUTH records it).
#[allow(dead_code)]
pub fn put_deferred_as(
    server: &TestServer,
    auth_as: Option<&str>,
    from: &str,
    to: &[&str],
    subject: &str,
) -> u64 {
    use ferrymail::storage::{QueueName, QueueRecipient, QueueRecord};
    let store = server.store();
    let (_, queues) = server.writers();
    let body = format!(
        "From: {from}\r\nTo: {}\r\nSubject: {subject}\r\n\r\nHello.\r\n",
        to.join(", ")
    );
    let blob = store.blobs().put(body.as_bytes()).unwrap();
    let mut rec = QueueRecord::inbound(
        store.next_queue_id().unwrap(),
        blob,
        body.len() as u64,
        from.to_string(),
        to.iter().map(|a| QueueRecipient::new(a)).collect(),
        "test".into(),
        0,
    );
    rec.queue = QueueName::Deferred;
    rec.due = Some(i64::MAX / 2);
    rec.attempts = 1;
    rec.last_error = to.first().map(|a| format!("451 4.2.0 {a} is busy"));
    rec.auth_as = auth_as.map(str::to_string);
    queues.queue_put(&rec).unwrap();
    rec.id
}
