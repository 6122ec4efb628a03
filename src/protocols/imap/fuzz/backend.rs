//! An in-memory [`Backend`] for the fuzzer and for session tests: a few folders for two
//! accounts and a public folder, messages with real RFC 5322 content (a thread, encoded
//! words, quoted-printable, a nested multipart with an attachment and a message/rfc822).
//! Every method works on the data and none panics, whatever the session asks.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::protocols::imap::backend::{
    flag_bits, Backend, BackendError, FlagOp, FolderInfo, FolderRef, MessageMeta, NewMessage,
    QuotaInfo, StoreOutcome, PUBLIC_OWNER,
};

/// The account a successful login gets.
pub const USER: &str = "alice@fuzz.test";
/// Another account, which shares a folder with [`USER`]; an administrator.
pub const OTHER: &str = "bob@fuzz.test";
const OWNER_RIGHTS: &str = "lrswipkxtea";
pub(super) const NOW: i64 = 1_700_000_000;

const PLAIN: &str = "Return-Path: <bob@fuzz.test>\r\n\
Message-ID: <1@fuzz.test>\r\n\
Date: Mon, 13 Nov 2023 10:00:00 +0100\r\n\
From: Bob Example <bob@fuzz.test>\r\n\
To: Alice <alice@fuzz.test>, carol@example.org\r\n\
Cc: \"Dave, D.\" <dave@example.org>\r\n\
Subject: Lunch on Friday?\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi Alice,\r\n\
\r\n\
shall we have lunch on Friday at noon?\r\n\
\r\n\
Bob\r\n";

const REPLY: &str = "Message-ID: <2@fuzz.test>\r\n\
In-Reply-To: <1@fuzz.test>\r\n\
References: <1@fuzz.test>\r\n\
Date: Mon, 13 Nov 2023 11:30:00 +0100\r\n\
From: =?utf-8?q?Alice_M=C3=BCller?= <alice@fuzz.test>\r\n\
To: Bob Example <bob@fuzz.test>\r\n\
Subject: Re: Lunch on Friday?\r\n\
Content-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
Gern, bis Freitag! Gr=FC=DFe\r\n\
\r\n\
> shall we have lunch on Friday at noon?\r\n";

const MULTIPART: &str = "Message-ID: <3@fuzz.test>\r\n\
Date: Tue, 14 Nov 2023 09:15:00 +0000\r\n\
From: Reports <reports@example.org>\r\n\
To: alice@fuzz.test\r\n\
Subject: =?utf-8?b?UXVhcnRlcmx5IHJlcG9ydCDinJM=?=\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"outer\"\r\n\
\r\n\
This is a multi-part message in MIME format.\r\n\
--outer\r\n\
Content-Type: multipart/alternative; boundary=\"inner\"\r\n\
\r\n\
--inner\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\
\r\n\
The quarterly report is attached.\r\n\
--inner\r\n\
Content-Type: text/html; charset=us-ascii\r\n\
\r\n\
<p>The <b>quarterly report</b> is attached.</p>\r\n\
--inner--\r\n\
--outer\r\n\
Content-Type: application/pdf; name=\"report.pdf\"\r\n\
Content-Disposition: attachment; filename=\"report.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoK\r\n\
--outer\r\n\
Content-Type: message/rfc822\r\n\
\r\n\
From: carol@example.org\r\n\
Subject: forwarded\r\n\
\r\n\
An attached message.\r\n\
--outer--\r\n";

const NEWSLETTER: &str = "Message-ID: <4@fuzz.test>\r\n\
Date: Wed, 15 Nov 2023 07:00:00 -0500\r\n\
From: news@example.org\r\n\
To: undisclosed-recipients:;\r\n\
Bcc: alice@fuzz.test\r\n\
Subject: [News] Weekly digest\r\n\
List-Id: <news.example.org>\r\n\
\r\n\
Item one.\r\nItem two.\r\n";

/// The content of the messages a new [`MemBackend`] holds, and of those "delivered" while the
/// fuzzer runs.
pub const SAMPLE_MESSAGES: [&str; 4] = [PLAIN, REPLY, MULTIPART, NEWSLETTER];

#[derive(Debug, Clone)]
struct MemMessage {
    meta: MessageMeta,
    content: Vec<u8>,
}

