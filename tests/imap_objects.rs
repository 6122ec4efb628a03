//! RFC 8474 object ids and RFC 5464 metadata across a restart: MAILBOXID, EMAILID and
//! THREADID come back the same from the same data directory, RENAME keeps the MAILBOXID and a
//! mailbox created again under an old name gets a new one; metadata acknowledged before the
//! restart is there after it.

mod common;

use common::{message, ok, Client, Imap, TestServer};

/// The object id inside `(…)` after `item` in a response line.
fn id_after(lines: &[String], item: &str) -> String {
    let needle = format!("{item} (");
    let line = lines
        .iter()
        .find(|l| l.contains(&needle))
        .unwrap_or_else(|| panic!("no {item} in {lines:?}"));
    let start = line.find(&needle).unwrap() + needle.len();
    let end = start + line[start..].find(')').expect("closing parenthesis");
    line[start..end].to_string()
}

#[test]
fn ids_and_metadata_survive_a_restart() {
    let mut server = TestServer::start();
    let mut smtp = Client::connect(server.addr("smtp"));
    let r = smtp.deliver("a@example.net", &["bob@example.com"], &message("kept"));
    assert!(r.starts_with("250"), "{r}");
    server.wait_inbox("bob@example.com", 1);

    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let r = c.cmd("CREATE Work");
    assert!(ok(&r), "{r:?}");
    let work = id_after(&r, "MAILBOXID");
    assert!(ok(&c.cmd("SELECT INBOX")));
    let r = c.cmd("FETCH 1 (EMAILID THREADID)");
    let (email, thread) = (id_after(&r, "EMAILID"), id_after(&r, "THREADID"));
    let r = c.cmd("COPY 1 Work");
    assert!(ok(&r), "{r:?}");
    let r = c.cmd("SETMETADATA Work (/private/comment \"before the restart\")");
    assert!(ok(&r), "{r:?}");
    drop(c);

    server.restart();

    let mut c = Imap::login(server.addr("imap"), "bob@example.com");
    let r = c.cmd("STATUS Work (MAILBOXID)");
    assert_eq!(id_after(&r, "MAILBOXID"), work);
    let r = c.cmd("GETMETADATA Work /private/comment");
    assert!(
        r.iter()
            .any(|l| l == "* METADATA Work (/private/comment \"before the restart\")"),
        "{r:?}"
    );
    for mailbox in ["INBOX", "Work"] {
        assert!(ok(&c.cmd(&format!("EXAMINE {mailbox}"))));
        let r = c.cmd("FETCH 1 (EMAILID THREADID)");
        assert_eq!(id_after(&r, "EMAILID"), email, "{mailbox}");
        assert_eq!(id_after(&r, "THREADID"), thread, "{mailbox}");
        let r = c.cmd(&format!("SEARCH EMAILID {email}"));
        assert!(r.iter().any(|l| l == "* SEARCH 1"), "{r:?}");
    }
    assert!(ok(&c.cmd("UNSELECT")));

    assert!(ok(&c.cmd("RENAME Work Renamed")));
    let r = c.cmd("STATUS Renamed (MAILBOXID)");
    assert_eq!(
        id_after(&r, "MAILBOXID"),
        work,
        "RENAME keeps the MAILBOXID"
    );
    assert!(ok(&c.cmd("DELETE Renamed")));
    let r = c.cmd("CREATE Renamed");
    let again = id_after(&r, "MAILBOXID");
    assert_ne!(
        again, work,
        "a new mailbox under an old name gets a new MAILBOXID"
    );
    let r = c.cmd("GETMETADATA Renamed /private/comment");
    assert!(
        r.iter()
            .any(|l| l == "* METADATA Renamed (/private/comment NIL)"),
        "{r:?}"
    );
    // A \Noselect placeholder revived by CREATE is a new mailbox too.
    assert!(ok(&c.cmd("CREATE Parent/Child")));
    let r = c.cmd("STATUS Parent (MAILBOXID)");
    let parent = id_after(&r, "MAILBOXID");
    assert!(ok(&c.cmd("DELETE Parent")));
    let r = c.cmd("CREATE Parent");
    assert_ne!(id_after(&r, "MAILBOXID"), parent);
}
