//! Real IMAP clients against Ferrymail (issue 3): Debian's isync (`mbsync`) keeps an account
//! of 1,000 messages in sync both ways over imaps, and curl fetches, lists and searches over
//! imaps and over imap with STARTTLS.
//!
//! mbsync and curl are external programs that `.ci/run` installs; a test fails with a message
//! saying so when one is missing. isync 1.4 spells the TLS option `SSLType` (1.5 renamed it
//! `TLSType`); `CertificateFile` pins the server's self-signed certificate.

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, Imap, TestServer, PASSWORD};

const USER: &str = "bob@example.com";

/// Test message number `n`; its Message-ID carries `n`, so both sides can be compared.
fn test_message(n: u32) -> String {
    format!(
        "From: Filler <filler@example.net>\r\nTo: {USER}\r\nSubject: message {n}\r\n\
         Message-ID: <m{n}@ferrymail.test>\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n\r\n\
         Body of message {n}.\r\n"
    )
}

/// The `n` of a message made by [`test_message`], found in its text.
fn number_in(text: &str) -> Option<u32> {
    let end = text.find("@ferrymail.test>")?;
    let start = text[..end].rfind("<m")? + 2;
    text[start..end].parse().ok()
}

/// A message's flags as sorted Maildir letters (the ones mbsync maps to IMAP system flags).
type Flags = String;

/// What a mailbox holds: message number -> flags.
type View = BTreeMap<u32, Flags>;

fn sorted(letters: impl Iterator<Item = char>) -> Flags {
    let mut v: Vec<char> = letters.filter(|c| "DFRST".contains(*c)).collect();
    v.sort_unstable();
    v.dedup();
    v.into_iter().collect()
}

/// IMAP system flags (`\Seen \Flagged`) to Maildir letters (`FS`).
fn letters_of(imap_flags: &str) -> Flags {
    sorted(imap_flags.split_whitespace().filter_map(|f| match f {
        "\\Draft" => Some('D'),
        "\\Flagged" => Some('F'),
        "\\Answered" => Some('R'),
        "\\Seen" => Some('S'),
        "\\Deleted" => Some('T'),
        _ => None,
    }))
}

/// Maildir letters to an IMAP flag list.
fn imap_flags_of(letters: &str) -> String {
    let names: Vec<&str> = letters
        .chars()
        .filter_map(|c| match c {
            'D' => Some("\\Draft"),
            'F' => Some("\\Flagged"),
            'R' => Some("\\Answered"),
            'S' => Some("\\Seen"),
            'T' => Some("\\Deleted"),
            _ => None,
        })
        .collect();
    format!("({})", names.join(" "))
}

/// The flags the filled messages start with: every third read, every 50th flagged.
fn initial_flags(n: u32) -> Flags {
    let mut f = String::new();
    if n % 50 == 0 {
        f.push('F');
    }
    if n % 3 == 0 {
        f.push('S');
    }
    f
}

/// Appends messages `numbers` to `mailbox` with MULTIAPPEND and LITERAL+, 50 to a command.
fn append(c: &mut Imap, mailbox: &str, numbers: &[u32]) {
    for batch in numbers.chunks(50) {
        let tag = c.bump();
        let mut wire = format!("{tag} APPEND {mailbox}").into_bytes();
        for &n in batch {
            let m = test_message(n);
            let flags = imap_flags_of(&initial_flags(n));
            wire.extend_from_slice(format!(" {flags} {{{}+}}\r\n{m}", m.len()).as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        c.send_raw(&wire);
        let r = c.until_tagged(&tag);
        assert!(ok(&r), "APPEND to {mailbox}: {r:?}");
    }
}

/// Puts messages 1..=n in bob's INBOX over four connections at once.
fn fill_inbox(addr: SocketAddr, n: u32) {
    let all: Vec<u32> = (1..=n).collect();
    let chunk = all.len().div_ceil(4);
    std::thread::scope(|s| {
        for part in all.chunks(chunk) {
            s.spawn(move || {
                let mut c = Imap::login(addr, USER);
                append(&mut c, "INBOX", part);
                c.cmd("LOGOUT");
            });
        }
    });
}

/// One message as the server shows it.
struct ServerMessage {
    uid: u32,
    flags: Flags,
}

/// `mailbox` as the server shows it, by message number.
fn server_messages(c: &mut Imap, mailbox: &str) -> BTreeMap<u32, ServerMessage> {
    let r = c.cmd(&format!("SELECT \"{mailbox}\""));
    assert!(ok(&r), "SELECT {mailbox}: {r:?}");
    let r = c.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])");
    assert!(ok(&r), "FETCH in {mailbox}: {r:?}");
    let mut out = BTreeMap::new();
    for l in r
        .iter()
        .filter(|l| l.starts_with("* ") && l.contains(" FETCH ("))
    {
        let field = |name: &str| -> &str {
            let at = l.find(name).unwrap_or_else(|| panic!("{name} in {l}")) + name.len();
            &l[at..]
        };
        let uid: u32 = field("UID ")
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|d| d.parse().ok())
            .unwrap_or_else(|| panic!("UID in {l}"));
        let flags = field("FLAGS (");
        let flags = letters_of(&flags[..flags.find(')').expect("FLAGS list closes")]);
        let n = number_in(l).unwrap_or_else(|| panic!("test message number in {l}"));
        let old = out.insert(n, ServerMessage { uid, flags });
        assert!(old.is_none(), "message {n} twice in {mailbox}: {r:?}");
    }
    out
}

