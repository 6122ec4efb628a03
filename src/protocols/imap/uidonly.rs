//! UIDONLY (RFC 9586): once a client has sent `ENABLE UIDONLY`, messages are named by UID
//! only, in both directions, so neither side needs the map from sequence numbers to UIDs.
//!
//! Implementation notes:
//! - §3: every command that names messages by sequence number is refused with
//!   `BAD [UIDREQUIRED]` before it runs: FETCH, STORE, SEARCH, COPY, MOVE, SORT, THREAD and
//!   REPLACE (RFC 8508; its argument is a sequence number) without `UID`, a sequence-set
//!   search key anywhere in a `UID SEARCH`/`UID SORT`/`UID THREAD` program (inside NOT, OR
//!   and parentheses too), and the QRESYNC `seq-match-data` of SELECT/EXAMINE (its first
//!   set is sequence numbers). `$` (SEARCHRES) is a set of UIDs here and stays allowed.
//! - §3.3: what would be `* seq FETCH (…)` is `* uid UIDFETCH (…)`: the answers to UID
//!   FETCH and UID STORE, the unsolicited flag changes (also during IDLE) and the changes a
//!   QRESYNC SELECT reports. The `UID` item is left out (the response's number is the UID),
//!   also when the client asked for it, unless it is all it asked for (`msg-att` cannot be
//!   empty): `UID FETCH 4 (UID)` gives `* 4 UIDFETCH (UID 4)`.
//! - §3.4: expunges are reported as `VANISHED uid-set` (as for QRESYNC clients) instead of
//!   `* seq EXPUNGE`, whether or not QRESYNC is enabled: after EXPUNGE, UID EXPUNGE, UID
//!   MOVE, UID REPLACE and in the updates flushed between commands and during IDLE.
//! - EXISTS still counts the messages (it is a count, not a name); `[UNSEEN n]` of an
//!   IMAP4rev1 SELECT is a sequence number and is left out.
//! - UNAUTHENTICATE turns it off again with the other ENABLEd extensions.

use super::session::{Done, Session};
use super::types::{CommandBody, SearchKey, SequenceSet};

impl Session {
    /// Whether UIDONLY refuses `body` (it names messages by number).
    pub(super) fn needs_uid(&self, body: &CommandBody) -> bool {
        self.uidonly && uses_message_numbers(body)
    }

    /// Expunges go out as VANISHED (QRESYNC, RFC 7162 §3.2.10; UIDONLY, RFC 9586).
    pub(super) fn reports_vanished(&self) -> bool {
        self.qresync || self.uidonly
    }
}

/// RFC 9586 §3's refusal of a command that names messages by number.
pub(super) fn uid_required(name: &str) -> Done {
    Done::Bad(format!(
        "[UIDREQUIRED] {name} uses message sequence numbers, UIDONLY is enabled"
    ))
}

/// Whether `body` names messages by sequence number (RFC 9586 §3).
pub(super) fn uses_message_numbers(body: &CommandBody) -> bool {
    use CommandBody::*;
    match body {
        Fetch { uid, .. }
        | Store { uid, .. }
        | Copy { uid, .. }
        | Move { uid, .. }
        | Replace { uid, .. } => !uid,
        Search { uid, search } => !uid || search.criteria.iter().any(key_has_numbers),
        Sort { uid, search, .. } | Thread { uid, search, .. } => {
            !uid || search.iter().any(key_has_numbers)
        }
        Select { params, .. } => params
            .qresync
            .as_ref()
            .is_some_and(|q| q.seq_match.is_some()),
        _ => false,
    }
}

/// A bare sequence set (not `$`) anywhere in a search key.
fn key_has_numbers(key: &SearchKey) -> bool {
    match key {
        SearchKey::SequenceSet(SequenceSet::Ranges(_)) => true,
        SearchKey::Not(k) => key_has_numbers(k),
        SearchKey::Or(a, b) => key_has_numbers(a) || key_has_numbers(b),
        SearchKey::And(keys) => keys.iter().any(key_has_numbers),
        _ => false,
    }
}

/// The start of a FETCH response: `* seq FETCH (`, or `* uid UIDFETCH (` under UIDONLY.
pub(super) fn fetch_head(uidonly: bool, seq: usize, uid: u32) -> String {
    if uidonly {
        format!("* {uid} UIDFETCH (")
    } else {
        format!("* {seq} FETCH (")
    }
}

/// Leaves out the `UID` items of a UIDFETCH response (its number is the UID already), unless
/// nothing else was asked for: `msg-att` cannot be empty (RFC 9051 §9).
pub(super) fn drop_uid_item(items: &mut Vec<Vec<u8>>, uid: u32) {
    let uid_item = format!("UID {uid}").into_bytes();
    if items.iter().any(|i| *i != uid_item) {
        items.retain(|i| *i != uid_item);
    }
}

#[cfg(test)]
#[path = "uidonly_tests.rs"]
mod tests;
