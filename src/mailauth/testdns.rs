//! A small DNS responder for tests: UDP on 127.0.0.1, port 0, answering TXT questions from a
//! table, NXDOMAIN for names it does not know, and nothing at all for names marked
//! silent (to test resolver timeouts). Used by the unit tests here and, through `#[path]`,
//! by the end-to-end tests in `tests/`.
//!
//! Wire format (RFC 1035 §4.1): the question is echoed, answers point back at it (0xC00C),
//! TXT data is split into 255-byte character-strings.

use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const TYPE_TXT: u16 = 16;

#[derive(Default)]
struct Zone {
    txt: HashMap<String, Vec<String>>,
    silent: HashSet<String>,
}

/// The responder; it stops when dropped.
pub struct TestDns {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl TestDns {
    pub fn start() -> std::io::Result<TestDns> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let addr = socket.local_addr()?;
        let zone = Arc::new(Mutex::new(Zone::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(socket, z, s));
        Ok(TestDns {
            addr,
            zone,
            stop,
            thread: Some(thread),
        })
    }

    /// Where to send queries (for `[dns] nameservers`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn zone(&self) -> std::sync::MutexGuard<'_, Zone> {
        self.zone.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a TXT record (several calls: several records).
    pub fn add_txt(&self, name: &str, text: &str) {
        self.zone()
            .txt
            .entry(key(name))
            .or_default()
            .push(text.to_string());
    }

    /// Questions for `name` get no answer at all.
    pub fn set_silent(&self, name: &str) {
        self.zone().silent.insert(key(name));
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>, stop: Arc<AtomicBool>) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, from)) = socket.recv_from(&mut buf) else {
            continue; // read timeout: check the stop flag
        };
        let zone = zone.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(reply) = answer(&buf[..n], &zone) {
            let _ = socket.send_to(&reply, from);
        }
    }
}

/// The reply to one query, or `None` to stay silent (malformed, or a silent name).
fn answer(q: &[u8], zone: &Zone) -> Option<Vec<u8>> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(q.get(pos..pos + len)?).into_owned());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*q.get(pos)?, *q.get(pos + 1)?]);
    let question_end = pos + 4;
    let question = q.get(12..question_end)?;
    let name = key(&labels.join("."));
    if zone.silent.contains(&name) {
        return None;
    }
    let mut rdatas: Vec<Vec<u8>> = Vec::new();
    if qtype == TYPE_TXT {
        for text in zone.txt.get(&name).into_iter().flatten() {
            let mut rd = Vec::new();
            for chunk in text.as_bytes().chunks(255) {
                rd.push(chunk.len() as u8);
                rd.extend_from_slice(chunk);
            }
            rdatas.push(rd);
        }
    }
    let known = zone.txt.contains_key(&name);
    let rcode: u16 = if known { 0 } else { 3 }; // NXDOMAIN
                                                // QR, opcode 0, AA, RD as asked, RA.
    let flags: u16 = 0x8000 | 0x0400 | (u16::from_be_bytes([q[2], q[3]]) & 0x0100) | 0x0080 | rcode;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]);
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(rdatas.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(question);
    for rd in rdatas {
        out.extend_from_slice(&[0xC0, 0x0C]);
        out.extend_from_slice(&qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes()); // IN
        out.extend_from_slice(&60u32.to_be_bytes()); // TTL
        out.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        out.extend_from_slice(&rd);
    }
    Some(out)
}
