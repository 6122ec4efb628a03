//! What an IMAP session needs from the rest of the server, as a trait the protocol defines
//! and the actor layer implements (docs/architecture.md §2: the arrow points from storage to here).
//! Reads come from storage directly; every change goes through the folder's actor (its only
//! writer), which assigns UIDs and modseqs and tells the other sessions.

/// A folder, as the session sees it.
pub type FolderRef = u64;

/// The owner of public folders.
pub const PUBLIC_OWNER: &str = "";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderInfo {
    pub id: FolderRef,
    /// Account address, or [`PUBLIC_OWNER`].
    pub owner: String,
    /// Name relative to its owner, '/'-separated, "INBOX" for the inbox.
    pub name: String,
    pub special_use: Option<String>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub exists: u32,
    pub unseen: u32,
    pub deleted: u32,
    pub size: u64,
    pub recent: u32,
    pub subscribed: bool,
    pub noselect: bool,
}

/// One message's index entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    /// System flag bits (see [`flag_bits`]).
    pub flags: u8,
    pub keywords: Vec<String>,
    pub size: u64,
    pub internal_date: i64,
    pub modseq: u64,
    /// When it was put in this folder (SAVEDATE, RFC 8514).
    pub save_date: i64,
}

/// System flag bits, as storage keeps them.
pub mod flag_bits {
    pub const SEEN: u8 = 1;
    pub const ANSWERED: u8 = 2;
    pub const FLAGGED: u8 = 4;
    pub const DELETED: u8 = 8;
    pub const DRAFT: u8 = 16;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagOp {
    Replace,
    Add,
    Remove,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StoreOutcome {
    /// (uid, system flags, keywords, modseq) of each message whose flags changed.
    pub changed: Vec<(u32, u8, Vec<String>, u64)>,
    /// UIDs not changed because their modseq was above UNCHANGEDSINCE (RFC 7162 MODIFIED).
    pub modified: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaInfo {
    pub storage_used: u64,
    pub storage_limit: Option<u64>,
    pub messages_used: u64,
    pub messages_limit: Option<u64>,
}

/// A message to append.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub flags: u8,
    pub keywords: Vec<String>,
    pub internal_date: i64,
    pub content: Vec<u8>,
}

/// A message body being received: APPEND's literal is written here piece by piece as it
/// streams in, so that a message of APPENDLIMIT size is never held whole in memory. Dropping
/// it unappended throws it away (a failed or refused command leaves nothing behind).
pub trait StagedBody: Send {
    /// Appends bytes. Blocking (may write a file).
    fn write(&mut self, bytes: &[u8]) -> Result<(), BackendError>;
    /// Bytes written so far.
    fn len(&self) -> u64;
    /// Everything written so far, read back (CATENATE's TEXT parts and REPLACE's message,
    /// which are put together or handed on in memory, within APPENDLIMIT).
    fn contents(&self) -> Result<Vec<u8>, BackendError>;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Back to the concrete type, for the backend that made it (in `append_staged`).
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send>;
}

/// Staging in memory: what [`Backend::stage`] gives by default (tests and fuzzing, whose
/// messages are small).
#[derive(Debug, Default)]
pub struct MemoryBody(pub Vec<u8>);

impl StagedBody for MemoryBody {
    fn write(&mut self, bytes: &[u8]) -> Result<(), BackendError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn contents(&self) -> Result<Vec<u8>, BackendError> {
        Ok(self.0.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn std::any::Any + Send> {
        self
    }
}

/// A message to append whose body was staged (see [`StagedBody`]).
pub struct StagedMessage {
    pub flags: u8,
    pub keywords: Vec<String>,
    pub internal_date: i64,
    pub body: Box<dyn StagedBody>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("quota exceeded ({0})")]
    OverQuota(&'static str),
    #[error("{0}")]
    Conflict(String),
    /// Storage failed or a folder actor is restarting: try again.
    #[error("temporary failure: {0}")]
    Unavailable(String),
}

/// The session's window on mail storage. Every method may be called from any state the
/// session allows it in; none may panic.
pub trait Backend {
    // --- reads ---------------------------------------------------------------------------
    /// All folders of `owner` (INBOX first). For [`PUBLIC_OWNER`]: the public folders.
    fn folders(&self, owner: &str) -> Result<Vec<FolderInfo>, BackendError>;
    /// Folders of other owners (and public ones) where `user` holds the 'l' right.
    fn shared_folders(&self, user: &str) -> Result<Vec<FolderInfo>, BackendError>;
    fn folder(&self, id: FolderRef) -> Result<FolderInfo, BackendError>;
    fn find_folder(&self, owner: &str, name: &str) -> Result<Option<FolderInfo>, BackendError>;
    /// Whether `address` is an account here (for "Other Users/<address>/…" and SETACL).
    fn account_exists(&self, address: &str) -> bool;
    fn is_admin(&self, user: &str) -> bool;
    /// The rights `user` holds on the folder (owner: all of "lrswipkxtea").
    fn rights(&self, folder: FolderRef, user: &str) -> Result<String, BackendError>;
    fn acl(&self, folder: FolderRef) -> Result<Vec<(String, String)>, BackendError>;
    fn quota(&self, account: &str) -> Result<QuotaInfo, BackendError>;
    /// Index entries in UID order.
    fn messages(&self, folder: FolderRef) -> Result<Vec<MessageMeta>, BackendError>;
    /// Index entries with UID ≥ `first_uid` (new arrivals), in UID order.
    fn messages_from(
        &self,
        folder: FolderRef,
        first_uid: u32,
    ) -> Result<Vec<MessageMeta>, BackendError> {
        Ok(self
            .messages(folder)?
            .into_iter()
            .filter(|m| m.uid >= first_uid)
            .collect())
    }
    /// A hint: the calls that follow (headers, contents, sizes and dates, EMAILIDs) read
    /// these messages of `folder`. A backend whose every index lookup is a round trip to a
    /// database server looks them all up at once here and answers those calls from what it
    /// found, until the next hint; the default does nothing.
    fn will_read(&self, _folder: FolderRef, _uids: &[u32]) {}
    /// One message's index entry.
    fn message_meta(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<Option<MessageMeta>, BackendError> {
        Ok(self
            .messages_from(folder, uid)?
            .into_iter()
            .find(|m| m.uid == uid))
    }
    /// The current time (unix seconds), for SEARCH OLDER/YOUNGER and APPEND's default date.
    fn now(&self) -> i64;
    /// The raw message.
    fn message_content(&self, folder: FolderRef, uid: u32) -> Result<Vec<u8>, BackendError>;
    /// The raw message as a reader, and its length: FETCH BODY[] copies big messages out
    /// in pieces (fetch_stream.rs) instead of holding them whole. Storage overrides this
    /// with the blob file itself.
    fn open_content(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<(u64, Box<dyn std::io::Read + Send>), BackendError> {
        let content = self.message_content(folder, uid)?;
        Ok((
            content.len() as u64,
            Box::new(std::io::Cursor::new(content)),
        ))
    }
    /// The message's header section (up to and including the blank line), for SEARCH on
    /// header fields, SORT and THREAD. Implementations may cache it.
    fn message_header(&self, folder: FolderRef, uid: u32) -> Result<Vec<u8>, BackendError> {
        let mut content = self.message_content(folder, uid)?;
        content.truncate(header_len(&content));
        Ok(content)
    }
    /// What SORT and THREAD read of the message ([`super::sort::sort_fields_of`]: its
    /// header fields, with `seq_or_uid`, `arrival` and `size` 0). Implementations may
    /// cache it: it depends on the message's bytes alone.
    fn sort_fields(
        &self,
        folder: FolderRef,
        uid: u32,
    ) -> Result<std::sync::Arc<super::sort::SortInput>, BackendError> {
        let header = self.message_header(folder, uid)?;
        Ok(std::sync::Arc::new(super::sort::sort_fields_of(&header)))
    }
    /// The message's RFC 8474 EMAILID: derived from the sha256 of its bytes (see
    /// `objectid.rs`, which sits above this trait). Storage keeps that digest as the blob
    /// id; the in-memory fuzz backend hashes the content.
    fn email_id(&self, folder: FolderRef, uid: u32) -> Result<String, BackendError>;
    /// UIDs expunged with a modseq above `modseq` (QRESYNC VANISHED (EARLIER)).
    fn expunged_since(&self, folder: FolderRef, modseq: u64) -> Result<Vec<u32>, BackendError>;
    /// Claims the folder's \Recent messages for this session (rev1): returns the first
    /// recent UID.
    fn claim_recent(&self, folder: FolderRef) -> Result<u32, BackendError>;

    // --- changes (through the folder's actor) --------------------------------------------
    /// Appends in order, all or none; returns the new UIDs.
    fn append(
        &self,
        folder: FolderRef,
        messages: Vec<NewMessage>,
    ) -> Result<Vec<u32>, BackendError>;
    /// A new, empty staging area for one message body (APPEND streams into it).
    fn stage(&self) -> Result<Box<dyn StagedBody>, BackendError> {
        Ok(Box::new(MemoryBody::default()))
    }
    /// Appends staged messages in order, all or none (RFC 3502 §6.3.11: a MULTIAPPEND is
    /// atomic); returns the new UIDs. The bodies must come from this backend's `stage`.
    fn append_staged(
        &self,
        folder: FolderRef,
        messages: Vec<StagedMessage>,
    ) -> Result<Vec<u32>, BackendError> {
        let mut batch = Vec::with_capacity(messages.len());
        for m in messages {
            let body = m
                .body
                .into_any()
                .downcast::<MemoryBody>()
                .map_err(|_| BackendError::Invalid("body staged elsewhere".into()))?;
            batch.push(NewMessage {
                flags: m.flags,
                keywords: m.keywords,
                internal_date: m.internal_date,
                content: body.0,
            });
        }
        self.append(folder, batch)
    }
    fn store_flags(
        &self,
        folder: FolderRef,
        uids: &[u32],
        op: FlagOp,
        flags: u8,
        keywords: &[String],
        unchanged_since: Option<u64>,
    ) -> Result<StoreOutcome, BackendError>;
    /// REPLACE (RFC 8508): expunge `uid` of `from` and append `message` to `to`, both or
    /// neither, quota counting only the net change. Returns the new UID; NotFound (nothing
    /// changed) when `uid` is gone.
    fn replace(
        &self,
        from: FolderRef,
        uid: u32,
        to: FolderRef,
        message: NewMessage,
    ) -> Result<u32, BackendError>;
    /// Returns the modseq of the expunge.
    fn expunge(&self, folder: FolderRef, uids: &[u32]) -> Result<u64, BackendError>;
    /// Returns (source uid, new uid) pairs.
    fn copy(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError>;
    fn move_messages(
        &self,
        from: FolderRef,
        uids: &[u32],
        to: FolderRef,
    ) -> Result<Vec<(u32, u32)>, BackendError>;
    fn create_folder(
        &self,
        owner: &str,
        name: &str,
        special_use: Option<&str>,
    ) -> Result<FolderRef, BackendError>;
    fn delete_folder(&self, folder: FolderRef) -> Result<(), BackendError>;
    fn rename_folder(&self, folder: FolderRef, new_name: &str) -> Result<(), BackendError>;
    fn set_subscribed(&self, folder: FolderRef, subscribed: bool) -> Result<(), BackendError>;
    /// The user's subscription list (names as the user sees them), besides the folders whose
    /// own subscribed flag is set. An implementation without a separate list has none.
    fn subscription_list(&self, _user: &str) -> Result<Vec<String>, BackendError> {
        Ok(Vec::new())
    }
    /// Adds (or removes) a name on the user's subscription list; the name need not exist.
    /// Without a separate list, only existing own folders can be subscribed.
    fn set_subscription(&self, user: &str, name: &str, on: bool) -> Result<(), BackendError> {
        match self.find_folder(user, name)? {
            Some(f) => self.set_subscribed(f.id, on),
            None => Err(BackendError::NotFound(format!("no mailbox {name}"))),
        }
    }
    fn set_acl(
        &self,
        folder: FolderRef,
        identifier: &str,
        rights: &str,
    ) -> Result<(), BackendError>;
    fn delete_acl(&self, folder: FolderRef, identifier: &str) -> Result<(), BackendError>;
    fn set_quota(
        &self,
        account: &str,
        storage: Option<u64>,
        messages: Option<u64>,
    ) -> Result<(), BackendError>;
    /// RFC 5464 entries `user` sees on `folder` (`None`: the server): their own `/private`
    /// ones and the `/shared` ones, as (lower-case name, value) sorted by name.
    fn metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, BackendError>;
    /// Sets (`Some`) or removes (`None`) entries, all or none, durably before returning.
    /// Rights and limits are the session's to check.
    fn set_metadata(
        &self,
        folder: Option<FolderRef>,
        user: &str,
        changes: &[(String, Option<Vec<u8>>)],
    ) -> Result<(), BackendError>;
    /// `user`'s URLAUTH access key for the folder (RFC 4467 §3); with `create`, made (and
    /// durable) when there is none.
    fn urlauth_key(
        &self,
        folder: FolderRef,
        user: &str,
        create: bool,
    ) -> Result<Option<Vec<u8>>, BackendError>;
    /// Forgets `user`'s access key for the folder (RESETKEY), durably before returning.
    fn reset_urlauth_key(&self, folder: FolderRef, user: &str) -> Result<(), BackendError>;
}

/// The length of a message's header section, including the blank line that ends it (the
/// whole message when there is no body).
pub fn header_len(message: &[u8]) -> usize {
    let crlf = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 4);
    let lf = message.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) | (None, Some(a)) => a,
        (None, None) => message.len(),
    }
}

/// A [`Backend::will_read`] hint that ends when dropped (also on an early return or a
/// panic), so that no hint outlives the call that gave it.
pub(super) struct ReadAhead<'a> {
    backend: &'a dyn Backend,
    folder: FolderRef,
    told: bool,
}

impl<'a> ReadAhead<'a> {
    pub(super) fn new(backend: &'a dyn Backend, folder: FolderRef) -> ReadAhead<'a> {
        ReadAhead {
            backend,
            folder,
            told: false,
        }
    }

    /// The next messages to be read (in place of those told before).
    pub(super) fn tell(&mut self, uids: &[u32]) {
        self.backend.will_read(self.folder, uids);
        self.told = true;
    }
}

impl Drop for ReadAhead<'_> {
    fn drop(&mut self) {
        if self.told {
            self.backend.will_read(self.folder, &[]);
        }
    }
}
