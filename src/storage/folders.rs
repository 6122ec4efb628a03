//! Folders and messages as callers see them: ids, flags, folder state, message records, and
//! the rules on folder names that every backend applies.

use serde::{Deserialize, Serialize};

use super::blobs::BlobId;
use super::directory::normalize_address;
use super::StorageError;

pub type FolderId = u64;

/// Message flags: the RFC 9051 system flags as bits, plus keywords.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    /// Bits: [`Flags::SEEN`] [`Flags::ANSWERED`] [`Flags::FLAGGED`] [`Flags::DELETED`]
    /// [`Flags::DRAFT`].
    pub system: u8,
    pub keywords: Vec<String>,
}

impl Flags {
    pub const SEEN: u8 = 1;
    pub const ANSWERED: u8 = 2;
    pub const FLAGGED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
    /// Every defined system bit.
    pub const ALL_SYSTEM: u8 = 31;

    /// Flags with the given system bits and no keywords.
    pub fn system(bits: u8) -> Flags {
        Flags {
            system: bits,
            keywords: Vec::new(),
        }
    }

    pub fn has(&self, bit: u8) -> bool {
        self.system & bit == bit
    }

    pub fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.system |= bit;
        } else {
            self.system &= !bit;
        }
    }

    /// Keywords compare case-insensitively (RFC 9051 §2.3.2).
    pub fn has_keyword(&self, keyword: &str) -> bool {
        self.keywords
            .iter()
            .any(|k| k.eq_ignore_ascii_case(keyword))
    }

    pub fn add_keyword(&mut self, keyword: &str) {
        if !self.has_keyword(keyword) {
            self.keywords.push(keyword.to_string());
        }
    }

    pub fn remove_keyword(&mut self, keyword: &str) {
        self.keywords.retain(|k| !k.eq_ignore_ascii_case(keyword));
    }

    /// The flag names as IMAP prints them (`\Seen`, …, then keywords).
    pub fn names(&self) -> Vec<String> {
        const NAMES: [(u8, &str); 5] = [
            (Flags::SEEN, "\\Seen"),
            (Flags::ANSWERED, "\\Answered"),
            (Flags::FLAGGED, "\\Flagged"),
            (Flags::DELETED, "\\Deleted"),
            (Flags::DRAFT, "\\Draft"),
        ];
        NAMES
            .iter()
            .filter(|(bit, _)| self.has(*bit))
            .map(|(_, name)| name.to_string())
            .chain(self.keywords.iter().cloned())
            .collect()
    }

    /// Checked and with duplicate keywords removed.
    pub(crate) fn normalized(&self) -> Result<Flags, StorageError> {
        if self.system & !Flags::ALL_SYSTEM != 0 {
            return Err(StorageError::Invalid(format!(
                "unknown system flag bits {:#x}",
                self.system & !Flags::ALL_SYSTEM
            )));
        }
        let mut out = Flags::system(self.system);
        for k in &self.keywords {
            if k.is_empty() || k.starts_with('\\') || k.chars().any(|c| c.is_control() || c == ' ')
            {
                return Err(StorageError::Invalid(format!("invalid keyword {k:?}")));
            }
            out.add_keyword(k);
        }
        Ok(out)
    }
}

/// Keywords a folder remembers at most (RFC 9051 §2.3.2 lets a server refuse new ones).
pub(crate) const MAX_FOLDER_KEYWORDS: usize = 256;

/// Adds the keywords of `flags` that `known` (a folder's keywords, in order of first use)
/// lacks; false, and nothing added, when that would pass [`MAX_FOLDER_KEYWORDS`]. Every
/// backend keeps a folder's keyword list by this rule.
pub(crate) fn note_keywords(known: &mut Vec<String>, flags: &Flags) -> bool {
    let new: Vec<&String> = flags
        .keywords
        .iter()
        .filter(|k| !known.iter().any(|x| x.eq_ignore_ascii_case(k)))
        .collect();
    if known.len() + new.len() > MAX_FOLDER_KEYWORDS {
        return false;
    }
    known.extend(new.into_iter().cloned());
    true
}

/// The error of a change that would pass [`MAX_FOLDER_KEYWORDS`] in folder `name`.
pub(crate) fn too_many_keywords(name: &str) -> StorageError {
    StorageError::Invalid(format!(
        "folder {name} has {MAX_FOLDER_KEYWORDS} keywords; no new ones accepted"
    ))
}

/// The owner of public folders (RFC 4314 shared namespace): no account, no quota. Their access
/// is decided by their ACL alone.
pub const PUBLIC_OWNER: &str = "";

/// The hierarchy separator of folder names (RFC 9051 §5.1.1).
pub const SEPARATOR: char = '/';

