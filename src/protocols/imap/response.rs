//! IMAP wire encoding helpers for server responses (RFC 9051 §4 data formats, §9 ABNF;
//! RFC 3516 `literal8`; RFC 3501 §5.1.3 modified UTF-7 mailbox names).
//!
//! Implementation notes:
//! - Every writer appends to a `Vec<u8>`; nothing here can fail or panic on any input.
//! - Strings are sent quoted when the quoted form can carry them (no CR, LF, NUL or 8-bit
//!   octets) and as a literal otherwise, so a value never has to be altered to be sent.
//! - `date_time` / `parse_date_time` implement `date-time` (INTERNALDATE, APPEND) without
//!   the surrounding double quotes; the caller adds them.

use crate::protocols::date::{civil_from_days, days_from_civil, MONTHS};

/// `ATOM-CHAR` plus `]` (`ASTRING-CHAR`, RFC 9051 §9): printable ASCII except
/// `atom-specials` = `( ) { SP CTL % * DQUOTE \`.
fn is_astring_char(b: u8) -> bool {
    (0x21..0x7f).contains(&b) && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\')
}

/// `QUOTED-CHAR` without UTF-8: any 7-bit TEXT-CHAR (no CR, LF, NUL).
fn quotable(s: &[u8], allow_8bit: bool) -> bool {
    s.iter()
        .all(|&b| b != 0 && b != b'\r' && b != b'\n' && (allow_8bit || b < 0x80))
}

fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// `astring`: an atom when every octet is an `ASTRING-CHAR` (and it is not `NIL`, which a
/// client could misread in an `nstring` position), else a string.
/// Responses produced by a command: untagged lines first, then the tagged completion.
pub type Out = Vec<u8>;

/// Appends one response line and its CRLF.
pub fn line(out: &mut Out, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

pub fn astring(out: &mut Vec<u8>, s: &[u8]) {
    if !s.is_empty() && s.iter().all(|&b| is_astring_char(b)) && !s.eq_ignore_ascii_case(b"NIL") {
        out.extend_from_slice(s);
    } else {
        string(out, s);
    }
}

/// `string = quoted / literal`.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    if quotable(s, false) {
        quoted(out, s);
    } else {
        literal(out, s);
    }
}

/// `nstring = string / nil`.
pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// `literal = "{" number64 "}" CRLF *CHAR8`.
pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// `literal8 = "~{" number64 "}" CRLF *OCTET` (RFC 3516: may contain NUL).
pub fn literal8(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("~{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

/// A mailbox name: modified UTF-7 (RFC 3501 §5.1.3) unless UTF8=ACCEPT is enabled, in
/// which case UTF-8 goes out as a quoted string (RFC 9051 §5.1, RFC 6855).
pub fn mailbox(out: &mut Vec<u8>, name: &str, utf8: bool) {
    if utf8 {
        let b = name.as_bytes();
        if !b.is_empty() && b.iter().all(|&c| is_astring_char(c)) {
            astring(out, b);
        } else if quotable(b, true) {
            quoted(out, b);
        } else {
            literal(out, b);
        }
    } else {
        astring(out, encode_mutf7(name).as_bytes());
    }
}

/// Modified UTF-7 (RFC 3501 §5.1.3): printable ASCII stands for itself, `&` is `&-`, and
/// anything else is UTF-16BE in modified base64 (`,` for `/`, no padding) between `&`
/// and `-`.
pub fn encode_mutf7(name: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    fn flush(out: &mut String, units: &mut Vec<u16>) {
        if units.is_empty() {
            return;
        }
        let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        for chunk in bytes.chunks(3) {
            let b0 = chunk.first().copied().unwrap_or(0);
            let b1 = chunk.get(1).copied().unwrap_or(0);
            let b2 = chunk.get(2).copied().unwrap_or(0);
            let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
            let sextets = chunk.len() + 1;
            for i in 0..sextets {
                let idx = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(ALPHABET[idx]));
            }
        }
        out.push('-');
        units.clear();
    }
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut out, &mut pending);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut out, &mut pending);
    out
}

/// System flag bits as stored in the index.
pub const SEEN: u8 = 1;
pub const ANSWERED: u8 = 2;
pub const FLAGGED: u8 = 4;
pub const DELETED: u8 = 8;
pub const DRAFT: u8 = 16;

