//! ENVELOPE (RFC 9051 §7.5.2) and the RFC 5322 §3.4 address-list parser behind it.
//!
//! Values are sent as they stand in the header (encoded words are not decoded: RFC 9051
//! leaves that to the client), unfolded because a quoted string cannot hold a line end.
//! The parser is lenient (obsolete syntax, missing brackets, garbage between addresses)
//! and total: any bytes give some list, possibly empty.

use super::{field_value, skip_comment, unfold, Entity, ParsedMessage};
use crate::protocols::imap::response;

/// One element of an address list as ENVELOPE shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressItem {
    Mailbox {
        name: Option<Vec<u8>>,
        /// Obsolete source route, `@a,@b`.
        adl: Option<Vec<u8>>,
        mailbox: Vec<u8>,
        /// `None` when the address has no `@domain`.
        host: Option<Vec<u8>>,
    },
    /// `display-name:` — shown as `(NIL NIL name NIL)`.
    GroupStart(Vec<u8>),
    /// `;` — shown as `(NIL NIL NIL NIL)`.
    GroupEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// An atom (dots included: `john.doe`, `J.`) or a domain literal.
    Atom(Vec<u8>),
    /// A quoted string's content, unescaped.
    Quoted(Vec<u8>),
    Special(u8),
    /// A comment's text without its outer parentheses: ignored by the grammar, but it
    /// stands for the display name of a bare `user@host (Real Name)`.
    Comment(Vec<u8>),
}

fn tokenize(v: &[u8]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while let Some(&b) = v.get(i) {
        match b {
            b'(' => {
                let end = skip_comment(v, i);
                let inner = v.get(i + 1..end).unwrap_or_default();
                let inner = inner.strip_suffix(b")").unwrap_or(inner);
                toks.push(Tok::Comment(unescape(inner)));
                i = end;
                continue;
            }
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while let Some(&c) = v.get(i) {
                    i += 1;
                    match c {
                        b'"' => break,
                        b'\\' => {
                            if let Some(&n) = v.get(i) {
                                s.push(n);
                                i += 1;
                            }
                        }
                        _ => s.push(c),
                    }
                }
                toks.push(Tok::Quoted(s));
                continue;
            }
            b'[' => {
                let end = v
                    .get(i..)
                    .and_then(|r| r.iter().position(|&c| c == b']'))
                    .map_or(v.len(), |p| i + p + 1);
                toks.push(Tok::Atom(v.get(i..end).unwrap_or_default().to_vec()));
                i = end;
                continue;
            }
            b'<' | b'>' | b':' | b';' | b'@' | b',' | b'\\' | b']' | b')' => {
                toks.push(Tok::Special(b))
            }
            b if b.is_ascii_whitespace() => {}
            _ => {
                let start = i;
                while v
                    .get(i)
                    .is_some_and(|&c| !c.is_ascii_whitespace() && !b"()<>[]:;@,\\\"".contains(&c))
                {
                    i += 1;
                }
                toks.push(Tok::Atom(v.get(start..i).unwrap_or_default().to_vec()));
                continue;
            }
        }
        i += 1;
    }
    toks
}

/// A quoted-pair `\\x` stands for `x`.
fn unescape(v: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    let mut bytes = v.iter();
    while let Some(&b) = bytes.next() {
        match (b, bytes.clone().next()) {
            (b'\\', Some(&n)) => {
                out.push(n);
                bytes.next();
            }
            _ => out.push(b),
        }
    }
    out
}

fn word(t: &Tok) -> Option<&[u8]> {
    match t {
        Tok::Atom(w) | Tok::Quoted(w) => Some(w),
        Tok::Special(_) | Tok::Comment(_) => None,
    }
}

/// The last non-empty comment among `toks`, as a display name.
fn comment_name(toks: &[Tok]) -> Option<Vec<u8>> {
    toks.iter().rev().find_map(|t| match t {
        Tok::Comment(c) => {
            let c = c.trim_ascii();
            (!c.is_empty()).then(|| c.to_vec())
        }
        _ => None,
    })
}

/// Words joined by single spaces; `None` if there are none.
fn phrase(toks: &[Tok]) -> Option<Vec<u8>> {
    let words: Vec<&[u8]> = toks.iter().filter_map(word).collect();
    (!words.is_empty()).then(|| words.join(&b' '))
}

fn is_special(t: Option<&Tok>, set: &[u8]) -> bool {
    matches!(t, Some(Tok::Special(c)) if set.contains(c))
}

/// Parses an address list (`From`, `To`, … value).
pub(crate) fn parse_addresses(value: &[u8]) -> Vec<AddressItem> {
    let toks = tokenize(&unfold(value));
    let mut out = Vec::new();
    let mut i = 0;
    let mut in_group = false;
    while i < toks.len() {
        if is_special(toks.get(i), b",") {
            i += 1;
            continue;
        }
        if is_special(toks.get(i), b";") {
            if in_group {
                out.push(AddressItem::GroupEnd);
                in_group = false;
            }
            i += 1;
            continue;
        }
        // A group starts with a phrase and a colon before any '<', '@' or ','.
        let colon = toks
            .get(i..)
            .unwrap_or_default()
            .iter()
            .position(|t| matches!(t, Tok::Special(b':' | b'<' | b'@' | b',' | b';')))
            .filter(|&p| is_special(toks.get(i + p), b":"));
        if let (Some(p), false) = (colon, in_group) {
            let name = phrase(toks.get(i..i + p).unwrap_or_default()).unwrap_or_default();
            out.push(AddressItem::GroupStart(name));
            in_group = true;
            i += p + 1;
            continue;
        }
        let (item, next) = parse_mailbox(&toks, i);
        if let Some(item) = item {
            out.push(item);
        }
        i = next.max(i + 1);
    }
    if in_group {
        out.push(AddressItem::GroupEnd);
    }
    out
}