fn server_view(c: &mut Imap, mailbox: &str) -> View {
    server_messages(c, mailbox)
        .into_iter()
        .map(|(n, m)| (n, m.flags))
        .collect()
}

/// Mailbox names from `LIST "" "*"`.
fn server_mailboxes(c: &mut Imap) -> Vec<String> {
    let r = c.cmd("LIST \"\" \"*\"");
    assert!(ok(&r), "{r:?}");
    r.iter()
        .filter_map(|l| l.strip_prefix("* LIST "))
        .map(|l| {
            let name = &l[l.rfind(" ").expect("LIST name") + 1..];
            name.trim_matches('"').to_string()
        })
        .collect()
}

/// `STATUS (MESSAGES UIDNEXT HIGHESTMODSEQ)` of every mailbox: what moves when anything
/// changes on the server.
fn server_state(c: &mut Imap) -> BTreeMap<String, String> {
    server_mailboxes(c)
        .into_iter()
        .map(|name| {
            let r = c.cmd(&format!(
                "STATUS \"{name}\" (MESSAGES UIDNEXT HIGHESTMODSEQ)"
            ));
            assert!(ok(&r), "{r:?}");
            let line = r
                .iter()
                .find(|l| l.starts_with("* STATUS "))
                .unwrap_or_else(|| panic!("STATUS {name}: {r:?}"));
            let items = &line[line.rfind('(').expect("STATUS items")..];
            (name, items.to_string())
        })
        .collect()
}

/// The message files of a Maildir folder (cur/ and new/).
fn maildir_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for sub in ["cur", "new"] {
        let Ok(entries) = std::fs::read_dir(folder.join(sub)) else {
            continue;
        };
        for e in entries {
            files.push(e.expect("read Maildir entry").path());
        }
    }
    files.sort();
    files
}

/// The Maildir letters in a file name (`…:2,FS`).
fn maildir_flags(path: &Path) -> Flags {
    let name = path.file_name().unwrap().to_string_lossy();
    match name.rfind(":2,") {
        Some(i) => sorted(name[i + 3..].chars()),
        None => String::new(),
    }
}

/// A Maildir folder by message number, with each message's file.
fn maildir_messages(folder: &Path) -> BTreeMap<u32, PathBuf> {
    let mut out = BTreeMap::new();
    for path in maildir_files(folder) {
        let text = std::fs::read_to_string(&path).expect("read Maildir message");
        let n = number_in(&text).unwrap_or_else(|| panic!("test message number in {path:?}"));
        let old = out.insert(n, path.clone());
        assert!(old.is_none(), "message {n} twice in {folder:?}");
    }
    out
}

fn maildir_view(folder: &Path) -> View {
    maildir_messages(folder)
        .into_iter()
        .map(|(n, p)| (n, maildir_flags(&p)))
        .collect()
}

/// Renames a Maildir message into `cur/` with `flags` (what a mail reader does).
fn set_maildir_flags(path: &Path, flags: &str) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let base = name.split(":2,").next().unwrap().to_string();
    let cur = path.parent().unwrap().parent().unwrap().join("cur");
    std::fs::rename(path, cur.join(format!("{base}:2,{flags}"))).expect("rename");
}

