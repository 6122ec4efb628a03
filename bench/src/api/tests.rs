//! The HTTP parsing, option parsing and reports of `bench api` / `bench sse`, and a run
//! of each against a small HTTP server on 127.0.0.1, port 0.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::http::{encode_request, parse_head, Chunked, Request, SseCounter};
use super::*;

fn args(s: &str) -> Vec<String> {
    s.split_whitespace().map(String::from).collect()
}

#[test]
fn head_parses_status_headers_and_length() {
    let raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\
                Set-Cookie: fm_session=abc.def; HttpOnly; Path=/\r\n\r\n{\"items\":[]}";
    let (head, len) = parse_head(raw).expect("valid").expect("complete");
    assert_eq!(head.status, 200);
    assert_eq!(&raw[len..], b"{\"items\":[]}");
    assert_eq!(head.header("content-type"), Some("application/json"));
    assert_eq!(head.content_length(), Some(12));
    assert!(!head.chunked());
    assert!(head.keep_alive());
    assert_eq!(head.cookies(), ["fm_session=abc.def"]);
}

#[test]
fn head_incomplete_bad_and_connection_rules() {
    assert_eq!(parse_head(b"HTTP/1.1 200 OK\r\nA: b\r\n"), Ok(None));
    assert!(parse_head(b"SMTP 220 hi\r\n\r\n").is_err());
    assert!(parse_head(b"HTTP/1.1 2x0 OK\r\n\r\n").is_err());
    assert!(parse_head(b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n").is_err());
    assert!(parse_head(&vec![b'a'; super::http::MAX_HEAD + 1]).is_err());
    let close = parse_head(b"HTTP/1.1 503 Busy\r\nConnection: close\r\n\r\n")
        .unwrap()
        .unwrap()
        .0;
    assert_eq!(close.status, 503);
    assert!(!close.keep_alive());
    let old = parse_head(b"HTTP/1.0 200 OK\r\n\r\n").unwrap().unwrap().0;
    assert!(!old.keep_alive());
    let chunked = parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        .unwrap()
        .unwrap()
        .0;
    assert!(chunked.chunked());
}

#[test]
fn chunked_body_decodes_across_pieces() {
    let raw = b"5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    // Whole at once.
    let mut d = Chunked::default();
    let mut out = Vec::new();
    let used = d.feed(raw, &mut out).expect("valid");
    assert!(d.done());
    assert_eq!(out, b"hello, world");
    assert_eq!(&raw[used..], b"NEXT");
    // One byte at a time, keeping unconsumed bytes as the client does.
    let mut d = Chunked::default();
    let mut out = Vec::new();
    let mut pending = Vec::new();
    for &b in raw.iter() {
        pending.push(b);
        let used = d.feed(&pending, &mut out).expect("valid");
        pending.drain(..used);
        if d.done() {
            break;
        }
    }
    assert!(d.done());
    assert_eq!(out, b"hello, world");
    // Errors.
    assert!(Chunked::default().feed(b"zz\r\n", &mut Vec::new()).is_err());
    assert!(Chunked::default()
        .feed(b"2\r\nabX\r\n", &mut Vec::new())
        .is_err());
}

#[test]
fn sse_events_counted_at_blank_lines() {
    let mut c = SseCounter::new();
    c.feed(b"data: {\"a\":1}\n\n");
    assert_eq!(c.events, 1);
    // Split inside the terminating blank line, and CRLF line ends.
    c.feed(b"data: x\r\n");
    c.feed(b"\r");
    assert_eq!(c.events, 2);
    c.feed(b"\ndata: y\ndata: z\n");
    assert_eq!(c.events, 2);
    c.feed(b"\n");
    assert_eq!(c.events, 3);
    // Blank lines without an event in between count nothing.
    c.feed(b"\n\n\n");
    assert_eq!(c.events, 3);
    // A comment line (": keep-alive") followed by a blank line is a (discarded) event
    // block; it is counted as received.
    c.feed(b": ping\n\n");
    assert_eq!(c.events, 4);
}

#[test]
fn request_encoding() {
    let headers = [("Authorization", "Basic eDp5".to_string())];
    let req = Request {
        method: "POST",
        path: "/api/v1/accounts",
        headers: &headers,
        body: Some(("application/json", b"{}")),
    };
    let bytes = encode_request(&req, "127.0.0.1:8080");
    assert_eq!(
        String::from_utf8(bytes).unwrap(),
        "POST /api/v1/accounts HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n\
         Authorization: Basic eDp5\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    );
    assert_eq!(http::basic_auth("x", "y"), "Basic eDp5");
    assert_eq!(http::form_encode("a b@c&d=é"), "a+b%40c%26d%3D%C3%A9");
}

#[test]
fn options_parse_and_refuse() {
    let o = match parse_api_args(
        Command::Api,
        &args(
            "--target 127.0.0.1:8443 --user admin@x.test --password p --tls --requests 500 \
             --concurrency 8 --path /api/v1/accounts?limit=50 --path /api/v1/queues/remote \
             --server-pid 42",
        ),
    ) {
        Ok(Parsed::Run(o)) => *o,
        other => panic!("{other:?}"),
    };
    assert_eq!(o.target, "127.0.0.1:8443");
    assert_eq!(o.tls, crate::options::TlsMode::Implicit);
    assert_eq!((o.requests, o.concurrency), (500, 8));
    assert_eq!(
        o.paths,
        ["/api/v1/accounts?limit=50", "/api/v1/queues/remote"]
    );
    assert_eq!(o.server_pids, [42]);
    let d = match parse_api_args(Command::Api, &args("--target a:1 --user u --password p")) {
        Ok(Parsed::Run(o)) => *o,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.paths, ["/api/v1/accounts?limit=50"]);
    let err = |c, s: &str| parse_api_args(c, &args(s)).expect_err(s);
    assert!(err(Command::Api, "--user u --password p").contains("--target"));
    assert!(err(Command::Api, "--target a:1 --password p").contains("--user"));
    assert!(err(Command::Api, "--target a:1 --user u").contains("--password"));
    assert!(err(Command::Api, "--target a:1 --user u --password p --path x").contains("path"));
    assert!(err(
        Command::Api,
        "--target a:1 --user u --password p --dashboards 3"
    )
    .contains("unknown option"));
    assert!(err(Command::Sse, "--target a:1 --user u --password p").contains("--server-pid"));
    assert!(err(
        Command::Sse,
        "--target a:1 --user u --password p --requests 3"
    )
    .contains("unknown option"));
    assert_eq!(parse_api_args(Command::Sse, &args("-h")), Ok(Parsed::Help));
}

#[test]
fn path_report_percentiles_and_bodies() {
    // (latency µs, status, body bytes)
    let samples: Vec<(u64, u16, usize)> = (1..=100)
        .map(|i| (i * 1000, if i == 100 { 500 } else { 200 }, 10))
        .collect();
    let p = PathReport::from_samples("/x", &samples);
    assert_eq!((p.requests, p.ok), (100, 99));
    assert_eq!(p.latency_p50_ms, Some(50.0));
    assert_eq!(p.latency_p90_ms, Some(90.0));
    assert_eq!(p.latency_p99_ms, Some(99.0));
    assert_eq!(p.latency_max_ms, Some(100.0));
    assert_eq!(p.mean_body_bytes, Some(10.0));
    let empty = PathReport::from_samples("/y", &[]);
    assert_eq!(empty.latency_p50_ms, None);
    assert_eq!(empty.mean_body_bytes, None);
}

/// A small HTTP/1.1 server: `GET /events` streams an event every 50 ms (chunked);
/// `POST /login` sets a cookie; anything else answers a JSON body, with `Connection:
/// close` on every third request of a connection. Serves until the test ends.
async fn fake_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        for _ in 0..1000 {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                for served in 1..=1000u32 {
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    while buf.len() < head_end + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    buf.drain(..head_end + len);
                    if head.starts_with("GET /events") {
                        assert!(head.contains("Cookie: fm_session=s1"), "{head}");
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
                                  Transfer-Encoding: chunked\r\n\r\n",
                            )
                            .await;
                        for _ in 0..2000 {
                            let event = b"data: {\"queued\":1}\n\n";
                            let frame = format!("{:x}\r\n", event.len());
                            let mut out = frame.into_bytes();
                            out.extend_from_slice(event);
                            out.extend_from_slice(b"\r\n");
                            if sock.write_all(&out).await.is_err() {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        return;
                    }
                    if head.starts_with("POST /login") {
                        let _ = sock
                            .write_all(
                                b"HTTP/1.1 303 See Other\r\nLocation: /\r\n\
                                  Set-Cookie: fm_session=s1; HttpOnly; SameSite=Strict\r\n\
                                  Content-Length: 0\r\n\r\n",
                            )
                            .await;
                        continue;
                    }
                    let authorized = head.contains("Authorization: Basic ");
                    let body = if authorized {
                        "{\"items\":[1,2,3]}"
                    } else {
                        "{\"error\":{}}"
                    };
                    let close = served % 3 == 0;
                    let resp = format!(
                        "HTTP/1.1 {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}\r\n{body}",
                        if authorized { "200 OK" } else { "401 Unauthorized" },
                        body.len(),
                        if close { "Connection: close\r\n" } else { "" }
                    );
                    if sock.write_all(resp.as_bytes()).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn api_load_counts_every_request_across_reconnects() {
    let addr = fake_server().await;
    let opts = ApiBenchOptions {
        target: addr.to_string(),
        user: "admin@x.test".into(),
        password: "p".into(),
        requests: 60,
        concurrency: 3,
        paths: vec!["/a".into(), "/b".into()],
        server_pids: vec![std::process::id()],
        timeout: Duration::from_secs(30),
        ..ApiBenchOptions::default()
    };
    let r = api_load(&opts).await.expect("runs");
    assert_eq!(r.answered, 60, "{:?}", r.errors);
    assert_eq!(r.failed, 0);
    assert_eq!(r.all.ok, 60);
    assert_eq!(r.paths.len(), 2);
    assert_eq!((r.paths[0].requests, r.paths[1].requests), (30, 30));
    assert_eq!(r.paths[0].mean_body_bytes, Some(17.0));
    assert!(r.server_cpu_s.is_some());
    let text = r.render();
    assert!(text.contains("requests/s:"), "{text}");
    assert!(text.contains("/b: 30 requests, 30 2xx"), "{text}");
    let last = text.lines().last().expect("lines");
    let json: serde_json::Value =
        serde_json::from_str(last.strip_prefix("RESULT ").expect("RESULT")).expect("json");
    assert_eq!(json["answered"], 60);
}

#[tokio::test]
async fn sse_logs_in_and_counts_events_of_every_stream() {
    let addr = fake_server().await;
    let opts = ApiBenchOptions {
        target: addr.to_string(),
        user: "admin@x.test".into(),
        password: "p".into(),
        dashboards: 3,
        seconds: 1,
        server_pids: vec![std::process::id()],
        timeout: Duration::from_secs(30),
        ..ApiBenchOptions::default()
    };
    let r = sse_cost(&opts).await.expect("runs");
    assert_eq!(r.dashboards_open, 3, "{:?}", r.errors);
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    // Each stream was open for at least the measured second plus the half-second wait
    // and gets an event at once and then every 50 ms: at least one each.
    assert!(r.events >= 3, "{} events", r.events);
    assert!(r.bytes >= r.events * 20 && r.bytes < (r.events + 3) * 20);
    assert!(r.per_dashboard_core_pct.is_some());
    assert!(r.render().contains("per open dashboard:"));
}
