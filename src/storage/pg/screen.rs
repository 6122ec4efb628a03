//! Dynamic screening's state (`actors::screen`): per-address records and bans
//! (`screen_addresses`), per-account failure times (`screen_accounts`) and the `screen
//! allow` / `screen deny` rules (`screen_rules`), shared by the nodes.
//!
//! A change of a ban or of a rule notifies the settings channel ("NODE screening"), so that
//! other nodes reload their screening state; the counts that change on every failed login
//! do not (they are this node's view, merged at the next load).

use std::net::IpAddr;

use super::pool::{pg_error, Db};
use super::settings::{decode, encode};
use super::PgStore;
use crate::storage::{ScreenRecord, ScreenRule, ScreenSnapshot, StorageError};

fn rule_name(rule: ScreenRule) -> &'static str {
    match rule {
        ScreenRule::Allow => "allow",
        ScreenRule::Deny => "deny",
    }
}

impl PgStore {
    pub(crate) fn screen_load(&self) -> Result<ScreenSnapshot, StorageError> {
        self.pool().with(|c| {
            let mut out = ScreenSnapshot::default();
            for row in c
                .query(
                    "SELECT address, record FROM screen_addresses
                     ORDER BY address COLLATE \"C\"",
                    &[],
                )
                .map_err(pg_error)?
            {
                let address: &str = row.get(0);
                match (address.parse(), decode(row.get(1), "screening record")) {
                    (Ok(ip), Ok(rec)) => out.addresses.push((ip, rec)),
                    (_, Err(e)) => tracing::warn!("screening: {address}: {e}"),
                    (Err(_), _) => tracing::warn!("screening: {address}: not an address"),
                }
            }
            for row in c
                .query(
                    "SELECT account, times FROM screen_accounts ORDER BY account COLLATE \"C\"",
                    &[],
                )
                .map_err(pg_error)?
            {
                out.accounts.push((row.get(0), row.get(1)));
            }
            for row in c
                .query(
                    "SELECT rule, network FROM screen_rules ORDER BY rule, network COLLATE \"C\"",
                    &[],
                )
                .map_err(pg_error)?
            {
                let (rule, network): (&str, String) = (row.get(0), row.get(1));
                if rule == rule_name(ScreenRule::Allow) {
                    out.allow.push(network);
                } else if rule == rule_name(ScreenRule::Deny) {
                    out.deny.push(network);
                }
            }
            Ok(out)
        })
    }

    /// Stores (or deletes) the record of `ip`; notifies the other nodes when its ban
    /// changed.
    pub(crate) fn screen_put_address(
        &self,
        ip: IpAddr,
        rec: Option<&ScreenRecord>,
    ) -> Result<(), StorageError> {
        let address = ip.to_string();
        let bytes = rec.map(encode).transpose()?;
        self.pool().tx(|tx| {
            let old = tx
                .query_opt(
                    "SELECT record FROM screen_addresses WHERE address = $1 FOR UPDATE",
                    &[&address],
                )
                .map_err(pg_error)?;
            let new_ban = rec.and_then(|r| r.ban.as_ref());
            // An unreadable old record counts as a change (it is replaced either way).
            let ban_changed = match old {
                None => new_ban.is_some(),
                Some(row) => decode::<ScreenRecord>(row.get(0), "screening record")
                    .map_or(true, |old| old.ban.as_ref() != new_ban),
            };
            match &bytes {
                Some(bytes) => tx.execute(
                    "INSERT INTO screen_addresses (address, record) VALUES ($1, $2)
                     ON CONFLICT (address) DO UPDATE SET record = EXCLUDED.record",
                    &[&address, bytes],
                ),
                None => tx.execute(
                    "DELETE FROM screen_addresses WHERE address = $1",
                    &[&address],
                ),
            }
            .map_err(pg_error)?;
            if ban_changed {
                self.notify_settings(tx, "screening")?;
            }
            Ok(())
        })
    }

    pub(crate) fn screen_put_account(
        &self,
        account: &str,
        times: Option<&Vec<i64>>,
    ) -> Result<(), StorageError> {
        self.pool().with(|c| {
            match times {
                Some(times) => c.execute(
                    "INSERT INTO screen_accounts (account, times) VALUES ($1, $2)
                     ON CONFLICT (account) DO UPDATE SET times = EXCLUDED.times",
                    &[&account, times],
                ),
                None => c.execute(
                    "DELETE FROM screen_accounts WHERE account = $1",
                    &[&account],
                ),
            }
            .map_err(pg_error)?;
            Ok(())
        })
    }

    /// Adds or removes a network of a rule list and notifies the other nodes.
    pub(crate) fn screen_put_rule(
        &self,
        rule: ScreenRule,
        network: &str,
        present: bool,
    ) -> Result<(), StorageError> {
        let rule = rule_name(rule);
        self.pool().tx(|tx| {
            let changed = if present {
                tx.execute(
                    "INSERT INTO screen_rules (rule, network) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&rule, &network],
                )
            } else {
                tx.execute(
                    "DELETE FROM screen_rules WHERE rule = $1 AND network = $2",
                    &[&rule, &network],
                )
            }
            .map_err(pg_error)?;
            if changed > 0 {
                self.notify_settings(tx, "screening")?;
            }
            Ok(())
        })
    }
}
