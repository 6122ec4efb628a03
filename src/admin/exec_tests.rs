//! `folder …` and `acl …` against a real store in a temp dir: what the admin sees, and what
//! the store holds afterwards.

use super::parse_line;
use crate::storage::{Store, Writers, PUBLIC_OWNER};

/// A store with its write handles, as the one-shot CLI opens it.
struct Opened {
    store: Store,
    writers: Writers,
}

impl std::ops::Deref for Opened {
    type Target = Store;

    fn deref(&self) -> &Store {
        &self.store
    }
}

fn store() -> (tempfile::TempDir, Opened) {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let (store, writers) = Store::open(dir.path()).expect("open store");
    let store = Opened { store, writers };
    for line in [
        "domain add example.org",
        "account add bob@example.org --password pw",
        "account add carol@example.org --password pw",
    ] {
        run(&store, line).expect(line);
    }
    (dir, store)
}

fn run(store: &Opened, line: &str) -> Result<String, String> {
    let cmd = parse_line(line).map_err(|e| e.to_string())?;
    super::exec::run(&store.store, Some(&store.writers), &cmd)
}

fn ok(store: &Opened, line: &str) -> String {
    run(store, line).unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn fails(store: &Opened, line: &str) -> String {
    match run(store, line) {
        Ok(out) => panic!("{line}: expected an error, got {out:?}"),
        Err(e) => e,
    }
}

#[test]
fn folder_create_list_delete_for_an_account() {
    let (_dir, store) = store();
    assert_eq!(
        ok(&store, "folder create bob@example.org \"Projects/2024 Q1\""),
        "folder Projects/2024 Q1 created (account bob@example.org)"
    );
    // The missing parent was created too.
    assert!(store
        .folder_id("bob@example.org", "Projects")
        .unwrap()
        .is_some());
    let list = ok(&store, "folder list bob@example.org");
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("FOLDER") && lines[0].ends_with("SPECIAL-USE"),
        "{list}"
    );
    let names: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split("  ").next().unwrap_or("").trim())
        .collect();
    assert!(
        names.contains(&"Projects") && names.contains(&"Projects/2024 Q1"),
        "{list}"
    );
    // INBOX first, then by name; every account starts with the default folders.
    assert_eq!(names[0], "INBOX", "{list}");
    assert!(names.contains(&"Sent"), "{list}");
    let row = lines
        .iter()
        .find(|l| l.starts_with("Projects/2024 Q1 "))
        .expect("row");
    let cols: Vec<&str> = row["Projects/2024 Q1".len()..].split_whitespace().collect();
    assert_eq!(cols, ["0", "0", "0", "-"], "{row}");

    assert_eq!(
        fails(&store, "folder create bob@example.org Projects"),
        "folder Projects of bob@example.org already exists"
    );
    assert_eq!(
        ok(&store, "folder delete bob@example.org \"Projects/2024 Q1\""),
        "folder Projects/2024 Q1 deleted (account bob@example.org)"
    );
    assert!(store
        .folder_id("bob@example.org", "Projects/2024 Q1")
        .unwrap()
        .is_none());
    assert_eq!(
        fails(&store, "folder delete bob@example.org Nope"),
        "no folder Nope (account bob@example.org)"
    );
    assert!(fails(&store, "folder list nobody@example.org").contains("nobody@example.org"));
}

