//! The real binary: first start, CLI commands with and without a running server, SIGTERM,
//! a listener that cannot bind, and crash safety under SIGKILL (while receiving, and in the
//! middle of remote deliveries).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proc::{
    assert_each_acknowledged_once, cli, message_id, random_delay, random_seed, send_until_killed,
    submit_remote, wait_queues_empty, Running, BIN,
};

fn write_config(dir: &Path, listeners: &str) -> PathBuf {
    write_config_with(dir, listeners, "")
}

/// As [`write_config`], with `sections` (whole TOML sections) at the end.
fn write_config_with(dir: &Path, listeners: &str, sections: &str) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n{listeners}\n\
             [queue]\nlocal_retry_interval = 1\ndeferred_check_interval = 1\n\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n{sections}{}",
            common::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

#[test]
fn first_start_cli_and_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "smtp = \"127.0.0.1:0\"\nhttp = \"127.0.0.1:0\"");
    let mut server = Running::start(&config);
    let password_line = server
        .lines
        .iter()
        .find(|l| l.contains("created admin account postmaster@mx.test with password "))
        .unwrap_or_else(|| panic!("{:?}", server.lines))
        .clone();
    let smtp = server.addr("smtp");
    server.addr("http");
    assert!(smtp.ip().is_loopback() && smtp.port() != 0);

    // CLI through the console socket while the server runs.
    let (ok, out) = cli(&config, &["domain", "add", "example.com"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(
        &config,
        &["account", "add", "bob@example.com", "--password", "pw one"],
    );
    assert!(ok, "{out}");
    let (ok, out) = cli(&config, &["account", "list"]);
    assert!(
        ok && out.contains("bob@example.com") && out.contains("postmaster@mx.test (admin)"),
        "{out}"
    );
    let (ok, out) = cli(
        &config,
        &["account", "add", "bob@example.com", "--password", "x"],
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = cli(&config, &["acount", "list"]);
    assert!(!ok && out.contains("unknown command"), "{out}");
    let (ok, out) = cli(&config, &["status"]);
    assert!(
        ok && out.contains("uptime") && out.contains("queues:"),
        "{out}"
    );
    let (ok, out) = cli(
        &config,
        &["dkim", "generate", "example.com", "--algorithm", "ed25519"],
    );
    assert!(ok, "{out}");
    assert!(
        out.contains("._domainkey.example.com TXT \"v=DKIM1; k=ed25519; p="),
        "{out}"
    );

    // The printed postmaster password works for AUTH (shown once, at first start).
    let password = password_line
        .split("with password ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert_eq!(password.len(), 20);

    let status = server.sigterm();
    assert!(status.success(), "exit status {status:?}");

    // Offline: the CLI opens the store itself.
    let (ok, out) = cli(&config, &["account", "list"]);
    assert!(ok && out.contains("bob@example.com"), "{out}");
    let (ok, out) = cli(&config, &["status"]);
    assert!(!ok && out.contains("not running"), "{out}");
    let (ok, out) = cli(
        &config,
        &["dkim", "generate", "example.com", "--selector", "s2"],
    );
    assert!(
        ok && out.contains("s2._domainkey.example.com TXT \"v=DKIM1; k=rsa; p="),
        "{out}"
    );
    let (ok, out) = cli(&config, &["dkim", "list", "example.com"]);
    assert!(
        ok && out.contains("ACTIVE") && out.contains("s2  rsa-sha256"),
        "{out}"
    );
    let (ok, out) = cli(&config, &["dkim", "generate", "nowhere.example"]);
    assert!(!ok && out.contains("not a local domain"), "{out}");

    // The second start is not a first start.
    let mut again = Running::start(&config);
    assert!(
        !again.lines.iter().any(|l| l.contains("first start")),
        "{:?}",
        again.lines
    );
    assert!(again.sigterm().success());
}

#[test]
fn a_listener_that_cannot_bind_is_named_and_the_others_run() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!("submission = \"127.0.0.1:{port}\"\nsmtp = \"127.0.0.1:0\""),
    );
    let mut server = Running::start(&config);
    let warning = server
        .lines
        .iter()
        .find(|l| l.contains("cannot listen for submission"))
        .unwrap_or_else(|| panic!("{:?}", server.lines));
    assert!(warning.contains(&format!("127.0.0.1:{port}")), "{warning}");
    assert!(warning.contains("already listening"), "{warning}");
    let c = common::Client::connect(server.addr("smtp"));
    assert!(c.greeting.starts_with("220"));
    assert!(server.sigterm().success());
}

/// Domain example.com and account bob@example.com (password "pw"), through the CLI.
fn add_bob(config: &Path) {
    let (ok, out) = cli(config, &["domain", "add", "example.com"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(
        config,
        &["account", "add", "bob@example.com", "--password", "pw"],
    );
    assert!(ok, "{out}");
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "smtp = \"127.0.0.1:0\"");
    add_bob(&config);
    let seed = random_seed();
    let mut rng = seed;
    let acked = Arc::new(Mutex::new(Vec::new()));
    for round in 0..5 {
        let server = Running::start(&config);
        let addr = server.addr("smtp");
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let (a, s) = (acked.clone(), stop.clone());
                std::thread::spawn(move || send_until_killed(addr, (round * 4 + t) * 100_000, a, s))
            })
            .collect();
        std::thread::sleep(random_delay(&mut rng, 150, 600));
        server.sigkill();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in senders {
            s.join().unwrap();
        }
    }
    // A last clean run lets the queues drain, then a graceful stop.
    let mut server = Running::start(&config);
    let sock = dir.path().join("data/control.sock");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out =
            ferrymail::admin::control::client_request(&sock, "status", Duration::from_secs(10))
                .unwrap();
        if out.output.contains("inbound=0 local=0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queues did not drain: {}",
            out.output
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.sigterm().success());

    let store = common::open_store(&dir.path().join("data"));
    let inbox = common::inbox_of(&store, "bob@example.com");
    assert_each_acknowledged_once(&acked.lock().unwrap(), &inbox, seed);
}

