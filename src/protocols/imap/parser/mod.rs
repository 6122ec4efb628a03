//! One complete command frame (from `framer.rs`) → [`Command`] (RFC 9051 §6 and §9 ABNF).
//!
//! Extensions parsed: UIDPLUS (UID EXPUNGE), MOVE, SASL-IR (RFC 4959), ENABLE, ID (RFC 2971),
//! CONDSTORE/QRESYNC parameters (RFC 7162), LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819),
//! SPECIAL-USE and CREATE-SPECIAL-USE (RFC 6154), STATUS=SIZE (RFC 8438), APPENDLIMIT
//! (RFC 7889), MULTIAPPEND (RFC 3502), BINARY (RFC 3516), UTF8=ACCEPT APPEND (RFC 6855),
//! ESEARCH/SEARCHRES (RFC 4731, RFC 5182), SORT/THREAD (RFC 5256), ESORT (RFC 5267),
//! WITHIN (RFC 5032), PREVIEW (RFC 8970), ACL (RFC 4314), QUOTA (RFC 9208), OBJECTID (RFC
//! 8474), METADATA (RFC 5464, in `metadata.rs`), CATENATE (RFC 4469, in `catenate.rs`), NOTIFY
//! (RFC 5465, in `notify.rs`), URLAUTH (RFC 4467 with RFC 5524's URLFETCH parameters, in
//! `urlauth.rs`).
//!
//! Implementation notes:
//! - Files: `lexer.rs` atoms, strings, numbers, dates; `search.rs` search keys and SORT/THREAD;
//!   `fetch.rs` fetch attributes; this file the commands.
//! - The frame holds its literals inline (`{3}\r\nabc`), as the framer delivers them; lines
//!   may end in CRLF or a bare LF (see framer.rs).
//! - Strict where the ABNF is clear (single spaces, known options only: RFC 5258 §3 and RFC
//!   4466 require BAD for unknown ones); lenient only where clients are known to differ: empty
//!   parameter lists, a one-digit day in APPEND's date-time.
//! - Errors name the command and what was expected ("FETCH: expected a sequence set"). Search
//!   keys nest at most [`lexer::MAX_DEPTH`] deep so that no input exhausts the stack.
//! - INBOX normalisation assumes "/" as the hierarchy delimiter for "inbox/sub".

mod catenate;
mod fetch;
mod lexer;
mod metadata;
mod notify;
mod search;
mod urlauth;

use std::fmt;

use base64::Engine;

pub use self::lexer::parse_sequence_set;
use self::lexer::{PResult, P};
use super::types::*;

/// A command that could not be parsed: the session answers `tag BAD message` (or `* BAD
/// message` when no tag could be read); for [`ParseErrorKind::InvalidMailboxName`],
/// `tag NO [CANNOT] message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<Tag>,
    pub message: String,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The command does not follow the grammar.
    Syntax,
    /// The grammar holds, but a mailbox name is not valid modified UTF-7 (RFC 3501
    /// §5.1.3), so it cannot name a mailbox: a NO, as for any other name that cannot be.
    InvalidMailboxName,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

/// What the session has negotiated that changes the grammar.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ParseOptions {
    /// ENABLE UTF8=ACCEPT (RFC 6855): mailbox names are UTF-8, not modified UTF-7.
    pub utf8: bool,
}

/// Parses one complete command frame.
pub fn parse_command(frame: &[u8], opts: &ParseOptions) -> Result<Command, ParseError> {
    let mut p = P::new(frame, opts.utf8);
    let raw_tag = p.take_while(super::framer::is_tag_char);
    if raw_tag.is_empty() {
        let message = if p.at_end() {
            "empty command line"
        } else {
            "expected a tag"
        };
        return Err(ParseError {
            tag: None,
            message: message.into(),
            kind: ParseErrorKind::Syntax,
        });
    }
    let tag = Tag(String::from_utf8_lossy(raw_tag).into_owned());
    let fail = |message: String| ParseError {
        tag: Some(tag.clone()),
        message,
        kind: ParseErrorKind::Syntax,
    };
    if p.at_end() {
        return Err(fail("expected a command after the tag".into()));
    }
    p.sp().map_err(fail)?;
    let name = p.word("a command name").map_err(fail)?;
    let body = if name == "UID" {
        p.sp()
            .and_then(|_| p.word("a command after UID"))
            .map_err(|m| fail(format!("UID: {m}")))
            .and_then(|sub| {
                command(&mut p, &sub, true).map_err(|m| fail(format!("UID {sub}: {m}")))
            })
    } else {
        command(&mut p, &name, false).map_err(|m| fail(format!("{name}: {m}")))
    };
    match body {
        Ok(body) => Ok(Command { tag, body }),
        Err(e) if p.invalid_name => Err(ParseError {
            kind: ParseErrorKind::InvalidMailboxName,
            ..e
        }),
        Err(e) => Err(e),
    }
}

