//! A tiny authoritative DNS server for tests: UDP on 127.0.0.1, port 0, answering from a
//! zone the test fills (MX, A, TXT). A name with records of other types gets an empty
//! answer (NODATA); an unknown name gets NXDOMAIN, or SERVFAIL from [`TestDns::failing`].
//! Names marked silent get no answer at all (to test resolver timeouts). It stops when
//! dropped. Shared by the end-to-end tests and, through `#[path]`, the unit tests of
//! `src/mailauth`.

// Each user (unit tests, end-to-end tests) needs only part of it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

#[derive(Default)]
struct Zone {
    records: HashMap<String, Vec<RData>>,
    silent: HashSet<String>,
    /// Set the AD bit in answers (as a validating resolver does for signed data).
    authentic: bool,
}

fn lock(zone: &Mutex<Zone>) -> std::sync::MutexGuard<'_, Zone> {
    zone.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct TestDns {
    pub addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn name(n: &str) -> Name {
    Name::from_ascii(format!("{}.", key(n))).expect("test DNS name")
}

impl TestDns {
    pub fn start() -> TestDns {
        TestDns::start_with(ResponseCode::NXDomain)
    }

    /// A server that answers SERVFAIL for every name not in its zone: lookups fail
    /// temporarily, at once.
    pub fn failing() -> TestDns {
        TestDns::start_with(ResponseCode::ServFail)
    }

    fn start_with(unknown: ResponseCode) -> TestDns {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind test DNS");
        sock.set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let addr = sock.local_addr().expect("addr");
        let zone: Arc<Mutex<Zone>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (z, s) = (zone.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(sock, z, s, unknown));
        TestDns {
            addr,
            zone,
            stop,
            thread: Some(thread),
        }
    }

    fn add(&self, owner: &str, data: RData) {
        lock(&self.zone)
            .records
            .entry(key(owner))
            .or_default()
            .push(data);
    }

    pub fn mx(&self, domain: &str, preference: u16, host: &str) {
        let exchange = if host == "." {
            Name::root()
        } else {
            name(host)
        };
        self.add(domain, RData::MX(MX::new(preference, exchange)));
    }

    pub fn a(&self, host: &str, ip: Ipv4Addr) {
        self.add(host, RData::A(A(ip)));
    }

    /// A TXT record; text longer than 255 bytes is split into character-strings
    /// (RFC 1035 §3.3.14), as DNS servers publish DKIM keys.
    pub fn txt(&self, owner: &str, text: &str) {
        let strings = text
            .as_bytes()
            .chunks(255)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect();
        self.add(owner, RData::TXT(TXT::new(strings)));
    }

    /// A TLSA record (RFC 6698).
    pub fn tlsa(&self, owner: &str, usage: u8, selector: u8, matching: u8, data: Vec<u8>) {
        use hickory_resolver::proto::rr::rdata::tlsa::{CertUsage, Matching, Selector, TLSA};
        let t = TLSA::new(
            CertUsage::from(usage),
            Selector::from(selector),
            Matching::from(matching),
            data,
        );
        self.add(owner, RData::TLSA(t));
    }

    /// Removes every record of `owner`.
    pub fn remove(&self, owner: &str) {
        lock(&self.zone).records.remove(&key(owner));
    }

    /// Answers carry the AD bit (DNSSEC-validated data, RFC 4035 §3.2.3).
    pub fn set_authentic(&self, on: bool) {
        lock(&self.zone).authentic = on;
    }

    /// Questions for `name` get no answer at all.
    pub fn set_silent(&self, name: &str) {
        lock(&self.zone).silent.insert(key(name));
    }

    /// Where to send queries (for `[dns] nameservers`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `[dns]` section pointing the server here.
    pub fn config(&self) -> String {
        format!("[dns]\nnameservers = [\"{}\"]\n", self.addr)
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

/// Answers until stopped; each wait for a query is bounded by the read timeout.
fn serve(sock: UdpSocket, zone: Arc<Mutex<Zone>>, stop: Arc<AtomicBool>, unknown: ResponseCode) {
    let mut buf = [0u8; 1500];
    while !stop.load(Ordering::SeqCst) {
        let Ok((n, peer)) = sock.recv_from(&mut buf) else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buf[..n]) else {
            continue;
        };
        let Some(reply) = answer(&query, &lock(&zone), unknown) else {
            continue;
        };
        if let Ok(bytes) = reply.to_vec() {
            let _ = sock.send_to(&bytes, peer);
        }
    }
}

/// The reply to `query`, or `None` to stay silent.
fn answer(query: &Message, zone: &Zone, unknown: ResponseCode) -> Option<Message> {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.authentic_data = zone.authentic;
    for q in &query.queries {
        reply.add_query(q.clone());
        let owner = key(&q.name.to_ascii());
        if zone.silent.contains(&owner) {
            return None;
        }
        match zone.records.get(&owner) {
            None => reply.metadata.response_code = unknown,
            Some(records) => {
                for r in records.iter().filter(|r| r.record_type() == q.query_type) {
                    reply.add_answer(Record::from_rdata(q.name.clone(), 60, r.clone()));
                }
            }
        }
        if q.query_type == RecordType::ANY {
            reply.metadata.response_code = ResponseCode::NotImp;
        }
    }
    Some(reply)
}
