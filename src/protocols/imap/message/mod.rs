//! What FETCH needs from a stored message (RFC 9051 §6.4.5, §7.5.2): ENVELOPE,
//! BODYSTRUCTURE/BODY, `BODY[section]<partial>`, BINARY (RFC 3516), PREVIEW (RFC 8970).
//!
//! Implementation notes:
//! - IMAP answers in octet ranges of the stored message (section contents, body sizes,
//!   line counts, raw header values for ENVELOPE), so the MIME tree here is our own: every
//!   entity is a set of ranges into the raw bytes, built by a small, total parser that
//!   never fails and never panics (malformed MIME, missing boundaries, 8-bit and NUL
//!   octets, bare LF line ends). mail-parser's tree is not used for that because nested
//!   messages there are re-based onto decoded copies and some recovery paths on corrupted
//!   input end in `debug_assert!(false)`. mail-parser does the decoding: RFC 2047 encoded
//!   words, charsets, `Date:` parsing, HTML to text.
//! - Part numbers (RFC 9051 §6.4.5): a non-multipart message has exactly part 1 (its
//!   body); the parts of a multipart are numbered from 1; the parts of a message/rfc822
//!   part are those of the message it encloses.
//! - Nesting deeper than `MAX_DEPTH` is treated as an opaque leaf.
//! - A multipart without a boundary parameter, or whose boundary never occurs, is shown
//!   as text/plain (RFC 2046 §5.1.1 leaves it undefined; a multipart with no parts has no
//!   BODYSTRUCTURE syntax). An encoded message/rfc822 (forbidden by RFC 2046 §5.2.1) is
//!   shown as application/octet-stream, since its parts have no octet ranges to address.

mod convert;
mod decode;
mod envelope;
mod structure;

use std::ops::Range;

use thiserror::Error;

use super::response;
use super::types::{Section, SectionText};

pub(crate) use decode::decode_header_value;
use decode::{decode_base64, decode_qp, to_utf8};
pub(crate) use envelope::{parse_addresses, AddressItem};

const MAX_DEPTH: usize = 48;

/// One header field: ranges into the raw message.
#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: Range<usize>,
    /// After the colon, up to (not including) the line end that closes the field.
    pub value: Range<usize>,
    /// The whole field including its final line end.
    pub line: Range<usize>,
}

/// A parsed `Content-Type` (or `Content-Disposition`): lower-case type and subtype,
/// parameters as given (values unquoted; RFC 2231 forms are passed through as IMAP does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentType {
    pub ty: String,
    pub sub: String,
    pub params: Vec<(String, Vec<u8>)>,
    /// No Content-Type header: the RFC 2045 default, shown with CHARSET US-ASCII.
    pub defaulted: bool,
}

impl ContentType {
    fn text_plain() -> Self {
        ContentType {
            ty: "text".into(),
            sub: "plain".into(),
            params: vec![("charset".into(), b"us-ascii".to_vec())],
            defaulted: true,
        }
    }

    fn message_rfc822() -> Self {
        ContentType {
            ty: "message".into(),
            sub: "rfc822".into(),
            params: Vec::new(),
            defaulted: true,
        }
    }

    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn is(&self, ty: &str, sub: &str) -> bool {
        self.ty == ty && self.sub == sub
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Leaf,
    Multipart(Vec<Entity>),
    /// message/rfc822 or message/global: the enclosed message.
    Message(Box<Entity>),
}

/// A MIME entity: its header, body and type.
#[derive(Debug, Clone)]
pub(crate) struct Entity {
    /// The header including the blank line that ends it.
    pub header: Range<usize>,
    pub fields: Vec<Field>,
    pub body: Range<usize>,
    pub ctype: ContentType,
    pub kind: Kind,
}

/// Why BINARY cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BinaryError {
    /// RFC 3516 §4.3: the session answers `NO [UNKNOWN-CTE]`.
    #[error("unknown content-transfer-encoding")]
    UnknownCte,
    /// The part does not exist.
    #[error("no such part")]
    NoSuchPart,
}

/// A message parsed for FETCH, SEARCH and SORT; borrows the raw bytes.
#[derive(Debug, Clone)]
pub struct ParsedMessage<'a> {
    raw: &'a [u8],
    root: Entity,
}

/// Parses a message. Never fails: anything is some MIME structure, at worst one
/// text/plain part.
pub fn parse(raw: &[u8]) -> ParsedMessage<'_> {
    let root = parse_entity(raw, 0..raw.len(), ContentType::text_plain(), 0);
    ParsedMessage { raw, root }
}

