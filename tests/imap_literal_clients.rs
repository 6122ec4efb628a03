//! Real clients and multi-megabyte messages (issue 9): curl uploads 5 MiB to Sent with
//! `curl -T`; mbsync pushes a local 5 MiB message and pulls it back unchanged; NeoMutt sends
//! a message with a 2 MiB attachment through the submission port and files its copy in an
//! IMAP Sent folder. A missing client makes its test print a loud SKIP (`.ci/run` installs
//! them all).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::tls_imap::{message, server_with_limit, tagged, walk, Client, Transport, USER};
use common::{TestServer, PASSWORD};

const MIB: usize = 1024 * 1024;

/// Runs `program` in `dir` (as HOME), killed after `limit`. `None` when the program is not
/// installed: the test then says SKIP loudly (`.ci/run` installs them).
fn tool(program: &str, args: &[&str], dir: &Path, limit: Duration) -> Option<(bool, String)> {
    let out = dir.join(format!("{program}.out"));
    let stdout = std::fs::File::create(&out).expect("output file");
    let stderr = stdout.try_clone().expect("output file");
    let mut child = match Command::new(program)
        .args(args)
        .env("HOME", dir)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!(
                "\n*** SKIP: {program} is not installed, so this test checked NOTHING \
                 (.ci/run installs it) ***\n"
            );
            return None;
        }
        Err(e) => panic!("cannot run {program}: {e}"),
    };
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{program} {args:?} still running after {limit:?}:\n{}",
                std::fs::read_to_string(&out).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Some((
        status.success(),
        std::fs::read_to_string(&out).unwrap_or_default(),
    ))
}

/// Runs `command` on a terminal that script(1) makes, typing each step's keys once its
/// screen shows the step's text (after the previous step's); `None` when script or the
/// program is missing (a loud SKIP). Every wait is bounded.
fn on_terminal(command: &str, dir: &Path, steps: &[(&str, &str)]) -> Option<(bool, String)> {
    let program = command.split(' ').next().unwrap_or_default();
    for p in ["script", program] {
        let found = std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(p).is_file()));
        if !found {
            eprintln!(
                "\n*** SKIP: {p} is not installed, so this test checked NOTHING \
                 (.ci/run installs it) ***\n"
            );
            return None;
        }
    }
    let out = dir.join("terminal.out");
    let stdout = std::fs::File::create(&out).expect("output file");
    let mut child = Command::new("script")
        .args(["-qefc", command, "/dev/null"])
        .env("HOME", dir)
        .env("TERM", "xterm")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let mut keys = child.stdin.take().expect("stdin");
    let screen = || String::from_utf8_lossy(&std::fs::read(&out).unwrap_or_default()).into_owned();
    let mut seen = 0;
    for (text, typed) in steps {
        let deadline = Instant::now() + Duration::from_secs(60);
        let found = loop {
            let now = screen();
            if let Some(at) = now.get(seen..).and_then(|s| s.find(text)) {
                break Some(seen + at + text.len());
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let Some(at) = found else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command}: never showed {text:?}:\n{}", screen());
        };
        seen = at;
        keys.write_all(typed.as_bytes()).expect("type");
        keys.flush().expect("type");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{command}: still running:\n{}", screen());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    drop(keys);
    Some((status.success(), screen()))
}

/// The one message of `mailbox`, fetched over imaps.
fn only_message(server: &TestServer, mailbox: &str) -> Vec<u8> {
    let mut c = Client::connect(server, Transport::ImplicitTls);
    let (lines, _) = c.cmd(&format!("SELECT {mailbox}"));
    assert!(
        lines.iter().any(|l| l.starts_with("* 1 EXISTS")),
        "{mailbox}: {lines:?}"
    );
    let (lines, mut literals) = c.cmd("FETCH 1 BODY.PEEK[]");
    assert!(tagged(&lines).contains(" OK "), "{lines:?}");
    literals.pop().expect("a literal")
}