/// Moves a Maildir message to another folder. The `,U=uid` part of the name belongs to the
/// old folder's sync state and must go (mbsync(1), INHERENT PROBLEMS).
fn move_maildir_message(path: &Path, to: &Path) {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let (base, info) = name.split_once(":2,").unwrap_or((&name, ""));
    let base = match base.find(",U=") {
        Some(i) => &base[..i],
        None => base,
    };
    std::fs::rename(path, to.join("cur").join(format!("{base}:2,{info}"))).expect("move");
}

/// Every message file name under the Maildir root: any flag change or move renames one.
fn maildir_snapshot(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).expect("read Maildir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(
                p.parent()
                    .and_then(|d| d.file_name())
                    .and_then(|n| n.to_str()),
                Some("cur" | "new")
            ) {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Runs `program args`, output to files (a chatty run cannot fill a pipe), killed after
/// `limit`. Returns (success, stdout and stderr).
fn run(program: &str, args: &[&str], dir: &Path, limit: Duration) -> (bool, String) {
    let out = dir.join(format!("{program}.out"));
    let stdout = File::create(&out).expect("create output file");
    let stderr = stdout.try_clone().expect("clone output file");
    let mut child = match Command::new(program)
        .args(args)
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot run {program} ({e}): is it installed? .ci/run installs it \
             (apt-get install isync curl)"
        ),
    };
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} {args:?} still running after {limit:?}; output so far:\n{}",
                std::fs::read_to_string(&out).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    (status.success(), text)
}

/// The mbsync configuration for bob: `security` is `SSLType IMAPS` or similar lines, the
/// Maildir store under `maildir`, one channel `bob` for every mailbox.
fn mbsyncrc(port: u16, security: &str, cert: &Path, maildir: &Path) -> String {
    format!(
        "IMAPAccount bob\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass \"{PASSWORD}\"\n\
         {security}\nCertificateFile {cert}\nSystemCertificates no\n\n\
         IMAPStore remote\nAccount bob\n\n\
         MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
         Channel bob\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\nExpunge Both\n\
         SyncState *\n",
        cert = cert.display(),
        root = maildir.display(),
    )
}

