//! Reporting changes of the selected folder (RFC 9051 §7.4 EXISTS, §7.5.1 EXPUNGE, §7.5.2
//! unsolicited FETCH; RFC 7162 §3.2.10 VANISHED for QRESYNC clients; RFC 9586 UIDFETCH and
//! VANISHED for UIDONLY clients).
//!
//! A keyword the client was not told of in FLAGS (at SELECT, or since) is announced with
//! new FLAGS and PERMANENTFLAGS responses before the first FETCH that shows it (RFC 9051
//! §7.3.5: FLAGS lists the flags "applicable for this mailbox"; a client may reject a flag
//! it has not seen there, as imaptest does). Keywords are never withdrawn from the list
//! during a selection: a client may still hold messages with them.

use super::backend::Backend;
use super::response;
use super::session::{line, MsgView, Out, Selected, Session, State};
use super::uidonly::fetch_head;

impl Session {
    /// NOOP and CHECK are where a client polls for changes (RFC 9051 §6.1.2). A change
    /// another session committed before this command arrived must be reported, even if its
    /// broadcast is still on its way to this session (it can trail the client's next
    /// command). The folder's HIGHESTMODSEQ tells whether anything changed; only then is the
    /// index read and compared with the session's view. The broadcast, when it comes, finds
    /// nothing new (its modseq is not newer, its UIDs are known or gone).
    pub(super) fn sync_with_index(&mut self, backend: &dyn Backend) {
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        let Ok(folder) = backend.folder(sel.folder.id) else {
            return;
        };
        if folder.highest_modseq <= sel.highest_modseq {
            return;
        }
        let Ok(metas) = backend.messages(sel.folder.id) else {
            return;
        };
        let max_uid = sel.max_uid();
        for m in &sel.messages {
            if metas.binary_search_by_key(&m.uid, |x| x.uid).is_err() {
                sel.pending_expunged.insert(m.uid);
            }
        }
        for meta in metas {
            match sel.seq_of(meta.uid) {
                Some(seq) => {
                    let v = &mut sel.messages[seq - 1];
                    if meta.modseq > v.modseq {
                        v.flags = meta.flags;
                        v.keywords = meta.keywords.into();
                        v.modseq = meta.modseq;
                        sel.pending_flags.insert(meta.uid);
                    }
                }
                None if meta.uid > max_uid => sel.pending_added = true,
                None => {}
            }
        }
        sel.highest_modseq = sel.highest_modseq.max(folder.highest_modseq);
    }

    /// Sends every pending change of the selected folder, then what it changed in the
    /// RFC 5267 update contexts. `expunge_ok` is false during FETCH, STORE and SEARCH, when
    /// sequence numbers must not move.
    pub(super) fn flush_updates(&mut self, backend: &dyn Backend, out: &mut Out, expunge_ok: bool) {
        self.flush_folder_updates(backend, out, expunge_ok);
        self.update_contexts(backend, out);
    }

