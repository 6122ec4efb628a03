//! The TLS policy of a destination (issue 5, part 4): what MTA-STS (RFC 8461) and DANE
//! (RFC 7672) ask of the delivery, and what goes into the TLS reports (RFC 8460).
//!
//! Precedence (RFC 8461 §2, RFC 7672): DANE, when the MX host has DNSSEC-validated TLSA
//! records, decides for that host; otherwise the domain's MTA-STS policy; otherwise
//! opportunistic TLS. REQUIRETLS (RFC 8689) is checked per message on the connection this
//! gives (see `deliver::send`).

use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;

use super::dane::{self, TlsaAnswer};
use super::dns::Resolver;
use super::mta_sts::{self, Mode, Policy, StsState};
use super::tls::{trust_roots, TlsPolicy};
use super::tlsrpt;
use crate::config::Config;
use crate::storage::{Store, TlsResult};

/// How long a TLSA lookup may take.
pub const TLSA_TIMEOUT: Duration = Duration::from_secs(10);

/// What a destination's MTA-STS policy asks.
pub struct DomainPolicy {
    pub domain: String,
    pub sts: StsState,
    /// The policy in force (mode enforce or testing).
    active: Option<Policy>,
    roots: Option<Arc<RootCertStore>>,
}

impl DomainPolicy {
    /// No policy (smarthost, MTA-STS off).
    pub fn none(domain: &str) -> DomainPolicy {
        DomainPolicy {
            domain: domain.to_string(),
            sts: StsState::None,
            active: None,
            roots: None,
        }
    }

    /// Looks up (and caches) the MTA-STS policy of `domain`; a policy that cannot be fetched
    /// is counted for the TLS report.
    pub async fn lookup(
        config: &Config,
        resolver: &Resolver,
        store: &Store,
        now: i64,
        domain: &str,
    ) -> DomainPolicy {
        if !config.delivery.mta_sts {
            return DomainPolicy::none(domain);
        }
        let roots = match trust_roots(&config.delivery) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("no trust roots for MTA-STS: {e}");
                return DomainPolicy::none(domain);
            }
        };
        let cx = mta_sts::Lookup {
            resolver,
            store,
            roots: roots.clone(),
            https_port: config.delivery.https_port,
            now,
        };
        let sts = mta_sts::current(&cx, domain).await;
        if let StsState::FetchFailed(e) = &sts {
            let r = TlsResult {
                policy_type: "no-policy-found".into(),
                policy_string: Vec::new(),
                mx_host: Vec::new(),
                failure: tlsrpt::failure("sts-policy-fetch-error", "", "", e),
            };
            tlsrpt::record(store, now, domain, &r);
        }
        let active = match &sts {
            StsState::Policy { policy, .. } if policy.mode != Mode::None => Some(policy.clone()),
            _ => None,
        };
        DomainPolicy {
            domain: domain.to_string(),
            sts,
            active,
            roots: Some(roots),
        }
    }

    /// RFC 8461 §5: in enforce mode, only matching MX hosts are used.
    pub fn enforced(&self) -> bool {
        self.active
            .as_ref()
            .is_some_and(|p| p.mode == Mode::Enforce)
    }

    /// Is `host` allowed (always, unless an enforced policy does not list it)?
    pub fn allows(&self, host: &str) -> bool {
        match &self.active {
            Some(p) => p.matches(host) || p.mode != Mode::Enforce,
            None => true,
        }
    }

    /// The TLS-RPT description of the MTA-STS policy, when one is in force.
    pub fn report(&self) -> Option<TlsResult> {
        let (StsState::Policy { text, .. }, Some(p)) = (&self.sts, &self.active) else {
            return None;
        };
        Some(TlsResult {
            policy_type: "sts".into(),
            policy_string: text
                .lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .filter(|l| !l.is_empty())
                .collect(),
            mx_host: p.mx.clone(),
            failure: None,
        })
    }

    /// The MTA-STS part of a host's policy: verified TLS when a policy is in force and lists
    /// the host (testing mode tries it too, and falls back).
    fn sts_tls(&self, host: &str) -> Option<TlsPolicy> {
        let p = self.active.as_ref()?;
        let roots = self.roots.clone()?;
        (p.matches(host) || p.mode == Mode::Testing).then_some(TlsPolicy::Verified(roots))
    }
}

/// The TLS policy for one MX host.
pub struct HostPolicy {
    pub tls: TlsPolicy,
    /// A failure may fall back to opportunistic TLS (MTA-STS testing mode).
    pub may_fall_back: bool,
    /// What results are counted under (TLS-RPT), when a policy applies.
    pub report: Option<TlsResult>,
}

/// Decides the policy for `host` of `domain`: DANE first (when `[dns] trust_ad`), then
/// MTA-STS. `Err`: the host must not be used now (a TLSA lookup that failed, RFC 7672 §2.2).
pub async fn for_host(
    config: &Config,
    domain: &DomainPolicy,
    host: &str,
    port: u16,
) -> Result<HostPolicy, String> {
    if config.dns.trust_ad {
        if let Some(server) = config.dns.nameservers.first() {
            let name = dane::tlsa_name(host, port);
            if let TlsaAnswer::Secure(records) = dane::lookup(*server, &name, TLSA_TIMEOUT).await? {
                let report = TlsResult {
                    policy_type: "tlsa".into(),
                    policy_string: records.iter().map(|r| r.to_string()).collect(),
                    mx_host: vec![host.to_string()],
                    failure: None,
                };
                return Ok(HostPolicy {
                    tls: TlsPolicy::Dane(records),
                    may_fall_back: false,
                    report: Some(report),
                });
            }
        }
    }
    match domain.sts_tls(host) {
        Some(tls) => Ok(HostPolicy {
            tls,
            may_fall_back: !domain.enforced(),
            report: domain.report(),
        }),
        None => Ok(HostPolicy {
            tls: TlsPolicy::Opportunistic,
            may_fall_back: false,
            report: None,
        }),
    }
}
