//! The control socket (`data_dir/control.sock`): how the console and the one-shot CLI reach
//! the running server, which alone owns the store (docs/architecture.md §4).
//!
//! Protocol: newline-delimited JSON over a Unix stream socket. The client sends one request per
//! line, `{"line":"account add bob@x --password pw"}`, and reads one response per line,
//! `{"ok":true,"output":"..."}` (newlines in `output` are JSON-escaped, so a response is always
//! one line). Requests are answered in order; a connection may carry any number of them.
//! A request line longer than [`MAX_REQUEST_LINE`] or not valid JSON gets `ok: false` and the
//! connection lives on. A long command (`calendar import`) may send progress lines,
//! `{"progress":"import: 1200/10000"}`, before its response; clients that do not show them
//! skip them ([`client_request`] does).

/// A progress line of a long command (module documentation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlProgress {
    pub progress: String,
}

/// Where a command running for the socket sends its progress lines.
pub type ProgressSender = tokio::sync::mpsc::UnboundedSender<String>;

use std::future::Future;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};

/// Bound on one request line (JSON included), checked before it is buffered.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;
/// Bound on one response line read by the client (queue listings can be long).
pub const MAX_RESPONSE_LINE: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    pub line: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlResponse {
    pub ok: bool,
    pub output: String,
}

impl ControlResponse {
    pub fn ok(output: impl Into<String>) -> Self {
        ControlResponse {
            ok: true,
            output: output.into(),
        }
    }

    pub fn error(output: impl Into<String>) -> Self {
        ControlResponse {
            ok: false,
            output: output.into(),
        }
    }
}

fn to_json_line<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    let mut out = serde_json::to_vec(value).map_err(io::Error::other)?;
    out.push(b'\n');
    Ok(out)
}

/// Sends one request and waits for its response (blocking). `timeout` bounds each read
/// and write.
pub fn client_request(socket: &Path, line: &str, timeout: Duration) -> io::Result<ControlResponse> {
    client_request_with_progress(socket, line, timeout, &mut |_| {})
}

/// [`client_request`], passing each progress line to `on_progress` as it comes.
pub fn client_request_with_progress(
    socket: &Path,
    line: &str,
    timeout: Duration,
    on_progress: &mut dyn FnMut(&str),
) -> io::Result<ControlResponse> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let request = ControlRequest {
        line: line.to_string(),
    };
    stream.write_all(&to_json_line(&request)?)?;
    stream.flush()?;
    let mut reader = BufReader::new(stream);
    // Progress lines, then the response; the server ends each command with its response.
    loop {
        let mut response = Vec::new();
        (&mut reader)
            .take(MAX_RESPONSE_LINE)
            .read_until(b'\n', &mut response)?;
        if response.last() != Some(&b'\n') {
            let why = if response.len() as u64 >= MAX_RESPONSE_LINE {
                "response too long"
            } else {
                "connection closed before the response"
            };
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, why));
        }
        if let Ok(p) = serde_json::from_slice::<ControlProgress>(&response) {
            on_progress(&p.progress);
            continue;
        }
        return serde_json::from_slice(&response)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e));
    }
}

/// One request line read from the socket.
enum Incoming {
    Line(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads up to and including `\n` without ever buffering more than [`MAX_REQUEST_LINE`]
/// bytes; an over-long line is consumed to its end and reported as `TooLong`.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Incoming> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            // EOF: a final line without '\n' still counts.
            return Ok(match (too_long, line.is_empty()) {
                (true, _) => Incoming::TooLong,
                (false, true) => Incoming::Eof,
                (false, false) => Incoming::Line(line),
            });
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..=i], true),
            None => (buf, false),
        };
        let n = chunk.len();
        if !too_long && line.len() + n <= MAX_REQUEST_LINE {
            line.extend_from_slice(chunk);
        } else {
            too_long = true;
            line.clear();
        }
        r.consume(n);
        if done {
            return Ok(if too_long {
                Incoming::TooLong
            } else {
                Incoming::Line(line)
            });
        }
    }
}

/// Serves one accepted connection until the client closes it: each request line is passed to
/// `handler` and its response written back. Blank lines are ignored.
pub async fn serve_connection<F, Fut>(
    stream: tokio::net::UnixStream,
    mut handler: F,
) -> io::Result<()>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = ControlResponse>,
{
    serve_connection_with_progress(stream, move |line, _| handler(line)).await
}

/// [`serve_connection`] whose handler may send progress lines while it runs: they are
/// written as they come, before its response.
pub async fn serve_connection_with_progress<F, Fut>(
    stream: tokio::net::UnixStream,
    mut handler: F,
) -> io::Result<()>
where
    F: FnMut(String, ProgressSender) -> Fut,
    Fut: Future<Output = ControlResponse>,
{
    let (read, mut write) = stream.into_split();
    let mut reader = tokio::io::BufReader::new(read);
    loop {
        let response = match read_request(&mut reader).await? {
            Incoming::Eof => return Ok(()),
            Incoming::TooLong => {
                ControlResponse::error(format!("request too long (limit {MAX_REQUEST_LINE} bytes)"))
            }
            Incoming::Line(bytes) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<ControlRequest>(&bytes) {
                    Ok(req) => {
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                        let run = handler(req.line, tx);
                        tokio::pin!(run);
                        let response = loop {
                            tokio::select! {
                                r = &mut run => break r,
                                Some(p) = rx.recv() => {
                                    let line = to_json_line(&ControlProgress { progress: p })?;
                                    write.write_all(&line).await?;
                                    write.flush().await?;
                                }
                            }
                        };
                        response
                    }
                    Err(e) => ControlResponse::error(format!(
                        "bad request: {e} (expected {{\"line\":\"...\"}})"
                    )),
                }
            }
        };
        write.write_all(&to_json_line(&response)?).await?;
        write.flush().await?;
    }
}
