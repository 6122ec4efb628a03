//! The IMAP command grammar as types (RFC 9051 §9 ABNF, RFC 3501, and the extensions listed
//! in `mod.rs`). The parser (`parser.rs`) produces these; the session consumes them.
//! Values that the wire validates are validated here: a `SequenceSet` is never empty, a
//! `Tag` has only tag characters, a mailbox name is already decoded from modified UTF-7.

use std::fmt;

/// `tag = 1*<any ASTRING-CHAR except "+">`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(pub String);

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A password or SASL response: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One command line (with its literals) from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: Tag,
    pub body: CommandBody,
}

/// `seq-number = nz-number / "*"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    /// `*`: the largest number in use (the last message's sequence number or UID).
    Largest,
}

/// One element of a sequence set: `n` or `n:m` (either end may be `*`; order is irrelevant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqRange {
    Single(SeqNum),
    Range(SeqNum, SeqNum),
}

/// `sequence-set`, or `$` (SEARCHRES, RFC 5182: the saved search result).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    /// Never empty.
    Ranges(Vec<SeqRange>),
    Saved,
}

impl SequenceSet {
    /// Whether `n` is in the set, given what `*` means now (`largest`; 0 for an empty
    /// mailbox, in which case `*` matches nothing). `Saved` must be resolved by the caller.
    pub fn contains(&self, n: u32, largest: u32) -> bool {
        let resolve = |s: SeqNum| match s {
            SeqNum::Value(v) => v,
            SeqNum::Largest => largest,
        };
        match self {
            SequenceSet::Saved => false,
            SequenceSet::Ranges(ranges) => ranges.iter().any(|r| match *r {
                SeqRange::Single(s) => resolve(s) == n,
                SeqRange::Range(a, b) => {
                    let (a, b) = (resolve(a), resolve(b));
                    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                    lo <= n && n <= hi
                }
            }),
        }
    }
}

/// A mailbox name as the client sent it, decoded: `INBOX` (any case) is normalised to
/// "INBOX"; modified UTF-7 (RFC 3501 §5.1.3) decoded to UTF-8 unless UTF8=ACCEPT is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxName(pub String);

/// System flags and keywords (RFC 9051 §2.3.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Flag {
    Seen,
    Answered,
    Flagged,
    Deleted,
    Draft,
    /// `\Recent` (rev1 only; may not be set by STORE).
    Recent,
    /// `\*` in PERMANENTFLAGS (never from a client).
    Keyword(String),
    /// An unknown `\Something`: kept so STORE can reject it.
    Extension(String),
}

/// `date` in SEARCH: day, month (1–12), year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// `date-time` in APPEND: a unix timestamp and the zone offset it was given in (minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub unix: i64,
    pub offset_minutes: i32,
}

/// `search-key` (RFC 9051 §6.4.4, plus MODSEQ from RFC 7162, OLDER/YOUNGER from RFC 5032).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(Date),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    Header(String, String),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A bare sequence set.
    SequenceSet(SequenceSet),
    /// Parenthesised list: all must match.
    And(Vec<SearchKey>),
    /// RFC 7162: `MODSEQ [entry-name entry-type] mod-sequence-valzer`.
    ModSeq(u64),
    /// RFC 5032 WITHIN.
    Older(u64),
    Younger(u64),
    /// RFC 8474 §6: `EMAILID objectid`, `THREADID objectid`.
    EmailId(String),
    ThreadId(String),
    /// RFC 8514 SAVEDATE: the date the message was put in the mailbox.
    SavedBefore(Date),
    SavedOn(Date),
    SavedSince(Date),
    /// Every message, in a mailbox that keeps save dates (all of ours do).
    SaveDateSupported,
}

/// `search-return-opt` (RFC 9051 ESEARCH, RFC 5182 SAVE, RFC 9394 PARTIAL, RFC 5267
/// UPDATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchReturn {
    Min,
    Max,
    All,
    Count,
    Save,
    Partial(PartialRange),
    /// Keep the result up to date with ADDTO/REMOVEFROM (RFC 5267 §4.3).
    Update,
}

/// `partial-range` (RFC 9394 §4): results `first:last` counted from the first result (the
/// lowest UID, 1) or, `from_end`, from the last (`-1:-100`); kept as the client wrote it,
/// since the response repeats it. Both numbers are non-zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartialRange {
    pub from_end: bool,
    pub first: u32,
    pub last: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchCommand {
    /// `RETURN (...)` given (even empty: then ALL). `None`: rev1-style `* SEARCH` reply
    /// (rev2 sessions always answer with ESEARCH).
    pub ret: Option<Vec<SearchReturn>>,
    /// `CHARSET x`; only UTF-8 and US-ASCII are supported (BADCHARSET otherwise).
    pub charset: Option<String>,
    /// The keys, implicitly ANDed.
    pub criteria: Vec<SearchKey>,
}

