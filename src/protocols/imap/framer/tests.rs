use super::*;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Policy {
    Accept,
    Reject,
    /// Accept literals that fit, reject the others (what a session does).
    Sensible,
}

/// Feeds `chunks` one after another, answering literal announcements by `policy`.
fn run_chunks(limits: FramerLimits, chunks: &[&[u8]], policy: Policy) -> Vec<FrameEvent> {
    let mut f = Framer::new(limits);
    let mut events = Vec::new();
    for chunk in chunks {
        f.push(chunk);
        while let Some(ev) = f.next() {
            if let FrameEvent::LiteralAnnounced { .. } | FrameEvent::MessageLiteral { .. } = ev {
                match policy {
                    Policy::Accept => f.accept_literal(),
                    Policy::Reject => f.reject_literal(),
                    Policy::Sensible if f.literal_fits() => f.accept_literal(),
                    Policy::Sensible => f.reject_literal(),
                }
            }
            push_merged(&mut events, ev);
        }
    }
    events
}

/// Adds `ev`, merging consecutive `LiteralData` pieces: how a literal is cut into pieces
/// depends on how the input arrived; the bytes and their order do not.
fn push_merged(events: &mut Vec<FrameEvent>, ev: FrameEvent) {
    if let (Some(FrameEvent::LiteralData(prev)), FrameEvent::LiteralData(more)) =
        (events.last_mut(), &ev)
    {
        assert!(!more.is_empty(), "empty LiteralData");
        prev.extend_from_slice(more);
        return;
    }
    events.push(ev);
}

fn message(tag: &str, size: u64, synchronizing: bool) -> FrameEvent {
    FrameEvent::MessageLiteral {
        tag: Some(tag.into()),
        size,
        synchronizing,
        binary: false,
    }
}

fn message8(tag: &str, size: u64, synchronizing: bool) -> FrameEvent {
    FrameEvent::MessageLiteral {
        tag: Some(tag.into()),
        size,
        synchronizing,
        binary: true,
    }
}

fn data(s: &[u8]) -> FrameEvent {
    FrameEvent::LiteralData(s.to_vec())
}

fn dropped(tag: &str) -> FrameEvent {
    FrameEvent::Dropped {
        tag: Some(tag.into()),
    }
}

/// Runs `input` whole, byte by byte, and split at every position; all must agree.
fn run(limits: FramerLimits, input: &[u8], policy: Policy) -> Vec<FrameEvent> {
    let whole = run_chunks(limits, &[input], policy);
    let bytes: Vec<&[u8]> = input.chunks(1).collect();
    assert_eq!(run_chunks(limits, &bytes, policy), whole, "byte by byte");
    for i in 0..=input.len() {
        let (a, b) = input.split_at(i);
        assert_eq!(run_chunks(limits, &[a, b], policy), whole, "split at {i}");
    }
    whole
}

fn frame(s: &[u8]) -> FrameEvent {
    FrameEvent::Frame(s.to_vec())
}

fn announced(tag: &str, size: u64, command: &str) -> FrameEvent {
    FrameEvent::LiteralAnnounced {
        tag: Some(tag.into()),
        size,
        command: command.into(),
    }
}

fn small() -> FramerLimits {
    FramerLimits {
        max_line: 40,
        max_literal: 100,
        max_command: 200,
    }
}

#[test]
fn pipelined_commands() {
    let ev = run(
        FramerLimits::default(),
        b"a NOOP\r\nb CAPABILITY\r\nDONE\r\n",
        Policy::Accept,
    );
    assert_eq!(
        ev,
        vec![
            frame(b"a NOOP\r\n"),
            frame(b"b CAPABILITY\r\n"),
            frame(b"DONE\r\n")
        ]
    );
}

#[test]
fn synchronizing_literals() {
    let input = b"a LOGIN {3}\r\nbob {4}\r\npass\r\nb NOOP\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            announced("a", 3, "LOGIN"),
            announced("a", 4, "LOGIN"),
            frame(b"a LOGIN {3}\r\nbob {4}\r\npass\r\n"),
            frame(b"b NOOP\r\n"),
        ]
    );
}

