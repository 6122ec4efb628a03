//! DNS for mail: the resolver built from `[dns] nameservers` (shared with SPF/DKIM/DMARC
//! checks), MX lookup with the RFC 5321 §5.1 rules, and address lookup.
//!
//! - MX records are tried in preference order; records of equal preference in random order
//!   (RFC 5321 §5.1 "randomize").
//! - No MX record (the name exists without MX): the domain itself is the one host, with
//!   preference 0 (the "implicit MX", A/AAAA fallback).
//! - Null MX (RFC 7505): a single MX "." means the domain accepts no mail: bounce at once.
//! - NXDOMAIN is permanent; timeouts and server failures are temporary.

use std::net::{IpAddr, SocketAddr};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use rand::seq::SliceRandom;

use crate::config::DnsConfig;

/// The resolver type the server uses.
pub type Resolver = TokioResolver;

/// Why a lookup gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The name does not exist, or has no records of the kind needed: do not retry.
    #[error("{0}")]
    Permanent(String),
    /// Timeout, server failure, network: try again later.
    #[error("{0}")]
    Temporary(String),
}

/// Builds the resolver: the configured name servers (UDP and TCP, each on its port), or the
/// system's (`/etc/resolv.conf`) when none is configured.
pub fn resolver(config: &DnsConfig) -> Result<Resolver, String> {
    if config.nameservers.is_empty() {
        let builder = TokioResolver::builder_tokio()
            .map_err(|e| format!("cannot read the system resolver configuration: {e}"))?;
        return builder
            .build()
            .map_err(|e| format!("cannot build the resolver: {e}"));
    }
    let rc = configured_servers(config);
    TokioResolver::builder_with_config(rc, TokioRuntimeProvider::default())
        .build()
        .map_err(|e| format!("cannot build the resolver: {e}"))
}

/// The resolver configuration for `[dns] nameservers` (each over UDP and TCP on its own
/// port), shared by delivery and the mail checks (`mailauth`). The caller falls back to the
/// system's configuration when the list is empty.
pub fn configured_servers(config: &DnsConfig) -> ResolverConfig {
    let servers = config
        .nameservers
        .iter()
        .map(|addr| {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
        })
        .collect();
    ResolverConfig::from_parts(None, Vec::new(), servers)
}

/// One mail exchanger of a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxHost {
    /// Host name without the trailing dot.
    pub name: String,
    pub preference: u16,
}

/// Where mail for a domain goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxPlan {
    /// RFC 7505: the domain accepts no mail.
    NullMx,
    /// Hosts in the order to try them.
    Hosts(Vec<MxHost>),
}

/// A fully qualified form of `name`, so that no search domain is appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

fn classify(e: &NetError, what: &str) -> DnsError {
    if e.is_nx_domain() {
        DnsError::Permanent(format!("{what}: no such domain"))
    } else if e.is_no_records_found() {
        DnsError::Permanent(format!("{what}: no records"))
    } else {
        DnsError::Temporary(format!("{what}: {e}"))
    }
}

/// The mail exchangers of `domain`, in the order to try them.
pub async fn mx_hosts(resolver: &Resolver, domain: &str) -> Result<MxPlan, DnsError> {
    let what = format!("MX lookup for {domain}");
    let records = match resolver.mx_lookup(fqdn(domain)).await {
        Ok(lookup) => lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.to_string())),
                _ => None,
            })
            .collect::<Vec<_>>(),
        Err(e) if e.is_no_records_found() && !e.is_nx_domain() => Vec::new(),
        Err(e) => return Err(classify(&e, &what)),
    };
    Ok(plan(domain, records, &mut rand::thread_rng()))
}

/// Orders MX records (preference, name) into a plan; pure so it can be tested.
pub fn plan(domain: &str, records: Vec<(u16, String)>, rng: &mut impl rand::Rng) -> MxPlan {
    if records.is_empty() {
        // RFC 5321 §5.1: no MX, the domain itself is the implicit MX.
        return MxPlan::Hosts(vec![MxHost {
            name: domain.trim_end_matches('.').to_ascii_lowercase(),
            preference: 0,
        }]);
    }
    let is_null = |name: &str| name.is_empty() || name == ".";
    if records.iter().all(|(_, n)| is_null(n)) {
        return MxPlan::NullMx;
    }
    let mut hosts: Vec<MxHost> = records
        .into_iter()
        .filter(|(_, n)| !is_null(n))
        .map(|(preference, n)| MxHost {
            name: n.trim_end_matches('.').to_ascii_lowercase(),
            preference,
        })
        .collect();
    hosts.shuffle(rng);
    // A stable sort keeps the shuffled order within one preference.
    hosts.sort_by_key(|h| h.preference);
    hosts.dedup_by(|a, b| a.name == b.name);
    MxPlan::Hosts(hosts)
}

