//! NOTIFY (RFC 5465): which changes a client hears of without asking, for which mailboxes.
//!
//! - `NOTIFY SET [STATUS] groups` replaces the session's set; `NOTIFY NONE` clears it. Each
//!   group is a mailbox filter (SELECTED, SELECTED-DELAYED, INBOXES, PERSONAL, SUBSCRIBED,
//!   SUBTREE, MAILBOXES) and its events; for any mailbox the *first* group whose filter
//!   names it decides, which is what makes `(selected NONE)` before a broad group useful.
//! - Message events of other mailboxes become `* STATUS` responses (MessageNew: MESSAGES
//!   UIDNEXT UIDVALIDITY; MessageExpunge: MESSAGES; FlagChange: UIDVALIDITY HIGHESTMODSEQ,
//!   the same items the initial `SET STATUS` responses carry). Mailbox events become
//!   `* LIST` (MailboxName: created, `\NonExistent` for deleted, `OLDNAME` for renamed;
//!   SubscriptionChange: with or without `\Subscribed`) and `* METADATA mailbox entries`
//!   (RFC 5464 §4.4.2) for MailboxMetadataChange and ServerMetadataChange.
//! - The selected mailbox's changes are reported at once, not only at the next command:
//!   with SELECTED including expunges, with SELECTED-DELAYED without them (they wait for a
//!   command that allows EXPUNGE, RFC 5465 §6). MessageNew's fetch attributes are answered
//!   with a `UID FETCH` of the new messages right after EXISTS.
//!
//! Implementation notes:
//! - Events arrive from the shell (the account-event broadcast of the actor layer) between
//!   commands, so they are written immediately: no command is in progress then.
//! - The shell's queue of events is bounded; when it overflows, the shell calls
//!   [`Session::notify_overflow`], which sends `[NOTIFICATIONOVERFLOW]` and turns NOTIFY off
//!   as though NOTIFY NONE had been given (RFC 5465 §5.8).
//! - AnnotationChange needs per-message annotations (RFC 5257), which this server does not
//!   keep: asking for it, or for an event this server does not know, is answered with
//!   `NO [BADEVENT (the events we support)]` (RFC 5465 §3.1). The rules on combinations
//!   (MessageNew only with MessageExpunge and the reverse, FlagChange only with both,
//!   fetch attributes and mailbox events only where they make sense) are answered with BAD.
//! - Mailboxes deleted by another owner are not reported (their rights went with them);
//!   mailboxes created or renamed there are, when the user holds a right on them.

use super::backend::{Backend, FolderInfo, FolderRef, PUBLIC_OWNER};
use super::names::{self, Resolved, SEPARATOR};
use super::response;
use super::session::{line, Action, Done, Out, Session, State};
use super::types::{
    EventGroup, FetchAttr, FetchModifiers, MailboxFilter, NotifyEvent, NotifySet, SeqNum, SeqRange,
    SequenceSet, StatusItem,
};

/// The events this server reports, as `[BADEVENT]` lists them.
pub const SUPPORTED_EVENTS: &str = "MessageNew MessageExpunge FlagChange MailboxName \
     SubscriptionChange MailboxMetadataChange ServerMetadataChange";

/// What happened to a message of some folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    New,
    Expunge,
    Flags,
}

/// A change anywhere in an account that a NOTIFY session may have to report. Owners and
/// names are as storage keeps them (owner "" for public folders, names relative to it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountEvent {
    Message {
        folder: FolderRef,
        kind: MessageKind,
    },
    Created {
        owner: String,
        name: String,
    },
    Deleted {
        owner: String,
        name: String,
    },
    Renamed {
        owner: String,
        from: String,
        to: String,
    },
    /// `user` (un)subscribed the name `name`, as that user sees it.
    Subscription {
        user: String,
        name: String,
        on: bool,
    },
    /// Entries of a mailbox (`Some((owner, name))`) or of the server changed; `private_to`
    /// names the only user who may hear of `/private` entries.
    Metadata {
        mailbox: Option<(String, String)>,
        entries: Vec<String>,
        private_to: Option<String>,
    },
}

