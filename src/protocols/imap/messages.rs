//! Commands on the selected mailbox's messages: FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY,
//! RFC 8970 PREVIEW, RFC 7162 CHANGEDSINCE/VANISHED), STORE (UNCHANGEDSINCE), SEARCH (ESEARCH,
//! SEARCHRES), SORT/THREAD (RFC 5256, ESORT RFC 5267), COPY/MOVE (RFC 4315 COPYUID, RFC
//! 6851), EXPUNGE and UID EXPUNGE, CLOSE, UNSELECT, CHECK. EMAILID and THREADID (RFC 8474)
//! are answered by [`super::objectid`].

use super::backend::{flag_bits, Backend, FlagOp, FolderRef, ReadAhead, StoreOutcome};
use super::context;
use super::fetch_items::{FlagState, ItemSource};
use super::fetch_stream::{FetchJob, FetchPlan, Literal, Progress, Streaming, OUTPUT_CHUNK};
use super::mailboxes::flags_to_bits;
use super::message::{self, ParsedMessage};
use super::objectid;
use super::partial;
use super::response;
use super::search_text;
use super::session::{line, Action, Done, Out, Selected, Session, State};
use super::sort::{self, SortInput};
use super::types::{
    CommandBody, Date, FetchAttr, FetchModifiers, SearchKey, SearchReturn, SectionText,
    SequenceSet, StoreMode, Tag, ThreadAlgorithm,
};
use super::uidonly::{self, fetch_head};
use super::updates::{announce_keywords, report_expunged, vanished_line};

/// How many messages' index records SEARCH, SORT and FETCH ask the backend for at once
/// (`Backend::will_read`).
const READ_BATCH: usize = 256;

/// The same for a FETCH of message content: one call of `fetch_more` ends after a window
/// of output (a large message may fill it alone) and its read-ahead ends with it, so a
/// batch sized for the messages one window is likely to hold.
const CONTENT_READ_BATCH: usize = 16;

impl Session {
    pub(super) fn message_command(
        &mut self,
        tag: &Tag,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Done {
        use CommandBody::*;
        let r = match body {
            Check => {
                self.sync_with_index(backend);
                Ok(Done::Ok("CHECK completed".into()))
            }
            Close => self.close_mailbox(true, backend, actions, out),
            Unselect => self.close_mailbox(false, backend, actions, out),
            CancelUpdate(tags) => Ok(self.cancel_update(&tags)),
            Expunge { uids } => self.expunge(uids.as_ref(), backend, out),
            Fetch {
                uid,
                set,
                attrs,
                modifiers,
            } => self.fetch(uid, &set, &attrs, &modifiers, backend, out, Some(tag)),
            Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                let (bits, keywords) = flags_to_bits(&flags);
                self.store(
                    uid,
                    &set,
                    mode,
                    silent,
                    bits,
                    &keywords,
                    unchanged_since,
                    backend,
                    out,
                )
            }
            Search { uid, search } => search
                .charset
                .as_deref()
                .map_or(Ok(()), check_charset)
                .and_then(|()| {
                    let ret = search.ret.as_deref();
                    self.search(tag, uid, ret, &search.criteria, backend, out)
                }),
            Sort {
                uid,
                criteria,
                ret,
                charset,
                search,
            } => check_charset(&charset).and_then(|()| {
                self.sort(tag, uid, &criteria, ret.as_deref(), &search, backend, out)
            }),
            Thread {
                uid,
                algorithm,
                charset,
                search,
            } => check_charset(&charset)
                .and_then(|()| self.thread(uid, algorithm, &search, backend, out)),
            Copy { uid, set, mailbox } => {
                self.copy_or_move(false, uid, &set, &mailbox.0, backend, out)
            }
            Move { uid, set, mailbox } => {
                self.copy_or_move(true, uid, &set, &mailbox.0, backend, out)
            }
            other => Ok(Done::Bad(format!("{} is not valid here", other.name()))),
        };
        r.unwrap_or_else(|d| d)
    }

    /// RFC 7162 §3.1: FETCH MODSEQ/CHANGEDSINCE, SEARCH MODSEQ and STORE UNCHANGEDSINCE
    /// enable CONDSTORE; the first time, with a mailbox selected, the client is told the
    /// mailbox's HIGHESTMODSEQ, which it did not get at SELECT.
    pub(super) fn enable_condstore(&mut self, out: &mut Out) {
        if std::mem::replace(&mut self.condstore, true) {
            return;
        }
        if let State::Selected(sel) = &self.state {
            line(
                out,
                &format!("* OK [HIGHESTMODSEQ {}] Highest", sel.highest_modseq),
            );
        }
    }

    fn selected(&self) -> Result<&Selected, Done> {
        match &self.state {
            State::Selected(s) => Ok(s),
            _ => Err(Done::Bad("No mailbox selected".into())),
        }
    }

    fn selected_mut(&mut self) -> Result<&mut Selected, Done> {
        match &mut self.state {
            State::Selected(s) => Ok(s),
            _ => Err(Done::Bad("No mailbox selected".into())),
        }
    }

