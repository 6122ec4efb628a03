//! FETCH (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 8970 PREVIEW, RFC 7162 CHANGEDSINCE/VANISHED).

use super::super::types::{CommandBody, FetchAttr, FetchModifiers, Section, SectionText};
use super::lexer::{PResult, P};

/// `fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
/// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]`.
pub(super) fn fetch(p: &mut P, uid: bool) -> PResult<CommandBody> {
    p.sp()?;
    let set = p.sequence_set()?;
    p.sp()?;
    let attrs = if p.eat(b'(') {
        let mut attrs = Vec::new();
        loop {
            attrs.push(fetch_att(p)?);
            if !p.more() {
                break;
            }
        }
        p.close()?;
        attrs
    } else if p.eat_keyword("ALL") {
        all()
    } else if p.eat_keyword("FAST") {
        fast()
    } else if p.eat_keyword("FULL") {
        let mut a = all();
        a.push(FetchAttr::Body);
        a
    } else {
        vec![fetch_att(p)?]
    };
    let modifiers = if p.more() {
        modifiers(p, uid)?
    } else {
        FetchModifiers::default()
    };
    Ok(CommandBody::Fetch {
        uid,
        set,
        attrs,
        modifiers,
    })
}

/// FAST = FLAGS INTERNALDATE RFC822.SIZE.
fn fast() -> Vec<FetchAttr> {
    vec![
        FetchAttr::Flags,
        FetchAttr::InternalDate,
        FetchAttr::Rfc822Size,
    ]
}

/// ALL = FAST ENVELOPE.
fn all() -> Vec<FetchAttr> {
    let mut a = fast();
    a.push(FetchAttr::Envelope);
    a
}

/// `fetch-modifiers = SP "(" fetch-modifier *(SP fetch-modifier) ")"` (RFC 7162 §3.1.4,
/// §3.2.6: VANISHED only in UID FETCH and only with CHANGEDSINCE).
fn modifiers(p: &mut P, uid: bool) -> PResult<FetchModifiers> {
    let mut m = FetchModifiers::default();
    p.open()?;
    loop {
        match p.keyword("a FETCH modifier")?.as_str() {
            "CHANGEDSINCE" => {
                p.sp()?;
                m.changed_since = Some(p.number64("a mod-sequence")?);
            }
            "VANISHED" => m.vanished = true,
            // RFC 9394 §3.3 extends UID FETCH only.
            "PARTIAL" if uid => {
                p.sp()?;
                m.partial = Some(super::search::partial_range(p)?);
            }
            "PARTIAL" => return Err("PARTIAL needs UID FETCH".into()),
            other => return Err(format!("unknown modifier {other}")),
        }
        if !p.more() {
            break;
        }
    }
    p.close()?;
    if m.vanished && (!uid || m.changed_since.is_none()) {
        return Err("VANISHED needs UID FETCH and CHANGEDSINCE".into());
    }
    Ok(m)
}

pub(super) fn fetch_att(p: &mut P) -> PResult<FetchAttr> {
    let name = p.word("a fetch attribute")?;
    Ok(match name.as_str() {
        "ENVELOPE" => FetchAttr::Envelope,
        "FLAGS" => FetchAttr::Flags,
        "INTERNALDATE" => FetchAttr::InternalDate,
        "RFC822" => FetchAttr::Rfc822,
        "RFC822.HEADER" => FetchAttr::Rfc822Header,
        "RFC822.SIZE" => FetchAttr::Rfc822Size,
        "RFC822.TEXT" => FetchAttr::Rfc822Text,
        "BODYSTRUCTURE" => FetchAttr::BodyStructure,
        "UID" => FetchAttr::Uid,
        "MODSEQ" => FetchAttr::ModSeq,
        "EMAILID" => FetchAttr::EmailId,
        "THREADID" => FetchAttr::ThreadId,
        "SAVEDATE" => FetchAttr::SaveDate,
        "BODY" if p.peek() != Some(b'[') => FetchAttr::Body,
        "BODY" | "BODY.PEEK" => {
            let section = section(p)?;
            FetchAttr::BodySection {
                section,
                partial: partial(p)?,
                peek: name == "BODY.PEEK",
            }
        }
        "BINARY" | "BINARY.PEEK" => {
            let part = section_binary(p)?;
            FetchAttr::Binary {
                part,
                partial: partial(p)?,
                peek: name == "BINARY.PEEK",
            }
        }
        "BINARY.SIZE" => FetchAttr::BinarySize(section_binary(p)?),
        "PREVIEW" => {
            preview_modifiers(p)?;
            FetchAttr::Preview
        }
        other => return Err(format!("unknown fetch attribute {other}")),
    })
}