fn mbsync(rc: &Path, extra: &[&str], dir: &Path) -> String {
    let mut args = vec!["-c", rc.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.push("-a");
    let (success, output) = run("mbsync", &args, dir, Duration::from_secs(120));
    assert!(success, "mbsync {args:?} failed:\n{output}");
    output
}

/// Both sides hold exactly `expected` in every listed folder.
fn assert_in_sync(c: &mut Imap, maildir: &Path, expected: &BTreeMap<&str, View>) {
    for (folder, want) in expected {
        let server = server_view(c, folder);
        let local = maildir_view(&maildir.join(folder));
        assert_eq!(
            server.len(),
            want.len(),
            "messages on the server in {folder}"
        );
        assert_eq!(local.len(), want.len(), "messages in the Maildir {folder}");
        for (n, flags) in want {
            assert_eq!(server.get(n), Some(flags), "server {folder} message {n}");
            assert_eq!(local.get(n), Some(flags), "Maildir {folder} message {n}");
        }
    }
}

#[test]
fn mbsync_syncs_a_thousand_messages_both_ways_then_has_nothing_to_do() {
    let started = Instant::now();
    let server = TestServer::start();
    fill_inbox(server.addr("imap"), 1000);
    let filled = started.elapsed();

    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("mail");
    std::fs::create_dir(&maildir).unwrap();
    let rc = dir.path().join("mbsyncrc");
    let cert = server.data_dir().join("certs/cert.pem");
    let port = server.addr("imaps").port();
    std::fs::write(&rc, mbsyncrc(port, "SSLType IMAPS", &cert, &maildir)).unwrap();

    // First run: everything comes down, flags included.
    mbsync(&rc, &["-V"], dir.path());
    let first = started.elapsed();
    let mut c = Imap::login(server.addr("imap"), USER);
    let mut expected: BTreeMap<&str, View> = BTreeMap::new();
    expected.insert("INBOX", (1..=1000).map(|n| (n, initial_flags(n))).collect());
    for folder in ["Archive", "Drafts", "Junk", "Sent", "Trash"] {
        expected.insert(folder, View::new());
    }
    assert_in_sync(&mut c, &maildir, &expected);

    // Local changes, as a mail reader on the Maildir makes them.
    let inbox = maildir.join("INBOX");
    let local = maildir_messages(&inbox);
    let model = expected.get_mut("INBOX").unwrap();
    let mut changed = |n: u32, f: &dyn Fn(&str) -> Flags| {
        let flags = f(&model[&n]);
        set_maildir_flags(&local[&n], &flags);
        model.insert(n, flags);
    };
    for n in 1..=20 {
        changed(n, &|f| sorted(f.chars().chain(['S'])));
    }
    for n in 21..=30 {
        changed(n, &|f| sorted(f.chars().chain(['F'])));
    }
    changed(90, &|f| f.replace('S', ""));
    let mut archived = View::new();
    for n in 31..=40 {
        move_maildir_message(&local[&n], &maildir.join("Archive"));
        archived.insert(n, model.remove(&n).unwrap());
    }
    for n in 41..=50 {
        std::fs::remove_file(&local[&n]).unwrap();
        model.remove(&n);
    }
    // A new local folder with new messages, one of them already read.
    let lists = maildir.join("Lists");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(lists.join(sub)).unwrap();
    }
    std::fs::write(
        lists.join("cur/1700000000.l3001.test:2,S"),
        test_message(3001),
    )
    .unwrap();
    for n in [3002, 3003] {
        std::fs::write(
            lists.join(format!("new/1700000000.l{n}.test")),
            test_message(n),
        )
        .unwrap();
    }
    expected.insert(
        "Lists",
        [
            (3001, "S".to_string()),
            (3002, String::new()),
            (3003, String::new()),
        ]
        .into(),
    );

    // Server changes, as another IMAP client makes them.
    let on_server = server_messages(&mut c, "INBOX");
    let uids = |range: std::ops::RangeInclusive<u32>| -> String {
        range
            .map(|n| on_server[&n].uid.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let model = expected.get_mut("INBOX").unwrap();
    for (range, op, letter) in [
        (51..=60, "+", 'F'),
        (61..=70, "+", 'S'),
        (93..=93, "-", 'S'),
    ] {
        let flag = imap_flags_of(&letter.to_string());
        let r = c.cmd(&format!(
            "UID STORE {} {op}FLAGS.SILENT {flag}",
            uids(range.clone())
        ));
        assert!(ok(&r), "{r:?}");
        for n in range {
            let f = &model[&n];
            let f = if op == "+" {
                sorted(f.chars().chain([letter]))
            } else {
                f.replace(letter, "")
            };
            model.insert(n, f);
        }
    }
    let r = c.cmd(&format!(
        "UID STORE {} +FLAGS.SILENT (\\Deleted)",
        uids(71..=80)
    ));
    assert!(ok(&r), "{r:?}");
    let r = c.cmd(&format!("UID EXPUNGE {}", uids(71..=80)));
    assert!(ok(&r), "{r:?}");
    for n in 71..=80 {
        model.remove(&n);
    }
    let r = c.cmd(&format!("UID MOVE {} Archive", uids(81..=85)));
    assert!(ok(&r), "{r:?}");
    for n in 81..=85 {
        archived.insert(n, model.remove(&n).unwrap());
    }
    let appended: Vec<u32> = (1001..=1005).collect();
    append(&mut c, "INBOX", &appended);
    for &n in &appended {
        model.insert(n, initial_flags(n));
    }
    expected.insert("Archive", archived);
    let r = c.cmd("CREATE Receipts");
    assert!(ok(&r), "{r:?}");
    append(&mut c, "Receipts", &[2001, 2002]);
    expected.insert(
        "Receipts",
        [2001, 2002].map(|n| (n, initial_flags(n))).into(),
    );

    // Second run: both sides agree.
    mbsync(&rc, &["-V"], dir.path());
    let second = started.elapsed();
    assert_eq!(expected["INBOX"].len(), 970);
    assert_in_sync(&mut c, &maildir, &expected);
    assert!(
        server_view(&mut c, "INBOX")
            .values()
            .all(|f| !f.contains('T')),
        "Expunge Both leaves no \\Deleted message"
    );

    // Third run: nothing to do. mbsync sends no command that changes or downloads anything,
    // no Maildir file moves, no mailbox on the server changes.
    let files_before = maildir_snapshot(&maildir);
    let server_before = server_state(&mut c);
    let output = mbsync(&rc, &["-Dn"], dir.path());
    let sent: Vec<&str> = output.lines().filter(|l| l.starts_with(">>> ")).collect();
    for word in [
        "APPEND", "STORE", "EXPUNGE", "CREATE", "DELETE", "MOVE", "COPY", "BODY",
    ] {
        assert!(
            !sent.iter().any(|l| l.contains(word)),
            "third run sent {word}: {sent:#?}"
        );
    }
    assert!(sent.iter().any(|l| l.contains("UID FETCH")), "{output}");
    assert_eq!(
        maildir_snapshot(&maildir),
        files_before,
        "Maildir after the third run"
    );
    assert_eq!(
        server_state(&mut c),
        server_before,
        "server after the third run"
    );
    // An open session would hold the server's shutdown for its grace period.
    c.cmd("LOGOUT");
    eprintln!(
        "mbsync: filled 1000 in {filled:?}; first run done at {first:?}, second at {second:?}, \
         third at {:?}",
        started.elapsed()
    );
}

#[test]
fn mbsync_over_plain_imap_and_starttls() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), USER);
    append(&mut c, "INBOX", &[1, 2, 3]);
    c.cmd("LOGOUT");
    let dir = tempfile::tempdir().unwrap();
    let cert = server.data_dir().join("certs/cert.pem");
    let port = server.addr("imap").port();
    // Plain: the IMAP LOGIN command in the clear (the test config allows it). STARTTLS: SASL
    // PLAIN inside TLS (through Cyrus SASL's modules, which .ci/run installs).
    for (name, security, says) in [
        (
            "plain",
            "SSLType None\nAuthMechs LOGIN",
            "Password is being sent in the clear",
        ),
        (
            "starttls",
            "SSLType STARTTLS",
            "Authenticating with SASL mechanism PLAIN",
        ),
    ] {
        let maildir = dir.path().join(name);
        std::fs::create_dir(&maildir).unwrap();
        let rc = dir.path().join(format!("{name}.rc"));
        std::fs::write(&rc, mbsyncrc(port, security, &cert, &maildir)).unwrap();
        let output = mbsync(&rc, &["-V"], dir.path());
        assert!(output.contains(says), "{name}: {output}");
        assert_eq!(
            output.contains("Connection is now encrypted"),
            name == "starttls",
            "{name}: {output}"
        );
        let want: View = (1..=3).map(|n| (n, initial_flags(n))).collect();
        assert_eq!(
            maildir_view(&maildir.join("INBOX")),
            want,
            "{name}: {output}"
        );
        let listed = run(
            "mbsync",
            &["-c", rc.to_str().unwrap(), "-l", "-a"],
            dir.path(),
            Duration::from_secs(60),
        );
        assert!(listed.0, "{name}: mbsync -l: {}", listed.1);
        for folder in ["INBOX", "Archive", "Sent", "Trash"] {
            assert!(
                listed.1.lines().any(|l| l == folder),
                "{name}: {folder} in {}",
                listed.1
            );
        }
    }
}

