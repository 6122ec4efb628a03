//! `ferrymail bench drip`: slow-drip connections against SMTP and IMAP, and how quickly a
//! normal client still gets through (issue 10 §3's acceptance benchmark).
//!
//! N connections per service each send one byte every interval and never finish a line
//! (the attack whole-unit deadlines and per-address caps answer). They come from several
//! loopback source addresses (127.0.0.2 …) when the target is on loopback, as an attack
//! comes from several hosts; a dripper refused or closed by the server waits a second and
//! connects again, so the pressure stays on. After a ramp, a normal client from the
//! default address runs P probes: SMTP connect, EHLO, AUTH PLAIN, one message, QUIT; IMAP
//! connect, LOGIN, APPEND, LOGOUT. Reported: p50/p99/max latency of each probe, the drip
//! connections open meanwhile, and the server's CPU (with `--server-pid`).
//!
//! Everything is bounded: connections (at most 20,000 per service), ramp, probes, and each
//! probe step by `--timeout`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use super::client::{ConnError, ConnectSpec, Endpoint, SmtpClient};
use super::imap::client::ImapClient;
use super::options::{Credentials, TlsMode};
use super::stats::{percentile, ServerProcs};

pub const USAGE: &str = "\
ferrymail bench drip --smtp HOST:PORT --imap HOST:PORT --user USER --pass PASS [options]

Opens N slow-drip connections to each of the SMTP and IMAP ports (one byte per interval,
never a whole line), then measures a normal client: SMTP connect+EHLO+AUTH PLAIN+one
message+QUIT, IMAP connect+LOGIN+APPEND+LOGOUT. Plain TCP: the server must allow
plaintext AUTH/LOGIN from the probe's address.

  --connections N     drip connections per service (default 1000, at most 20000)
  --sources K         loopback source addresses for the drippers, 127.0.0.2 on (default 20;
                      only when the target is 127.0.0.0/8)
  --interval-ms MS    between a dripper's bytes (default 1000)
  --ramp S            seconds for the drippers to connect before probing (default 10)
  --probes P          probe rounds (default 20, at most 10000)
  --to ADDRESS        recipient of the probe messages (default: USER)
  --timeout S         bound on each probe step (default 10)
  --server-pid PID    measure this process's CPU (repeatable)
";

/// Options of `bench drip`.
#[derive(Debug, Clone)]
pub struct DripOptions {
    pub smtp: String,
    pub imap: String,
    pub creds: Credentials,
    pub to: Option<String>,
    pub connections: usize,
    pub sources: u8,
    pub interval: Duration,
    pub ramp: Duration,
    pub probes: usize,
    pub timeout: Duration,
    pub server_pids: Vec<u32>,
}

