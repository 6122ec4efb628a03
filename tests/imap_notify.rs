//! RFC 5465 NOTIFY across sessions: one session NOTIFYs, another changes mailboxes, and the
//! first hears of it without asking — STATUS for message changes in another mailbox, LIST
//! for mailboxes created, renamed, deleted and (un)subscribed (also by the console), METADATA for entries — and
//! Dovecot's imaptest `notify` script passes when imaptest is installed.

mod common;

use common::{message, ok, Client, Imap, TestServer, PASSWORD};

/// Reads lines until one satisfies `want` (the read timeout of `Imap` bounds the wait).
fn wait_for(c: &mut Imap, want: impl Fn(&str) -> bool) -> String {
    let mut seen = Vec::new();
    for _ in 0..50 {
        let l = c.read_line();
        if l.is_empty() {
            break;
        }
        if want(&l) {
            return l;
        }
        seen.push(l);
    }
    panic!("the awaited line never came; got {seen:?}");
}

#[test]
fn a_notify_session_hears_of_changes_made_by_another() {
    let server = TestServer::start();
    let addr = server.addr("imap");
    let mut watcher = Imap::login(addr, "bob@example.com");
    let mut actor = Imap::login(addr, "bob@example.com");
    assert!(ok(&actor.cmd("CREATE Lists")));
    assert!(ok(&watcher.cmd("SELECT INBOX")));
    let r = watcher.cmd(
        "NOTIFY SET STATUS (selected (MessageNew (UID FLAGS) MessageExpunge)) \
         (personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange \
         MailboxMetadataChange ServerMetadataChange))",
    );
    assert!(ok(&r), "{r:?}");
    // SET STATUS: the other mailboxes' state at once, not the selected one's.
    assert!(
        r.iter().any(
            |l| l.starts_with("* STATUS Lists (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ")
                && l.contains(" HIGHESTMODSEQ ")
        ),
        "{r:?}"
    );
    assert!(!r.iter().any(|l| l.starts_with("* STATUS INBOX")), "{r:?}");

    // A message appended to another mailbox: STATUS arrives with no command sent.
    let r = actor.cmd("APPEND Lists {7}\r\nSubj: x");
    assert!(ok(&r), "{r:?}");
    let l = wait_for(&mut watcher, |l| l.starts_with("* STATUS Lists"));
    assert!(l.contains("MESSAGES 1") && l.contains("UIDNEXT 2"), "{l}");

    // Mailbox events: LIST.
    assert!(ok(&actor.cmd("CREATE Projects")));
    wait_for(&mut watcher, |l| l == "* LIST () \"/\" Projects");
    assert!(ok(&actor.cmd("RENAME Projects Later")));
    wait_for(&mut watcher, |l| {
        l == "* LIST () \"/\" Later (\"OLDNAME\" (Projects))"
    });
    assert!(ok(&actor.cmd("SUBSCRIBE Later")));
    wait_for(&mut watcher, |l| l == "* LIST (\\Subscribed) \"/\" Later");
    assert!(ok(&actor.cmd("DELETE Later")));
    wait_for(&mut watcher, |l| l == "* LIST (\\NonExistent) \"/\" Later");
    assert!(ok(&actor.cmd("SETMETADATA Lists (/shared/comment \"hi\")")));
    wait_for(&mut watcher, |l| l == "* METADATA Lists /shared/comment");
    assert!(ok(&actor.cmd("SETMETADATA \"\" (/private/vendor/x \"1\")")));
    wait_for(&mut watcher, |l| l == "* METADATA \"\" /private/vendor/x");

    // The console's folder commands are news too.
    let (done, text) = server.console("folder create bob@example.com FromConsole");
    assert!(done, "{text}");
    wait_for(&mut watcher, |l| l == "* LIST () \"/\" FromConsole");
    let (done, text) = server.console("folder delete bob@example.com FromConsole");
    assert!(done, "{text}");
    wait_for(&mut watcher, |l| {
        l == "* LIST (\\NonExistent) \"/\" FromConsole"
    });

    // The selected mailbox: EXISTS and the FETCH MessageNew asked for, at once.
    let mut smtp = Client::connect(server.addr("smtp"));
    let r = smtp.deliver("a@example.net", &["bob@example.com"], &message("new"));
    assert!(r.starts_with("250"), "{r}");
    wait_for(&mut watcher, |l| l == "* 1 EXISTS");
    let l = wait_for(&mut watcher, |l| l.starts_with("* 1 FETCH"));
    assert!(l.contains("UID 1") && l.contains("FLAGS ("), "{l}");

    // NOTIFY NONE: nothing more arrives; the next command's response holds only its own.
    assert!(ok(&watcher.cmd("NOTIFY NONE")));
    assert!(ok(&actor.cmd("APPEND Lists {7}\r\nSubj: y")));
    assert!(ok(&actor.cmd("CREATE Quiet")));
    let r = watcher.cmd("NOOP");
    assert_eq!(r.len(), 1, "{r:?}");
}