#[test]
fn non_synchronizing_literals() {
    let input = b"a LOGIN {3+}\r\nbob {4-}\r\npass\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Reject);
    assert_eq!(ev, vec![frame(input)]);
}

#[test]
fn literal8_and_opaque_literal_bytes() {
    // The literal holds CRLF, a NUL and text that looks like an announcement.
    let input = b"A1 APPEND INBOX ~{12}\r\nx\0\r\n{5}\r\nab}\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            message8("A1", 12, true),
            data(b"x\0\r\n{5}\r\nab}"),
            FrameEvent::LiteralEnd,
            frame(b"A1 APPEND INBOX ~{0}\r\n\r\n")
        ]
    );
    let input = b"A2 LOGIN ~{12}\r\nx\0\r\n{5}\r\nab} x\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(ev, vec![announced("A2", 12, "LOGIN"), frame(input)]);
}

#[test]
fn message_literals_of_every_kind_stream_out() {
    // MULTIAPPEND (RFC 3502) with flags, a date, {n}, {n+}, {n-}, ~{n} and UTF8 (~{n}).
    let input = b"a APPEND Sent (\\Seen) \"05-Jan-2024 13:14:15 +0100\" {3}\r\nabc {2+}\r\nde\
                  {1-}\r\nf ~{2}\r\n\0g UTF8 (~{1+}\r\nh)\r\nb NOOP\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            message("a", 3, true),
            data(b"abc"),
            FrameEvent::LiteralEnd,
            message("a", 2, false),
            data(b"de"),
            FrameEvent::LiteralEnd,
            message("a", 1, false),
            data(b"f"),
            FrameEvent::LiteralEnd,
            message8("a", 2, true),
            data(b"\0g"),
            FrameEvent::LiteralEnd,
            message8("a", 1, false),
            data(b"h"),
            FrameEvent::LiteralEnd,
            frame(
                b"a APPEND Sent (\\Seen) \"05-Jan-2024 13:14:15 +0100\" {0}\r\n {0}\r\n\
                  {0}\r\n ~{0}\r\n UTF8 (~{0}\r\n)\r\n"
            ),
            frame(b"b NOOP\r\n"),
        ]
    );
}

#[test]
fn a_mailbox_literal_is_not_a_message() {
    let input = b"a APPEND {5}\r\nINBOX {3+}\r\nabc\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            announced("a", 5, "APPEND"),
            message("a", 3, false),
            data(b"abc"),
            FrameEvent::LiteralEnd,
            frame(b"a APPEND {5}\r\nINBOX {0}\r\n\r\n"),
        ]
    );
}