/// `None` for `--help`.
pub fn parse_drip_args(args: &[String]) -> Result<Option<DripOptions>, String> {
    let mut o = DripOptions {
        smtp: String::new(),
        imap: String::new(),
        creds: Credentials {
            user: String::new(),
            pass: String::new(),
        },
        to: None,
        connections: 1000,
        sources: 20,
        interval: Duration::from_millis(1000),
        ramp: Duration::from_secs(10),
        probes: 20,
        timeout: Duration::from_secs(10),
        server_pids: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Ok(None);
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        let num = |max: u64| -> Result<u64, String> {
            match value.parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(format!("{flag}: expected a number from 1 to {max}")),
            }
        };
        match flag.as_str() {
            "--smtp" => o.smtp = value.clone(),
            "--imap" => o.imap = value.clone(),
            "--user" => o.creds.user = value.clone(),
            "--pass" => o.creds.pass = value.clone(),
            "--to" => o.to = Some(value.clone()),
            "--connections" => o.connections = num(20_000)? as usize,
            "--sources" => o.sources = num(250)? as u8,
            "--interval-ms" => o.interval = Duration::from_millis(num(600_000)?),
            "--ramp" => o.ramp = Duration::from_secs(num(600)?),
            "--probes" => o.probes = num(10_000)? as usize,
            "--timeout" => o.timeout = Duration::from_secs(num(600)?),
            "--server-pid" => o.server_pids.push(num(u64::from(u32::MAX))? as u32),
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.smtp.is_empty() || o.imap.is_empty() || o.creds.user.is_empty() {
        return Err("--smtp, --imap and --user are required".into());
    }
    Ok(Some(o))
}

/// What the drippers of one service saw.
#[derive(Debug, Default)]
struct DripCounts {
    /// Greeted connections open now.
    open: AtomicU64,
    /// Connections the server greeted.
    greeted: AtomicU64,
    /// Connections refused at once (421 / BYE greeting, or connect failed).
    refused: AtomicU64,
    /// Greeted connections the server closed later (a deadline passed).
    cut: AtomicU64,
}

/// Runs the benchmark; the report text.
pub async fn drip_run(o: DripOptions) -> Result<String, String> {
    let smtp = Endpoint::resolve(&o.smtp, TlsMode::None, o.timeout).await?;
    let imap = Endpoint::resolve(&o.imap, TlsMode::None, o.timeout).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let (smtp_counts, imap_counts) = (
        Arc::new(DripCounts::default()),
        Arc::new(DripCounts::default()),
    );
    let procs = ServerProcs {
        pids: o.server_pids.clone(),
        comms: Vec::new(),
    };
    let cpu_start = procs.snapshot();
    let mut drippers = tokio::task::JoinSet::new();
    for i in 0..o.connections {
        for (ep, counts) in [(&smtp, &smtp_counts), (&imap, &imap_counts)] {
            let source = source_address(ep.addr, i, o.sources);
            drippers.spawn(dripper(
                ep.addr,
                source,
                o.interval,
                counts.clone(),
                stop.clone(),
            ));
        }
    }
    let ramp_end = Instant::now() + o.ramp;
    while Instant::now() < ramp_end {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cpu_probe = procs.snapshot();
    let probe_started = Instant::now();
    let to = o.to.clone().unwrap_or_else(|| o.creds.user.clone());
    let (mut smtp_ms, mut imap_ms, mut failures) = (Vec::new(), Vec::new(), Vec::new());
    let mut open_seen = (u64::MAX, 0u64, u64::MAX, 0u64);
    for round in 0..o.probes {
        let (s, i) = (
            smtp_counts.open.load(Ordering::Relaxed),
            imap_counts.open.load(Ordering::Relaxed),
        );
        open_seen = (
            open_seen.0.min(s),
            open_seen.1.max(s),
            open_seen.2.min(i),
            open_seen.3.max(i),
        );
        let t = Instant::now();
        match smtp_probe(&smtp, &o.creds, &to, round).await {
            Ok(()) => smtp_ms.push(t.elapsed().as_micros() as u64),
            Err(e) => failures.push(format!("smtp probe {round}: {e}")),
        }
        let t = Instant::now();
        match imap_probe(&imap, &o.creds, round).await {
            Ok(()) => imap_ms.push(t.elapsed().as_micros() as u64),
            Err(e) => failures.push(format!("imap probe {round}: {e}")),
        }
    }
    let probing = probe_started.elapsed();
    let cpu_probing = procs.cpu_since(&cpu_probe);
    stop.store(true, Ordering::SeqCst);
    // Drippers notice the flag within one interval; bounded anyway.
    let _ = tokio::time::timeout(o.interval + Duration::from_secs(5), async {
        while drippers.join_next().await.is_some() {}
    })
    .await;
    drippers.abort_all();
    let cpu_total = procs.cpu_since(&cpu_start);
    let mut out = String::new();
    let line = |out: &mut String, s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(
        &mut out,
        format!(
            "drip: {} connections per service from {} source addresses, a byte every {} ms",
            o.connections,
            if smtp.addr.ip().is_loopback() {
                o.sources
            } else {
                1
            },
            o.interval.as_millis()
        ),
    );
    for (name, c, (lo, hi)) in [
        ("smtp", &smtp_counts, (open_seen.0, open_seen.1)),
        ("imap", &imap_counts, (open_seen.2, open_seen.3)),
    ] {
        line(
            &mut out,
            format!(
                "{name} drippers: greeted {}, refused {}, cut by the server {}; open during probes {}..{}",
                c.greeted.load(Ordering::Relaxed),
                c.refused.load(Ordering::Relaxed),
                c.cut.load(Ordering::Relaxed),
                lo.min(hi),
                hi
            ),
        );
    }
    for (name, v) in [
        ("smtp connect+EHLO+AUTH+send+QUIT", &mut smtp_ms),
        ("imap connect+LOGIN+APPEND+LOGOUT", &mut imap_ms),
    ] {
        v.sort_unstable();
        let ms = |p: f64| {
            percentile(v, p).map_or("n/a".into(), |us| format!("{:.1} ms", us as f64 / 1000.0))
        };
        line(
            &mut out,
            format!(
                "{name}: {} ok, p50 {}, p99 {}, max {}",
                v.len(),
                ms(50.0),
                ms(99.0),
                ms(100.0)
            ),
        );
    }
    if !procs.is_empty() {
        line(
            &mut out,
            format!(
                "server CPU: {:.2} s over the {:.1} s of probes ({:.0}%), {:.2} s in all",
                cpu_probing.total.as_secs_f64(),
                probing.as_secs_f64(),
                100.0 * cpu_probing.total.as_secs_f64() / probing.as_secs_f64().max(0.001),
                cpu_total.total.as_secs_f64()
            ),
        );
    }
    for f in failures.iter().take(10) {
        line(&mut out, format!("failed: {f}"));
    }
    Ok(out)
}

/// The source address of dripper `i`: one of `sources` loopback addresses from 127.0.0.2
/// when the target is on IPv4 loopback, else the system's choice.
fn source_address(target: SocketAddr, i: usize, sources: u8) -> Option<IpAddr> {
    match target.ip() {
        IpAddr::V4(v4) if v4.is_loopback() => {
            let n = (i % usize::from(sources.max(1))) as u8;
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + n.min(250))))
        }
        _ => None,
    }
}