#[test]
fn serve_with_repl_runs_the_console_in_the_foreground() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "smtp = \"127.0.0.1:0\"");
    let mut child = Command::new(BIN)
        .args(["serve", "--repl", "--config"])
        .arg(&config)
        .env("HOME", dir.path())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"domain add example.org\ndomain list\nstatus\nshutdown\n")
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "serve --repl did not stop after `shutdown`"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("listening smtp 127.0.0.1:"), "{text}");
    assert!(text.contains("domain example.org added"), "{text}");
    assert!(text.contains("uptime:"), "{text}");
}

#[test]
fn file_logging_writes_per_service_logs() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "smtp = \"127.0.0.1:0\"\npop3 = \"127.0.0.1:0\"");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!("{text}[log]\nfile_logging = true\n[pop3]\nallow_plaintext_login = true\n"),
    )
    .unwrap();
    assert!(cli(&config, &["domain", "add", "example.com"]).0);
    assert!(
        cli(
            &config,
            &["account", "add", "bob@example.com", "--password", "pw"]
        )
        .0
    );
    let mut server = Running::start(&config);
    let mut c = common::Client::connect(server.addr("smtp"));
    let r = c.deliver(
        "a@example.net",
        &["bob@example.com"],
        &common::message("logged"),
    );
    assert!(r.starts_with("250"), "{r}");
    let logs = dir.path().join("data/logs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(logs.join("routing.log"))
        .unwrap_or_default()
        .contains("delivered to INBOX")
    {
        assert!(Instant::now() < deadline, "no delivery line in routing.log");
        std::thread::sleep(Duration::from_millis(50));
    }
    // A POP3 session that deletes the message.
    let pop = std::net::TcpStream::connect(server.addr("pop3")).unwrap();
    pop.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut reader = BufReader::new(pop.try_clone().unwrap());
    (&pop)
        .write_all(b"USER bob@example.com\r\nPASS pw\r\nDELE 1\r\nQUIT\r\n")
        .unwrap();
    let mut replies = String::new();
    for _ in 0..5 {
        reader.read_line(&mut replies).unwrap();
    }
    assert!(replies.contains("(1 deleted, 0 left)"), "{replies}");
    assert!(server.sigterm().success());
    let pop3 = std::fs::read_to_string(logs.join("pop3.log")).unwrap();
    assert!(
        pop3.contains("maildrop opened") && pop3.contains("expunged=1"),
        "{pop3}"
    );
    let smtp_in = std::fs::read_to_string(logs.join("smtp-in.log")).unwrap();
    assert!(
        smtp_in.contains("accepted") && smtp_in.contains("from=a@example.net"),
        "{smtp_in}"
    );
    let all = std::fs::read_to_string(logs.join("server.log")).unwrap();
    assert!(all.contains("stopped"), "{all}");
}

