//! SEARCH (RFC 9051 §6.4.4, ESEARCH RFC 4731, SEARCHRES RFC 5182, MODSEQ RFC 7162,
//! WITHIN RFC 5032), SORT and THREAD (RFC 5256, ESORT RFC 5267).

use super::super::types::{
    CommandBody, PartialRange, SearchCommand, SearchKey, SearchReturn, SortCriterion, SortKey,
    ThreadAlgorithm,
};
use super::lexer::{PResult, MAX_DEPTH, P};

/// `search = "SEARCH" [search-return-opts] SP search-program`;
/// `search-program = ["CHARSET" SP charset SP] search-key *(SP search-key)`.
pub(super) fn search(p: &mut P) -> PResult<SearchCommand> {
    let ret = return_opts(p)?;
    p.sp()?;
    let charset = if p.eat_keyword("CHARSET") {
        p.sp()?;
        let c = charset(p)?;
        p.sp()?;
        Some(c)
    } else {
        None
    };
    Ok(SearchCommand {
        ret,
        charset,
        criteria: keys(p)?,
    })
}

/// `sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP charset
/// 1*(SP search-key)`.
pub(super) fn sort(p: &mut P, uid: bool) -> PResult<CommandBody> {
    let ret = return_opts(p)?;
    p.sp()?;
    p.open()?;
    let mut criteria = Vec::new();
    loop {
        let reverse = p.eat_keyword("REVERSE") && {
            p.sp()?;
            true
        };
        let key = match p.keyword("a sort key")?.as_str() {
            "ARRIVAL" => SortKey::Arrival,
            "CC" => SortKey::Cc,
            "DATE" => SortKey::Date,
            "FROM" => SortKey::From,
            "SIZE" => SortKey::Size,
            "SUBJECT" => SortKey::Subject,
            "TO" => SortKey::To,
            "DISPLAYFROM" => SortKey::DisplayFrom,
            "DISPLAYTO" => SortKey::DisplayTo,
            other => return Err(format!("unknown sort key {other}")),
        };
        criteria.push(SortCriterion { reverse, key });
        if !p.more() {
            break;
        }
    }
    p.close()?;
    p.sp()?;
    let charset = charset(p)?;
    p.sp()?;
    Ok(CommandBody::Sort {
        uid,
        criteria,
        ret,
        charset,
        search: keys(p)?,
    })
}

/// `thread = ["UID" SP] "THREAD" SP thread-alg SP search-criteria`.
pub(super) fn thread(p: &mut P, uid: bool) -> PResult<CommandBody> {
    p.sp()?;
    let algorithm = match p.keyword("a threading algorithm")?.as_str() {
        "ORDEREDSUBJECT" => ThreadAlgorithm::OrderedSubject,
        "REFERENCES" => ThreadAlgorithm::References,
        other => return Err(format!("unknown threading algorithm {other}")),
    };
    p.sp()?;
    let charset = charset(p)?;
    p.sp()?;
    Ok(CommandBody::Thread {
        uid,
        algorithm,
        charset,
        search: keys(p)?,
    })
}

/// `command-select =/ "CANCELUPDATE" 1*(SP quoted)` (RFC 5267 §5).
pub(super) fn cancel_update(p: &mut P) -> PResult<CommandBody> {
    let mut tags = Vec::new();
    while p.peek() == Some(b' ') {
        p.sp()?;
        let t = p.quoted()?;
        tags.push(String::from_utf8(t).map_err(|_| "tag is not UTF-8".to_string())?);
    }
    if tags.is_empty() {
        return Err("CANCELUPDATE needs a tag".into());
    }
    Ok(CommandBody::CancelUpdate(tags))
}

/// `charset = atom / quoted`.
fn charset(p: &mut P) -> PResult<String> {
    let raw = if p.peek() == Some(b'"') {
        p.quoted()?
    } else {
        p.atom("a charset")?.to_vec()
    };
    String::from_utf8(raw).map_err(|_| "charset name is not UTF-8".into())
}

