//! A small HTTPS GET for MTA-STS policy files (RFC 8461 §3.3): HTTP/1.0 (so no chunked
//! bodies), no redirects followed, certificate checked against the given roots and host name,
//! every step under one deadline, the response bounded in size.

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::dns::{self, Resolver};
use super::tls::{client_config, server_name, TlsPolicy};

/// What a GET may take.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub timeout: Duration,
    /// Largest body accepted (RFC 8461 §3.3 suggests 64 KiB for a policy).
    pub max_body: usize,
}

/// The body of `https://host:port/path` when the answer is 200 with a `text/plain` type
/// (`want_type`); an error in one line otherwise.
pub async fn get(
    resolver: &Resolver,
    host: &str,
    port: u16,
    path: &str,
    roots: Arc<RootCertStore>,
    limits: Limits,
) -> Result<String, String> {
    match tokio::time::timeout(
        limits.timeout,
        fetch(resolver, host, port, path, roots, limits),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(format!(
            "https://{host}{path}: no answer within {}s",
            limits.timeout.as_secs()
        )),
    }
}

async fn fetch(
    resolver: &Resolver,
    host: &str,
    port: u16,
    path: &str,
    roots: Arc<RootCertStore>,
    limits: Limits,
) -> Result<String, String> {
    let addrs = dns::socket_addrs(resolver, host, port)
        .await
        .map_err(|e| e.to_string())?;
    let mut last = format!("{host}: no address");
    for addr in addrs.into_iter().take(4) {
        let tcp = match TcpStream::connect(addr).await {
            Ok(t) => t,
            Err(e) => {
                last = format!("connect to {addr}: {e}");
                continue;
            }
        };
        let config = client_config(&TlsPolicy::Verified(roots.clone()))?;
        let mut tls = TlsConnector::from(config)
            .connect(server_name(host)?, tcp)
            .await
            .map_err(|e| format!("TLS with {host}: {e}"))?;
        let request = format!(
            "GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: Ferrymail\r\nAccept: text/plain\r\n\r\n"
        );
        tls.write_all(request.as_bytes())
            .await
            .map_err(|e| format!("write to {host}: {e}"))?;
        let raw = read_bounded(&mut tls, limits.max_body + 8 * 1024).await?;
        return parse_response(&raw, limits.max_body);
    }
    Err(last)
}

/// Reads to the end of the response or `max` bytes. A peer that closes without TLS
/// close_notify still ends the body (HTTP/1.0 responses end with the connection).
async fn read_bounded(r: &mut (impl AsyncReadExt + Unpin), max: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while out.len() <= max {
        match r.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => break,
            Err(e) => return Err(format!("read: {e}")),
        }
    }
    Ok(out)
}

/// The body of an HTTP/1.x response that is 200 and text/plain, within `max_body`.
pub fn parse_response(raw: &[u8], max_body: usize) -> Result<String, String> {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no complete HTTP header")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_ascii_whitespace().nth(1).unwrap_or_default();
    if !status.starts_with("HTTP/1.") || code != "200" {
        // RFC 8461 §3.3: redirects are not followed; anything but 200 is a failure.
        return Err(format!("HTTP status {status:?}"));
    }
    let mut content_type = None;
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = Some(v.trim().to_ascii_lowercase()),
                "content-length" => length = v.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    // RFC 8461 §3.2: the media type is "text/plain" (parameters such as charset allowed).
    let media = content_type.unwrap_or_default();
    if media.split(';').next().map(str::trim) != Some("text/plain") {
        return Err(format!("content type {media:?}, not text/plain"));
    }
    let body = match length {
        Some(n) if n <= body.len() => &body[..n],
        Some(n) => {
            return Err(format!(
                "body shorter ({}) than Content-Length {n}",
                body.len()
            ))
        }
        None => body,
    };
    if body.len() > max_body {
        return Err(format!("body larger than {max_body} bytes"));
    }
    String::from_utf8(body.to_vec()).map_err(|_| "body is not UTF-8".to_string())
}

#[cfg(test)]
mod tests {
    use super::parse_response;

    #[test]
    fn responses() {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 5\r\n\r\nhello!!";
        assert_eq!(parse_response(ok, 100).as_deref(), Ok("hello"));
        let no_len = b"HTTP/1.0 200 OK\r\ncontent-type: TEXT/PLAIN\r\n\r\nbody";
        assert_eq!(parse_response(no_len, 100).as_deref(), Ok("body"));
        let redirect = b"HTTP/1.1 301 Moved\r\nLocation: https://x/\r\n\r\n";
        assert!(parse_response(redirect, 100).is_err(), "not followed");
        let html = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<p>";
        assert!(parse_response(html, 100).is_err());
        let big = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n0123456789";
        assert!(parse_response(big, 5).is_err());
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\n", 5).is_err(),
            "no header end"
        );
        let short = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nab";
        assert!(parse_response(short, 100).is_err());
    }
}