/// The count in `folder list ACCOUNT`'s INBOX row, through the console socket.
fn inbox_count(data: &Path, account: &str) -> usize {
    let sock = data.join("control.sock");
    let Ok(out) = ferrymail::admin::control::client_request(
        &sock,
        &format!("folder list {account}"),
        Duration::from_secs(10),
    ) else {
        return 0;
    };
    out.output
        .lines()
        .find_map(|l| l.strip_prefix("INBOX"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn sigkill_during_an_imap_fetch_run_gives_every_message_exactly_once() {
    sigkill_during_a_fetch_run("imap");
}

#[test]
fn sigkill_during_a_pop3_fetch_run_gives_every_message_exactly_once() {
    sigkill_during_a_fetch_run("pop3");
}

/// 500 messages on a second server, fetched over `protocol` by `ferrymail serve`, which is
/// killed twice mid-run: each arrives exactly once, and stays on the server.
fn sigkill_during_a_fetch_run(protocol: &str) {
    use common::fetch::{fill, letter, message_ids};
    let outside = common::TestServer::start();
    let letters: Vec<String> = (0..500)
        .map(|n| letter("kill", n, "To: bob@example.com\r\n"))
        .collect();
    fill(&outside, "bob@example.com", &letters);

    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "smtp = \"127.0.0.1:0\"");
    let data = dir.path().join("data");
    add_bob(&config);
    // Added while no server runs: straight into the store; the fetcher starts with the server.
    let port = outside.addr(protocol).port().to_string();
    let (ok, out) = cli(
        &config,
        &[
            "source",
            "add",
            "bob@example.com",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            "--protocol",
            protocol,
            "--tls",
            "none",
            "--user",
            "bob@example.com",
            "--password",
            common::PASSWORD,
            "--interval",
            "3600",
        ],
    );
    assert!(ok && out.starts_with("source 1 added"), "{out}");

    for at_least in [100, 300] {
        let server = Running::start(&config);
        let deadline = Instant::now() + Duration::from_secs(120);
        while inbox_count(&data, "bob@example.com") < at_least {
            assert!(
                Instant::now() < deadline,
                "fetching stalled below {at_least}: {}",
                cli(&config, &["source", "status"]).1
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server.sigkill();
    }
    let mut server = Running::start(&config);
    let deadline = Instant::now() + Duration::from_secs(120);
    while inbox_count(&data, "bob@example.com") < 500 {
        assert!(
            Instant::now() < deadline,
            "not all messages arrived: {}",
            cli(&config, &["source", "status"]).1
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Once the run is over, another finds nothing new.
    let deadline = Instant::now() + Duration::from_secs(60);
    let out = loop {
        let (ok, out) = cli(&config, &["source", "run", "1"]);
        if ok || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(
        out.trim(),
        "source 1: 500 on the server, 0 fetched, 0 deleted"
    );
    assert!(server.sigterm().success());

    let store = common::open_store(&data);
    let ids = message_ids(&store, "bob@example.com");
    assert_eq!(ids.len(), 500);
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 500, "a message arrived twice");
    assert_eq!(
        outside.inbox("bob@example.com").len(),
        500,
        "left on the server"
    );
}

/// The server is SIGKILLed while a slow remote MX (the sink answers DATA after 300 ms, over
/// at most two connections) takes
/// its messages; after restart every message reaches the MX. A message reaches it twice only
/// at the at-least-once edge: the MX had answered 250 before the kill and the server had not
/// acted on that reply yet (no further command on that connection), so it could not have
/// settled the message. A copy the server had settled (it went on with the next MAIL FROM or
/// QUIT, which it sends only after settling) must never come again.
#[test]
fn sigkill_during_remote_delivery_delivers_every_message_at_least_once() {
    let dns = common::dns::TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", std::net::Ipv4Addr::LOCALHOST);
    let sink = common::sink::Sink::start();
    sink.delay_data_reply(Duration::from_millis(300));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(
        dir.path(),
        "submission = \"127.0.0.1:0\"",
        &format!(
            "[smtp]\nallow_plaintext_auth = true\n{}[delivery]\nport = {}\n\
             max_connections_per_domain = 2\nconnect_timeout = 5\ncommand_timeout = 10\n\
             retry_schedule = [\"1s\"]\n",
            dns.config(),
            sink.addr.port()
        ),
    );
    add_bob(&config);
    let seed = random_seed();
    let mut rng = seed;
    let mut submitted = Vec::new();
    // Per kill: when the server was dead, and how many messages the MX had accepted by then.
    let mut kills: Vec<(Instant, usize)> = Vec::new();
    for round in 0..4 {
        let server = Running::start(&config);
        let addr = server.addr("submission");
        for i in 0..10 {
            let id = format!("crash-{round}-{i}@example.com");
            submit_remote(addr, &id);
            submitted.push(id);
        }
        std::thread::sleep(random_delay(&mut rng, 50, 800));
        server.sigkill();
        kills.push((Instant::now(), sink.accepted().len()));
    }

    let mut server = Running::start(&config);
    let (empty, status) = wait_queues_empty(
        dir.path(),
        &["inbound", "remote", "deferred", "bad"],
        Duration::from_secs(60),
    );
    assert!(empty, "the queues did not drain: {status}");
    assert!(server.sigterm().success());

    let accepted = sink.accepted();
    let mut copies: std::collections::BTreeMap<String, Vec<&common::sink::Received>> =
        std::collections::BTreeMap::new();
    for r in &accepted {
        let id = message_id(&r.data).unwrap_or_else(|| panic!("no Message-ID in {:?}", r.data));
        copies.entry(id).or_default().push(r);
    }
    for id in &submitted {
        assert!(
            copies.contains_key(id),
            "{id} never reached the MX (seed {seed})"
        );
    }
    assert_eq!(
        copies.len(),
        submitted.len(),
        "unexpected messages at the MX"
    );
    let mut twice = 0;
    for (id, list) in &mut copies {
        list.sort_by_key(|r| r.replied_at);
        for pair in list.windows(2) {
            let (first, again) = (pair[0], pair[1]);
            twice += 1;
            assert!(
                !first.client_went_on,
                "{id} came again although the server had gone on after its 250 (seed {seed})"
            );
            assert!(
                kills
                    .iter()
                    .any(|(k, _)| first.replied_at < *k && *k < again.replied_at),
                "{id} came twice with no kill between the copies (seed {seed})"
            );
        }
    }
    // The kills must have landed mid-delivery for the test to mean something: some round
    // ended with messages still on their way.
    let interrupted = kills
        .iter()
        .enumerate()
        .filter(|(round, (_, n))| *n < (round + 1) * 10)
        .count();
    assert!(interrupted > 0, "no kill interrupted a delivery: {kills:?}");
    println!(
        "{} submitted, {} accepted by the MX, {twice} again after a kill, {interrupted} of {} kills mid-delivery (accepted at each kill: {:?})",
        submitted.len(),
        accepted.len(),
        kills.len(),
        kills.iter().map(|(_, n)| n).collect::<Vec<_>>()
    );
}

/// `ferrymail bench …` runs the `ferrymail-bench` binary found next to it, with the same
/// arguments, and exits with its status; without it, the error names the build command.
/// Both files are placed by `install` (a child process), so that no write handle of ours can
/// leak into another test's fork and make the exec fail with "text file busy".
#[test]
fn bench_runs_the_load_tool_found_next_to_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let install = |from: &Path, to: &str| {
        let to = dir.path().join(to);
        let ok = Command::new("install")
            .args(["-m", "755"])
            .arg(from)
            .arg(&to)
            .status()
            .expect("install(1) runs")
            .success();
        assert!(ok, "install {} {}", from.display(), to.display());
        to
    };
    let bin = install(Path::new(BIN), "ferrymail");
    let out = Command::new(&bin)
        .args(["bench", "smtp", "--help"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("ferrymail-bench") && err.contains("cargo build --release"),
        "{err}"
    );

    // A stand-in for the load tool: prints each argument it got, bracketed, and exits 3.
    let script = dir.path().join("script");
    std::fs::write(&script, "#!/bin/sh\nprintf '[%s]' \"$@\"\nexit 3\n").unwrap();
    install(&script, "ferrymail-bench");
    let out = Command::new(&bin)
        .args([
            "bench",
            "smtp",
            "--target",
            "127.0.0.1:1",
            "--from",
            "a b@c",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[smtp][--target][127.0.0.1:1][--from][a b@c]"
    );
}
