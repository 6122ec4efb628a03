//! The real binary as a child process: `ferrymail serve` started and killed (SIGTERM, SIGKILL),
//! one-shot CLI commands, and the SMTP load and remote submissions the crash tests drive.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_ferrymail");

pub fn cli(config: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// A running `ferrymail serve`, with the stdout lines it printed at start. Killed when
/// dropped, so a failing test leaves no server behind.
pub struct Running {
    pub child: Child,
    pub lines: Vec<String>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    pub fn start(config: &Path) -> Running {
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        // Start-up is over at the `ready:` line.
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(l) => {
                    let done = l.starts_with("ready: ");
                    lines.push(l);
                    if done {
                        break;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(_) => break,
            }
        }
        Running { child, lines }
    }

    pub fn addr(&self, service: &str) -> SocketAddr {
        let prefix = format!("listening {service} ");
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {service} line in {:?}", self.lines))
            .parse()
            .unwrap()
    }

    pub fn sigterm(&mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn sigkill(self) {
        // Drop kills and reaps.
    }
}

/// Sends messages on `conns` connections until told to stop; records the subjects that got
/// a 250 after DATA.
pub fn send_until_killed(
    addr: SocketAddr,
    first: usize,
    acked: Arc<Mutex<Vec<String>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
) {
    let Ok(stream) = std::net::TcpStream::connect(addr) else {
        return;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut w = stream.try_clone().unwrap();
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    let mut read_reply = |r: &mut BufReader<std::net::TcpStream>| -> Option<String> {
        loop {
            line.clear();
            if r.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line.len() >= 4 && line.as_bytes()[3] == b' ' {
                return Some(line.clone());
            }
        }
    };
    read_reply(&mut r);
    if w.write_all(b"EHLO crash.test\r\n").is_err() {
        return;
    }
    read_reply(&mut r);
    for n in first.. {
        if stop.load(std::sync::atomic::Ordering::SeqCst) || n >= first + 10_000 {
            return;
        }
        let subject = format!("crash-{n}");
        let msg = "MAIL FROM:<s@crash.test>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";
        if w.write_all(msg.as_bytes()).is_err() {
            return;
        }
        for _ in 0..3 {
            match read_reply(&mut r) {
                Some(_) => {}
                None => return,
            }
        }
        let body = format!("Subject: {subject}\r\n\r\nbody {n}\r\n.\r\n");
        if w.write_all(body.as_bytes()).is_err() {
            return;
        }
        match read_reply(&mut r) {
            Some(l) if l.starts_with("250") => acked.lock().unwrap().push(subject),
            _ => return,
        }
    }
}

/// A seed for the kill moments, printed so that a failure can be replayed by hand.
pub fn random_seed() -> u32 {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    println!("seed {seed}");
    seed
}

/// `min_ms` plus a pseudo-random part below `spread_ms`.
pub fn random_delay(rng: &mut u32, min_ms: u64, spread_ms: u64) -> Duration {
    *rng = rng.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    Duration::from_millis(min_ms + u64::from(*rng >> 8) % spread_ms)
}

/// Waits (bounded) until `status` through the control socket shows every queue in `queues`
/// empty; the last status text.
pub fn wait_queues_empty(dir: &Path, queues: &[&str], within: Duration) -> (bool, String) {
    let sock = dir.join("data/control.sock");
    let deadline = Instant::now() + within;
    loop {
        let out =
            ferrymail::admin::control::client_request(&sock, "status", Duration::from_secs(10))
                .map(|o| o.output)
                .unwrap_or_else(|e| e.to_string());
        let line = out.lines().find(|l| l.starts_with("queues:")).unwrap_or("");
        let empty = queues
            .iter()
            .all(|q| line.split_whitespace().any(|w| w == format!("{q}=0")));
        if empty || Instant::now() > deadline {
            return (empty, out);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// bob@example.com submits one message with `message_id` to carol@remote.test.
pub fn submit_remote(addr: SocketAddr, message_id: &str) {
    let mut c = super::Client::connect(addr);
    c.cmd("EHLO client.test");
    let r = c.auth_plain("bob@example.com", "pw");
    assert!(r.starts_with("235"), "{r}");
    let message = format!(
        "From: <bob@example.com>\r\nTo: <carol@remote.test>\r\nSubject: {message_id}\r\n\
         Message-ID: <{message_id}>\r\n\r\nbody of {message_id}\r\n"
    );
    let r = c.deliver("bob@example.com", &["carol@remote.test"], &message);
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
}

pub fn message_id(data: &str) -> Option<String> {
    data.lines()
        .find_map(|l| l.strip_prefix("Message-ID: <"))
        .map(|l| l.trim_end().trim_end_matches('>').to_string())
}

/// The crash tests' ledger: every acknowledged subject is in `inbox` exactly once, and no
/// subject is there twice. Prints the counts.
pub fn assert_each_acknowledged_once(acked: &[String], inbox: &[Vec<u8>], seed: u32) {
    let mut counts = std::collections::HashMap::new();
    for m in inbox {
        let text = String::from_utf8_lossy(m);
        let subject = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("")
            .trim()
            .to_string();
        *counts.entry(subject).or_insert(0usize) += 1;
    }
    assert!(
        acked.len() > 20,
        "too few messages acknowledged to mean anything: {} (seed {seed})",
        acked.len()
    );
    for s in acked {
        assert_eq!(
            counts.get(s),
            Some(&1),
            "{s} acknowledged but found {:?} times (seed {seed})",
            counts.get(s)
        );
    }
    for (s, n) in &counts {
        assert_eq!(*n, 1, "{s} stored {n} times (seed {seed})");
    }
    println!("{} acknowledged, {} stored", acked.len(), inbox.len());
}