fn find(hay: &[u8], from: usize, to: usize, byte: u8) -> Option<usize> {
    hay.get(from..to)?
        .iter()
        .position(|&b| b == byte)
        .map(|p| p + from)
}

/// Parses the header starting at `start`; returns the fields and where the body starts.
fn parse_header(raw: &[u8], start: usize, end: usize) -> (Vec<Field>, usize) {
    let mut fields = Vec::new();
    let mut pos = start;
    while pos < end {
        // A blank line ends the header.
        if raw.get(pos) == Some(&b'\n') {
            return (fields, pos + 1);
        }
        if raw.get(pos..pos + 2) == Some(b"\r\n") && pos + 2 <= end {
            return (fields, pos + 2);
        }
        let first_end = find(raw, pos, end, b'\n').map_or(end, |p| p + 1);
        let mut line_end = first_end;
        while line_end < end && matches!(raw.get(line_end), Some(b' ' | b'\t')) {
            line_end = find(raw, line_end, end, b'\n').map_or(end, |p| p + 1);
        }
        if let Some(colon) = find(raw, pos, first_end, b':') {
            let mut name_end = colon;
            while name_end > pos && matches!(raw.get(name_end - 1), Some(b' ' | b'\t')) {
                name_end -= 1;
            }
            let mut value_end = line_end;
            if raw.get(value_end.wrapping_sub(1)) == Some(&b'\n') && value_end > colon + 1 {
                value_end -= 1;
                if raw.get(value_end.wrapping_sub(1)) == Some(&b'\r') && value_end > colon + 1 {
                    value_end -= 1;
                }
            }
            if name_end > pos {
                fields.push(Field {
                    name: pos..name_end,
                    value: colon + 1..value_end,
                    line: pos..line_end,
                });
            }
        }
        pos = line_end;
    }
    (fields, end)
}

fn field_value<'r>(raw: &'r [u8], fields: &[Field], name: &str) -> Option<&'r [u8]> {
    fields
        .iter()
        .find(|f| {
            raw.get(f.name.clone())
                .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
        })
        .and_then(|f| raw.get(f.value.clone()))
}

/// Drops line ends (keeping the folding whitespace) and trims: RFC 5322 §2.2.3 unfolding.
pub(crate) fn unfold(v: &[u8]) -> Vec<u8> {
    let out: Vec<u8> = v
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    trim(&out).to_vec()
}

pub(crate) fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    v.get(start..end).unwrap_or_default()
}

/// Skips a parenthesised comment starting at `i` (which is `(`); returns the index after it.
pub(crate) fn skip_comment(v: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while let Some(&b) = v.get(i) {
        match b {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i + 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    i
}

/// Parses `type/subtype *(; attribute=value)` leniently. `None` when there is no type.
pub(crate) fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let v = unfold(value);
    let mut i = 0;
    let mut params = Vec::new();
    // type, "/", subtype up to the first ';'
    let mut head = Vec::new();
    while let Some(&b) = v.get(i) {
        match b {
            b';' => break,
            b'(' => {
                i = skip_comment(&v, i);
                continue;
            }
            b if b.is_ascii_whitespace() => {}
            _ => head.push(b),
        }
        i += 1;
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let (ty, sub) = match head.split_once('/') {
        Some((t, s)) => (t.to_string(), s.to_string()),
        None => (head.clone(), String::new()),
    };
    while i < v.len() {
        // at ';'
        i += 1;
        let mut name = Vec::new();
        while let Some(&b) = v.get(i) {
            match b {
                b'=' | b';' => break,
                b'(' => {
                    i = skip_comment(&v, i);
                    continue;
                }
                b if b.is_ascii_whitespace() => {}
                _ => name.push(b),
            }
            i += 1;
        }
        let mut value = Vec::new();
        if v.get(i) == Some(&b'=') {
            i += 1;
            while v.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
                i += 1;
            }
            if v.get(i) == Some(&b'"') {
                i += 1;
                while let Some(&b) = v.get(i) {
                    i += 1;
                    match b {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&n) = v.get(i) {
                                value.push(n);
                                i += 1;
                            }
                        }
                        _ => value.push(b),
                    }
                }
                while v.get(i).is_some_and(|&b| b != b';') {
                    i += 1;
                }
            } else {
                while let Some(&b) = v.get(i) {
                    if b == b';' {
                        break;
                    }
                    if b == b'(' {
                        i = skip_comment(&v, i);
                        continue;
                    }
                    value.push(b);
                    i += 1;
                }
                value = trim(&value).to_vec();
            }
        }
        if !name.is_empty() {
            params.push((String::from_utf8_lossy(&name).into_owned(), value));
        }
    }
    if ty.is_empty() {
        return None;
    }
    Some(ContentType {
        ty,
        sub,
        params,
        defaulted: false,
    })
}

