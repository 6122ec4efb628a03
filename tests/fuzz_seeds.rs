//! Replays every fuzz target's seed corpus (docs/architecture.md §6, layer 5: fuzzers run outside CI,
//! their seeds in CI).

use std::path::Path;

/// The seeds of `fuzz/corpus/<target>/`, by file name.
fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    seeds.sort();
    seeds
}

/// Runs every seed through `drive`; returns how many there were.
fn replay(target: &str, drive: fn(&[u8])) -> usize {
    let seeds = seeds(target);
    for (name, data) in &seeds {
        let run = std::panic::catch_unwind(|| drive(data));
        assert!(run.is_ok(), "seed {target}/{name} broke an invariant");
    }
    seeds.len()
}

#[test]
fn smtp_session_seeds() {
    let n = replay("smtp_session", ferrymail::protocols::smtp::fuzz::drive);
    assert!(n >= 10, "smtp_session seed corpus missing: {n} files");
}

#[test]
fn imap_session_seeds() {
    let n = replay("imap_session", ferrymail::protocols::imap::fuzz::drive);
    assert!(n >= 30, "imap_session seed corpus missing: {n} files");
}

/// The seeds are realistic sessions: together they complete every IMAP command.
#[test]
fn imap_session_seeds_reach_every_command() {
    let mut completed = std::collections::BTreeSet::new();
    for (_, data) in seeds("imap_session") {
        let out = ferrymail::protocols::imap::fuzz::transcript(&data);
        for line in String::from_utf8_lossy(&out).lines() {
            let Some((_tag, rest)) = line.split_once(' ') else {
                continue;
            };
            if let Some(text) = rest.strip_prefix("OK ") {
                // Past a response code: "OK [APPENDUID 1 2] APPEND completed".
                let text = match text.strip_prefix('[') {
                    Some(code) => code.split_once("] ").map_or("", |(_, t)| t),
                    None => text,
                };
                completed.insert(text.to_string());
            }
        }
    }
    let expected = [
        "CAPABILITY completed",
        "NOOP completed",
        "ID completed",
        "LOGOUT completed",
        "Logged in",
        "Begin TLS negotiation now",
        "ENABLE completed",
        "LIST completed",
        "LSUB completed",
        "NAMESPACE completed",
        "STATUS completed",
        "CREATE completed",
        "DELETE completed",
        "RENAME completed",
        "SUBSCRIBE completed",
        "UNSUBSCRIBE completed",
        "APPEND completed",
        "GETACL completed",
        "SETACL completed",
        "DELETEACL completed",
        "LISTRIGHTS completed",
        "MYRIGHTS completed",
        "GETQUOTA completed",
        "GETQUOTAROOT completed",
        "SELECT completed",
        "EXAMINE completed",
        "UNSELECT completed",
        "CLOSE completed",
        "CHECK completed",
        "FETCH completed",
        "STORE completed",
        "SEARCH completed",
        "SORT completed",
        "THREAD completed",
        "COPY completed",
        "MOVE completed",
        "EXPUNGE completed",
        "IDLE terminated",
        "GETMETADATA completed",
        "SETMETADATA completed",
        "NOTIFY completed",
    ];
    let missing: Vec<&str> = expected
        .into_iter()
        .filter(|e| !completed.contains(*e))
        .collect();
    assert!(missing.is_empty(), "no seed completes: {missing:?}");
}

#[test]
fn pop3_session_seeds() {
    let n = replay("pop3_session", ferrymail::protocols::pop3::fuzz::drive);
    assert!(n >= 40, "pop3_session seed corpus missing: {n} files");
}

/// The seeds are realistic sessions: together they reach every command's success and every
/// response code.
#[test]
fn pop3_session_seeds_reach_every_command() {
    let mut all = String::new();
    for (_, data) in seeds("pop3_session") {
        all.push_str(&String::from_utf8_lossy(
            &ferrymail::protocols::pop3::fuzz::transcript(&data),
        ));
    }
    let expected = [
        "+OK Capability list follows",
        "+OK Send the password with PASS",
        "+OK Logged in",
        "+OK Unique-ID listing follows",
        " octets\r\n",
        "+OK Top of message follows",
        "+OK Message 1 deleted",
        "+OK Maildrop has",
        "+OK Nothing happens",
        "signing off (1 deleted",
        "signing off\r\n",
        "+OK Begin TLS negotiation",
        "+OK UTF8 enabled",
        "+OK Mechanisms follow",
        "+ VXNlcm5hbWU6",
        "+ UGFzc3dvcmQ6",
        "-ERR [AUTH] Invalid login or password",
        "too many failures, closing",
        "-ERR [IN-USE]",
        "-ERR [SYS/TEMP]",
        "removed by another client",
        "-ERR Command line too long",
        "-ERR Authentication response too long",
        "is only valid after login",
        "is only valid before login",
    ];
    let missing: Vec<&str> = expected.into_iter().filter(|e| !all.contains(e)).collect();
    assert!(missing.is_empty(), "no seed reaches: {missing:?}");
}

#[test]
fn fetch_clients_seeds() {
    let n = replay("fetch_clients", ferrymail::fetch::fuzz::drive);
    assert!(n >= 16, "fetch_clients seed corpus missing: {n} files");
}