#[test]
fn message_literals_are_not_buffered() {
    let mut f = Framer::new(small());
    f.push(b"a APPEND INBOX {1000000+}\r\n");
    assert_eq!(f.next(), Some(message("a", 1_000_000, false)));
    assert_eq!(f.streaming(), None, "not before the decision");
    f.accept_literal();
    assert_eq!(f.streaming(), Some(1_000_000));
    let mut seen = 0;
    for _ in 0..100 {
        f.push(&[b'x'; 10_000]);
        while let Some(ev) = f.next() {
            match ev {
                FrameEvent::LiteralData(d) => seen += d.len(),
                FrameEvent::LiteralEnd => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(f.buffered() < 100, "buffered {}", f.buffered());
    }
    assert_eq!(seen, 1_000_000);
    assert_eq!(f.streaming(), None);
    f.push(b"\r\n");
    assert_eq!(f.next(), Some(frame(b"a APPEND INBOX {0}\r\n\r\n")));
}

#[test]
fn refused_message_literals() {
    // Synchronizing: the client sends nothing more of the command.
    let input = b"a APPEND INBOX {1000}\r\nb NOOP\r\n";
    let ev = run(small(), input, Policy::Reject);
    assert_eq!(ev, vec![message("a", 1000, true), frame(b"b NOOP\r\n")]);
    // Non-synchronizing: the bytes come anyway, and so does the rest of the MULTIAPPEND
    // (its further literals included); the session answers at `Dropped`.
    let input = b"a APPEND INBOX {5+}\r\nb NOO {3+}\r\nd\r\n\r\nc NOOP\r\n";
    let ev = run(small(), input, Policy::Reject);
    assert_eq!(
        ev,
        vec![message("a", 5, false), dropped("a"), frame(b"c NOOP\r\n")]
    );
}

#[test]
fn uid_command_name() {
    let input = b"t7 uid search CHARSET UTF-8 TEXT {3}\r\nabc\r\n";
    let ev = run(FramerLimits::default(), input, Policy::Accept);
    assert_eq!(ev, vec![announced("t7", 3, "UID SEARCH"), frame(input)]);
}

#[test]
fn braces_in_quoted_strings_are_not_literals() {
    for input in [
        &b"a SELECT \"foo{5}\"\r\n"[..],
        b"a SELECT \"x\\\"{3}\"\r\n",
        b"a LOGIN \"unterminated {3}\r\n",
        b"a SELECT foo{x}\r\n",
        b"a SELECT {}\r\n",
    ] {
        assert_eq!(
            run(FramerLimits::default(), input, Policy::Accept),
            vec![frame(input)]
        );
    }
    // An escaped backslash closes the quote properly: the literal is real.
    let input = b"a LOGIN \"x\\\\\" {3}\r\nabc\r\n";
    assert_eq!(
        run(FramerLimits::default(), input, Policy::Accept),
        vec![announced("a", 3, "LOGIN"), frame(input)]
    );
}

#[test]
fn bare_lf_ends_lines() {
    let input = b"a NOOP\nb LOGIN {3}\nbob x\n";
    assert_eq!(
        run(FramerLimits::default(), input, Policy::Accept),
        vec![
            frame(b"a NOOP\n"),
            announced("b", 3, "LOGIN"),
            frame(b"b LOGIN {3}\nbob x\n")
        ]
    );
}

#[test]
fn line_too_long_is_dropped() {
    let mut input = b"a1 NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 100));
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run(small(), &input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            FrameEvent::LineTooLong {
                tag: Some("a1".into())
            },
            frame(b"b NOOP\r\n")
        ]
    );
}

#[test]
fn line_too_long_skips_its_non_synchronizing_literal() {
    let mut input = b"a1 APPEND ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 60));
    input.extend_from_slice(b" {8+}\r\nb NOOP\r\n\r\nc NOOP\r\n");
    let ev = run(small(), &input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            FrameEvent::LineTooLong {
                tag: Some("a1".into())
            },
            frame(b"c NOOP\r\n")
        ]
    );
}

#[test]
fn line_too_long_after_a_literal_drops_the_command() {
    let mut input = b"a1 LOGIN {2+}\r\nab ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 60));
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run(small(), &input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            FrameEvent::LineTooLong {
                tag: Some("a1".into())
            },
            frame(b"b NOOP\r\n")
        ]
    );
}

#[test]
fn rejected_literal_discards_the_command() {
    let input = b"a LOGIN {1000}\r\nb NOOP\r\n";
    let ev = run(small(), input, Policy::Sensible);
    assert_eq!(
        ev,
        vec![announced("a", 1000, "LOGIN"), frame(b"b NOOP\r\n")]
    );
    let ev = run(FramerLimits::default(), input, Policy::Reject);
    assert_eq!(
        ev,
        vec![announced("a", 1000, "LOGIN"), frame(b"b NOOP\r\n")]
    );
}