    /// Indices (0-based) of the messages a sequence set names, in ascending order.
    fn resolve_set(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, Done> {
        let sel = self.selected()?;
        if let SequenceSet::Saved = set {
            return Ok(sel
                .saved
                .iter()
                .filter_map(|u| sel.seq_of(*u).map(|s| s - 1))
                .collect());
        }
        if uid {
            let largest = sel.max_uid();
            Ok(sel
                .messages
                .iter()
                .enumerate()
                .filter(|(_, m)| set.contains(m.uid, largest))
                .map(|(i, _)| i)
                .collect())
        } else {
            let n = sel.messages.len() as u32;
            if let SequenceSet::Ranges(ranges) = set {
                // RFC 9051 §6.4.5: a sequence number beyond EXISTS is an error.
                let too_big = ranges.iter().any(|r| {
                    let check = |s: &super::types::SeqNum| matches!(s, super::types::SeqNum::Value(v) if *v > n);
                    match r {
                        super::types::SeqRange::Single(a) => check(a),
                        super::types::SeqRange::Range(a, b) => check(a) && check(b),
                    }
                });
                if too_big {
                    return Err(Done::Bad("Invalid message sequence number".into()));
                }
            }
            Ok((1..=n)
                .filter(|s| set.contains(*s, n))
                .map(|s| s as usize - 1)
                .collect())
        }
    }

    fn rights_here(&self, backend: &dyn Backend) -> String {
        let Ok(sel) = self.selected() else {
            return String::new();
        };
        backend
            .rights(sel.folder.id, &self.me())
            .unwrap_or_default()
    }

    // --- CLOSE / UNSELECT / EXPUNGE -------------------------------------------------------

    fn close_mailbox(
        &mut self,
        expunge: bool,
        backend: &dyn Backend,
        actions: &mut Vec<Action>,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let rights = self.rights_here(backend);
        let sel = self.selected()?;
        if expunge && !sel.read_only && rights.contains('e') {
            let uids: Vec<u32> = sel
                .messages
                .iter()
                .filter(|m| m.flags & flag_bits::DELETED != 0)
                .map(|m| m.uid)
                .collect();
            if !uids.is_empty() {
                // CLOSE expunges silently (RFC 9051 §6.4.1).
                backend.expunge(sel.folder.id, &uids).map_err(Done::from)?;
            }
        }
        self.state = State::Authenticated;
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::Watch(None));
        Ok(Done::Ok(format!(
            "{} completed",
            if expunge { "CLOSE" } else { "UNSELECT" }
        )))
    }

    fn expunge(
        &mut self,
        within: Option<&SequenceSet>,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let rights = self.rights_here(backend);
        let vanished = self.reports_vanished();
        let condstore = self.condstore;
        let sel = self.selected()?;
        if sel.read_only {
            return Err(Done::No("[READ-ONLY] Mailbox is read-only".into()));
        }
        if !rights.contains('e') {
            return Err(Done::No("[NOPERM] No right to expunge".into()));
        }
        let largest = sel.max_uid();
        let uids: Vec<u32> = sel
            .messages
            .iter()
            .filter(|m| m.flags & flag_bits::DELETED != 0)
            .filter(|m| within.is_none_or(|s| s.contains(m.uid, largest)))
            .map(|m| m.uid)
            .collect();
        let folder = sel.folder.id;
        let mut modseq = sel.highest_modseq;
        if !uids.is_empty() {
            modseq = backend.expunge(folder, &uids).map_err(Done::from)?;
        }
        let sel = self.selected_mut()?;
        report_expunged(sel, &uids, vanished, out);
        sel.highest_modseq = sel.highest_modseq.max(modseq);
        if condstore {
            Ok(Done::Ok(format!(
                "[HIGHESTMODSEQ {}] EXPUNGE completed",
                sel.highest_modseq
            )))
        } else {
            Ok(Done::Ok("EXPUNGE completed".into()))
        }
    }

    // --- FETCH -----------------------------------------------------------------------------

