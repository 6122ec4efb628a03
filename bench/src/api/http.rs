//! A minimal HTTP/1.1 client for load: one keep-alive connection, requests one after the
//! other (no pipelining), bodies by `Content-Length` or chunked (RFC 9112 §6, §7.1).
//!
//! Every read is bounded by the timeout, the head by [`MAX_HEAD`] and a body by
//! [`MAX_BODY`], so a misbehaving server can neither stall nor flood the bench. The
//! parsing is in plain functions ([`parse_head`], [`Chunked`], [`SseCounter`]) so that
//! it is tested without a network.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::{ConnError, Endpoint, Io};

/// Largest response head accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// Largest response body accepted.
pub const MAX_BODY: usize = 64 * 1024 * 1024;

/// A response's status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub version: String,
    pub status: u16,
    /// Field names in lower case, values trimmed, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of field `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Whether the body is sent in chunks (the last transfer coding is `chunked`).
    pub fn chunked(&self) -> bool {
        self.header("transfer-encoding").is_some_and(|v| {
            v.rsplit(',')
                .next()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"))
        })
    }

    /// `Content-Length`, if present and a number.
    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length")?.trim().parse().ok()
    }

    /// Whether the server keeps the connection open after this response.
    pub fn keep_alive(&self) -> bool {
        let connection = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if connection.split(',').any(|t| t.trim() == "close") {
            return false;
        }
        self.version != "HTTP/1.0" || connection.split(',').any(|t| t.trim() == "keep-alive")
    }

    /// The `name=value` part of every `Set-Cookie` field, for a `Cookie` header.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .filter_map(|(_, v)| v.split(';').next())
            .map(|c| c.trim().to_string())
            .filter(|c| c.contains('='))
            .collect()
    }
}

/// Parses a response head at the start of `buf`: `Ok(None)` while incomplete, else the
/// head and its length in bytes (up to and including the blank line).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, String> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() > MAX_HEAD {
            return Err(format!("response head longer than {MAX_HEAD} bytes"));
        }
        return Ok(None);
    };
    let text = std::str::from_utf8(&buf[..end]).map_err(|_| "response head is not UTF-8")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(format!("not an HTTP/1.x status line: {status_line:?}"));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| format!("bad status in {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("header line without a colon: {line:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Some((
        Head {
            version: version.to_string(),
            status,
            headers,
        },
        end + 4,
    )))
}

/// Where a chunked decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a `SIZE[;ext]\r\n` line.
    Size,
    /// This many data bytes to go.
    Data(usize),
    /// The `\r\n` after a chunk's data.
    DataEnd,
    /// Trailer lines after the last (zero) chunk, up to the blank line.
    Trailer,
    Done,
}

/// An incremental decoder of a chunked body: feed it what arrives, it appends the data.
#[derive(Debug, Clone)]
pub struct Chunked {
    state: ChunkState,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: ChunkState::Size,
        }
    }
}

impl Chunked {
    /// Whether the last chunk and the trailer have been read.
    pub fn done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Decodes from `input` into `out`; returns the bytes consumed. Bytes of an
    /// incomplete line stay unconsumed (the caller keeps them for the next call).
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, String> {
        let mut pos = 0;
        loop {
            let rest = &input[pos..];
            match self.state {
                ChunkState::Done => return Ok(pos),
                ChunkState::Size | ChunkState::Trailer | ChunkState::DataEnd => {
                    let Some(nl) = rest.windows(2).position(|w| w == b"\r\n") else {
                        if rest.len() > 4096 {
                            return Err("chunk line longer than 4096 bytes".into());
                        }
                        return Ok(pos);
                    };
                    let line = &rest[..nl];
                    pos += nl + 2;
                    self.state = match self.state {
                        ChunkState::DataEnd if line.is_empty() => ChunkState::Size,
                        ChunkState::DataEnd => return Err("no CRLF after chunk data".into()),
                        ChunkState::Trailer if line.is_empty() => ChunkState::Done,
                        ChunkState::Trailer => ChunkState::Trailer,
                        _ => match chunk_size(line)? {
                            0 => ChunkState::Trailer,
                            n => ChunkState::Data(n),
                        },
                    };
                }
                ChunkState::Data(left) => {
                    if rest.is_empty() {
                        return Ok(pos);
                    }
                    let take = left.min(rest.len());
                    if out.len() + take > MAX_BODY {
                        return Err(format!("body longer than {MAX_BODY} bytes"));
                    }
                    out.extend_from_slice(&rest[..take]);
                    pos += take;
                    self.state = if take == left {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left - take)
                    };
                }
            }
        }
    }
}

/// The hexadecimal size of a chunk line, extensions (`;…`) ignored.
fn chunk_size(line: &[u8]) -> Result<usize, String> {
    let text = std::str::from_utf8(line).map_err(|_| "chunk size is not ASCII")?;
    let hex = text.split(';').next().unwrap_or("").trim();
    let n = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
    if n > MAX_BODY {
        return Err(format!("chunk of {n} bytes"));
    }
    Ok(n)
}

/// Counts server-sent events (WHATWG HTML §9.2): an event ends at a blank line. Fed the
/// decoded stream piece by piece; a line end split across pieces still counts once.
#[derive(Debug, Clone, Default)]
pub struct SseCounter {
    /// The line so far is empty (just after a line end, or at the very start).
    at_line_start: bool,
    /// The current event has at least one line.
    in_event: bool,
    /// The last byte was CR (a following LF belongs to the same line end).
    after_cr: bool,
    pub events: u64,
    pub bytes: u64,
}

