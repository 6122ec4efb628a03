//! Dovecot's imaptest scripted suite against a real server over implicit TLS (issue 9).
//!
//! Runs only when an `imaptest` binary is on PATH and `IMAPTEST_TESTS` names its scripted
//! tests directory (the `tests/` of Dovecot's imaptest source); otherwise it prints a loud
//! SKIP and returns. Neither imaptest nor its test files are part of this repository.
//!
//! ```sh
//! IMAPTEST_TESTS=/path/to/imaptest/src/tests cargo test --test imaptest -- --nocapture
//! ```
//!
//! It asserts that no group fails and that imaptest reports no protocol errors, and prints
//! the groups skipped for a capability the server does not announce. (imaptest 2.3 prints
//! "0 skipped" even when it skips a group, so the skipped list is worked out here from each
//! group's `capabilities:` header and the server's CAPABILITY after login.)

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Imap, TestServer, PASSWORD};

/// Header lines added to upstream group files that cannot pass as published, each with why.
/// The suite runs from a temporary copy of the directory with these added; nothing of
/// imaptest is in this repository.
const UPSTREAM_FIXES: &[(&str, &str, &str)] = &[(
    "urlauth2",
    "messages: 2",
    "its first command is `fetch 1:2`, but the file has no `messages:` line, and since \
     imaptest's default became 0 (release-2.3, \"tests: Change default messages from all to \
     0\") its mailbox starts empty on any server",
)];

/// A copy of the scripted tests in `dir` with [`UPSTREAM_FIXES`] applied.
fn patched_copy(dir: &Path) -> tempfile::TempDir {
    let copy = tempfile::TempDir::new().expect("temp dir");
    for entry in std::fs::read_dir(dir).expect("read the tests directory") {
        let entry = entry.expect("directory entry");
        if !entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
            continue;
        }
        let name = entry.file_name();
        let mut text = std::fs::read(entry.path()).expect("read a test file");
        if let Some((group, line, why)) = UPSTREAM_FIXES
            .iter()
            .find(|(g, _, _)| name.to_str() == Some(*g))
        {
            eprintln!("imaptest: {group}: adding \"{line}\" ({why})");
            let mut fixed = format!("{line}\n").into_bytes();
            fixed.append(&mut text);
            text = fixed;
        }
        std::fs::write(copy.path().join(&name), text).expect("write the copy");
    }
    copy
}

/// More than the whole suite needs (about 10 s on a debug build); the child is killed
/// after it.
const SUITE_DEADLINE: Duration = Duration::from_secs(600);

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The groups in `dir` (every file but the `.mbox` message sources) with the capabilities
/// each requires.
fn groups(dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !path.is_file() || name.ends_with(".mbox") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap_or_default()).into_owned();
        let caps = text
            .lines()
            .take_while(|l| !l.trim().is_empty())
            .find_map(|l| l.strip_prefix("capabilities:"))
            .map(|c| c.split_whitespace().map(str::to_ascii_uppercase).collect())
            .unwrap_or_default();
        out.push((name, caps));
    }
    out.sort();
    out
}

/// The number before `what` in imaptest's summary line, e.g. `failed` in
/// "71 test groups: 0 failed, 0 skipped due to missing capabilities".
fn count_before(line: &str, what: &str) -> Option<u32> {
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let i = words.iter().position(|w| *w == what)?;
    words.get(i.checked_sub(1)?)?.parse().ok()
}

#[test]
fn imaptest_scripted_suite_has_no_failures() {
    let (Some(binary), Some(dir)) = (
        on_path("imaptest"),
        std::env::var_os("IMAPTEST_TESTS").map(PathBuf::from),
    ) else {
        eprintln!(
            "\n*** SKIP: imaptest not found (needs an `imaptest` binary on PATH and \
             IMAPTEST_TESTS=<its scripted tests directory>); the scripted suite did NOT run ***\n"
        );
        return;
    };
    let all = groups(&dir);
    assert!(!all.is_empty(), "no test groups in {}", dir.display());

    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let caps: Vec<String> = c
        .cmd("CAPABILITY")
        .iter()
        .find_map(|l| l.strip_prefix("* CAPABILITY ").map(str::to_string))
        .expect("CAPABILITY")
        .split_whitespace()
        .map(str::to_ascii_uppercase)
        .collect();
    let skipped: Vec<String> = all
        .iter()
        .filter_map(|(name, need)| {
            let missing: Vec<&str> = need
                .iter()
                .filter(|n| !caps.contains(n))
                .map(String::as_str)
                .collect();
            (!missing.is_empty()).then(|| format!("{name} (needs {})", missing.join(" ")))
        })
        .collect();

    // Groups with a second connection (`user 2`, e.g. urlauth2) select imaptest's mailbox
    // as that user without creating it (Dovecot setups autocreate it); make it here.
    let mut second = Imap::login(server.addr("imap"), "alice@example.com");
    assert!(
        second
            .cmd("CREATE imaptest")
            .last()
            .is_some_and(|l| l.contains(" OK ")),
        "CREATE imaptest for the second user"
    );
    let copy = patched_copy(&dir);
    let imaps = server.addr("imaps");
    let mut child = Command::new(&binary)
        .arg("host=127.0.0.1")
        .arg(format!("port={}", imaps.port()))
        .arg("ssl=any-cert")
        .arg("user=bob@example.com")
        .arg("user2=alice@example.com")
        .arg(format!("pass={PASSWORD}"))
        .arg(format!("test={}", copy.path().display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("imaptest starts");
    // Both pipes are read on threads so that neither can fill up and stall the child.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if started.elapsed() > SUITE_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("imaptest ran longer than {SUITE_DEADLINE:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = format!(
        "{}{}",
        out_reader.join().unwrap_or_default(),
        err_reader.join().unwrap_or_default()
    );

    let summary = output
        .lines()
        .find(|l| l.contains("test groups:"))
        .unwrap_or_else(|| panic!("no summary from imaptest:\n{output}"));
    let failed = count_before(summary, "failed").expect("failed count");
    let commands: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("individual commands failed"))
        .collect();
    let errors: Vec<&str> = output
        .lines()
        .filter(|l| l.starts_with("Error:") || l.starts_with("Panic:"))
        .collect();
    eprintln!("imaptest: {summary}");
    for l in &commands {
        eprintln!("imaptest: {l}");
    }
    eprintln!(
        "imaptest: {} groups skipped for capabilities not announced: {}",
        skipped.len(),
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    );
    assert_eq!(failed, 0, "imaptest groups failed:\n{output}");
    assert!(errors.is_empty(), "imaptest reported errors:\n{output}");
}

#[test]
fn summary_counts_are_read() {
    let l = "71 test groups: 3 failed, 0 skipped due to missing capabilities";
    assert_eq!(count_before(l, "failed"), Some(3));
    assert_eq!(count_before(l, "skipped"), Some(0));
    assert_eq!(count_before(l, "groups:"), None);
}