/// One `mailbox` from `toks[i..]`; returns it and the index of the `,`/`;` that ends it.
fn parse_mailbox(toks: &[Tok], mut i: usize) -> (Option<AddressItem>, usize) {
    let start = i;
    while i < toks.len() && !is_special(toks.get(i), b"<@,;") {
        i += 1;
    }
    let item = if is_special(toks.get(i), b"<") {
        let name = phrase(toks.get(start..i).unwrap_or_default());
        i += 1;
        let mut adl = None;
        if is_special(toks.get(i), b"@") {
            let route_start = i;
            while i < toks.len() && !is_special(toks.get(i), b":>") {
                i += 1;
            }
            if is_special(toks.get(i), b":") {
                adl = Some(concat(toks.get(route_start..i).unwrap_or_default()));
                i += 1;
            } else {
                i = route_start;
            }
        }
        let (mailbox, host, next) = addr_spec(toks, i, b">,;");
        i = next;
        if is_special(toks.get(i), b">") {
            i += 1;
        }
        Some(AddressItem::Mailbox {
            name,
            adl,
            mailbox,
            host,
        })
    } else {
        let (mailbox, host, next) = addr_spec(toks, start, b",;");
        i = next;
        // A bare addr-spec has no phrase; the old `user@host (Real Name)` form puts the
        // name in a comment, and ENVELOPE shows it as the name (as Dovecot and UW do).
        (!mailbox.is_empty() || host.is_some()).then(|| AddressItem::Mailbox {
            name: comment_name(toks.get(start..next).unwrap_or_default()),
            adl: None,
            mailbox,
            host,
        })
    };
    // Skip whatever trails the address up to the next separator.
    while i < toks.len() && !is_special(toks.get(i), b",;") {
        i += 1;
    }
    (item, i)
}

/// `local-part [@ domain]` up to one of `stop`.
fn addr_spec(toks: &[Tok], mut i: usize, stop: &[u8]) -> (Vec<u8>, Option<Vec<u8>>, usize) {
    let start = i;
    while i < toks.len() && !is_special(toks.get(i), b"@") && !is_special(toks.get(i), stop) {
        i += 1;
    }
    let local = concat(toks.get(start..i).unwrap_or_default());
    let mut host = None;
    if is_special(toks.get(i), b"@") {
        i += 1;
        let hs = i;
        while i < toks.len() && !is_special(toks.get(i), stop) {
            i += 1;
        }
        host = Some(concat(toks.get(hs..i).unwrap_or_default()));
    }
    (local, host, i)
}

fn concat(toks: &[Tok]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in toks {
        match t {
            Tok::Atom(w) | Tok::Quoted(w) => out.extend_from_slice(w),
            Tok::Special(c) => out.push(*c),
            Tok::Comment(_) => {}
        }
    }
    out
}

/// `env-from` etc.: `NIL` for an empty list, else `((name adl mailbox host)...)`.
fn write_addresses(out: &mut Vec<u8>, items: &[AddressItem]) {
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for item in items {
        out.push(b'(');
        match item {
            AddressItem::Mailbox {
                name,
                adl,
                mailbox,
                host,
            } => {
                response::nstring(out, name.as_deref());
                out.push(b' ');
                response::nstring(out, adl.as_deref());
                out.push(b' ');
                response::string(out, mailbox);
                out.push(b' ');
                // RFC 9051 §7.5.2: a NIL host means group syntax, so an address without a
                // domain gets an empty host.
                response::string(out, host.as_deref().unwrap_or_default());
            }
            AddressItem::GroupStart(name) => {
                out.extend_from_slice(b"NIL NIL ");
                response::string(out, name);
                out.extend_from_slice(b" NIL");
            }
            AddressItem::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}

/// Writes the ENVELOPE of the message whose root entity is `e`.
pub(super) fn write_envelope(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    let text = |out: &mut Vec<u8>, name: &str| {
        let v = field_value(raw, &e.fields, name).map(unfold);
        response::nstring(out, v.as_deref());
    };
    let addrs = |name: &str| {
        field_value(raw, &e.fields, name)
            .map(parse_addresses)
            .unwrap_or_default()
    };
    out.push(b'(');
    text(out, "date");
    out.push(b' ');
    text(out, "subject");
    let from = addrs("from");
    for name in ["from", "sender", "reply-to", "to", "cc", "bcc"] {
        out.push(b' ');
        let list = if name == "from" {
            from.clone()
        } else {
            addrs(name)
        };
        // RFC 9051 §7.5.2: sender and reply-to default to from.
        if list.is_empty() && matches!(name, "sender" | "reply-to") {
            write_addresses(out, &from);
        } else {
            write_addresses(out, &list);
        }
    }
    out.push(b' ');
    text(out, "in-reply-to");
    out.push(b' ');
    text(out, "message-id");
    out.push(b')');
}

impl ParsedMessage<'_> {
    /// ENVELOPE: `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
    pub fn envelope(&self, out: &mut Vec<u8>) {
        write_envelope(out, self.raw, &self.root);
    }
}
