//! End-to-end runs against a fake SMTP server on 127.0.0.1, port 0.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use super::*;

/// How the fake server answers DATA.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    AcceptAll,
    Reject451OnData,
}

/// How the fake server offers TLS.
#[derive(Clone)]
enum FakeTls {
    None,
    Implicit(TlsAcceptor),
    StartTls(TlsAcceptor),
}

/// What the fake server saw, for assertions.
#[derive(Default)]
struct Seen {
    /// Size of each received message after removing dot-stuffing.
    sizes: Vec<usize>,
    subjects: Vec<String>,
    rcpts: HashMap<String, usize>,
    rsets: usize,
    pipelined_batches: usize,
    tls_sessions: usize,
    /// Decoded AUTH PLAIN responses.
    auths: Vec<String>,
}

struct FakeServer {
    addr: String,
    seen: Arc<Mutex<Seen>>,
}

/// Bounds on the fake server, so a broken client cannot hang a test.
const MAX_CONNECTIONS: usize = 64;
const MAX_LINES: usize = 200_000;
const IDLE: Duration = Duration::from_secs(10);

async fn fake_server(mode: Mode) -> FakeServer {
    fake_server_with(mode, FakeTls::None).await
}

async fn fake_server_with(mode: Mode, tls: FakeTls) -> FakeServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let shared = seen.clone();
    tokio::spawn(async move {
        for _ in 0..MAX_CONNECTIONS {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(stream, mode, tls.clone(), shared.clone()));
        }
    });
    FakeServer { addr, seen }
}

/// A self-signed certificate for "localhost", which the bench must accept.
fn tls_acceptor() -> TlsAcceptor {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], private)
    .expect("server config");
    TlsAcceptor::from(Arc::new(config))
}

async fn serve(stream: TcpStream, mode: Mode, tls: FakeTls, seen: Arc<Mutex<Seen>>) {
    let _ = match tls {
        FakeTls::None => session(stream, mode, false, true, &seen).await.map(|_| ()),
        FakeTls::Implicit(acceptor) => match acceptor.accept(stream).await {
            Ok(tls) => {
                seen.lock().expect("lock").tls_sessions += 1;
                session(tls, mode, false, true, &seen).await.map(|_| ())
            }
            Err(e) => Err(e),
        },
        FakeTls::StartTls(acceptor) => match session(stream, mode, true, true, &seen).await {
            Ok(Some(plain)) => match acceptor.accept(plain).await {
                Ok(tls) => {
                    seen.lock().expect("lock").tls_sessions += 1;
                    session(tls, mode, false, false, &seen).await.map(|_| ())
                }
                Err(e) => Err(e),
            },
            other => other.map(|_| ()),
        },
    };
}

/// Runs SMTP on `stream`; returns it back when the client asked for STARTTLS.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    mode: Mode,
    offer_starttls: bool,
    greet: bool,
    seen: &Mutex<Seen>,
) -> std::io::Result<Option<S>> {
    let mut io = BufReader::new(stream);
    if greet {
        io.get_mut().write_all(b"220 fake ESMTP\r\n").await?;
    }
    let mut line = String::new();
    for _ in 0..MAX_LINES {
        line.clear();
        match tokio::time::timeout(IDLE, io.read_line(&mut line)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return Ok(None),
        }
        if !io.buffer().is_empty() {
            seen.lock().expect("lock").pipelined_batches += 1;
        }
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") && offer_starttls {
            b"250-fake greets you\r\n250-STARTTLS\r\n250 PIPELINING\r\n"
        } else if upper.starts_with("EHLO") {
            b"250-fake greets you\r\n250-PIPELINING\r\n250-AUTH PLAIN\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("STARTTLS") && offer_starttls {
            io.get_mut().write_all(b"220 2.0.0 ready\r\n").await?;
            return Ok(Some(io.into_inner()));
        } else if upper.starts_with("AUTH PLAIN ") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(line[11..].trim())
                .unwrap_or_default();
            let decoded = String::from_utf8_lossy(&decoded).into_owned();
            let ok = decoded == "\0joe\0secret";
            seen.lock().expect("lock").auths.push(decoded);
            if ok {
                b"235 2.7.0 ok\r\n"
            } else {
                b"535 5.7.8 no\r\n"
            }
        } else if upper.starts_with("MAIL FROM:") {
            b"250 2.1.0 ok\r\n"
        } else if let Some(to) = upper.strip_prefix("RCPT TO:") {
            let to = to.trim().trim_matches(['<', '>']).to_ascii_lowercase();
            *seen.lock().expect("lock").rcpts.entry(to).or_default() += 1;
            b"250 2.1.5 ok\r\n"
        } else if upper.starts_with("DATA") && mode == Mode::Reject451OnData {
            b"451 4.3.0 fake says later\r\n"
        } else if upper.starts_with("DATA") {
            io.get_mut().write_all(b"354 go ahead\r\n").await?;
            let (size, subject) = read_body(&mut io).await?;
            let mut s = seen.lock().expect("lock");
            s.sizes.push(size);
            s.subjects.push(subject);
            b"250 2.0.0 queued\r\n"
        } else if upper.starts_with("RSET") {
            seen.lock().expect("lock").rsets += 1;
            b"250 2.0.0 reset\r\n"
        } else if upper.starts_with("QUIT") {
            io.get_mut().write_all(b"221 2.0.0 bye\r\n").await?;
            return Ok(None);
        } else {
            b"500 5.5.2 what\r\n"
        };
        io.get_mut().write_all(reply).await?;
    }
    Ok(None)
}