    /// FETCH. With `chunked` (the command's tag) the output stops at
    /// [`OUTPUT_CHUNK`] and the rest is left to `resume` (fetch_stream.rs); without, it is
    /// all written to `out` (NOTIFY's FETCH of new messages).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fetch(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        attrs: &[FetchAttr],
        modifiers: &FetchModifiers,
        backend: &dyn Backend,
        out: &mut Out,
        chunked: Option<&Tag>,
    ) -> Result<Done, Done> {
        if modifiers.vanished && !(uid && self.qresync && modifiers.changed_since.is_some()) {
            return Err(Done::Bad(
                "VANISHED needs UID FETCH, QRESYNC and CHANGEDSINCE".into(),
            ));
        }
        let mut indices = self.resolve_set(set, uid)?;
        if let Some(range) = modifiers.partial {
            indices = range.pick(&indices);
        }
        if modifiers.changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq) {
            self.enable_condstore(out);
        }
        let folder = self.selected()?.folder.id;
        if let (true, Some(since)) = (modifiers.vanished, modifiers.changed_since) {
            self.report_vanished_earlier(set, since, backend, out)?;
        }
        let plan = self.fetch_plan(attrs, backend)?;
        if plan.can_seen || attrs.contains(&FetchAttr::Flags) {
            let sel = self.selected_mut()?;
            let shown: Vec<String> = indices
                .iter()
                .filter_map(|i| sel.messages.get(*i))
                .flat_map(|m| m.keywords.iter().cloned())
                .collect();
            announce_keywords(sel, &shown, out);
        }
        let mut job = FetchJob {
            tag: chunked.cloned(),
            uid,
            attrs: attrs.to_vec(),
            modifiers: modifiers.clone(),
            folder,
            plan,
            left: indices.into(),
            streaming: None,
            failed: None,
        };
        let limit = chunked.map_or(usize::MAX, |_| OUTPUT_CHUNK);
        match self.fetch_more(&mut job, backend, out, limit)? {
            Progress::Finished => Ok(Done::Ok("FETCH completed".into())),
            Progress::More => {
                self.fetching = Some(job);
                Ok(Done::Ok("FETCH continues".into()))
            }
            Progress::Broken(e) => {
                // `resume` closes the connection once this output has gone.
                job.failed = Some(e);
                self.fetching = Some(job);
                Ok(Done::Ok("FETCH broken".into()))
            }
        }
    }

    /// RFC 7162 §3.2.6 `* VANISHED (EARLIER)`: the UIDs in `set` expunged since `since`.
    fn report_vanished_earlier(
        &self,
        set: &SequenceSet,
        since: u64,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<(), Done> {
        let sel = self.selected()?;
        let largest = sel.max_uid().max(sel.folder.uidnext.saturating_sub(1));
        let mut gone: Vec<u32> = backend
            .expunged_since(sel.folder.id, since)
            .map_err(Done::from)?
            .into_iter()
            .filter(|u| set.contains(*u, largest))
            .collect();
        if !gone.is_empty() {
            vanished_line(out, true, &mut gone);
        }
        Ok(())
    }

    /// What each message's response needs, worked out once for the command.
    fn fetch_plan(&self, attrs: &[FetchAttr], backend: &dyn Backend) -> Result<FetchPlan, Done> {
        let read_only = self.selected()?.read_only;
        // ENVELOPE and header sections need only the header: no need to read the body.
        let header_only = attrs
            .iter()
            .all(|a| !self::needs_content(a) || header_attr(a));
        let needs_meta = attrs.iter().any(|a| {
            matches!(
                a,
                FetchAttr::InternalDate | FetchAttr::Rfc822Size | FetchAttr::SaveDate
            )
        });
        let sets_seen = !read_only
            && attrs.iter().any(|a| {
                matches!(
                    a,
                    FetchAttr::BodySection { peek: false, .. }
                        | FetchAttr::Binary { peek: false, .. }
                        | FetchAttr::Rfc822
                        | FetchAttr::Rfc822Text
                )
            });
        let needs_content = attrs.iter().any(needs_content);
        let email_id = attrs
            .iter()
            .any(|a| matches!(a, FetchAttr::EmailId | FetchAttr::ThreadId));
        Ok(FetchPlan {
            needs_content,
            header_only,
            needs_meta,
            reads_records: needs_content || needs_meta || email_id,
            can_seen: sets_seen && self.rights_here(backend).contains('s'),
            streamed: FetchPlan::streamed_item(attrs, self::needs_content),
        })
    }

    /// Runs `job` until its output reaches `limit` bytes or it is done.
    pub(super) fn fetch_more(
        &mut self,
        job: &mut FetchJob,
        backend: &dyn Backend,
        out: &mut Out,
        limit: usize,
    ) -> Result<Progress, Done> {
        // Messages left before the backend must be told of the next ones (`will_read`).
        let mut hinted = 0;
        let mut ahead = ReadAhead::new(backend, job.folder);
        loop {
            if let Some(s) = &mut job.streaming {
                match s.pump(out, limit) {
                    Ok(true) => job.streaming = None,
                    Ok(false) => return Ok(Progress::More),
                    Err(e) => return Ok(Progress::Broken(e)),
                }
            }
            if out.len() >= limit {
                return Ok(if job.left.is_empty() {
                    Progress::Finished
                } else {
                    Progress::More
                });
            }
            let Some(idx) = job.left.pop_front() else {
                return Ok(Progress::Finished);
            };
            if job.plan.reads_records && hinted == 0 {
                // This message and the next ones: their index records in one lookup.
                let batch = if job.plan.needs_content && !job.plan.header_only {
                    CONTENT_READ_BATCH
                } else {
                    READ_BATCH
                };
                let sel = self.selected()?;
                let uids: Vec<u32> = std::iter::once(idx)
                    .chain(job.left.iter().copied())
                    .take(batch)
                    .filter_map(|i| sel.messages.get(i).map(|m| m.uid))
                    .collect();
                ahead.tell(&uids);
                hinted = batch;
            }
            hinted = hinted.saturating_sub(1);
            job.streaming = self.fetch_message(job, idx, backend, out)?;
        }
    }

    /// A streamed literal broke off: nothing more can be said on this connection.
    pub(super) fn broken_literal(&mut self, out: Out, e: &std::io::Error) -> Vec<Action> {
        self.close_now();
        let mut out = out;
        // Not a response the client can parse (it is inside a literal), but it names the
        // cause for whoever reads a capture.
        line(&mut out, &format!("\r\n* BYE Message cannot be read: {e}"));
        vec![Action::Send(out), Action::Close]
    }

    /// One message's FETCH response; the streaming state when it ends in a literal still
    /// to be copied from the backend's reader.
    pub(super) fn fetch_message(
        &mut self,
        job: &FetchJob,
        idx: usize,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Option<Streaming>, Done> {
        let Some(m) = self.selected()?.messages.get(idx).cloned() else {
            return Ok(None);
        };
        if let Some(since) = job.modifiers.changed_since {
            if m.modseq <= since {
                return Ok(None);
            }
        }
        let seen = match job.plan.can_seen && m.flags & flag_bits::SEEN == 0 {
            true => self.mark_seen(job.folder, idx, m.uid, backend)?,
            false => None,
        };
        let flags_changed = seen.is_some();
        let flags = seen.unwrap_or_else(|| (m.flags, m.keywords.to_vec(), m.modseq));
        let Some((content, literal)) = fetch_content(job, m.uid, backend, out) else {
            return Ok(None);
        };
        let parsed = content.as_deref().map(message::parse);
        let email_id = match objectid::fetch_email_id(&job.attrs, backend, job.folder, m.uid) {
            Ok(id) => id,
            Err(e) => {
                unreadable(out, m.uid, &e);
                return Ok(None);
            }
        };
        // One index lookup, and only for the items that need it (a FETCH 1:* of
        // FLAGS and UID on a big folder must not touch the index at all).
        let meta = match job.plan.needs_meta {
            true => backend.message_meta(job.folder, m.uid).ok().flatten(),
            false => None,
        };
        let source = ItemSource {
            uid: m.uid,
            flags: &flags,
            recent: m.recent && !self.rev2,
            meta: meta.as_ref(),
            parsed: parsed.as_ref(),
            email_id: email_id.as_deref(),
        };
        let mut items: Vec<Vec<u8>> = Vec::with_capacity(job.attrs.len() + 2);
        for (i, a) in job.attrs.iter().enumerate() {
            if Some(i) == job.plan.streamed {
                // The literal's place: fetch_stream.rs copies it from `literal`.
                items.push(Vec::new());
            } else if let Some(item) = source.item(a)? {
                items.push(item);
            }
        }
        self.add_implied_items(job, &source, flags_changed, &mut items);
        if self.uidonly {
            uidonly::drop_uid_item(&mut items, m.uid);
        }
        let head = fetch_head(self.uidonly, idx + 1, m.uid);
        Ok(FetchJob::write_response(
            out,
            head.as_bytes(),
            &items,
            literal,
        ))
    }

    /// Sets `\Seen` on a message that FETCH reads (BODY[] without PEEK) and updates the
    /// selected view; the new flags, or `None` when nothing changed. A failure to set it is
    /// not the FETCH's failure.
    fn mark_seen(
        &mut self,
        folder: FolderRef,
        idx: usize,
        uid: u32,
        backend: &dyn Backend,
    ) -> Result<Option<FlagState>, Done> {
        let seen = flag_bits::SEEN;
        let Ok(outcome) = backend.store_flags(folder, &[uid], FlagOp::Add, seen, &[], None) else {
            return Ok(None);
        };
        let Some((_, flags, keywords, modseq)) = outcome.changed.into_iter().next() else {
            return Ok(None);
        };
        let sel = self.selected_mut()?;
        if let Some(v) = sel.messages.get_mut(idx) {
            v.flags = flags;
            v.keywords = keywords.clone().into();
            v.modseq = modseq;
        }
        sel.highest_modseq = sel.highest_modseq.max(modseq);
        Ok(Some((flags, keywords, modseq)))
    }

    /// Items the response carries without being asked: the UID of a UID FETCH (RFC 7162
    /// §3.2.4: with QRESYNC on, every FETCH response carries it, as VANISHED replaces
    /// EXPUNGE), FLAGS that the FETCH itself changed, and MODSEQ with CHANGEDSINCE.
    fn add_implied_items(
        &self,
        job: &FetchJob,
        source: &ItemSource<'_>,
        flags_changed: bool,
        items: &mut Vec<Vec<u8>>,
    ) {
        let asked = |a: FetchAttr| job.attrs.contains(&a);
        if (job.uid || self.qresync) && !asked(FetchAttr::Uid) && !self.uidonly {
            items.insert(0, format!("UID {}", source.uid).into_bytes());
        }
        if flags_changed && !asked(FetchAttr::Flags) {
            let mut item = Vec::new();
            source.flags_item(&mut item);
            items.push(item);
        }
        let changed_since = job.modifiers.changed_since.is_some();
        if self.condstore && changed_since && !asked(FetchAttr::ModSeq) {
            let mut item = Vec::new();
            source.modseq_item(&mut item);
            items.push(item);
        }
    }

    // --- STORE -------------------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn store(
        &mut self,
        uid: bool,
        set: &SequenceSet,
        mode: StoreMode,
        silent: bool,
        bits: u8,
        keywords: &[String],
        unchanged_since: Option<u64>,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let rights = self.rights_here(backend);
        let indices = self.resolve_set(set, uid)?;
        if unchanged_since.is_some() {
            self.enable_condstore(out);
        }
        let sel = self.selected()?;
        if sel.read_only {
            return Err(Done::No("[READ-ONLY] Mailbox is read-only".into()));
        }
        may_store(&rights, mode, bits, keywords)?;
        let folder = sel.folder.id;
        let uids: Vec<u32> = indices
            .iter()
            .filter_map(|i| sel.messages.get(*i).map(|m| m.uid))
            .collect();
        let op = match mode {
            StoreMode::Replace => FlagOp::Replace,
            StoreMode::Add => FlagOp::Add,
            StoreMode::Remove => FlagOp::Remove,
        };
        let outcome = if uids.is_empty() {
            Default::default()
        } else {
            backend
                .store_flags(folder, &uids, op, bits, keywords, unchanged_since)
                .map_err(Done::from)?
        };
        let sel = self.selected_mut()?;
        for (u, f, k, ms) in &outcome.changed {
            if let Some(seq) = sel.seq_of(*u) {
                let v = &mut sel.messages[seq - 1];
                v.flags = *f;
                v.keywords = k.clone().into();
                v.modseq = *ms;
                sel.highest_modseq = sel.highest_modseq.max(*ms);
            }
        }
        let shown: Vec<String> = outcome
            .changed
            .iter()
            .flat_map(|c| c.2.iter().cloned())
            .collect();
        announce_keywords(sel, &shown, out);
        let conditional = unchanged_since.is_some();
        self.store_responses(uid, &indices, &outcome, silent, conditional, out)?;
        if outcome.modified.is_empty() {
            return Ok(Done::Ok("STORE completed".into()));
        }
        let sel = self.selected()?;
        let numbers: Vec<u32> = if uid {
            outcome.modified
        } else {
            outcome
                .modified
                .iter()
                .filter_map(|u| sel.seq_of(*u).map(|s| s as u32))
                .collect()
        };
        let mut s = Vec::new();
        response::sequence_set(&mut s, &numbers);
        Ok(Done::Ok(format!(
            "[MODIFIED {}] Conditional STORE failed for some messages",
            String::from_utf8_lossy(&s)
        )))
    }

    /// STORE's untagged FETCH responses with the new flags: one per message of `indices`
    /// that UNCHANGEDSINCE did not hold back (`conditional`: the STORE had it).
    fn store_responses(
        &self,
        uid: bool,
        indices: &[usize],
        outcome: &StoreOutcome,
        silent: bool,
        conditional: bool,
        out: &mut Out,
    ) -> Result<(), Done> {
        let (rev2, condstore, qresync, uidonly) =
            (self.rev2, self.condstore, self.qresync, self.uidonly);
        let sel = self.selected()?;
        for &i in indices {
            let Some(m) = sel.messages.get(i) else {
                continue;
            };
            if outcome.modified.contains(&m.uid) {
                continue;
            }
            let changed = outcome.changed.iter().any(|c| c.0 == m.uid);
            // .SILENT still reports MODSEQ changes to CONDSTORE clients (RFC 7162 §3.2).
            if silent && !(condstore && changed && conditional) {
                continue;
            }
            let mut l = fetch_head(uidonly, i + 1, m.uid);
            // RFC 7162 §3.2.4: UID in every FETCH response once QRESYNC is on (UIDFETCH
            // carries it in its head, RFC 9586).
            if (uid || qresync) && !uidonly {
                l.push_str(&format!("UID {} ", m.uid));
            }
            let mut f = Vec::new();
            response::flags(&mut f, m.flags, &m.keywords, m.recent && !rev2);
            l.push_str("FLAGS ");
            l.push_str(&String::from_utf8_lossy(&f));
            if condstore {
                l.push_str(&format!(" MODSEQ ({})", m.modseq));
            }
            l.push(')');
            line(out, &l);
        }
        Ok(())
    }

    // --- SEARCH / SORT / THREAD ---------------------------------------------------------------

    /// Indices of the messages matching all `keys`.
    fn evaluate(&self, keys: &[SearchKey], backend: &dyn Backend) -> Result<Vec<usize>, Done> {
        self.evaluate_at(keys, backend, 0..self.selected()?.messages.len())
    }

    /// Indices among `candidates` (ascending) of the messages matching all `keys`.
    pub(super) fn evaluate_at(
        &self,
        keys: &[SearchKey],
        backend: &dyn Backend,
        candidates: impl IntoIterator<Item = usize>,
    ) -> Result<Vec<usize>, Done> {
        let sel = self.selected()?;
        // Keys answered from the index are tried first; a message is read only if they all
        // match, and then only its header when no key looks at the body.
        let (content, cheap): (Vec<&SearchKey>, Vec<&SearchKey>) =
            keys.iter().partition(|k| key_needs_content(k));
        let header_only = !content.iter().any(|k| key_needs_body(k));
        let metas = if keys.iter().any(key_needs_meta) {
            backend.messages(sel.folder.id).map_err(Done::from)?
        } else {
            Vec::new()
        };
        let ctx = EvalContext {
            sel,
            now: backend.now(),
            metas: &metas,
            backend,
        };
        let mut hits = Vec::new();
        let mut to_read = Vec::new();
        for i in candidates {
            if !cheap.iter().all(|k| ctx.matches(k, i, None, None)) {
                continue;
            }
            if content.is_empty() {
                hits.push(i);
            } else {
                to_read.push(i);
            }
        }
        // The messages whose bytes are read are told to the backend a batch at a time
        // (`Backend::will_read`): one index lookup per batch instead of one per message.
        let mut ahead = ReadAhead::new(backend, sel.folder.id);
        for batch in to_read.chunks(READ_BATCH) {
            let uids: Vec<u32> = batch.iter().map(|&i| sel.messages[i].uid).collect();
            ahead.tell(&uids);
            for &i in batch {
                let uid = sel.messages[i].uid;
                let raw = if header_only {
                    backend.message_header(sel.folder.id, uid)
                } else {
                    backend.message_content(sel.folder.id, uid)
                };
                let Ok(raw) = raw else { continue };
                let parsed = message::parse(&raw);
                if content
                    .iter()
                    .all(|k| ctx.matches(k, i, Some(&parsed), Some(&raw)))
                {
                    hits.push(i);
                }
            }
        }
        Ok(hits)
    }

    fn search(
        &mut self,
        tag: &Tag,
        uid: bool,
        ret: Option<&[SearchReturn]>,
        keys: &[SearchKey],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        if keys.iter().any(key_uses_modseq) {
            self.enable_condstore(out);
        }
        self.check_context_tag(tag, ret.unwrap_or(&[]))?;
        let hits = self.evaluate(keys, backend)?;
        let sel = self.selected()?;
        let numbers: Vec<u32> = hits
            .iter()
            .map(|i| {
                if uid {
                    sel.messages[*i].uid
                } else {
                    *i as u32 + 1
                }
            })
            .collect();
        let uids: Vec<u32> = hits.iter().map(|i| sel.messages[*i].uid).collect();
        let max_modseq = hits.iter().map(|i| sel.messages[*i].modseq).max();
        let uses_modseq = keys.iter().any(key_uses_modseq);
        match ret {
            None if !self.rev2 => {
                line(
                    out,
                    &search_line(&numbers, max_modseq.filter(|_| uses_modseq)),
                );
            }
            _ => {
                let ret = ret.unwrap_or(&[]);
                if ret.contains(&SearchReturn::Save) {
                    self.selected_mut()?.saved = partial::saved_with_partial(ret, &uids)
                        .unwrap_or_else(|| saved_result(ret, &uids, &numbers));
                }
                let only_save = ret.len() == 1 && ret[0] == SearchReturn::Save;
                // RFC 7162 §3.1.5: with MIN and/or MAX but neither ALL nor COUNT, MODSEQ
                // is the highest of the messages returned, not of every match.
                let whole = ret.is_empty()
                    || ret.contains(&SearchReturn::All)
                    || ret.contains(&SearchReturn::Count);
                let max_modseq = if whole {
                    max_modseq
                } else {
                    min_max_modseq(self.selected()?, ret, &hits)
                };
                if !only_save {
                    line(
                        out,
                        &esearch(
                            tag,
                            uid,
                            ret,
                            &numbers,
                            uses_modseq.then_some(max_modseq).flatten(),
                        ),
                    );
                }
                self.start_context(
                    context::NewContext {
                        tag,
                        uid,
                        ret,
                        keys,
                        sort: None,
                        results: uids,
                    },
                    out,
                );
            }
        }
        Ok(Done::Ok("SEARCH completed".into()))
    }

    pub(super) fn sort_inputs(
        &self,
        hits: &[usize],
        uid: bool,
        backend: &dyn Backend,
    ) -> Result<Vec<SortInput>, Done> {
        let sel = self.selected()?;
        let metas = backend.messages(sel.folder.id).map_err(Done::from)?;
        let mut inputs = Vec::with_capacity(hits.len());
        let mut ahead = ReadAhead::new(backend, sel.folder.id);
        for (n, &i) in hits.iter().enumerate() {
            if n % READ_BATCH == 0 {
                let next = &hits[n..hits.len().min(n + READ_BATCH)];
                let uids: Vec<u32> = next.iter().map(|&j| sel.messages[j].uid).collect();
                ahead.tell(&uids);
            }
            let m = &sel.messages[i];
            let meta = metas
                .binary_search_by_key(&m.uid, |x| x.uid)
                .ok()
                .map(|j| &metas[j]);
            // SORT and THREAD look at header fields only, parsed once per body
            // (`Backend::sort_fields`); a message gone meanwhile sorts as empty.
            let fields = backend
                .sort_fields(sel.folder.id, m.uid)
                .unwrap_or_default();
            inputs.push(SortInput {
                seq_or_uid: if uid { m.uid } else { i as u32 + 1 },
                arrival: meta.map_or(0, |x| x.internal_date),
                size: meta.map_or(0, |x| x.size),
                ..(*fields).clone()
            });
        }
        Ok(inputs)
    }

    #[allow(clippy::too_many_arguments)]
    fn sort(
        &mut self,
        tag: &Tag,
        uid: bool,
        criteria: &[super::types::SortCriterion],
        ret: Option<&[SearchReturn]>,
        keys: &[SearchKey],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        self.check_context_tag(tag, ret.unwrap_or(&[]))?;
        let hits = self.evaluate(keys, backend)?;
        let inputs = self.sort_inputs(&hits, uid, backend)?;
        let sorted = sort::sort(&inputs, criteria);
        match ret {
            None => {
                let mut l = String::from("* SORT");
                for n in &sorted {
                    l.push_str(&format!(" {n}"));
                }
                line(out, &l);
            }
            Some(ret) => {
                if ret.contains(&SearchReturn::Save) {
                    let sel = self.selected_mut()?;
                    sel.saved = hits.iter().map(|i| sel.messages[*i].uid).collect();
                }
                // ESORT (RFC 5267 §3.1): ALL is in sort order, so only ascending runs of
                // consecutive numbers become ranges (1:5), never a reordering set.
                let mut l = format!("* ESEARCH (TAG \"{tag}\")");
                if uid {
                    l.push_str(" UID");
                }
                let want = |r| ret.is_empty() || ret.contains(&r);
                if want(SearchReturn::Min) && !sorted.is_empty() {
                    l.push_str(&format!(" MIN {}", sorted[0]));
                }
                if want(SearchReturn::Max) && !sorted.is_empty() {
                    l.push_str(&format!(" MAX {}", sorted[sorted.len() - 1]));
                }
                if want(SearchReturn::All) && !sorted.is_empty() {
                    l.push_str(&format!(" ALL {}", join_numbers(&sorted)));
                }
                if want(SearchReturn::Count) {
                    l.push_str(&format!(" COUNT {}", sorted.len()));
                }
                if let Some(range) = partial::partial_of(ret) {
                    l.push_str(&partial::esort_item(&range, &sorted));
                }
                line(out, &l);
                let sel = self.selected()?;
                let results = sorted
                    .iter()
                    .filter_map(|n| match uid {
                        true => Some(*n),
                        false => sel
                            .messages
                            .get((*n as usize).checked_sub(1)?)
                            .map(|m| m.uid),
                    })
                    .collect();
                self.start_context(
                    context::NewContext {
                        tag,
                        uid,
                        ret,
                        keys,
                        sort: Some(criteria),
                        results,
                    },
                    out,
                );
            }
        }
        Ok(Done::Ok("SORT completed".into()))
    }

    fn thread(
        &mut self,
        uid: bool,
        algorithm: ThreadAlgorithm,
        keys: &[SearchKey],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let hits = self.evaluate(keys, backend)?;
        let inputs = self.sort_inputs(&hits, uid, backend)?;
        let threads = match algorithm {
            ThreadAlgorithm::OrderedSubject => super::thread::thread_orderedsubject(&inputs),
            ThreadAlgorithm::References => super::thread::thread_references(&inputs),
        };
        let mut l = b"* THREAD ".to_vec();
        super::thread::write_threads(&mut l, &threads);
        while l.last() == Some(&b' ') {
            l.pop();
        }
        out.extend_from_slice(&l);
        out.extend_from_slice(b"\r\n");
        Ok(Done::Ok("THREAD completed".into()))
    }

    // --- COPY / MOVE ----------------------------------------------------------------------

    #[allow(clippy::too_many_arguments)]
    fn copy_or_move(
        &mut self,
        is_move: bool,
        uid: bool,
        set: &SequenceSet,
        target: &str,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let verb = if is_move { "MOVE" } else { "COPY" };
        let here = self.rights_here(backend);
        let indices = self.resolve_set(set, uid)?;
        let (dest, rights) = match self.open_folder(backend, target) {
            Ok(x) => x,
            Err(Done::No(m)) if m.starts_with("[NONEXISTENT]") => {
                return Err(Done::No("[TRYCREATE] No such target mailbox".into()))
            }
            Err(d) => return Err(d),
        };
        if !rights.contains('i') {
            return Err(Done::No(
                "[NOPERM] No right to insert into the target".into(),
            ));
        }
        let vanished = self.reports_vanished();
        let sel = self.selected()?;
        if is_move && (sel.read_only || !here.contains('t') || !here.contains('e')) {
            return Err(Done::No(
                "[NOPERM] No right to move messages out of this mailbox".into(),
            ));
        }
        let uids: Vec<u32> = indices
            .iter()
            .filter_map(|i| sel.messages.get(*i).map(|m| m.uid))
            .collect();
        if uids.is_empty() {
            return Ok(Done::Ok(format!("{verb} completed (no messages)")));
        }
        let pairs = if is_move {
            backend.move_messages(sel.folder.id, &uids, dest.id)
        } else {
            backend.copy(sel.folder.id, &uids, dest.id)
        }
        .map_err(Done::from)?;
        let dest_uidvalidity = backend
            .folder(dest.id)
            .map(|f| f.uidvalidity)
            .unwrap_or(dest.uidvalidity);
        let (mut src, mut new): (Vec<u32>, Vec<u32>) = (Vec::new(), Vec::new());
        for (s, n) in &pairs {
            src.push(*s);
            new.push(*n);
        }
        let mut s1 = Vec::new();
        let mut s2 = Vec::new();
        // COPYUID lists the sets in corresponding order, not compressed out of order.
        s1.extend_from_slice(join_numbers(&src).as_bytes());
        s2.extend_from_slice(join_numbers(&new).as_bytes());
        let code = format!(
            "[COPYUID {dest_uidvalidity} {} {}]",
            String::from_utf8_lossy(&s1),
            String::from_utf8_lossy(&s2)
        );
        let same_folder = dest.id == sel.folder.id;
        if is_move {
            line(out, &format!("* OK {code} Moved"));
            let sel = self.selected_mut()?;
            report_expunged(sel, &src, vanished, out);
            if same_folder {
                sel.pending_added = true;
            }
            Ok(Done::Ok("MOVE completed".into()))
        } else {
            if same_folder {
                self.selected_mut()?.pending_added = true;
            }
            Ok(Done::Ok(format!("{code} COPY completed")))
        }
    }
}