/// The addresses of `host` (an IP literal is its own address).
pub async fn addresses(resolver: &Resolver, host: &str) -> Result<Vec<IpAddr>, DnsError> {
    if let Ok(ip) = host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
    {
        return Ok(vec![ip]);
    }
    match resolver.lookup_ip(fqdn(host)).await {
        Ok(ips) => {
            let v: Vec<IpAddr> = ips.iter().collect();
            if v.is_empty() {
                Err(DnsError::Permanent(format!("{host}: no address records")))
            } else {
                Ok(v)
            }
        }
        Err(e) => Err(classify(&e, &format!("address lookup for {host}"))),
    }
}

/// The socket addresses to try for `host` on `port`.
pub async fn socket_addrs(
    resolver: &Resolver,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, DnsError> {
    Ok(addresses(resolver, host)
        .await?
        .into_iter()
        .map(|ip| SocketAddr::new(ip, port))
        .collect())
}

/// Record kinds the console's `dns` command looks up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupKind {
    Mx,
    Txt,
    A,
}

/// A lookup as the server sees it, one line per record, for the console.
pub async fn lookup_lines(
    resolver: &Resolver,
    kind: LookupKind,
    name: &str,
) -> Result<Vec<String>, DnsError> {
    let what = format!("{kind:?} lookup for {name}").to_uppercase();
    let rtype = match kind {
        LookupKind::Mx => RecordType::MX,
        LookupKind::Txt => RecordType::TXT,
        LookupKind::A => {
            let ips = addresses(resolver, name).await?;
            return Ok(ips.iter().map(|ip| ip.to_string()).collect());
        }
    };
    let lookup = resolver
        .lookup(fqdn(name), rtype)
        .await
        .map_err(|e| classify(&e, &what))?;
    Ok(lookup
        .answers()
        .iter()
        .filter_map(|r| match &r.data {
            RData::MX(mx) => Some(format!("{} {}", mx.preference, mx.exchange)),
            RData::TXT(txt) => Some(format!("\"{txt}\"")),
            _ => None,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn names(p: &MxPlan) -> Vec<String> {
        match p {
            MxPlan::NullMx => vec!["<null>".into()],
            MxPlan::Hosts(h) => h.iter().map(|h| h.name.clone()).collect(),
        }
    }

    #[test]
    fn plans() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let p = plan("Example.ORG", vec![], &mut rng);
        assert_eq!(names(&p), vec!["example.org"], "implicit MX");
        assert_eq!(
            plan("x.org", vec![(0, ".".into())], &mut rng),
            MxPlan::NullMx
        );
        let p = plan(
            "x.org",
            vec![
                (20, "b.x.org.".into()),
                (10, "A.x.org.".into()),
                (30, "c.x.org.".into()),
                (10, "a.x.org.".into()),
            ],
            &mut rng,
        );
        assert_eq!(names(&p), vec!["a.x.org", "b.x.org", "c.x.org"]);
        // A null MX beside real ones is ignored (RFC 7505 §3 forbids the mix).
        let p = plan(
            "x.org",
            vec![(0, ".".into()), (5, "m.x.org".into())],
            &mut rng,
        );
        assert_eq!(names(&p), vec!["m.x.org"]);
    }

    #[test]
    fn equal_preferences_are_shuffled_but_stay_before_worse_ones() {
        let recs = vec![
            (10, "a.".into()),
            (10, "b.".into()),
            (10, "c.".into()),
            (50, "z.".into()),
        ];
        let mut firsts = std::collections::HashSet::new();
        for seed in 0..40 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let n = names(&plan("d", recs.clone(), &mut rng));
            assert_eq!(n.last().map(String::as_str), Some("z"));
            firsts.insert(n[0].clone());
        }
        assert_eq!(
            firsts.len(),
            3,
            "every equal-preference host comes first sometimes"
        );
    }
}