/// `search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"`.
fn return_opts(p: &mut P) -> PResult<Option<Vec<SearchReturn>>> {
    let rest = p.rest();
    if !(rest.len() > 7 && rest[1..7].eq_ignore_ascii_case(b"RETURN") && rest[7] == b' ') {
        return Ok(None);
    }
    p.sp()?;
    p.eat_keyword("RETURN");
    p.sp()?;
    p.open()?;
    let mut opts = Vec::new();
    if !p.eat(b')') {
        loop {
            opts.push(match p.keyword("a RETURN option")?.as_str() {
                "MIN" => SearchReturn::Min,
                "MAX" => SearchReturn::Max,
                "ALL" => SearchReturn::All,
                "COUNT" => SearchReturn::Count,
                "SAVE" => SearchReturn::Save,
                "UPDATE" => SearchReturn::Update,
                "PARTIAL" => {
                    p.sp()?;
                    SearchReturn::Partial(partial_range(p)?)
                }
                other => return Err(format!("unknown RETURN option {other}")),
            });
            if !p.more() {
                break;
            }
        }
        p.close()?;
    }
    // RFC 9394 §3.1: at most one PARTIAL or ALL.
    let paging = opts
        .iter()
        .filter(|o| matches!(o, SearchReturn::All | SearchReturn::Partial(_)))
        .count();
    if paging > 1 {
        return Err("at most one of PARTIAL and ALL".into());
    }
    Ok(Some(opts))
}

/// `partial-range = nz-number ":" nz-number / "-" nz-number ":" "-" nz-number` (RFC 9394).
pub(super) fn partial_range(p: &mut P) -> PResult<PartialRange> {
    let from_end = p.eat(b'-');
    let first = p.nz_number("a partial range")?;
    p.expect(b':', "\":\" in a partial range")?;
    if from_end {
        p.expect(b'-', "\"-\" in a partial range")?;
    }
    let last = p.nz_number("a partial range")?;
    Ok(PartialRange {
        from_end,
        first,
        last,
    })
}

/// `search-key *(SP search-key)` up to the line end.
fn keys(p: &mut P) -> PResult<Vec<SearchKey>> {
    let mut keys = vec![key(p)?];
    while p.more() {
        keys.push(key(p)?);
    }
    Ok(keys)
}

fn text(p: &mut P) -> PResult<String> {
    p.sp()?;
    p.astring_utf8("a search string")
}

/// `search-key` (RFC 9051 §9, plus MODSEQ, OLDER, YOUNGER).
fn key(p: &mut P) -> PResult<SearchKey> {
    if p.depth >= MAX_DEPTH {
        return Err("search keys nested too deeply".into());
    }
    p.depth += 1;
    let k = key_inner(p);
    p.depth -= 1;
    k
}