impl Session {
    /// NOTIFY (RFC 5465 §3.1), in the authenticated and selected states.
    pub(super) fn notify_command(
        &mut self,
        set: Option<NotifySet>,
        backend: &dyn Backend,
        out: &mut Out,
        actions: &mut Vec<Action>,
    ) -> Done {
        let Some(set) = set else {
            self.notify = None;
            return Done::Ok("NOTIFY completed".into());
        };
        if let Err(done) = check_groups(&set.groups) {
            return done;
        }
        let owners = self.owners_to_watch(&set, backend);
        let status = set.status;
        self.notify = Some(set);
        actions.push(Action::Send(std::mem::take(out)));
        actions.push(Action::WatchAccounts(owners));
        if status {
            self.initial_status(backend, out);
        }
        Done::Ok("NOTIFY completed".into())
    }

    /// `SET STATUS`: one STATUS for each mailbox with message events, but the selected one.
    fn initial_status(&self, backend: &dyn Backend, out: &mut Out) {
        let me = self.me();
        let mut all = backend.folders(&me).unwrap_or_default();
        all.extend(backend.shared_folders(&me).unwrap_or_default());
        for f in all {
            if f.noselect || self.is_selected(f.id) {
                continue;
            }
            let name = names::display_name(&me, &f);
            if let Some(g) = self.group_for(&f.owner, &f.name, &name, backend) {
                let items = status_items(&g.events, None);
                if !items.is_empty() {
                    self.status_line(&name, &f, &items, out);
                }
            }
        }
    }

    /// A change elsewhere in an account; what the client must hear of it, now.
    pub fn account_event(&mut self, event: AccountEvent, backend: &dyn Backend) -> Vec<Action> {
        if self.notify.is_none() || !self.is_authenticated() {
            return Vec::new();
        }
        let mut out = Vec::new();
        let me = self.me();
        match event {
            AccountEvent::Message { folder, kind } => {
                self.message_event(folder, kind, backend, &mut out)
            }
            AccountEvent::Created { owner, name } => {
                if self.may_see(&owner, &name, backend) {
                    self.list_event(
                        &owner,
                        &name,
                        "",
                        None,
                        NotifyEvent::MailboxName,
                        backend,
                        &mut out,
                    );
                }
            }
            AccountEvent::Deleted { owner, name } => {
                if owner == me {
                    self.list_event(
                        &owner,
                        &name,
                        "\\NonExistent",
                        None,
                        NotifyEvent::MailboxName,
                        backend,
                        &mut out,
                    );
                }
            }
            AccountEvent::Renamed { owner, from, to } => {
                if self.may_see(&owner, &to, backend) {
                    let old = display(&me, &owner, &from);
                    self.list_event(
                        &owner,
                        &to,
                        "",
                        Some(&old),
                        NotifyEvent::MailboxName,
                        backend,
                        &mut out,
                    );
                }
            }
            AccountEvent::Subscription { user, name, on } => {
                if user == me {
                    if let Resolved::Folder { owner, name: inner } = names::resolve(&me, &name) {
                        let attrs = if on { "\\Subscribed" } else { "" };
                        self.list_event(
                            &owner,
                            &inner,
                            attrs,
                            None,
                            NotifyEvent::SubscriptionChange,
                            backend,
                            &mut out,
                        );
                    }
                }
            }
            AccountEvent::Metadata {
                mailbox,
                entries,
                private_to,
            } => {
                let entries: Vec<String> = entries
                    .into_iter()
                    .filter(|e| !e.starts_with("/private") || private_to.as_deref() == Some(&me))
                    .collect();
                if !entries.is_empty() {
                    self.metadata_event(mailbox, &entries, backend, &mut out);
                }
            }
        }
        if out.is_empty() {
            Vec::new()
        } else {
            vec![Action::Send(out)]
        }
    }