impl SseCounter {
    pub fn new() -> Self {
        SseCounter {
            at_line_start: true,
            ..SseCounter::default()
        }
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        for &b in data {
            if b == b'\n' && self.after_cr {
                self.after_cr = false;
                continue;
            }
            self.after_cr = b == b'\r';
            if b == b'\n' || b == b'\r' {
                if self.at_line_start {
                    if self.in_event {
                        self.events += 1;
                        self.in_event = false;
                    }
                } else {
                    self.in_event = true;
                }
                self.at_line_start = true;
            } else {
                self.at_line_start = false;
            }
        }
    }
}

/// A request to send: method, target path, header fields and body.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub headers: &'a [(&'a str, String)],
    pub body: Option<(&'a str, &'a [u8])>,
}

/// The bytes of `req` for host `host`, asking for keep-alive.
pub fn encode_request(req: &Request<'_>, host: &str) -> Vec<u8> {
    let mut out = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nConnection: keep-alive\r\n",
        req.method, req.path
    );
    for (name, value) in req.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some((content_type, body)) = req.body {
        out.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if let Some((_, body)) = req.body {
        bytes.extend_from_slice(body);
    }
    bytes
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Response {
    pub head: Head,
    pub body: Vec<u8>,
}

/// One connection to the server.
pub struct HttpConn {
    io: Box<dyn Io>,
    buf: Vec<u8>,
    host: String,
    timeout: std::time::Duration,
    /// False once the server said it closes the connection.
    pub reusable: bool,
}

impl HttpConn {
    /// Connects (and does the TLS handshake when the endpoint asks for it).
    pub async fn connect(endpoint: &Endpoint, host: &str) -> Result<HttpConn, ConnError> {
        Ok(HttpConn {
            io: endpoint.open().await?,
            buf: Vec::with_capacity(16 * 1024),
            host: host.to_string(),
            timeout: endpoint.timeout,
            reusable: true,
        })
    }

    /// Sends `req` and reads the whole response.
    pub async fn request(&mut self, req: &Request<'_>) -> Result<Response, ConnError> {
        let head = self.send_and_read_head(req).await?;
        let body = self.read_body(&head).await?;
        self.reusable = head.keep_alive();
        Ok(Response { head, body })
    }

    /// Sends `req` and reads the response head only (for a stream that follows).
    pub async fn send_and_read_head(&mut self, req: &Request<'_>) -> Result<Head, ConnError> {
        let bytes = encode_request(req, &self.host);
        let timeout = self.timeout;
        let write = async {
            self.io.write_all(&bytes).await?;
            self.io.flush().await
        };
        tokio::time::timeout(timeout, write)
            .await
            .map_err(|_| ConnError::Timeout("request write"))??;
        loop {
            if let Some((head, len)) = parse_head(&self.buf).map_err(ConnError::Malformed)? {
                self.buf.drain(..len);
                return Ok(head);
            }
            self.fill("response head").await?;
        }
    }

    /// Reads more bytes into the buffer; the connection closing is an error.
    async fn fill(&mut self, what: &'static str) -> Result<(), ConnError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = tokio::time::timeout(self.timeout, self.io.read(&mut chunk))
            .await
            .map_err(|_| ConnError::Timeout(what))??;
        if n == 0 {
            return Err(ConnError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The body after `head` (none for 1xx, 204 and 304).
    async fn read_body(&mut self, head: &Head) -> Result<Vec<u8>, ConnError> {
        if head.status < 200 || head.status == 204 || head.status == 304 {
            return Ok(Vec::new());
        }
        if head.chunked() {
            let mut decoder = Chunked::default();
            let mut body = Vec::new();
            loop {
                let used = decoder
                    .feed(&self.buf, &mut body)
                    .map_err(ConnError::Malformed)?;
                self.buf.drain(..used);
                if decoder.done() {
                    return Ok(body);
                }
                self.fill("response body").await?;
            }
        }
        let Some(len) = head.content_length() else {
            return Err(ConnError::Malformed(
                "response without Content-Length or chunked coding".into(),
            ));
        };
        if len > MAX_BODY {
            return Err(ConnError::Malformed(format!("body of {len} bytes")));
        }
        while self.buf.len() < len {
            self.fill("response body").await?;
        }
        Ok(self.buf.drain(..len).collect())
    }

    /// Reads a chunked stream after `head` into `counter` until `stop` resolves; errors
    /// if the stream ends or breaks first.
    pub async fn stream_until(
        &mut self,
        counter: &mut SseCounter,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(), ConnError> {
        tokio::pin!(stop);
        let mut decoder = Chunked::default();
        let mut data = Vec::new();
        loop {
            let used = decoder
                .feed(&self.buf, &mut data)
                .map_err(ConnError::Malformed)?;
            self.buf.drain(..used);
            counter.feed(&data);
            data.clear();
            if decoder.done() {
                return Err(ConnError::Closed);
            }
            let mut chunk = [0u8; 8 * 1024];
            tokio::select! {
                _ = &mut stop => return Ok(()),
                read = self.io.read(&mut chunk) => {
                    let n = read?;
                    if n == 0 {
                        return Err(ConnError::Closed);
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
}

/// `Authorization: Basic …` for `user:password` (RFC 7617).
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
