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
