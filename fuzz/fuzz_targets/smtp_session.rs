//! The SMTP session in every state under arbitrary input; see
//! `ferrymail::protocols::smtp::fuzz`. Seeds: `fuzz/corpus/smtp_session/`, replayed by the
//! normal test suite (`tests/fuzz_seeds.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrymail::protocols::smtp::fuzz::drive(data);
});
