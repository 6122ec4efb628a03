//! A scripted SMTP server for tests (the "remote MX"): 127.0.0.1 port 0, EHLO with
//! PIPELINING, SIZE, 8BITMIME and (optionally) DSN, STARTTLS with a given certificate, and
//! REQUIRETLS (offered after STARTTLS). RCPT replies come from a per-address
//! table (default 250); each DATA's final reply comes from a queue the test fills (default
//! 250), optionally after a delay (a slow peer). Every finished transaction is recorded with
//! its connection, the time of its final reply and whether the client went on after it. It
//! stops when dropped; every wait is bounded.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
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
    /// The transaction ran over TLS.
    pub tls: bool,
    /// Which connection (counted from 0) carried it.
    pub connection: usize,
    /// When the final reply was written.
    pub replied_at: Instant,
    /// The client went on after the final reply (another MAIL FROM, RSET or QUIT on the
    /// same connection), so it had read the reply and acted on it.
    pub client_went_on: bool,
}

#[derive(Default)]
struct Script {
    rcpt: HashMap<String, String>,
    data: VecDeque<String>,
    dsn: bool,
    /// Close the connection after reading the content, without a reply (a crash).
    vanish_after_data: usize,
    /// STARTTLS is offered with this configuration.
    tls: Option<Arc<rustls::ServerConfig>>,
    requiretls: bool,
    /// Wait this long before the final reply to DATA (a slow peer).
    data_reply_delay: Duration,
    /// Hold every final reply to DATA until the test lets go ([`Sink::hold_data`]).
    hold_data: bool,
    /// Transactions held now.
    held: usize,
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

    /// Offers STARTTLS with `chain` (end entity first) and `key`.
    pub fn offer_starttls(
        &self,
        chain: Vec<rustls_pki_types::CertificateDer<'static>>,
        key: rustls_pki_types::PrivateKeyDer<'static>,
    ) {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("sink certificate");
        lock(&self.script).tls = Some(Arc::new(config));
    }

    /// Offers REQUIRETLS (RFC 8689) once TLS is active.
    pub fn offer_requiretls(&self, on: bool) {
        lock(&self.script).requiretls = on;
    }

    /// The next `n` connections close right after the message content, unanswered.
    pub fn vanish_after_data(&self, n: usize) {
        lock(&self.script).vanish_after_data = n;
    }

    /// Every final reply to DATA comes `delay` after the content (a slow peer).
    pub fn delay_data_reply(&self, delay: Duration) {
        lock(&self.script).data_reply_delay = delay;
    }

    /// While on, the final reply to DATA waits (at most a minute) until it is turned off: a
    /// peer that keeps a delivery in flight as long as the test needs.
    pub fn hold_data(&self, on: bool) {
        lock(&self.script).hold_data = on;
    }

    /// How many transactions wait in DATA for [`Sink::hold_data`] to be turned off.
    pub fn held(&self) -> usize {
        lock(&self.script).held
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
                let n = connections.fetch_add(1, Ordering::SeqCst);
                let (s, r, st) = (script.clone(), received.clone(), stop.clone());
                sessions.push(std::thread::spawn(move || {
                    let _ = session(sock, n, s, r, st);
                }));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    for s in sessions {
        let _ = s.join();
    }
}

/// The sink's side of a connection: plain, or TLS after STARTTLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
    Gone,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
            Stream::Gone => Ok(0),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
            Stream::Gone => Err(std::io::ErrorKind::NotConnected.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
            Stream::Gone => Ok(()),
        }
    }
}

/// Lines from a [`Stream`]; what was read beyond a line stays for the next.
struct Lines {
    stream: Stream,
    buf: Vec<u8>,
}

enum Line {
    Full(String),
    /// The read timed out; a partial line stays in the buffer.
    NotYet,
    Eof,
}

impl Lines {
    fn next_line(&mut self) -> std::io::Result<Line> {
        if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=i).collect();
            return Ok(Line::Full(String::from_utf8_lossy(&line).into_owned()));
        }
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => Ok(Line::Eof),
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(Line::NotYet)
            }
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

    fn send(&mut self, text: &str) -> std::io::Result<()> {
        self.stream.write_all(text.as_bytes())?;
        self.stream.flush()
    }

    /// Switches to TLS (after "220 ready"); input read before the handshake is dropped.
    fn start_tls(&mut self, config: Arc<rustls::ServerConfig>) -> std::io::Result<()> {
        let Stream::Plain(tcp) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            return Err(std::io::ErrorKind::InvalidInput.into());
        };
        self.buf.clear();
        tcp.set_read_timeout(Some(Duration::from_secs(5)))?;
        let conn = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        tls.sock
            .set_read_timeout(Some(Duration::from_millis(200)))?;
        self.stream = Stream::Tls(Box::new(tls));
        Ok(())
    }

    fn is_tls(&self) -> bool {
        matches!(self.stream, Stream::Tls(_))
    }

    /// The client closed its end (or the connection broke).
    fn peer_closed(&self) -> bool {
        match &self.stream {
            Stream::Plain(s) => peer_closed(s),
            Stream::Tls(s) => peer_closed(&s.sock),
            Stream::Gone => true,
        }
    }
}