/// Reads a message up to the lone ".", undoing dot-stuffing; returns its
/// size and Subject.
async fn read_body<R: AsyncBufReadExt + Unpin>(read: &mut R) -> std::io::Result<(usize, String)> {
    let mut size = 0;
    let mut subject = String::new();
    let mut line = Vec::new();
    for _ in 0..MAX_LINES {
        line.clear();
        let n = tokio::time::timeout(IDLE, read.read_until(b'\n', &mut line))
            .await
            .map_err(|_| std::io::Error::other("idle"))??;
        if n == 0 || line == b".\r\n" {
            break;
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        if let Some(s) = unstuffed.strip_prefix(b"Subject: ") {
            subject = String::from_utf8_lossy(s).trim_end().to_string();
        }
        size += unstuffed.len();
    }
    Ok((size, subject))
}

fn options(server: &FakeServer, messages: u64, connections: usize) -> SmtpBenchOptions {
    SmtpBenchOptions {
        target: server.addr.clone(),
        connections,
        messages,
        size: 2048,
        to: vec!["a@localhost".into(), "b@localhost".into()],
        timeout: Duration::from_secs(5),
        duration_limit: Duration::from_secs(20),
        ..SmtpBenchOptions::default()
    }
}

async fn bounded_load(opts: SmtpBenchOptions) -> SmtpBenchReport {
    tokio::time::timeout(Duration::from_secs(30), smtp_load(opts))
        .await
        .expect("run finishes in time")
        .expect("run starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_messages_accepted_and_received() {
    let server = fake_server(Mode::AcceptAll).await;
    let mut opts = options(&server, 50, 4);
    opts.server_pids = vec![std::process::id()];
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 50, "{}", report.render());
    assert_eq!(
        (report.attempted, report.rejected, report.failed),
        (50, 0, 0)
    );
    assert!(!report.pipelining);
    assert!(report.latency.p50.is_some() && report.latency.max >= report.latency.p99);
    assert!(report.server_cpu.is_some());
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen.sizes.len(), 50);
    assert!(
        seen.sizes.iter().all(|&s| s == 2048),
        "sizes {:?}",
        seen.sizes
    );
    let mut subjects = seen.subjects.clone();
    subjects.sort();
    subjects.dedup();
    assert_eq!(subjects.len(), 50, "subjects are unique");
    assert_eq!(seen.rcpts.get("a@localhost"), Some(&25));
    assert_eq!(seen.rcpts.get("b@localhost"), Some(&25));
    assert_eq!(seen.rsets, 0);
    assert_eq!(seen.pipelined_batches, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelining_sends_command_groups() {
    let server = fake_server(Mode::AcceptAll).await;
    let mut opts = options(&server, 20, 2);
    opts.pipelining = true;
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 20, "{}", report.render());
    assert!(report.pipelining);
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen.sizes.len(), 20);
    assert!(seen.pipelined_batches > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_data_refused_counts_as_rejected() {
    for pipelining in [false, true] {
        let server = fake_server(Mode::Reject451OnData).await;
        let mut opts = options(&server, 30, 3);
        opts.pipelining = pipelining;
        let report = bounded_load(opts).await;
        assert_eq!(report.rejected, 30, "{}", report.render());
        assert_eq!((report.accepted, report.failed), (0, 0));
        assert_eq!(report.rejections, ["451 4.3.0 fake says later"]);
        assert_eq!(report.latency.p50, None);
        let seen = server.seen.lock().expect("lock");
        assert!(seen.sizes.is_empty());
        assert_eq!(seen.rsets, 30, "each refused transaction is reset");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn implicit_tls_with_self_signed_certificate() {
    let server = fake_server_with(Mode::AcceptAll, FakeTls::Implicit(tls_acceptor())).await;
    let mut opts = options(&server, 12, 3);
    opts.tls = TlsMode::Implicit;
    opts.pipelining = true;
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 12, "{}", report.render());
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen.sizes.len(), 12);
    assert_eq!(seen.tls_sessions, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_then_auth_plain() {
    let server = fake_server_with(Mode::AcceptAll, FakeTls::StartTls(tls_acceptor())).await;
    let mut opts = options(&server, 8, 2);
    opts.tls = TlsMode::StartTls;
    opts.auth = Some(Credentials {
        user: "joe".into(),
        pass: "secret".into(),
    });
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 8, "{}", report.render());
    let seen = server.seen.lock().expect("lock");
    assert_eq!(seen.tls_sessions, 2);
    assert_eq!(seen.auths, vec!["\0joe\0secret".to_string(); 2]);
}

#[tokio::test]
async fn refused_auth_and_missing_starttls_are_reported() {
    let server = fake_server(Mode::AcceptAll).await;
    let mut opts = options(&server, 4, 1);
    opts.auth = Some(Credentials {
        user: "joe".into(),
        pass: "wrong".into(),
    });
    let report = bounded_load(opts.clone()).await;
    assert_eq!((report.accepted, report.failed), (0, 1));
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.contains("AUTH refused: 535")),
        "{:?}",
        report.errors
    );
    opts.auth = None;
    opts.tls = TlsMode::StartTls;
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 0);
    assert!(
        report.errors.iter().any(|e| e.contains("STARTTLS")),
        "{:?}",
        report.errors
    );
}

