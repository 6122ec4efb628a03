//! Commands on mailboxes (authenticated and selected states): SELECT/EXAMINE (RFC 9051
//! §6.3.2–3, RFC 7162 CONDSTORE/QRESYNC), CREATE (RFC 6154 USE), DELETE, RENAME,
//! SUBSCRIBE, UNSUBSCRIBE, LIST/LSUB (RFC 5258, 5819, 6154), NAMESPACE (RFC 2342), STATUS,
//! ACL (RFC 4314) and QUOTA (RFC 9208). APPEND, with its streamed literals, is in append.rs.
//!
//! Rights (RFC 4314 §4): the owner of a folder holds every right; a folder on which the user
//! has no right at all is answered as if it did not exist.
//!
//! Subscriptions: the folders an account starts with are subscribed; CREATE subscribes
//! nothing (not the folder, not the parents it makes). LSUB and LIST (SUBSCRIBED
//! RECURSIVEMATCH) return an unsubscribed name for a subscribed descendant only when the
//! patterns do not return that descendant themselves (RFC 3501 §6.3.9, RFC 5258 §3.5).

use super::backend::{Backend, BackendError, FolderInfo, MessageMeta, PUBLIC_OWNER};
use super::names::{self, Resolved, OTHER_USERS, PUBLIC, SEPARATOR};
use super::objectid;
use super::response;
use super::session::{line, Action, Done, MsgView, Out, Selected, Session, State};
use super::types::{
    CommandBody, Flag, ListCommand, MailboxName, QresyncParams, SelectParams, StatusItem,
    StoreMode, Tag,
};
use super::uidonly;
use super::updates;

pub const ALL_RIGHTS: &str = "lrswipkxtea";

fn no_such(name: &str) -> Done {
    Done::No(format!("[NONEXISTENT] No such mailbox: {name}"))
}

impl Session {
    pub(super) fn me(&self) -> String {
        self.user.clone().unwrap_or_default()
    }

    /// Finds a folder by client-visible name, with the user's rights on it; folders the user
    /// may not see do not exist.
    pub(super) fn open_folder(
        &self,
        backend: &dyn Backend,
        name: &str,
    ) -> Result<(FolderInfo, String), Done> {
        let me = self.me();
        let Resolved::Folder { owner, name: inner } = names::resolve(&me, name) else {
            return Err(Done::No(format!(
                "[CANNOT] {name} is a namespace, not a mailbox"
            )));
        };
        let folder = backend
            .find_folder(&owner, &inner)
            .map_err(Done::from)?
            .ok_or_else(|| no_such(name))?;
        let rights = backend.rights(folder.id, &me).map_err(Done::from)?;
        if rights.is_empty() {
            return Err(no_such(name));
        }
        Ok((folder, rights))
    }

