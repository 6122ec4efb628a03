//! Sender rights: which addresses an account may send as, and which domains it administers.

use serde::{Deserialize, Serialize};

use super::directory::{normalize_address, normalize_domain};
use super::StorageError;

/// What an account may use beyond its own addresses, aliases and `+tag` forms.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SenderRights {
    /// "May send as": addresses (`other@dom`) and whole domains (`@dom`), lowercase, sorted.
    pub send_as: Vec<String>,
    /// Domains the account administers (lowercase, sorted): any address in them is usable.
    pub domains: Vec<String>,
}

impl SenderRights {
    pub(crate) fn is_empty(&self) -> bool {
        self.send_as.is_empty() && self.domains.is_empty()
    }
}

/// One "may send as" entry: an address, or every address of a domain (`@domain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SenderEntry {
    Address(String),
    Domain(String),
}

impl SenderEntry {
    /// Reads `local@domain` or `@domain`, normalised (lowercase).
    pub fn parse(text: &str) -> Result<SenderEntry, StorageError> {
        match text.strip_prefix('@') {
            Some(domain) => Ok(SenderEntry::Domain(normalize_domain(domain)?)),
            None => Ok(SenderEntry::Address(normalize_address(text)?)),
        }
    }

    /// The stored form: the address, or `@domain`.
    pub fn as_stored(&self) -> String {
        match self {
            SenderEntry::Address(a) => a.clone(),
            SenderEntry::Domain(d) => format!("@{d}"),
        }
    }
}

/// Which list of [`SenderRights`] a change is for.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RightsList {
    SendAs,
    Domains,
}

impl SenderRights {
    /// Adds (`add`) or removes `value` on one list of `account`'s rights, kept sorted: Exists
    /// when adding what is there, NotFound when removing what is not.
    pub(crate) fn change(
        &mut self,
        account: &str,
        list: RightsList,
        value: &str,
        add: bool,
    ) -> Result<(), StorageError> {
        let (items, what) = match list {
            RightsList::SendAs => (&mut self.send_as, "may send as"),
            RightsList::Domains => (&mut self.domains, "administers"),
        };
        let present = items.iter().any(|x| x == value);
        match (add, present) {
            (true, true) => Err(StorageError::Exists(format!("{account} {what} {value}"))),
            (false, false) => Err(StorageError::NotFound(format!("{account} {what} {value}"))),
            (true, false) => {
                items.push(value.to_string());
                items.sort();
                Ok(())
            }
            (false, true) => {
                items.retain(|x| x != value);
                Ok(())
            }
        }
    }

    /// Takes a deleted `domain` off both lists (administered, and `@domain` as a sender), so
    /// that a domain re-created later starts with no rights granted. True if anything changed.
    pub(crate) fn drop_domain(&mut self, domain: &str) -> bool {
        let whole = format!("@{domain}");
        let before = (self.send_as.len(), self.domains.len());
        self.domains.retain(|d| d != domain);
        self.send_as.retain(|e| *e != whole);
        before != (self.send_as.len(), self.domains.len())
    }
}
