//! Dynamic screening (issue 10 §5): counts what a client address does wrong — failed
//! logins on every protocol (fed by `auth::check_password`, next to the auth-failure log),
//! recipients refused as unknown (directory harvesting), AUTH tried on the smtp port where
//! it is not offered, connection bursts — in sliding windows, and bans an address that goes
//! over a threshold from every service for an escalating time (`[screening]`).
//!
//! The acceptors ask [`Screen::connection`] before a session actor exists, so a banned client
//! costs one short refusal written on the socket and nothing of storage; the HTTP listener
//! asks [`Screen::banned`] and answers 403. Trusted networks (`[screening] trusted`) and the
//! `screen allow` list are never counted nor banned; `screen deny` bans networks until lifted.
//!
//! State lives in memory behind one mutex (every check is a hash lookup) and is written
//! through to storage (`v1/screen`) whenever a count, a ban or a rule changes, so bans and
//! counts survive a restart. Connection counts are the exception: their window is a minute,
//! and writing on every accept would put a storage write in front of every connection.
//! Time comes from the server's [`Clock`], so the windows are tested without sleeping.
//! Addresses are taken in canonical form: an IPv4-mapped IPv6 peer (a listener on `[::]`)
//! is the same client as its IPv4 address.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use super::supervisor::lock;
use crate::clock::{iso8601, Clock};
use crate::config::{Network, ScreeningConfig};
use crate::storage::{Ban, ScreenRecord, ScreenRule, Store};

/// Something a client did that screening counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offence<'a> {
    /// A failed login; `account` is the account the login named, when it exists.
    AuthFailure { account: Option<&'a str> },
    /// A recipient refused as unknown (550 5.1.1).
    FailedRcpt,
    /// AUTH on the smtp port, where it is not offered.
    AuthProbe,
}

/// One address's state: the stored record plus what is kept in memory only.
#[derive(Debug, Default)]
struct Entry {
    rec: ScreenRecord,
    /// Connection times within the last minute (memory only, see the module comment).
    connections: Vec<i64>,
    /// Whether a refusal under the current ban has been logged (once per ban).
    refusal_logged: bool,
    /// Whether `rec` is in storage (an address seen only connecting is not).
    stored: bool,
}

#[derive(Debug, Default)]
struct State {
    addresses: HashMap<IpAddr, Entry>,
    accounts: HashMap<String, Vec<i64>>,
    allow: Vec<Network>,
    deny: Vec<Network>,
    /// Events since the last sweep of forgotten entries.
    since_sweep: u32,
}

/// Sweep forgotten entries out of memory and storage every this many events.
const SWEEP_EVERY: u32 = 1024;

/// The screener; one per server, in `ServerContext::screen`.
pub struct Screen {
    state: Mutex<State>,
    store: Store,
    clock: Arc<dyn Clock>,
}

/// Keeps the times within `window` seconds before `now`.
fn prune(times: &mut Vec<i64>, now: i64, window: i64) {
    times.retain(|t| now - *t < window);
}

/// Adds `now` and tells whether the count reached `threshold` (0: never). At most
/// `threshold` times are kept: more would not change any decision.
fn count(times: &mut Vec<i64>, now: i64, window: i64, threshold: u32) -> bool {
    prune(times, now, window);
    if threshold == 0 {
        times.clear();
        return false;
    }
    times.push(now);
    let keep = threshold as usize;
    if times.len() > keep {
        times.drain(..times.len() - keep);
    }
    times.len() >= keep
}