#[derive(Debug, Clone)]
struct MemFolder {
    id: FolderRef,
    owner: String,
    name: String,
    special_use: Option<String>,
    uidvalidity: u32,
    uidnext: u32,
    highest_modseq: u64,
    /// First UID not yet claimed as \Recent.
    recent_from: u32,
    subscribed: bool,
    messages: Vec<MemMessage>,
    acl: Vec<(String, String)>,
    /// (uid, modseq of the expunge).
    expunged: Vec<(u32, u64)>,
}

impl MemFolder {
    fn info(&self) -> FolderInfo {
        let count = |bit: u8, set: bool| {
            self.messages
                .iter()
                .filter(|m| (m.meta.flags & bit != 0) == set)
                .count() as u32
        };
        FolderInfo {
            id: self.id,
            owner: self.owner.clone(),
            name: self.name.clone(),
            special_use: self.special_use.clone(),
            uidvalidity: self.uidvalidity,
            uidnext: self.uidnext,
            highest_modseq: self.highest_modseq,
            exists: self.messages.len() as u32,
            unseen: count(flag_bits::SEEN, false),
            deleted: count(flag_bits::DELETED, true),
            size: self.messages.iter().map(|m| m.meta.size).sum(),
            recent: self
                .messages
                .iter()
                .filter(|m| m.meta.uid >= self.recent_from)
                .count() as u32,
            subscribed: self.subscribed,
            noselect: false,
        }
    }

    fn add(&mut self, m: NewMessage) -> u32 {
        let uid = self.uidnext;
        self.uidnext = self.uidnext.saturating_add(1);
        self.highest_modseq += 1;
        self.messages.push(MemMessage {
            meta: MessageMeta {
                uid,
                flags: m.flags,
                keywords: m.keywords,
                size: m.content.len() as u64,
                internal_date: m.internal_date,
                modseq: self.highest_modseq,
                save_date: NOW,
            },
            content: m.content,
        });
        uid
    }

    fn remove(&mut self, uids: &[u32]) -> Vec<MemMessage> {
        self.highest_modseq += 1;
        let modseq = self.highest_modseq;
        let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.messages)
            .into_iter()
            .partition(|m| uids.contains(&m.meta.uid));
        self.messages = kept;
        self.expunged
            .extend(gone.iter().map(|m| (m.meta.uid, modseq)));
        gone
    }
}

#[derive(Debug, Default)]
struct MemState {
    folders: BTreeMap<FolderRef, MemFolder>,
    next_id: FolderRef,
    /// account → (storage limit, message limit).
    quotas: BTreeMap<String, (Option<u64>, Option<u64>)>,
    /// (folder or 0 for the server, user or "" for shared, entry) → value.
    metadata: BTreeMap<(FolderRef, String, String), Vec<u8>>,
    /// (folder, user) → URLAUTH access key; keys here are counters, not secrets.
    urlauth_keys: BTreeMap<(FolderRef, String), Vec<u8>>,
    keys_made: u64,
}

impl MemState {
    fn create(&mut self, owner: &str, name: &str, special_use: Option<&str>) -> FolderRef {
        self.next_id += 1;
        let id = self.next_id;
        self.folders.insert(
            id,
            MemFolder {
                id,
                owner: owner.to_string(),
                name: name.to_string(),
                special_use: special_use.map(str::to_string),
                uidvalidity: 1000 + id as u32,
                uidnext: 1,
                highest_modseq: 1,
                recent_from: 1,
                subscribed: true,
                messages: Vec::new(),
                acl: Vec::new(),
                expunged: Vec::new(),
            },
        );
        id
    }

    fn get(&self, id: FolderRef) -> Result<&MemFolder, BackendError> {
        self.folders
            .get(&id)
            .ok_or_else(|| BackendError::NotFound(format!("folder {id}")))
    }

    fn get_mut(&mut self, id: FolderRef) -> Result<&mut MemFolder, BackendError> {
        self.folders
            .get_mut(&id)
            .ok_or_else(|| BackendError::NotFound(format!("folder {id}")))
    }

    fn find(&self, owner: &str, name: &str) -> Option<&MemFolder> {
        self.folders
            .values()
            .find(|f| f.owner == owner && same_name(&f.name, name))
    }

    fn rights(&self, id: FolderRef, user: &str) -> Result<String, BackendError> {
        let f = self.get(id)?;
        if f.owner == user {
            return Ok(OWNER_RIGHTS.into());
        }
        let entry = |who: &str| f.acl.iter().find(|(i, _)| i == who).map(|(_, r)| r.clone());
        Ok(entry(user).or_else(|| entry("anyone")).unwrap_or_default())
    }