    fn message_event(
        &self,
        folder: FolderRef,
        kind: MessageKind,
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        // The selected mailbox's changes come through `folder_changed`.
        if self.is_selected(folder) {
            return;
        }
        let Ok(f) = backend.folder(folder) else {
            return;
        };
        let me = self.me();
        if f.owner != me && !backend.rights(f.id, &me).is_ok_and(|r| r.contains('r')) {
            return;
        }
        let name = names::display_name(&me, &f);
        if let Some(g) = self.group_for(&f.owner, &f.name, &name, backend) {
            let items = status_items(&g.events, Some(kind));
            if !items.is_empty() {
                self.status_line(&name, &f, &items, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn list_event(
        &self,
        owner: &str,
        name: &str,
        attrs: &str,
        old: Option<&str>,
        wanted: NotifyEvent,
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        let shown = display(&self.me(), owner, name);
        let groups = self.group_for(owner, name, &shown, backend).into_iter();
        // A rename is news for a client that watched either name.
        let groups = groups.chain(old.and_then(|o| {
            let Resolved::Folder { owner, name } = names::resolve(&self.me(), o) else {
                return None;
            };
            self.group_for(&owner, &name, o, backend)
        }));
        if !groups.into_iter().any(|g| g.events.contains(&wanted)) {
            return;
        }
        let mut l = format!("* LIST ({attrs}) \"/\" ");
        let mut n = Vec::new();
        response::mailbox(&mut n, &shown, self.utf8);
        l.push_str(&String::from_utf8_lossy(&n));
        if let Some(o) = old {
            // RFC 5465 §5.4 with RFC 5258's OLDNAME extended data item.
            let mut n = Vec::new();
            response::mailbox(&mut n, o, self.utf8);
            l.push_str(&format!(" (\"OLDNAME\" ({}))", String::from_utf8_lossy(&n)));
        }
        line(out, &l);
    }

    fn metadata_event(
        &self,
        mailbox: Option<(String, String)>,
        entries: &[String],
        backend: &dyn Backend,
        out: &mut Out,
    ) {
        let shown = match &mailbox {
            None => {
                let any = self.notify.iter().flat_map(|s| &s.groups);
                if !any
                    .flat_map(|g| &g.events)
                    .any(|e| *e == NotifyEvent::ServerMetadataChange)
                {
                    return;
                }
                String::new()
            }
            Some((owner, name)) => {
                let shown = display(&self.me(), owner, name);
                let wanted = self
                    .group_for(owner, name, &shown, backend)
                    .is_some_and(|g| g.events.contains(&NotifyEvent::MailboxMetadataChange));
                if !wanted || !self.may_see(owner, name, backend) {
                    return;
                }
                shown
            }
        };
        let mut n = Vec::new();
        response::mailbox(&mut n, &shown, self.utf8);
        let mut l = format!("* METADATA {}", String::from_utf8_lossy(&n));
        for e in entries {
            let mut q = Vec::new();
            response::astring(&mut q, e.as_bytes());
            l.push(' ');
            l.push_str(&String::from_utf8_lossy(&q));
        }
        line(out, &l);
    }

    /// The shell's event queue overflowed: some events are lost, so the client must
    /// resynchronise; NOTIFY is off from here (RFC 5465 §5.8).
    pub fn notify_overflow(&mut self) -> Vec<Action> {
        if self.notify.take().is_none() {
            return Vec::new();
        }
        vec![Action::Send(
            b"* OK [NOTIFICATIONOVERFLOW] Too many notifications; NOTIFY is now off\r\n".to_vec(),
        )]
    }

    /// Under NOTIFY, the selected mailbox's changes go out at once when a group covers it
    /// with message events: the pending updates, and a FETCH of new messages when
    /// MessageNew asked for attributes.
    pub(super) fn notify_selected_now(&mut self, backend: &dyn Backend, out: &mut Out) {
        let Some((expunge_ok, attrs)) = self.selected_events(backend) else {
            return;
        };
        let before = match &self.state {
            State::Selected(sel) => sel.max_uid(),
            _ => return,
        };
        self.flush_updates(backend, out, expunge_ok);
        let after = match &self.state {
            State::Selected(sel) => sel.max_uid(),
            _ => return,
        };
        if after > before && !attrs.is_empty() {
            let set = SequenceSet::Ranges(vec![SeqRange::Range(
                SeqNum::Value(before + 1),
                SeqNum::Value(after),
            )]);
            // A failed FETCH is no reason to fail anything else; the client has EXISTS.
            let _ = self.fetch(
                true,
                &set,
                &attrs,
                &FetchModifiers::default(),
                backend,
                out,
                None,
            );
        }
    }

    /// For the selected mailbox: whether expunges may go out now, and MessageNew's fetch
    /// attributes; `None` when no group asks for its message events.
    fn selected_events(&self, backend: &dyn Backend) -> Option<(bool, Vec<FetchAttr>)> {
        let State::Selected(sel) = &self.state else {
            return None;
        };
        let set = self.notify.as_ref()?;
        let f = &sel.folder;
        let name = names::display_name(&self.me(), f);
        let group = set
            .groups
            .iter()
            .find(|g| {
                matches!(
                    g.filter,
                    MailboxFilter::Selected | MailboxFilter::SelectedDelayed
                )
            })
            .or_else(|| self.group_for(&f.owner, &f.name, &name, backend))?;
        let mut attrs = Vec::new();
        let mut any = false;
        for e in &group.events {
            match e {
                NotifyEvent::MessageNew(a) => {
                    any = true;
                    attrs = a.clone();
                }
                NotifyEvent::MessageExpunge | NotifyEvent::FlagChange => any = true,
                _ => {}
            }
        }
        any.then_some((group.filter != MailboxFilter::SelectedDelayed, attrs))
    }

    /// Whose account events the set needs: the user's own, and the owners of the other
    /// users' and public mailboxes its filters name (directly, as a subtree, or as
    /// subscriptions).
    fn owners_to_watch(&self, set: &NotifySet, backend: &dyn Backend) -> Vec<String> {
        let me = self.me();
        let mut named: Vec<String> = Vec::new();
        for g in &set.groups {
            match &g.filter {
                MailboxFilter::Subtree(list) | MailboxFilter::Mailboxes(list) => {
                    named.extend(list.iter().map(|n| n.0.clone()))
                }
                MailboxFilter::Subscribed => {
                    named.extend(backend.subscription_list(&me).unwrap_or_default())
                }
                _ => {}
            }
        }
        let mut owners = vec![me.clone()];
        for n in named {
            if let Some(owner) = owner_of(&me, &n) {
                if !owners.contains(&owner) {
                    owners.push(owner);
                }
            }
        }
        owners
    }

    fn is_selected(&self, folder: FolderRef) -> bool {
        matches!(&self.state, State::Selected(sel) if sel.folder.id == folder)
    }

    /// Whether the user holds any right on a folder of another owner (own ones: always).
    fn may_see(&self, owner: &str, name: &str, backend: &dyn Backend) -> bool {
        let me = self.me();
        if owner == me {
            return true;
        }
        match backend.find_folder(owner, name) {
            Ok(Some(f)) => backend.rights(f.id, &me).is_ok_and(|r| !r.is_empty()),
            _ => false,
        }
    }

    /// The first non-selected group whose filter names the mailbox `owner`/`name`, which
    /// the user sees as `shown`.
    fn group_for(
        &self,
        owner: &str,
        name: &str,
        shown: &str,
        backend: &dyn Backend,
    ) -> Option<&EventGroup> {
        let me = self.me();
        let set = self.notify.as_ref()?;
        set.groups.iter().find(|g| match &g.filter {
            MailboxFilter::Selected | MailboxFilter::SelectedDelayed => false,
            MailboxFilter::Inboxes => owner == me && name == "INBOX",
            MailboxFilter::Personal => owner == me,
            MailboxFilter::Subscribed => is_subscribed(backend, &me, owner, name, shown),
            MailboxFilter::Subtree(roots) => roots.iter().any(|r| {
                shown == r.0
                    || shown
                        .strip_prefix(r.0.as_str())
                        .is_some_and(|rest| rest.starts_with(SEPARATOR))
            }),
            MailboxFilter::Mailboxes(list) => list.iter().any(|m| m.0 == shown),
        })
    }
}

fn is_subscribed(backend: &dyn Backend, me: &str, owner: &str, name: &str, shown: &str) -> bool {
    let flagged = matches!(
        backend.find_folder(owner, name),
        Ok(Some(FolderInfo {
            subscribed: true,
            ..
        }))
    );
    flagged
        || backend
            .subscription_list(me)
            .is_ok_and(|l| l.iter().any(|n| n == shown))
}

/// The owner of the mailboxes a client-visible name stands for, also for the namespace
/// levels a SUBTREE may name ("Public Folders", "Other Users/<address>").
fn owner_of(me: &str, shown: &str) -> Option<String> {
    match names::resolve(me, shown) {
        Resolved::Folder { owner, .. } => Some(owner),
        Resolved::Namespace => {
            let rest = shown.trim_end_matches(SEPARATOR);
            if rest == names::PUBLIC {
                return Some(PUBLIC_OWNER.to_string());
            }
            let owner = rest
                .strip_prefix(names::OTHER_USERS)?
                .strip_prefix(SEPARATOR)?;
            (!owner.is_empty()).then(|| owner.to_ascii_lowercase())
        }
    }
}

/// The name the user sees for `owner`'s folder `name`.
fn display(me: &str, owner: &str, name: &str) -> String {
    if owner == me {
        return name.to_string();
    }
    if owner == PUBLIC_OWNER {
        return format!("{}{SEPARATOR}{name}", names::PUBLIC);
    }
    format!("{}{SEPARATOR}{owner}{SEPARATOR}{name}", names::OTHER_USERS)
}

/// The STATUS items for a group's events (all of them, or only those `kind` triggers).
fn status_items(events: &[NotifyEvent], kind: Option<MessageKind>) -> Vec<StatusItem> {
    let has = |k: MessageKind| {
        kind.is_none_or(|want| want == k)
            && events.iter().any(|e| match k {
                MessageKind::New => matches!(e, NotifyEvent::MessageNew(_)),
                MessageKind::Expunge => *e == NotifyEvent::MessageExpunge,
                MessageKind::Flags => *e == NotifyEvent::FlagChange,
            })
    };
    let (new, gone, flags) = (
        has(MessageKind::New),
        has(MessageKind::Expunge),
        has(MessageKind::Flags),
    );
    let mut items = Vec::new();
    if new || gone {
        items.push(StatusItem::Messages);
    }
    if new {
        items.extend([StatusItem::UidNext, StatusItem::UidValidity]);
    }
    if flags {
        if !new {
            items.push(StatusItem::UidValidity);
        }
        items.push(StatusItem::HighestModSeq);
    }
    items
}

/// The rules of RFC 5465 §3.1 and §5 on which events go together where.
fn check_groups(groups: &[EventGroup]) -> Result<(), Done> {
    for g in groups {
        if g.events
            .iter()
            .any(|e| matches!(e, NotifyEvent::AnnotationChange | NotifyEvent::Other(_)))
        {
            return Err(Done::No(format!(
                "[BADEVENT ({SUPPORTED_EVENTS})] Unsupported event"
            )));
        }
    }
    for g in groups {
        let selected = matches!(
            g.filter,
            MailboxFilter::Selected | MailboxFilter::SelectedDelayed
        );
        let new = g.events.iter().find_map(|e| match e {
            NotifyEvent::MessageNew(a) => Some(a),
            _ => None,
        });
        let gone = g.events.contains(&NotifyEvent::MessageExpunge);
        let flags = g.events.contains(&NotifyEvent::FlagChange);
        if selected {
            if new.is_some() != gone {
                return Err(Done::Bad(
                    "MessageNew and MessageExpunge go together".into(),
                ));
            }
            if flags && new.is_none() {
                return Err(Done::Bad(
                    "FlagChange needs MessageNew and MessageExpunge".into(),
                ));
            }
            if g.events.iter().any(|e| {
                matches!(
                    e,
                    NotifyEvent::MailboxName
                        | NotifyEvent::SubscriptionChange
                        | NotifyEvent::MailboxMetadataChange
                        | NotifyEvent::ServerMetadataChange
                )
            }) {
                return Err(Done::Bad(
                    "Mailbox events cannot apply to the selected mailbox".into(),
                ));
            }
        } else if new.is_some_and(|a| !a.is_empty()) {
            return Err(Done::Bad(
                "Fetch attributes are only for the selected mailbox".into(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