/// The message without the header line `X-TUID: …` (CRLF or LF) that mbsync adds.
fn without_tuid(message: &[u8]) -> Vec<u8> {
    let Some(at) = message.windows(8).position(|w| w == b"X-TUID: ") else {
        return message.to_vec();
    };
    let end = message[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(message.len(), |e| at + e + 1);
    [&message[..at], &message[end..]].concat()
}

/// Where two byte strings part, for a failure message.
fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |s: &[u8]| {
        String::from_utf8_lossy(&s[at.saturating_sub(40)..(at + 40).min(s.len())]).into_owned()
    };
    format!(
        "lengths {} and {}, first difference at {at}: {:?} vs {:?}",
        a.len(),
        b.len(),
        show(a),
        show(b)
    )
}

/// Bytes that look random (and compress badly), reproducibly.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn curl_uploads_a_5_mib_message_to_sent() {
    let server = server_with_limit(52_428_800);
    let dir = tempfile::tempdir().expect("tempdir");
    let body = message(5 * MIB, false);
    let file = dir.path().join("upload.eml");
    std::fs::write(&file, &body).expect("write");
    let url = format!("imaps://127.0.0.1:{}/Sent", server.addr("imaps").port());
    let user = format!("{USER}:{PASSWORD}");
    let Some((ok, output)) = tool(
        "curl",
        &[
            "--silent",
            "--show-error",
            "--insecure",
            "--user",
            &user,
            "-T",
            file.to_str().expect("path"),
            &url,
        ],
        dir.path(),
        Duration::from_secs(120),
    ) else {
        return;
    };
    assert!(ok, "curl -T: {output}");
    assert!(
        only_message(&server, "Sent") == body,
        "the Sent copy differs"
    );
}

#[test]
fn mbsync_pushes_a_5_mib_message_and_pulls_it_back() {
    let server = server_with_limit(52_428_800);
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = server.data_dir().join("certs/cert.pem");
    let port = server.addr("imaps").port();
    // Maildir keeps LF line ends; mbsync writes CRLF to IMAP and LF back.
    let crlf = message(5 * MIB, false);
    let lf: Vec<u8> = String::from_utf8(crlf.clone())
        .expect("text")
        .replace("\r\n", "\n")
        .into_bytes();
    let rc = |root: &Path| {
        format!(
            "IMAPAccount bob\nHost 127.0.0.1\nPort {port}\nUser {USER}\nPass \"{PASSWORD}\"\n\
             SSLType IMAPS\nCertificateFile {cert}\nSystemCertificates no\n\n\
             IMAPStore remote\nAccount bob\n\n\
             MaildirStore local\nPath {root}/\nInbox {root}/INBOX\nSubFolders Verbatim\n\n\
             Channel bob\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Both\n\
             Expunge Both\nSyncState *\n",
            cert = cert.display(),
            root = root.display(),
        )
    };
    let push = dir.path().join("push");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(push.join("INBOX").join(sub)).expect("maildir");
    }
    std::fs::write(push.join("INBOX/new/1700000000.1.local"), &lf).expect("write");
    std::fs::write(dir.path().join("push.rc"), rc(&push)).expect("rc");
    let Some((ok, output)) = tool(
        "mbsync",
        &["-c", "push.rc", "-a"],
        dir.path(),
        Duration::from_secs(120),
    ) else {
        return;
    };
    assert!(ok, "mbsync push: {output}");
    // isync 1.4 marks what it uploads with an X-TUID header (to recognise it if the
    // answer's APPENDUID were lost): the one change it makes on purpose.
    let pushed = without_tuid(&only_message(&server, "INBOX"));
    assert!(
        pushed == crlf,
        "the pushed copy differs: {}",
        first_difference(&pushed, &crlf)
    );
    let pull = dir.path().join("pull");
    std::fs::create_dir_all(&pull).expect("dir");
    std::fs::write(dir.path().join("pull.rc"), rc(&pull)).expect("rc");
    let (ok, output) = tool(
        "mbsync",
        &["-c", "pull.rc", "-a"],
        dir.path(),
        Duration::from_secs(120),
    )
    .expect("mbsync ran once already");
    assert!(ok, "mbsync pull: {output}");
    let pulled: Vec<_> = walk(&pull.join("INBOX"))
        .into_iter()
        .filter(|p| !p.to_string_lossy().contains(".mbsyncstate") && !p.ends_with(".uidvalidity"))
        .filter(|p| {
            p.parent()
                .is_some_and(|d| d.ends_with("cur") || d.ends_with("new"))
        })
        .collect();
    assert_eq!(pulled.len(), 1, "{pulled:?}");
    let got = without_tuid(&std::fs::read(&pulled[0]).expect("read"));
    assert!(
        got == lf,
        "the pulled copy differs: {}",
        first_difference(&got, &lf)
    );
}

