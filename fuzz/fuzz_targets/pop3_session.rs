//! The POP3 session in every state under arbitrary input, with an in-memory backend; see
//! `ferrymail::protocols::pop3::fuzz`. Seeds: `fuzz/corpus/pop3_session/` (written by
//! `fuzz/pop3_seeds.py`), replayed by the normal test suite (`tests/fuzz_seeds.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrymail::protocols::pop3::fuzz::drive(data);
});
