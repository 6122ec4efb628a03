//! The MTA-STS policy cache and TLSRPT statistics (RFC 8461, RFC 8460) as stored values.

use serde::{Deserialize, Serialize};

/// A cached MTA-STS policy of one domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedStsPolicy {
    /// The `id` of the `_mta-sts` TXT record the policy was fetched under.
    pub id: String,
    /// The policy file as fetched (parsed again when used).
    pub text: String,
    pub fetched_at: i64,
    /// `fetched_at` + the policy's `max_age`.
    pub expires_at: i64,
}

/// One failure kind in a day's TLS report (RFC 8460 §4.3 `failure-details`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsFailureCount {
    /// RFC 8460 §4.3 result type, e.g. "certificate-host-mismatch".
    pub result_type: String,
    pub receiving_mx_hostname: String,
    pub receiving_ip: String,
    pub additional_information: String,
    pub count: u64,
}

/// The results under one policy in a day's TLS report (RFC 8460 §4.4 `policies[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsPolicyCounts {
    /// "sts", "tlsa" or "no-policy-found".
    pub policy_type: String,
    /// The policy as published (MTA-STS policy lines, or TLSA records).
    pub policy_string: Vec<String>,
    /// MTA-STS `mx` patterns.
    pub mx_host: Vec<String>,
    pub success: u64,
    pub failures: Vec<TlsFailureCount>,
}

/// What one delivery attempt adds to a TLS report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsResult {
    pub policy_type: String,
    pub policy_string: Vec<String>,
    pub mx_host: Vec<String>,
    /// `None`: a successful TLS session.
    pub failure: Option<TlsFailureCount>,
}

/// Adds `r` to `counts` (the day's policies of one domain).
pub fn add_result(counts: &mut Vec<TlsPolicyCounts>, r: &TlsResult) {
    let i = match counts
        .iter()
        .position(|p| p.policy_type == r.policy_type && p.policy_string == r.policy_string)
    {
        Some(i) => i,
        None => {
            counts.push(TlsPolicyCounts {
                policy_type: r.policy_type.clone(),
                policy_string: r.policy_string.clone(),
                mx_host: r.mx_host.clone(),
                ..TlsPolicyCounts::default()
            });
            counts.len() - 1
        }
    };
    let p = &mut counts[i];
    let Some(f) = &r.failure else {
        p.success = p.success.saturating_add(1);
        return;
    };
    let same = |c: &&mut TlsFailureCount| {
        c.result_type == f.result_type
            && c.receiving_mx_hostname == f.receiving_mx_hostname
            && c.receiving_ip == f.receiving_ip
    };
    match p.failures.iter_mut().find(same) {
        Some(c) => c.count = c.count.saturating_add(1),
        None => p.failures.push(TlsFailureCount {
            count: 1,
            ..f.clone()
        }),
    }
}