/// `flag-list` for FETCH FLAGS: system flags in a fixed order, then `\Recent`, then keywords.
pub fn flags(out: &mut Vec<u8>, system: u8, keywords: &[String], recent: bool) {
    let mut items: Vec<&str> = Vec::new();
    for (bit, name) in [
        (SEEN, "\\Seen"),
        (ANSWERED, "\\Answered"),
        (FLAGGED, "\\Flagged"),
        (DELETED, "\\Deleted"),
        (DRAFT, "\\Draft"),
    ] {
        if system & bit != 0 {
            items.push(name);
        }
    }
    if recent {
        items.push("\\Recent");
    }
    items.extend(keywords.iter().map(String::as_str));
    out.push(b'(');
    out.extend_from_slice(items.join(" ").as_bytes());
    out.push(b')');
}

/// `date-time` without the quotes: `"17-Jul-1996 02:44:25 -0700"`, the day space-padded
/// (`date-day-fixed`), shown in the zone `offset_minutes` east of UTC.
pub fn date_time(unix: i64, offset_minutes: i32) -> String {
    let offset = offset_minutes.clamp(-(99 * 60 + 59), 99 * 60 + 59);
    let local = unix.saturating_add(i64::from(offset) * 60);
    let days = local.div_euclid(86_400);
    let secs = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let month = MONTHS
        .get((m as usize).wrapping_sub(1))
        .copied()
        .unwrap_or("Jan");
    let sign = if offset < 0 { '-' } else { '+' };
    let abs = offset.unsigned_abs();
    format!(
        "{:>2}-{}-{:04} {:02}:{:02}:{:02} {}{:02}{:02}",
        d,
        month,
        y,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        sign,
        abs / 60,
        abs % 60
    )
}

/// Parses `date-time` (with or without the surrounding quotes; the day may be one digit,
/// space-padded or zero-padded) into (unix time, zone offset in minutes).
pub fn parse_date_time(s: &str) -> Option<(i64, i32)> {
    let s = s.strip_prefix('"').unwrap_or(s);
    let s = s.strip_suffix('"').unwrap_or(s);
    let s = s.trim_start_matches(' ');
    let (date, rest) = s.split_once(' ')?;
    let (time, zone) = rest.split_once(' ')?;
    let mut dparts = date.split('-');
    let day: u32 = num(dparts.next()?, 1, 2)?;
    let mon = dparts.next()?;
    let year: i64 = i64::from(num(dparts.next()?, 4, 4)?);
    if dparts.next().is_some() {
        return None;
    }
    let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(mon))? as u32 + 1;
    let mut tparts = time.split(':');
    let h = num(tparts.next()?, 2, 2)?;
    let mi = num(tparts.next()?, 2, 2)?;
    let sec = num(tparts.next()?, 2, 2)?;
    if tparts.next().is_some() || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let zb = zone.as_bytes();
    if zb.len() != 5 {
        return None;
    }
    let sign = match zb[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let zh = num(zone.get(1..3)?, 2, 2)?;
    let zm = num(zone.get(3..5)?, 2, 2)?;
    if zm > 59 || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    let offset = sign * (zh as i32 * 60 + zm as i32);
    let local = days_from_civil(year, month, day) * 86_400
        + i64::from(h) * 3600
        + i64::from(mi) * 60
        + i64::from(sec);
    Some((local - i64::from(offset) * 60, offset))
}