    fn flush_folder_updates(&mut self, backend: &dyn Backend, out: &mut Out, expunge_ok: bool) {
        let (rev2, vanished, condstore) = (self.rev2, self.reports_vanished(), self.condstore);
        let uidonly = self.uidonly;
        let State::Selected(sel) = &mut self.state else {
            return;
        };
        if expunge_ok && !sel.pending_expunged.is_empty() {
            let uids: Vec<u32> = std::mem::take(&mut sel.pending_expunged)
                .into_iter()
                .collect();
            report_expunged(sel, &uids, vanished, out);
        }
        let shown: Vec<String> = sel
            .pending_flags
            .iter()
            .filter_map(|u| sel.seq_of(*u))
            .flat_map(|seq| sel.messages[seq - 1].keywords.iter().cloned())
            .collect();
        announce_keywords(sel, &shown, out);
        for uid in std::mem::take(&mut sel.pending_flags) {
            if let Some(seq) = sel.seq_of(uid) {
                let m = &sel.messages[seq - 1];
                let mut l = fetch_head(uidonly, seq, uid);
                if !uidonly {
                    l.push_str(&format!("UID {uid} "));
                }
                l.push_str("FLAGS ");
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
            let shown: Vec<String> = new.iter().flat_map(|m| m.keywords.clone()).collect();
            announce_keywords(sel, &shown, out);
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

/// Removes `uids` from the session's view and tells the client: VANISHED for QRESYNC and
/// UIDONLY clients (`vanished`), otherwise one EXPUNGE per message, highest sequence number first so that each
/// number is still right when the client reads it.
pub(super) fn report_expunged(
    sel: &mut super::session::Selected,
    uids: &[u32],
    vanished: bool,
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
    if vanished {
        vanished_line(out, false, &mut gone);
    } else {
        for s in seqs {
            line(out, &format!("* {s} EXPUNGE"));
        }
    }
}

/// `* VANISHED uids` (RFC 7162 §3.2.10), `(EARLIER)` when `earlier`; sorts `gone`.
pub(super) fn vanished_line(out: &mut Out, earlier: bool, gone: &mut [u32]) {
    gone.sort_unstable();
    let mut set = Vec::new();
    response::sequence_set(&mut set, gone);
    let earlier = if earlier { " (EARLIER)" } else { "" };
    line(
        out,
        &format!("* VANISHED{earlier} {}", String::from_utf8_lossy(&set)),
    );
}

/// `* FLAGS (...)`: the system flags and `keywords`.
pub(super) fn flags_line(keywords: &[String]) -> String {
    let mut fl = b"* FLAGS ".to_vec();
    response::flags(&mut fl, 31, keywords, false);
    String::from_utf8_lossy(&fl).into_owned()
}

/// `* OK [PERMANENTFLAGS (...)]`: `None` for a read-only selection; otherwise the system
/// flag bits the user may change and whether they may set keywords (then the known ones and
/// `\*`, RFC 9051 §7.1).
pub(super) fn permanent_flags_line(permanent: Option<(u8, bool)>, keywords: &[String]) -> String {
    let Some((bits, may_keyword)) = permanent else {
        return "* OK [PERMANENTFLAGS ()] Read-only mailbox".into();
    };
    let kw: &[String] = if may_keyword { keywords } else { &[] };
    let mut pf = Vec::new();
    response::flags(&mut pf, bits, kw, false);
    if may_keyword {
        pf.pop();
        if pf.len() > 1 {
            pf.push(b' ');
        }
        pf.extend_from_slice(b"\\*)");
    }
    format!(
        "* OK [PERMANENTFLAGS {}] Flags permitted",
        String::from_utf8_lossy(&pf)
    )
}

/// Announces the keywords among `shown` that the client has not been told of yet (see the
/// module notes); call it before writing FETCH responses that show them.
pub(super) fn announce_keywords(sel: &mut Selected, shown: &[String], out: &mut Out) {
    let mut added = false;
    for k in shown {
        if !sel.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)) {
            sel.keywords.push(k.clone());
            added = true;
        }
    }
    if added {
        line(out, &flags_line(&sel.keywords));
        if sel.permanent.is_some() {
            line(out, &permanent_flags_line(sel.permanent, &sel.keywords));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::backend::{flag_bits, Backend, FlagOp, NewMessage};
    use super::super::fuzz::{MemBackend, USER};
    use super::super::session::{Action, FolderChange, Session, SessionConfig};

    fn text(actions: Vec<Action>) -> String {
        let mut out = Vec::new();
        for a in actions {
            if let Action::Send(b) = a {
                out.extend_from_slice(&b);
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn selected(backend: &MemBackend) -> Session {
        let config = SessionConfig {
            hostname: "imap.test".into(),
            starttls_available: false,
            allow_plaintext: true,
            append_limit: 1 << 20,
            max_line: 8192,
            unauthenticate: true,
        };
        let mut s = Session::new(config, false);
        let acts = s.receive(b"a LOGIN x y\r\n", backend);
        assert!(acts
            .iter()
            .any(|a| matches!(a, Action::Authenticate { .. })));
        let r = text(s.resume_auth(Some(USER.into()), backend));
        assert!(r.contains("a OK"), "{r}");
        let r = text(s.receive(b"b SELECT INBOX\r\n", backend));
        assert!(r.contains("b OK [READ-WRITE]"), "{r}");
        s
    }

    /// Another session's changes, committed but not yet broadcast to this one, are reported
    /// at NOOP and CHECK from the index; the broadcast arriving afterwards repeats nothing.
    #[test]
    fn noop_and_check_report_changes_whose_broadcast_is_late() {
        let backend = MemBackend::new();
        let mut s = selected(&backend);
        let inbox = backend
            .find_folder(USER, "INBOX")
            .ok()
            .flatten()
            .expect("INBOX")
            .id;
        let outcome = backend
            .store_flags(
                inbox,
                &[1],
                FlagOp::Add,
                flag_bits::FLAGGED,
                &["$New".into()],
                None,
            )
            .expect("store");
        backend.expunge(inbox, &[2]).expect("expunge");
        let r = text(s.receive(b"c NOOP\r\n", &backend));
        let fetch = r.find("* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged $New))");
        let flags = r.find("* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft $Junk $New)");
        assert!(flags.is_some() && fetch.is_some() && flags < fetch, "{r}");
        assert!(r.contains("* 2 EXPUNGE\r\n"), "{r}");

        // The late broadcasts change nothing.
        let (uid, f, k, modseq) = outcome.changed[0].clone();
        s.folder_changed(
            FolderChange::Flags {
                uid,
                flags: f,
                keywords: k,
                modseq,
            },
            &backend,
        );
        s.folder_changed(FolderChange::Expunged { uids: vec![2] }, &backend);
        let r = text(s.receive(b"d NOOP\r\n", &backend));
        assert_eq!(r, "d OK NOOP completed\r\n");

        // A new message, seen at CHECK.
        backend
            .append(
                inbox,
                vec![NewMessage {
                    flags: 0,
                    keywords: vec![],
                    internal_date: 0,
                    content: b"Subject: new\r\n\r\nx\r\n".to_vec(),
                }],
            )
            .expect("append");
        let r = text(s.receive(b"e CHECK\r\n", &backend));
        assert!(r.contains("* 4 EXISTS\r\n"), "{r}");
        s.folder_changed(FolderChange::Added { uid: 5 }, &backend);
        let r = text(s.receive(b"f NOOP\r\n", &backend));
        assert_eq!(r, "f OK NOOP completed\r\n");
    }
}
