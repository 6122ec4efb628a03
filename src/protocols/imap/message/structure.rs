//! BODYSTRUCTURE and BODY (RFC 9051 §7.5.2, ABNF `body`).
//!
//! Type, subtype, parameter names and the encoding are sent upper-case, as in the RFC's
//! examples; parameter values as given. Sizes are octets of the body as stored (still
//! transfer-encoded); line counts are lines of that body.

use super::envelope::write_envelope;
use super::{field_value, parse_content_type, unfold, ContentType, Entity, Kind, ParsedMessage};
use crate::protocols::imap::response;

fn upper(out: &mut Vec<u8>, s: &str) {
    response::string(out, s.to_ascii_uppercase().as_bytes());
}

/// `body-fld-param`: `("NAME" "value" ...)` or NIL.
fn params(out: &mut Vec<u8>, params: &[(String, Vec<u8>)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        upper(out, name);
        out.push(b' ');
        response::string(out, value);
    }
    out.push(b')');
}

/// `body-fld-lines`: the body's line ends, as Dovecot counts them (the CRLF before a
/// multipart boundary belongs to the boundary, so a part's last line has none, and a body
/// without a final line end ends in a line that is not counted); imaptest's fetch-* and
/// urlauth-binary groups check these figures against Dovecot's.
fn lines(body: &[u8]) -> usize {
    body.iter().filter(|&&b| b == b'\n').count()
}

/// The parameters to show: the default text/plain gets its implied `CHARSET US-ASCII`.
fn shown_params(c: &ContentType) -> Vec<(String, Vec<u8>)> {
    if c.defaulted && c.ty == "text" {
        vec![("charset".into(), b"US-ASCII".to_vec())]
    } else {
        c.params.clone()
    }
}

/// `body-fld-dsp SP body-fld-lang SP body-fld-loc`.
fn extension_tail(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    match field_value(raw, &e.fields, "content-disposition").and_then(parse_content_type) {
        Some(d) => {
            out.push(b'(');
            upper(out, &d.ty);
            out.push(b' ');
            params(out, &d.params);
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    let langs: Vec<Vec<u8>> = field_value(raw, &e.fields, "content-language")
        .map(unfold)
        .unwrap_or_default()
        .split(|&b| b == b',')
        .map(|l| super::trim(l).to_vec())
        .filter(|l| !l.is_empty())
        .collect();
    match langs.as_slice() {
        [] => out.extend_from_slice(b"NIL"),
        [one] => response::string(out, one),
        many => {
            out.push(b'(');
            for (i, l) in many.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                response::string(out, l);
            }
            out.push(b')');
        }
    }
    out.push(b' ');
    let loc = field_value(raw, &e.fields, "content-location").map(unfold);
    response::nstring(out, loc.as_deref());
}

pub(super) fn write_body(out: &mut Vec<u8>, raw: &[u8], e: &Entity, extensible: bool) {
    out.push(b'(');
    match &e.kind {
        Kind::Multipart(parts) => {
            for p in parts {
                write_body(out, raw, p, extensible);
            }
            out.push(b' ');
            upper(out, &e.ctype.sub);
            if extensible {
                out.push(b' ');
                params(out, &e.ctype.params);
                out.push(b' ');
                extension_tail(out, raw, e);
            }
        }
        kind => {
            let body = raw.get(e.body.clone()).unwrap_or_default();
            upper(out, &e.ctype.ty);
            out.push(b' ');
            upper(out, &e.ctype.sub);
            out.push(b' ');
            params(out, &shown_params(&e.ctype));
            for name in ["content-id", "content-description"] {
                out.push(b' ');
                let v = field_value(raw, &e.fields, name).map(unfold);
                response::nstring(out, v.as_deref());
            }
            out.push(b' ');
            let cte = field_value(raw, &e.fields, "content-transfer-encoding")
                .map(unfold)
                .filter(|v| !v.is_empty())
                .map_or_else(
                    || "7BIT".to_string(),
                    |v| String::from_utf8_lossy(&v).into_owned(),
                );
            upper(out, &cte);
            out.extend_from_slice(format!(" {}", body.len()).as_bytes());
            if let Kind::Message(inner) = kind {
                out.push(b' ');
                write_envelope(out, raw, inner);
                out.push(b' ');
                write_body(out, raw, inner, extensible);
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            } else if e.ctype.ty == "text" {
                out.extend_from_slice(format!(" {}", lines(body)).as_bytes());
            }
            if extensible {
                out.push(b' ');
                let md5 = field_value(raw, &e.fields, "content-md5").map(unfold);
                response::nstring(out, md5.as_deref());
                out.push(b' ');
                extension_tail(out, raw, e);
            }
        }
    }
    out.push(b')');
}

impl ParsedMessage<'_> {
    /// BODYSTRUCTURE (`extensible`) or BODY.
    pub fn body_structure(&self, out: &mut Vec<u8>, extensible: bool) {
        write_body(out, self.raw, &self.root, extensible);
    }

    /// The extensible structure of one part (RFC 5524 BODYPARTSTRUCTURE; the empty path is
    /// the message); false when there is no such part.
    pub fn part_structure(&self, part: &[u32], out: &mut Vec<u8>) -> bool {
        match super::resolve(&self.root, part) {
            Some(e) => {
                write_body(out, self.raw, e, true);
                true
            }
            None => false,
        }
    }
}
