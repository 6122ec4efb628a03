//! CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267): SEARCH and SORT results that the server keeps
//! up to date (`RETURN (UPDATE)`), CANCELUPDATE, and PARTIAL for SORT (the paging itself is
//! in [`super::partial`]).
//!
//! Implementation notes:
//! - A context is the search keys, the SORT criteria if any, and the current result as UIDs
//!   (ascending for SEARCH, in sort order for SORT). It lives in the selected mailbox's
//!   state, so SELECT, EXAMINE, CLOSE and UNSELECT end every context (§4.2).
//! - Changes are found, not hooked: every flag change raises a message's MODSEQ and every
//!   new message has a higher UID, so at each report of folder changes (`flush_updates`,
//!   which runs at the end of commands, at NOOP and during IDLE) a context re-evaluates
//!   only the messages with a MODSEQ or UID above what it last saw, whoever changed them.
//!   Expunged messages leave the result in `removing_expunged`, before the EXPUNGE or
//!   VANISHED response, so that the sequence numbers in REMOVEFROM are still valid.
//! - ADDTO and REMOVEFROM (§4.3): a SEARCH context gives position 0 (its order is the
//!   mailbox order, which the client knows) and one set; a SORT context gives each
//!   message's position in the sorted result: removals highest position first (each
//!   position valid once the ones before it are applied), additions lowest first.
//! - UPDATE does not interact with the other RETURN options (§4.3): with MIN, COUNT or
//!   PARTIAL the notifications still cover every matching message; UPDATE alone answers
//!   first with the tag and no result. A tag that already names a context makes the
//!   searching command BAD (§4.3). Beyond [`MAX_CONTEXTS`] the search is answered but not
//!   kept: an untagged `NO [NOUPDATE "tag"]` says so (§4.3.1).
//! - Deviation: a result that changes only with time (OLDER, YOUNGER) or through sequence
//!   numbers shifting (a sequence-set key) is not re-evaluated.
//! - CANCELUPDATE of a tag with no context is NO; the others named are still cancelled.

use std::collections::{HashMap, HashSet};

use super::backend::Backend;
use super::response;
use super::session::{line, Done, Out, SearchContext, Selected, Session, State};
use super::sort;
use super::types::{SearchKey, SearchReturn, SortCriterion, Tag};

/// Contexts one session keeps at most; beyond, NOUPDATE (§4.3.1 asks for at least one).
pub(super) const MAX_CONTEXTS: usize = 16;

/// What a SEARCH or SORT with `RETURN (UPDATE …)` asks to keep.
pub(super) struct NewContext<'a> {
    pub tag: &'a Tag,
    pub uid: bool,
    pub ret: &'a [SearchReturn],
    pub keys: &'a [SearchKey],
    pub sort: Option<&'a [SortCriterion]>,
    /// The result as UIDs, in result order.
    pub results: Vec<u32>,
}

