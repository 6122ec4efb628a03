//! Outbound TLS policy state (issue 5, part 4): the MTA-STS policy cache (RFC 8461 §5.1) and
//! the per-day TLS report counters (RFC 8460 §4). Both live in trees of their own outside
//! the transactional set: each write touches one key, and losing the last writes in a crash
//! costs a policy fetch or a few report counts, never mail.

use super::keys;
use super::{SledStore, StorageError};
use crate::storage::tlspolicy::*;
use crate::storage::traits::TlsPolicyStore;

pub(super) const MTA_STS_TREE: &str = "v1/mta_sts";
const TLSRPT_TREE: &str = "v1/tlsrpt";

/// Key of a day's counters: day number (days since 1970) u32 BE ++ policy domain.
fn day_key(day: u32, domain: &str) -> Vec<u8> {
    let mut k = day.to_be_bytes().to_vec();
    k.extend_from_slice(domain.to_ascii_lowercase().as_bytes());
    k
}

impl SledStore {
    fn side_tree(&self, name: &str) -> Result<sled::Tree, StorageError> {
        Ok(self.inner.db.open_tree(name)?)
    }
}

impl TlsPolicyStore for SledStore {
    fn mta_sts_get(&self, domain: &str) -> Result<Option<CachedStsPolicy>, StorageError> {
        let tree = self.side_tree(MTA_STS_TREE)?;
        match tree.get(domain.to_ascii_lowercase().as_bytes())? {
            Some(v) => Ok(Some(keys::decode(&v, "MTA-STS policy")?)),
            None => Ok(None),
        }
    }

    fn mta_sts_put(&self, domain: &str, p: &CachedStsPolicy) -> Result<(), StorageError> {
        let tree = self.side_tree(MTA_STS_TREE)?;
        tree.insert(domain.to_ascii_lowercase().as_bytes(), keys::encode(p)?)?;
        Ok(())
    }

    fn tlsrpt_add(&self, day: u32, domain: &str, r: &TlsResult) -> Result<(), StorageError> {
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

    fn tlsrpt_list(&self) -> Result<Vec<(u32, String, Vec<TlsPolicyCounts>)>, StorageError> {
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

    fn tlsrpt_remove(&self, day: u32, domain: &str) -> Result<(), StorageError> {
        self.side_tree(TLSRPT_TREE)?.remove(day_key(day, domain))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testutil::store;
    #[allow(unused_imports)]
    use crate::storage::*;

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