    fn usage(&self, account: &str) -> (u64, u64) {
        self.folders
            .values()
            .filter(|f| f.owner == account)
            .flat_map(|f| f.messages.iter())
            .fold((0, 0), |(s, n), m| (s + m.meta.size, n + 1))
    }

    fn check_quota(&self, account: &str, bytes: u64, count: u64) -> Result<(), BackendError> {
        let (limit_s, limit_n) = self.quotas.get(account).copied().unwrap_or_default();
        let (used_s, used_n) = self.usage(account);
        if limit_s.is_some_and(|l| used_s.saturating_add(bytes) > l) {
            return Err(BackendError::OverQuota("STORAGE"));
        }
        if limit_n.is_some_and(|l| used_n.saturating_add(count) > l) {
            return Err(BackendError::OverQuota("MESSAGE"));
        }
        Ok(())
    }

    fn transfer(
        &mut self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
        remove: bool,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        let source = self.get(from)?;
        let picked: Vec<MemMessage> = source
            .messages
            .iter()
            .filter(|m| uids.contains(&m.meta.uid))
            .cloned()
            .collect();
        let owner = self.get(to)?.owner.clone();
        let bytes = picked.iter().map(|m| m.meta.size).sum();
        self.check_quota(&owner, bytes, picked.len() as u64)?;
        let target = self.get_mut(to)?;
        let pairs: Vec<(u32, u32)> = picked
            .into_iter()
            .map(|m| {
                let new = target.add(NewMessage {
                    flags: m.meta.flags,
                    keywords: m.meta.keywords,
                    internal_date: m.meta.internal_date,
                    content: m.content,
                });
                (m.meta.uid, new)
            })
            .collect();
        if remove {
            let moved: Vec<u32> = pairs.iter().map(|p| p.0).collect();
            self.get_mut(from)?.remove(&moved);
        }
        Ok(pairs)
    }
}

fn same_name(a: &str, b: &str) -> bool {
    a == b || (a.eq_ignore_ascii_case("INBOX") && b.eq_ignore_ascii_case("INBOX"))
}

/// Every [`Backend`] method over folders in memory.
#[derive(Debug)]
pub struct MemBackend {
    state: RefCell<MemState>,
    /// Every [`Backend::will_read`] hint and every message read, in order (for the tests of
    /// the read-ahead).
    reads: RefCell<Vec<Read>>,
}

/// What [`MemBackend`] was told or asked, for the read-ahead tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// `will_read(folder, uids)`.
    Hint(FolderRef, Vec<u32>),
    /// One message's bytes read (content, header or EMAILID).
    Message(FolderRef, u32),
}

impl Default for MemBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl MemBackend {
    /// [`USER`] with INBOX (four messages), Sent, Drafts, Trash and Archive/2023; [`OTHER`]
    /// with an INBOX and a "Team" folder shared with [`USER`]; a public "Announcements".
    pub fn new() -> MemBackend {
        let mut s = MemState::default();
        let inbox = s.create(USER, "INBOX", None);
        s.create(USER, "Sent", Some("\\Sent"));
        s.create(USER, "Drafts", Some("\\Drafts"));
        s.create(USER, "Trash", Some("\\Trash"));
        s.create(USER, "Archive", Some("\\Archive"));
        let archive = s.create(USER, "Archive/2023", None);
        s.create(OTHER, "INBOX", None);
        let team = s.create(OTHER, "Team", None);
        let public = s.create(PUBLIC_OWNER, "Announcements", None);
        let flags = [
            flag_bits::SEEN,
            flag_bits::SEEN | flag_bits::ANSWERED,
            flag_bits::FLAGGED,
            0,
        ];
        for (i, (content, flags)) in SAMPLE_MESSAGES.iter().zip(flags).enumerate() {
            let keywords = if i == 3 { vec!["$Junk".into()] } else { vec![] };
            let m = |content: &str| NewMessage {
                flags,
                keywords: keywords.clone(),
                internal_date: NOW - 86_400 * (4 - i as i64),
                content: content.as_bytes().to_vec(),
            };
            if let Some(f) = s.folders.get_mut(&inbox) {
                f.add(m(content));
                // INBOX: the last two are \Recent.
                f.recent_from = 3;
            }
            for other in [archive, team, public] {
                if let Some(f) = s.folders.get_mut(&other) {
                    f.add(m(content));
                    f.recent_from = f.uidnext;
                }
            }
        }
        if let Some(f) = s.folders.get_mut(&team) {
            f.acl.push((USER.into(), "lrsw".into()));
        }
        if let Some(f) = s.folders.get_mut(&public) {
            f.acl.push(("anyone".into(), "lr".into()));
        }
        s.quotas.insert(USER.into(), (Some(10 * 1024 * 1024), None));
        MemBackend {
            state: RefCell::new(s),
            reads: RefCell::default(),
        }
    }