#[tokio::test]
async fn unreachable_server_gives_up_after_bounded_retries() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        l.local_addr().expect("addr").port()
    };
    let opts = SmtpBenchOptions {
        target: format!("127.0.0.1:{port}"),
        connections: 2,
        messages: 10,
        timeout: Duration::from_secs(2),
        ..SmtpBenchOptions::default()
    };
    let report = bounded_load(opts).await;
    assert_eq!(report.accepted, 0);
    assert_eq!(report.failed, 2, "one message per task that gave up");
    assert!(
        report.errors.iter().any(|e| e.starts_with("connect:")),
        "{:?}",
        report.errors
    );
}

#[test]
fn cli_entry_prints_report_with_result_line() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(fake_server(Mode::AcceptAll));
    let args: Vec<String> = format!(
        "smtp --target {} --connections 2 --messages 10 --size 1000 --timeout 5",
        server.addr
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let text = run(&args).expect("report");
    assert!(text.contains("messages accepted:"), "{text}");
    let result = text.lines().last().and_then(|l| l.strip_prefix("RESULT "));
    let json: serde_json::Value = serde_json::from_str(result.expect("RESULT line")).expect("json");
    assert_eq!(json["accepted"], 10);
    assert_eq!(json["size"], 1000);
    assert_eq!(server.seen.lock().expect("lock").sizes, vec![1000; 10]);
}

#[test]
fn cli_usage_errors() {
    let args = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
    let e = run(&args("smtp --connections 2")).expect_err("no target");
    assert!(e.contains("--target") && e.contains("usage:"));
    assert!(run(&args("pop4 --target a:1"))
        .expect_err("unknown")
        .contains("unknown bench"));
    let e = run(&args("pop3 --target a:1")).expect_err("no account");
    assert!(
        e.contains("--users FILE") && e.contains("bench pop3"),
        "{e}"
    );
    let e = run(&args("imap --target a:1")).expect_err("no account");
    assert!(
        e.contains("--users FILE") && e.contains("bench imap"),
        "{e}"
    );
    assert!(run(&args("help")).expect("help").contains("bench imap"));
    assert!(run(&args("help")).expect("help").contains("bench pop3"));
    assert!(run(&[]).is_err());
    assert!(run(&args("smtp --help"))
        .expect("help")
        .starts_with("usage:"));
}
