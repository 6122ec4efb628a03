//! A scripted SMTP server for tests (the "remote MX"): 127.0.0.1 port 0, plain TCP, EHLO
//! with PIPELINING, SIZE, 8BITMIME and (optionally) DSN. RCPT replies come from a per-address
//! table (default 250); each DATA's final reply comes from a queue the test fills (default
//! 250). Every accepted message is recorded. It stops when dropped; every wait is bounded.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrymail::actors::supervisor::lock;

/// One message the sink accepted (its final reply was 2xx) or refused.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    /// The full MAIL FROM line (to check parameters).
    pub mail_line: String,
    pub rcpt_lines: Vec<String>,
    /// The recipients accepted.
    pub rcpts: Vec<String>,
    pub data: String,
    pub reply: String,
}

#[derive(Default)]
struct Script {
    rcpt: HashMap<String, String>,
    data: VecDeque<String>,
    dsn: bool,
    /// Close the connection after reading the content, without a reply (a crash).
    vanish_after_data: usize,
}

pub struct Sink {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
    pub connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sink {
    pub fn start() -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind sink");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let script: Arc<Mutex<Script>> = Arc::default();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, r, c, st) = (
            script.clone(),
            received.clone(),
            connections.clone(),
            stop.clone(),
        );
        let thread = std::thread::spawn(move || accept_loop(listener, s, r, c, st));
        Sink {
            addr,
            script,
            received,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// RCPT TO `address` is answered with `reply` (e.g. "550 5.1.1 no such user").
    pub fn rcpt_reply(&self, address: &str, reply: &str) {
        lock(&self.script)
            .rcpt
            .insert(address.to_ascii_lowercase(), reply.to_string());
    }

    /// The next DATA is answered with `reply` (then the default 250 again).
    pub fn next_data_reply(&self, reply: &str) {
        lock(&self.script).data.push_back(reply.to_string());
    }

    pub fn offer_dsn(&self, on: bool) {
        lock(&self.script).dsn = on;
    }

    /// The next `n` connections close right after the message content, unanswered.
    pub fn vanish_after_data(&self, n: usize) {
        lock(&self.script).vanish_after_data = n;
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// Accepted messages (final reply 2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.reply.starts_with('2'))
            .collect()
    }

    /// Waits (bounded) until `n` messages were accepted.
    pub fn wait_accepted(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.accepted();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) until `n` DATA transactions ended, accepted or not.
    pub fn wait_received(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) {
    let mut sessions = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((sock, _)) => {
                connections.fetch_add(1, Ordering::SeqCst);
                let (s, r, st) = (script.clone(), received.clone(), stop.clone());
                sessions.push(std::thread::spawn(move || {
                    let _ = session(sock, s, r, st);
                }));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for s in sessions {
        let _ = s.join();
    }
}

fn session(
    sock: TcpStream,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut out = sock.try_clone()?;
    let mut reader = BufReader::new(sock);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let mut tx: Option<Received> = None;
    let started = Instant::now();
    // A partial line read before a timeout stays here for the next read.
    let mut line = String::new();
    loop {
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(60) {
            return Ok(());
        }
        let cmd = match next_line(&mut reader, &mut line)? {
            Line::Eof => return Ok(()),
            Line::NotYet => continue,
            Line::Full(l) => l.trim_end().to_string(),
        };
        let upper = cmd.to_ascii_uppercase();
        let reply = if upper.starts_with("EHLO") {
            let dsn = if lock(&script).dsn { "250-DSN\r\n" } else { "" };
            format!("250-sink.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n{dsn}250 8BITMIME\r\n")
        } else if upper.starts_with("MAIL FROM:") {
            let from = between(&cmd, '<', '>');
            tx = Some(Received {
                mail_from: from,
                mail_line: cmd.clone(),
                rcpt_lines: Vec::new(),
                rcpts: Vec::new(),
                data: String::new(),
                reply: String::new(),
            });
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let to = between(&cmd, '<', '>');
            let r = lock(&script)
                .rcpt
                .get(&to.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| "250 2.1.5 ok".into());
            if let Some(t) = tx.as_mut() {
                t.rcpt_lines.push(cmd.clone());
                if r.starts_with('2') {
                    t.rcpts.push(to);
                }
            }
            format!("{r}\r\n")
        } else if upper == "DATA" {
            match tx.as_ref() {
                Some(t) if !t.rcpts.is_empty() => {
                    out.write_all(b"354 go ahead\r\n")?;
                    let data = read_data(&mut reader)?;
                    let vanish = {
                        let mut s = lock(&script);
                        let v = s.vanish_after_data > 0;
                        s.vanish_after_data = s.vanish_after_data.saturating_sub(1);
                        v
                    };
                    if vanish {
                        return Ok(());
                    }
                    let r = lock(&script)
                        .data
                        .pop_front()
                        .unwrap_or_else(|| "250 2.0.0 ok queued".into());
                    if let Some(mut t) = tx.take() {
                        t.data = data;
                        t.reply = r.clone();
                        lock(&received).push(t);
                    }
                    format!("{r}\r\n")
                }
                _ => "554 5.5.1 no valid recipients\r\n".into(),
            }
        } else if upper == "RSET" {
            tx = None;
            "250 2.0.0 ok\r\n".into()
        } else if upper == "QUIT" {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        out.write_all(reply.as_bytes())?;
    }
}

enum Line {
    Full(String),
    /// The read timed out; a partial line stays in the buffer.
    NotYet,
    Eof,
}

/// One line, or a timeout (which keeps what was read of a partial line in `partial`).
fn next_line(reader: &mut impl BufRead, partial: &mut String) -> std::io::Result<Line> {
    match reader.read_line(partial) {
        Ok(0) => Ok(Line::Eof),
        Ok(_) if !partial.ends_with('\n') => Ok(Line::NotYet),
        Ok(_) => Ok(Line::Full(std::mem::take(partial))),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Ok(Line::NotYet)
        }
        Err(e) => Err(e),
    }
}

/// Reads DATA content up to the lone ".", unstuffed.
fn read_data(reader: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut data = String::new();
    let started = Instant::now();
    let mut line = String::new();
    while started.elapsed() < Duration::from_secs(20) {
        let l = match next_line(reader, &mut line)? {
            Line::Eof => break,
            Line::NotYet => continue,
            Line::Full(l) => l,
        };
        if l == ".\r\n" {
            break;
        }
        data.push_str(l.strip_prefix('.').unwrap_or(&l));
    }
    Ok(data)
}

fn between(s: &str, open: char, close: char) -> String {
    match (s.find(open), s.rfind(close)) {
        (Some(a), Some(b)) if b > a => s[a + 1..b].to_string(),
        _ => String::new(),
    }
}