/// `section-spec` (RFC 9051 §6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields(Vec<String>),
    HeaderFieldsNot(Vec<String>),
    Text,
    /// Only after a part number: the part's MIME header.
    Mime,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Part path, e.g. `[1, 2]` for `1.2`; empty for the whole message.
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// `fetch-att` (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 8970 PREVIEW, RFC 7162 MODSEQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    Body,
    BodyStructure,
    Uid,
    /// `BODY[section]<partial>` / `BODY.PEEK[...]`.
    BodySection {
        section: Section,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    /// `BINARY[part]<partial>` / `BINARY.PEEK[...]`.
    Binary {
        part: Vec<u32>,
        partial: Option<(u32, u32)>,
        peek: bool,
    },
    BinarySize(Vec<u32>),
    /// `PREVIEW` (RFC 8970; `LAZY` modifier accepted and ignored).
    Preview,
    ModSeq,
    /// RFC 8474 §5.3.
    EmailId,
    ThreadId,
    /// RFC 8514.
    SaveDate,
}

/// `fetch` command modifiers (RFC 7162: CHANGEDSINCE, VANISHED).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FetchModifiers {
    pub changed_since: Option<u64>,
    pub vanished: bool,
    /// RFC 9394 PARTIAL (UID FETCH only).
    pub partial: Option<PartialRange>,
}

/// `store-att-flags`: `+FLAGS`, `-FLAGS`, `FLAGS`, each optionally `.SILENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// `status-att` (RFC 9051 §6.3.11, RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    Recent,
    UidNext,
    UidValidity,
    Unseen,
    Deleted,
    Size,
    HighestModSeq,
    AppendLimit,
    /// RFC 8474 §4.2.
    MailboxId,
}

/// LIST selection options (RFC 5258, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListSelect {
    pub subscribed: bool,
    pub remote: bool,
    pub recursive_match: bool,
    pub special_use: bool,
}

/// LIST return options (RFC 5258, RFC 5819 STATUS, RFC 6154 SPECIAL-USE).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    pub subscribed: bool,
    pub children: bool,
    pub special_use: bool,
    pub status: Option<Vec<StatusItem>>,
    /// RFC 8440 LIST-MYRIGHTS.
    pub myrights: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCommand {
    pub select: ListSelect,
    pub reference: String,
    /// The patterns (`LIST "" ("a*" "b*")` is RFC 5258 syntax); those that are not valid
    /// modified UTF-7 are left out, as they match no name: it may be empty.
    pub patterns: Vec<String>,
    pub ret: ListReturn,
    /// `LSUB` (rev1): subscribed names, `\Noselect` for unsubscribed parents.
    pub lsub: bool,
}

/// SELECT/EXAMINE parameters (RFC 7162 CONDSTORE, QRESYNC).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    pub condstore: bool,
    /// `QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])`.
    pub qresync: Option<QresyncParams>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    pub uidvalidity: u32,
    pub modseq: u64,
    pub known_uids: Option<SequenceSet>,
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// One message of APPEND (MULTIAPPEND, RFC 3502: several in one command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<Flag>,
    pub date: Option<DateTime>,
    /// The literal's bytes (`~{n}` literal8 for binary content: RFC 3516).
    pub message: Vec<u8>,
    /// `CATENATE (...)` (RFC 4469) instead of a literal: `message` is then empty and the
    /// session builds the message from these parts.
    pub catenate: Option<Vec<CatPart>>,
}

/// `cat-part` (RFC 4469 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    /// `"TEXT" SP literal` (or literal8).
    Text(Vec<u8>),
    /// `"URL" SP astring`: an IMAP URL (RFC 5092) of a message or part on this server.
    Url(String),
}

/// One URL of URLFETCH (RFC 4467 §6, with RFC 5524's parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlFetchRequest {
    pub url: String,
    /// RFC 5524 BODYPARTSTRUCTURE asked for.
    pub body_part_structure: bool,
    /// RFC 5524 BODY or BINARY; `None` with no parameter list (plain RFC 4467 form: the
    /// content as a bare nstring) and `Some(None)` for a list without either.
    pub content: Option<Option<UrlContent>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlContent {
    Body,
    Binary,
}

/// ACL rights as the client wrote them (RFC 4314 §2.1), e.g. "lrswipkxtea", optionally
/// prefixed by + or - in SETACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RightsSpec {
    pub mode: StoreMode,
    pub rights: String,
}