/// The command body after its name, up to and including the line end.
fn command(p: &mut P, name: &str, uid: bool) -> PResult<CommandBody> {
    use CommandBody as C;
    let body = match name {
        "FETCH" => fetch::fetch(p, uid)?,
        "STORE" => store(p, uid)?,
        "COPY" | "MOVE" => {
            p.sp()?;
            let set = p.sequence_set()?;
            p.sp()?;
            let mailbox = p.mailbox()?;
            if name == "COPY" {
                C::Copy { uid, set, mailbox }
            } else {
                C::Move { uid, set, mailbox }
            }
        }
        "SEARCH" => C::Search {
            uid,
            search: search::search(p)?,
        },
        "SORT" => search::sort(p, uid)?,
        "REPLACE" => {
            p.sp()?;
            let id = p.nz_number("a message number")?;
            let mailbox = one_mailbox(p)?;
            C::Replace {
                uid,
                id,
                mailbox,
                message: append_message(p)?,
            }
        }
        "THREAD" => search::thread(p, uid)?,
        "EXPUNGE" if uid => {
            p.sp()?;
            C::Expunge {
                uids: Some(p.sequence_set()?),
            }
        }
        _ if uid => return Err(format!("{name} has no UID form")),
        "CAPABILITY" => C::Capability,
        "NOOP" => C::Noop,
        "LOGOUT" => C::Logout,
        "STARTTLS" => C::StartTls,
        "NAMESPACE" => C::Namespace,
        "IDLE" => C::Idle,
        "CHECK" => C::Check,
        "UNAUTHENTICATE" => C::Unauthenticate,
        "CLOSE" => C::Close,
        "UNSELECT" => C::Unselect,
        "CANCELUPDATE" => search::cancel_update(p)?,
        "EXPUNGE" => C::Expunge { uids: None },
        "ID" => id(p)?,
        "AUTHENTICATE" => authenticate(p)?,
        "LOGIN" => {
            p.sp()?;
            let user = p.astring_utf8("a user name")?;
            p.sp()?;
            let password = Secret(p.astring("a password")?);
            C::Login { user, password }
        }
        "ENABLE" => {
            let mut caps = Vec::new();
            while p.more() {
                caps.push(p.keyword("a capability")?);
            }
            if caps.is_empty() {
                return Err("expected a capability".into());
            }
            C::Enable(caps)
        }
        "COMPRESS" => {
            p.sp()?;
            C::Compress(p.keyword("a compression algorithm")?)
        }
        "SELECT" | "EXAMINE" => select(p, name == "EXAMINE")?,
        "CREATE" => create(p)?,
        "DELETE" => C::Delete(one_mailbox(p)?),
        "SUBSCRIBE" => C::Subscribe(one_mailbox(p)?),
        "UNSUBSCRIBE" => C::Unsubscribe(one_mailbox(p)?),
        "GETACL" => C::GetAcl(one_mailbox(p)?),
        "MYRIGHTS" => C::MyRights(one_mailbox(p)?),
        "GETQUOTAROOT" => C::GetQuotaRoot(one_mailbox(p)?),
        "RENAME" => {
            let from = one_mailbox(p)?;
            let to = one_mailbox(p)?;
            C::Rename { from, to }
        }
        "LIST" => list(p)?,
        "LSUB" => {
            p.sp()?;
            let reference = p.reference()?;
            p.sp()?;
            let pattern = p.list_mailbox()?;
            C::List(ListCommand {
                select: ListSelect::default(),
                patterns: reference
                    .is_some()
                    .then_some(pattern)
                    .flatten()
                    .into_iter()
                    .collect(),
                reference: reference.unwrap_or_default(),
                ret: ListReturn::default(),
                lsub: true,
            })
        }
        "STATUS" => {
            let mailbox = one_mailbox(p)?;
            p.sp()?;
            C::Status {
                mailbox,
                items: status_items(p)?,
            }
        }
        "APPEND" => append(p)?,
        "SETACL" => {
            let mailbox = one_mailbox(p)?;
            p.sp()?;
            let identifier = p.astring_utf8("an identifier")?;
            p.sp()?;
            let raw = p.astring_utf8("rights")?;
            let (mode, rights) = match raw.as_bytes().first() {
                Some(b'+') => (StoreMode::Add, &raw[1..]),
                Some(b'-') => (StoreMode::Remove, &raw[1..]),
                _ => (StoreMode::Replace, &raw[..]),
            };
            C::SetAcl {
                mailbox,
                identifier,
                rights: RightsSpec {
                    mode,
                    rights: rights.to_string(),
                },
            }
        }
        "DELETEACL" | "LISTRIGHTS" => {
            let mailbox = one_mailbox(p)?;
            p.sp()?;
            let identifier = p.astring_utf8("an identifier")?;
            if name == "DELETEACL" {
                C::DeleteAcl {
                    mailbox,
                    identifier,
                }
            } else {
                C::ListRights {
                    mailbox,
                    identifier,
                }
            }
        }
        "GETQUOTA" => {
            p.sp()?;
            C::GetQuota(p.astring_utf8("a quota root")?)
        }
        "SETQUOTA" => setquota(p)?,
        "GETMETADATA" => metadata::get(p)?,
        "SETMETADATA" => metadata::set(p)?,
        "NOTIFY" => notify::notify(p)?,
        "RESETKEY" => urlauth::resetkey(p)?,
        "GENURLAUTH" => urlauth::genurlauth(p)?,
        "URLFETCH" => urlauth::urlfetch(p)?,
        _ => return Err("unknown command".into()),
    };
    p.end()?;
    Ok(body)
}

