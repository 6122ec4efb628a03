//! IMAP subscriptions (RFC 9051 §6.3.7–8) in the `subscriptions` table: per account (lower
//! case) the names as the client gave them, apart from the folders, because a subscription
//! outlives its folder (RFC 3501 §6.3.6) and may name one that does not exist. The folders'
//! own `subscribed` flag counts too (see the IMAP backend).

use super::pool::{pg_error, Db};
use super::PgStore;
use crate::storage::folders::check_subscription_name;
use crate::storage::StorageError;

impl PgStore {
    pub(crate) fn subscribe(&self, account: &str, name: &str) -> Result<(), StorageError> {
        check_subscription_name(name)?;
        self.pool().with(|c| {
            c.execute(
                "INSERT INTO subscriptions (account, name) VALUES ($1, $2)
                 ON CONFLICT (account, name) DO NOTHING",
                &[&account.to_ascii_lowercase(), &name],
            )
            .map_err(pg_error)?;
            Ok(())
        })
    }

    pub(crate) fn unsubscribe(&self, account: &str, name: &str) -> Result<bool, StorageError> {
        self.pool().with(|c| {
            let removed = c
                .execute(
                    "DELETE FROM subscriptions WHERE account = $1 AND name = $2",
                    &[&account.to_ascii_lowercase(), &name],
                )
                .map_err(pg_error)?;
            Ok(removed > 0)
        })
    }

    pub(crate) fn subscriptions(&self, account: &str) -> Result<Vec<String>, StorageError> {
        let mut names: Vec<String> = self.pool().with(|c| {
            let rows = c
                .query(
                    "SELECT name FROM subscriptions WHERE account = $1",
                    &[&account.to_ascii_lowercase()],
                )
                .map_err(pg_error)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })?;
        // Byte order, as the embedded backend lists them (not the database collation's).
        names.sort();
        Ok(names)
    }
}
