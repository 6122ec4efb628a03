//! Reporting changes of the selected folder (RFC 9051 §7.4 EXISTS, §7.5.1 EXPUNGE, §7.5.2
//! unsolicited FETCH; RFC 7162 §3.2.10 VANISHED for QRESYNC clients).

use super::backend::Backend;
use super::response;
use super::session::{line, MsgView, Out, Session, State};

impl Session {
    /// Sends every pending change of the selected folder, then what it changed in the
    /// RFC 5267 update contexts. `expunge_ok` is false during FETCH, STORE and SEARCH, when
    /// sequence numbers must not move.
    pub(super) fn flush_updates(&mut self, backend: &dyn Backend, out: &mut Out, expunge_ok: bool) {
        self.flush_folder_updates(backend, out, expunge_ok);
        self.update_contexts(backend, out);
    }

    fn flush_folder_updates(&mut self, backend: &dyn Backend, out: &mut Out, expunge_ok: bool) {
        let (rev2, qresync, condstore) = (self.rev2, self.qresync, self.condstore);
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        if expunge_ok && !sel.pending_expunged.is_empty() {
            let uids: Vec<u32> = std::mem::take(&mut sel.pending_expunged)
                .into_iter()
                .collect();
            report_expunged(sel, &uids, qresync, out);
        }
        for uid in std::mem::take(&mut sel.pending_flags) {
            if let Some(seq) = sel.seq_of(uid) {
                let m = &sel.messages[seq - 1];
                let mut l = format!("* {seq} FETCH (UID {uid} FLAGS ");
                let mut f = Vec::new();
                response::flags(&mut f, m.flags, &m.keywords, m.recent && !rev2);
                l.push_str(&String::from_utf8_lossy(&f));
                if condstore {
                    l.push_str(&format!(" MODSEQ ({})", m.modseq));
                }
                l.push(')');
                line(out, &l);
            }
        }
        if std::mem::take(&mut sel.pending_added) {
            let first = sel.max_uid() + 1;
            let Ok(new) = backend.messages_from(sel.folder.id, first) else {
                // Try again at the next chance.
                sel.pending_added = true;
                return;
            };
            if new.is_empty() {
                return;
            }
            let first_recent = if sel.read_only {
                u32::MAX
            } else {
                backend.claim_recent(sel.folder.id).unwrap_or(u32::MAX)
            };
            for m in new {
                sel.highest_modseq = sel.highest_modseq.max(m.modseq);
                sel.messages.push(MsgView {
                    uid: m.uid,
                    flags: m.flags,
                    keywords: m.keywords.into(),
                    modseq: m.modseq,
                    recent: m.uid >= first_recent,
                });
            }
            line(out, &format!("* {} EXISTS", sel.messages.len()));
            if !rev2 {
                let recent = sel.messages.iter().filter(|m| m.recent).count();
                line(out, &format!("* {recent} RECENT"));
            }
        }
    }
}

/// Removes `uids` from the session's view and tells the client: VANISHED for QRESYNC
/// clients, otherwise one EXPUNGE per message, highest sequence number first so that each
/// number is still right when the client reads it.
pub(super) fn report_expunged(
    sel: &mut super::session::Selected,
    uids: &[u32],
    qresync: bool,
    out: &mut Out,
) {
    let mut seqs: Vec<usize> = uids.iter().filter_map(|u| sel.seq_of(*u)).collect();
    if seqs.is_empty() {
        return;
    }
    let gone_uids: Vec<u32> = seqs.iter().map(|s| sel.messages[s - 1].uid).collect();
    super::context::removing_expunged(sel, &gone_uids, out);
    seqs.sort_unstable_by(|a, b| b.cmp(a));
    let mut gone: Vec<u32> = Vec::with_capacity(seqs.len());
    for s in &seqs {
        gone.push(sel.messages.remove(s - 1).uid);
    }
    sel.saved.retain(|u| !gone.contains(u));
    if qresync {
        gone.sort_unstable();
        let mut set = Vec::new();
        response::sequence_set(&mut set, &gone);
        line(
            out,
            &format!("* VANISHED {}", String::from_utf8_lossy(&set)),
        );
    } else {
        for s in seqs {
            line(out, &format!("* {s} EXPUNGE"));
        }
    }
}
