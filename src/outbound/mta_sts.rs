//! MTA-STS (RFC 8461): whether a recipient domain wants its mail only over authenticated TLS,
//! and to which MX hosts.
//!
//! - §3.1: the `_mta-sts.<domain>` TXT record (`v=STSv1; id=…`) says a policy exists and
//!   names its version; more than one STSv1 record counts as none.
//! - §3.2/§3.3: the policy is `https://mta-sts.<domain>/.well-known/mta-sts.txt`, fetched with
//!   a certificate valid for that name, no redirects, bounded in time and size.
//! - §5.1: the policy is cached (the store's TLS policy cache) with the TXT id it was fetched under, for
//!   `max_age`. A cached, unexpired policy is used while the TXT id is unchanged; a new id means
//!   a fetch; when the TXT record is gone or a fetch fails the cached policy stays in force
//!   until it expires.
//! - §4.1: `mx` patterns match MX host names; `*.example.com` matches one extra leftmost label.
//! - §5: enforce: only matching MX hosts, TLS with a valid certificate, else no delivery
//!   (deferred); testing: deliver as without a policy, but report failures (TLS-RPT).
//!
//! Deviation: the policy host's certificate is checked against the compiled-in public roots
//! (or, in tests, `[delivery] test_trust_roots`), never the operating system's store.

use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::proto::rr::RData;
use rustls::RootCertStore;

use super::dns::Resolver;
use super::https::{self, Limits};
use crate::storage::{CachedStsPolicy, Store};

/// RFC 8461 §3.2: max_age is at most 31557600 seconds (a year).
pub const MAX_AGE_LIMIT: u64 = 31_557_600;
/// Largest policy file accepted (RFC 8461 §3.3: 64 KiB is suggested).
pub const MAX_POLICY_SIZE: usize = 64 * 1024;
/// How long a policy fetch may take (RFC 8461 §3.3: "a minute or so" is suggested).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// RFC 8461 §5 policy modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Enforce,
    Testing,
    None,
}

/// A parsed policy (RFC 8461 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub mode: Mode,
    /// MX patterns, lowercase, without trailing dots.
    pub mx: Vec<String>,
    pub max_age: u64,
}

/// The `id` of a `_mta-sts` TXT record (RFC 8461 §3.1), or why it is not one.
pub fn parse_txt(txt: &str) -> Result<String, String> {
    let mut fields = txt.split(';').map(str::trim).filter(|f| !f.is_empty());
    if fields.next() != Some("v=STSv1") {
        return Err("not an STSv1 record".into());
    }
    let mut id = None;
    for f in fields {
        if let Some(v) = f.strip_prefix("id=") {
            // sts-id = 1*32(ALPHA / DIGIT)
            if v.is_empty() || v.len() > 32 || !v.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!("invalid id {v:?}"));
            }
            id = Some(v.to_string());
        }
    }
    id.ok_or_else(|| "no id".to_string())
}

/// Parses a policy file (RFC 8461 §3.2): `key: value` lines (LF or CRLF); unknown keys are
/// ignored; version, mode and max_age are required, and at least one `mx` unless the mode
/// is none.
pub fn parse_policy(text: &str) -> Result<Policy, String> {
    let (mut version, mut mode, mut max_age) = (None, None, None);
    let mut mx = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            return Err(format!("line without a colon: {line:?}"));
        };
        let v = v.trim();
        match k.trim() {
            "version" => version = Some(v.to_string()),
            "mode" => {
                mode = Some(match v {
                    "enforce" => Mode::Enforce,
                    "testing" => Mode::Testing,
                    "none" => Mode::None,
                    _ => return Err(format!("unknown mode {v:?}")),
                })
            }
            "max_age" => {
                let n: u64 = v.parse().map_err(|_| format!("invalid max_age {v:?}"))?;
                max_age = Some(n.min(MAX_AGE_LIMIT));
            }
            "mx" => mx.push(v.trim_end_matches('.').to_ascii_lowercase()),
            _ => {}
        }
    }
    if version.as_deref() != Some("STSv1") {
        return Err("version is not STSv1".into());
    }
    let mode = mode.ok_or("no mode")?;
    let max_age = max_age.ok_or("no max_age")?;
    if mx.is_empty() && mode != Mode::None {
        return Err("no mx".into());
    }
    Ok(Policy { mode, mx, max_age })
}

impl Policy {
    /// RFC 8461 §4.1: does MX host `host` match one of the policy's patterns?
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.mx.iter().any(|p| match p.strip_prefix("*.") {
            // The wildcard stands for exactly one leftmost label.
            Some(suffix) => host
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == suffix),
            None => *p == host,
        })
    }
}

/// The policy of a domain as far as delivery is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StsState {
    /// No policy published (or MTA-STS turned off).
    None,
    /// A policy in force; `text` is the policy file, for reports and the console.
    Policy {
        policy: Policy,
        id: String,
        text: String,
        /// Taken from the cache (not fetched now).
        cached: bool,
        expires_at: i64,
    },
    /// A TXT record says there is a policy, but none could be fetched and none is cached.
    FetchFailed(String),
}

/// What looking up a policy needs.
pub struct Lookup<'a> {
    pub resolver: &'a Resolver,
    pub store: &'a Store,
    pub roots: Arc<RootCertStore>,
    pub https_port: u16,
    pub now: i64,
}