fn key_inner(p: &mut P) -> PResult<SearchKey> {
    use SearchKey as K;
    match p.peek() {
        Some(b'(') => {
            p.eat(b'(');
            let mut keys = vec![key(p)?];
            while p.more() {
                keys.push(key(p)?);
            }
            p.close()?;
            return Ok(K::And(keys));
        }
        Some(b'0'..=b'9' | b'*' | b'$') => return Ok(K::SequenceSet(p.sequence_set()?)),
        _ => {}
    }
    let name = p.keyword("a search key")?;
    Ok(match name.as_str() {
        "ALL" => K::All,
        "ANSWERED" => K::Answered,
        "DELETED" => K::Deleted,
        "DRAFT" => K::Draft,
        "FLAGGED" => K::Flagged,
        "NEW" => K::New,
        "OLD" => K::Old,
        "RECENT" => K::Recent,
        "SEEN" => K::Seen,
        "UNANSWERED" => K::Unanswered,
        "UNDELETED" => K::Undeleted,
        "UNDRAFT" => K::Undraft,
        "UNFLAGGED" => K::Unflagged,
        "UNSEEN" => K::Unseen,
        "BCC" => K::Bcc(text(p)?),
        "BODY" => K::Body(text(p)?),
        "CC" => K::Cc(text(p)?),
        "FROM" => K::From(text(p)?),
        "SUBJECT" => K::Subject(text(p)?),
        "TEXT" => K::Text(text(p)?),
        "TO" => K::To(text(p)?),
        "HEADER" => {
            p.sp()?;
            let field = p.astring_utf8("a header field name")?;
            K::Header(field, text(p)?)
        }
        "KEYWORD" | "UNKEYWORD" => {
            p.sp()?;
            let kw = String::from_utf8_lossy(p.atom("a keyword")?).into_owned();
            if name == "KEYWORD" {
                K::Keyword(kw)
            } else {
                K::Unkeyword(kw)
            }
        }
        "BEFORE" | "ON" | "SINCE" | "SENTBEFORE" | "SENTON" | "SENTSINCE" | "SAVEDBEFORE"
        | "SAVEDON" | "SAVEDSINCE" => {
            p.sp()?;
            let d = p.date()?;
            match name.as_str() {
                "BEFORE" => K::Before(d),
                "ON" => K::On(d),
                "SINCE" => K::Since(d),
                "SENTBEFORE" => K::SentBefore(d),
                "SENTON" => K::SentOn(d),
                "SAVEDBEFORE" => K::SavedBefore(d),
                "SAVEDON" => K::SavedOn(d),
                "SAVEDSINCE" => K::SavedSince(d),
                _ => K::SentSince(d),
            }
        }
        "SAVEDATESUPPORTED" => K::SaveDateSupported,
        "LARGER" | "SMALLER" => {
            p.sp()?;
            let n = p.number64("a size")?;
            if name == "LARGER" {
                K::Larger(n)
            } else {
                K::Smaller(n)
            }
        }
        "OLDER" | "YOUNGER" => {
            p.sp()?;
            let n = u64::from(p.nz_number("an interval in seconds")?);
            if name == "OLDER" {
                K::Older(n)
            } else {
                K::Younger(n)
            }
        }
        "UID" => {
            p.sp()?;
            K::Uid(p.sequence_set()?)
        }
        "NOT" => {
            p.sp()?;
            K::Not(Box::new(key(p)?))
        }
        "OR" => {
            p.sp()?;
            let a = key(p)?;
            p.sp()?;
            K::Or(Box::new(a), Box::new(key(p)?))
        }
        "MODSEQ" => modseq(p)?,
        "EMAILID" => K::EmailId(objectid(p)?),
        "THREADID" => K::ThreadId(objectid(p)?),
        other => return Err(format!("unknown search key {other}")),
    })
}

/// `"MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer` (RFC 7162 §7);
/// `entry-name = DQUOTE "/flags/" attr-flag DQUOTE`; the entry is checked and not kept.
fn modseq(p: &mut P) -> PResult<SearchKey> {
    p.sp()?;
    if p.peek() == Some(b'"') {
        let entry = p.quoted()?;
        if !entry.starts_with(b"/flags/") || entry.len() == 7 {
            return Err("MODSEQ entry name must be \"/flags/<flag>\"".into());
        }
        p.sp()?;
        match p.keyword("an entry type (priv, shared, all)")?.as_str() {
            "PRIV" | "SHARED" | "ALL" => {}
            other => return Err(format!("unknown entry type {other}")),
        }
        p.sp()?;
    }
    Ok(SearchKey::ModSeq(p.number64("a mod-sequence")?))
}

/// `SP objectid` (RFC 8474 §7): `1*255(ALPHA / DIGIT / "_" / "-")`, case-sensitive.
fn objectid(p: &mut P) -> PResult<String> {
    p.sp()?;
    let raw = p.atom("an object id")?;
    match std::str::from_utf8(raw) {
        Ok(s) if crate::protocols::imap::objectid::is_objectid(s) => Ok(s.to_string()),
        _ => Err("invalid object id".into()),
    }
}