/// A folder's state, as IMAP SELECT and STATUS report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderState {
    pub id: FolderId,
    /// The owning account, or [`PUBLIC_OWNER`].
    pub account: String,
    pub name: String,
    pub special_use: Option<String>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub exists: u32,
    pub subscribed: bool,
    /// Messages without `\Seen`.
    pub unseen: u32,
    /// Messages with `\Deleted`.
    pub deleted: u32,
    /// Sum of the message sizes, in bytes.
    pub size: u64,
    /// A placeholder kept for its children after DELETE (RFC 3501 §6.3.4): no messages, cannot
    /// be selected; CREATE of its name makes it a normal folder again.
    pub noselect: bool,
}

/// One message of a folder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub uid: u32,
    pub flags: Flags,
    pub size: u64,
    pub internal_date: i64,
    pub blob: BlobId,
    pub modseq: u64,
    /// When the message was put in this folder (IMAP SAVEDATE, RFC 8514): by append,
    /// delivery, COPY, MOVE or REPLACE. Records written before save dates were kept have
    /// none; for them this is the internal date.
    pub save_date: i64,
}

/// A message to append; the folder assigns uid and modseq.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewMessage {
    pub blob: BlobId,
    pub size: u64,
    pub flags: Flags,
    pub internal_date: i64,
}

/// The folders every new account gets, with their RFC 6154 special use.
pub(crate) const DEFAULT_FOLDERS: [(&str, Option<&str>); 6] = [
    ("INBOX", None),
    ("Drafts", Some("\\Drafts")),
    ("Sent", Some("\\Sent")),
    ("Trash", Some("\\Trash")),
    ("Junk", Some("\\Junk")),
    ("Archive", Some("\\Archive")),
];

/// Folder names are case-sensitive except INBOX (RFC 9051 §5.1). One trailing separator is
/// dropped (RFC 9051 §6.3.4: it only says the folder will have children); empty levels are
/// refused.
pub(crate) fn canonical_name(name: &str) -> Result<String, StorageError> {
    let invalid = || StorageError::Invalid(format!("invalid folder name {name:?}"));
    let trimmed = name.strip_suffix(SEPARATOR).unwrap_or(name);
    if trimmed.is_empty()
        || trimmed.len() > 255
        || trimmed.chars().any(char::is_control)
        || trimmed.split(SEPARATOR).any(str::is_empty)
    {
        return Err(invalid());
    }
    if trimmed.eq_ignore_ascii_case("INBOX") {
        Ok("INBOX".into())
    } else {
        Ok(trimmed.to_string())
    }
}

/// The names above `name`, outermost first: "a/b/c" → ["a", "a/b"] (the parents CREATE and
/// RENAME make when missing, RFC 9051 §6.3.4).
pub(crate) fn ancestors(name: &str) -> Vec<&str> {
    name.match_indices(SEPARATOR)
        .map(|(i, _)| &name[..i])
        .collect()
}

/// Checks RENAME of folder `old` to `new` (both canonical): INBOX has its own RENAME (see
/// `FolderWrites::rename_inbox`), and a folder cannot move below itself.
pub(crate) fn check_rename(old: &str, new: &str) -> Result<(), StorageError> {
    if old == "INBOX" || new == "INBOX" {
        return Err(StorageError::Invalid("INBOX cannot be renamed".into()));
    }
    if new.starts_with(&format!("{old}{SEPARATOR}")) {
        return Err(StorageError::Invalid(format!(
            "folder {old} cannot be moved below itself"
        )));
    }
    Ok(())
}

/// The new name of `name` (the renamed folder `old` itself or one below it) when `old`
/// becomes `new`.
pub(crate) fn renamed(name: &str, old: &str, new: &str) -> String {
    format!("{new}{}", name.get(old.len()..).unwrap_or_default())
}

/// Checks a name for a subscription list: any name the client gives (it may name no
/// folder), but not empty and without NUL.
pub(crate) fn check_subscription_name(name: &str) -> Result<(), StorageError> {
    if name.is_empty() || name.contains('\0') {
        return Err(StorageError::Invalid(format!(
            "invalid mailbox name {name:?}"
        )));
    }
    Ok(())
}

/// The account address (lowercase), or [`PUBLIC_OWNER`] for public folders.
pub(crate) fn normalize_owner(account: &str) -> Result<String, StorageError> {
    if account == PUBLIC_OWNER {
        Ok(PUBLIC_OWNER.to_string())
    } else {
        normalize_address(account)
    }
}

pub(crate) fn check_special_use(special_use: Option<&str>) -> Result<(), StorageError> {
    match special_use {
        Some(s)
            if !(s.len() > 1
                && s.starts_with('\\')
                && s[1..].chars().all(|c| c.is_ascii_alphanumeric())) =>
        {
            Err(StorageError::Invalid(format!(
                "invalid special-use attribute {s:?} (expected e.g. \\Sent)"
            )))
        }
        _ => Ok(()),
    }
}

pub(crate) fn folder_not_found(id: FolderId) -> StorageError {
    StorageError::NotFound(format!("folder {id}"))
}