/// What SEARCH RETURN (SAVE …) saves. RFC 5182 §2.4: with MIN and/or MAX but neither ALL
/// nor COUNT, only the minimum and/or maximum message is saved, not every match.
fn saved_result(ret: &[SearchReturn], uids: &[u32], numbers: &[u32]) -> Vec<u32> {
    let whole = ret.contains(&SearchReturn::All) || ret.contains(&SearchReturn::Count);
    let (min, max) = (
        ret.contains(&SearchReturn::Min),
        ret.contains(&SearchReturn::Max),
    );
    if whole || !(min || max) || uids.is_empty() {
        return uids.to_vec();
    }
    // `numbers` and `uids` are in the same (ascending) order.
    let (lo, hi) = numbers.iter().enumerate().fold((0, 0), |(lo, hi), (i, n)| {
        (
            if *n < numbers[lo] { i } else { lo },
            if *n > numbers[hi] { i } else { hi },
        )
    });
    let mut saved = Vec::new();
    if min {
        saved.push(uids[lo]);
    }
    if max && !(min && lo == hi) {
        saved.push(uids[hi]);
    }
    saved.sort_unstable();
    saved
}

/// Numbers as a comma list with ranges only for ascending consecutive runs (keeps the
/// pairing of COPYUID's two sets).
fn join_numbers(ns: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ns.len() {
        let mut j = i;
        while j + 1 < ns.len() && ns[j + 1] == ns[j] + 1 {
            j += 1;
        }
        parts.push(if j > i {
            format!("{}:{}", ns[i], ns[j])
        } else {
            ns[i].to_string()
        });
        i = j + 1;
    }
    parts.join(",")
}

