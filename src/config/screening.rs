//! `[screening]`: dynamic screening of client addresses (issue 10 §5). Failed logins on any
//! protocol, failed recipients (directory harvesting), AUTH tried on the smtp port where it
//! is not offered, and connection bursts are counted per address in sliding windows; over a
//! threshold the address is refused by every service for a while (`actors::screen`).

use std::time::Duration;

use super::schema::{Problems, Section};
use super::{read_networks, Network};

/// The thresholds and ban lengths of [`crate::actors::screen`]. A threshold of 0 turns that
/// count off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreeningConfig {
    pub enabled: bool,
    /// Never counted, never banned (the runtime `screen allow` list adds to it).
    pub trusted: Vec<Network>,
    /// Failed logins from one address within `window` that ban it.
    pub auth_failures: u32,
    /// Failed logins on one account, from any addresses, within `window` after which every
    /// address that fails on it is banned at once (a guessing attack spread over many
    /// addresses).
    pub account_failures: u32,
    /// Recipients refused as unknown (550 5.1.1) within `window`.
    pub failed_rcpts: u32,
    /// AUTH attempts on the smtp port, where it is not offered, within `window`.
    pub auth_probes: u32,
    /// The sliding window of the counts above.
    pub window: Duration,
    /// New connections from one address within a minute, on all services.
    pub connections_per_minute: u32,
    /// The first ban's length.
    pub ban: Duration,
    /// Each further ban of one address lasts this many times the one before…
    pub ban_factor: u32,
    /// …up to this.
    pub ban_max: Duration,
    /// An address's earlier bans stop counting for escalation after this long without one.
    pub forget_after: Duration,
}

impl Default for ScreeningConfig {
    /// Close to MDaemon's defaults: 5 failed logins in 10 minutes ban for 10 minutes,
    /// doubling on each repeat up to a day. Loopback is trusted.
    fn default() -> Self {
        ScreeningConfig {
            enabled: true,
            trusted: default_trusted(),
            auth_failures: 5,
            account_failures: 20,
            failed_rcpts: 10,
            auth_probes: 3,
            window: Duration::from_secs(600),
            connections_per_minute: 120,
            ban: Duration::from_secs(600),
            ban_factor: 2,
            ban_max: Duration::from_secs(86_400),
            forget_after: Duration::from_secs(86_400),
        }
    }
}

impl ScreeningConfig {
    /// Whether `ip` is in a trusted network. Also exempts it from the per-address
    /// connection caps (`max_connections_per_ip`), whether screening is on or off.
    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|n| n.contains(ip))
    }
}

const DEFAULT_TRUSTED: [&str; 2] = ["127.0.0.0/8", "::1/128"];

fn default_trusted() -> Vec<Network> {
    DEFAULT_TRUSTED
        .iter()
        .filter_map(|n| Network::parse(n))
        .collect()
}

pub(super) fn read_screening(s: &mut Section, p: &mut Problems) -> ScreeningConfig {
    let d = ScreeningConfig::default();
    let one = Duration::from_secs(1);
    let threshold = |s: &mut Section, key: &str, default: u32, p: &mut Problems| {
        let n = s.uint(key, u64::from(default), 0, p);
        u32::try_from(n).unwrap_or_else(|_| {
            p.add(&s.path(key), format!("{n} is too large"));
            default
        })
    };
    let c = ScreeningConfig {
        enabled: s.boolean("enabled", d.enabled, p),
        trusted: read_networks(s, "trusted", &DEFAULT_TRUSTED, p),
        auth_failures: threshold(s, "auth_failures", d.auth_failures, p),
        account_failures: threshold(s, "account_failures", d.account_failures, p),
        failed_rcpts: threshold(s, "failed_rcpts", d.failed_rcpts, p),
        auth_probes: threshold(s, "auth_probes", d.auth_probes, p),
        window: s.duration("window", d.window, one, p),
        connections_per_minute: threshold(s, "connections_per_minute", d.connections_per_minute, p),
        ban: s.duration("ban", d.ban, one, p),
        ban_factor: threshold(s, "ban_factor", d.ban_factor, p).max(1),
        ban_max: s.duration("ban_max", d.ban_max, one, p),
        forget_after: s.duration("forget_after", d.forget_after, one, p),
    };
    if c.ban_max < c.ban {
        p.add(
            &s.path("ban_max"),
            format!(
                "{}s is shorter than ban ({}s)",
                c.ban_max.as_secs(),
                c.ban.as_secs()
            ),
        );
    }
    c
}