fn num(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// `sequence-set` from numbers (sorted and deduplicated here): `1:3,5,7:9`. Writes nothing
/// for an empty list (the ABNF has no empty set: the caller omits the item).
pub fn sequence_set(out: &mut Vec<u8>, numbers: &[u32]) {
    let mut v = numbers.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut i = 0;
    let mut first = true;
    while i < v.len() {
        let start = v[i];
        let mut end = start;
        while i + 1 < v.len() && v[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = v[i];
        }
        if !first {
            out.push(b',');
        }
        first = false;
        if start == end {
            out.extend_from_slice(start.to_string().as_bytes());
        } else {
            out.extend_from_slice(format!("{start}:{end}").as_bytes());
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut out = Vec::new();
        f(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn strings_choose_the_lightest_form() {
        assert_eq!(w(|o| astring(o, b"INBOX")), "INBOX");
        assert_eq!(w(|o| astring(o, b"a]b")), "a]b");
        assert_eq!(w(|o| astring(o, b"")), "\"\"");
        assert_eq!(w(|o| astring(o, b"nil")), "\"nil\"");
        assert_eq!(w(|o| astring(o, b"two words")), "\"two words\"");
        assert_eq!(w(|o| astring(o, b"a\"b\\c")), "\"a\\\"b\\\\c\"");
        assert_eq!(w(|o| astring(o, b"a\r\nb")), "{4}\r\na\r\nb");
        assert_eq!(w(|o| string(o, "é".as_bytes())), "{2}\r\né");
        assert_eq!(w(|o| string(o, b"x\0")), "{2}\r\nx\0");
        assert_eq!(w(|o| nstring(o, None)), "NIL");
        assert_eq!(w(|o| nstring(o, Some(b"NIL"))), "\"NIL\"");
        assert_eq!(w(|o| literal8(o, b"\0\x01")), "~{2}\r\n\0\x01");
    }

    #[test]
    fn mailbox_names() {
        assert_eq!(
            encode_mutf7("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(encode_mutf7("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode_mutf7("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(w(|o| mailbox(o, "Entwürfe", false)), "Entw&APw-rfe");
        assert_eq!(w(|o| mailbox(o, "Entwürfe", true)), "\"Entwürfe\"");
        assert_eq!(w(|o| mailbox(o, "Sent Items", false)), "\"Sent Items\"");
        assert_eq!(w(|o| mailbox(o, "INBOX", true)), "INBOX");
    }

    #[test]
    fn flag_lists() {
        assert_eq!(w(|o| flags(o, 0, &[], false)), "()");
        assert_eq!(
            w(|o| flags(o, SEEN | DELETED | DRAFT, &["$Junk".into()], true)),
            "(\\Seen \\Deleted \\Draft \\Recent $Junk)"
        );
    }

    #[test]
    fn date_time_round_trip() {
        // RFC 9051 example: 17-Jul-1996 02:44:25 -0700 = 1996-07-17T09:44:25Z.
        let unix = 837_596_665;
        assert_eq!(date_time(unix, -420), "17-Jul-1996 02:44:25 -0700");
        assert_eq!(
            parse_date_time("17-Jul-1996 02:44:25 -0700"),
            Some((unix, -420))
        );
        assert_eq!(
            parse_date_time("\"17-Jul-1996 02:44:25 -0700\""),
            Some((unix, -420))
        );
        assert_eq!(date_time(0, 0), " 1-Jan-1970 00:00:00 +0000");
        assert_eq!(parse_date_time(" 1-Jan-1970 00:00:00 +0000"), Some((0, 0)));
        assert_eq!(parse_date_time("1-Jan-1970 00:00:00 +0000"), Some((0, 0)));
        assert_eq!(date_time(951_868_800, 330), " 1-Mar-2000 05:30:00 +0530");
        for (t, off) in [
            (1_700_000_000, 60),
            (-86_401, -59),
            (4_102_444_800, 0),
            (68_169_600, 840),
        ] {
            assert_eq!(parse_date_time(&date_time(t, off)), Some((t, off)));
        }
        for bad in [
            "",
            "30-Feb-2001 00:00:00 +0000",
            "1-Foo-2000 00:00:00 +0000",
            "01-Jan-2000 24:00:00 +0000",
            "01-Jan-2000 00:00:00 0000",
            "01-Jan-2000 00:00 +0000",
            "01-Jan-20000 00:00:00 +0000",
            "01-Jan-2000 00:00:00 +00600",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn sequence_sets_compress() {
        assert_eq!(w(|o| sequence_set(o, &[1, 2, 3, 5, 7, 8, 9])), "1:3,5,7:9");
        assert_eq!(w(|o| sequence_set(o, &[9, 1, 8, 2, 2])), "1:2,8:9");
        assert_eq!(w(|o| sequence_set(o, &[4])), "4");
        assert_eq!(w(|o| sequence_set(o, &[])), "");
        assert_eq!(
            w(|o| sequence_set(o, &[u32::MAX - 1, u32::MAX])),
            "4294967294:4294967295"
        );
    }
}