/// `sort-criterion` (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    OrderedSubject,
    References,
}

/// GETMETADATA `DEPTH` (RFC 5464 §4.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetadataDepth {
    #[default]
    Zero,
    One,
    Infinity,
}

/// GETMETADATA options (RFC 5464 §4.2.1–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetMetadataOptions {
    pub max_size: Option<u64>,
    pub depth: MetadataDepth,
}

/// `AUTHENTICATE` mechanisms we know; others are rejected with NO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMechanism {
    Plain,
    Login,
    Other(String),
}

/// Every command of RFC 9051 and RFC 3501 and of the extensions in `mod.rs`.
/// `uid` marks the UID variants (UID FETCH, UID STORE, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    // any state
    Capability,
    Noop,
    Logout,
    Id(Option<Vec<(String, Option<String>)>>),
    // not authenticated
    StartTls,
    Authenticate {
        mechanism: AuthMechanism,
        /// SASL-IR (RFC 4959) initial response, base64-decoded; `Some(empty)` for "=".
        initial: Option<Secret>,
    },
    Login {
        user: String,
        password: Secret,
    },
    // authenticated
    Enable(Vec<String>),
    /// `COMPRESS` SP algorithm (RFC 4978), as given, uppercased.
    Compress(String),
    /// RFC 8437.
    Unauthenticate,
    Select {
        mailbox: MailboxName,
        params: SelectParams,
        read_only: bool,
    },
    Create {
        mailbox: MailboxName,
        /// `USE (\Drafts …)` (RFC 6154 CREATE-SPECIAL-USE).
        special_use: Vec<String>,
    },
    Delete(MailboxName),
    Rename {
        from: MailboxName,
        to: MailboxName,
    },
    Subscribe(MailboxName),
    Unsubscribe(MailboxName),
    List(ListCommand),
    Namespace,
    Status {
        mailbox: MailboxName,
        items: Vec<StatusItem>,
    },
    Append {
        mailbox: MailboxName,
        messages: Vec<AppendMessage>,
    },
    Idle,
    // ACL (RFC 4314)
    SetAcl {
        mailbox: MailboxName,
        identifier: String,
        rights: RightsSpec,
    },
    DeleteAcl {
        mailbox: MailboxName,
        identifier: String,
    },
    GetAcl(MailboxName),
    ListRights {
        mailbox: MailboxName,
        identifier: String,
    },
    MyRights(MailboxName),
    // QUOTA (RFC 9208)
    GetQuota(String),
    GetQuotaRoot(MailboxName),
    SetQuota {
        root: String,
        limits: Vec<(String, u64)>,
    },
    // METADATA (RFC 5464); entry names are checked and lower-cased by the parser.
    GetMetadata {
        /// "" for server entries.
        mailbox: MailboxName,
        options: GetMetadataOptions,
        entries: Vec<String>,
    },
    /// RFC 5465 NOTIFY: `None` for NOTIFY NONE.
    Notify(Option<NotifySet>),
    SetMetadata {
        mailbox: MailboxName,
        /// `None` (NIL) removes the entry.
        entries: Vec<(String, Option<Vec<u8>>)>,
    },
    /// RFC 4467: no mailbox resets every key of the user.
    ResetKey {
        mailbox: Option<MailboxName>,
        mechanisms: Vec<String>,
    },
    /// RFC 4467: (url-rump, mechanism) pairs.
    GenUrlAuth(Vec<(String, String)>),
    UrlFetch(Vec<UrlFetchRequest>),
    // selected
    Check,
    Close,
    Unselect,
    /// RFC 5267 §4.4: `CANCELUPDATE 1*(SP tag-string)`.
    CancelUpdate(Vec<String>),
    Expunge {
        /// `UID EXPUNGE set` (UIDPLUS).
        uids: Option<SequenceSet>,
    },
    Search {
        uid: bool,
        search: SearchCommand,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        attrs: Vec<FetchAttr>,
        /// The macros ALL/FAST/FULL expand into `attrs`; this keeps whether one was used.
        modifiers: FetchModifiers,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        mode: StoreMode,
        silent: bool,
        flags: Vec<Flag>,
        /// RFC 7162 `UNCHANGEDSINCE`.
        unchanged_since: Option<u64>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: MailboxName,
    },
    /// RFC 8508: `[UID] REPLACE id mailbox append-message`.
    Replace {
        uid: bool,
        /// A sequence number, or a UID for UID REPLACE (never 0).
        id: u32,
        mailbox: MailboxName,
        message: AppendMessage,
    },
    Sort {
        uid: bool,
        criteria: Vec<SortCriterion>,
        /// ESORT (RFC 5267) `RETURN (...)`.
        ret: Option<Vec<SearchReturn>>,
        charset: String,
        search: Vec<SearchKey>,
    },
    Thread {
        uid: bool,
        algorithm: ThreadAlgorithm,
        charset: String,
        search: Vec<SearchKey>,
    },
}

