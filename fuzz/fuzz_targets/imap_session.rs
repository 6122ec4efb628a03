//! The IMAP session in every state under arbitrary input, with an in-memory backend; see
//! `ferrymail::protocols::imap::fuzz`. Seeds: `fuzz/corpus/imap_session/` (written by
//! `fuzz/imap_seeds.py`), replayed by the normal test suite (`tests/fuzz_seeds.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrymail::protocols::imap::fuzz::drive(data);
});