#[test]
fn literal_fits_reflects_limits() {
    let mut f = Framer::new(small());
    assert!(!f.literal_fits());
    f.push(b"a SEARCH TEXT {101}\r\n");
    assert_eq!(f.next(), Some(announced("a", 101, "SEARCH")));
    assert!(!f.literal_fits(), "over max_literal (100)");
    f.reject_literal();
    // The whole command must stay under max_command (200).
    f.push(b"b LOGIN {100}\r\n");
    assert_eq!(f.next(), Some(announced("b", 100, "LOGIN")));
    assert!(f.literal_fits());
    f.accept_literal();
    f.push(&[b'x'; 100]);
    f.push(b" {100}\r\n");
    assert_eq!(f.next(), Some(announced("b", 100, "LOGIN")));
    assert!(!f.literal_fits(), "would make the command over 200 bytes");
    // Accepting anyway: TooLarge, and the literal's bytes are skipped.
    f.accept_literal();
    assert_eq!(
        f.next(),
        Some(FrameEvent::TooLarge {
            tag: Some("b".into()),
            size: 100
        })
    );
    f.push(&[b'{'; 100]);
    f.push(b"\r\nc NOOP\r\n");
    assert_eq!(f.next(), Some(dropped("b")));
    assert_eq!(f.next(), Some(frame(b"c NOOP\r\n")));
    assert_eq!(f.next(), None);
    assert_eq!(f.buffered(), 0);
}

#[test]
fn non_synchronizing_literal_too_large() {
    let mut input = b"a LOGIN {101+}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'\n', 101));
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run(small(), &input, Policy::Accept);
    assert_eq!(
        ev,
        vec![
            FrameEvent::TooLarge {
                tag: Some("a".into()),
                size: 101
            },
            dropped("a"),
            frame(b"b NOOP\r\n")
        ]
    );
}

#[test]
fn literal_minus_over_4096_is_too_large() {
    let limits = FramerLimits::default();
    let mut input = b"a SEARCH TEXT {4097-}\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 4097));
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    let ev = run_chunks(limits, &[&input], Policy::Accept);
    assert_eq!(
        ev,
        vec![
            FrameEvent::TooLarge {
                tag: Some("a".into()),
                size: 4097
            },
            dropped("a"),
            frame(b"b NOOP\r\n")
        ]
    );
    let ok = b"a SEARCH TEXT {4-}\r\nabcd\r\n";
    assert_eq!(run(limits, ok, Policy::Reject), vec![frame(ok)]);
}

#[test]
fn a_multiappend_with_too_many_lines_is_too_large() {
    let mut f = Framer::new(small());
    f.push(b"a APPEND INBOX {1+}\r\nx");
    assert_eq!(f.next(), Some(message("a", 1, false)));
    f.accept_literal();
    let mut events = Vec::new();
    for _ in 0..100 {
        f.push(b" {1+}\r\nx");
        while let Some(ev) = f.next() {
            if let FrameEvent::MessageLiteral { .. } = ev {
                f.accept_literal();
            }
            events.push(ev);
        }
    }
    f.push(b"\r\nb NOOP\r\n");
    while let Some(ev) = f.next() {
        events.push(ev);
    }
    let too_large = events
        .iter()
        .position(|e| matches!(e, FrameEvent::TooLarge { .. }))
        .expect("TooLarge");
    assert_eq!(
        &events[too_large + 1..],
        &[dropped("a"), frame(b"b NOOP\r\n")]
    );
    assert!(f.buffered() == 0);
}

#[test]
fn huge_announced_size() {
    let mut f = Framer::new(FramerLimits::default());
    f.push(b"a LOGIN {99999999999999999999999}\r\n");
    assert_eq!(f.next(), Some(announced("a", u64::MAX, "LOGIN")));
    assert!(!f.literal_fits());
    let mut f = Framer::new(FramerLimits::default());
    f.push(b"a APPEND INBOX {99999999999999999999999}\r\n");
    assert_eq!(f.next(), Some(message("a", u64::MAX, true)));
}

#[test]
fn untagged_garbage_has_no_tag() {
    let input = b"{3+}\r\nabc\r\n";
    assert_eq!(
        run(FramerLimits::default(), input, Policy::Accept),
        vec![frame(input)]
    );
    let mut f = Framer::new(small());
    f.push(&[b'+'; 50]);
    assert_eq!(f.next(), Some(FrameEvent::LineTooLong { tag: None }));
    assert_eq!(f.next(), None);
    assert_eq!(f.buffered(), 0, "a dropped line is not buffered");
}

