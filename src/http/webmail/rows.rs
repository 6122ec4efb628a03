//! What the folder pages show of folders and messages: the folder tree with unread
//! counts and a message's line in a list (from, subject, date in the user's zone, size,
//! flags, categories). Used by the list (`folders`, `list_query`), the live updates
//! (`live`), the reader and compose.

use mail_parser::MessageParser;

use super::prefs::{self, Prefs};
use super::{display_name, MailError};
use crate::protocols::imap::backend::{flag_bits, Backend, FolderInfo, FolderRef, MessageMeta};

/// One entry of the folder tree.
pub struct FolderLink {
    pub id: FolderRef,
    /// The last level of its name.
    pub label: String,
    /// Levels above it (for the indent).
    pub depth: usize,
    pub unseen: u32,
    /// A level that holds folders but is not one (no link).
    pub noselect: bool,
    pub current: bool,
}

/// One line of the message list.
pub struct Row {
    pub uid: u32,
    pub from: String,
    pub subject: String,
    pub date: String,
    pub size: String,
    pub seen: bool,
    pub flagged: bool,
    /// Keywords, shown as categories (`super::categories`).
    pub keywords: Vec<String>,
}

/// The folders `user` sees, own first (INBOX at the top), then shared and public ones by
/// name.
pub(super) fn tree(
    b: &impl Backend,
    user: &str,
    current: FolderRef,
) -> Result<Vec<FolderLink>, MailError> {
    let mut own = b.folders(user)?;
    own.sort_by(|a, b| {
        (a.name != "INBOX", a.name.to_lowercase()).cmp(&(b.name != "INBOX", b.name.to_lowercase()))
    });
    let mut shared: Vec<(String, FolderInfo)> = b
        .shared_folders(user)?
        .into_iter()
        .filter(|f| f.owner != user)
        .map(|f| (display_name(user, &f), f))
        .collect();
    shared.sort_by_key(|a| a.0.to_lowercase());
    // Own folders indent under their parents; a shared one shows its whole name, as its
    // parents ("Other Users/<owner>") are namespace levels, not folders in the list.
    let own = own.into_iter().map(|f| {
        let depth = f.name.matches('/').count();
        let label = f.name.rsplit('/').next().unwrap_or(&f.name).to_string();
        (label, depth, f)
    });
    let shared = shared.into_iter().map(|(name, f)| (name, 0, f));
    Ok(own
        .chain(shared)
        .map(|(label, depth, f)| FolderLink {
            id: f.id,
            label,
            depth,
            unseen: f.unseen,
            noselect: f.noselect,
            current: f.id == current,
        })
        .collect())
}

/// The list row of message `m` (`None`: expunged since the index was read). The live
/// updates (`live.rs`) send the same row for a new message.
pub(super) fn row(
    b: &(impl Backend + ?Sized),
    folder: FolderRef,
    m: &MessageMeta,
    parser: &MessageParser,
    prefs: &Prefs,
) -> Result<Option<Row>, MailError> {
    let header = match b.message_header(folder, m.uid) {
        Ok(h) => h,
        Err(crate::protocols::imap::backend::BackendError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let parsed = parser.parse_headers(&header);
    let (from, subject) = match &parsed {
        Some(p) => (sender(p), p.subject().unwrap_or("").to_string()),
        None => (String::new(), String::new()),
    };
    Ok(Some(Row {
        uid: m.uid,
        from,
        subject: if subject.trim().is_empty() {
            "(no subject)".into()
        } else {
            subject
        },
        date: prefs::format_for(prefs, m.internal_date),
        size: format_size(m.size),
        seen: m.flags & flag_bits::SEEN != 0,
        flagged: m.flags & flag_bits::FLAGGED != 0,
        keywords: m.keywords.clone(),
    }))
}

/// The sender as a list shows it: the display name, else the address.
pub(super) fn sender(m: &mail_parser::Message<'_>) -> String {
    let Some(a) = m.from().and_then(|f| f.first()) else {
        return String::new();
    };
    match (a.name(), a.address()) {
        (Some(n), _) if !n.trim().is_empty() => n.to_string(),
        (_, Some(addr)) => addr.to_string(),
        _ => String::new(),
    }
}

/// A size as people read it: `812 B`, `4.2 KB`, `5.0 MB`.
pub(super) fn format_size(n: u64) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KB", f / K)
    } else {
        format!("{:.1} MB", f / (K * K))
    }
}
