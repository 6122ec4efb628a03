//! `tls-policy show DOMAIN` (console): the outbound TLS policy of a domain as delivery sees
//! it — MTA-STS (cached or fetched now), each MX host with its TLSA records, the TLS-RPT
//! report addresses and the results counted so far.

use std::fmt::Write;

use super::dane::{self, TlsaAnswer};
use super::dns::{self, MxPlan, Resolver};
use super::mta_sts::{self, StsState};
use super::policy::TLSA_TIMEOUT;
use super::tls::trust_roots;
use super::tlsrpt;
use crate::config::Config;
use crate::storage::Store;

/// The report, one fact a line.
pub async fn tls_policy(
    config: &Config,
    resolver: &Resolver,
    store: &Store,
    now: i64,
    domain: &str,
) -> Result<String, String> {
    let mut out = String::new();
    let sts = if config.delivery.mta_sts {
        let cx = mta_sts::Lookup {
            resolver,
            store,
            roots: trust_roots(&config.delivery)?,
            https_port: config.delivery.https_port,
            now,
        };
        mta_sts::current(&cx, domain).await
    } else {
        let _ = writeln!(out, "MTA-STS: off ([delivery] mta_sts = false)");
        StsState::None
    };
    let policy = match &sts {
        StsState::None => {
            let _ = writeln!(out, "MTA-STS: no policy");
            None
        }
        StsState::FetchFailed(e) => {
            let _ = writeln!(
                out,
                "MTA-STS: published, but the policy cannot be fetched: {e}"
            );
            None
        }
        StsState::Policy {
            policy,
            id,
            text,
            cached,
            expires_at,
        } => {
            let _ = writeln!(
                out,
                "MTA-STS: mode {:?}, id {id}, {}, valid for {}s more",
                policy.mode,
                if *cached { "cached" } else { "fetched now" },
                expires_at - now
            );
            for l in text.lines().filter(|l| !l.trim().is_empty()) {
                let _ = writeln!(out, "  {}", l.trim_end());
            }
            Some(policy.clone())
        }
    };
    match dns::mx_hosts(resolver, domain).await {
        Ok(MxPlan::NullMx) => {
            let _ = writeln!(out, "MX: null MX (accepts no mail)");
        }
        Ok(MxPlan::Hosts(hosts)) => {
            for h in hosts {
                let allowed = match &policy {
                    Some(p) if p.matches(&h.name) => " (listed in the MTA-STS policy)",
                    Some(p) if p.mode == mta_sts::Mode::Enforce => " (NOT in the policy: not used)",
                    Some(_) => " (not in the policy)",
                    None => "",
                };
                let _ = writeln!(out, "MX {} {}{allowed}", h.preference, h.name);
                let _ = writeln!(out, "  {}", tlsa_line(config, &h.name).await);
            }
        }
        Err(e) => {
            let _ = writeln!(out, "MX: {e}");
        }
    }
    match tlsrpt::rua(resolver, domain).await {
        Ok(rua) if rua.is_empty() => {
            let _ = writeln!(out, "TLS-RPT: no report address (_smtp._tls)");
        }
        Ok(rua) => {
            let _ = writeln!(
                out,
                "TLS-RPT: reports to {} ({})",
                rua.join(", "),
                if config.delivery.tls_reports {
                    "sent daily"
                } else {
                    "not sent: [delivery] tls_reports = false"
                }
            );
        }
        Err(e) => {
            let _ = writeln!(out, "TLS-RPT: {e}");
        }
    }
    for (day, d, counts) in store.tlsrpt_list().map_err(|e| e.to_string())? {
        if d != domain {
            continue;
        }
        for p in counts {
            let failures: Vec<String> = p
                .failures
                .iter()
                .map(|f| format!("{} x{}", f.result_type, f.count))
                .collect();
            let _ = writeln!(
                out,
                "results {} ({}): {} successful, failed: {}",
                tlsrpt::date(day),
                p.policy_type,
                p.success,
                if failures.is_empty() {
                    "none".into()
                } else {
                    failures.join(", ")
                }
            );
        }
    }
    Ok(out.trim_end().to_string())
}

async fn tlsa_line(config: &Config, host: &str) -> String {
    let name = dane::tlsa_name(host, config.delivery.port);
    let Some(server) = config.dns.nameservers.first() else {
        return format!("TLSA {name}: not looked up (DANE needs [dns] nameservers and trust_ad)");
    };
    if !config.dns.trust_ad {
        return format!("TLSA {name}: not used ([dns] trust_ad = false)");
    }
    match dane::lookup(*server, &name, TLSA_TIMEOUT).await {
        Ok(TlsaAnswer::Secure(records)) => {
            let list: Vec<String> = records.iter().map(|r| r.to_string()).collect();
            format!(
                "TLSA {name} (DNSSEC-validated, DANE applies): {}",
                list.join("; ")
            )
        }
        Ok(TlsaAnswer::Insecure) => format!("TLSA {name}: none validated (no DANE)"),
        Err(e) => format!("TLSA {name}: {e} (the host is not used)"),
    }
}