#[test]
fn decisions_without_announcement_are_ignored() {
    let mut f = Framer::new(FramerLimits::default());
    f.accept_literal();
    f.reject_literal();
    f.push(b"a NOOP\r\n");
    assert_eq!(f.next(), Some(frame(b"a NOOP\r\n")));
}

#[test]
fn waits_while_literal_undecided() {
    let mut f = Framer::new(FramerLimits::default());
    f.push(b"a LOGIN {3}\r\nbob x\r\n");
    assert!(matches!(
        f.next(),
        Some(FrameEvent::LiteralAnnounced { .. })
    ));
    assert_eq!(f.next(), None);
    assert_eq!(f.next(), None);
    f.accept_literal();
    assert_eq!(f.next(), Some(frame(b"a LOGIN {3}\r\nbob x\r\n")));
}

fn drive(limits: FramerLimits, chunks: &[Vec<u8>], decisions: &[bool]) -> Vec<FrameEvent> {
    let mut f = Framer::new(limits);
    let mut events = Vec::new();
    let mut d = decisions.iter().cycle();
    let bound = limits.max_command + limits.max_literal as usize + limits.max_line + 2;
    for chunk in chunks {
        f.push(chunk);
        while let Some(ev) = f.next() {
            if let FrameEvent::LiteralAnnounced { .. } | FrameEvent::MessageLiteral { .. } = ev {
                if *d.next().unwrap_or(&true) {
                    f.accept_literal();
                } else {
                    f.reject_literal();
                }
            }
            if let FrameEvent::Frame(fr) = &ev {
                assert!(fr.len() <= bound, "frame of {} bytes", fr.len());
            }
            push_merged(&mut events, ev);
        }
        assert!(f.buffered() <= bound, "buffered {}", f.buffered());
    }
    events
}

fn imapish() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b"a1 ".to_vec()),
            Just(b"APPEND ".to_vec()),
            Just(b"{3}\r\n".to_vec()),
            Just(b"{5+}\r\n".to_vec()),
            Just(b"~{2}\r\n".to_vec()),
            Just(b"{4-}\r\n".to_vec()),
            Just(b"{500+}\r\n".to_vec()),
            Just(b"\"".to_vec()),
            Just(b"\\".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"xyz".to_vec()),
            Just(vec![b'y'; 45]),
        ],
        0..30,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..20),
        decisions in proptest::collection::vec(any::<bool>(), 1..5),
    ) {
        drive(small(), &chunks, &decisions);
    }

    #[test]
    fn split_points_do_not_matter(
        input in imapish(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        decisions in proptest::collection::vec(any::<bool>(), 1..5),
    ) {
        let whole = drive(small(), std::slice::from_ref(&input), &decisions);
        let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut chunks = Vec::new();
        let mut last = 0;
        for p in points {
            chunks.push(input[last..p].to_vec());
            last = p;
        }
        chunks.push(input[last..].to_vec());
        prop_assert_eq!(drive(small(), &chunks, &decisions), whole);
    }
}

#[test]
fn mid_command_from_the_first_byte_to_the_frame() {
    let mut f = Framer::new(FramerLimits::default());
    assert!(!f.mid_command());
    f.push(b"a NO");
    assert_eq!(f.next(), None);
    assert!(f.mid_command(), "a started line");
    f.push(b"OP\r\n");
    assert_eq!(f.next(), Some(frame(b"a NOOP\r\n")));
    assert!(!f.mid_command(), "the command is whole");
    f.push(b"b LOGIN {3}\r\n");
    assert!(matches!(
        f.next(),
        Some(FrameEvent::LiteralAnnounced { .. })
    ));
    f.accept_literal();
    assert_eq!(f.next(), None);
    assert!(f.mid_command(), "literal bytes are owed");
}