fn check_charset(cs: &str) -> Result<(), Done> {
    let up = cs.to_ascii_uppercase();
    if up == "UTF-8" || up == "US-ASCII" || up.is_empty() {
        Ok(())
    } else {
        Err(Done::No(
            "[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset".into(),
        ))
    }
}

/// The IMAP4rev1 `* SEARCH` response (RFC 3501 §7.2.5), with RFC 7162 §3.1.5's highest
/// MODSEQ when the search used MODSEQ.
fn search_line(numbers: &[u32], modseq: Option<u64>) -> String {
    let mut l = String::from("* SEARCH");
    for n in numbers {
        l.push_str(&format!(" {n}"));
    }
    if let Some(m) = modseq {
        l.push_str(&format!(" (MODSEQ {m})"));
    }
    l
}

/// The highest modseq of the messages an ESEARCH with MIN and/or MAX returns.
fn min_max_modseq(sel: &Selected, ret: &[SearchReturn], hits: &[usize]) -> Option<u64> {
    let mut returned: Vec<usize> = Vec::new();
    if ret.contains(&SearchReturn::Min) {
        returned.extend(hits.first());
    }
    if ret.contains(&SearchReturn::Max) {
        returned.extend(hits.last());
    }
    returned.iter().map(|i| sel.messages[*i].modseq).max()
}

