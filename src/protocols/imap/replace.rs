//! REPLACE and UID REPLACE (RFC 8508), selected state only (§3.5): append a new message to
//! a mailbox and expunge one of the selected mailbox, as one change.
//!
//! Implementation notes:
//! - Atomic: [`Backend::replace`] does the expunge and the append in one transaction of the
//!   selected folder's actor (the expunge first, so quota counts only the net change, §3.4);
//!   a failure changes nothing and no EXPUNGE is sent.
//! - Rights (§4.1): `t` and `e` on the selected mailbox (as UID STORE \Deleted + UID
//!   EXPUNGE), `i` on the target; the selected mailbox must not be read-only (EXAMINE).
//! - Errors as APPEND's (§3.4): `[TRYCREATE]` for a missing target, `[TOOBIG]`, `[OVERQUOTA]`;
//!   a UID that is not (or no longer) there is NO, a sequence number beyond the mailbox BAD
//!   (RFC 9051 §6.4.8 and its treatment of invalid sequence numbers).
//! - Responses (§4.3): `* OK [APPENDUID v uid]` first, then the EXPUNGE (or VANISHED under
//!   QRESYNC, §4.5) of the replaced message, then EXISTS when the target is the selected
//!   mailbox; no response for the implied STORE.

use super::backend::{Backend, NewMessage};
use super::mailboxes::flags_to_bits;
use super::session::{line, Done, Out, Session, State};
use super::types::{AppendMessage, MailboxName};
use super::updates::report_expunged;

impl Session {
    /// `[UID] REPLACE id mailbox message`.
    pub(super) fn replace(
        &mut self,
        uid: bool,
        id: u32,
        mailbox: &MailboxName,
        message: AppendMessage,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Done {
        self.try_replace(uid, id, mailbox, message, backend, out)
            .unwrap_or_else(|d| d)
    }

    fn try_replace(
        &mut self,
        uid: bool,
        id: u32,
        mailbox: &MailboxName,
        message: AppendMessage,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let me = self.me();
        let State::Selected(sel) = &self.state else {
            return Err(Done::Bad("No mailbox selected".into()));
        };
        let (here, read_only) = (sel.folder.id, sel.read_only);
        let old = if uid {
            sel.seq_of(id)
                .map(|_| id)
                .ok_or_else(|| Done::No(format!("[NONEXISTENT] No message with UID {id}")))?
        } else {
            let m = sel.messages.get((id as usize).wrapping_sub(1));
            m.map(|m| m.uid)
                .ok_or_else(|| Done::Bad(format!("No message with sequence number {id}")))?
        };
        let rights = backend.rights(here, &me).map_err(Done::from)?;
        if read_only || !rights.contains('t') || !rights.contains('e') {
            return Err(Done::No(
                "[NOPERM] No right to remove messages from this mailbox".into(),
            ));
        }
        let target = match self.open_folder(backend, &mailbox.0) {
            Ok((f, r)) if r.contains('i') => f,
            Ok(_) => return Err(Done::No("[NOPERM] No right to append there".into())),
            Err(Done::No(m)) if m.starts_with("[NONEXISTENT]") => {
                return Err(Done::No("[TRYCREATE] No such mailbox".into()))
            }
            Err(d) => return Err(d),
        };
        if target.noselect {
            return Err(Done::No("[CANNOT] Mailbox cannot hold messages".into()));
        }
        let mut message = message;
        // The literal was streamed to staging by the framer (append.rs), not parsed.
        message.message = self.staged_replacement()?;
        if message.message.is_empty() {
            return Err(Done::No("[CANNOT] Empty message".into()));
        }
        if message.message.len() as u64 > self.config.append_limit {
            return Err(Done::No("[TOOBIG] Message exceeds APPENDLIMIT".into()));
        }
        let (flags, keywords) = flags_to_bits(&message.flags);
        let new = NewMessage {
            flags,
            keywords,
            internal_date: message.date.map_or_else(|| backend.now(), |d| d.unix),
            content: message.message,
        };
        let new_uid = backend
            .replace(here, old, target.id, new)
            .map_err(Done::from)?;
        line(
            out,
            &format!(
                "* OK [APPENDUID {} {new_uid}] Replacement Message ready",
                target.uidvalidity
            ),
        );
        let vanished = self.reports_vanished();
        if let State::Selected(sel) = &mut self.state {
            report_expunged(sel, &[old], vanished, out);
            if target.id == here {
                sel.pending_added = true;
            }
        }
        Ok(Done::Ok("REPLACE completed".into()))
    }
}