async fn connect_from(target: SocketAddr, source: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(ip) = source else {
        return TcpStream::connect(target).await;
    };
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(ip, 0))?;
    socket.connect(target).await
}

/// One slow-drip client: connect, then a byte per interval, never a line end; when the
/// server refuses or closes, wait a second and connect again, until `stop`.
async fn dripper(
    target: SocketAddr,
    source: Option<IpAddr>,
    interval: Duration,
    counts: Arc<DripCounts>,
    stop: Arc<AtomicBool>,
) {
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let connected =
            tokio::time::timeout(Duration::from_secs(10), connect_from(target, source)).await;
        let Ok(Ok(mut s)) = connected else {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let greeting = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf)).await;
        let greeted = matches!(greeting, Ok(Ok(n)) if n > 0
            && !buf[..n].starts_with(b"421") && !buf[..n].starts_with(b"* BYE"));
        if !greeted {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        counts.greeted.fetch_add(1, Ordering::Relaxed);
        counts.open.fetch_add(1, Ordering::Relaxed);
        let mut ticker = tokio::time::interval(interval);
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            tokio::select! {
                r = s.read(&mut buf) => {
                    if matches!(r, Ok(0) | Err(_)) {
                        counts.cut.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                _ = ticker.tick() => {
                    if s.write_all(b"x").await.is_err() {
                        counts.cut.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
            }
        }
        counts.open.fetch_sub(1, Ordering::Relaxed);
        if !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// A normal submission: connect, EHLO, AUTH PLAIN, one small message, QUIT.
async fn smtp_probe(
    ep: &Endpoint,
    creds: &Credentials,
    to: &str,
    round: usize,
) -> Result<(), ConnError> {
    let spec = ConnectSpec {
        endpoint: ep.clone(),
        helo: "probe.bench.invalid".into(),
        auth: Some(creds.clone()),
    };
    let mut c = SmtpClient::connect(&spec).await?;
    let message = format!("MAIL FROM:<{}>\r\nRCPT TO:<{to}>\r\nDATA\r\n", creds.user);
    for (step, cmd) in message.split_inclusive("\r\n").enumerate() {
        c.send(cmd.as_bytes()).await?;
        let reply = c.read_reply().await?;
        let want = if step == 2 { 3 } else { 2 };
        if reply.code / 100 != want {
            return Err(ConnError::Refused {
                step: "probe transaction",
                line: reply.line,
            });
        }
    }
    let body = format!("Subject: drip probe {round}\r\n\r\nA normal client gets through.\r\n.\r\n");
    c.send(body.as_bytes()).await?;
    let reply = c.read_reply().await?;
    if !reply.is_positive() {
        return Err(ConnError::Refused {
            step: "end of data",
            line: reply.line,
        });
    }
    c.quit().await;
    Ok(())
}

/// A normal IMAP session: connect, LOGIN, APPEND one small message, LOGOUT.
async fn imap_probe(ep: &Endpoint, creds: &Credentials, round: usize) -> Result<(), ConnError> {
    let mut c = ImapClient::connect(ep).await?;
    let done = c.login(creds).await?;
    if !done.ok() {
        return Err(ConnError::Refused {
            step: "LOGIN",
            line: done.text,
        });
    }
    let body = format!("Subject: drip probe {round}\r\n\r\nA normal client gets through.\r\n");
    let done = c.append("INBOX", &[("", body.as_bytes())]).await?;
    if !done.ok() {
        return Err(ConnError::Refused {
            step: "APPEND",
            line: done.text,
        });
    }
    let _ = c.logout().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_and_source_addresses() {
        let o = parse_drip_args(&args(
            "--smtp 127.0.0.1:25 --imap 127.0.0.1:143 --user u --pass p --connections 7 --sources 3",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((o.connections, o.sources, o.probes), (7, 3, 20));
        assert!(parse_drip_args(&args("--smtp 127.0.0.1:25")).is_err());
        assert!(parse_drip_args(&args("--connections 0")).is_err());
        assert!(parse_drip_args(&args("--help")).unwrap().is_none());
        let t: SocketAddr = "127.0.0.1:25".parse().unwrap();
        let picked: Vec<_> = (0..4).map(|i| source_address(t, i, 3)).collect();
        assert_eq!(
            picked,
            ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2"].map(|a| Some(a.parse().unwrap()))
        );
        assert_eq!(source_address("10.0.0.1:25".parse().unwrap(), 1, 3), None);
    }
}
