//! Flag changes (IMAP STORE) and their outcome, and the flag arithmetic every backend shares.

use std::collections::HashSet;

use super::folders::Flags;

/// How STORE combines the given flags with a message's (RFC 9051 §6.4.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagMode {
    /// FLAGS: set exactly these.
    Replace,
    /// +FLAGS
    Add,
    /// -FLAGS
    Remove,
}

/// What a STORE did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreResult {
    /// Messages whose flags changed: uid, new flags, new modseq (ascending uid).
    pub changed: Vec<(u32, Flags, u64)>,
    /// UIDs left alone because their modseq was above UNCHANGEDSINCE (the MODIFIED response
    /// code of RFC 7162 §3.1.3), ascending.
    pub modified: Vec<u32>,
    /// The folder's highest modseq after the operation.
    pub highest_modseq: u64,
}

/// `flags` combined into `old` by `mode`.
pub(crate) fn combine(old: &Flags, mode: FlagMode, flags: &Flags) -> Flags {
    match mode {
        FlagMode::Replace => flags.clone(),
        FlagMode::Add => {
            let mut out = old.clone();
            out.system |= flags.system;
            for k in &flags.keywords {
                out.add_keyword(k);
            }
            out
        }
        FlagMode::Remove => {
            let mut out = old.clone();
            out.system &= !flags.system;
            for k in &flags.keywords {
                out.remove_keyword(k);
            }
            out
        }
    }
}

/// Same system flags and the same keywords in any order and case.
pub(crate) fn same_flags(a: &Flags, b: &Flags) -> bool {
    a.system == b.system
        && a.keywords.len() == b.keywords.len()
        && a.keywords.iter().all(|k| b.has_keyword(k))
}

pub(crate) fn distinct(uids: &[u32]) -> Vec<u32> {
    let mut seen = HashSet::new();
    uids.iter().copied().filter(|u| seen.insert(*u)).collect()
}