impl CommandBody {
    /// The command's name as it appears in `BAD`/`NO` texts and logs.
    pub fn name(&self) -> &'static str {
        use CommandBody::*;
        match self {
            Capability => "CAPABILITY",
            Noop => "NOOP",
            Logout => "LOGOUT",
            Id(_) => "ID",
            StartTls => "STARTTLS",
            Authenticate { .. } => "AUTHENTICATE",
            Login { .. } => "LOGIN",
            Enable(_) => "ENABLE",
            Compress(_) => "COMPRESS",
            Unauthenticate => "UNAUTHENTICATE",
            Select {
                read_only: false, ..
            } => "SELECT",
            Select { .. } => "EXAMINE",
            Create { .. } => "CREATE",
            Delete(_) => "DELETE",
            Rename { .. } => "RENAME",
            Subscribe(_) => "SUBSCRIBE",
            Unsubscribe(_) => "UNSUBSCRIBE",
            List(l) if l.lsub => "LSUB",
            List(_) => "LIST",
            Namespace => "NAMESPACE",
            Status { .. } => "STATUS",
            Append { .. } => "APPEND",
            Idle => "IDLE",
            SetAcl { .. } => "SETACL",
            DeleteAcl { .. } => "DELETEACL",
            GetAcl(_) => "GETACL",
            ListRights { .. } => "LISTRIGHTS",
            MyRights(_) => "MYRIGHTS",
            GetQuota(_) => "GETQUOTA",
            GetQuotaRoot(_) => "GETQUOTAROOT",
            SetQuota { .. } => "SETQUOTA",
            GetMetadata { .. } => "GETMETADATA",
            SetMetadata { .. } => "SETMETADATA",
            Notify(_) => "NOTIFY",
            ResetKey { .. } => "RESETKEY",
            GenUrlAuth(_) => "GENURLAUTH",
            UrlFetch(_) => "URLFETCH",
            Check => "CHECK",
            Close => "CLOSE",
            Unselect => "UNSELECT",
            CancelUpdate(_) => "CANCELUPDATE",
            Expunge { .. } => "EXPUNGE",
            Search { .. } => "SEARCH",
            Fetch { .. } => "FETCH",
            Store { .. } => "STORE",
            Copy { .. } => "COPY",
            Move { .. } => "MOVE",
            Replace { .. } => "REPLACE",
            Sort { .. } => "SORT",
            Thread { .. } => "THREAD",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_set_contains() {
        let set = SequenceSet::Ranges(vec![
            SeqRange::Single(SeqNum::Value(2)),
            SeqRange::Range(SeqNum::Value(5), SeqNum::Largest),
        ]);
        assert!(!set.contains(1, 10));
        assert!(set.contains(2, 10));
        assert!(set.contains(7, 10));
        assert!(set.contains(10, 10));
        assert!(!set.contains(11, 10));
        // 7:5 is the same as 5:7; * on an empty mailbox is 0 and matches nothing useful.
        let rev = SequenceSet::Ranges(vec![SeqRange::Range(SeqNum::Value(7), SeqNum::Value(5))]);
        assert!(rev.contains(6, 10));
    }
}

/// `notify-set = "SET" [status-indicator] SP event-groups` (RFC 5465 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySet {
    /// `SET STATUS`: send a STATUS for each mailbox of the sets at once.
    pub status: bool,
    /// In the client's order; the first group whose specifier names a mailbox decides.
    pub groups: Vec<EventGroup>,
}

/// `event-group = "(" filter-mailboxes SP events ")"`; no events stands for `NONE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventGroup {
    pub filter: MailboxFilter,
    pub events: Vec<NotifyEvent>,
}

/// `filter-mailboxes` (RFC 5465 §6): the selected mailbox or a set of others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailboxFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<MailboxName>),
    Mailboxes(Vec<MailboxName>),
}

/// `event` (RFC 5465 §5). `Other` keeps an event this server does not know, so that the
/// session can answer `[BADEVENT]` rather than BAD (§3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyEvent {
    /// With the attributes to FETCH for each new message of the selected mailbox.
    MessageNew(Vec<FetchAttr>),
    MessageExpunge,
    FlagChange,
    AnnotationChange,
    MailboxName,
    SubscriptionChange,
    MailboxMetadataChange,
    ServerMetadataChange,
    Other(String),
}
