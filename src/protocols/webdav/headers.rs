//! The WebDAV request headers (RFC 4918 §10): Depth, Overwrite, Destination, If,
//! Lock-Token and Timeout. Each parser takes the header's value (or its absence) and
//! says what it means; an unreadable value is [`WebDavError::BadHeader`] (400).

use super::WebDavError;

/// `Depth` (§10.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depth {
    Zero,
    One,
    Infinity,
}

/// Parses `Depth`; `default` when absent (each method says its default).
pub fn depth(value: Option<&str>, default: Depth) -> Result<Depth, WebDavError> {
    match value.map(str::trim) {
        None => Ok(default),
        Some("0") => Ok(Depth::Zero),
        Some("1") => Ok(Depth::One),
        Some(v) if v.eq_ignore_ascii_case("infinity") => Ok(Depth::Infinity),
        Some(v) => Err(WebDavError::BadHeader(format!("Depth: {v:?}"))),
    }
}

/// `Overwrite` (§10.6): T (the default) or F.
pub fn overwrite(value: Option<&str>) -> Result<bool, WebDavError> {
    match value.map(str::trim) {
        None | Some("T") | Some("t") => Ok(true),
        Some("F") | Some("f") => Ok(false),
        Some(v) => Err(WebDavError::BadHeader(format!("Overwrite: {v:?}"))),
    }
}

/// `Destination` (§10.3): an absolute URI or an absolute path. Returns the path
/// (percent-encoded, as sent) and the authority when the URI had one, for the caller to
/// compare with its own (a COPY to another server is 502).
pub fn destination(value: &str) -> Result<(Option<String>, String), WebDavError> {
    let v = value.trim();
    if v.starts_with('/') {
        return Ok((None, v.to_string()));
    }
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .ok_or_else(|| WebDavError::BadHeader(format!("Destination: {v:?}")))?;
    match rest.find('/') {
        Some(i) => Ok((Some(rest[..i].to_string()), rest[i..].to_string())),
        None => Ok((Some(rest.to_string()), "/".to_string())),
    }
}

/// `Lock-Token` (§10.5): `<coded-URL>`; returns the URL inside.
pub fn lock_token(value: &str) -> Result<String, WebDavError> {
    let v = value.trim();
    v.strip_prefix('<')
        .and_then(|s| s.strip_suffix('>'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| WebDavError::BadHeader(format!("Lock-Token: {v:?}")))
}

/// Parses `Timeout` (§10.7): the first `Second-N` (capped at `max`), else `max` for
/// `Infinite` or absence.
pub fn timeout(value: Option<&str>, max: u64) -> u64 {
    let Some(v) = value else { return max };
    for t in v.split(',').map(str::trim) {
        if let Some(n) = t.strip_prefix("Second-") {
            if let Ok(n) = n.parse::<u64>() {
                return n.min(max);
            }
        }
        if t.eq_ignore_ascii_case("infinite") {
            return max;
        }
    }
    max
}

/// One condition of an `If` list (§10.4.2): a state token or an entity tag, maybe negated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Token { not: bool, token: String },
    ETag { not: bool, etag: String },
}

/// One list of the If header: the resource it is tagged with (a URL, for tagged lists)
/// and its conditions, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfList {
    pub resource: Option<String>,
    pub conditions: Vec<Condition>,
}

/// Parses `If` (§10.4): `1*No-tag-list | 1*Tagged-list`. The header is true when any
/// list holds (the caller evaluates them against its resources and locks).
pub fn if_header(value: &str) -> Result<Vec<IfList>, WebDavError> {
    let bad = || WebDavError::BadHeader(format!("If: {value:?}"));
    let mut out = Vec::new();
    let mut resource: Option<String> = None;
    let mut rest = value.trim_start();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('<') {
            let end = r.find('>').ok_or_else(bad)?;
            resource = Some(r[..end].to_string());
            rest = r[end + 1..].trim_start();
            continue;
        }
        let r = rest.strip_prefix('(').ok_or_else(bad)?;
        let end = r.find(')').ok_or_else(bad)?;
        let conditions = conditions(&r[..end]).ok_or_else(bad)?;
        if conditions.is_empty() {
            return Err(bad());
        }
        out.push(IfList {
            resource: resource.clone(),
            conditions,
        });
        rest = r[end + 1..].trim_start();
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

fn conditions(mut s: &str) -> Option<Vec<Condition>> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if s.is_empty() {
            return Some(out);
        }
        let mut not = false;
        if s.len() >= 3 && s[..3].eq_ignore_ascii_case("not") {
            not = true;
            s = s[3..].trim_start();
        }
        if let Some(r) = s.strip_prefix('<') {
            let end = r.find('>')?;
            out.push(Condition::Token {
                not,
                token: r[..end].to_string(),
            });
            s = &r[end + 1..];
        } else if let Some(r) = s.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Condition::ETag {
                not,
                etag: r[..end].trim().to_string(),
            });
            s = &r[end + 1..];
        } else {
            return None;
        }
    }
}

/// Whether an `If-Match`/`If-None-Match` value (RFC 9110 §13.1) names `etag` (quoted,
/// strong comparison) or is `*` for an existing resource.
pub fn etag_matches(value: &str, etag: Option<&str>) -> bool {
    let Some(etag) = etag else { return false };
    value
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == etag)
}
