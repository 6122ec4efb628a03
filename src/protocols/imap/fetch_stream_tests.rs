//! Chunked FETCH: the pieces (literal copying, response layout) and whole sessions against
//! the in-memory backend — every chunk bounded, every byte there, pipelined commands
//! answered after the FETCH and not before.

use std::io::Read;

use super::*;
use crate::protocols::imap::backend::{Backend, NewMessage};
use crate::protocols::imap::ext_tests::{logged_in, text};
use crate::protocols::imap::fuzz::{MemBackend, USER};
use crate::protocols::imap::session::{Action, Session};

fn stream(data: &[u8], tail: &[u8]) -> Streaming {
    Streaming {
        reader: Box::new(std::io::Cursor::new(data.to_vec())),
        left: data.len() as u64,
        tail: tail.to_vec(),
    }
}

#[test]
fn a_literal_is_copied_in_bounded_pieces_then_its_tail() {
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8 + 1).collect();
    let mut s = stream(&data, b" UID 7)\r\n");
    let mut all = Vec::new();
    let mut steps = 0;
    loop {
        let mut out = Vec::new();
        let done = s.pump(&mut out, 300).expect("reads");
        assert!(out.len() <= 300 + 9, "{}", out.len());
        all.extend_from_slice(&out);
        steps += 1;
        assert!(steps < 10);
        if done {
            break;
        }
    }
    assert_eq!(steps, 4);
    assert_eq!(&all[..1000], &data[..]);
    assert_eq!(&all[1000..], b" UID 7)\r\n");
}

#[test]
fn nul_becomes_0x80_as_for_content_in_memory() {
    let mut s = stream(b"a\0b", b")");
    let mut out = Vec::new();
    assert!(s.pump(&mut out, usize::MAX).expect("reads"));
    assert_eq!(out, b"a\x80b)");
}

#[test]
fn a_short_reader_is_an_error_not_a_short_literal() {
    let mut s = stream(b"abc", b")");
    s.left = 5;
    let mut out = Vec::new();
    assert!(s.pump(&mut out, usize::MAX).is_err());
    assert_eq!(out, b"abc");
}

#[test]
fn the_placeholder_item_becomes_the_literal_and_later_items_the_tail() {
    let items = vec![b"UID 3".to_vec(), Vec::new(), b"FLAGS (\\Seen)".to_vec()];
    let reader: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(b"hi".to_vec()));
    let mut out = Vec::new();
    let mut s = FetchJob::write_response(
        &mut out,
        b"* 1 FETCH (",
        &items,
        Some((b"BODY[] ".to_vec(), 2, reader)),
    )
    .expect("streams");
    assert_eq!(out, b"* 1 FETCH (UID 3 BODY[] {2}\r\n");
    assert!(s.pump(&mut out, usize::MAX).expect("reads"));
    assert_eq!(
        out,
        b"* 1 FETCH (UID 3 BODY[] {2}\r\nhi FLAGS (\\Seen))\r\n"
    );
}

#[test]
fn without_a_literal_the_response_is_written_whole() {
    let mut out = Vec::new();
    let s = FetchJob::write_response(&mut out, b"* 1 FETCH (", &[b"UID 3".to_vec()], None);
    assert!(s.is_none());
    assert_eq!(out, b"* 1 FETCH (UID 3)\r\n");
}

/// INBOX with its four samples and then `n` messages of about `size` bytes, each distinct.
fn big_inbox(n: usize, size: usize) -> (MemBackend, Vec<Vec<u8>>) {
    let b = MemBackend::new();
    let inbox = b
        .find_folder(USER, "INBOX")
        .expect("reads")
        .expect("has INBOX");
    let mut contents = Vec::new();
    for i in 0..n {
        let mut c = format!("Subject: big {i}\r\n\r\n").into_bytes();
        while c.len() < size {
            c.extend_from_slice(format!("line {i} {}\r\n", c.len()).as_bytes());
        }
        contents.push(c.clone());
        let m = NewMessage {
            flags: 0,
            keywords: Vec::new(),
            internal_date: 0,
            content: c,
        };
        b.append(inbox.id, vec![m]).expect("appends");
    }
    (b, contents)
}

/// [`big_inbox`] and a session logged in with INBOX selected.
fn selected_big(n: usize, size: usize) -> (MemBackend, Vec<Vec<u8>>, Session) {
    let (b, contents) = big_inbox(n, size);
    let mut s = logged_in(&b);
    let r = text(&s.receive(b"s SELECT INBOX\r\n", &b));
    assert!(r.contains("s OK"), "{r}");
    (b, contents, s)
}