/// RFC 4314 §4: STORE of \Seen needs the right 's', of \Deleted 't', of other flags 'w'.
fn may_store(rights: &str, mode: StoreMode, bits: u8, keywords: &[String]) -> Result<(), Done> {
    let need_w = bits & !(flag_bits::SEEN | flag_bits::DELETED) != 0
        || !keywords.is_empty()
        || mode == StoreMode::Replace;
    if (bits & flag_bits::SEEN != 0 && !rights.contains('s'))
        || (bits & flag_bits::DELETED != 0 && !rights.contains('t'))
        || (need_w && !rights.contains('w'))
    {
        return Err(Done::No(
            "[NOPERM] Not allowed to change these flags".into(),
        ));
    }
    Ok(())
}

/// What one message's FETCH needs of its content: the content (only the header when that
/// is all the items need), and the reader of the item streamed as a literal. `None` when it
/// cannot be read: the NO line is written and the message skipped.
fn fetch_content(
    job: &FetchJob,
    uid: u32,
    backend: &dyn Backend,
    out: &mut Out,
) -> Option<(Option<Vec<u8>>, Option<Literal>)> {
    let read = if let Some(at) = job.plan.streamed {
        backend.open_content(job.folder, uid).map(|(len, reader)| {
            let name = match &job.attrs[at] {
                FetchAttr::BodySection { section, .. } => message::section_name(section, None),
                _ => "RFC822".into(),
            };
            (None, Some((format!("{name} ").into_bytes(), len, reader)))
        })
    } else if job.plan.needs_content && job.plan.header_only {
        backend
            .message_header(job.folder, uid)
            .map(|c| (Some(c), None))
    } else if job.plan.needs_content {
        backend
            .message_content(job.folder, uid)
            .map(|c| (Some(c), None))
    } else {
        Ok((None, None))
    };
    read.map_err(|e| unreadable(out, uid, &e)).ok()
}