    /// What was hinted and read so far; forgets it.
    pub fn take_reads(&self) -> Vec<Read> {
        std::mem::take(&mut *self.reads.borrow_mut())
    }
}

impl Backend for MemBackend {
    fn folders(&self, owner: &str) -> Result<Vec<FolderInfo>, BackendError> {
        let s = self.state.borrow();
        let mut list: Vec<FolderInfo> = s
            .folders
            .values()
            .filter(|f| f.owner == owner)
            .map(MemFolder::info)
            .collect();
        list.sort_by_key(|f| (f.name != "INBOX", f.name.clone()));
        Ok(list)
    }

    fn shared_folders(&self, user: &str) -> Result<Vec<FolderInfo>, BackendError> {
        let s = self.state.borrow();
        let mut list = Vec::new();
        for f in s.folders.values().filter(|f| f.owner != user) {
            if s.rights(f.id, user)?.contains('l') {
                list.push(f.info());
            }
        }
        Ok(list)
    }

    fn folder(&self, id: FolderRef) -> Result<FolderInfo, BackendError> {
        Ok(self.state.borrow().get(id)?.info())
    }

    fn find_folder(&self, owner: &str, name: &str) -> Result<Option<FolderInfo>, BackendError> {
        Ok(self.state.borrow().find(owner, name).map(MemFolder::info))
    }

    fn account_exists(&self, address: &str) -> bool {
        address == USER || address == OTHER
    }

    fn is_admin(&self, user: &str) -> bool {
        user == OTHER
    }

    fn rights(&self, folder: FolderRef, user: &str) -> Result<String, BackendError> {
        self.state.borrow().rights(folder, user)
    }

    fn acl(&self, folder: FolderRef) -> Result<Vec<(String, String)>, BackendError> {
        let s = self.state.borrow();
        let f = s.get(folder)?;
        let mut acl = f.acl.clone();
        if !f.owner.is_empty() {
            acl.insert(0, (f.owner.clone(), OWNER_RIGHTS.into()));
        }
        Ok(acl)
    }

    fn quota(&self, account: &str) -> Result<QuotaInfo, BackendError> {
        let s = self.state.borrow();
        let (storage_used, messages_used) = s.usage(account);
        let (storage_limit, messages_limit) = s.quotas.get(account).copied().unwrap_or_default();
        Ok(QuotaInfo {
            storage_used,
            storage_limit,
            messages_used,
            messages_limit,
        })
    }

    fn messages(&self, folder: FolderRef) -> Result<Vec<MessageMeta>, BackendError> {
        let s = self.state.borrow();
        Ok(s.get(folder)?
            .messages
            .iter()
            .map(|m| m.meta.clone())
            .collect())
    }

    fn now(&self) -> i64 {
        NOW
    }

    fn will_read(&self, folder: FolderRef, uids: &[u32]) {
        self.reads
            .borrow_mut()
            .push(Read::Hint(folder, uids.to_vec()));
    }

    fn message_content(&self, folder: FolderRef, uid: u32) -> Result<Vec<u8>, BackendError> {
        self.reads.borrow_mut().push(Read::Message(folder, uid));
        let s = self.state.borrow();
        s.get(folder)?
            .messages
            .iter()
            .find(|m| m.meta.uid == uid)
            .map(|m| m.content.clone())
            .ok_or_else(|| BackendError::NotFound(format!("message {uid}")))
    }

    fn email_id(&self, folder: FolderRef, uid: u32) -> Result<String, BackendError> {
        Ok(crate::protocols::imap::objectid::email_id_of_content(
            &self.message_content(folder, uid)?,
        ))
    }

    fn expunged_since(&self, folder: FolderRef, modseq: u64) -> Result<Vec<u32>, BackendError> {
        let s = self.state.borrow();
        Ok(s.get(folder)?
            .expunged
            .iter()
            .filter(|(_, m)| *m > modseq)
            .map(|(u, _)| *u)
            .collect())
    }

