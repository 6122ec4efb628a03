//! Outbound TLS policy state (issue 5, part 4): the MTA-STS policy cache (RFC 8461 §5.1) and
//! the per-day TLS report counters (RFC 8460 §4). Both live in trees of their own outside
//! the transactional set: each write touches one key, and losing the last writes in a crash
//! costs a policy fetch or a few report counts, never mail.

use serde::{Deserialize, Serialize};

use super::keys;
use super::{StorageError, Store};

const MTA_STS_TREE: &str = "v1/mta_sts";
const TLSRPT_TREE: &str = "v1/tlsrpt";

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

/// Key of a day's counters: day number (days since 1970) u32 BE ++ policy domain.
fn day_key(day: u32, domain: &str) -> Vec<u8> {
    let mut k = day.to_be_bytes().to_vec();
    k.extend_from_slice(domain.to_ascii_lowercase().as_bytes());
    k
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

impl Store {
    fn side_tree(&self, name: &str) -> Result<sled::Tree, StorageError> {
        Ok(self.inner.db.open_tree(name)?)
    }

    /// The cached MTA-STS policy of `domain` (lowercase), expired or not.
    pub fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>, StorageError> {
        let tree = self.side_tree(MTA_STS_TREE)?;
        match tree.get(domain.to_ascii_lowercase().as_bytes())? {
            Some(v) => Ok(Some(keys::decode(&v, "MTA-STS policy")?)),
            None => Ok(None),
        }
    }

    pub fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<(), StorageError> {
        let tree = self.side_tree(MTA_STS_TREE)?;
        tree.insert(domain.to_ascii_lowercase().as_bytes(), keys::encode(p)?)?;
        Ok(())
    }

    /// Counts `r` for `domain` on `day` (days since 1970).
    pub fn tlsrpt_add(&self, day: u32, domain: &str, r: &TlsResult) -> Result<(), StorageError> {
        let tree = self.side_tree(TLSRPT_TREE)?;
        let mut failed = None;
        tree.update_and_fetch(day_key(day, domain), |old| {
            // A record that cannot be read is started afresh (these are statistics).
            let mut counts: Vec<TlsPolicyCounts> = old
                .and_then(|v| keys::decode(v, "TLS report").ok())
                .unwrap_or_default();
            add_result(&mut counts, r);
            match keys::encode(&counts) {
                Ok(v) => Some(v),
                Err(e) => {
                    failed = Some(e);
                    old.map(<[u8]>::to_vec)
                }
            }
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// Every recorded day: (day, policy domain, counts), oldest first.
    pub fn tlsrpt_list(&self) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError> {
        let tree = self.side_tree(TLSRPT_TREE)?;
        let mut out = Vec::new();
        for entry in tree.iter() {
            let (k, v) = entry?;
            if k.len() < 4 {
                continue;
            }
            let day = keys::decode_u32(&k[..4], "TLS report day")?;
            let domain = String::from_utf8_lossy(&k[4..]).into_owned();
            out.push((day, domain, keys::decode(&v, "TLS report")?));
        }
        Ok(out)
    }

    /// Forgets the counts of `domain` on `day` (after its report went out).
    pub fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError> {
        self.side_tree(TLSRPT_TREE)?.remove(day_key(day, domain))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::store;

    fn fail(kind: &str, host: &str) -> TlsResult {
        TlsResult {
            policy_type: "sts".into(),
            policy_string: vec!["version: STSv1".into(), "mode: testing".into()],
            mx_host: vec!["mx.remote.test".into()],
            failure: Some(TlsFailureCount {
                result_type: kind.into(),
                receiving_mx_hostname: host.into(),
                ..TlsFailureCount::default()
            }),
        }
    }

    #[test]
    fn counts_add_up_per_day_and_domain() {
        let (_dir, s) = store();
        let ok = TlsResult {
            failure: None,
            ..fail("", "")
        };
        s.tlsrpt_add(20_000, "Remote.test", &ok).unwrap();
        s.tlsrpt_add(20_000, "remote.test", &ok).unwrap();
        s.tlsrpt_add(20_000, "remote.test", &fail("certificate-expired", "mx"))
            .unwrap();
        s.tlsrpt_add(20_000, "remote.test", &fail("certificate-expired", "mx"))
            .unwrap();
        s.tlsrpt_add(20_001, "remote.test", &fail("validation-failure", "mx"))
            .unwrap();
        let all = s.tlsrpt_list().unwrap();
        assert_eq!(all.len(), 2);
        let (day, domain, counts) = &all[0];
        assert_eq!((*day, domain.as_str()), (20_000, "remote.test"));
        assert_eq!(counts.len(), 1);
        assert_eq!(counts[0].success, 2);
        assert_eq!(counts[0].failures.len(), 1);
        assert_eq!(counts[0].failures[0].count, 2);
        s.tlsrpt_remove(20_000, "remote.test").unwrap();
        assert_eq!(s.tlsrpt_list().unwrap().len(), 1);
    }

    #[test]
    fn policy_cache_round_trip() {
        let (_dir, s) = store();
        assert_eq!(s.mta_sts_get("x.test").unwrap(), None);
        let p = CachedStsPolicy {
            id: "1".into(),
            text: "version: STSv1\n".into(),
            fetched_at: 5,
            expires_at: 10,
        };
        s.mta_sts_put("X.test", &p).unwrap();
        assert_eq!(s.mta_sts_get("x.TEST").unwrap(), Some(p));
    }
}