impl Session {
    /// §4.3: UPDATE under a tag that already names a context is BAD (checked before the
    /// search runs).
    pub(super) fn check_context_tag(&self, tag: &Tag, ret: &[SearchReturn]) -> Result<(), Done> {
        match &self.state {
            State::Selected(sel)
                if ret.contains(&SearchReturn::Update)
                    && sel.contexts.0.iter().any(|c| c.tag == tag.0) =>
            {
                Err(Done::Bad(format!(
                    "Tag {tag} already names an update context"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Starts a context if the RETURN options ask for one; beyond [`MAX_CONTEXTS`] says
    /// `* NO [NOUPDATE "tag"]` instead (the search itself still completes OK).
    pub(super) fn start_context(&mut self, new: NewContext<'_>, out: &mut Out) {
        if !new.ret.contains(&SearchReturn::Update) {
            return;
        }
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        let tag = new.tag.0.clone();
        if sel.contexts.0.len() >= MAX_CONTEXTS {
            line(
                out,
                &format!("* NO [NOUPDATE \"{tag}\"] Too many update contexts"),
            );
            return;
        }
        let modseq = sel.messages.iter().map(|m| m.modseq).max().unwrap_or(0);
        let max_uid = sel.max_uid();
        sel.contexts.0.push(SearchContext {
            tag,
            uid: new.uid,
            keys: new.keys.to_vec(),
            sort: new.sort.map(|s| s.to_vec()),
            results: new.results,
            modseq,
            max_uid,
        });
    }

    /// CANCELUPDATE (RFC 5267 §4.4), selected state.
    pub(super) fn cancel_update(&mut self, tags: &[String]) -> Done {
        let State::Selected(sel) = &mut self.state else {
            return Done::Bad("CANCELUPDATE needs a selected mailbox".into());
        };
        let mut unknown = Vec::new();
        for t in tags {
            let before = sel.contexts.0.len();
            sel.contexts.0.retain(|c| &c.tag != t);
            if sel.contexts.0.len() == before {
                unknown.push(t.as_str());
            }
        }
        if unknown.is_empty() {
            Done::Ok("CANCELUPDATE completed".into())
        } else {
            Done::No(format!("No update context for {}", unknown.join(" ")))
        }
    }

    /// Re-evaluates every context for the messages changed or added since it last looked,
    /// and sends ADDTO/REMOVEFROM for what entered or left its result.
    pub(super) fn update_contexts(&mut self, backend: &dyn Backend, out: &mut Out) {
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        let mut contexts = std::mem::take(&mut sel.contexts.0);
        for c in &mut contexts {
            self.update_context(c, backend, out);
        }
        if let State::Selected(sel) = &mut self.state {
            // A context started meanwhile cannot exist: nothing here runs a command.
            sel.contexts.0 = contexts;
        }
    }

    fn update_context(&self, c: &mut SearchContext, backend: &dyn Backend, out: &mut Out) {
        let State::Selected(sel) = &self.state else {
            return;
        };
        let dirty: Vec<usize> = (0..sel.messages.len())
            .filter(|&i| {
                let m = &sel.messages[i];
                m.modseq > c.modseq || m.uid > c.max_uid
            })
            .collect();
        if dirty.is_empty() {
            return;
        }
        // On a read error, try again at the next report.
        let Ok(hits) = self.evaluate_at(&c.keys, backend, dirty.iter().copied()) else {
            return;
        };
        // Sets, not scans: a STORE 1:* makes every message dirty.
        let hits: HashSet<usize> = hits.into_iter().collect();
        let current: HashSet<u32> = c.results.iter().copied().collect();
        let (mut added, mut removed) = (Vec::new(), Vec::new());
        for &i in &dirty {
            let uid = sel.messages[i].uid;
            match (hits.contains(&i), current.contains(&uid)) {
                (true, false) => added.push(uid),
                (false, true) => removed.push(uid),
                _ => {}
            }
        }
        let gone: HashSet<u32> = removed.iter().copied().collect();
        let new: HashSet<u32> = added.iter().copied().collect();
        let new_results: Vec<u32> = match &c.sort {
            _ if added.is_empty() && removed.is_empty() => c.results.clone(),
            None => {
                let mut r: Vec<u32> = c
                    .results
                    .iter()
                    .copied()
                    .filter(|u| !gone.contains(u))
                    .collect();
                r.extend(&added);
                r.sort_unstable();
                r
            }
            Some(criteria) => {
                let keep: Vec<usize> = sel
                    .messages
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| {
                        (current.contains(&m.uid) && !gone.contains(&m.uid)) || new.contains(&m.uid)
                    })
                    .map(|(i, _)| i)
                    .collect();
                let Ok(inputs) = self.sort_inputs(&keep, true, backend) else {
                    return;
                };
                sort::sort(&inputs, criteria)
            }
        };
        c.modseq = sel.messages.iter().map(|m| m.modseq).max().unwrap_or(0);
        c.max_uid = sel.max_uid();
        removal(sel, c, &removed, out);
        c.results = new_results;
        addition(sel, c, &added, out);
    }
}

/// Takes expunged messages out of every context's result, telling the client; called
/// while `gone` are still in the session's view.
pub(super) fn removing_expunged(sel: &mut Selected, gone: &[u32], out: &mut Out) {
    let mut contexts = std::mem::take(&mut sel.contexts.0);
    let gone: HashSet<u32> = gone.iter().copied().collect();
    for c in &mut contexts {
        let removed: Vec<u32> = c
            .results
            .iter()
            .copied()
            .filter(|u| gone.contains(u))
            .collect();
        removal(sel, c, &removed, out);
        c.results.retain(|u| !gone.contains(u));
    }
    sel.contexts.0 = contexts;
}

/// `* ESEARCH (TAG "t") [UID] REMOVEFROM (…)` for `removed` (UIDs still in `c.results`).
fn removal(sel: &Selected, c: &SearchContext, removed: &[u32], out: &mut Out) {
    if removed.is_empty() {
        return;
    }
    let items = match c.sort {
        None => positioned_set(sel, c.uid, removed),
        Some(_) => {
            let mut pairs = positions(&c.results, removed);
            pairs.sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
            positioned_each(sel, c.uid, &pairs)
        }
    };
    send(out, c, "REMOVEFROM", &items);
}

/// `* ESEARCH (TAG "t") [UID] ADDTO (…)` for `added` (UIDs now in `c.results`).
fn addition(sel: &Selected, c: &SearchContext, added: &[u32], out: &mut Out) {
    if added.is_empty() {
        return;
    }
    let items = match c.sort {
        None => positioned_set(sel, c.uid, added),
        Some(_) => {
            let mut pairs = positions(&c.results, added);
            pairs.sort_unstable();
            positioned_each(sel, c.uid, &pairs)
        }
    };
    send(out, c, "ADDTO", &items);
}

/// `(position, uid)` (1-based) of each of `uids` in `results`.
fn positions(results: &[u32], uids: &[u32]) -> Vec<(usize, u32)> {
    let at: HashMap<u32, usize> = results
        .iter()
        .enumerate()
        .map(|(i, u)| (*u, i + 1))
        .collect();
    uids.iter()
        .filter_map(|u| Some((*at.get(u)?, *u)))
        .collect()
}

fn send(out: &mut Out, c: &SearchContext, what: &str, items: &str) {
    if items.is_empty() {
        return;
    }
    let uid = if c.uid { " UID" } else { "" };
    line(
        out,
        &format!("* ESEARCH (TAG \"{}\"){uid} {what} ({items})", c.tag),
    );
}

/// The number the client knows a message by in this context.
fn number(sel: &Selected, uid: bool, u: u32) -> Option<u32> {
    if uid {
        Some(u)
    } else {
        sel.seq_of(u).map(|s| s as u32)
    }
}

/// `0 set` for a SEARCH context.
fn positioned_set(sel: &Selected, uid: bool, uids: &[u32]) -> String {
    let mut ns: Vec<u32> = uids.iter().filter_map(|u| number(sel, uid, *u)).collect();
    if ns.is_empty() {
        return String::new();
    }
    ns.sort_unstable();
    let mut s = Vec::new();
    response::sequence_set(&mut s, &ns);
    format!("0 {}", String::from_utf8_lossy(&s))
}

/// `position number` pairs for a SORT context.
fn positioned_each(sel: &Selected, uid: bool, pairs: &[(usize, u32)]) -> String {
    pairs
        .iter()
        .filter_map(|(p, u)| Some(format!("{p} {}", number(sel, uid, *u)?)))
        .collect::<Vec<_>>()
        .join(" ")
}