/// The length of an address's `offences`-th ban: `ban`, times `ban_factor` for each earlier
/// one, at most `ban_max`.
pub fn ban_length(cfg: &ScreeningConfig, offences: u32) -> i64 {
    let max = cfg.ban_max.as_secs();
    let mut secs = cfg.ban.as_secs().min(max);
    for _ in 1..offences {
        secs = secs.saturating_mul(u64::from(cfg.ban_factor)).min(max);
        if secs == max {
            break;
        }
    }
    i64::try_from(secs).unwrap_or(i64::MAX)
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// Whether `rec` still holds something worth remembering at `now`.
fn worth_keeping(rec: &ScreenRecord, cfg: &ScreeningConfig, now: i64) -> bool {
    rec.ban.is_some()
        || !rec.auth_failures.is_empty()
        || !rec.failed_rcpts.is_empty()
        || !rec.auth_probes.is_empty()
        || (rec.offences > 0 && now - rec.last_ban_end < secs(cfg.forget_after))
}

impl Screen {
    /// The screener with what `store` remembers (an unreadable store starts empty, loudly:
    /// screening must not keep the server from starting).
    pub fn load(store: Store, clock: Arc<dyn Clock>) -> Screen {
        let state = Self::read(&store).unwrap_or_else(|e| {
            tracing::error!("screening: cannot read the stored state: {e}");
            State::default()
        });
        Screen {
            state: Mutex::new(state),
            store,
            clock,
        }
    }

    /// Reads the stored state again (another node of a cluster changed bans or rules). On a
    /// read error the state in memory stays. What is kept in memory only (connection
    /// rates, logged refusals) is kept for the addresses still listed.
    pub fn reload(&self) {
        let mut fresh = match Self::read(&self.store) {
            Ok(state) => state,
            Err(e) => return tracing::error!("screening: cannot read the stored state: {e}"),
        };
        let mut st = lock(&self.state);
        for (ip, entry) in fresh.addresses.iter_mut() {
            if let Some(old) = st.addresses.get_mut(ip) {
                entry.connections = std::mem::take(&mut old.connections);
                entry.refusal_logged = old.refusal_logged && entry.rec.ban.is_some();
            }
        }
        // Addresses seen only connecting were never stored: keep them.
        for (ip, old) in st.addresses.drain() {
            if !old.stored && !fresh.addresses.contains_key(&ip) {
                fresh.addresses.insert(ip, old);
            }
        }
        fresh.since_sweep = st.since_sweep;
        *st = fresh;
    }

    fn read(store: &Store) -> Result<State, crate::storage::StorageError> {
        let snap = store.screen_load()?;
        let mut state = State::default();
        for (ip, rec) in snap.addresses {
            state.addresses.insert(
                ip,
                Entry {
                    rec,
                    stored: true,
                    ..Entry::default()
                },
            );
        }
        state.accounts = snap.accounts.into_iter().collect();
        let parse = |nets: Vec<String>| -> Vec<Network> {
            nets.iter().filter_map(|n| Network::parse(n)).collect()
        };
        state.allow = parse(snap.allow);
        state.deny = parse(snap.deny);
        Ok(state)
    }

    /// Whether `ip` is exempt: screening off, a trusted network, or allowed.
    fn exempt(cfg: &ScreeningConfig, st: &State, ip: IpAddr) -> bool {
        !cfg.enabled
            || cfg.trusted.iter().any(|n| n.contains(ip))
            || st.allow.iter().any(|n| n.contains(ip))
    }

    /// Whether `ip` is refused now (a ban or a deny rule); logs the first refusal of a ban.
    /// A ban that has run out is lifted here.
    pub fn banned(&self, cfg: &ScreeningConfig, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let now = self.clock.now();
        let mut st = lock(&self.state);
        self.banned_locked(cfg, &mut st, ip, now)
    }

    fn banned_locked(&self, cfg: &ScreeningConfig, st: &mut State, ip: IpAddr, now: i64) -> bool {
        if Self::exempt(cfg, st, ip) {
            return false;
        }
        if st.deny.iter().any(|n| n.contains(ip)) {
            return true;
        }
        let Some(entry) = st.addresses.get_mut(&ip) else {
            return false;
        };
        let Some(ban) = &entry.rec.ban else {
            return false;
        };
        if ban.until <= now {
            tracing::info!(target: "screening", %ip, "ban ended");
            entry.rec.ban = None;
            entry.refusal_logged = false;
            self.store_entry(ip, entry);
            return false;
        }
        if !entry.refusal_logged {
            entry.refusal_logged = true;
            tracing::info!(
                target: "screening",
                %ip,
                until = %iso8601(ban.until),
                "refusing connections from a banned address"
            );
        }
        true
    }

    /// A new connection from `ip`: true when it must be refused (banned, or this one is
    /// over `connections_per_minute` and bans it).
    pub fn connection(&self, cfg: &ScreeningConfig, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        let now = self.clock.now();
        let mut st = lock(&self.state);
        if self.banned_locked(cfg, &mut st, ip, now) {
            return true;
        }
        if Self::exempt(cfg, &st, ip) || cfg.connections_per_minute == 0 {
            return false;
        }
        let entry = st.addresses.entry(ip).or_default();
        let over = count(&mut entry.connections, now, 60, cfg.connections_per_minute);
        if over {
            let reason = format!("{} connections in a minute", cfg.connections_per_minute);
            self.ban_locked(cfg, &mut st, ip, now, None, reason);
        }
        self.sweep_maybe(cfg, &mut st, now);
        over
    }

    /// Counts an offence of `ip`; bans it when a threshold is reached.
    pub fn record(&self, cfg: &ScreeningConfig, ip: IpAddr, offence: Offence<'_>) {
        let ip = ip.to_canonical();
        let now = self.clock.now();
        let mut st = lock(&self.state);
        if Self::exempt(cfg, &st, ip) {
            return;
        }
        let window = secs(cfg.window);
        // A guessing attack on one account from many addresses: past the threshold, every
        // address that fails on the account is banned at once.
        let mut account_attacked = false;
        if let Offence::AuthFailure {
            account: Some(account),
        } = offence
        {
            let times = st.accounts.entry(account.to_string()).or_default();
            account_attacked = count(times, now, window, cfg.account_failures);
            let times = (!times.is_empty()).then(|| times.clone());
            if let Err(e) = self.store.screen_put_account(account, times.as_ref()) {
                tracing::warn!("screening: cannot store the count of {account}: {e}");
            }
            if times.is_none() {
                st.accounts.remove(account);
            }
        }
        let entry = st.addresses.entry(ip).or_default();
        let rec = &mut entry.rec;
        let (times, threshold, what) = match offence {
            Offence::AuthFailure { .. } => {
                (&mut rec.auth_failures, cfg.auth_failures, "failed logins")
            }
            Offence::FailedRcpt => (
                &mut rec.failed_rcpts,
                cfg.failed_rcpts,
                "unknown recipients",
            ),
            Offence::AuthProbe => (
                &mut rec.auth_probes,
                cfg.auth_probes,
                "AUTH where not offered",
            ),
        };
        let over = count(times, now, window, threshold);
        let reason = if over {
            Some(format!("{threshold} {what} in {window}s"))
        } else if account_attacked {
            let account = match offence {
                Offence::AuthFailure { account } => account.unwrap_or_default(),
                _ => "",
            };
            Some(format!(
                "failed login on {account}, which had {} failed logins in {window}s",
                cfg.account_failures
            ))
        } else {
            None
        };
        match reason {
            Some(reason) if rec.ban.is_none() => {
                self.ban_locked(cfg, &mut st, ip, now, None, reason);
            }
            _ => self.store_entry(ip, entry),
        }
        self.sweep_maybe(cfg, &mut st, now);
    }

    /// Bans `ip` for `length` seconds, or for its next escalation step; clears its counts.
    fn ban_locked(
        &self,
        cfg: &ScreeningConfig,
        st: &mut State,
        ip: IpAddr,
        now: i64,
        length: Option<i64>,
        reason: String,
    ) -> Ban {
        let entry = st.addresses.entry(ip).or_default();
        let rec = &mut entry.rec;
        if rec.offences > 0 && now - rec.last_ban_end >= secs(cfg.forget_after) {
            rec.offences = 0;
        }
        rec.offences = rec.offences.saturating_add(1);
        let length = length.unwrap_or_else(|| ban_length(cfg, rec.offences));
        let ban = Ban {
            since: now,
            until: now.saturating_add(length),
            reason,
        };
        tracing::warn!(
            target: "screening",
            %ip,
            reason = %ban.reason,
            seconds = length,
            offences = rec.offences,
            "address banned from every service"
        );
        rec.auth_failures.clear();
        rec.failed_rcpts.clear();
        rec.auth_probes.clear();
        rec.last_ban_end = ban.until;
        rec.ban = Some(ban.clone());
        entry.connections.clear();
        entry.refusal_logged = false;
        self.store_entry(ip, entry);
        ban
    }

    fn store_entry(&self, ip: IpAddr, entry: &mut Entry) {
        entry.stored = true;
        self.persist(ip, Some(&entry.rec));
    }

    fn persist(&self, ip: IpAddr, rec: Option<&ScreenRecord>) {
        if let Err(e) = self.store.screen_put_address(ip, rec) {
            tracing::warn!("screening: cannot store the state of {ip}: {e}");
        }
    }

    /// Every [`SWEEP_EVERY`] events, forgets addresses and accounts with nothing left in
    /// their windows, so memory and storage do not grow with every address ever seen.
    fn sweep_maybe(&self, cfg: &ScreeningConfig, st: &mut State, now: i64) {
        st.since_sweep += 1;
        if st.since_sweep < SWEEP_EVERY {
            return;
        }
        st.since_sweep = 0;
        self.sweep(cfg, st, now);
    }

    fn sweep(&self, cfg: &ScreeningConfig, st: &mut State, now: i64) {
        let window = secs(cfg.window);
        let mut gone = Vec::new();
        st.addresses.retain(|ip, e| {
            let rec = &mut e.rec;
            prune(&mut rec.auth_failures, now, window);
            prune(&mut rec.failed_rcpts, now, window);
            prune(&mut rec.auth_probes, now, window);
            prune(&mut e.connections, now, 60);
            if rec.ban.as_ref().is_some_and(|b| b.until <= now) {
                rec.ban = None;
            }
            let keep = worth_keeping(rec, cfg, now);
            if !keep && e.stored {
                e.stored = false;
                gone.push(*ip);
            }
            keep || !e.connections.is_empty()
        });
        for ip in gone {
            self.persist(ip, None);
        }
        let mut gone = Vec::new();
        st.accounts.retain(|account, times| {
            prune(times, now, window);
            if times.is_empty() {
                gone.push(account.clone());
            }
            !times.is_empty()
        });
        for account in gone {
            if let Err(e) = self.store.screen_put_account(&account, None) {
                tracing::warn!("screening: cannot forget {account}: {e}");
            }
        }
    }

    // ---- the console's `screen` commands --------------------------------------------

    /// `screen ban IP [--for SECS]`: bans now (a trusted or allowed address is refused).
    pub fn ban(
        &self,
        cfg: &ScreeningConfig,
        ip: IpAddr,
        length: Option<i64>,
    ) -> Result<Ban, String> {
        let ip = ip.to_canonical();
        let now = self.clock.now();
        let mut st = lock(&self.state);
        if cfg.trusted.iter().any(|n| n.contains(ip)) {
            return Err(format!(
                "{ip} is in a trusted network ([screening] trusted) and is never banned"
            ));
        }
        if let Some(n) = st.allow.iter().find(|n| n.contains(ip)) {
            return Err(format!(
                "{ip} is allowed ({n}, see `screen list`) and is never banned"
            ));
        }
        let ban = self.ban_locked(cfg, &mut st, ip, now, length, "by the administrator".into());
        Ok(ban)
    }

    /// `screen unban IP|NET`: lifts the bans of the addresses in `net`, forgets their counts
    /// and earlier bans, and removes a deny rule for exactly `net`. Says what it did.
    pub fn unban(&self, net: Network) -> String {
        let mut st = lock(&self.state);
        let lifted = self.forget(&mut st, net);
        let denied = self.remove_rule(&mut st, ScreenRule::Deny, net);
        let mut out = match lifted.len() {
            0 => format!("no ban on {}", shown(net)),
            1 => format!("ban of {} lifted", lifted[0]),
            n => format!("{n} bans in {} lifted", shown(net)),
        };
        if denied {
            let _ = write!(out, "; deny rule {} removed", shown(net));
        }
        let still = st.deny.iter().filter(|d| d.contains(net.addr)).count();
        if still > 0 {
            let _ = write!(
                out,
                "; still refused by {still} deny rule(s) (see `screen list`)"
            );
        }
        out
    }

    /// Forgets every address in `net` (bans, counts, earlier bans); returns those that
    /// were banned.
    fn forget(&self, st: &mut State, net: Network) -> Vec<IpAddr> {
        let ips: Vec<IpAddr> = st
            .addresses
            .keys()
            .filter(|ip| net.contains(**ip))
            .copied()
            .collect();
        let mut lifted = Vec::new();
        for ip in ips {
            if st
                .addresses
                .remove(&ip)
                .is_some_and(|e| e.rec.ban.is_some())
            {
                lifted.push(ip);
            }
            self.persist(ip, None);
        }
        lifted
    }

    /// `screen allow NET`: never counted nor banned from now on (replaces a deny rule for
    /// the same network; lifts bans within it).
    pub fn allow(&self, net: Network) -> String {
        let mut st = lock(&self.state);
        let denied = self.remove_rule(&mut st, ScreenRule::Deny, net);
        self.add_rule(&mut st, ScreenRule::Allow, net);
        self.forget(&mut st, net);
        let mut out = format!("{} allowed: never banned", shown(net));
        if denied {
            out.push_str(" (its deny rule is removed)");
        }
        out
    }

    /// `screen deny NET`: refused by every service until `screen unban NET` (replaces an
    /// allow rule for the same network). A trusted network cannot be denied.
    pub fn deny(&self, cfg: &ScreeningConfig, net: Network) -> Result<String, String> {
        if let Some(t) = cfg.trusted.iter().find(|t| t.contains(net.addr)) {
            return Err(format!(
                "{} is in the trusted network {t} ([screening] trusted), which is never banned",
                shown(net)
            ));
        }
        let mut st = lock(&self.state);
        let allowed = self.remove_rule(&mut st, ScreenRule::Allow, net);
        self.add_rule(&mut st, ScreenRule::Deny, net);
        let mut out = format!(
            "{} denied: refused by every service until `screen unban {}`",
            shown(net),
            shown(net)
        );
        if allowed {
            out.push_str(" (its allow rule is removed)");
        }
        Ok(out)
    }

    fn add_rule(&self, st: &mut State, rule: ScreenRule, net: Network) {
        let list = match rule {
            ScreenRule::Allow => &mut st.allow,
            ScreenRule::Deny => &mut st.deny,
        };
        if !list.contains(&net) {
            list.push(net);
        }
        if let Err(e) = self.store.screen_put_rule(rule, &net.to_string(), true) {
            tracing::warn!("screening: cannot store the rule {net}: {e}");
        }
    }

    /// Removes `net` from a rule list; tells whether it was there.
    fn remove_rule(&self, st: &mut State, rule: ScreenRule, net: Network) -> bool {
        let list = match rule {
            ScreenRule::Allow => &mut st.allow,
            ScreenRule::Deny => &mut st.deny,
        };
        let before = list.len();
        list.retain(|n| *n != net);
        let removed = list.len() != before;
        if removed {
            if let Err(e) = self.store.screen_put_rule(rule, &net.to_string(), false) {
                tracing::warn!("screening: cannot remove the rule {net}: {e}");
            }
        }
        removed
    }

    /// `screen list`: bans, counts, accounts under attack, rules and trusted networks.
    /// Addresses banned now (for `/metrics`): a count over memory, nothing swept or stored.
    pub fn active_bans(&self) -> usize {
        let now = self.clock.now();
        lock(&self.state)
            .addresses
            .values()
            .filter(|e| e.rec.ban.as_ref().is_some_and(|b| b.until > now))
            .count()
    }

    pub fn list(&self, cfg: &ScreeningConfig) -> String {
        let now = self.clock.now();
        let mut st = lock(&self.state);
        self.sweep(cfg, &mut st, now);
        let window = secs(cfg.window);
        let mut out = String::new();
        if !cfg.enabled {
            out.push_str("screening is off ([screening] enabled = false)\n");
        }
        let mut rows: Vec<(&IpAddr, &Entry)> = st.addresses.iter().collect();
        rows.sort_by_key(|(ip, _)| **ip);
        let banned: Vec<_> = rows.iter().filter(|(_, e)| e.rec.ban.is_some()).collect();
        let _ = writeln!(out, "banned ({}):", banned.len());
        for (ip, e) in &banned {
            if let Some(b) = &e.rec.ban {
                let _ = writeln!(
                    out,
                    "  {ip}  until {}  ({}s left, ban #{})  {}",
                    iso8601(b.until),
                    b.until - now,
                    e.rec.offences,
                    b.reason
                );
            }
        }
        let counting: Vec<_> = rows
            .iter()
            .filter(|(_, e)| {
                e.rec.ban.is_none()
                    && (!e.rec.auth_failures.is_empty()
                        || !e.rec.failed_rcpts.is_empty()
                        || !e.rec.auth_probes.is_empty()
                        || !e.connections.is_empty())
            })
            .collect();
        let _ = writeln!(out, "counting ({}, window {window}s):", counting.len());
        for (ip, e) in counting {
            let _ = writeln!(
                out,
                "  {ip}  failed logins {}/{}  unknown recipients {}/{}  AUTH probes {}/{}  connections this minute {}/{}",
                e.rec.auth_failures.len(),
                cfg.auth_failures,
                e.rec.failed_rcpts.len(),
                cfg.failed_rcpts,
                e.rec.auth_probes.len(),
                cfg.auth_probes,
                e.connections.len(),
                cfg.connections_per_minute
            );
        }
        let mut accounts: Vec<_> = st.accounts.iter().collect();
        accounts.sort();
        if !accounts.is_empty() {
            let _ = writeln!(out, "accounts with failed logins:");
            for (a, times) in accounts {
                let _ = writeln!(out, "  {a}  {}/{}", times.len(), cfg.account_failures);
            }
        }
        let nets = |v: &[Network]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter().map(|n| shown(*n)).collect::<Vec<_>>().join(", ")
            }
        };
        let _ = writeln!(out, "denied: {}", nets(&st.deny));
        let _ = writeln!(out, "allowed: {}", nets(&st.allow));
        let _ = write!(out, "trusted ([screening] trusted): {}", nets(&cfg.trusted));
        out
    }
}

