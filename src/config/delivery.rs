//! `[delivery]`: outbound delivery of remote mail (issue 5): smarthost, credentials,
//! connection limits, retry schedule, message lifetime and delay notices.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::schema::{Problems, Section};

/// A password from the config file; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and password for SMTP AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: Secret,
}

/// Credentials for one host (MX or relay), used when that host offers AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAuth {
    /// Host name as in DNS (lowercase, no trailing dot).
    pub host: String,
    pub auth: Credentials,
}

/// A relay: host name or IP, and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryConfig {
    /// All remote mail goes through this relay instead of MX lookups.
    pub smarthost: Option<Relay>,
    pub smarthost_auth: Option<Credentials>,
    pub host_auth: Vec<HostAuth>,
    /// Outbound connections at once, in total.
    pub max_connections: usize,
    /// Outbound connections at once to one destination domain (or to the smarthost).
    pub max_connections_per_domain: usize,
    /// Wait before attempt 2, 3, …; the last entry repeats.
    pub retry_schedule: Vec<Duration>,
    /// After this long in the queue a message that still fails temporarily bounces.
    pub message_lifetime: Duration,
    /// A delay notice goes to the sender once the message has waited this long; `None`: never.
    pub delay_notice: Option<Duration>,
    /// The port MX hosts are contacted on (25; other values are for tests).
    pub port: u16,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// RFC 8461: look up and honour MTA-STS policies of recipient domains.
    pub mta_sts: bool,
    /// RFC 8460: send the daily TLS reports to the domains that ask for them.
    pub tls_reports: bool,
    /// The port MTA-STS policies are fetched from (443; other values are for tests).
    pub https_port: u16,
    /// PEM trust anchors that replace the public roots for MTA-STS (policy fetch and MX
    /// certificates); for tests only (a test CA). `None`: the compiled-in public roots.
    pub test_trust_roots: Option<PathBuf>,
}

const MINUTE: u64 = 60;
const HOUR: u64 = 3600;

/// The default retry schedule: 15m, 30m, 1h, 2h, then every 4h.
pub const DEFAULT_RETRY_SCHEDULE: [Duration; 5] = [
    Duration::from_secs(15 * MINUTE),
    Duration::from_secs(30 * MINUTE),
    Duration::from_secs(HOUR),
    Duration::from_secs(2 * HOUR),
    Duration::from_secs(4 * HOUR),
];

impl DeliveryConfig {
    /// The wait after the `attempts`-th failed attempt (1-based): the schedule's entry, the
    /// last one repeating.
    pub fn retry_after(&self, attempts: u32) -> Duration {
        let i = (attempts.max(1) - 1) as usize;
        self.retry_schedule
            .get(i)
            .or(self.retry_schedule.last())
            .copied()
            .unwrap_or(DEFAULT_RETRY_SCHEDULE[4])
    }

    /// Credentials for `host` (smarthost or MX), if configured.
    pub fn auth_for(&self, host: &str, is_smarthost: bool) -> Option<&Credentials> {
        if is_smarthost {
            if let Some(a) = &self.smarthost_auth {
                return Some(a);
            }
        }
        let host = host.trim_end_matches('.');
        self.host_auth
            .iter()
            .find(|h| h.host.eq_ignore_ascii_case(host))
            .map(|h| &h.auth)
    }
}

pub(super) fn read_delivery(s: &mut Section, base_dir: &Path, p: &mut Problems) -> DeliveryConfig {
    let smarthost = relay(&s.string("smarthost", "", p), &s.path("smarthost"), p);
    let smarthost_auth = auth(s, "smarthost_user", "smarthost_password", p);
    let mut host_auth = Vec::new();
    for mut t in s.tables("host_auth", p) {
        let host = t
            .string("host", "", p)
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if host.is_empty() {
            p.add(&t.path("host"), "must be set");
        }
        match auth(&mut t, "user", "password", p) {
            Some(auth) => host_auth.push(HostAuth { host, auth }),
            None => p.add(&t.path("user"), "user and password must be set"),
        }
        t.finish(p);
    }
    let lifetime = s.duration(
        "message_lifetime",
        Duration::from_secs(5 * 24 * HOUR),
        Duration::from_secs(1),
        p,
    );
    let delay = s.duration(
        "delay_notice",
        Duration::from_secs(4 * HOUR),
        Duration::ZERO,
        p,
    );
    let port = port_number(s, "port", 25, p);
    let https_port = port_number(s, "https_port", 443, p);
    let roots = s.string("test_trust_roots", "", p);
    let test_trust_roots = (!roots.trim().is_empty()).then(|| base_dir.join(roots.trim()));
    DeliveryConfig {
        smarthost,
        smarthost_auth,
        host_auth,
        max_connections: s.count("max_connections", 50, 1, p),
        max_connections_per_domain: s.count("max_connections_per_domain", 3, 1, p),
        retry_schedule: s.durations(
            "retry_schedule",
            &DEFAULT_RETRY_SCHEDULE,
            Duration::from_secs(1),
            p,
        ),
        message_lifetime: lifetime,
        delay_notice: (!delay.is_zero()).then_some(delay),
        port,
        connect_timeout: s.duration(
            "connect_timeout",
            Duration::from_secs(30),
            Duration::from_secs(1),
            p,
        ),
        // RFC 5321 §4.5.3.2: 5 minutes per command, 10 minutes for the end of DATA.
        command_timeout: s.duration(
            "command_timeout",
            Duration::from_secs(300),
            Duration::from_secs(1),
            p,
        ),
        data_timeout: s.duration(
            "data_timeout",
            Duration::from_secs(600),
            Duration::from_secs(1),
            p,
        ),
        mta_sts: s.boolean("mta_sts", true, p),
        tls_reports: s.boolean("tls_reports", false, p),
        https_port,
        test_trust_roots,
    }
}

fn port_number(s: &mut Section, key: &str, default: u16, p: &mut Problems) -> u16 {
    let port = s.uint(key, u64::from(default), 1, p);
    u16::try_from(port).unwrap_or_else(|_| {
        p.add(&s.path(key), format!("{port} is not a port number"));
        default
    })
}

fn auth(s: &mut Section, user: &str, password: &str, p: &mut Problems) -> Option<Credentials> {
    let u = s.string(user, "", p);
    let pw = s.string(password, "", p);
    match (u.is_empty(), pw.is_empty()) {
        (true, true) => None,
        (false, false) => Some(Credentials {
            user: u,
            password: Secret(pw),
        }),
        _ => {
            p.add(
                &s.path(user),
                format!("{user} and {password} must be set together"),
            );
            None
        }
    }
}

/// "host", "host:port", "[v6]:port" or "v6"; empty: none.
fn relay(text: &str, path: &str, p: &mut Problems) -> Option<Relay> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(a) = text.parse::<std::net::SocketAddr>() {
        return Some(Relay {
            host: a.ip().to_string(),
            port: a.port(),
        });
    }
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Some(Relay {
            host: text.to_string(),
            port: 25,
        });
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, port)) => match port.parse::<u16>() {
            Ok(n) if n > 0 => (h, n),
            _ => {
                p.add(path, format!("invalid port in {text:?}"));
                return None;
            }
        },
        None => (text, 25),
    };
    let valid = !host.is_empty()
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !valid {
        p.add(path, format!("invalid host name in {text:?}"));
        return None;
    }
    Some(Relay {
        host: host.to_ascii_lowercase(),
        port,
    })
}
