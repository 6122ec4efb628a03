//! Listeners: bind every configured service, accept connections within the limits, and hand
//! each socket to a session actor on a session arbiter.

use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use actix::Actor;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use super::imap_session::ImapSessionActor;
use super::pop3_session::Pop3SessionActor;
use super::session::limits::{ConnGuard, ConnLimiter};
use super::smtp_session::SmtpSessionActor;
use super::supervisor::supervise_task;
use super::ServerContext;
use crate::config::Config;
use crate::protocols::smtp::Service;

/// Services this build serves; the others in `[listeners]` are reported as not yet
/// implemented instead of being bound to a socket that would answer nothing.
pub const IMPLEMENTED: &[&str] = &[
    "smtp",
    "submission",
    "smtps",
    "pop3",
    "pop3s",
    "imap",
    "imaps",
    "http",
    "https",
    "admin",
];

/// A bound socket waiting for its acceptor.
pub struct Bound {
    pub service: &'static str,
    pub listener: std::net::TcpListener,
    pub addr: SocketAddr,
}

/// Binds every enabled, implemented service. A socket that cannot be bound is reported
/// with the remedy, and the other services still run.
pub fn bind_all(config: &Config) -> (Vec<Bound>, Vec<String>) {
    let mut bound = Vec::new();
    let mut problems = Vec::new();
    for (service, addr) in config.listeners.iter() {
        if !IMPLEMENTED.contains(&service) {
            problems.push(format!(
                "{service} on {addr}: not implemented in this version yet; nothing listens there"
            ));
            continue;
        }
        match std::net::TcpListener::bind(addr) {
            Ok(listener) => {
                let addr = listener.local_addr().unwrap_or(addr);
                if let Err(e) = listener.set_nonblocking(true) {
                    problems.push(format!("{service} on {addr}: {e}"));
                    continue;
                }
                bound.push(Bound {
                    service,
                    listener,
                    addr,
                });
            }
            Err(e) => problems.push(bind_error(service, addr, &e)),
        }
    }
    (bound, problems)
}

/// A bind error that says what to do about it.
pub fn bind_error(service: &str, addr: SocketAddr, e: &std::io::Error) -> String {
    let remedy = match e.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "ports below 1024 need root or the CAP_NET_BIND_SERVICE capability \
             (setcap cap_net_bind_service=+ep on the binary), or set [listeners] {service} \
             to a port above 1023"
        ),
        std::io::ErrorKind::AddrInUse => format!(
            "another program is already listening on port {}; stop it, or set \
             [listeners] {service} to another port",
            addr.port()
        ),
        std::io::ErrorKind::AddrNotAvailable => format!(
            "{} is not an address of this machine; set [listeners] {service} to one that is \
             (0.0.0.0 for all)",
            addr.ip()
        ),
        _ => format!("check [listeners] {service}"),
    };
    format!("cannot listen for {service} on {addr}: {e} — {remedy}")
}

/// What an acceptor needs to know about its service.
pub struct ServiceSpec {
    pub name: &'static str,
    /// (total, per IP) connection limits from the current config.
    pub limits: fn(&Config) -> (usize, usize),
    /// Said to a client refused for the limits, before closing.
    pub busy: &'static [u8],
    /// Starts the session actor for an accepted connection (on a session arbiter).
    pub spawn: Box<dyn Fn(Arc<ServerContext>, std::net::TcpStream, SocketAddr, ConnGuard)>,
}

/// Accepts connections for one service until shutdown. The accept loop runs supervised
/// (`supervisor::supervise_task`): a panic in it is counted under `listener/<service>` and
/// the loop made anew on the same socket, so the service keeps accepting.
pub async fn run_acceptor(
    ctx: Arc<ServerContext>,
    spec: ServiceSpec,
    listener: std::net::TcpListener,
    limiter: Arc<ConnLimiter>,
) {
    let name = spec.name;
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => Arc::new(l),
        Err(e) => {
            tracing::error!(service = name, "cannot start acceptor: {e}");
            return;
        }
    };
    // The acceptor stays on its arbiter's thread: the spec is shared with its runs only.
    let spec = Rc::new(spec);
    let path = format!("listener/{name}");
    let c = ctx.clone();
    supervise_task(ctx.clone(), path.clone(), "listener", move || {
        accept_loop(c.clone(), spec.clone(), listener.clone(), limiter.clone())
    })
    .await;
    ctx.registry.unregister(&path);
    tracing::info!(service = name, "stopped accepting");
}