/// What an acceptor writes to a banned client before closing, by service. The
/// implicit-TLS services (smtps, imaps, pop3s) get nothing: plain text there is noise to
/// a TLS client, and a handshake would spend CPU on an address we refuse; they close.
pub fn refusal(service: &str) -> Option<&'static [u8]> {
    match service {
        "smtp" | "submission" => {
            Some(b"421 4.7.0 Your address is blocked for now, try again later\r\n")
        }
        "imap" => Some(b"* BYE [UNAVAILABLE] Your address is blocked for now\r\n"),
        "pop3" => Some(b"-ERR [SYS/TEMP] Your address is blocked for now\r\n"),
        _ => None,
    }
}

/// One client's line to the screener, for code that reports offences as they happen (the
/// SMTP session's recipient checks).
pub struct Reporter<'a> {
    screen: &'a Screen,
    cfg: &'a ScreeningConfig,
    ip: IpAddr,
}

impl<'a> Reporter<'a> {
    pub fn new(screen: &'a Screen, cfg: &'a ScreeningConfig, ip: IpAddr) -> Reporter<'a> {
        Reporter { screen, cfg, ip }
    }

    pub fn report(&self, offence: Offence<'_>) {
        self.screen.record(self.cfg, self.ip, offence);
    }
}

/// A network as typed: a single address without its `/32` or `/128`.
pub fn shown(net: Network) -> String {
    let host = if net.addr.is_ipv4() { 32 } else { 128 };
    if net.prefix == host {
        net.addr.to_string()
    } else {
        net.to_string()
    }
}

#[cfg(test)]
#[path = "screen_tests.rs"]
mod tests;
