//! The SMTP sink of `bench relay`: the "remote" server the relay under test delivers to.
//!
//! It is fast and correct rather than complete: EHLO (PIPELINING, 8BITMIME, SIZE,
//! ENHANCEDSTATUSCODES), HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; every MAIL and RCPT is
//! taken, every message is read to its end (RFC 5321 §4.5.2, dot-unstuffing is not needed
//! to count) and answered 250. Replies to pipelined commands (RFC 2920) go out in one write
//! when the client has nothing more in flight. Each message's Message-ID is matched against
//! the run: a message of this run counts once (a second copy counts as a duplicate), any
//! other message counts apart. Lines are bounded; every read has a timeout.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// Longest line taken, command or content (RFC 5321 §4.5.3.1.6 asks for 1000).
const MAX_LINE: usize = 64 * 1024;
/// A client silent this long is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// What the sink has received so far.
#[derive(Debug, Default)]
pub struct SinkCounts {
    /// Distinct messages of this run.
    pub messages: AtomicU64,
    /// Content bytes of every message taken (as sent, with dot-stuffing).
    pub bytes: AtomicU64,
    /// Messages of this run that had already arrived once.
    pub duplicates: AtomicU64,
    /// Messages not of this run.
    pub other: AtomicU64,
    pub connections: AtomicU64,
    /// When the last new message of this run arrived.
    last: Mutex<Option<Instant>>,
    seen: Mutex<HashSet<String>>,
}

impl SinkCounts {
    pub fn last_arrival(&self) -> Option<Instant> {
        *self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one message whose Message-ID is `id` (if it had one).
    fn record(&self, marker: &str, id: Option<&str>, bytes: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let Some(id) = id.filter(|id| id.contains(marker)) else {
            self.other.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let new = self
            .seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string());
        if new {
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            self.messages.fetch_add(1, Ordering::Relaxed);
        } else {
            self.duplicates.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A sink listening on `listener`; messages whose Message-ID contains `marker` are this
/// run's. Runs until the runtime ends.
pub fn spawn(listener: TcpListener, marker: String) -> Arc<SinkCounts> {
    let counts = Arc::new(SinkCounts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        let marker: Arc<str> = marker.into();
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                // Out of descriptors or the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            c.connections.fetch_add(1, Ordering::Relaxed);
            let (c, m) = (c.clone(), marker.clone());
            tokio::spawn(async move {
                let _ = session(sock, &c, &m).await;
            });
        }
    });
    counts
}

enum Read {
    Line,
    Eof,
}

/// Reads one line (with its CRLF) into `line`; bounded in length and time.
async fn read_line(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
) -> std::io::Result<Read> {
    line.clear();
    let n = tokio::time::timeout(READ_TIMEOUT, async {
        loop {
            let buf = r.fill_buf().await?;
            if buf.is_empty() {
                return Ok::<_, std::io::Error>(line.len());
            }
            match buf.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&buf[..=i]);
                    r.consume(i + 1);
                    return Ok(line.len());
                }
                None => {
                    let k = buf.len();
                    line.extend_from_slice(buf);
                    r.consume(k);
                }
            }
            if line.len() > MAX_LINE {
                return Err(std::io::Error::other("line too long"));
            }
        }
    })
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "client silent"))??;
    Ok(if n == 0 { Read::Eof } else { Read::Line })
}

async fn session(sock: TcpStream, counts: &SinkCounts, marker: &str) -> std::io::Result<()> {
    let _ = sock.set_nodelay(true);
    let (r, w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut w = BufWriter::new(w);
    w.write_all(b"220 sink.bench ESMTP\r\n").await?;
    w.flush().await?;
    let mut line = Vec::with_capacity(256);
    loop {
        if let Read::Eof = read_line(&mut r, &mut line).await? {
            return Ok(());
        }
        let verb: String = line
            .iter()
            .take_while(|b| b.is_ascii_alphabetic())
            .map(|b| b.to_ascii_uppercase() as char)
            .collect();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE 104857600\r\n250 ENHANCEDSTATUSCODES\r\n",
            "HELO" => b"250 sink.bench\r\n",
            "MAIL" | "RCPT" | "RSET" | "NOOP" => b"250 2.0.0 ok\r\n",
            "DATA" => {
                w.write_all(b"354 go ahead\r\n").await?;
                w.flush().await?;
                let (id, bytes) = read_content(&mut r, &mut line).await?;
                counts.record(marker, id.as_deref(), bytes);
                b"250 2.0.0 ok\r\n"
            }
            "QUIT" => {
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return w.flush().await;
            }
            _ => b"502 5.5.2 not implemented\r\n",
        };
        w.write_all(reply).await?;
        // RFC 2920 §3.2: replies may wait while more pipelined commands are buffered.
        if r.buffer().is_empty() {
            w.flush().await?;
        }
    }
}

/// Reads message content up to the lone "."; its Message-ID (from the header section) and
/// size in bytes.
async fn read_content(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    line: &mut Vec<u8>,
) -> std::io::Result<(Option<String>, u64)> {
    let mut id = None;
    let mut in_header = true;
    let mut bytes = 0u64;
    loop {
        if let Read::Eof = read_line(r, line).await? {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line.as_slice() == b".\r\n" || line.as_slice() == b".\n" {
            return Ok((id, bytes));
        }
        bytes += line.len() as u64;
        if in_header {
            if line.as_slice() == b"\r\n" || line.as_slice() == b"\n" {
                in_header = false;
            } else if line.len() > 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
                id = Some(String::from_utf8_lossy(&line[11..]).trim().to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn takes_pipelined_messages_and_counts_this_runs_once() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counts = spawn(listener, "bench.00ff.".into());
        let mut c = TcpStream::connect(addr).await.expect("connect");
        let msg = |id: &str| {
            format!(
                "MAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n\
                 Message-ID: <{id}>\r\nSubject: x\r\n\r\n..dot\r\nbody\r\n.\r\n"
            )
        };
        let script = format!(
            "EHLO me\r\n{}{}{}QUIT\r\n",
            msg("bench.00ff.1.1@x"),
            msg("bench.00ff.1.1@x"),
            msg("other@x")
        );
        c.write_all(script.as_bytes()).await.expect("write");
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(10), c.read_to_string(&mut out))
            .await
            .expect("sink answered in time")
            .expect("read");
        assert!(out.starts_with("220 "), "{out}");
        assert!(out.contains("250-PIPELINING"), "{out}");
        assert_eq!(out.matches("354 ").count(), 3, "{out}");
        assert!(out.ends_with("221 2.0.0 bye\r\n"), "{out}");
        assert_eq!(counts.messages.load(Ordering::Relaxed), 1);
        assert_eq!(counts.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(counts.other.load(Ordering::Relaxed), 1);
        assert!(counts.last_arrival().is_some());
        // Each message's content: "Message-ID…", "Subject: x", "", "..dot", "body".
        assert!(counts.bytes.load(Ordering::Relaxed) > 3 * 30);
    }
}
