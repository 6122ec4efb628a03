//! Content decoding for BINARY, PREVIEW and SEARCH: transfer encodings (lenient, total),
//! RFC 2047 header words and charsets (mail-parser's decoders).

use super::{trim, unfold};

/// Decodes base64 leniently: characters outside the alphabet are skipped, decoding stops
/// at `=`, and a trailing partial quantum is dropped.
pub(crate) fn decode_base64(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &b in data {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// Decodes quoted-printable (RFC 2045 §6.7) leniently: soft line breaks removed, invalid
/// `=` sequences kept literally, trailing whitespace before a line end dropped.
pub(crate) fn decode_qp(data: &[u8]) -> Vec<u8> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'A'..=b'F' => Some(b - b'A' + 10),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    while let Some(&b) = data.get(i) {
        if b == b'=' {
            let rest = data.get(i + 1..).unwrap_or_default();
            let ws = rest
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            match rest.get(ws..) {
                Some([b'\r', b'\n', ..]) => {
                    i += 3 + ws;
                    continue;
                }
                Some([b'\n', ..]) => {
                    i += 2 + ws;
                    continue;
                }
                Some([]) => break,
                _ => {}
            }
            if let (Some(h), Some(l)) = (
                rest.first().copied().and_then(hex),
                rest.get(1).copied().and_then(hex),
            ) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(b);
        } else if b == b' ' || b == b'\t' {
            let ws = data
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
            let after = data.get(i + ws..).unwrap_or_default();
            if !(after.is_empty() || after.starts_with(b"\r\n") || after.starts_with(b"\n")) {
                out.extend_from_slice(data.get(i..i + ws).unwrap_or_default());
            }
            i += ws;
            continue;
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// Decodes RFC 2047 encoded words in an (unfolded) unstructured header value to UTF-8.
pub(crate) fn decode_header_value(value: &[u8]) -> String {
    let mut v = unfold(value);
    if v.is_empty() {
        return String::new();
    }
    v.push(b'\n');
    match mail_parser::parsers::MessageStream::new(&v).parse_unstructured() {
        mail_parser::HeaderValue::Text(t) => t.into_owned(),
        _ => String::from_utf8_lossy(trim(&v)).into_owned(),
    }
}

/// Converts text in `charset` to UTF-8 (mail-parser's decoders; lossy UTF-8 otherwise).
pub(super) fn to_utf8(bytes: &[u8], charset: Option<&[u8]>) -> String {
    match charset.and_then(mail_parser::decoders::charsets::map::charset_decoder) {
        Some(decode) => decode(bytes),
        None => String::from_utf8_lossy(bytes).into_owned(),
    }
}