fn one_mailbox(p: &mut P) -> PResult<MailboxName> {
    p.sp()?;
    p.mailbox()
}

/// `id = "ID" SP id-params-list`; `id-params-list = "(" *(string SP nstring) ")" / nil`.
fn id(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    if p.eat_keyword("NIL") {
        return Ok(CommandBody::Id(None));
    }
    p.open()?;
    let mut fields = Vec::new();
    if !p.eat(b')') {
        loop {
            let key = p.string().map_err(|_| "expected a field name string")?;
            p.sp()?;
            let value = p.nstring("a field value (string or NIL)")?;
            let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
            fields.push((text(key), value.map(text)));
            if !p.more() {
                break;
            }
        }
        p.close()?;
    }
    Ok(CommandBody::Id(Some(fields)))
}

/// `authenticate = "AUTHENTICATE" SP auth-type [SP (base64 / "=")]` (RFC 4959).
fn authenticate(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    let mech = p.keyword("a SASL mechanism")?;
    let mechanism = match mech.as_str() {
        "PLAIN" => AuthMechanism::Plain,
        "LOGIN" => AuthMechanism::Login,
        _ => AuthMechanism::Other(mech),
    };
    let initial = if p.more() {
        let b64 = p.take_while(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
        if b64 == b"=" {
            Some(Secret(Vec::new()))
        } else {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| "initial response is not valid base64")?;
            if raw.is_empty() {
                return Err("initial response is not valid base64".into());
            }
            Some(Secret(raw))
        }
    } else {
        None
    };
    Ok(CommandBody::Authenticate { mechanism, initial })
}

/// `select = "SELECT" SP mailbox [select-params]` with CONDSTORE / QRESYNC (RFC 7162 §7).
fn select(p: &mut P, read_only: bool) -> PResult<CommandBody> {
    let mailbox = one_mailbox(p)?;
    let mut params = SelectParams::default();
    if p.more() {
        p.open()?;
        if !p.eat(b')') {
            loop {
                match p.keyword("a SELECT parameter")?.as_str() {
                    "CONDSTORE" => params.condstore = true,
                    "QRESYNC" => {
                        p.sp()?;
                        params.qresync = Some(qresync(p)?);
                    }
                    other => return Err(format!("unknown parameter {other}")),
                }
                if !p.more() {
                    break;
                }
            }
            p.close()?;
        }
    }
    Ok(CommandBody::Select {
        mailbox,
        params,
        read_only,
    })
}

/// `"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"`.
fn qresync(p: &mut P) -> PResult<QresyncParams> {
    p.open()?;
    let uidvalidity = p.nz_number("a UIDVALIDITY")?;
    p.sp()?;
    let modseq = p.number64("a mod-sequence")?;
    let mut known_uids = None;
    let mut seq_match = None;
    if p.more() {
        if p.peek() != Some(b'(') {
            known_uids = Some(p.sequence_set()?);
            if p.more() {
                seq_match = Some(seq_match_data(p)?);
            }
        } else {
            seq_match = Some(seq_match_data(p)?);
        }
    }
    p.close()?;
    Ok(QresyncParams {
        uidvalidity,
        modseq,
        known_uids,
        seq_match,
    })
}