/// The `_mta-sts` TXT record of `domain`: `Ok(Some(id))`, `Ok(None)` when there is none
/// (or more than one, §3.1), `Err` when DNS failed.
pub async fn txt_id(resolver: &Resolver, domain: &str) -> Result<Option<String>, String> {
    let name = format!("_mta-sts.{domain}.");
    let lookup = match resolver.txt_lookup(name.clone()).await {
        Ok(l) => l,
        Err(e) if e.is_no_records_found() || e.is_nx_domain() => return Ok(None),
        Err(e) => return Err(format!("TXT lookup for {name}: {e}")),
    };
    let ids: Vec<Result<String, String>> = lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::TXT(t) => Some(t.to_string()),
            _ => None,
        })
        .filter(|t| t.trim_start().starts_with("v=STSv1"))
        .map(|t| parse_txt(&t))
        .collect();
    match ids.as_slice() {
        [Ok(id)] => Ok(Some(id.clone())),
        _ => Ok(None),
    }
}

/// The policy in force for `domain` now (RFC 8461 §5.1), fetching and caching as needed.
pub async fn current(cx: &Lookup<'_>, domain: &str) -> StsState {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let cached = match cx.store.mta_sts_get(&domain) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(%domain, "cannot read the cached MTA-STS policy: {e}");
            None
        }
    };
    let fresh = cached.filter(|c| c.expires_at > cx.now);
    let from_cache = |c: &CachedStsPolicy| match parse_policy(&c.text) {
        Ok(policy) => StsState::Policy {
            policy,
            id: c.id.clone(),
            text: c.text.clone(),
            cached: true,
            expires_at: c.expires_at,
        },
        Err(_) => StsState::None,
    };
    let id = match txt_id(cx.resolver, &domain).await {
        Ok(Some(id)) => id,
        // §5.1: no record (or no answer) now; a cached policy stays in force until it expires.
        Ok(None) | Err(_) => return fresh.as_ref().map_or(StsState::None, from_cache),
    };
    if let Some(c) = fresh.as_ref().filter(|c| c.id == id) {
        return from_cache(c);
    }
    match fetch(cx, &domain).await {
        Ok((text, policy)) => {
            let expires_at = cx
                .now
                .saturating_add(i64::try_from(policy.max_age).unwrap_or(i64::MAX));
            let record = CachedStsPolicy {
                id: id.clone(),
                text: text.clone(),
                fetched_at: cx.now,
                expires_at,
            };
            if let Err(e) = cx.store.mta_sts_put(&domain, &record) {
                tracing::warn!(%domain, "cannot cache the MTA-STS policy: {e}");
            }
            StsState::Policy {
                policy,
                id,
                text,
                cached: false,
                expires_at,
            }
        }
        Err(e) => {
            tracing::info!(%domain, "MTA-STS policy fetch failed: {e}");
            match fresh.as_ref() {
                Some(c) => from_cache(c),
                None => StsState::FetchFailed(e),
            }
        }
    }
}

/// Fetches and parses the policy of `domain`.
pub async fn fetch(cx: &Lookup<'_>, domain: &str) -> Result<(String, Policy), String> {
    let host = format!("mta-sts.{domain}");
    let limits = Limits {
        timeout: FETCH_TIMEOUT,
        max_body: MAX_POLICY_SIZE,
    };
    let text = https::get(
        cx.resolver,
        &host,
        cx.https_port,
        "/.well-known/mta-sts.txt",
        cx.roots.clone(),
        limits,
    )
    .await?;
    let policy = parse_policy(&text).map_err(|e| format!("invalid policy from {host}: {e}"))?;
    Ok((text, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_records() {
        assert_eq!(
            parse_txt("v=STSv1; id=20160831085700Z;"),
            Ok("20160831085700Z".into())
        );
        assert_eq!(parse_txt("v=STSv1;id=abc"), Ok("abc".into()));
        assert!(parse_txt("v=STSv2; id=abc").is_err());
        assert!(parse_txt("v=STSv1;").is_err(), "no id");
        assert!(parse_txt("v=STSv1; id=a-b").is_err(), "id is alphanumeric");
        assert!(parse_txt(&format!("v=STSv1; id={}", "a".repeat(33))).is_err());
    }

    #[test]
    fn policies() {
        // RFC 8461 §3.2 example
        let p = parse_policy(
            "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\n\
             mx: backupmx.example.com\r\nmax_age: 604800\r\n",
        )
        .unwrap();
        assert_eq!(p.mode, Mode::Enforce);
        assert_eq!(p.max_age, 604_800);
        assert_eq!(p.mx.len(), 3);
        let t =
            parse_policy("version: STSv1\nmode: testing\nmx: a.b\nmax_age: 99999999999\nx: y\n")
                .unwrap();
        assert_eq!((t.mode, t.max_age), (Mode::Testing, MAX_AGE_LIMIT));
        assert_eq!(
            parse_policy("version: STSv1\nmode: none\nmax_age: 1\n").map(|p| p.mode),
            Ok(Mode::None)
        );
        for bad in [
            "mode: enforce\nmx: a\nmax_age: 1\n",
            "version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmax_age: 1\n",
            "version: STSv1\nmode: enforce\nmx: a\n",
            "version: STSv1\nmode: enforce\nmx: a\nmax_age: -1\n",
            "version: STSv1\ngarbage\n",
        ] {
            assert!(parse_policy(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn mx_patterns() {
        let p = Policy {
            mode: Mode::Enforce,
            mx: vec!["mail.example.com".into(), "*.example.net".into()],
            max_age: 1,
        };
        assert!(p.matches("mail.example.com"));
        assert!(p.matches("MAIL.Example.COM."));
        assert!(!p.matches("other.example.com"));
        assert!(p.matches("mx1.example.net"));
        assert!(!p.matches("example.net"), "the wildcard needs a label");
        assert!(!p.matches("a.b.example.net"), "only one label");
        assert!(!p.matches("mx1example.net"));
    }
}
