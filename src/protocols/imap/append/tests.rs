//! APPEND through the whole session (framer, streaming, staging, parser, backend), with the
//! in-memory backend of the fuzz harness: every input is fed in reads of 1, 7, 64 and 4096
//! bytes, and all four must answer the same.

use super::super::fuzz::transcript;

/// Options byte of the fuzz harness: logged in and INBOX selected (0x08), reads of
/// 1/7/64/4096 bytes (bits 4-5). The harness's APPENDLIMIT is 64 KiB.
const SELECTED: u8 = 0x08;
/// Not logged in, plaintext login allowed.
const LOGGED_OUT: u8 = 0x02;

/// The session's output for `input`, the same for every read size.
fn answer(options: u8, input: &[u8]) -> String {
    String::from_utf8_lossy(&answer_bytes(options, input)).into_owned()
}

fn answer_bytes(options: u8, input: &[u8]) -> Vec<u8> {
    let outputs: Vec<Vec<u8>> = (0..4u8)
        .map(|chunks| {
            let mut data = vec![options | (chunks << 4)];
            data.extend_from_slice(input);
            transcript(&data)
        })
        .collect();
    for o in &outputs[1..] {
        assert_eq!(
            String::from_utf8_lossy(o),
            String::from_utf8_lossy(&outputs[0]),
            "the read size changed the answer"
        );
    }
    outputs[0].clone()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn message(size: usize) -> Vec<u8> {
    let mut m = b"Subject: streamed\r\n\r\n".to_vec();
    let mut i = 0u32;
    while m.len() < size {
        m.extend_from_slice(format!("line {i}\r\n").as_bytes());
        i += 1;
    }
    m.truncate(size);
    m
}

#[test]
fn every_kind_of_message_literal_is_stored_byte_for_byte() {
    let big = message(60_000);
    let binary = b"Subject: bin\r\n\r\n\0\x01\xff\0".to_vec();
    for (announce, body) in [
        (format!("{{{}}}", big.len()), &big),
        (format!("{{{}+}}", big.len()), &big),
        (format!("{{{}-}}", big.len()), &big),
        (format!("~{{{}}}", binary.len()), &binary),
        (format!("~{{{}+}}", binary.len()), &binary),
    ] {
        let mut input = format!("a1 APPEND INBOX (\\Flagged) {announce}\r\n").into_bytes();
        input.extend_from_slice(body);
        input.extend_from_slice(b"\r\nf1 UID FETCH 5 (FLAGS BINARY.PEEK[])\r\n");
        let raw = answer_bytes(SELECTED, &input);
        let out = String::from_utf8_lossy(&raw);
        assert!(
            out.contains("a1 OK [APPENDUID 1001 5] APPEND completed"),
            "{announce}: {out}"
        );
        if !announce.ends_with("+}") && !announce.ends_with("-}") {
            assert!(out.contains("+ Ready for literal data"), "{out}");
        }
        assert!(out.contains("\\Flagged"), "{out}");
        let literal8 = format!("BINARY[] ~{{{}}}\r\n", body.len());
        let literal = format!("BINARY[] {{{}}}\r\n", body.len());
        let (at, len) = find(&raw, literal8.as_bytes())
            .map(|a| (a, literal8.len()))
            .or_else(|| find(&raw, literal.as_bytes()).map(|a| (a, literal.len())))
            .unwrap_or_else(|| panic!("{announce}: no BINARY[] of the size: {out}"));
        assert_eq!(
            raw.get(at + len..at + len + body.len()),
            Some(&body[..]),
            "{announce}"
        );
    }
}

#[test]
fn multiappend_streams_each_message() {
    let out = answer(
        SELECTED,
        b"a1 APPEND INBOX {3}\r\nabc (\\Seen) {2+}\r\nde ~{3+}\r\nf\0g\r\n\
          s1 STATUS INBOX (MESSAGES)\r\n",
    );
    assert!(
        out.contains("a1 OK [APPENDUID 1001 5:7] APPEND completed"),
        "{out}"
    );
    assert!(out.contains("* STATUS INBOX (MESSAGES 7)"), "{out}");
}

#[test]
fn nul_needs_literal8() {
    let out = answer(
        SELECTED,
        b"a1 APPEND INBOX {3+}\r\na\0b\r\ns1 STATUS INBOX (MESSAGES)\r\n",
    );
    assert!(out.contains("a1 BAD APPEND: NUL in literal"), "{out}");
    assert!(out.contains("* STATUS INBOX (MESSAGES 4)"), "{out}");
}

#[test]
fn over_appendlimit_synchronizing_is_refused_before_the_continuation() {
    let out = answer(SELECTED, b"a1 APPEND INBOX {65537}\r\nb1 NOOP\r\n");
    assert!(
        out.contains("a1 NO [TOOBIG] Message exceeds APPENDLIMIT 65536\r\nb1 OK"),
        "{out}"
    );
    assert!(!out.contains("+ Ready"), "{out}");
}

#[test]
fn over_appendlimit_non_synchronizing_is_discarded_then_refused() {
    // The discarded bytes look like commands: none of them may run.
    let mut input = b"a1 APPEND INBOX {65537+}\r\n".to_vec();
    let end = input.len() + 65537;
    while input.len() < end {
        input.extend_from_slice(b"x1 LOGOUT\r\n");
    }
    input.truncate(end);
    input.extend_from_slice(b"\r\nb1 STATUS INBOX (MESSAGES)\r\n");
    let out = answer(SELECTED, &input);
    assert!(
        out.contains("a1 NO [TOOBIG] Message exceeds APPENDLIMIT 65536\r\n"),
        "{out}"
    );
    assert!(!out.contains("x1"), "{out}");
    assert!(!out.contains("BYE"), "{out}");
    assert!(out.contains("* STATUS INBOX (MESSAGES 4)"), "{out}");
}

#[test]
fn a_refusal_inside_a_multiappend_appends_nothing() {
    let out = answer(
        SELECTED,
        b"a1 APPEND INBOX {3}\r\nabc {65537}\r\na2 APPEND INBOX {2+}\r\nab {65537+}\r\n\
          s1 STATUS INBOX (MESSAGES)\r\n",
    );
    assert!(
        out.contains("a1 NO [TOOBIG] Message exceeds APPENDLIMIT 65536\r\n"),
        "{out}"
    );
    // a2's second literal is still coming (the input ends inside it): no answer yet, and
    // the STATUS line is part of the discarded bytes.
    assert!(!out.contains("a2 "), "{out}");
    let out = answer(
        SELECTED,
        b"a1 APPEND INBOX {3}\r\nabc {65537}\r\ns1 STATUS INBOX (MESSAGES)\r\n",
    );
    assert!(out.contains("* STATUS INBOX (MESSAGES 4)"), "{out}");
}

#[test]
fn append_before_login_is_bad_and_never_read() {
    let out = answer(LOGGED_OUT, b"a1 APPEND INBOX {52428800}\r\nb1 NOOP\r\n");
    assert!(
        out.contains("a1 BAD APPEND is not valid before login\r\nb1 OK"),
        "{out}"
    );
    assert!(!out.contains("+ Ready"), "{out}");
    let out = answer(
        LOGGED_OUT,
        b"a1 APPEND INBOX {11+}\r\nx1 LOGOUT\r\n\r\nb1 NOOP\r\n",
    );
    assert!(
        out.contains("a1 BAD APPEND is not valid before login\r\nb1 OK"),
        "{out}"
    );
    assert!(!out.contains("x1"), "{out}");
}

#[test]
fn credentials_before_login_are_small() {
    let out = answer(LOGGED_OUT, b"a1 LOGIN {8193}\r\nb1 NOOP\r\n");
    assert!(
        out.contains("a1 NO [TOOBIG] A literal of 8193 octets is too large\r\nb1 OK"),
        "{out}"
    );
    let mut input = b"a1 LOGIN {8193+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 8193));
    input.extend_from_slice(b" x\r\nb1 NOOP\r\n");
    let out = answer(LOGGED_OUT, &input);
    assert!(
        out.contains("a1 NO [TOOBIG] A literal of 8193 octets is too large\r\nb1 OK"),
        "{out}"
    );
}

#[test]
fn limits_rise_at_login() {
    // 100 KiB search string: over the pre-login bound, fine once logged in.
    let mut input = b"s1 SEARCH TEXT {102400+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 102_400));
    input.extend_from_slice(b"\r\n");
    let out = answer(SELECTED, &input);
    assert!(out.contains("s1 OK"), "{out}");
}

#[test]
fn a_message_literal_where_idle_or_sasl_expects_a_line_ends_them() {
    let out = answer(
        SELECTED,
        b"i1 IDLE\r\na1 APPEND INBOX {3+}\r\nabc\r\ns1 STATUS INBOX (MESSAGES)\r\n",
    );
    assert!(out.contains("i1 BAD Expected DONE\r\n"), "{out}");
    assert!(!out.contains("a1 "), "{out}");
    assert!(out.contains("* STATUS INBOX (MESSAGES 4)"), "{out}");
    let out = answer(
        LOGGED_OUT,
        b"x1 AUTHENTICATE PLAIN\r\na1 APPEND INBOX {3}\r\nb1 NOOP\r\n",
    );
    assert!(
        out.contains("x1 BAD Authentication cancelled\r\nb1 OK"),
        "{out}"
    );
}

#[test]
fn a_command_dropped_after_a_message_leaves_nothing_for_the_next() {
    // The harness's lines are at most 8 KiB: the MULTIAPPEND's second line is too long.
    let mut input = b"a1 APPEND INBOX {3+}\r\nabc ".to_vec();
    input.extend(std::iter::repeat_n(b'(', 9000));
    input.extend_from_slice(b"\r\na2 APPEND INBOX {3+}\r\ndef\r\n");
    let out = answer(SELECTED, &input);
    assert!(out.contains("a1 BAD Line too long"), "{out}");
    assert!(
        out.contains("a2 OK [APPENDUID 1001 5] APPEND completed"),
        "{out}"
    );
}