#[test]
fn neomutt_sends_a_2_mib_attachment_and_files_it_in_sent() {
    // The common test config takes messages of 100 kB over SMTP.
    let server = TestServer::start_edited("", "[auth]\nverify = false\n", None, |text| {
        text.replace("max_message_size = 100000", "max_message_size = 10000000")
            .replace("append_limit = 1000000", "append_limit = 10000000")
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let attachment = noise(2 * MIB);
    std::fs::write(dir.path().join("report.bin"), &attachment).expect("write");
    std::fs::write(dir.path().join("body.txt"), "The report is attached.\n").expect("write");
    // The server's self-signed certificate, trusted as such; its name is not 127.0.0.1.
    let cert = server.data_dir().join("certs/cert.pem");
    let rc = format!(
        "set from = \"{USER}\"\nset use_from = yes\nset hostname = \"example.com\"\n\
         set smtp_url = \"smtp://bob%40example.com@127.0.0.1:{submission}/\"\n\
         set smtp_pass = \"{PASSWORD}\"\n\
         set ssl_starttls = yes\nset ssl_force_tls = yes\nset ssl_verify_host = no\n\
         set certificate_file = \"{cert}\"\n\
         set imap_user = \"{USER}\"\nset imap_pass = \"{PASSWORD}\"\n\
         set folder = \"imaps://bob%40example.com@127.0.0.1:{imaps}/\"\n\
         set record = \"imaps://bob%40example.com@127.0.0.1:{imaps}/Sent\"\nset copy = yes\n\
         set editor = \"true\"\nset edit_headers = no\nset askcc = no\nset askbcc = no\n\
         set abort_noattach = no\n",
        submission = server.addr("submission").port(),
        imaps = server.addr("imaps").port(),
        cert = cert.display(),
    );
    std::fs::write(dir.path().join("neomuttrc"), rc).expect("rc");
    // NeoMutt's batch mode (`neomutt -n -F rc -s subj -a file -- to < body`) sends, but
    // skips an Fcc to IMAP ("not supported in batch mode"), so NeoMutt runs as a user would:
    // on a terminal (script(1) makes one), the body from -i, the editor a no-op: Enter to
    // confirm To and Subject, "y" in the compose menu to send.
    let command = "neomutt -n -F neomuttrc -s 'Quarterly report' -i body.txt -a report.bin \
                   -- alice@example.com";
    let Some((ok, output)) = on_terminal(
        command,
        dir.path(),
        &[("To: ", "\r"), ("Subject: ", "\r"), ("Security:", "y")],
    ) else {
        return;
    };
    assert!(ok, "neomutt: {output}");
    let sent = String::from_utf8(only_message(&server, "Sent")).expect("a MIME message is text");
    assert!(sent.contains("Subject: Quarterly report"), "{sent:.2000}");
    // The attachment's base64, between its part header and the closing boundary.
    let part = sent
        .find("filename=\"report.bin\"")
        .or_else(|| sent.find("filename=report.bin"))
        .unwrap_or_else(|| panic!("no attachment: {sent:.2000}"));
    let start = part + sent[part..].find("\r\n\r\n").expect("part body") + 4;
    let end = start + sent[start..].find("\r\n--").expect("closing boundary");
    let b64: String = sent[start..end]
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    assert!(decoded == attachment, "the attachment differs");
    // And alice got the mail.
    let inbox = server.wait_inbox("alice@example.com", 1);
    assert!(inbox[0].len() > 2 * MIB, "{}", inbox[0].len());
}