/// The untagged NO for a message FETCH cannot read (the command goes on with the others).
fn unreadable(out: &mut Out, uid: u32, e: &dyn std::fmt::Display) {
    line(out, &format!("* NO Message UID {uid} cannot be read: {e}"));
}

fn needs_content(a: &FetchAttr) -> bool {
    !matches!(
        a,
        FetchAttr::Uid
            | FetchAttr::Flags
            | FetchAttr::ModSeq
            | FetchAttr::EmailId
            | FetchAttr::InternalDate
            | FetchAttr::Rfc822Size
            | FetchAttr::SaveDate
    )
}

/// FETCH items answered from the header section alone.
fn header_attr(a: &FetchAttr) -> bool {
    match a {
        FetchAttr::Envelope | FetchAttr::Rfc822Header | FetchAttr::ThreadId => true,
        FetchAttr::BodySection {
            section,
            partial: None,
            ..
        } => {
            section.part.is_empty()
                && matches!(
                    section.text,
                    Some(SectionText::Header)
                        | Some(SectionText::HeaderFields(_))
                        | Some(SectionText::HeaderFieldsNot(_))
                )
        }
        _ => false,
    }
}

fn key_needs_content(k: &SearchKey) -> bool {
    use SearchKey::*;
    match k {
        Bcc(_) | Body(_) | Cc(_) | From(_) | Header(..) | Subject(_) | Text(_) | To(_)
        | SentBefore(_) | SentOn(_) | SentSince(_) | ThreadId(_) => true,
        Not(k) => key_needs_content(k),
        Or(a, b) => key_needs_content(a) || key_needs_content(b),
        And(ks) => ks.iter().any(key_needs_content),
        _ => false,
    }
}

/// Content keys that look past the header (BODY, TEXT).
fn key_needs_body(k: &SearchKey) -> bool {
    use SearchKey::*;
    match k {
        Body(_) | Text(_) => true,
        Not(k) => key_needs_body(k),
        Or(a, b) => key_needs_body(a) || key_needs_body(b),
        And(ks) => ks.iter().any(key_needs_body),
        _ => false,
    }
}