/// One run of an acceptor: until shutdown, or until it panics.
async fn accept_loop(
    ctx: Arc<ServerContext>,
    spec: Rc<ServiceSpec>,
    listener: Arc<TcpListener>,
    limiter: Arc<ConnLimiter>,
) {
    let name = spec.name;
    let mut shutdown = ctx.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: wait a little instead of spinning.
                tracing::warn!(service = name, "accept failed: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        ctx.faults.hit("listener.accept");
        let config = ctx.config();
        // Before any session or storage: a banned address gets one line and the door.
        if ctx.screen.connection(&config.screening, peer.ip()) {
            if let Some(line) = super::screen::refusal(name) {
                let _ = stream.write_all(line).await;
            }
            continue;
        }
        let (total, mut per_ip) = (spec.limits)(&config);
        if config.screening.trusts(peer.ip()) {
            // Trusted networks (loopback by default: local scripts, webmail, benchmarks)
            // are held only to the total, as Postfix exempts $mynetworks from its
            // per-client limits.
            per_ip = total;
        }
        let Some(guard) = limiter.try_acquire(peer.ip(), total, per_ip) else {
            tracing::warn!(service = name, %peer, "connection limit reached");
            let _ = stream.write_all(spec.busy).await;
            continue;
        };
        match stream.into_std() {
            Ok(s) => (spec.spawn)(ctx.clone(), s, peer, guard),
            Err(e) => tracing::warn!("cannot hand over connection: {e}"),
        }
    }
}

/// The acceptor description of an SMTP listener.
pub fn smtp_spec(name: &'static str, service: Service) -> ServiceSpec {
    ServiceSpec {
        name,
        limits: |c| (c.smtp.max_connections, c.smtp.max_connections_per_ip),
        busy: b"421 4.7.0 Too many connections, try again later\r\n",
        spawn: Box::new(move |ctx, stream, peer, guard| {
            let arbiter = ctx.session_arbiter().clone();
            SmtpSessionActor::start_in_arbiter(&arbiter, move |_| {
                SmtpSessionActor::new(ctx, name, service, stream, peer, guard)
            });
        }),
    }
}

/// The acceptor description of an IMAP listener (implicit TLS on imaps).
pub fn imap_spec(name: &'static str, implicit_tls: bool) -> ServiceSpec {
    ServiceSpec {
        name,
        limits: |c| (c.imap.max_connections, c.imap.max_connections_per_ip),
        busy: b"* BYE [UNAVAILABLE] Too many connections, try again later\r\n",
        spawn: Box::new(move |ctx, stream, peer, guard| {
            let arbiter = ctx.session_arbiter().clone();
            ImapSessionActor::start_in_arbiter(&arbiter, move |_| {
                ImapSessionActor::new(ctx, name, implicit_tls, stream, peer, guard)
            });
        }),
    }
}

/// The acceptor description of a POP3 listener (implicit TLS on pop3s).
pub fn pop3_spec(name: &'static str, implicit_tls: bool) -> ServiceSpec {
    ServiceSpec {
        name,
        limits: |c| (c.pop3.max_connections, c.pop3.max_connections_per_ip),
        busy: b"-ERR [SYS/TEMP] Too many connections, try again later\r\n",
        spawn: Box::new(move |ctx, stream, peer, guard| {
            let arbiter = ctx.session_arbiter().clone();
            Pop3SessionActor::start_in_arbiter(&arbiter, move |_| {
                Pop3SessionActor::new(ctx, name, implicit_tls, stream, peer, guard)
            });
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_name_port_and_remedy() {
        let e = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let m = bind_error("smtp", "0.0.0.0:25".parse().unwrap(), &e);
        assert!(
            m.contains("0.0.0.0:25") && m.contains("CAP_NET_BIND_SERVICE"),
            "{m}"
        );
        let e = std::io::Error::from(std::io::ErrorKind::AddrInUse);
        let m = bind_error("imap", "0.0.0.0:143".parse().unwrap(), &e);
        assert!(
            m.contains("port 143") && m.contains("[listeners] imap"),
            "{m}"
        );
    }
}