#[test]
fn changes_in_a_mailbox_shared_by_another_user_arrive() {
    let server = TestServer::start();
    let addr = server.addr("imap");
    let mut alice = Imap::login(addr, "alice@example.com");
    assert!(ok(&alice.cmd("CREATE Shared")));
    assert!(ok(&alice.cmd("SETACL Shared bob@example.com lr")));
    let mut bob = Imap::login(addr, "bob@example.com");
    let r = bob.cmd(
        "NOTIFY SET STATUS (subtree \"Other Users/alice@example.com\" (MessageNew MessageExpunge))",
    );
    assert!(
        r.iter().any(|l| l.starts_with(
            "* STATUS \"Other Users/alice@example.com/Shared\" (MESSAGES 0 UIDNEXT 1 "
        )),
        "{r:?}"
    );
    assert!(ok(&alice.cmd("APPEND Shared {7}\r\nSubj: x")));
    let l = wait_for(&mut bob, |l| l.starts_with("* STATUS"));
    assert!(
        l.starts_with("* STATUS \"Other Users/alice@example.com/Shared\" (MESSAGES 1 UIDNEXT 2 "),
        "{l}"
    );
}

#[test]
fn notify_errors_follow_rfc_5465() {
    let server = TestServer::start();
    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let r = c.cmd("NOTIFY SET (personal (AnnotationChange))");
    assert!(
        r.last()
            .unwrap()
            .contains("NO [BADEVENT (MessageNew MessageExpunge"),
        "{r:?}"
    );
    let r = c.cmd("NOTIFY SET (selected (MessageNew))");
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    let r = c.cmd("NOTIFY SET (personal (MessageNew (UID)))");
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    let r = c.cmd("NOTIFY SET (selected (MailboxName))");
    assert!(r.last().unwrap().contains("BAD"), "{r:?}");
    let r = c.cmd("CAPABILITY");
    assert!(r[0].contains(" NOTIFY"), "{r:?}");
}

/// Dovecot's imaptest `notify` script (initial STATUS per event set), when imaptest and
/// its scripts are installed: `IMAPTEST_TESTS` names the scripts' directory.
#[test]
fn imaptest_notify_script() {
    let Some(dir) = std::env::var_os("IMAPTEST_TESTS") else {
        eprintln!(
            "SKIP imaptest_notify_script: IMAPTEST_TESTS (imaptest's test directory) is not set"
        );
        return;
    };
    let script = std::path::Path::new(&dir).join("notify");
    let server = TestServer::start();
    let addr = server.addr("imap");
    let args = [
        format!("host={}", addr.ip()),
        format!("port={}", addr.port()),
        "user=bob@example.com".to_string(),
        format!("pass={PASSWORD}"),
        format!("test={}", script.display()),
    ];
    println!("imaptest {}", args.join(" "));
    let out = std::process::Command::new("imaptest").args(&args).output();
    let out = match out {
        Ok(o) => o,
        Err(e) => panic!("IMAPTEST_TESTS is set but imaptest cannot run: {e}"),
    };
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        text.contains("1 test groups: 0 failed, 0 skipped"),
        "{text}"
    );
    assert!(text.contains("extensions: 0/"), "{text}");
}