    fn claim_recent(&self, folder: FolderRef) -> Result<u32, BackendError> {
        let mut s = self.state.borrow_mut();
        let f = s.get_mut(folder)?;
        let first = f.recent_from;
        f.recent_from = f.uidnext;
        Ok(first)
    }

    fn append(
        &self,
        folder: FolderRef,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<u32>, BackendError> {
        let mut s = self.state.borrow_mut();
        let owner = s.get(folder)?.owner.clone();
        let bytes = messages.iter().map(|m| m.content.len() as u64).sum();
        s.check_quota(&owner, bytes, messages.len() as u64)?;
        let f = s.get_mut(folder)?;
        Ok(messages.into_iter().map(|m| f.add(m)).collect())
    }

    fn store_flags(
        &self,
        folder: FolderRef,
        uids: &[u32],
        op: FlagOp,
        flags: u8,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, BackendError> {
        let mut s = self.state.borrow_mut();
        let f = s.get_mut(folder)?;
        let mut outcome = StoreOutcome::default();
        for m in f.messages.iter_mut().filter(|m| uids.contains(&m.meta.uid)) {
            if unchanged_since.is_some_and(|u| m.meta.modseq > u) {
                outcome.modified.push(m.meta.uid);
                continue;
            }
            let mut kw = m.meta.keywords.clone();
            let new_flags = match op {
                FlagOp::Replace => {
                    kw = keywords.to_vec();
                    flags
                }
                FlagOp::Add => {
                    for k in keywords {
                        if !kw.iter().any(|x| x.eq_ignore_ascii_case(k)) {
                            kw.push(k.clone());
                        }
                    }
                    m.meta.flags | flags
                }
                FlagOp::Remove => {
                    kw.retain(|x| !keywords.iter().any(|k| k.eq_ignore_ascii_case(x)));
                    m.meta.flags & !flags
                }
            };
            if new_flags != m.meta.flags || kw != m.meta.keywords {
                f.highest_modseq += 1;
                m.meta.flags = new_flags;
                m.meta.keywords = kw;
                m.meta.modseq = f.highest_modseq;
                outcome.changed.push((
                    m.meta.uid,
                    new_flags,
                    m.meta.keywords.clone(),
                    m.meta.modseq,
                ));
            }
        }
        Ok(outcome)
    }

    fn expunge(&self, folder: FolderRef, uids: &[u32]) -> Result<u64, BackendError> {
        let mut s = self.state.borrow_mut();
        let f = s.get_mut(folder)?;
        f.remove(uids);
        Ok(f.highest_modseq)
    }

    fn replace(
        &self,
        from: FolderRef,
        uid: u32,
        to: FolderRef,
        message: NewMessage,
    ) -> Result<u32, BackendError> {
        let mut s = self.state.borrow_mut();
        let (old_owner, old_size) = {
            let f = s.get(from)?;
            let m = f.messages.iter().find(|m| m.meta.uid == uid);
            let m = m.ok_or_else(|| BackendError::NotFound(format!("message uid {uid}")))?;
            (f.owner.clone(), m.meta.size)
        };
        let owner = s.get(to)?.owner.clone();
        let size = message.content.len() as u64;
        let (bytes, count) = if owner == old_owner {
            (size.saturating_sub(old_size), 0)
        } else {
            (size, 1)
        };
        s.check_quota(&owner, bytes, count)?;
        s.get_mut(from)?.remove(&[uid]);
        Ok(s.get_mut(to)?.add(message))
    }

    fn copy(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        self.state.borrow_mut().transfer(from, uids, to, false)
    }

    fn move_messages(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError> {
        self.state.borrow_mut().transfer(from, uids, to, true)
    }

    fn create_folder(
        &self,
        owner: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderRef, BackendError> {
        let mut s = self.state.borrow_mut();
        if name.is_empty() || name.starts_with('/') || name.ends_with('/') {
            return Err(BackendError::Invalid(format!("bad folder name {name:?}")));
        }
        if s.find(owner, name).is_some() {
            return Err(BackendError::Exists(format!("folder {name}")));
        }
        Ok(s.create(owner, name, special_use))
    }

    fn delete_folder(&self, folder: FolderRef) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        if s.get(folder)?.name.eq_ignore_ascii_case("INBOX") {
            return Err(BackendError::Invalid("INBOX cannot be deleted".into()));
        }
        s.folders.remove(&folder);
        s.metadata.retain(|(f, _, _), _| *f != folder);
        s.urlauth_keys.retain(|(f, _), _| *f != folder);
        Ok(())
    }

    fn rename_folder(&self, folder: FolderRef, new_name: &str) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        let (owner, old) = {
            let f = s.get(folder)?;
            (f.owner.clone(), f.name.clone())
        };
        if new_name.is_empty() || s.find(&owner, new_name).is_some() {
            return Err(BackendError::Exists(format!("folder {new_name}")));
        }
        if old.eq_ignore_ascii_case("INBOX") {
            // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new folder.
            let to = s.create(&owner, new_name, None);
            let uids: Vec<u32> = s.get(folder)?.messages.iter().map(|m| m.meta.uid).collect();
            s.transfer(folder, &uids, to, true)?;
            return Ok(());
        }
        let prefix = format!("{old}/");
        for f in s.folders.values_mut().filter(|f| f.owner == owner) {
            if f.name == old {
                f.name = new_name.to_string();
            } else if let Some(rest) = f.name.strip_prefix(&prefix) {
                f.name = format!("{new_name}/{rest}");
            }
        }
        Ok(())
    }

    fn set_subscribed(&self, folder: FolderRef, subscribed: bool) -> Result<(), BackendError> {
        self.state.borrow_mut().get_mut(folder)?.subscribed = subscribed;
        Ok(())
    }

    fn set_acl(
        &self,
        folder: FolderRef,
        identifier: &str,
        rights: &str,
    ) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        let f = s.get_mut(folder)?;
        let current = f
            .acl
            .iter()
            .find(|(i, _)| i == identifier)
            .map(|(_, r)| r.clone())
            .unwrap_or_default();
        let new: String = match rights.as_bytes().first() {
            Some(b'+') => OWNER_RIGHTS
                .chars()
                .filter(|c| current.contains(*c) || rights[1..].contains(*c))
                .collect(),
            Some(b'-') => current
                .chars()
                .filter(|c| !rights[1..].contains(*c))
                .collect(),
            _ => OWNER_RIGHTS
                .chars()
                .filter(|c| rights.contains(*c))
                .collect(),
        };
        f.acl.retain(|(i, _)| i != identifier);
        if !new.is_empty() {
            f.acl.push((identifier.to_string(), new));
        }
        Ok(())
    }

    fn delete_acl(&self, folder: FolderRef, identifier: &str) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        s.get_mut(folder)?.acl.retain(|(i, _)| i != identifier);
        Ok(())
    }

