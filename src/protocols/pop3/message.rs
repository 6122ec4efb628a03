//! A stored message on the POP3 wire (RFC 1939 §3, §7 TOP).
//!
//! A multi-line response is lines ending in CRLF, each starting with "." stuffed with one
//! more ".", closed by ".\r\n". Stored messages normally end their lines in CRLF already
//! (SMTP stores them so); one appended over IMAP may hold bare LFs, which are sent as CRLF.
//! A bare CR inside a line is sent as it is. A last line without a line end gets one.
//!
//! The octet count that STAT, LIST and RETR announce is that of the message as sent, every
//! line end a CRLF (the added last one included), before dot-stuffing and without the
//! terminating ".\r\n" — exactly what a client that stores the message gets ([`wire_size`]).

/// The octets of `message` as sent: its length, plus one CR for every bare LF, plus the CRLF
/// added after a last line that has no line end.
pub fn wire_size(message: &[u8]) -> u64 {
    let mut prev = 0u8;
    let mut bare = 0u64;
    for &b in message {
        if b == b'\n' && prev != b'\r' {
            bare += 1;
        }
        prev = b;
    }
    let unterminated = !message.is_empty() && prev != b'\n';
    message.len() as u64 + bare + if unterminated { 2 } else { 0 }
}

/// Lines of `message` without their line ends (a trailing empty piece is no line). Only a CR
/// right before an LF belongs to the line end; a last line without LF keeps all its bytes.
fn lines(message: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = message;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => {
                let line = &rest[..i];
                rest = &rest[i + 1..];
                Some(line.strip_suffix(b"\r").unwrap_or(line))
            }
            None => Some(std::mem::take(&mut rest)),
        }
    })
}

fn put_line(out: &mut Vec<u8>, line: &[u8]) {
    if line.first() == Some(&b'.') {
        out.push(b'.');
    }
    out.extend_from_slice(line);
    out.extend_from_slice(b"\r\n");
}

/// Appends the whole message, dot-stuffed, and the terminating ".\r\n" (RETR).
pub fn write_message(out: &mut Vec<u8>, message: &[u8]) {
    out.reserve(message.len() + message.len() / 32 + 3);
    for line in lines(message) {
        put_line(out, line);
    }
    out.extend_from_slice(b".\r\n");
}

/// Appends the header, the blank line after it and the first `n` lines of the body,
/// dot-stuffed, and the terminating ".\r\n" (TOP, RFC 1939 §7). A message without a body
/// gives its header only.
pub fn write_top(out: &mut Vec<u8>, message: &[u8], n: u32) {
    let mut in_body = false;
    let mut left = n;
    for line in lines(message) {
        if in_body {
            if left == 0 {
                break;
            }
            left -= 1;
        } else if line.is_empty() {
            in_body = true;
        }
        put_line(out, line);
    }
    out.extend_from_slice(b".\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retr(m: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_message(&mut out, m);
        out
    }

    fn top(m: &[u8], n: u32) -> Vec<u8> {
        let mut out = Vec::new();
        write_top(&mut out, m, n);
        out
    }

    /// Undoes dot-stuffing and the terminator: what a client stores.
    fn unstuff(wire: &[u8]) -> Vec<u8> {
        let body = wire.strip_suffix(b".\r\n").expect("terminated");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    #[test]
    fn retr_stuffs_dots_and_normalises_line_ends() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", b".\r\n"),
            (b"A: b\r\n\r\nbody\r\n", b"A: b\r\n\r\nbody\r\n.\r\n"),
            (
                b"A: b\n\n.hidden\n..two\n",
                b"A: b\r\n\r\n..hidden\r\n...two\r\n.\r\n",
            ),
            (b"A: b\r\n\r\nno end", b"A: b\r\n\r\nno end\r\n.\r\n"),
            (b".\r\n", b"..\r\n.\r\n"),
            (b"x\ry\r\n", b"x\ry\r\n.\r\n"),
            (b"\r\n\r\n", b"\r\n\r\n.\r\n"),
        ];
        for (m, wire) in cases {
            assert_eq!(retr(m), *wire, "{m:?}");
        }
    }

    #[test]
    fn octet_count_is_the_unstuffed_wire_form() {
        let messages: &[&[u8]] = &[
            b"A: b\r\n\r\nbody\r\n",
            b"A: b\n\n.hidden\n..two\n",
            b"x\ry\r\n.\r\n",
            b"no line end",
            b"ends in CR\r",
            b"Subject: caf\xc3\xa9\r\n\r\n\xe2\x82\xac\r\n",
        ];
        for m in messages {
            assert_eq!(wire_size(m), unstuff(&retr(m)).len() as u64, "{m:?}");
        }
        assert_eq!(wire_size(b"a\nb\r\n"), 6);
        assert_eq!(wire_size(b"a\r\nb"), 6);
        assert_eq!(wire_size(b""), 0);
    }

    #[test]
    fn top_sends_header_blank_line_and_n_body_lines() {
        let m = b"A: 1\r\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n";
        assert_eq!(top(m, 0), b"A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(top(m, 2), b"A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n.\r\n");
        assert_eq!(top(m, 99), retr(m));
        assert_eq!(top(b"A: 1\r\nB: 2\r\n", 5), b"A: 1\r\nB: 2\r\n.\r\n");
        assert_eq!(top(b"A: 1\n\nx\ny\n", 1), b"A: 1\r\n\r\nx\r\n.\r\n");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// RETR's output, un-stuffed, is the message with CRLF line ends: its length is
            /// the announced octet count, and no line of it is a lone ".".
            #[test]
            fn retr_round_trips(m in proptest::collection::vec(
                prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), any::<u8>()], 0..200)) {
                let wire = retr(&m);
                let body = &wire[..wire.len() - 3];
                prop_assert!(!body.windows(5).any(|w| w == b"\r\n.\r\n"));
                prop_assert!(!body.starts_with(b".\r\n"));
                let mut normalised = Vec::new();
                let mut prev = 0u8;
                for &b in &m {
                    if b == b'\n' && prev != b'\r' {
                        normalised.push(b'\r');
                    }
                    normalised.push(b);
                    prev = b;
                }
                let stored = unstuff(&wire);
                prop_assert_eq!(wire_size(&m), stored.len() as u64);
                prop_assert_eq!(&stored[..normalised.len()], &normalised[..]);
                let added = &stored[normalised.len()..];
                prop_assert!(added.is_empty() || added == b"\r\n");
            }
        }
    }
}