fn session(
    sock: TcpStream,
    connection: usize,
    script: Arc<Mutex<Script>>,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut io = Lines {
        stream: Stream::Plain(sock),
        buf: Vec::new(),
    };
    io.send("220 sink.test ESMTP\r\n")?;
    let mut tx: Option<Received> = None;
    // Index in `received` of this connection's last finished transaction.
    let mut last: Option<usize> = None;
    let started = Instant::now();
    loop {
        if stop.load(Ordering::SeqCst) || started.elapsed() > Duration::from_secs(60) {
            return Ok(());
        }
        let cmd = match io.next_line()? {
            Line::Eof => return Ok(()),
            Line::NotYet => continue,
            Line::Full(l) => l.trim_end().to_string(),
        };
        let upper = cmd.to_ascii_uppercase();
        if ["MAIL FROM:", "RSET", "QUIT"]
            .iter()
            .any(|c| upper.starts_with(c))
        {
            if let Some(i) = last.take() {
                if let Some(r) = lock(&received).get_mut(i) {
                    r.client_went_on = true;
                }
            }
        }
        let reply = if upper.starts_with("EHLO") {
            let s = lock(&script);
            let dsn = if s.dsn { "250-DSN\r\n" } else { "" };
            let starttls = if s.tls.is_some() && !io.is_tls() {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            let requiretls = if s.requiretls && io.is_tls() {
                "250-REQUIRETLS\r\n"
            } else {
                ""
            };
            format!("250-sink.test\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n{dsn}{starttls}{requiretls}250 8BITMIME\r\n")
        } else if upper == "STARTTLS" {
            let config = lock(&script).tls.clone();
            match config {
                Some(c) if !io.is_tls() => {
                    io.send("220 2.0.0 ready\r\n")?;
                    tx = None;
                    // A failed handshake (the client refused the certificate) ends the session.
                    io.start_tls(c)?;
                    continue;
                }
                _ => "502 5.5.1 not offered\r\n".into(),
            }
        } else if upper.starts_with("MAIL FROM:") {
            let from = between(&cmd, '<', '>');
            tx = Some(Received {
                mail_from: from,
                mail_line: cmd.clone(),
                rcpt_lines: Vec::new(),
                rcpts: Vec::new(),
                data: String::new(),
                reply: String::new(),
                tls: io.is_tls(),
                connection,
                replied_at: Instant::now(),
                client_went_on: false,
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
                    io.send("354 go ahead\r\n")?;
                    let data = read_data(&mut io)?;
                    let vanish = {
                        let mut s = lock(&script);
                        let v = s.vanish_after_data > 0;
                        s.vanish_after_data = s.vanish_after_data.saturating_sub(1);
                        v
                    };
                    if vanish {
                        return Ok(());
                    }
                    hold(&script, &stop);
                    let (r, delay) = {
                        let mut s = lock(&script);
                        let r = s.data.pop_front();
                        (
                            r.unwrap_or_else(|| "250 2.0.0 ok queued".into()),
                            s.data_reply_delay,
                        )
                    };
                    std::thread::sleep(delay);
                    // A client that died while we waited never sees the reply: the message
                    // was not accepted (the time is taken while the client is known alive).
                    let at = Instant::now();
                    if io.peer_closed() {
                        return Ok(());
                    }
                    io.send(&format!("{r}\r\n"))?;
                    if let Some(mut t) = tx.take() {
                        t.data = data;
                        t.reply = r;
                        t.replied_at = at;
                        let mut received = lock(&received);
                        last = Some(received.len());
                        received.push(t);
                    }
                    continue;
                }
                _ => "554 5.5.1 no valid recipients\r\n".into(),
            }
        } else if upper == "RSET" {
            tx = None;
            "250 2.0.0 ok\r\n".into()
        } else if upper == "QUIT" {
            io.send("221 2.0.0 bye\r\n")?;
            return Ok(());
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        io.send(&reply)?;
    }
}

/// Waits (bounded) while the script holds DATA replies, counted in `held` meanwhile.
fn hold(script: &Mutex<Script>, stop: &AtomicBool) {
    if !lock(script).hold_data {
        return;
    }
    lock(script).held += 1;
    let started = Instant::now();
    while lock(script).hold_data
        && !stop.load(Ordering::SeqCst)
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    lock(script).held -= 1;
}

/// The client closed its end (or the connection broke).
fn peer_closed(sock: &TcpStream) -> bool {
    if sock.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let closed = match sock.peek(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    };
    closed || sock.set_nonblocking(false).is_err()
}

/// Reads DATA content up to the lone ".", unstuffed.
fn read_data(io: &mut Lines) -> std::io::Result<String> {
    let mut data = String::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let l = match io.next_line()? {
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