#[test]
fn folder_list_shows_counts_and_special_use() {
    let (_dir, store) = store();
    // New accounts get the default folders, Sent among them.
    ok(&store, "folder create bob@example.org Reports");
    let id = store
        .folder_id("bob@example.org", "Reports")
        .unwrap()
        .unwrap();
    let blob = store.blobs().put(b"Subject: hi\r\n\r\nhello\r\n").unwrap();
    let seen = crate::storage::Flags {
        system: 1,
        keywords: vec![],
    };
    for flags in [crate::storage::Flags::default(), seen] {
        store
            .writers
            .folders
            .append_messages(
                id,
                &[crate::storage::NewMessage {
                    blob,
                    size: 22,
                    flags,
                    internal_date: 0,
                }],
            )
            .unwrap();
    }
    let list = ok(&store, "folder list bob@example.org");
    let row = |name: &str| -> Vec<String> {
        list.lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no {name} in {list}"))
            .split_whitespace()
            .skip(1)
            .map(String::from)
            .collect()
    };
    assert_eq!(row("Reports"), ["2", "1", "44", "-"], "{list}");
    assert_eq!(row("Sent"), ["0", "0", "0", "\\Sent"], "{list}");
}

#[test]
fn public_folders() {
    let (_dir, store) = store();
    assert_eq!(
        ok(&store, "folder list public"),
        "no folders (public folders)"
    );
    assert_eq!(
        ok(&store, "folder create Public News"),
        "folder News created (public folders)"
    );
    assert!(store.folder_id(PUBLIC_OWNER, "News").unwrap().is_some());
    assert!(ok(&store, "folder list public")
        .lines()
        .any(|l| l.starts_with("News ")));
    assert_eq!(
        ok(&store, "acl get public News"),
        "no ACL entries: nobody has access"
    );
    assert_eq!(
        ok(&store, "acl set public News anyone lr"),
        "anyone now has rights lr on News (public folders)"
    );
    assert_eq!(
        ok(&store, "acl set public News bob@example.org +lrswi"),
        "bob@example.org now has rights lrswi on News (public folders)"
    );
    assert_eq!(
        ok(&store, "acl get public News"),
        "anyone           lr\nbob@example.org  lrswi"
    );
    let id = store.folder_id(PUBLIC_OWNER, "News").unwrap().unwrap();
    assert_eq!(store.rights(id, "carol@example.org").unwrap(), "lr");
    assert_eq!(
        ok(&store, "folder delete public News"),
        "folder News deleted (public folders)"
    );
    assert_eq!(
        fails(&store, "acl get public News"),
        "no folder News (public folders)"
    );
}

#[test]
fn acl_set_adds_removes_and_clears_rights() {
    let (_dir, store) = store();
    ok(&store, "folder create bob@example.org Team");
    let id = store.folder_id("bob@example.org", "Team").unwrap().unwrap();
    assert_eq!(
        ok(&store, "acl get bob@example.org Team"),
        "bob@example.org  lrswipkxtea (owner)"
    );
    let set = |rights: &str| {
        ok(
            &store,
            &format!("acl set bob@example.org Team carol@example.org {rights}"),
        )
    };
    assert_eq!(
        set("lrs"),
        "carol@example.org now has rights lrs on Team (account bob@example.org)"
    );
    assert_eq!(store.rights(id, "carol@example.org").unwrap(), "lrs");
    set("+wi");
    assert_eq!(store.rights(id, "carol@example.org").unwrap(), "lrswi");
    set("-s");
    assert_eq!(store.rights(id, "carol@example.org").unwrap(), "lrwi");
    assert_eq!(
        ok(&store, "acl get bob@example.org Team"),
        "bob@example.org    lrswipkxtea (owner)\ncarol@example.org  lrwi"
    );
    assert_eq!(
        set("none"),
        "carol@example.org has no rights on Team (account bob@example.org)"
    );
    assert_eq!(store.rights(id, "carol@example.org").unwrap(), "");
    // Removing every right removes the entry as well.
    set("lr");
    set("-lr");
    assert_eq!(store.get_acl(id).unwrap(), vec![]);
}

