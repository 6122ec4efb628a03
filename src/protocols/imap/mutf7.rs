//! Modified UTF-7 for mailbox names (RFC 3501 §5.1.3; RFC 9051 §5.1.3 keeps it for clients
//! that have not enabled UTF8=ACCEPT).
//!
//! Printable US-ASCII except "&" stands for itself, "&" is written "&-", and everything else
//! is UTF-16BE in base64 (alphabet with "," instead of "/", no padding) between "&" and "-".
//!
//! Implementation notes:
//! - `decode` is strict, so that a name has exactly one encoding: it rejects characters outside
//!   printable US-ASCII, a shift that encodes a printable US-ASCII character (the RFC says
//!   "MUST NOT"), an empty shift other than "&-", non-zero padding bits, and broken surrogates.
//! - `encode` always produces what `decode` accepts, and `decode(&encode(s)) == Some(s)`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

fn is_direct(c: char) -> bool {
    (' '..='~').contains(&c) && c != '&'
}

fn sextet(b: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == b).map(|p| p as u32)
}

/// Decodes a modified UTF-7 name; `None` if `s` is not valid modified UTF-7.
pub fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    // A shift right after another shift would give a second spelling of the same name.
    let mut after_shift = false;
    while i < bytes.len() {
        let b = bytes[i];
        if !(0x20..=0x7e).contains(&b) {
            return None;
        }
        if b != b'&' {
            out.push(char::from(b));
            i += 1;
            after_shift = false;
            continue;
        }
        let end = i + 1 + bytes[i + 1..].iter().position(|&c| c == b'-')?;
        let chunk = &bytes[i + 1..end];
        if chunk.is_empty() {
            out.push('&');
            after_shift = false;
        } else {
            if after_shift {
                return None;
            }
            decode_shift(chunk, &mut out)?;
            after_shift = true;
        }
        i = end + 1;
    }
    Some(out)
}

/// Decodes the base64 between "&" and "-" into `out`.
fn decode_shift(chunk: &[u8], out: &mut String) -> Option<()> {
    let mut units: Vec<u16> = Vec::with_capacity(chunk.len() * 6 / 16);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &c in chunk {
        acc = (acc << 6) | sextet(c)?;
        bits += 6;
        if bits >= 16 {
            bits -= 16;
            units.push(((acc >> bits) & 0xffff) as u16);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be fewer than one sextet's worth of padding and all zero.
    if bits >= 6 || acc != 0 || units.is_empty() {
        return None;
    }
    for c in char::decode_utf16(units.iter().copied()) {
        let c = c.ok()?;
        if is_direct(c) || c == '&' {
            return None;
        }
        out.push(c);
    }
    Some(())
}

/// Encodes a UTF-8 name as modified UTF-7.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut pending: Vec<u16> = Vec::new();
    for c in s.chars() {
        if is_direct(c) {
            flush_shift(&mut pending, &mut out);
            out.push(c);
        } else if c == '&' {
            flush_shift(&mut pending, &mut out);
            out.push_str("&-");
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush_shift(&mut pending, &mut out);
    out
}

fn flush_shift(units: &mut Vec<u16>, out: &mut String) {
    if units.is_empty() {
        return;
    }
    out.push('&');
    let mut acc: u32 = 0;
    let mut bits = 0;
    for &u in units.iter() {
        acc = (acc << 16) | u32::from(u);
        bits += 16;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 0x3f) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 0x3f) as usize]));
    }
    out.push('-');
    units.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_examples() {
        // RFC 3501 §5.1.3.
        assert_eq!(
            decode("~peter/mail/&U,BTFw-/&ZeVnLIqe-").as_deref(),
            Some("~peter/mail/台北/日本語")
        );
        assert_eq!(
            encode("~peter/mail/台北/日本語"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(decode("Tom &- Jerry").as_deref(), Some("Tom & Jerry"));
        assert_eq!(encode("Tom & Jerry"), "Tom &- Jerry");
        assert_eq!(encode("Entwürfe"), "Entw&APw-rfe");
        assert_eq!(decode("Entw&APw-rfe").as_deref(), Some("Entwürfe"));
        assert_eq!(encode("😀"), "&2D3eAA-");
        assert_eq!(decode("&2D3eAA-").as_deref(), Some("😀"));
    }

    #[test]
    fn invalid() {
        for bad in [
            "&",          // unterminated
            "&U,BTFw",    // unterminated
            "&Jjo!-",     // bad base64 character
            "&AGE-",      // encodes "a", printable ASCII must be direct
            "&ACY-",      // encodes "&"
            "&U,BTF-",    // leftover bits not zero / truncated unit
            "&2D0-",      // lone high surrogate
            "caf\u{e9}",  // raw non-ASCII
            "tab\there",  // control character
            "&U,BTFw/-",  // "/" is not in the modified alphabet
            "&U,BTFwA-",  // extra sextet
            "&AOk-&AOk-", // two adjacent shifts: "&AOkA6Q-" is the one spelling
        ] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn round_trip(s in any::<String>()) {
            let e = encode(&s);
            prop_assert!(e.bytes().all(|b| (0x20..=0x7e).contains(&b)));
            prop_assert_eq!(decode(&e), Some(s));
        }

        #[test]
        fn decode_never_panics_and_is_canonical(s in "[ -~]{0,40}") {
            if let Some(d) = decode(&s) {
                prop_assert_eq!(encode(&d), s);
            }
        }
    }
}