fn parse_entity(raw: &[u8], range: Range<usize>, default: ContentType, depth: usize) -> Entity {
    let (fields, body_start) = parse_header(raw, range.start, range.end);
    let body = body_start.min(range.end)..range.end;
    let mut ctype = field_value(raw, &fields, "content-type")
        .and_then(parse_content_type)
        .filter(|c| !c.sub.is_empty())
        .unwrap_or(default);
    let cte = field_value(raw, &fields, "content-transfer-encoding")
        .map(|v| String::from_utf8_lossy(&unfold(v)).to_ascii_lowercase());
    let identity = cte
        .as_deref()
        .is_none_or(|c| matches!(c, "7bit" | "8bit" | "binary"));
    let mut kind = Kind::Leaf;
    if depth < MAX_DEPTH {
        if ctype.ty == "multipart" {
            let digest = ctype.sub == "digest";
            match ctype.param("boundary").map(<[u8]>::to_vec) {
                Some(b) if !b.is_empty() => {
                    let ranges = split_multipart(raw, body.clone(), &b);
                    if ranges.is_empty() {
                        ctype = ContentType::text_plain();
                    } else {
                        let parts = ranges
                            .into_iter()
                            .map(|r| {
                                let def = if digest {
                                    ContentType::message_rfc822()
                                } else {
                                    ContentType::text_plain()
                                };
                                parse_entity(raw, r, def, depth + 1)
                            })
                            .collect();
                        kind = Kind::Multipart(parts);
                    }
                }
                _ => ctype = ContentType::text_plain(),
            }
        } else if ctype.ty == "message" && matches!(ctype.sub.as_str(), "rfc822" | "global") {
            if identity {
                let inner = parse_entity(raw, body.clone(), ContentType::text_plain(), depth + 1);
                kind = Kind::Message(Box::new(inner));
            } else {
                ctype = ContentType {
                    ty: "application".into(),
                    sub: "octet-stream".into(),
                    params: Vec::new(),
                    defaulted: false,
                };
            }
        }
    } else if matches!(ctype.ty.as_str(), "multipart" | "message") {
        ctype = ContentType {
            ty: "application".into(),
            sub: "octet-stream".into(),
            params: Vec::new(),
            defaulted: false,
        };
    }
    Entity {
        header: range.start..body.start,
        fields,
        body,
        ctype,
        kind,
    }
}

/// The ranges of the body parts of a multipart body (RFC 2046 §5.1.1): between delimiter
/// lines `--boundary`, the line end before each delimiter belonging to the delimiter.
/// Without a close delimiter the last part runs to the end.
fn split_multipart(raw: &[u8], body: Range<usize>, boundary: &[u8]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = body.start;
    while pos < body.end {
        let line_end = find(raw, pos, body.end, b'\n').map_or(body.end, |p| p + 1);
        let line = raw.get(pos..line_end).unwrap_or_default();
        if let Some(rest) = line
            .strip_prefix(b"--")
            .and_then(|l| l.strip_prefix(boundary))
        {
            let close = rest.starts_with(b"--");
            let tail = if close {
                rest.get(2..).unwrap_or_default()
            } else {
                rest
            };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                if let Some(start) = current.take() {
                    let mut end = pos;
                    if end > start && raw.get(end - 1) == Some(&b'\n') {
                        end -= 1;
                        if end > start && raw.get(end - 1) == Some(&b'\r') {
                            end -= 1;
                        }
                    }
                    parts.push(start..end.max(start));
                }
                if close {
                    return parts;
                }
                current = Some(line_end);
            }
        }
        pos = line_end;
    }
    if let Some(start) = current {
        parts.push(start..body.end);
    }
    parts
}

impl Entity {
    fn field(&self, raw: &[u8], name: &str) -> Option<Vec<u8>> {
        field_value(raw, &self.fields, name).map(unfold)
    }

    /// The enclosed message's root when this is message/rfc822.
    fn message(&self) -> Option<&Entity> {
        match &self.kind {
            Kind::Message(m) => Some(m),
            _ => None,
        }
    }

    fn cte(&self, raw: &[u8]) -> String {
        self.field(raw, "content-transfer-encoding")
            .map(|v| String::from_utf8_lossy(&v).to_ascii_lowercase())
            .unwrap_or_default()
    }

    fn is_attachment(&self, raw: &[u8]) -> bool {
        field_value(raw, &self.fields, "content-disposition")
            .and_then(parse_content_type)
            .is_some_and(|d| d.ty == "attachment")
    }
}