/// `seq-match-data = "(" known-sequence-set SP known-uid-set ")"`.
fn seq_match_data(p: &mut P) -> PResult<(SequenceSet, SequenceSet)> {
    p.open()?;
    let seqs = p.sequence_set()?;
    p.sp()?;
    let uids = p.sequence_set()?;
    p.close()?;
    Ok((seqs, uids))
}

/// `create = "CREATE" SP mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]`.
fn create(p: &mut P) -> PResult<CommandBody> {
    let mailbox = one_mailbox(p)?;
    let mut special_use = Vec::new();
    if p.more() {
        p.open()?;
        loop {
            match p.keyword("a CREATE parameter")?.as_str() {
                "USE" => {
                    p.sp()?;
                    p.open()?;
                    if !p.eat(b')') {
                        loop {
                            special_use.push(use_attr(p)?);
                            if !p.more() {
                                break;
                            }
                        }
                        p.close()?;
                    }
                }
                other => return Err(format!("unknown parameter {other}")),
            }
            if !p.more() {
                break;
            }
        }
        p.close()?;
    }
    Ok(CommandBody::Create {
        mailbox,
        special_use,
    })
}

/// `use-attr`: known ones in their RFC 6154 spelling, others (`\` atom) as given.
fn use_attr(p: &mut P) -> PResult<String> {
    const KNOWN: [&str; 7] = [
        "\\All",
        "\\Archive",
        "\\Drafts",
        "\\Flagged",
        "\\Junk",
        "\\Sent",
        "\\Trash",
    ];
    p.expect(b'\\', "a special-use attribute like \\Drafts")?;
    let name = format!(
        "\\{}",
        String::from_utf8_lossy(p.atom("a special-use attribute")?)
    );
    Ok(KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(&name))
        .map_or(name, |k| k.to_string()))
}

/// `list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`
/// (RFC 5258 §6).
fn list(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    let mut select = ListSelect::default();
    if p.eat(b'(') {
        if !p.eat(b')') {
            loop {
                match p.keyword("a LIST selection option")?.as_str() {
                    "SUBSCRIBED" => select.subscribed = true,
                    "REMOTE" => select.remote = true,
                    "RECURSIVEMATCH" => select.recursive_match = true,
                    "SPECIAL-USE" => select.special_use = true,
                    other => return Err(format!("unknown selection option {other}")),
                }
                if !p.more() {
                    break;
                }
            }
            p.close()?;
        }
        // RFC 5258 §3: RECURSIVEMATCH alone is BAD.
        if select.recursive_match && !select.subscribed && !select.special_use {
            return Err("RECURSIVEMATCH needs another selection option".into());
        }
        p.sp()?;
    }
    let reference = p.reference()?;
    p.sp()?;
    let mut patterns: Vec<Option<String>> = Vec::new();
    if p.eat(b'(') {
        loop {
            patterns.push(p.list_mailbox()?);
            if !p.more() {
                break;
            }
        }
        p.close()?;
    } else {
        patterns.push(p.list_mailbox()?);
    }
    let mut ret = ListReturn::default();
    if p.more() {
        if !p.eat_keyword("RETURN") {
            return Err("expected RETURN".into());
        }
        p.sp()?;
        p.open()?;
        if !p.eat(b')') {
            loop {
                match p.keyword("a LIST return option")?.as_str() {
                    "SUBSCRIBED" => ret.subscribed = true,
                    "CHILDREN" => ret.children = true,
                    "SPECIAL-USE" => ret.special_use = true,
                    "MYRIGHTS" => ret.myrights = true,
                    "STATUS" => {
                        p.sp()?;
                        ret.status = Some(status_items(p)?);
                    }
                    other => return Err(format!("unknown return option {other}")),
                }
                if !p.more() {
                    break;
                }
            }
            p.close()?;
        }
    }
    // Names that are not valid modified UTF-7 match nothing (see `P::list_mailbox`).
    let patterns = match reference {
        Some(_) => patterns.into_iter().flatten().collect(),
        None => Vec::new(),
    };
    Ok(CommandBody::List(ListCommand {
        select,
        reference: reference.unwrap_or_default(),
        patterns,
        ret,
        lsub: false,
    }))
}