/// A server for curl: bob's INBOX held messages 1, 2, 3 (UIDs 1, 2, 3) and UID 1 is
/// expunged, so that UIDs and sequence numbers differ (sequence number 1 is UID 2).
fn curl_server() -> TestServer {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), USER);
    append(&mut c, "INBOX", &[1, 2, 3]);
    for command in [
        "SELECT INBOX",
        "UID STORE 1 +FLAGS (\\Deleted)",
        "EXPUNGE",
        "LOGOUT",
    ] {
        let r = c.cmd(command);
        assert!(ok(&r), "{command}: {r:?}");
    }
    server
}

fn curl(args: &[&str], dir: &Path) -> (bool, String) {
    let user = format!("{USER}:{PASSWORD}");
    let mut all = vec![
        "--silent",
        "--show-error",
        "--max-time",
        "30",
        "--user",
        &user,
    ];
    all.extend_from_slice(args);
    run("curl", &all, dir, Duration::from_secs(60))
}

fn curl_ok(args: &[&str], dir: &Path) -> String {
    let (success, output) = curl(args, dir);
    assert!(success, "curl {args:?}: {output}");
    output
}

#[test]
fn curl_fetches_lists_and_searches_over_imaps() {
    let server = curl_server();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("imaps://127.0.0.1:{}", server.addr("imaps").port());
    let at = |path: &str| format!("{base}/{path}");

    // curl 7.62 and later send UID FETCH for ;UID=, FETCH for ;MAILINDEX=.
    let got = curl_ok(&["--insecure", &at("INBOX;UID=3")], dir.path());
    assert_eq!(got, test_message(3));
    let got = curl_ok(&["--insecure", &at("INBOX;MAILINDEX=1")], dir.path());
    assert_eq!(got, test_message(2));
    let (success, got) = curl(&["--insecure", &at("INBOX;UID=1")], dir.path());
    assert!(!success, "UID 1 was expunged: {got}");

    let got = curl_ok(&["--insecure", &at("")], dir.path());
    for name in ["INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"] {
        assert!(
            got.lines()
                .any(|l| l.starts_with("* LIST (") && l.ends_with(&format!("\"/\" {name}"))),
            "{name} in {got}"
        );
    }
    let got = curl_ok(
        &["--insecure", &at("INBOX"), "-X", "UID SEARCH ALL"],
        dir.path(),
    );
    assert_eq!(got.trim_end(), "* SEARCH 2 3");
    let got = curl_ok(
        &[
            "--insecure",
            &at("INBOX"),
            "-X",
            "UID SEARCH SUBJECT \"message 3\"",
        ],
        dir.path(),
    );
    assert_eq!(got.trim_end(), "* SEARCH 3");

    // The self-signed certificate verifies for the configured host name.
    let cert = server.data_dir().join("certs/cert.pem");
    let port = server.addr("imaps").port();
    let resolve = format!("mx.example.com:{port}:127.0.0.1");
    let url = format!("imaps://mx.example.com:{port}/INBOX;UID=2");
    let got = curl_ok(
        &[
            "--cacert",
            cert.to_str().unwrap(),
            "--resolve",
            &resolve,
            &url,
        ],
        dir.path(),
    );
    assert_eq!(got, test_message(2));

    // A wrong password is refused (curl exit 67: login denied).
    let (success, got) = run(
        "curl",
        &[
            "-sS",
            "--insecure",
            "--user",
            "bob@example.com:wrong",
            &at("INBOX;UID=2"),
        ],
        dir.path(),
        Duration::from_secs(60),
    );
    assert!(!success && got.contains("denied"), "{got}");
}