#[test]
fn acl_set_errors() {
    let (_dir, store) = store();
    assert_eq!(
        fails(&store, "acl set bob@example.org Nope carol@example.org lr"),
        "no folder Nope (account bob@example.org)"
    );
    assert_eq!(
        fails(&store, "acl set bob@example.org INBOX dave@example.org lr"),
        "no account dave@example.org (identifiers are account addresses or 'anyone')"
    );
    assert_eq!(
        fails(&store, "acl set bob@example.org INBOX bob@example.org -l"),
        "bob@example.org owns INBOX and always has every right"
    );
    assert!(fails(
        &store,
        "acl set bob@example.org INBOX carol@example.org lrz"
    )
    .starts_with("acl set: unknown right 'z'"));
    assert_eq!(
        fails(&store, "folder create nobody@example.org X"),
        "account nobody@example.org not found"
    );
}

#[test]
fn dkim_generate_list_activate_delete() {
    let (dir, store) = store();
    let out = ok(
        &store,
        "dkim generate example.org --algorithm ed25519 --selector s1",
    );
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("DKIM key s1 (ed25519-sha256) made for example.org; active: mail from this domain is signed with it from now on")
    );
    assert_eq!(lines.next(), Some("Publish this DNS record:"));
    let record = lines.next().unwrap_or_default();
    assert!(
        record.starts_with("s1._domainkey.example.org TXT \"v=DKIM1; k=ed25519; p="),
        "{record}"
    );
    assert!(dir.path().join("dkim/example.org/s1.pem").is_file());

    let out = ok(&store, "dkim generate example.org");
    assert!(
        out.contains("(rsa-sha256)") && out.contains("not active yet"),
        "{out}"
    );
    assert!(out.contains("k=rsa; p=MIIBIjAN"), "{out}");
    let rsa = out
        .split_whitespace()
        .nth(2)
        .unwrap_or_default()
        .to_string();
    assert!(rsa.starts_with("rsa-"), "{rsa}");

    let list = ok(&store, "dkim list example.org");
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.lines()
            .any(|l| l.starts_with("s1  ed25519-sha256") && l.ends_with("ACTIVE")),
        "{list}"
    );

    assert_eq!(
        fails(&store, "dkim delete example.org s1"),
        "s1 is the active DKIM key of example.org; activate another selector first"
    );
    assert_eq!(
        ok(&store, &format!("dkim activate example.org {rsa}")),
        format!("{rsa} now signs the mail of example.org (other keys stay until deleted)")
    );
    ok(&store, "dkim delete example.org s1");
    assert!(!dir.path().join("dkim/example.org/s1.pem").exists());
    assert_eq!(
        fails(&store, "dkim generate nowhere.example"),
        "nowhere.example is not a local domain (add it with 'domain add' first)"
    );
    assert_eq!(
        fails(&store, "dkim generate example.org --selector bad_sel"),
        "invalid selector \"bad_sel\" (letters, digits and hyphens, in dot-separated labels)"
    );
    assert_eq!(
        ok(&store, "dkim list other.example"),
        "no DKIM keys for other.example (make one with 'dkim generate other.example')"
    );
}

#[test]
fn sendas_and_domainadmin_change_what_an_account_may_send_as() {
    let (_dir, store) = store();
    ok(&store, "domain add other.example");
    assert_eq!(
        ok(&store, "sendas list"),
        "no account has sender rights beyond its own addresses"
    );
    assert_eq!(
        ok(&store, "sendas add bob@example.org Info@Other.example"),
        "bob@example.org may now send as Info@Other.example"
    );
    ok(&store, "sendas add bob@example.org @remote.example");
    assert_eq!(
        ok(&store, "domainadmin add carol@example.org other.example"),
        "carol@example.org now administers other.example"
    );
    assert_eq!(
        ok(&store, "sendas list"),
        "bob@example.org: may send as @remote.example, info@other.example\n\
         carol@example.org: administers other.example"
    );
    assert_eq!(
        ok(&store, "sendas list carol@example.org"),
        "carol@example.org: administers other.example"
    );
    let rule = |account: &str, address: &str| {
        crate::mailauth::sender::may_send_as(&store.store, account, address).unwrap()
            == crate::mailauth::sender::Verdict::Allowed
    };
    assert!(rule("bob@example.org", "info@other.example"));
    assert!(rule("bob@example.org", "anyone@remote.example"));
    assert!(rule("carol@example.org", "whoever@other.example"));
    assert!(!rule("carol@example.org", "bob@example.org"));

    assert!(fails(&store, "sendas add bob@example.org info@other.example").contains("exists"));
    assert!(fails(&store, "sendas add nobody@example.org x@y.example").contains("account"));
    assert!(fails(&store, "domainadmin add bob@example.org none.example").contains("domain"));
    ok(&store, "sendas del bob@example.org info@other.example");
    assert!(!rule("bob@example.org", "info@other.example"));
    assert_eq!(
        ok(&store, "domainadmin del carol@example.org other.example"),
        "carol@example.org no longer administers other.example"
    );
    assert_eq!(
        ok(&store, "sendas list carol@example.org"),
        "carol@example.org: its own addresses only"
    );
}

