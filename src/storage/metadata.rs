//! Where an IMAP METADATA entry (RFC 5464) lives.

use super::folders::FolderId;

/// What entries belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataOwner {
    /// Server annotations (the mailbox name "" in IMAP).
    Server,
    Folder(FolderId),
}