/// `"PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"]`, `preview-mod = "LAZY"`: told
/// apart from fetch modifiers by the keyword.
fn preview_modifiers(p: &mut P) -> PResult<()> {
    let rest = p.rest();
    if !(rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b" (LAZY")) {
        return Ok(());
    }
    p.sp()?;
    p.open()?;
    loop {
        if !p.eat_keyword("LAZY") {
            return Err("unknown PREVIEW modifier".into());
        }
        if !p.more() {
            break;
        }
    }
    p.close()
}

/// `section-part = nz-number *("." nz-number)`; stops before "." + a letter.
fn section_part(p: &mut P) -> PResult<Vec<u32>> {
    let mut part = Vec::new();
    while p.peek().is_some_and(|b| b.is_ascii_digit()) {
        part.push(p.nz_number("a part number")?);
        if p.peek() == Some(b'.') && p.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
            p.eat(b'.');
        } else {
            break;
        }
    }
    Ok(part)
}

/// `section = "[" [section-spec] "]"`.
fn section(p: &mut P) -> PResult<Section> {
    p.expect(b'[', "\"[\"")?;
    let part = section_part(p)?;
    let mut text = None;
    if p.peek() != Some(b']') {
        if !part.is_empty() {
            p.expect(b'.', "\".\" after the part number")?;
        }
        let kw = p.word("a section (HEADER, HEADER.FIELDS, TEXT, MIME)")?;
        text = Some(match kw.as_str() {
            "HEADER" => SectionText::Header,
            "TEXT" => SectionText::Text,
            "MIME" if !part.is_empty() => SectionText::Mime,
            "HEADER.FIELDS" => SectionText::HeaderFields(header_list(p)?),
            "HEADER.FIELDS.NOT" => SectionText::HeaderFieldsNot(header_list(p)?),
            other => return Err(format!("unknown section {other}")),
        });
    }
    p.expect(b']', "\"]\"")?;
    Ok(Section { part, text })
}

/// `SP header-list`; `header-list = "(" header-fld-name *(SP header-fld-name) ")"`.
fn header_list(p: &mut P) -> PResult<Vec<String>> {
    p.sp()?;
    p.open()?;
    let mut names = Vec::new();
    loop {
        names.push(p.astring_utf8("a header field name")?);
        if !p.more() {
            break;
        }
    }
    p.close()?;
    Ok(names)
}

/// `section-binary = "[" [section-part] "]"`.
fn section_binary(p: &mut P) -> PResult<Vec<u32>> {
    p.expect(b'[', "\"[\"")?;
    let part = section_part(p)?;
    p.expect(b']', "\"]\"")?;
    Ok(part)
}

/// `partial = "<" number "." nz-number ">"`.
fn partial(p: &mut P) -> PResult<Option<(u32, u32)>> {
    if !p.eat(b'<') {
        return Ok(None);
    }
    let offset = p.number("a partial offset")?;
    p.expect(b'.', "\".\" in partial")?;
    let len = p.nz_number("a partial length")?;
    p.expect(b'>', "\">\"")?;
    Ok(Some((offset, len)))
}
