//! Per-account sender rights in `sender_rights` (one row per account that has any: the bincode
//! [`SenderRights`]). The rule that uses them is `mailauth::sender`; the list arithmetic is
//! shared with every backend (`storage::sender_rights`). A change locks the account's row, so
//! changes from several nodes to one account apply one after the other and cannot outlive
//! the account's deletion.

use super::directory_helpers::notify_directory;
use super::pool::{pg_error, Db, Tx};
use super::PgStore;
use crate::storage::directory::{normalize_address, normalize_domain};
use crate::storage::sender_rights::*;
use crate::storage::StorageError;

fn decode(account: &str, raw: &[u8]) -> Result<SenderRights, StorageError> {
    bincode::deserialize(raw)
        .map_err(|e| StorageError::Encoding(format!("sender rights of {account}: {e}")))
}

/// Stores `account`'s rights (deleting the row when they are empty).
fn save(tx: &mut Tx<'_>, account: &str, rights: &SenderRights) -> Result<(), StorageError> {
    if rights.is_empty() {
        tx.execute("DELETE FROM sender_rights WHERE account = $1", &[&account])
            .map_err(pg_error)?;
        return Ok(());
    }
    let raw = bincode::serialize(rights)
        .map_err(|e| StorageError::Encoding(format!("sender rights of {account}: {e}")))?;
    tx.execute(
        "INSERT INTO sender_rights (account, rights) VALUES ($1, $2)
         ON CONFLICT (account) DO UPDATE SET rights = EXCLUDED.rights",
        &[&account, &raw],
    )
    .map_err(pg_error)?;
    Ok(())
}

fn rights_of(c: &mut impl Db, account: &str) -> Result<SenderRights, StorageError> {
    match c
        .query_opt(
            "SELECT rights FROM sender_rights WHERE account = $1",
            &[&account],
        )
        .map_err(pg_error)?
    {
        Some(row) => decode(account, row.get(0)),
        None => Ok(SenderRights::default()),
    }
}

/// Called when a domain is deleted, inside its transaction: no account administers it or
/// may send as `@domain` any more.
pub(crate) fn drop_domain_rights(tx: &mut Tx<'_>, domain: &str) -> Result<(), StorageError> {
    let rows = tx
        .query(
            "SELECT account, rights FROM sender_rights ORDER BY account FOR UPDATE",
            &[],
        )
        .map_err(pg_error)?;
    for row in rows {
        let account: String = row.get(0);
        let mut rights = decode(&account, row.get(1))?;
        if rights.drop_domain(domain) {
            save(tx, &account, &rights)?;
        }
    }
    Ok(())
}

impl PgStore {
    fn change_rights(
        &self,
        account: &str,
        list: RightsList,
        value: &str,
        add: bool,
    ) -> Result<(), StorageError> {
        let account = normalize_address(account)?;
        self.pool().tx(|tx| {
            if tx
                .query_opt(
                    "SELECT 1 FROM accounts WHERE address = $1 FOR UPDATE",
                    &[&account],
                )
                .map_err(pg_error)?
                .is_none()
            {
                return Err(StorageError::NotFound(format!("account {account}")));
            }
            let mut rights = rights_of(tx, &account)?;
            rights.change(&account, list, value, add)?;
            save(tx, &account, &rights)?;
            notify_directory(self, tx)
        })
    }

    pub(crate) fn sender_rights(&self, account: &str) -> Result<SenderRights, StorageError> {
        let Ok(account) = normalize_address(account) else {
            return Ok(SenderRights::default());
        };
        self.pool().with(|c| rights_of(c, &account))
    }

    pub(crate) fn list_sender_rights(&self) -> Result<Vec<(String, SenderRights)>, StorageError> {
        let rows = self.pool().with(|c| {
            c.query(
                "SELECT account, rights FROM sender_rights ORDER BY account COLLATE \"C\"",
                &[],
            )
            .map_err(pg_error)
        })?;
        rows.iter()
            .map(|r| {
                let account: String = r.get(0);
                let rights = decode(&account, r.get(1))?;
                Ok((account, rights))
            })
            .collect()
    }

    pub(crate) fn add_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let entry = SenderEntry::parse(entry)?.as_stored();
        self.change_rights(account, RightsList::SendAs, &entry, true)
    }

    pub(crate) fn del_send_as(&self, account: &str, entry: &str) -> Result<(), StorageError> {
        let entry = SenderEntry::parse(entry)?.as_stored();
        self.change_rights(account, RightsList::SendAs, &entry, false)
    }

    pub(crate) fn add_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let domain = normalize_domain(domain)?;
        if !self.is_local_domain(&domain)? {
            return Err(StorageError::NotFound(format!("domain {domain}")));
        }
        self.change_rights(account, RightsList::Domains, &domain, true)
    }

    pub(crate) fn del_domain_admin(&self, account: &str, domain: &str) -> Result<(), StorageError> {
        let domain = normalize_domain(domain)?;
        self.change_rights(account, RightsList::Domains, &domain, false)
    }
}
