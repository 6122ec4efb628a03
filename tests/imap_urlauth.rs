//! URLAUTH (RFC 4467) end to end: access keys outlive a restart, RESETKEY's revocation does
//! too, and a mailbox deleted and made again under the same name honours no old URL.

mod common;

use common::{ok, Imap, TestServer, PASSWORD};

const BOB: &str = "bob@example.com";
const ALICE: &str = "alice@example.com";

fn login(server: &TestServer, user: &str) -> Imap {
    let mut c = Imap::connect(server.addr("imap"));
    let r = c.cmd(&format!("LOGIN {user} \"{PASSWORD}\""));
    assert!(ok(&r), "{r:?}");
    c
}

fn append(c: &mut Imap, mailbox: &str, text: &str) {
    let m = format!("Subject: {text}\r\n\r\n{text}\r\n");
    let t = c.bump();
    c.send_raw(format!("{t} APPEND {mailbox} {{{}+}}\r\n{m}\r\n", m.len()).as_bytes());
    let r = c.until_tagged(&t);
    assert!(ok(&r), "{r:?}");
}

/// GENURLAUTH's URL for `rump`.
fn gen(c: &mut Imap, rump: &str) -> String {
    let r = c.cmd(&format!("GENURLAUTH \"{rump}\" INTERNAL"));
    assert!(ok(&r), "{r:?}");
    r[0].strip_prefix("* GENURLAUTH \"")
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or_else(|| panic!("{r:?}"))
        .to_string()
}

/// URLFETCH's answer lines for `url`.
fn fetch(c: &mut Imap, url: &str) -> Vec<String> {
    let r = c.cmd(&format!("URLFETCH \"{url}\""));
    assert!(ok(&r), "{r:?}");
    r
}

fn is_nil(r: &[String]) -> bool {
    r[0].ends_with(" NIL")
}

#[test]
fn keys_and_their_reset_survive_a_restart() {
    let mut server = TestServer::start();
    let mut bob = login(&server, BOB);
    append(&mut bob, "INBOX", "kept");
    let url = gen(
        &mut bob,
        "imap://bob@example.com/INBOX/;UID=1;URLAUTH=authuser",
    );
    drop(bob);
    server.restart();
    let mut alice = login(&server, ALICE);
    let r = fetch(&mut alice, &url);
    assert!(r[0].contains("\r\nSubject: kept\r\n"), "{r:?}");
    let mut bob = login(&server, BOB);
    assert!(ok(&bob.cmd("RESETKEY INBOX")));
    drop(bob);
    server.restart();
    let mut alice = login(&server, ALICE);
    assert!(is_nil(&fetch(&mut alice, &url)));
}

#[test]
fn a_mailbox_made_again_honours_no_old_url() {
    let server = TestServer::start();
    let mut bob = login(&server, BOB);
    assert!(ok(&bob.cmd("CREATE Shared")));
    append(&mut bob, "Shared", "first");
    let url = gen(
        &mut bob,
        "imap://bob@example.com/Shared/;UID=1;URLAUTH=anonymous",
    );
    let mut alice = login(&server, ALICE);
    assert!(!is_nil(&fetch(&mut alice, &url)));
    assert!(ok(&bob.cmd("DELETE Shared")));
    assert!(is_nil(&fetch(&mut alice, &url)));
    assert!(ok(&bob.cmd("CREATE Shared")));
    append(&mut bob, "Shared", "second");
    // UID 1 exists again, but its mailbox has a new key.
    assert!(is_nil(&fetch(&mut alice, &url)));
    let again = gen(
        &mut bob,
        "imap://bob@example.com/Shared/;UID=1;URLAUTH=anonymous",
    );
    assert_ne!(again, url);
    let r = fetch(&mut alice, &again);
    assert!(r[0].contains("\r\nSubject: second\r\n"), "{r:?}");
}