#[test]
fn curl_over_imap_with_starttls() {
    let server = curl_server();
    let dir = tempfile::tempdir().unwrap();
    let base = format!("imap://127.0.0.1:{}", server.addr("imap").port());
    let tls = ["--ssl-reqd", "--insecure"];

    let mut args = tls.to_vec();
    let url = format!("{base}/INBOX;UID=3");
    args.extend(["--verbose", url.as_str()]);
    let got = curl_ok(&args, dir.path());
    assert!(got.contains(&test_message(3)), "{got}");
    // --verbose shows the protocol: STARTTLS first, the login only inside TLS.
    let starttls = got
        .find(" STARTTLS\r\n")
        .or_else(|| got.find(" STARTTLS\n"));
    let login = got.find("AUTHENTICATE").or_else(|| got.find(" LOGIN "));
    assert!(
        matches!((starttls, login), (Some(s), Some(l)) if s < l),
        "STARTTLS before the login: {got}"
    );
    assert!(got.contains("SSL connection using"), "{got}");

    // Upload (APPEND) and search through the same STARTTLS session kind.
    let upload = dir.path().join("upload.eml");
    std::fs::write(&upload, test_message(4)).unwrap();
    let mut args = tls.to_vec();
    let inbox = format!("{base}/INBOX");
    args.extend(["-T", upload.to_str().unwrap(), inbox.as_str()]);
    curl_ok(&args, dir.path());
    let mut args = tls.to_vec();
    args.extend([inbox.as_str(), "-X", "UID SEARCH ALL"]);
    assert_eq!(curl_ok(&args, dir.path()).trim_end(), "* SEARCH 2 3 4");
    let mut args = tls.to_vec();
    let url = format!("{base}/INBOX;UID=4");
    args.push(url.as_str());
    assert_eq!(curl_ok(&args, dir.path()), test_message(4));

    // Without --ssl-reqd curl stays in plaintext; the test config allows plaintext login.
    let url = format!("{base}/INBOX;UID=2");
    assert_eq!(curl_ok(&[url.as_str()], dir.path()), test_message(2));
}
