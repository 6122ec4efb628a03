//! The read-ahead hints (`Backend::will_read`): SEARCH, SORT and FETCH tell the backend
//! which messages they are about to read, a batch at a time, before reading them, and end
//! the hint when done; a FETCH that reads no message record gives none.

use crate::protocols::imap::backend::{Backend, NewMessage};
use crate::protocols::imap::ext_tests::{logged_in, text};
use crate::protocols::imap::fuzz::{MemBackend, Read, USER};
use crate::protocols::imap::session::Session;

/// INBOX (its four samples and `n` more messages, the odd ones with "odd" in the subject),
/// selected; the reads so far forgotten.
fn selected(n: u32) -> (MemBackend, Session, u64) {
    let b = MemBackend::new();
    let inbox = b.find_folder(USER, "INBOX").unwrap().unwrap().id;
    for i in 0..n {
        let subject = if i % 2 == 1 { "odd" } else { "even" };
        let content = format!("Subject: {subject} {i}\r\nFrom: a@example.com\r\n\r\nbody {i}\r\n");
        let m = NewMessage {
            flags: 0,
            keywords: Vec::new(),
            internal_date: 0,
            content: content.into_bytes(),
        };
        b.append(inbox, vec![m]).unwrap();
    }
    let mut s = logged_in(&b);
    let r = text(&s.receive(b"s SELECT INBOX\r\n", &b));
    assert!(r.contains("s OK"), "{r}");
    b.take_reads();
    (b, s, inbox)
}

/// Every message read was in the hint in force when it was read; the hints end with an
/// empty one. Returns the hints given (without the last, empty one).
fn hinted_before_read(reads: &[Read], folder: u64) -> Vec<Vec<u32>> {
    let mut hints = Vec::new();
    let mut current: Option<&Vec<u32>> = None;
    for r in reads {
        match r {
            Read::Hint(f, uids) => {
                assert_eq!(*f, folder);
                current = Some(uids);
                hints.push(uids.clone());
            }
            Read::Message(f, uid) => {
                assert_eq!(*f, folder);
                let hint = current.expect("a message read before any hint");
                assert!(
                    hint.contains(uid),
                    "uid {uid} read outside the hint {hint:?}"
                );
            }
        }
    }
    assert_eq!(
        hints.pop(),
        Some(Vec::new()),
        "the hint is ended: {reads:?}"
    );
    hints
}

#[test]
fn search_on_a_header_hints_each_batch_of_256_then_ends() {
    let (b, mut s, inbox) = selected(600);
    let r = text(&s.receive(b"a UID SEARCH SUBJECT odd\r\n", &b));
    assert!(r.contains("a OK"), "{r}");
    let reads = b.take_reads();
    let hints = hinted_before_read(&reads, inbox);
    let sizes: Vec<usize> = hints.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![256, 256, 92]);
    // Every message (4 samples + 600) was read once, and the answer has the 300 odd ones.
    let read = reads
        .iter()
        .filter(|r| matches!(r, Read::Message(..)))
        .count();
    assert_eq!(read, 604);
    let found = r.lines().find(|l| l.starts_with("* SEARCH")).unwrap();
    assert_eq!(found.split(' ').count() - 2, 300, "{found}");
}

#[test]
fn search_on_flags_alone_reads_and_hints_nothing() {
    let (b, mut s, _) = selected(10);
    let r = text(&s.receive(b"a SEARCH UNSEEN\r\n", &b));
    assert!(r.contains("a OK"), "{r}");
    assert_eq!(b.take_reads(), Vec::new());
}

#[test]
fn fetch_of_envelope_and_size_hints_the_range_once() {
    let (b, mut s, inbox) = selected(30);
    let r = text(&s.receive(b"f FETCH 1:20 (FLAGS UID RFC822.SIZE ENVELOPE)\r\n", &b));
    assert!(r.contains("f OK"), "{r}");
    assert_eq!(r.matches(" FETCH (").count(), 20, "{r}");
    let hints = hinted_before_read(&b.take_reads(), inbox);
    assert_eq!(hints, vec![(1..=20).collect::<Vec<u32>>()]);
}

/// A FETCH of whole messages hints a small batch at a time: a large message may fill a
/// window of output alone, and the hint ends with the window.
#[test]
fn fetch_of_bodies_hints_small_batches() {
    let (b, mut s, inbox) = selected(40);
    let r = text(&s.receive(b"f FETCH 1:40 (UID BODY.PEEK[])\r\n", &b));
    assert!(r.contains("f OK"), "{r}");
    assert_eq!(r.matches(" FETCH (").count(), 40, "{r}");
    let hints = hinted_before_read(&b.take_reads(), inbox);
    let sizes: Vec<usize> = hints.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![16, 16, 8]);
    assert_eq!(hints.concat(), (1..=40).collect::<Vec<u32>>());
}

#[test]
fn fetch_of_flags_alone_reads_and_hints_nothing() {
    let (b, mut s, _) = selected(30);
    let r = text(&s.receive(b"f FETCH 1:* (FLAGS UID)\r\n", &b));
    assert!(r.contains("f OK"), "{r}");
    assert_eq!(b.take_reads(), Vec::new());
}

#[test]
fn sort_hints_the_messages_it_sorts() {
    let (b, mut s, inbox) = selected(300);
    let r = text(&s.receive(b"o SORT (SUBJECT) UTF-8 ALL\r\n", &b));
    assert!(r.contains("o OK"), "{r}");
    let hints = hinted_before_read(&b.take_reads(), inbox);
    let sizes: Vec<usize> = hints.iter().map(Vec::len).collect();
    assert_eq!(sizes, vec![256, 48]);
}