/// A MODSEQ search key anywhere (a CONDSTORE enabling command, RFC 7162 §3.1).
fn key_uses_modseq(k: &SearchKey) -> bool {
    use SearchKey::*;
    match k {
        ModSeq(_) => true,
        Not(k) => key_uses_modseq(k),
        Or(a, b) => key_uses_modseq(a) || key_uses_modseq(b),
        And(ks) => ks.iter().any(key_uses_modseq),
        _ => false,
    }
}

fn key_needs_meta(k: &SearchKey) -> bool {
    use SearchKey::*;
    match k {
        Before(_) | On(_) | Since(_) | Larger(_) | Smaller(_) | Older(_) | Younger(_)
        | SavedBefore(_) | SavedOn(_) | SavedSince(_) => true,
        Not(k) => key_needs_meta(k),
        Or(a, b) => key_needs_meta(a) || key_needs_meta(b),
        And(ks) => ks.iter().any(key_needs_meta),
        _ => false,
    }
}

/// The ESEARCH response (RFC 4731 / RFC 9051 §7.3.4).
fn esearch(
    tag: &Tag,
    uid: bool,
    ret: &[SearchReturn],
    numbers: &[u32],
    modseq: Option<u64>,
) -> String {
    let mut l = format!("* ESEARCH (TAG \"{tag}\")");
    if uid {
        l.push_str(" UID");
    }
    if !numbers.is_empty() {
        if ret.contains(&SearchReturn::Min) {
            l.push_str(&format!(" MIN {}", numbers[0]));
        }
        if ret.contains(&SearchReturn::Max) {
            l.push_str(&format!(" MAX {}", numbers[numbers.len() - 1]));
        }
        if ret.is_empty() || ret.contains(&SearchReturn::All) {
            let mut s = Vec::new();
            let mut sorted = numbers.to_vec();
            sorted.sort_unstable();
            response::sequence_set(&mut s, &sorted);
            l.push_str(&format!(" ALL {}", String::from_utf8_lossy(&s)));
        }
    }
    if let Some(range) = partial::partial_of(ret) {
        let mut sorted = numbers.to_vec();
        sorted.sort_unstable();
        l.push_str(&partial::esearch_item(&range, &sorted));
    }
    if ret.contains(&SearchReturn::Count) {
        l.push_str(&format!(" COUNT {}", numbers.len()));
    }
    if let Some(m) = modseq {
        l.push_str(&format!(" MODSEQ {m}"));
    }
    l
}

struct EvalContext<'a> {
    sel: &'a Selected,
    now: i64,
    metas: &'a [super::backend::MessageMeta],
    /// For EMAILID and THREADID (RFC 8474), looked up only for messages the other keys let
    /// through.
    backend: &'a dyn Backend,
}

impl EvalContext<'_> {
    fn matches(
        &self,
        key: &SearchKey,
        i: usize,
        parsed: Option<&ParsedMessage<'_>>,
        raw: Option<&[u8]>,
    ) -> bool {
        use SearchKey::*;
        let m = &self.sel.messages[i];
        let meta = || {
            self.metas
                .binary_search_by_key(&m.uid, |x| x.uid)
                .ok()
                .map(|j| &self.metas[j])
        };
        let date = || meta().map(|x| date_of(x.internal_date));
        let saved = || meta().map(|x| date_of(x.save_date));
        let has = |bit: u8| m.flags & bit != 0;
        match key {
            All => true,
            Answered => has(flag_bits::ANSWERED),
            Unanswered => !has(flag_bits::ANSWERED),
            Deleted => has(flag_bits::DELETED),
            Undeleted => !has(flag_bits::DELETED),
            Draft => has(flag_bits::DRAFT),
            Undraft => !has(flag_bits::DRAFT),
            Flagged => has(flag_bits::FLAGGED),
            Unflagged => !has(flag_bits::FLAGGED),
            Seen => has(flag_bits::SEEN),
            Unseen => !has(flag_bits::SEEN),
            Recent => m.recent,
            Old => !m.recent,
            New => m.recent && !has(flag_bits::SEEN),
            Keyword(k) => m.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)),
            Unkeyword(k) => !m.keywords.iter().any(|x| x.eq_ignore_ascii_case(k)),
            Larger(n) => meta().is_some_and(|x| x.size > *n),
            Smaller(n) => meta().is_some_and(|x| x.size < *n),
            Before(d) => date().is_some_and(|x| x < *d),
            On(d) => date().is_some_and(|x| x == *d),
            Since(d) => date().is_some_and(|x| x >= *d),
            Older(s) => meta().is_some_and(|x| self.now - x.internal_date >= *s as i64),
            Younger(s) => meta().is_some_and(|x| self.now - x.internal_date <= *s as i64),
            SavedBefore(d) => saved().is_some_and(|x| x < *d),
            SavedOn(d) => saved().is_some_and(|x| x == *d),
            SavedSince(d) => saved().is_some_and(|x| x >= *d),
            SaveDateSupported => true,
            ModSeq(ms) => m.modseq >= *ms,
            EmailId(id) => objectid::search_email_id(self.backend, self.sel.folder.id, m.uid, id),
            ThreadId(id) => parsed.is_some_and(|p| {
                objectid::search_thread_id(self.backend, self.sel.folder.id, m.uid, p, id)
            }),
            Uid(set) => match set {
                super::types::SequenceSet::Saved => self.sel.saved.contains(&m.uid),
                s => s.contains(m.uid, self.sel.max_uid()),
            },
            SequenceSet(set) => match set {
                super::types::SequenceSet::Saved => self.sel.saved.contains(&m.uid),
                s => s.contains(i as u32 + 1, self.sel.messages.len() as u32),
            },
            Not(k) => !self.matches(k, i, parsed, raw),
            Or(a, b) => self.matches(a, i, parsed, raw) || self.matches(b, i, parsed, raw),
            And(ks) => ks.iter().all(|k| self.matches(k, i, parsed, raw)),
            content => match (parsed, raw) {
                (Some(p), Some(r)) => search_text::matches(content, p, r).unwrap_or(false),
                _ => false,
            },
        }
    }
}

/// The calendar date of a unix time (UTC), for BEFORE/ON/SINCE.
fn date_of(unix: i64) -> Date {
    let (y, m, d) = crate::protocols::date::civil_from_days(unix.div_euclid(86_400));
    Date {
        year: y as u16,
        month: m as u8,
        day: d as u8,
    }
}
