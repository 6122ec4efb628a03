//! Dynamic screening's state (issue 10 §5, `actors::screen`): per-address counts and bans,
//! per-account failure times, and the `screen allow` / `screen deny` rules, so that they
//! survive a restart. One tree outside the transactional set, as `v1/mta_sts`: every write
//! touches one key, and losing the last writes in a crash costs a few counts, never mail.
//!
//! | key                    | value (bincode)          |
//! |------------------------|--------------------------|
//! | `ip/` address          | [`ScreenRecord`]         |
//! | `account/` address     | `Vec<i64>` failure times |
//! | `allow/` network       | empty                    |
//! | `deny/` network        | empty                    |

use std::net::IpAddr;

use serde::Serialize;

use super::keys;
use super::{SledStore, StorageError};
use crate::storage::screen::*;
use crate::storage::traits::Screening;

const SCREEN_TREE: &str = "v1/screen";
const IP: &str = "ip/";
const ACCOUNT: &str = "account/";

fn key(prefix: &str, name: &str) -> Vec<u8> {
    let mut k = prefix.as_bytes().to_vec();
    k.extend_from_slice(name.as_bytes());
    k
}

impl SledStore {
    fn screen_tree(&self) -> Result<sled::Tree, StorageError> {
        Ok(self.db().open_tree(SCREEN_TREE)?)
    }

    fn screen_put<T: Serialize>(&self, k: Vec<u8>, value: Option<&T>) -> Result<(), StorageError> {
        let tree = self.screen_tree()?;
        match value {
            Some(v) => tree.insert(k, keys::encode(v)?)?,
            None => tree.remove(k)?,
        };
        Ok(())
    }
}

impl Screening for SledStore {
    fn screen_load(&self) -> Result<ScreenSnapshot, StorageError> {
        let mut out = ScreenSnapshot::default();
        for item in self.screen_tree()?.iter() {
            let (k, v) = item?;
            let Ok(k) = std::str::from_utf8(&k) else {
                continue;
            };
            if let Some(ip) = k.strip_prefix(IP) {
                match (ip.parse(), keys::decode(&v, "screening record")) {
                    (Ok(ip), Ok(rec)) => out.addresses.push((ip, rec)),
                    (_, Err(e)) => tracing::warn!("screening: {k}: {e}"),
                    (Err(_), _) => tracing::warn!("screening: {k}: not an address"),
                }
            } else if let Some(account) = k.strip_prefix(ACCOUNT) {
                match keys::decode(&v, "screening account record") {
                    Ok(times) => out.accounts.push((account.to_string(), times)),
                    Err(e) => tracing::warn!("screening: {k}: {e}"),
                }
            } else if let Some(net) = k.strip_prefix(ScreenRule::Allow.prefix()) {
                out.allow.push(net.to_string());
            } else if let Some(net) = k.strip_prefix(ScreenRule::Deny.prefix()) {
                out.deny.push(net.to_string());
            }
        }
        Ok(out)
    }

    fn screen_put_address(
        &self,
        ip: IpAddr,
        rec: Option<&ScreenRecord>,
    ) -> Result<(), StorageError> {
        let k = key(IP, &ip.to_string());
        self.screen_put(k, rec)
    }

    fn screen_put_account(
        &self,
        account: &str,
        times: Option<&Vec<i64>>,
    ) -> Result<(), StorageError> {
        self.screen_put(key(ACCOUNT, account), times)
    }

    fn screen_put_rule(
        &self,
        rule: ScreenRule,
        network: &str,
        present: bool,
    ) -> Result<(), StorageError> {
        let k = key(rule.prefix(), network);
        let tree = self.screen_tree()?;
        if present {
            tree.insert(k, Vec::new())?;
        } else {
            tree.remove(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::storage::*;

    #[test]
    fn records_rules_and_accounts_round_trip_and_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let rec = ScreenRecord {
            auth_failures: vec![10, 20],
            ban: Some(Ban {
                since: 20,
                until: 620,
                reason: "test".into(),
            }),
            offences: 1,
            last_ban_end: 620,
            ..ScreenRecord::default()
        };
        store.screen_put_address(ip, Some(&rec)).unwrap();
        store
            .screen_put_account("bob@example.com", Some(&vec![5]))
            .unwrap();
        store
            .screen_put_rule(ScreenRule::Allow, "10.0.0.0/8", true)
            .unwrap();
        store
            .screen_put_rule(ScreenRule::Deny, "2001:db8::/32", true)
            .unwrap();
        drop(store);
        let store = SledStore::open(dir.path()).unwrap();
        let snap = store.screen_load().unwrap();
        assert_eq!(snap.addresses, vec![(ip, rec)]);
        assert_eq!(
            snap.accounts,
            vec![("bob@example.com".to_string(), vec![5])]
        );
        assert_eq!(snap.allow, vec!["10.0.0.0/8".to_string()]);
        assert_eq!(snap.deny, vec!["2001:db8::/32".to_string()]);
        store.screen_put_address(ip, None).unwrap();
        store.screen_put_account("bob@example.com", None).unwrap();
        store
            .screen_put_rule(ScreenRule::Deny, "2001:db8::/32", false)
            .unwrap();
        let snap = store.screen_load().unwrap();
        assert!(snap.addresses.is_empty() && snap.accounts.is_empty() && snap.deny.is_empty());
        assert_eq!(snap.allow.len(), 1);
    }
}