    fn metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
        let s = self.state.borrow();
        let id = match folder {
            Some(f) => s.get(f)?.id,
            None => 0,
        };
        Ok(s.metadata
            .iter()
            .filter(|((f, u, _), _)| *f == id && (u.is_empty() || u == user))
            .map(|((_, _, n), v)| (n.clone(), v.clone()))
            .collect())
    }

    fn set_metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        let id = match folder {
            Some(f) => s.get(f)?.id,
            None => 0,
        };
        for (name, value) in changes {
            let who = if name.starts_with("/private") {
                user
            } else {
                ""
            };
            let key = (id, who.to_string(), name.clone());
            match value {
                Some(v) => s.metadata.insert(key, v.clone()),
                None => s.metadata.remove(&key),
            };
        }
        Ok(())
    }

    fn urlauth_key(
        &self,
        folder: FolderRef,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, BackendError> {
        let mut s = self.state.borrow_mut();
        s.get(folder)?;
        let k = (folder, user.to_ascii_lowercase());
        if let Some(key) = s.urlauth_keys.get(&k) {
            return Ok(Some(key.clone()));
        }
        if !create {
            return Ok(None);
        }
        s.keys_made += 1;
        let key = format!("mem-key-{}", s.keys_made).into_bytes();
        s.urlauth_keys.insert(k, key.clone());
        Ok(Some(key))
    }

    fn reset_urlauth_key(&self, folder: FolderRef, user: &str) -> Result<(), BackendError> {
        let mut s = self.state.borrow_mut();
        s.get(folder)?;
        s.urlauth_keys.remove(&(folder, user.to_ascii_lowercase()));
        Ok(())
    }

    fn set_quota(
        &self,
        account: &str,
        storage: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), BackendError> {
        self.state
            .borrow_mut()
            .quotas
            .insert(account.to_string(), (storage, messages));
        Ok(())
    }
}
