//! GETMETADATA and SETMETADATA (RFC 5464 §4.2, §4.3, grammar in §5).

use super::super::types::{CommandBody, GetMetadataOptions, MetadataDepth};
use super::lexer::{PResult, P};

/// Longest entry name accepted (RFC 5464 sets none; this bounds stored keys).
pub const MAX_ENTRY_NAME: usize = 1024;

/// `getmetadata = "GETMETADATA" [SP getmetadata-options] SP mailbox SP entries`;
/// `entries = entry / "(" entry *(SP entry) ")"`.
pub(super) fn get(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    let options = if p.peek() == Some(b'(') {
        let o = options(p)?;
        p.sp()?;
        o
    } else {
        GetMetadataOptions::default()
    };
    let mailbox = p.mailbox()?;
    p.sp()?;
    let mut entries = Vec::new();
    if p.eat(b'(') {
        loop {
            entries.push(entry(p, true)?);
            if !p.more() {
                break;
            }
        }
        p.close()?;
    } else {
        entries.push(entry(p, true)?);
    }
    Ok(CommandBody::GetMetadata {
        mailbox,
        options,
        entries,
    })
}

/// `getmetadata-options = "(" getmetadata-option *(SP getmetadata-option) ")"`;
/// `"MAXSIZE" SP number` / `"DEPTH" SP ("0" / "1" / "infinity")`.
fn options(p: &mut P) -> PResult<GetMetadataOptions> {
    let mut o = GetMetadataOptions::default();
    p.open()?;
    loop {
        match p.keyword("a GETMETADATA option")?.as_str() {
            "MAXSIZE" => {
                p.sp()?;
                o.max_size = Some(p.number64("a size")?);
            }
            "DEPTH" => {
                p.sp()?;
                o.depth = match p.keyword("a depth")?.as_str() {
                    "0" => MetadataDepth::Zero,
                    "1" => MetadataDepth::One,
                    "INFINITY" => MetadataDepth::Infinity,
                    other => return Err(format!("unknown depth {other}")),
                };
            }
            other => return Err(format!("unknown GETMETADATA option {other}")),
        }
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(o)
}

/// `setmetadata = "SETMETADATA" SP mailbox SP entry-values`;
/// `entry-values = "(" entry-value *(SP entry-value) ")"`; `entry-value = entry SP value`;
/// `value = nstring / literal8`.
pub(super) fn set(p: &mut P) -> PResult<CommandBody> {
    p.sp()?;
    let mailbox = p.mailbox()?;
    p.sp()?;
    p.open()?;
    let mut entries = Vec::new();
    loop {
        let name = entry(p, false)?;
        p.sp()?;
        let value = match p.peek() {
            Some(b'~' | b'{') => Some(p.literal(true)?.to_vec()),
            Some(b'"') => Some(p.quoted()?),
            _ if p.eat_keyword("NIL") => None,
            _ => return Err("expected a value".into()),
        };
        entries.push((name, value));
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(CommandBody::SetMetadata { mailbox, entries })
}

/// `entry = astring`, checked as RFC 5464 §3.2 asks: `/private` or `/shared` first, then
/// "/"-separated components; no "*", "%", "//", trailing "/" or controls; lower-cased (names
/// are case-insensitive). The bare `/private` and `/shared` are only for GETMETADATA
/// (with DEPTH they name everything below).
fn entry(p: &mut P, bare_ok: bool) -> PResult<String> {
    let name = p.astring_utf8("an entry name")?.to_lowercase();
    let scoped = ["/private", "/shared"].iter().any(|s| {
        name.strip_prefix(s)
            .is_some_and(|rest| rest.starts_with('/') || (bare_ok && rest.is_empty()))
    });
    if !scoped
        || name.len() > MAX_ENTRY_NAME
        || name.ends_with('/')
        || name.contains("//")
        || name.chars().any(|c| c == '*' || c == '%' || c.is_control())
    {
        return Err(format!("invalid entry name {name:?}"));
    }
    Ok(name)
}