    pub(super) fn mailbox_command(
        &mut self,
        tag: &Tag,
        body: CommandBody,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Done {
        use CommandBody::*;
        let r = match body {
            Select {
                mailbox,
                params,
                read_only,
            } => self.select(&mailbox, &params, read_only, backend, out, actions),
            Create {
                mailbox,
                special_use,
            } => self.create(&mailbox, &special_use, backend),
            Delete(m) => self.delete(&m, backend),
            Rename { from, to } => self.rename(&from, &to, backend),
            Subscribe(m) => self.subscribe(&m, true, backend),
            Unsubscribe(m) => self.subscribe(&m, false, backend),
            List(l) => self.list(&l, backend, out),
            Namespace => {
                line(
                    out,
                    &format!(
                        "* NAMESPACE ((\"\" \"/\")) ((\"{OTHER_USERS}/\" \"/\")) ((\"{PUBLIC}/\" \"/\"))"
                    ),
                );
                Ok(Done::Ok("NAMESPACE completed".into()))
            }
            Status { mailbox, items } => self.status(&mailbox, &items, backend, out),
            Append { mailbox, messages } => self.append(&mailbox, messages, backend),
            SetAcl {
                mailbox,
                identifier,
                rights,
            } => self.set_acl(&mailbox, &identifier, rights.mode, &rights.rights, backend),
            DeleteAcl {
                mailbox,
                identifier,
            } => self.delete_acl(&mailbox, &identifier, backend),
            GetAcl(m) => self.get_acl(&m, backend, out),
            ListRights {
                mailbox,
                identifier,
            } => self.list_rights(&mailbox, &identifier, backend, out),
            MyRights(m) => self.my_rights(&m, backend, out),
            GetQuota(root) => self.get_quota(&root, backend, out),
            GetQuotaRoot(m) => self.get_quota_root(&m, backend, out),
            SetQuota { root, limits } => self.set_quota(&root, &limits, backend, out),
            other => Ok(Done::Bad(format!(
                "{} is not a mailbox command",
                other.name()
            ))),
        };
        let _ = tag;
        r.unwrap_or_else(|d| d)
    }

    // --- SELECT / EXAMINE ----------------------------------------------------------------

    fn select(
        &mut self,
        mailbox: &MailboxName,
        params: &SelectParams,
        examine: bool,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Result<Done, Done> {
        self.close_for_select(out, actions);
        if params.qresync.is_some() && !self.qresync {
            return Err(Done::Bad(
                "QRESYNC must be enabled first (ENABLE QRESYNC)".into(),
            ));
        }
        if params.condstore {
            self.condstore = true;
        }
        let (folder, rights) = self.open_folder(backend, &mailbox.0)?;
        if folder.noselect {
            return Err(Done::No(format!(
                "[CANNOT] {} cannot be selected",
                mailbox.0
            )));
        }
        if !rights.contains('r') {
            return Err(Done::No(format!(
                "[NOPERM] No read access to {}",
                mailbox.0
            )));
        }
        let writable = ["s", "w", "t", "e", "i"].iter().any(|r| rights.contains(r));
        let read_only = examine || !writable;
        let metas = backend.messages(folder.id).map_err(Done::from)?;
        let first_recent = first_recent(&folder, &metas, read_only, backend);
        let (messages, highest) = message_views(metas, first_recent, folder.highest_modseq);
        let keywords = {
            let mut k: Vec<String> = messages
                .iter()
                .flat_map(|m| m.keywords.iter().cloned())
                .collect();
            k.sort();
            k.dedup();
            k
        };
        line(out, &updates::flags_line(&keywords));
        line(out, &format!("* {} EXISTS", messages.len()));
        self.select_name_or_counts(&folder, &messages, out);
        line(
            out,
            &format!("* OK [UIDVALIDITY {}] UIDs valid", folder.uidvalidity),
        );
        line(
            out,
            &format!("* OK [UIDNEXT {}] Predicted next UID", folder.uidnext),
        );
        let permanent = (!read_only).then(|| permanent_flags(&rights));
        line(out, &updates::permanent_flags_line(permanent, &keywords));
        line(out, &format!("* OK [HIGHESTMODSEQ {highest}] Highest"));
        // RFC 8474 §4.2.
        line(
            out,
            &format!("* OK [MAILBOXID ({})] Ok", objectid::mailbox_id(&folder)),
        );
        if let Some(q) = &params.qresync {
            self.qresync_select(q, &folder, &messages, backend, out);
        }
        self.state = State::Selected(Box::new(Selected {
            folder: folder.clone(),
            read_only,
            messages,
            highest_modseq: highest,
            pending_expunged: Default::default(),
            pending_flags: Default::default(),
            pending_added: false,
            saved: Vec::new(),
            keywords,
            permanent,
            contexts: Default::default(),
        }));
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::Watch(Some(folder.id)));
        let (mode, verb) = match (read_only, examine) {
            (true, true) => ("READ-ONLY", "EXAMINE"),
            (true, false) => ("READ-ONLY", "SELECT"),
            _ => ("READ-WRITE", "SELECT"),
        };
        Ok(Done::Ok(format!("[{mode}] {verb} completed")))
    }

    /// Selecting another mailbox first closes the current one, even if the new SELECT fails
    /// (RFC 9051 §6.3.2); QRESYNC/rev2 clients are told with [CLOSED].
    fn close_for_select(&mut self, out: &mut Out, actions: &mut Vec<Action>) {
        if matches!(self.state, State::Selected(_)) {
            self.state = State::Authenticated;
            actions.push(Action::Send(std::mem::take(out)));
            actions.push(Action::Watch(None));
            if self.qresync || self.rev2 {
                line(out, "* OK [CLOSED] Previous mailbox closed");
            }
        }
    }

    /// IMAP4rev2 (RFC 9051 §6.3.2): a LIST response with the mailbox's canonical name is
    /// required. IMAP4rev1: RECENT and the first unseen message instead.
    fn select_name_or_counts(&self, folder: &FolderInfo, messages: &[MsgView], out: &mut Out) {
        if self.rev2 {
            let mut l = String::from("* LIST (");
            if let Some(s) = &folder.special_use {
                l.push_str(s);
            }
            l.push_str(") \"/\" ");
            let mut n = Vec::new();
            response::mailbox(&mut n, &names::display_name(&self.me(), folder), self.utf8);
            l.push_str(&String::from_utf8_lossy(&n));
            line(out, &l);
        } else {
            let recent = messages.iter().filter(|m| m.recent).count();
            line(out, &format!("* {recent} RECENT"));
            // RFC 9586: no sequence numbers once UIDONLY is on.
            let first_unseen = messages.iter().position(|m| m.flags & 1 == 0);
            if let Some(i) = first_unseen.filter(|_| !self.uidonly) {
                line(out, &format!("* OK [UNSEEN {}] First unseen", i + 1));
            }
        }
    }

    /// RFC 7162 §3.2.5: after a QRESYNC SELECT, report what vanished and what changed since
    /// the client's modseq (if its UIDVALIDITY still holds).
    fn qresync_select(
        &self,
        q: &QresyncParams,
        folder: &FolderInfo,
        messages: &[MsgView],
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        if q.uidvalidity != folder.uidvalidity {
            return;
        }
        let known = |uid: u32| {
            q.known_uids
                .as_ref()
                .is_none_or(|s| s.contains(uid, folder.uidnext.saturating_sub(1)))
        };
        if let Ok(mut gone) = backend.expunged_since(folder.id, q.modseq) {
            gone.retain(|u| known(*u));
            if !gone.is_empty() {
                updates::vanished_line(out, true, &mut gone);
            }
        }
        for (i, m) in messages.iter().enumerate() {
            if m.modseq > q.modseq && known(m.uid) {
                let mut f = Vec::new();
                response::flags(&mut f, m.flags, &m.keywords, false);
                let mut l = uidonly::fetch_head(self.uidonly, i + 1, m.uid);
                if !self.uidonly {
                    l.push_str(&format!("UID {} ", m.uid));
                }
                let f = String::from_utf8_lossy(&f);
                line(out, &format!("{l}FLAGS {f} MODSEQ ({}))", m.modseq));
            }
        }
    }

    // --- CREATE / DELETE / RENAME / SUBSCRIBE ----------------------------------------------

    /// Whether the user may create `name` (owner relative) under `owner`.
    fn may_create(&self, backend: &dyn Backend, owner: &str, name: &str) -> Result<(), Done> {
        let me = self.me();
        if owner == me {
            return Ok(());
        }
        if owner == PUBLIC_OWNER && backend.is_admin(&me) {
            return Ok(());
        }
        // Someone else's (or a public) folder: needs 'k' on the parent (RFC 4314 §4).
        let parent = names::parent(name)
            .ok_or_else(|| Done::No("[NOPERM] Only the owner creates top-level folders".into()))?;
        let folder = backend
            .find_folder(owner, parent)
            .map_err(Done::from)?
            .ok_or_else(|| Done::No("[NOPERM] No such parent folder".into()))?;
        let rights = backend.rights(folder.id, &me).map_err(Done::from)?;
        if rights.contains('k') {
            Ok(())
        } else {
            Err(Done::No("[NOPERM] No right to create folders here".into()))
        }
    }

    fn create(
        &mut self,
        mailbox: &MailboxName,
        special_use: &[String],
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let me = self.me();
        let Resolved::Folder { owner, name } = names::resolve(&me, &mailbox.0) else {
            return Err(Done::No("[CANNOT] That name is a namespace".into()));
        };
        if name.is_empty() || name.split(SEPARATOR).any(|p| p.is_empty()) {
            return Err(Done::Bad("Invalid mailbox name".into()));
        }
        if name == "INBOX" {
            return Err(Done::No("[ALREADYEXISTS] INBOX always exists".into()));
        }
        if special_use.len() > 1 {
            return Err(Done::No(
                "[USEATTR] Only one special-use attribute per folder".into(),
            ));
        }
        let use_attr = match special_use.first() {
            None => None,
            Some(u) => {
                let known = [
                    "\\All",
                    "\\Archive",
                    "\\Drafts",
                    "\\Flagged",
                    "\\Junk",
                    "\\Sent",
                    "\\Trash",
                ];
                let canon = known
                    .iter()
                    .find(|k| k.eq_ignore_ascii_case(u))
                    .ok_or_else(|| {
                        Done::No(format!("[USEATTR] Unsupported special-use attribute {u}"))
                    })?;
                Some(*canon)
            }
        };
        self.may_create(backend, &owner, &name)?;
        if let Some(existing) = backend.find_folder(&owner, &name).map_err(Done::from)? {
            if !existing.noselect {
                return Err(Done::No("[ALREADYEXISTS] Mailbox already exists".into()));
            }
        }
        // The storage layer makes every new folder subscribed (right for the folders an
        // account starts with); CREATE does not subscribe (RFC 9051 §6.3.4 leaves that to
        // SUBSCRIBE, and clients that want it send one), so the folder and any parents it
        // made are unsubscribed again. A name already on the subscription list stays there.
        let mut made = Vec::new();
        let mut level = Some(name.as_str());
        while let Some(n) = level {
            if backend
                .find_folder(&owner, n)
                .map_err(Done::from)?
                .is_none()
            {
                made.push(n.to_string());
            }
            level = names::parent(n);
        }
        let id = backend
            .create_folder(&owner, &name, use_attr)
            .map_err(Done::from)?;
        for n in made {
            if let Some(f) = backend.find_folder(&owner, &n).map_err(Done::from)? {
                backend.set_subscribed(f.id, false).map_err(Done::from)?;
            }
        }
        // RFC 8474 §4.1: the new mailbox's MAILBOXID in the tagged OK.
        match backend.folder(id) {
            Ok(f) => Ok(Done::Ok(format!(
                "[MAILBOXID ({})] CREATE completed",
                objectid::mailbox_id(&f)
            ))),
            Err(_) => Ok(Done::Ok("CREATE completed".into())),
        }
    }

    fn delete(&mut self, mailbox: &MailboxName, backend: &dyn Backend) -> Result<Done, Done> {
        let (folder, rights) = self.open_folder(backend, &mailbox.0)?;
        if folder.name == "INBOX" {
            return Err(Done::No("[CANNOT] INBOX cannot be deleted".into()));
        }
        if !rights.contains('x') {
            return Err(Done::No("[NOPERM] No right to delete this mailbox".into()));
        }
        if let State::Selected(sel) = &self.state {
            if sel.folder.id == folder.id {
                return Err(Done::No(
                    "[INUSE] Mailbox is selected; CLOSE it first".into(),
                ));
            }
        }
        backend.delete_folder(folder.id).map_err(Done::from)?;
        Ok(Done::Ok("DELETE completed".into()))
    }

    fn rename(
        &mut self,
        from: &MailboxName,
        to: &MailboxName,
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let me = self.me();
        let (folder, rights) = self.open_folder(backend, &from.0)?;
        if !rights.contains('x') {
            return Err(Done::No("[NOPERM] No right to rename this mailbox".into()));
        }
        let Resolved::Folder { owner, name } = names::resolve(&me, &to.0) else {
            return Err(Done::No("[CANNOT] That name is a namespace".into()));
        };
        if owner != folder.owner {
            return Err(Done::No(
                "[CANNOT] Mailboxes cannot move between owners".into(),
            ));
        }
        if name.is_empty() || name.split(SEPARATOR).any(|p| p.is_empty()) {
            return Err(Done::Bad("Invalid mailbox name".into()));
        }
        if backend
            .find_folder(&owner, &name)
            .map_err(Done::from)?
            .is_some()
        {
            return Err(Done::No("[ALREADYEXISTS] Target mailbox exists".into()));
        }
        self.may_create(backend, &owner, &name)?;
        backend
            .rename_folder(folder.id, &name)
            .map_err(Done::from)?;
        Ok(Done::Ok("RENAME completed".into()))
    }

    /// SUBSCRIBE and UNSUBSCRIBE work on names (RFC 9051 §6.3.7–8): a name may be
    /// subscribed whether or not a mailbox has it, and stays subscribed when its mailbox
    /// goes.
    fn subscribe(
        &mut self,
        mailbox: &MailboxName,
        on: bool,
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let me = self.me();
        let name = names::normalise_inbox(mailbox.0.trim_end_matches(SEPARATOR));
        if name.is_empty() {
            return Err(Done::Bad("Invalid mailbox name".into()));
        }
        if !on {
            // The default folders carry their subscription as a flag of their own.
            if let Resolved::Folder { owner, name: inner } = names::resolve(&me, &name) {
                if owner == me {
                    if let Some(f) = backend.find_folder(&me, &inner).map_err(Done::from)? {
                        backend.set_subscribed(f.id, false).map_err(Done::from)?;
                    }
                }
            }
        }
        match backend.set_subscription(&me, &name, on) {
            Ok(()) => {}
            // Nothing to remove is not an error for UNSUBSCRIBE.
            Err(BackendError::NotFound(_)) if !on => {}
            Err(e) => return Err(Done::from(e)),
        }
        Ok(Done::Ok(format!(
            "{} completed",
            if on { "SUBSCRIBE" } else { "UNSUBSCRIBE" }
        )))
    }

    // --- LIST / LSUB / STATUS ------------------------------------------------------------

    /// Every name the user can see: (display name, folder or None for namespace levels).
    fn visible(&self, backend: &dyn Backend) -> Result<Vec<(String, Option<FolderInfo>)>, Done> {
        let me = self.me();
        let mut all: Vec<(String, Option<FolderInfo>)> = Vec::new();
        for f in backend.folders(&me).map_err(Done::from)? {
            all.push((f.name.clone(), Some(f)));
        }
        let shared = backend.shared_folders(&me).map_err(Done::from)?;
        let mut owners: Vec<String> = Vec::new();
        let mut public = false;
        for f in shared {
            if f.owner == PUBLIC_OWNER {
                public = true;
            } else if !owners.contains(&f.owner) {
                owners.push(f.owner.clone());
            }
            all.push((names::display_name(&me, &f), Some(f)));
        }
        if !owners.is_empty() {
            all.push((OTHER_USERS.to_string(), None));
            for o in owners {
                all.push((format!("{OTHER_USERS}/{o}"), None));
            }
        }
        if public || backend.is_admin(&me) {
            all.push((PUBLIC.to_string(), None));
        }
        // Parents that are not visible themselves still appear as \Noselect levels.
        let names: Vec<String> = all.iter().map(|(n, _)| n.clone()).collect();
        for n in &names {
            let mut p = names::parent(n);
            while let Some(parent) = p {
                if !all.iter().any(|(x, _)| x == parent) {
                    all.push((parent.to_string(), None));
                }
                p = names::parent(parent);
            }
        }
        all.sort_by(|a, b| (a.0 != "INBOX", a.0.as_str()).cmp(&(b.0 != "INBOX", b.0.as_str())));
        Ok(all)
    }

    fn list(
        &mut self,
        cmd: &ListCommand,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let verb = if cmd.lsub { "LSUB" } else { "LIST" };
        // `LIST "" ""`: the hierarchy delimiter and root (RFC 9051 §6.3.9).
        if cmd.patterns.len() == 1 && cmd.patterns[0].is_empty() && !cmd.lsub {
            line(out, "* LIST (\\Noselect) \"/\" \"\"");
            return Ok(Done::Ok("LIST completed".into()));
        }
        let visible = self.visible(backend)?;
        let patterns = list_patterns(cmd);
        let matches_any = |name: &str| patterns.iter().any(|p| names::matches(p, name));
        let subscribed_only = cmd.lsub || cmd.select.subscribed;
        let show_subscribed = subscribed_only || cmd.ret.subscribed;
        let me = self.me();
        let list = if show_subscribed {
            backend.subscription_list(&me).map_err(Done::from)?
        } else {
            Vec::new()
        };
        // A folder's own flag is its owner's subscription, not anyone else's.
        let is_subscribed = |name: &str, folder: &Option<FolderInfo>| {
            list.iter().any(|n| n == name)
                || folder
                    .as_ref()
                    .is_some_and(|f| f.subscribed && f.owner == me)
        };
        let subscribed_names: Vec<&str> = list
            .iter()
            .map(String::as_str)
            .chain(
                visible
                    .iter()
                    .filter(|(n, f)| is_subscribed(n, f))
                    .map(|(n, _)| n.as_str()),
            )
            .collect();
        // RFC 5258 §3.5 (CHILDINFO) and RFC 3501 §6.3.9 (LSUB "%"): a name is returned for
        // a subscribed descendant only when the patterns do not return that descendant.
        let hidden_subscribed_child = |name: &str| {
            subscribed_names
                .iter()
                .any(|s| is_descendant(s, name) && !matches_any(s))
        };
        for (name, folder) in &visible {
            if !matches_any(name) {
                continue;
            }
            let subscribed = is_subscribed(name, folder);
            let child_info = cmd.select.recursive_match
                && cmd.select.subscribed
                && !cmd.lsub
                && !subscribed
                && hidden_subscribed_child(name);
            let lsub_parent = cmd.lsub && !subscribed && hidden_subscribed_child(name);
            if subscribed_only && !subscribed && !child_info && !lsub_parent {
                continue;
            }
            let entry = ListEntry {
                folder: folder.as_ref(),
                lsub_parent,
                child_info,
                show_subscribed: show_subscribed && subscribed,
                has_children: visible.iter().any(|(n, _)| is_descendant(n, name)),
            };
            if cmd.select.special_use && entry.special_use().is_none() {
                continue;
            }
            self.list_line(cmd, name, &entry, backend, out);
        }
        if subscribed_only {
            self.list_without_mailbox(
                cmd,
                &visible,
                &list,
                &matches_any,
                &hidden_subscribed_child,
                out,
            );
        }
        Ok(Done::Ok(format!("{verb} completed")))
    }

    /// One LIST/LSUB response line, and the STATUS (RFC 5819) and MYRIGHTS (RFC 8440)
    /// lines LIST-EXTENDED's RETURN options ask for after it.
    fn list_line(
        &self,
        cmd: &ListCommand,
        name: &str,
        entry: &ListEntry<'_>,
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        let verb = if cmd.lsub { "LSUB" } else { "LIST" };
        let attrs = entry.attributes(cmd.lsub);
        let mut l = format!("* {verb} ({}) \"/\" ", attrs.join(" "));
        let mut n = Vec::new();
        response::mailbox(&mut n, name, self.utf8);
        l.push_str(&String::from_utf8_lossy(&n));
        if entry.child_info {
            l.push_str(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        line(out, &l);
        let Some(f) = entry.folder else {
            return;
        };
        if let Some(items) = &cmd.ret.status {
            if !f.noselect
                && backend
                    .rights(f.id, &self.me())
                    .is_ok_and(|r| r.contains('r'))
            {
                self.status_line(name, f, items, out);
            }
        }
        // RFC 8440 §3: after the LIST line, only for a mailbox that itself matched.
        if cmd.ret.myrights && !entry.child_info {
            if let Ok(rights) = backend.rights(f.id, &self.me()) {
                line(
                    out,
                    &format!("* MYRIGHTS {} {rights}", String::from_utf8_lossy(&n)),
                );
            }
        }
    }

    /// The part of LIST (SUBSCRIBED) / LSUB about names no mailbox has: subscribed ones
    /// (RFC 5258 §3.1: `\NonExistent`; LSUB: `\Noselect`), and their unsubscribed parents
    /// that stand for a subscribed descendant the patterns do not return (LSUB
    /// `\Noselect`; RECURSIVEMATCH: CHILDINFO).
    fn list_without_mailbox(
        &self,
        cmd: &ListCommand,
        visible: &[(String, Option<FolderInfo>)],
        list: &[String],
        matches_any: &dyn Fn(&str) -> bool,
        hidden_subscribed_child: &dyn Fn(&str) -> bool,
        out: &mut Out,
    ) {
        let verb = if cmd.lsub { "LSUB" } else { "LIST" };
        let mut names: Vec<&str> = Vec::new();
        for name in list {
            let mut n = Some(name.as_str());
            while let Some(x) = n {
                if !names.contains(&x) && !visible.iter().any(|(v, _)| v == x) {
                    names.push(x);
                }
                n = names::parent(x);
            }
        }
        names.sort_unstable();
        for name in names {
            if !matches_any(name) {
                continue;
            }
            let (attrs, child_info) = if list.iter().any(|n| n == name) {
                let attrs = if cmd.lsub {
                    "\\Noselect"
                } else {
                    "\\NonExistent \\Subscribed"
                };
                (attrs, false)
            } else if !hidden_subscribed_child(name) {
                continue;
            } else if cmd.lsub {
                ("\\Noselect", false)
            } else if cmd.select.recursive_match {
                ("\\NonExistent", true)
            } else {
                continue;
            };
            let mut n = Vec::new();
            response::mailbox(&mut n, name, self.utf8);
            let mut l = format!("* {verb} ({attrs}) \"/\" {}", String::from_utf8_lossy(&n));
            if child_info {
                l.push_str(" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
            }
            line(out, &l);
        }
    }

    fn status(
        &mut self,
        mailbox: &MailboxName,
        items: &[StatusItem],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let (folder, rights) = self.open_folder(backend, &mailbox.0)?;
        if !rights.contains('r') {
            return Err(Done::No("[NOPERM] No read access".into()));
        }
        if folder.noselect {
            return Err(Done::No("[CANNOT] Mailbox cannot be selected".into()));
        }
        // RFC 9051 §6.3.11: STATUS on the selected mailbox is allowed; report fresh counts.
        self.status_line(&mailbox.0, &folder, items, out);
        Ok(Done::Ok("STATUS completed".into()))
    }

    pub(super) fn status_line(
        &self,
        name: &str,
        f: &FolderInfo,
        items: &[StatusItem],
        out: &mut Out,
    ) {
        let mut parts = Vec::new();
        for item in items {
            parts.push(match item {
                StatusItem::Messages => format!("MESSAGES {}", f.exists),
                StatusItem::Recent => format!("RECENT {}", f.recent),
                StatusItem::UidNext => format!("UIDNEXT {}", f.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", f.uidvalidity),
                StatusItem::Unseen => format!("UNSEEN {}", f.unseen),
                StatusItem::Deleted => format!("DELETED {}", f.deleted),
                StatusItem::Size => format!("SIZE {}", f.size),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", f.highest_modseq),
                StatusItem::AppendLimit => format!("APPENDLIMIT {}", self.config.append_limit),
                StatusItem::MailboxId => format!("MAILBOXID ({})", objectid::mailbox_id(f)),
            });
        }
        let mut n = Vec::new();
        response::mailbox(&mut n, name, self.utf8);
        line(
            out,
            &format!(
                "* STATUS {} ({})",
                String::from_utf8_lossy(&n),
                parts.join(" ")
            ),
        );
    }

    // --- ACL (RFC 4314) --------------------------------------------------------------------

    fn admin_rights(&self, backend: &dyn Backend, mailbox: &str) -> Result<FolderInfo, Done> {
        let (folder, rights) = self.open_folder(backend, mailbox)?;
        if rights.contains('a') || backend.is_admin(&self.me()) {
            Ok(folder)
        } else {
            Err(Done::No(
                "[NOPERM] You may not administer this mailbox".into(),
            ))
        }
    }

    fn set_acl(
        &mut self,
        mailbox: &MailboxName,
        id: &str,
        mode: StoreMode,
        rights: &str,
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let folder = self.admin_rights(backend, &mailbox.0)?;
        let id = id.to_ascii_lowercase();
        if id != "anyone" && !backend.account_exists(&id) {
            return Err(Done::No(format!("[CANNOT] No such identifier {id}")));
        }
        if id == folder.owner {
            return Err(Done::No(
                "[CANNOT] The owner always holds every right".into(),
            ));
        }
        let expanded = expand_rights(rights)
            .map_err(|c| Done::Bad(format!("Unknown right '{c}' (rights are {ALL_RIGHTS})")))?;
        let current: String = backend
            .acl(folder.id)
            .map_err(Done::from)?
            .into_iter()
            .find(|(i, _)| *i == id)
            .map(|(_, r)| r)
            .unwrap_or_default();
        let new: String = ALL_RIGHTS
            .chars()
            .filter(|c| match mode {
                StoreMode::Replace => expanded.contains(*c),
                StoreMode::Add => expanded.contains(*c) || current.contains(*c),
                StoreMode::Remove => current.contains(*c) && !expanded.contains(*c),
            })
            .collect();
        if new.is_empty() {
            backend.delete_acl(folder.id, &id).map_err(Done::from)?;
        } else {
            backend.set_acl(folder.id, &id, &new).map_err(Done::from)?;
        }
        Ok(Done::Ok("SETACL completed".into()))
    }

    fn delete_acl(
        &mut self,
        mailbox: &MailboxName,
        id: &str,
        backend: &dyn Backend,
    ) -> Result<Done, Done> {
        let folder = self.admin_rights(backend, &mailbox.0)?;
        backend
            .delete_acl(folder.id, &id.to_ascii_lowercase())
            .map_err(Done::from)?;
        Ok(Done::Ok("DELETEACL completed".into()))
    }

    fn get_acl(
        &mut self,
        mailbox: &MailboxName,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let folder = self.admin_rights(backend, &mailbox.0)?;
        let mut l = String::from("* ACL ");
        let mut n = Vec::new();
        response::mailbox(&mut n, &mailbox.0, self.utf8);
        l.push_str(&String::from_utf8_lossy(&n));
        if folder.owner != PUBLIC_OWNER {
            l.push_str(&format!(" {} {ALL_RIGHTS}", quote(&folder.owner)));
        }
        for (id, rights) in backend.acl(folder.id).map_err(Done::from)? {
            l.push_str(&format!(" {} {rights}", quote(&id)));
        }
        line(out, &l);
        Ok(Done::Ok("GETACL completed".into()))
    }

    fn list_rights(
        &mut self,
        mailbox: &MailboxName,
        id: &str,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let folder = self.admin_rights(backend, &mailbox.0)?;
        let mut n = Vec::new();
        response::mailbox(&mut n, &mailbox.0, self.utf8);
        let (required, optional) = if id.eq_ignore_ascii_case(&folder.owner) {
            (ALL_RIGHTS.to_string(), String::new())
        } else {
            (
                String::new(),
                ALL_RIGHTS
                    .chars()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        };
        line(
            out,
            format!(
                "* LISTRIGHTS {} {} {} {}",
                String::from_utf8_lossy(&n),
                quote(id),
                if required.is_empty() {
                    "\"\"".to_string()
                } else {
                    required
                },
                optional
            )
            .trim_end(),
        );
        Ok(Done::Ok("LISTRIGHTS completed".into()))
    }

    fn my_rights(
        &mut self,
        mailbox: &MailboxName,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let (_, rights) = self.open_folder(backend, &mailbox.0)?;
        let mut n = Vec::new();
        response::mailbox(&mut n, &mailbox.0, self.utf8);
        line(
            out,
            &format!("* MYRIGHTS {} {rights}", String::from_utf8_lossy(&n)),
        );
        Ok(Done::Ok("MYRIGHTS completed".into()))
    }

    // --- QUOTA (RFC 9208): one quota root per account, named by the account --------------

    fn quota_line(
        &self,
        root: &str,
        account: &str,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<bool, Done> {
        let q = backend.quota(account).map_err(Done::from)?;
        let mut parts = Vec::new();
        if let Some(limit) = q.storage_limit {
            parts.push(format!(
                "STORAGE {} {}",
                q.storage_used.div_ceil(1024),
                limit / 1024
            ));
        }
        if let Some(limit) = q.messages_limit {
            parts.push(format!("MESSAGE {} {}", q.messages_used, limit));
        }
        // RFC 9208 §5.1: a QUOTA response lists at least one resource; an account without
        // limits has no quota root at all.
        if parts.is_empty() {
            return Ok(false);
        }
        line(
            out,
            &format!("* QUOTA {} ({})", quote(root), parts.join(" ")),
        );
        Ok(true)
    }

    /// The account a quota root names: "" is the user's own.
    fn quota_account(&self, root: &str, backend: &dyn Backend) -> Result<String, Done> {
        let me = self.me();
        let account = if root.is_empty() {
            me.clone()
        } else {
            root.to_ascii_lowercase()
        };
        if account != me && !backend.is_admin(&me) {
            return Err(Done::No("[NOPERM] Not your quota root".into()));
        }
        if !backend.account_exists(&account) {
            return Err(Done::No(format!("[NONEXISTENT] No quota root {root}")));
        }
        Ok(account)
    }

    fn get_quota(
        &mut self,
        root: &str,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let account = self.quota_account(root, backend)?;
        if !self.quota_line(root, &account, backend, out)? {
            return Err(Done::No(format!("[NONEXISTENT] No quota root {root:?}")));
        }
        Ok(Done::Ok("GETQUOTA completed".into()))
    }

    fn get_quota_root(
        &mut self,
        mailbox: &MailboxName,
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        let (folder, _) = self.open_folder(backend, &mailbox.0)?;
        let mut n = Vec::new();
        response::mailbox(&mut n, &mailbox.0, self.utf8);
        let n = String::from_utf8_lossy(&n).into_owned();
        if folder.owner == PUBLIC_OWNER {
            line(out, &format!("* QUOTAROOT {n}"));
            return Ok(Done::Ok("GETQUOTAROOT completed".into()));
        }
        let root = if folder.owner == self.me() {
            String::new()
        } else {
            folder.owner.clone()
        };
        let mut quota = Vec::new();
        let has_limits = self.quota_line(&root, &folder.owner, backend, &mut quota)?;
        if !has_limits {
            line(out, &format!("* QUOTAROOT {n}"));
            return Ok(Done::Ok("GETQUOTAROOT completed".into()));
        }
        line(out, &format!("* QUOTAROOT {n} {}", quote(&root)));
        if root.is_empty() || backend.is_admin(&self.me()) {
            out.extend_from_slice(&quota);
        }
        Ok(Done::Ok("GETQUOTAROOT completed".into()))
    }

    fn set_quota(
        &mut self,
        root: &str,
        limits: &[(String, u64)],
        backend: &dyn Backend,
        out: &mut Out,
    ) -> Result<Done, Done> {
        if !backend.is_admin(&self.me()) {
            return Err(Done::No("[NOPERM] Only administrators set quotas".into()));
        }
        let account = self.quota_account(root, backend)?;
        let (mut storage, mut messages) = (None, None);
        for (res, limit) in limits {
            match res.to_ascii_uppercase().as_str() {
                "STORAGE" => storage = Some(limit.saturating_mul(1024)),
                "MESSAGE" => messages = Some(*limit),
                other => return Err(Done::No(format!("[CANNOT] Unsupported resource {other}"))),
            }
        }
        backend
            .set_quota(&account, storage, messages)
            .map_err(Done::from)?;
        self.quota_line(root, &account, backend, out)?;
        Ok(Done::Ok("SETQUOTA completed".into()))
    }
}

/// A quoted string for identifiers in ACL and QUOTA responses.
fn quote(s: &str) -> String {
    let mut v = Vec::new();
    response::astring(&mut v, s.as_bytes());
    String::from_utf8_lossy(&v).into_owned()
}

/// Rights letters, with RFC 4314 §2.1.1's obsolete 'c' (→ k x) and 'd' (→ x t e), checked.
pub fn expand_rights(rights: &str) -> Result<String, char> {
    let mut out = String::new();
    for c in rights.chars() {
        match c {
            'c' => out.push_str("kx"),
            'd' => out.push_str("xte"),
            c if ALL_RIGHTS.contains(c) => out.push(c),
            c => return Err(c),
        }
    }
    Ok(out)
}

/// Client flags → (system bits, keywords). \Recent cannot be set and is dropped.
pub(super) fn flags_to_bits(flags: &[Flag]) -> (u8, Vec<String>) {
    let mut bits = 0u8;
    let mut keywords = Vec::new();
    for f in flags {
        match f {
            Flag::Seen => bits |= 1,
            Flag::Answered => bits |= 2,
            Flag::Flagged => bits |= 4,
            Flag::Deleted => bits |= 8,
            Flag::Draft => bits |= 16,
            Flag::Recent | Flag::Extension(_) => {}
            Flag::Keyword(k) => {
                if !keywords.contains(k) {
                    keywords.push(k.clone());
                }
            }
        }
    }
    (bits, keywords)
}

/// Whether `name` lies below `parent` in the hierarchy.
fn is_descendant(name: &str, parent: &str) -> bool {
    name.len() > parent.len()
        && name.starts_with(parent)
        && name[parent.len()..].starts_with(SEPARATOR)
}

/// The first UID that counts as `\Recent` in a new selection. SELECT claims the folder's
/// recent messages; RFC 3501 §6.3.2: EXAMINE leaves \Recent unclaimed but still reports it:
/// the folder's last `recent` messages are the ones the next SELECT will claim.
fn first_recent(
    folder: &FolderInfo,
    metas: &[MessageMeta],
    read_only: bool,
    backend: &dyn Backend,
) -> u32 {
    if read_only {
        folder
            .recent
            .checked_sub(1)
            .and_then(|back| metas.len().checked_sub(1 + back as usize))
            .and_then(|i| metas.get(i))
            .map_or(u32::MAX, |m| m.uid)
    } else {
        backend.claim_recent(folder.id).unwrap_or(u32::MAX)
    }
}

/// The selection's view of each message, and the highest modseq among them and `highest`.
fn message_views(metas: Vec<MessageMeta>, first_recent: u32, highest: u64) -> (Vec<MsgView>, u64) {
    let mut highest = highest;
    // Built into a fresh, exact allocation: collecting in place would keep the larger
    // index entries' buffer (more than twice the size) for the whole selection.
    let mut messages: Vec<MsgView> = Vec::with_capacity(metas.len());
    messages.extend(metas.into_iter().map(|m| {
        highest = highest.max(m.modseq);
        MsgView {
            uid: m.uid,
            flags: m.flags,
            keywords: m.keywords.into(),
            modseq: m.modseq,
            recent: m.uid >= first_recent,
        }
    }));
    (messages, highest)
}

/// RFC 4314 §4: PERMANENTFLAGS lists only what this user's rights let them change: \Seen
/// needs 's', \Deleted 't', the rest and new keywords 'w'. The flag bits, and whether new
/// keywords may be made.
fn permanent_flags(rights: &str) -> (u8, bool) {
    let has = |r: char| rights.contains(r);
    let mut bits = 0;
    if has('s') {
        bits |= 1;
    }
    if has('w') {
        bits |= 2 | 4 | 16;
    }
    if has('t') {
        bits |= 8;
    }
    (bits, has('w'))
}

/// LIST's patterns, each joined to the reference name, INBOX in any case as INBOX.
fn list_patterns(cmd: &ListCommand) -> Vec<String> {
    cmd.patterns
        .iter()
        .map(|p| {
            let full = names::join_reference(&cmd.reference, p);
            // INBOX is case-insensitive in patterns too.
            names::normalise_inbox(&full)
        })
        .collect()
}

/// A name LIST/LSUB returns, with what its attributes depend on.
struct ListEntry<'a> {
    /// `None`: a name with no mailbox (a parent in the hierarchy).
    folder: Option<&'a FolderInfo>,
    /// Returned by LSUB only for a subscribed descendant the patterns do not return.
    lsub_parent: bool,
    /// Returned only for such a descendant, with CHILDINFO (RFC 5258 §3.5).
    child_info: bool,
    /// Subscribed, and the command shows subscriptions.
    show_subscribed: bool,
    has_children: bool,
}

impl ListEntry<'_> {
    /// RFC 6154 special-use attribute.
    fn special_use(&self) -> Option<&String> {
        self.folder.and_then(|f| f.special_use.as_ref())
    }

    /// The name attributes (RFC 9051 §7.3.1, RFC 5258, RFC 6154); LSUB shows no children.
    fn attributes(&self, lsub: bool) -> Vec<String> {
        let mut attrs: Vec<String> = Vec::new();
        match self.folder {
            _ if self.lsub_parent => attrs.push("\\Noselect".into()),
            None => attrs.push("\\Noselect".into()),
            Some(f) if f.noselect => attrs.push("\\Noselect".into()),
            _ => {}
        }
        if !lsub {
            attrs.push(
                if self.has_children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                }
                .into(),
            );
        }
        if self.show_subscribed && !lsub {
            attrs.push("\\Subscribed".into());
        }
        if let Some(s) = self.special_use().filter(|_| !self.lsub_parent) {
            attrs.push(s.clone());
        }
        attrs
    }
}
