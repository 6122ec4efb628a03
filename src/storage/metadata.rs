//! Where an IMAP METADATA entry (RFC 5464) lives.

use super::folders::FolderId;
use super::StorageError;

/// What entries belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataOwner {
    /// Server annotations (the mailbox name "" in IMAP).
    Server,
    Folder(FolderId),
}

/// Whether entry `name` is a `/private` one (else `/shared`).
pub(crate) fn is_private(name: &str) -> bool {
    name == "/private" || name.starts_with("/private/")
}

/// Checks an entry name: below `/private/` or `/shared/` (RFC 5464 §3.2).
pub(crate) fn check_entry_name(name: &str) -> Result<(), StorageError> {
    if !(is_private(name) || name.starts_with("/shared/")) || name.len() < 9 {
        return Err(StorageError::Invalid(format!(
            "invalid metadata entry {name:?}"
        )));
    }
    Ok(())
}
