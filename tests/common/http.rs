//! A tiny HTTP/1.1 client for tests of the web listeners: one request per connection
//! (`Connection: close`), plain or over TLS (any certificate: the test server's is
//! self-signed), on a raw socket, with a bounded read. Plus helpers for cookies.

// Each test binary uses part of it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a read may wait before the request fails (a bound, not an expectation).
pub const READ_BOUND: Duration = Duration::from_secs(30);

/// An answer.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    /// Header names lowercase, in the order received (a name may repeat: Set-Cookie).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name`.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// The whole `Set-Cookie` line that sets cookie `name` (to check its attributes).
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.header_all("set-cookie")
            .into_iter()
            .find(|line| cookie_pair(line).is_some_and(|(n, _)| n == name))
    }

    /// The value the answer gives cookie `name` (empty when it removes it).
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookie(name)
            .and_then(cookie_pair)
            .map(|(_, v)| v.to_string())
    }
}

/// `name=value` of a Set-Cookie line.
fn cookie_pair(line: &str) -> Option<(&str, &str)> {
    let first = line.split(';').next()?.trim();
    first.split_once('=')
}

/// A `Cookie` request header value for these cookies.
pub fn cookie_header(cookies: &[(&str, &str)]) -> String {
    cookies
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Authorization: Basic` for a login and password.
pub fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{login}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Sends one request and reads the answer. `headers` are added to Host, Connection and
/// (with a body) Content-Length.
pub fn request(
    addr: SocketAddr,
    tls: bool,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let sock = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    sock.set_read_timeout(Some(READ_BOUND)).expect("timeout");
    sock.set_write_timeout(Some(READ_BOUND)).expect("timeout");
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost:{}\r\nConnection: close\r\n",
        addr.port()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || !matches!(method, "GET" | "HEAD") {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    let raw = if tls {
        let config = ferrymail::net::client_tls::client_config(false).expect("TLS config");
        let name = ferrymail::net::client_tls::server_name("localhost");
        let conn = rustls::ClientConnection::new(config, name).expect("TLS client");
        let mut stream = rustls::StreamOwned::new(conn, sock);
        stream.write_all(&out).expect("write");
        read_all(&mut stream)
    } else {
        let mut sock = sock;
        sock.write_all(&out).expect("write");
        read_all(&mut sock)
    };
    parse(&raw, method == "HEAD")
}

/// Reads until the peer closes (a TLS peer that closes without close_notify still ends
/// the answer).
fn read_all(stream: &mut impl Read) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !raw.is_empty() => break,
            Err(e) => panic!("read: {e} (after {} bytes)", raw.len()),
        }
    }
    raw
}

/// Parses a whole HTTP/1.x answer (Content-Length, chunked, or to the end).
pub fn parse(raw: &[u8], head_only: bool) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let rest = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    // A HEAD answer has no body whatever its Content-Length says (RFC 9110 §9.3.2): what
    // follows its head is kept as the body, so a test can see that nothing did.
    let body = if head_only {
        rest.to_vec()
    } else if get("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)
    } else if let Some(len) = get("content-length").and_then(|l| l.parse::<usize>().ok()) {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    // Each round consumes one chunk; a body has fewer chunks than bytes.
    for _ in 0..=rest.len() {
        let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = String::from_utf8_lossy(&rest[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or_else(|_| panic!("bad chunk size {size_text:?}"));
        rest = &rest[eol + 2..];
        if size == 0 {
            break;
        }
        body.extend_from_slice(&rest[..size.min(rest.len())]);
        rest = &rest[(size + 2).min(rest.len())..];
    }
    body
}

/// `GET path` without extra headers.
pub fn get(addr: SocketAddr, tls: bool, path: &str) -> Response {
    request(addr, tls, "GET", path, &[], b"")
}
