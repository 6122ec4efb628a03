//! The POP3 and IMAP fetch clients under arbitrary server bytes; see
//! `ferrymail::fetch::fuzz`. Seeds: `fuzz/corpus/fetch_clients/`, replayed by the normal
//! test suite (`tests/fuzz_seeds.rs`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ferrymail::fetch::fuzz::drive(data);
});
