//! Replays every fuzz target's seed corpus (DESIGN.md §6, layer 5: fuzzers run outside CI,
//! their seeds in CI).

use std::path::Path;

#[test]
fn smtp_session_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/smtp_session");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        ferrymail::protocols::smtp::fuzz::drive(&data);
        n += 1;
    }
    assert!(
        n >= 10,
        "seed corpus missing: {n} files in {}",
        dir.display()
    );
}