#[test]
fn twofa_enrol_confirm_status_reset() {
    let (_dir, store) = store();
    assert_eq!(
        ok(&store, "account 2fa status bob@example.org"),
        "two-factor login of bob@example.org: off"
    );
    let begun = ok(&store, "account 2fa begin bob@example.org");
    let secret = begun
        .lines()
        .find_map(|l| l.strip_prefix("secret: "))
        .expect("the secret is printed");
    assert!(begun.contains("otpauth://totp/Ferrymail:bob%40example.org?secret="));
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let step =
        crate::admin::twofa::step_of(crate::clock::Clock::now(&crate::clock::SystemClock) as u64);
    // The code of the step before too: the step may turn between the two reads of the clock.
    let codes = [step - 1, step].map(|s| crate::admin::twofa::code_at(&secret, s));
    let confirmed = codes
        .iter()
        .find_map(|c| run(&store, &format!("account 2fa confirm bob@example.org {c}")).ok())
        .expect("a current code confirms");
    assert_eq!(confirmed.lines().count(), 11, "{confirmed}");
    assert_eq!(
        ok(&store, "account 2fa status bob@example.org"),
        "two-factor login of bob@example.org: on (10 recovery codes left)"
    );
    assert!(fails(&store, "account 2fa begin bob@example.org").contains("reset it first"));
    assert!(fails(&store, "account 2fa status nobody@example.org").contains("no such account"));
    ok(&store, "account 2fa reset bob@example.org");
    assert_eq!(
        ok(&store, "account 2fa status bob@example.org"),
        "two-factor login of bob@example.org: off"
    );
}

#[test]
fn apikey_add_list_del() {
    let (_dir, store) = store();
    assert_eq!(ok(&store, "apikey list"), "no API keys");
    let made = ok(&store, "apikey add bob@example.org ci --scope queues");
    let key = made.lines().nth(1).expect("the key on its own line");
    let info = crate::admin::apikey::authenticate(&store, key)
        .unwrap()
        .expect("the printed key works");
    assert_eq!(info.scope, crate::admin::apikey::Scope::Queues);
    let listed = ok(&store, "apikey list");
    assert!(listed.starts_with(&info.id), "{listed}");
    assert!(listed.contains("queues") && listed.contains("bob@example.org"));
    assert!(!listed.contains(&key[12..]), "no secret listed");
    assert!(fails(&store, "apikey add nobody@example.org ci").contains("not found"));
    ok(&store, &format!("apikey del {}", info.id));
    assert!(fails(&store, &format!("apikey del {}", info.id)).contains("not found"));
    assert_eq!(
        crate::admin::apikey::authenticate(&store, key).unwrap(),
        None
    );
    // Deleting the owner deletes its keys.
    let made = ok(&store, "apikey add carol@example.org ci");
    let key = made.lines().nth(1).unwrap().to_string();
    ok(&store, "account del carol@example.org");
    assert_eq!(
        crate::admin::apikey::authenticate(&store, &key).unwrap(),
        None
    );
    assert_eq!(ok(&store, "apikey list"), "no API keys");
}