/// `"(" status-att *(SP status-att) ")"`.
fn status_items(p: &mut P) -> PResult<Vec<StatusItem>> {
    p.open()?;
    let mut items = Vec::new();
    loop {
        items.push(match p.keyword("a status item")?.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "RECENT" => StatusItem::Recent,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "DELETED" => StatusItem::Deleted,
            "SIZE" => StatusItem::Size,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            "APPENDLIMIT" => StatusItem::AppendLimit,
            "MAILBOXID" => StatusItem::MailboxId,
            other => return Err(format!("unknown status item {other}")),
        });
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(items)
}

/// `append = "APPEND" SP mailbox 1*append-message` (RFC 3502);
/// `append-message = [SP flag-list] [SP date-time] SP append-data`;
/// `append-data = literal / literal8 / "UTF8" SP "(" literal8 ")"` (RFC 3516, RFC 6855).
fn append(p: &mut P) -> PResult<CommandBody> {
    let mailbox = one_mailbox(p)?;
    let mut messages = Vec::new();
    while !p.at_end() || messages.is_empty() {
        messages.push(append_message(p)?);
    }
    Ok(CommandBody::Append { mailbox, messages })
}

/// `append-message = [SP flag-list] [SP date-time] SP append-data` (RFC 4466, shared by
/// APPEND and REPLACE).
fn append_message(p: &mut P) -> PResult<AppendMessage> {
    p.sp()?;
    let mut flags = Vec::new();
    let mut date = None;
    if p.peek() == Some(b'(') {
        flags = p.flag_list()?;
        p.sp()?;
    }
    if p.peek() == Some(b'"') {
        date = Some(p.date_time()?);
        p.sp()?;
    }
    let mut catenate = None;
    let message = if p.eat_keyword("CATENATE") {
        catenate = Some(catenate::parts(p)?);
        &[][..]
    } else if p.eat_keyword("UTF8") {
        p.sp()?;
        p.open()?;
        if p.peek() != Some(b'~') {
            return Err("UTF8 needs a literal8 (~{n})".into());
        }
        let m = p.literal(true)?;
        p.close()?;
        m
    } else if matches!(p.peek(), Some(b'{' | b'~')) {
        p.literal(true)?
    } else {
        return Err("expected a message literal".into());
    };
    Ok(AppendMessage {
        flags,
        date,
        message: message.to_vec(),
        catenate,
    })
}

/// `store = "STORE" SP sequence-set [SP "(" "UNCHANGEDSINCE" SP mod-sequence-valzer ")"]
/// SP store-att-flags`; `store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list /
/// (flag *(SP flag)))`.
fn store(p: &mut P, uid: bool) -> PResult<CommandBody> {
    p.sp()?;
    let set = p.sequence_set()?;
    p.sp()?;
    let mut unchanged_since = None;
    if p.eat(b'(') {
        if !p.eat_keyword("UNCHANGEDSINCE") {
            return Err("unknown STORE modifier".into());
        }
        p.sp()?;
        unchanged_since = Some(p.number64("a mod-sequence")?);
        p.close()?;
        p.sp()?;
    }
    let mode = if p.eat(b'+') {
        StoreMode::Add
    } else if p.eat(b'-') {
        StoreMode::Remove
    } else {
        StoreMode::Replace
    };
    let silent = match p.word("FLAGS or FLAGS.SILENT")?.as_str() {
        "FLAGS" => false,
        "FLAGS.SILENT" => true,
        other => return Err(format!("unknown store item {other}")),
    };
    p.sp()?;
    let flags = if p.peek() == Some(b'(') {
        p.flag_list()?
    } else {
        let mut flags = vec![p.flag()?];
        while p.more() {
            flags.push(p.flag()?);
        }
        flags
    };
    Ok(CommandBody::Store {
        uid,
        set,
        mode,
        silent,
        flags,
        unchanged_since,
    })
}

/// `setquota = "SETQUOTA" SP quota-root-name SP setquota-list` (RFC 9208 §7).
fn setquota(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    let root = p.astring_utf8("a quota root")?;
    p.sp()?;
    p.open()?;
    let mut limits = Vec::new();
    if !p.eat(b')') {
        loop {
            let resource = p.keyword("a resource name")?;
            p.sp()?;
            limits.push((resource, p.number64("a resource limit")?));
            if !p.more() {
                break;
            }
        }
        p.close()?;
    }
    Ok(CommandBody::SetQuota { root, limits })
}

#[cfg(test)]
mod tests;