/// Resolves an IMAP part number path (RFC 9051 §6.4.5) from a message's root entity.
fn resolve<'e>(root: &'e Entity, path: &[u32]) -> Option<&'e Entity> {
    let mut entity = root;
    let mut message_level = true;
    for &n in path {
        let (next, level) = step(entity, n, message_level)?;
        entity = next;
        message_level = level;
    }
    Some(entity)
}

fn step(entity: &Entity, n: u32, message_level: bool) -> Option<(&Entity, bool)> {
    let index = usize::try_from(n).ok()?.checked_sub(1)?;
    match &entity.kind {
        Kind::Multipart(parts) => parts.get(index).map(|p| (p, false)),
        _ if message_level => (index == 0).then_some((entity, false)),
        Kind::Message(inner) => step(inner, n, true),
        Kind::Leaf => None,
    }
}

impl<'a> ParsedMessage<'a> {
    fn bytes(&self, r: &Range<usize>) -> &'a [u8] {
        self.raw.get(r.clone()).unwrap_or_default()
    }

    /// Raw values of the top-level header fields called `name` (any case), in order,
    /// without the leading whitespace and final line end (folding kept).
    pub fn header(&self, name: &str) -> Vec<&'a [u8]> {
        let raw = self.raw;
        self.root
            .fields
            .iter()
            .filter(|f| {
                raw.get(f.name.clone())
                    .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
            })
            .filter_map(|f| raw.get(f.value.clone()))
            .map(|v| {
                let start = v
                    .iter()
                    .position(|b| *b != b' ' && *b != b'\t')
                    .unwrap_or(v.len());
                v.get(start..).unwrap_or_default()
            })
            .collect()
    }

    /// The `Date:` header as unix time (first occurrence; `None` if missing or invalid).
    pub fn sent_date(&self) -> Option<i64> {
        self.sent_date_parts().map(|d| d.to_timestamp())
    }

    /// The `Date:` header as parsed by mail-parser (for SENTON, which ignores the zone).
    pub(crate) fn sent_date_parts(&self) -> Option<mail_parser::DateTime> {
        let v = self.header("date").into_iter().next()?;
        let v = String::from_utf8_lossy(&unfold(v)).into_owned();
        mail_parser::DateTime::parse_rfc822(&v).filter(|d| d.is_valid())
    }

    /// `BODY[section]` contents, `None` for a part or section that does not exist.
    pub fn section(&self, part: &[u32], text: Option<&SectionText>) -> Option<Vec<u8>> {
        if part.is_empty() {
            return match text {
                None => Some(self.raw.to_vec()),
                Some(SectionText::Mime) => None,
                Some(t) => Some(self.message_section(&self.root, t)),
            };
        }
        let entity = resolve(&self.root, part)?;
        match text {
            None => Some(self.bytes(&entity.body).to_vec()),
            Some(SectionText::Mime) => Some(self.bytes(&entity.header).to_vec()),
            Some(t) => entity.message().map(|m| self.message_section(m, t)),
        }
    }

    /// HEADER, HEADER.FIELDS[.NOT] and TEXT of a message whose root is `m`.
    fn message_section(&self, m: &Entity, text: &SectionText) -> Vec<u8> {
        let pick = |names: &[String], wanted: bool| {
            let mut out = Vec::new();
            for f in &m.fields {
                let name = self.bytes(&f.name);
                let listed = names
                    .iter()
                    .any(|n| n.as_bytes().eq_ignore_ascii_case(name));
                if listed == wanted {
                    let line = self.bytes(&f.line);
                    out.extend_from_slice(line);
                    if !line.ends_with(b"\n") {
                        out.extend_from_slice(b"\r\n");
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        };
        match text {
            SectionText::Header | SectionText::Mime => self.bytes(&m.header).to_vec(),
            SectionText::Text => self.bytes(&m.body).to_vec(),
            SectionText::HeaderFields(names) => pick(names, true),
            SectionText::HeaderFieldsNot(names) => pick(names, false),
        }
    }

    /// `BINARY[part]`: the part's body with its content-transfer-encoding removed
    /// (RFC 3516). The empty path is the whole message, unchanged.
    pub fn binary(&self, part: &[u32]) -> Result<Vec<u8>, BinaryError> {
        if part.is_empty() {
            return Ok(self.raw.to_vec());
        }
        let entity = resolve(&self.root, part).ok_or(BinaryError::NoSuchPart)?;
        let body = self.bytes(&entity.body);
        match entity.cte(self.raw).as_str() {
            "" | "7bit" | "8bit" | "binary" => Ok(body.to_vec()),
            "base64" => Ok(decode_base64(body)),
            "quoted-printable" => Ok(decode_qp(body)),
            _ => Err(BinaryError::UnknownCte),
        }
    }

    /// A leaf's content decoded to UTF-8 (transfer encoding and charset).
    pub(crate) fn decoded_text(&self, e: &Entity) -> String {
        let body = self.bytes(&e.body);
        let bytes = match e.cte(self.raw).as_str() {
            "base64" => decode_base64(body),
            "quoted-printable" => decode_qp(body),
            _ => body.to_vec(),
        };
        to_utf8(&bytes, e.ctype.param("charset"))
    }

    /// Every text/* leaf, including those of enclosed messages, in order.
    pub(crate) fn text_leaves(&self) -> Vec<&Entity> {
        fn walk<'e>(e: &'e Entity, out: &mut Vec<&'e Entity>) {
            match &e.kind {
                Kind::Multipart(parts) => parts.iter().for_each(|p| walk(p, out)),
                Kind::Message(m) => walk(m, out),
                Kind::Leaf if e.ctype.ty == "text" => out.push(e),
                Kind::Leaf => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// RFC 8970 PREVIEW: up to 200 characters of the first text/plain part that is not an
    /// attachment (or, lacking one, of the first text/html part with the markup removed),
    /// whitespace collapsed. Enclosed messages are not looked into.
    pub fn preview(&self) -> String {
        fn first<'e>(e: &'e Entity, raw: &[u8], sub: &str) -> Option<&'e Entity> {
            match &e.kind {
                Kind::Multipart(parts) => parts.iter().find_map(|p| first(p, raw, sub)),
                Kind::Leaf if e.ctype.is("text", sub) && !e.is_attachment(raw) => Some(e),
                _ => None,
            }
        }
        let text = if let Some(e) = first(&self.root, self.raw, "plain") {
            self.decoded_text(e)
        } else if let Some(e) = first(&self.root, self.raw, "html") {
            mail_parser::decoders::html::html_to_text(&self.decoded_text(e))
        } else {
            String::new()
        };
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .chars()
            .take(200)
            .collect()
    }
}

/// `<origin.length>` (RFC 9051 §6.4.5): the octets from `origin`, at most `len` of them;
/// empty when `origin` is past the end.
pub fn partial(data: &[u8], origin: u32, len: u32) -> &[u8] {
    let start = (origin as usize).min(data.len());
    let end = start.saturating_add(len as usize).min(data.len());
    data.get(start..end).unwrap_or_default()
}

/// Section data fit for a `literal`: RFC 9051 §4.3 (`CHAR8 = %x01-ff`) allows no NUL
/// there, but a message appended as a binary literal (`~{n}`, RFC 3516) may hold NULs. A
/// BODY/RFC822 fetch then shows each NUL as 0x80, as Dovecot does: the size stays the same
/// (RFC822.SIZE and partial offsets still hold) and BINARY still returns the exact bytes.
pub fn without_nul(mut data: Vec<u8>) -> Vec<u8> {
    for b in data.iter_mut().filter(|b| **b == 0) {
        *b = 0x80;
    }
    data
}

/// The FETCH response item name for a body section: `BODY[1.HEADER.FIELDS (SUBJECT)]<0>`
/// (RFC 9051 §7.5.2: only the origin of a partial is echoed).
pub fn section_name(section: &Section, partial: Option<(u32, u32)>) -> String {
    let mut out = b"BODY[".to_vec();
    let parts: Vec<String> = section.part.iter().map(u32::to_string).collect();
    out.extend_from_slice(parts.join(".").as_bytes());
    if let Some(text) = &section.text {
        if !section.part.is_empty() {
            out.push(b'.');
        }
        let fields = |out: &mut Vec<u8>, names: &[String]| {
            out.extend_from_slice(b" (");
            for (i, n) in names.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                response::astring(out, n.as_bytes());
            }
            out.push(b')');
        };
        match text {
            SectionText::Header => out.extend_from_slice(b"HEADER"),
            SectionText::Text => out.extend_from_slice(b"TEXT"),
            SectionText::Mime => out.extend_from_slice(b"MIME"),
            SectionText::HeaderFields(n) => {
                out.extend_from_slice(b"HEADER.FIELDS");
                fields(&mut out, n);
            }
            SectionText::HeaderFieldsNot(n) => {
                out.extend_from_slice(b"HEADER.FIELDS.NOT");
                fields(&mut out, n);
            }
        }
    }
    out.push(b']');
    if let Some((origin, _)) = partial {
        out.extend_from_slice(format!("<{origin}>").as_bytes());
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests;