/// Feeds `input`, then resumes until the FETCH under way is done; every chunk is checked
/// against the bound. Returns all output and the number of chunks.
fn run_chunked(s: &mut Session, b: &MemBackend, input: &[u8], slack: usize) -> (Vec<u8>, usize) {
    let mut all = Vec::new();
    let mut acts = s.receive(input, b);
    let mut chunks = 0;
    loop {
        for a in &acts {
            if let Action::Send(bytes) = a {
                assert!(
                    bytes.len() <= OUTPUT_CHUNK + slack,
                    "a chunk of {} bytes",
                    bytes.len()
                );
                all.extend_from_slice(bytes);
            }
        }
        if !s.has_more_output() {
            return (all, chunks);
        }
        chunks += 1;
        assert!(chunks < 1000, "the FETCH never ends");
        acts = s.resume(b);
    }
}

/// The literal after each `BODY[] {n}` in `out`, in order.
fn literals(out: &[u8]) -> Vec<&[u8]> {
    let mut found = Vec::new();
    let mut rest = out;
    while let Some(at) = rest.windows(8).position(|w| w == b"BODY[] {") {
        let after = &rest[at + 8..];
        let close = after
            .iter()
            .position(|c| *c == b'}')
            .expect("closing brace");
        let len: usize = std::str::from_utf8(&after[..close])
            .expect("digits")
            .parse()
            .expect("a length");
        let body = &after[close + 3..close + 3 + len];
        found.push(body);
        rest = &after[close + 3 + len..];
    }
    found
}

#[test]
fn a_big_fetch_comes_in_bounded_chunks_and_pipelined_commands_wait_for_it() {
    let (b, contents, mut s) = selected_big(12, 100_000);
    let (out, chunks) = run_chunked(
        &mut s,
        &b,
        b"f FETCH 5:* (UID BODY.PEEK[])\r\nn NOOP\r\n",
        64 * 1024,
    );
    assert!(chunks >= 4, "{chunks} chunks for 1.2 MB");
    let bodies = literals(&out);
    assert_eq!(bodies.len(), contents.len());
    for (got, want) in bodies.iter().zip(&contents) {
        assert_eq!(got, &want.as_slice());
    }
    let text = String::from_utf8_lossy(&out);
    let done = text.find("f OK FETCH completed").expect("FETCH completes");
    let noop = text.find("n OK NOOP completed").expect("NOOP is answered");
    assert!(done < noop, "the NOOP was answered inside the FETCH");
    assert!(
        text[..done].contains("* 16 FETCH (UID 16 BODY[] {"),
        "{}",
        &text[done - 200..]
    );
}

#[test]
fn fetches_that_parse_the_message_are_chunked_per_message_too() {
    let (b, contents, mut s) = selected_big(12, 100_000);
    // BODY[TEXT] and BODYSTRUCTURE need the message parsed: held whole, one at a time.
    let (out, chunks) = run_chunked(
        &mut s,
        &b,
        b"f FETCH 5:* (BODYSTRUCTURE BODY.PEEK[TEXT])\r\n",
        120_000,
    );
    assert!(chunks >= 3, "{chunks} chunks");
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("BODYSTRUCTURE (").count(), contents.len());
    assert!(
        text.ends_with("f OK FETCH completed\r\n"),
        "{}",
        &text[text.len() - 200..]
    );
}

#[test]
fn body_without_peek_sets_seen_on_the_streamed_messages() {
    let (b, _, mut s) = selected_big(3, 100_000);
    let (out, _) = run_chunked(&mut s, &b, b"f FETCH 5:7 BODY[]\r\n", 64 * 1024);
    let text = String::from_utf8_lossy(&out);
    // The FLAGS item added for the new \Seen follows the streamed literal.
    assert_eq!(
        text.matches(" FLAGS (\\Seen \\Recent))\r\n").count(),
        3,
        "{}",
        &text[..200]
    );
    let r = text_of(&mut s, &b, b"g FETCH 5:7 FLAGS\r\n");
    assert_eq!(r.matches("\\Seen").count(), 3, "{r}");
}

fn text_of(s: &mut Session, b: &MemBackend, input: &[u8]) -> String {
    String::from_utf8_lossy(&run_chunked(s, b, input, 0).0).into_owned()
}
