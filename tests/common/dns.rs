//! A tiny authoritative DNS server for tests: UDP on 127.0.0.1, port 0, answering from a
//! zone the test fills (MX, A, TXT). A name with records of other types gets an empty
//! answer (NODATA); an unknown name gets NXDOMAIN, or SERVFAIL from [`TestDns::failing`].
//! It stops when dropped.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrymail::actors::supervisor::lock;
use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, MX, TXT};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

type Zone = HashMap<String, Vec<RData>>;

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
        lock(&self.zone).entry(key(owner)).or_default().push(data);
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

    pub fn txt(&self, owner: &str, text: &str) {
        self.add(owner, RData::TXT(TXT::new(vec![text.to_string()])));
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
        let reply = answer(&query, &lock(&zone), unknown);
        if let Ok(bytes) = reply.to_vec() {
            let _ = sock.send_to(&bytes, peer);
        }
    }
}

fn answer(query: &Message, zone: &Zone, unknown: ResponseCode) -> Message {
    let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    for q in &query.queries {
        reply.add_query(q.clone());
        let owner = key(&q.name.to_ascii());
        match zone.get(&owner) {
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
    reply
}
