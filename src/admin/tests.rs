use std::time::Duration;

use proptest::prelude::*;

use super::console::{classify, Step};
use super::control::{client_request, serve_connection, ControlResponse, MAX_REQUEST_LINE};
use super::*;

fn words(line: &str) -> Vec<String> {
    split_words(line).unwrap_or_else(|e| panic!("split {line:?}: {e}"))
}

fn parsed(line: &str) -> Result<AdminCommand, String> {
    parse(&words(line)).map_err(|e| e.to_string())
}

// ---- split_words -------------------------------------------------------------------------

#[test]
fn split_words_table() {
    let cases: &[(&str, &[&str])] = &[
        ("", &[]),
        ("   \t ", &[]),
        ("status", &["status"]),
        ("  account   add  bob@x ", &["account", "add", "bob@x"]),
        ("a \"b c\" d", &["a", "b c", "d"]),
        ("a 'b c' d", &["a", "b c", "d"]),
        ("'it''s'", &["its"]),
        ("\"it's\"", &["it's"]),
        ("'say \"hi\"'", &["say \"hi\""]),
        (r#""a \"q\" \\ b""#, &[r#"a "q" \ b"#]),
        (r"a\ b", &["a b"]),
        (r"a\\b", &[r"a\b"]),
        (r"'a\b'", &[r"a\b"]),
        ("pass\"word 1\"x", &["password 1x"]),
        ("\"\" ''", &["", ""]),
        ("--password=\"p w\"", &["--password=p w"]),
        ("ünï cödé", &["ünï", "cödé"]),
    ];
    for (line, want) in cases {
        assert_eq!(words(line), *want, "{line:?}");
    }
}

#[test]
fn split_words_errors() {
    let cases = [
        ("a 'b", "unterminated ' quote"),
        ("a \"b", "unterminated \" quote"),
        ("a \"b\\", "unterminated \" quote"),
        ("a b\\", "backslash at end of line"),
    ];
    for (line, want) in cases {
        let e = split_words(line).expect_err(line);
        assert_eq!(e.to_string(), want, "{line:?}");
    }
}

proptest! {
    #[test]
    fn join_then_split_round_trips(ws in prop::collection::vec(".{0,12}", 0..6)) {
        let line = join_words(&ws);
        prop_assert_eq!(split_words(&line).map_err(|e| e.to_string()), Ok(ws));
    }

    #[test]
    fn split_never_panics(line in ".{0,40}") {
        let _ = split_words(&line);
        let _ = parse_line(&line);
        for pos in 0..=line.len() {
            let _ = complete(&line, pos);
        }
    }
}

// ---- parse ---------------------------------------------------------------------------------

#[test]
fn parse_every_command() {
    use AdminCommand::*;
    let s = String::from;
    let cases: Vec<(&str, AdminCommand)> = vec![
        ("help", Help(None)),
        ("help account", Help(Some(s("account")))),
        ("help Account ADD", Help(Some(s("account add")))),
        ("help status", Help(Some(s("status")))),
        ("status", Status),
        ("STATUS", Status),
        ("actors", Actors),
        ("cluster", Cluster),
        ("cluster leases", ClusterLeases),
        ("CLUSTER Leases", ClusterLeases),
        ("domain add Example.ORG", DomainAdd(s("example.org"))),
        ("domain list", DomainList),
        ("domain del example.org", DomainDel(s("example.org"))),
        (
            "account add bob@x --password pw",
            AccountAdd {
                address: s("bob@x"),
                password: s("pw"),
                admin: false,
            },
        ),
        (
            "account add bob@x --password pw --admin",
            AccountAdd {
                address: s("bob@x"),
                password: s("pw"),
                admin: true,
            },
        ),
        (
            "account add --admin --password=\"p w=1\" bob@x",
            AccountAdd {
                address: s("bob@x"),
                password: s("p w=1"),
                admin: true,
            },
        ),
        (
            "account add bob@x --password -- --admin",
            AccountAdd {
                address: s("bob@x"),
                password: s("--"),
                admin: true,
            },
        ),
        (
            "account add bob@x --password --admin",
            AccountAdd {
                address: s("bob@x"),
                password: s("--admin"),
                admin: false,
            },
        ),
        ("account del -- --bob@x", AccountDel(s("--bob@x"))),
        ("account del bob@x", AccountDel(s("bob@x"))),
        (
            "account passwd bob@x --password new",
            AccountPasswd {
                address: s("bob@x"),
                password: s("new"),
            },
        ),
        ("account list", AccountList),
        (
            "account admin bob@x ON",
            AccountAdmin {
                address: s("bob@x"),
                admin: true,
            },
        ),
        (
            "account admin bob@x off",
            AccountAdmin {
                address: s("bob@x"),
                admin: false,
            },
        ),
        ("account disable bob@x", AccountDisable(s("bob@x"))),
        ("account enable bob@x", AccountEnable(s("bob@x"))),
        ("account show bob@x", AccountShow(s("bob@x"))),
        (
            "account quota bob@x --storage 2M --messages none",
            AccountQuota {
                address: s("bob@x"),
                storage: Some(Some(2 << 20)),
                messages: Some(None),
            },
        ),
        (
            "account quota bob@x --messages=10",
            AccountQuota {
                address: s("bob@x"),
                storage: None,
                messages: Some(Some(10)),
            },
        ),
        (
            "account quota bob@x",
            AccountQuota {
                address: s("bob@x"),
                storage: None,
                messages: None,
            },
        ),
        (
            "alias add postmaster@x bob@x",
            AliasAdd {
                alias: s("postmaster@x"),
                target: s("bob@x"),
            },
        ),
        ("alias list", AliasList),
        (
            "alias del postmaster@x",
            AliasDel {
                alias: s("postmaster@x"),
                target: None,
            },
        ),
        (
            "alias del postmaster@x bob@x",
            AliasDel {
                alias: s("postmaster@x"),
                target: Some(s("bob@x")),
            },
        ),
        ("queue list", QueueList(None)),
        ("queue list Deferred", QueueList(Some(s("deferred")))),
        ("queue show 42", QueueShow(0x42)),
        ("queue retry FFFFFFFFFFFFFFFF", QueueRetry(u64::MAX)),
        (
            "queue move 7 bad",
            QueueMove {
                id: 7,
                to: s("bad"),
            },
        ),
        (
            "queue move 7 ToArchive",
            QueueMove {
                id: 7,
                to: s("toarchive"),
            },
        ),
        ("queue delete 0", QueueDelete(0)),
        ("queue bounce 1F", QueueBounce(31)),
        (
            "dns MX Example.ORG.",
            DnsLookup {
                kind: s("mx"),
                name: s("example.org"),
            },
        ),
        ("reload", Reload),
        (
            "tls-policy show Remote.TEST.",
            TlsPolicyShow(s("remote.test")),
        ),
        (
            "dns tlsa _25._tcp.MX.remote.test",
            DnsLookup {
                kind: s("tlsa"),
                name: s("_25._tcp.mx.remote.test"),
            },
        ),
        ("shutdown", Shutdown),
        (
            "dkim generate Example.org",
            DkimGenerate {
                domain: s("example.org"),
                algorithm: None,
                selector: None,
            },
        ),
        (
            "dkim generate example.org --algorithm ED25519 --selector=May2026",
            DkimGenerate {
                domain: s("example.org"),
                algorithm: Some(s("ed25519")),
                selector: Some(s("may2026")),
            },
        ),
        ("dkim list example.org", DkimList(s("example.org"))),
        (
            "sendas add bob@x info@y",
            SendAsAdd {
                account: s("bob@x"),
                sender: s("info@y"),
            },
        ),
        (
            "SENDAS del bob@x @y.example",
            SendAsDel {
                account: s("bob@x"),
                sender: s("@y.example"),
            },
        ),
        ("sendas list", SendAsList(None)),
        ("sendas list bob@x", SendAsList(Some(s("bob@x")))),
        (
            "domainadmin add bob@x Y.Example",
            DomainAdminAdd {
                account: s("bob@x"),
                domain: s("y.example"),
            },
        ),
        (
            "domainadmin del bob@x y.example",
            DomainAdminDel {
                account: s("bob@x"),
                domain: s("y.example"),
            },
        ),
        (
            "dkim activate example.org S2",
            DkimActivate {
                domain: s("example.org"),
                selector: s("s2"),
            },
        ),
        (
            "dkim delete example.org s1",
            DkimDelete {
                domain: s("example.org"),
                selector: s("s1"),
            },
        ),
        ("folder list bob@x", FolderList(s("bob@x"))),
        ("folder list PUBLIC", FolderList(s("public"))),
        (
            "folder create bob@x \"Projects/2024 Q1\"",
            FolderCreate {
                owner: s("bob@x"),
                name: s("Projects/2024 Q1"),
            },
        ),
        (
            "FOLDER CREATE public News",
            FolderCreate {
                owner: s("public"),
                name: s("News"),
            },
        ),
        (
            "folder create bob@x -- --odd",
            FolderCreate {
                owner: s("bob@x"),
                name: s("--odd"),
            },
        ),
        (
            "folder delete bob@x Trash/old",
            FolderDelete {
                owner: s("bob@x"),
                name: s("Trash/old"),
            },
        ),
        (
            "acl get bob@x INBOX",
            AclGet {
                owner: s("bob@x"),
                folder: s("INBOX"),
            },
        ),
        (
            "acl get Public News",
            AclGet {
                owner: s("public"),
                folder: s("News"),
            },
        ),
        (
            "acl set bob@x INBOX carol@x lrs",
            AclSet {
                owner: s("bob@x"),
                folder: s("INBOX"),
                identifier: s("carol@x"),
                rights: s("lrs"),
            },
        ),
        (
            "acl set bob@x INBOX carol@x +w",
            AclSet {
                owner: s("bob@x"),
                folder: s("INBOX"),
                identifier: s("carol@x"),
                rights: s("+w"),
            },
        ),
        (
            "acl set bob@x INBOX carol@x -wi",
            AclSet {
                owner: s("bob@x"),
                folder: s("INBOX"),
                identifier: s("carol@x"),
                rights: s("-wi"),
            },
        ),
        (
            "acl set public News Anyone NONE",
            AclSet {
                owner: s("public"),
                folder: s("News"),
                identifier: s("anyone"),
                rights: s("none"),
            },
        ),
        (
            "acl set public News anyone cd",
            AclSet {
                owner: s("public"),
                folder: s("News"),
                identifier: s("anyone"),
                rights: s("cd"),
            },
        ),
    ];
    for (line, want) in cases {
        assert_eq!(parsed(line), Ok(want.clone()), "{line:?}");
        // The canonical form parses back to the same command.
        assert_eq!(parse(&want.to_words()), Ok(want.clone()), "{line:?}");
    }
}

#[test]
fn every_table_entry_is_reachable() {
    for spec in commands::COMMANDS {
        assert_eq!(usage(spec.path), Some(spec.usage));
        assert!(spec.usage.starts_with(spec.path), "{}", spec.path);
        let e = parse(&words(spec.path));
        if let Ok(cmd) = e {
            assert_eq!(cmd.path(), spec.path);
        } else {
            assert!(
                spec.required > 0 || spec.flags.iter().any(|f| f.required),
                "{}",
                spec.path
            );
        }
    }
}

#[test]
fn parse_errors() {
    let cases: &[(&str, &str)] = &[
        ("", "empty command (try 'help')"),
        ("acount list", "unknown command 'acount' (did you mean 'account'?) (try 'help')"),
        ("stat", "unknown command 'stat' (did you mean 'status'?) (try 'help')"),
        ("frobnicate", "unknown command 'frobnicate' (try 'help')"),
        (
            "cluster nodes",
            "cluster: unknown word 'nodes' (expected 'leases')\nusage: cluster [leases]",
        ),
        (
            "account",
            "account: missing subcommand\nusage: account add|del|passwd|list|admin|disable|enable|quota|show|2fa",
        ),
        (
            "account ad bob@x",
            "unknown command 'account ad' (did you mean 'account add'?)\nusage: account add|del|passwd|list|admin|disable|enable|quota|show|2fa",
        ),
        (
            "queue remove 3",
            "unknown command 'queue remove' (did you mean 'queue move'?)\nusage: queue list|show|retry|move|delete|bounce",
        ),
        ("account add", "account add: missing ADDRESS\nusage: account add ADDRESS --password P [--admin]"),
        (
            "account add --password pw",
            "account add: missing ADDRESS\nusage: account add ADDRESS --password P [--admin]",
        ),
        ("account add bob@x", "account add: missing --password\nusage: account add ADDRESS --password P [--admin]"),
        (
            "account add bob@x --password",
            "account add: --password needs a value (P)\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob@x --password=",
            "account add: --password must not be empty\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob@x --pasword pw",
            "account add: unknown option '--pasword' (did you mean '--password'?)\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob@x --password a --password b",
            "account add: --password given twice\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob@x --password a --admin=yes",
            "account add: --admin takes no value\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob@x carol@x --password a",
            "account add: unexpected argument 'carol@x'\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add bob --password a",
            "account add: 'bob' is not an address (expected local@domain)\nusage: account add ADDRESS --password P [--admin]",
        ),
        (
            "account add @x --password a",
            "account add: '@x' is not an address (expected local@domain)\nusage: account add ADDRESS --password P [--admin]",
        ),
        ("account passwd bob@x", "account passwd: missing --password\nusage: account passwd ADDRESS --password P"),
        ("account del", "account del: missing ADDRESS\nusage: account del ADDRESS"),
        ("account list --all", "account list: unknown option '--all'\nusage: account list"),
        ("account list everyone", "account list: unexpected argument 'everyone'\nusage: account list"),
        ("status now", "status: unexpected argument 'now'\nusage: status"),
        ("shutdown --force", "shutdown: unknown option '--force'\nusage: shutdown"),
        ("domain add", "domain add: missing NAME\nusage: domain add NAME"),
        ("domain add bob@x", "domain add: 'bob@x' is not a domain name\nusage: domain add NAME"),
        ("domain add \"\"", "domain add: NAME must not be empty\nusage: domain add NAME"),
        ("domain del a b", "domain del: unexpected argument 'b'\nusage: domain del NAME"),
        ("alias add a@x", "alias add: missing TARGET\nusage: alias add ALIAS TARGET"),
        ("alias add a@x b", "alias add: 'b' is not an address (expected local@domain)\nusage: alias add ALIAS TARGET"),
        ("alias del", "alias del: missing ALIAS\nusage: alias del ALIAS [TARGET]"),
        ("sendas add bob@x", "sendas add: missing SENDER\nusage: sendas add ACCOUNT SENDER"),
        ("sendas add bob info@y", "sendas add: 'bob' is not an address (expected local@domain)\nusage: sendas add ACCOUNT SENDER"),
        ("sendas add bob@x y.example", "sendas add: 'y.example' is not an address or @domain\nusage: sendas add ACCOUNT SENDER"),
        ("sendas add bob@x @", "sendas add: '@' is not an address or @domain\nusage: sendas add ACCOUNT SENDER"),
        ("sendas list a@x b@x", "sendas list: unexpected argument 'b@x'\nusage: sendas list [ACCOUNT]"),
        ("domainadmin add bob@x a@y", "domainadmin add: 'a@y' is not a domain name\nusage: domainadmin add ACCOUNT DOMAIN"),
        ("alias del a@x b@x c@x", "alias del: unexpected argument 'c@x'\nusage: alias del ALIAS [TARGET]"),
        (
            "queue list deferd",
            "queue list: unknown queue 'deferd' (did you mean 'deferred'?) (queues: inbound, local, remote, deferred, toarchive, bad)\nusage: queue list [QUEUE]",
        ),
        ("queue show", "queue show: missing ID\nusage: queue show ID"),
        ("queue show xyz", "queue show: bad ID 'xyz' (expected a hexadecimal queue id, as `queue list` shows)\nusage: queue show ID"),
        ("queue show -1", "queue show: bad ID '-1' (expected a hexadecimal queue id, as `queue list` shows)\nusage: queue show ID"),
        ("queue retry 1FFFFFFFFFFFFFFFF", "queue retry: bad ID '1FFFFFFFFFFFFFFFF' (expected a hexadecimal queue id, as `queue list` shows)\nusage: queue retry ID"),
        ("queue delete 1 2", "queue delete: unexpected argument '2'\nusage: queue delete ID"),
        ("queue move 3", "queue move: missing QUEUE\nusage: queue move ID QUEUE"),
        ("queue move x bad", "queue move: bad ID 'x' (expected a hexadecimal queue id, as `queue list` shows)\nusage: queue move ID QUEUE"),
        (
            "queue move 3 trash",
            "queue move: unknown queue 'trash' (queues: inbound, local, remote, deferred, toarchive, bad)\nusage: queue move ID QUEUE",
        ),
        ("dkim generate", "dkim generate: missing DOMAIN\nusage: dkim generate DOMAIN [--algorithm rsa|ed25519] [--selector S]"),
        (
            "dkim generate x.org --algorithm dsa",
            "dkim generate: unknown algorithm 'dsa' (rsa or ed25519)\nusage: dkim generate DOMAIN [--algorithm rsa|ed25519] [--selector S]",
        ),
        ("dkim activate x.org", "dkim activate: missing SELECTOR\nusage: dkim activate DOMAIN SELECTOR"),
        ("dkim", "dkim: missing subcommand\nusage: dkim generate|list|activate|delete"),
        ("help acount", "help: unknown command 'acount' (did you mean 'account'?) (try 'help')\nusage: help [COMMAND]"),
        ("help account add x", "help: unexpected argument 'x'\nusage: help [COMMAND]"),
        ("folder", "folder: missing subcommand\nusage: folder list|create|delete"),
        ("folder list", "folder list: missing ACCOUNT\nusage: folder list ACCOUNT|public"),
        (
            "folder list bob",
            "folder list: 'bob' is not an account address or 'public'\nusage: folder list ACCOUNT|public",
        ),
        (
            "folder list public extra",
            "folder list: unexpected argument 'extra'\nusage: folder list ACCOUNT|public",
        ),
        (
            "folder create bob@x",
            "folder create: missing FOLDER\nusage: folder create ACCOUNT|public FOLDER",
        ),
        (
            "folder create bob@x ''",
            "folder create: FOLDER must not be empty\nusage: folder create ACCOUNT|public FOLDER",
        ),
        (
            "folder dlete bob@x a",
            "unknown command 'folder dlete' (did you mean 'folder delete'?)\nusage: folder list|create|delete",
        ),
        (
            "folder delete publik News",
            "folder delete: 'publik' is not an account address or 'public'\nusage: folder delete ACCOUNT|public FOLDER",
        ),
        ("acl", "acl: missing subcommand\nusage: acl get|set"),
        ("acl get public", "acl get: missing FOLDER\nusage: acl get ACCOUNT|public FOLDER"),
        (
            "acl set bob@x INBOX carol@x",
            "acl set: missing RIGHTS\nusage: acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
        ),
        (
            "acl set bob@x INBOX carol lr",
            "acl set: 'carol' is not an identifier (expected an address or 'anyone')\nusage: acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
        ),
        (
            "acl set bob@x INBOX carol@x lrz",
            "acl set: unknown right 'z' in 'lrz' (rights: lrswipkxtea, or none)\nusage: acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
        ),
        (
            "acl set bob@x INBOX carol@x +",
            "acl set: '+' names no rights (use \"none\" to remove the entry)\nusage: acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
        ),
        (
            "acl set bob@x INBOX carol@x lr x",
            "acl set: unexpected argument 'x'\nusage: acl set ACCOUNT|public FOLDER IDENTIFIER RIGHTS",
        ),
    ];
    for (line, want) in cases {
        assert_eq!(
            parsed(line).as_ref().map_err(String::as_str),
            Err(*want),
            "{line:?}"
        );
    }
}

#[test]
fn debug_never_shows_passwords() {
    let cmd = parse_line("account add bob@x --password hunter2 --admin").expect("parses");
    let shown = format!("{cmd:?}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(
        shown,
        "AdminCommand(\"account add bob@x --password <redacted> --admin\")"
    );
    assert!(cmd.has_secret());
    assert!(!AdminCommand::Status.has_secret());
    // …while to_words keeps it, for sending.
    assert!(cmd.to_words().contains(&"hunter2".to_string()));
}

fn any_command() -> impl Strategy<Value = AdminCommand> {
    use AdminCommand::*;
    let addr = "-{0,2}[a-z0-9.]{1,8}@[a-z0-9.]{1,8}";
    let domain = "[a-z0-9][a-z0-9.-]{0,15}";
    let folder = "[a-zA-Z0-9 /._-]{0,10}[a-zA-Z0-9äü]";
    let queue = prop::sample::select(QUEUE_NAMES.to_vec()).prop_map(String::from);
    prop_oneof![
        Just(Status),
        Just(AccountList),
        domain.prop_map(DomainAdd),
        (
            domain,
            prop::option::of(prop::sample::select(vec!["rsa", "ed25519"])),
            prop::option::of("[a-z0-9]{1,8}")
        )
            .prop_map(|(domain, algorithm, selector)| DkimGenerate {
                domain,
                algorithm: algorithm.map(String::from),
                selector,
            }),
        (domain, "[a-z0-9]{1,8}").prop_map(|(domain, selector)| DkimActivate { domain, selector }),
        (addr, ".{1,16}", any::<bool>()).prop_map(|(address, password, admin)| AccountAdd {
            address,
            password,
            admin
        }),
        (addr, ".{1,16}").prop_map(|(address, password)| AccountPasswd { address, password }),
        (addr, any::<bool>()).prop_map(|(address, admin)| AccountAdmin { address, admin }),
        addr.prop_map(AccountDisable),
        addr.prop_map(AccountEnable),
        addr.prop_map(AccountShow),
        (
            addr,
            prop::option::of(prop::option::of(any::<u64>())),
            prop::option::of(prop::option::of(any::<u64>()))
        )
            .prop_map(|(address, storage, messages)| AccountQuota {
                address,
                storage,
                messages
            }),
        (addr, prop::option::of(addr)).prop_map(|(alias, target)| AliasDel { alias, target }),
        (
            addr,
            prop_oneof![
                addr.prop_map(String::from),
                domain.prop_map(|d| format!("@{d}"))
            ]
        )
            .prop_map(|(account, sender)| SendAsAdd { account, sender }),
        prop::option::of(addr).prop_map(SendAsList),
        (addr, domain).prop_map(|(account, domain)| DomainAdminDel { account, domain }),
        prop::option::of(queue.clone()).prop_map(QueueList),
        (any::<u64>(), queue).prop_map(|(id, to)| QueueMove { id, to }),
        any::<u64>().prop_map(QueueShow),
        any::<u64>().prop_map(QueueBounce),
        domain.prop_map(|d| TlsPolicyShow(d.trim_end_matches('.').to_string())),
        (prop::sample::select(vec!["mx", "txt", "a", "tlsa"]), domain).prop_map(|(k, name)| {
            DnsLookup {
                kind: k.to_string(),
                name: name.trim_end_matches('.').to_string(),
            }
        }),
        prop_oneof![addr.prop_map(String::from), Just(PUBLIC.to_string())].prop_map(FolderList),
        (addr, folder).prop_map(|(owner, name)| FolderDelete { owner, name }),
        (addr, folder, addr, "(none|[+-]?[lrswipkxtea]{1,5})").prop_map(
            |(owner, folder, identifier, rights)| AclSet {
                owner,
                folder,
                identifier,
                rights
            }
        ),
        (
            prop_oneof![
                Just(TwoFaAction::Status),
                Just(TwoFaAction::Begin),
                Just(TwoFaAction::Reset),
                "[0-9][0-9 ]{5,7}".prop_map(TwoFaAction::Confirm),
            ],
            addr
        )
            .prop_map(|(action, address)| TwoFa { action, address }),
        (
            addr,
            "[a-zA-Z][a-zA-Z0-9 ._-]{0,15}",
            prop::sample::select(super::apikey::Scope::ALL.to_vec())
        )
            .prop_map(|(owner, name, scope)| ApiKeyAdd { owner, name, scope }),
        "[0-9a-f]{8}".prop_map(ApiKeyDel),
    ]
}

proptest! {
    #[test]
    fn command_line_round_trip(cmd in any_command()) {
        let line = join_words(&cmd.to_words());
        prop_assert_eq!(parse_line(&line), Ok(cmd));
    }
}

// ---- help and usage ---------------------------------------------------------------------

#[test]
fn help_lists_every_command() {
    let text = help_text(None);
    for spec in commands::COMMANDS {
        let row = text
            .lines()
            .find(|l| {
                l.trim_start().starts_with(&format!("{} ", spec.usage)) || l.trim() == spec.usage
            })
            .unwrap_or_else(|| panic!("no row for {}", spec.path));
        assert!(row.ends_with(spec.summary), "{row}");
    }
    assert!(text.contains("account add ADDRESS --password P [--admin]  "));
}

#[test]
fn help_for_topics() {
    assert_eq!(
        help_text(Some("account add")),
        "usage: account add ADDRESS --password P [--admin]\ncreate an account (--admin: may use the admin dashboard)\n"
    );
    let queue_move = help_text(Some("queue  MOVE"));
    assert!(queue_move.contains("toarchive"), "{queue_move}");
    let group = help_text(Some("alias"));
    assert_eq!(group.lines().count(), 4, "{group}");
    assert!(group.contains("alias del ALIAS [TARGET]"));
    assert!(help_text(Some("acount")).starts_with("no command 'acount' (did you mean 'account'?)"));
    assert_eq!(usage("queue move"), Some("queue move ID QUEUE"));
    assert_eq!(usage(" Queue   move "), Some("queue move ID QUEUE"));
    assert_eq!(usage("queue"), None);
    assert_eq!(usage("nope"), None);
}

// ---- completion -------------------------------------------------------------------------

#[test]
fn complete_table() {
    let all_groups = [
        "account",
        "acl",
        "actors",
        "alias",
        "apikey",
        "calendar",
        "cluster",
        "dkim",
        "dns",
        "domain",
        "domainadmin",
        "domainpop",
        "folder",
        "help",
        "queue",
        "reload",
        "screen",
        "sendas",
        "shutdown",
        "source",
        "status",
        "tls-policy",
    ];
    let cases: &[(&str, usize, &[&str])] = &[
        ("", 0, &all_groups),
        ("a", 0, &["account", "acl", "actors", "alias", "apikey"]),
        ("ac", 0, &["account", "acl", "actors"]),
        ("sh", 0, &["shutdown"]),
        ("so", 0, &["source"]),
        ("screen ", 7, &["allow", "ban", "deny", "list", "unban"]),
        ("screen ban 192.0.2.1 -", 21, &["--for"]),
        (
            "source ",
            7,
            &["add", "del", "list", "passwd", "run", "status"],
        ),
        ("domainpop ", 10, &["del", "run", "set", "show"]),
        ("sendas ", 7, &["add", "del", "list"]),
        ("domainadmin ", 12, &["add", "del"]),
        ("source add bob@x --no", 17, &["--no-verify"]),
        ("  st", 2, &["status"]),
        ("x", 0, &[]),
        (
            "account ",
            8,
            &[
                "2fa", "add", "admin", "del", "disable", "enable", "list", "passwd", "quota",
                "show",
            ],
        ),
        ("account p", 8, &["passwd"]),
        ("ACCOUNT l", 8, &["list"]),
        ("queue m", 6, &["move"]),
        (
            "queue list ",
            11,
            &["bad", "deferred", "inbound", "local", "remote", "toarchive"],
        ),
        ("queue list d", 11, &["deferred"]),
        ("queue list deferred ", 20, &[]),
        (
            "queue move 12 ",
            14,
            &["bad", "deferred", "inbound", "local", "remote", "toarchive"],
        ),
        ("queue move 12 t", 14, &["toarchive"]),
        ("queue move ", 11, &[]),
        ("queue show ", 11, &[]),
        ("account add bob@x -", 18, &["--admin", "--password"]),
        ("account add bob@x --p", 18, &["--password"]),
        ("account add bob@x --admin --", 26, &["--password"]),
        ("account add bob@x --password ", 29, &[]),
        ("account add bob@x --password p", 29, &[]),
        ("account add bob@x --password=pw --", 32, &["--admin"]),
        ("account add bob@x --password pw ", 32, &["--admin"]),
        ("help ", 5, &all_groups),
        (
            "help queue ",
            11,
            &["bounce", "delete", "list", "move", "retry", "show"],
        ),
        ("status ", 7, &[]),
        ("folder ", 7, &["create", "delete", "list"]),
        ("folder list ", 12, &["public"]),
        ("folder list p", 12, &["public"]),
        ("folder create bob@x ", 20, &[]),
        ("acl set public News ", 20, &["anyone"]),
        ("acl set public News anyone ", 27, &["none"]),
        ("acl set public News anyone lr ", 30, &[]),
        ("nope ", 5, &[]),
        ("account nope ", 13, &[]),
    ];
    for (line, start, want) in cases {
        let (s, got) = complete(line, line.len());
        assert_eq!(
            (s, got),
            (
                *start,
                want.iter().map(|w| w.to_string()).collect::<Vec<_>>()
            ),
            "{line:?}"
        );
    }
}

#[test]
fn complete_uses_only_text_before_cursor() {
    assert_eq!(complete("acc list", 3), (0, vec!["account".to_string()]));
    assert_eq!(complete("queue list", 7).1, vec!["list".to_string()]);
    // Out of range or inside a multi-byte character: clamped, no panic.
    assert_eq!(complete("stat", 99), (0, vec!["status".to_string()]));
    assert_eq!(complete("ü", 1).0, 0);
    assert_eq!(complete("ü", 2), (0, vec![]));
}

// ---- console line handling --------------------------------------------------------------

#[test]
fn console_classifies_lines_locally() {
    assert_eq!(classify("   "), Step::Nothing);
    assert_eq!(classify("exit"), Step::Exit);
    assert_eq!(classify(" QUIT "), Step::Exit);
    assert_eq!(classify("help"), Step::Local(help_text(None)));
    assert_eq!(
        classify("help queue move"),
        Step::Local(help_text(Some("queue move")))
    );
    assert_eq!(
        classify("account add"),
        Step::Local(
            "account add: missing ADDRESS\nusage: account add ADDRESS --password P [--admin]"
                .into()
        )
    );
    assert_eq!(classify("a 'b"), Step::Local("unterminated ' quote".into()));
    assert_eq!(
        classify("shutdown"),
        Step::Send {
            command: AdminCommand::Shutdown
        }
    );
}

// ---- control socket ---------------------------------------------------------------------

/// Starts a control server on a socket in a fresh temp dir; the handler echoes the parsed
/// command or the parse error.
fn start_server(rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("control.sock");
    let listener = {
        let _guard = rt.enter();
        tokio::net::UnixListener::bind(&path).expect("bind")
    };
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve_connection(stream, |line: String| async move {
                match parse_line(&line) {
                    Ok(cmd) => ControlResponse::ok(format!("ran {}\nline 2", cmd.path())),
                    Err(e) => ControlResponse::error(e.to_string()),
                }
            }));
        }
    });
    (dir, path)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn control_round_trip() {
    let rt = runtime();
    let (_dir, path) = start_server(&rt);
    let t = Duration::from_secs(5);
    let r = client_request(&path, "account add 'bob smith@x' --password \"p\\\"w\"", t)
        .expect("request");
    assert_eq!(r, ControlResponse::ok("ran account add\nline 2"));
    let r = client_request(&path, "acount list", t).expect("request");
    assert!(!r.ok);
    assert_eq!(
        r.output,
        "unknown command 'acount' (did you mean 'account'?) (try 'help')"
    );

    let mut target = console::SocketTarget::new(&path);
    use console::ConsoleTarget;
    assert_eq!(
        target.run("status"),
        ControlResponse::ok("ran status\nline 2")
    );
}

#[test]
fn control_client_reports_missing_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("control.sock");
    assert!(client_request(&path, "status", Duration::from_secs(1)).is_err());
    let mut target = console::SocketTarget::new(&path);
    let r = console::ConsoleTarget::run(&mut target, "status");
    assert!(!r.ok);
    assert!(
        r.output.starts_with("cannot reach the server at "),
        "{}",
        r.output
    );
}

#[test]
fn control_connection_survives_bad_requests() {
    use std::io::{BufRead, BufReader, Write};
    let rt = runtime();
    let (_dir, path) = start_server(&rt);
    let mut stream = std::os::unix::net::UnixStream::connect(&path).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut exchange = |request: &[u8]| -> ControlResponse {
        stream.write_all(request).expect("write");
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        assert!(
            line.ends_with('\n') && line.matches('\n').count() == 1,
            "{line:?}"
        );
        serde_json::from_str(&line).expect("json response")
    };
    let r = exchange(b"not json\n");
    assert!(!r.ok && r.output.starts_with("bad request: "), "{r:?}");
    let r = exchange(b"\n\n{\"line\":\"reload\"}\n");
    assert_eq!(r, ControlResponse::ok("ran reload\nline 2"));
    let mut huge = format!("{{\"line\":\"{}\"}}", "x".repeat(MAX_REQUEST_LINE)).into_bytes();
    huge.push(b'\n');
    let r = exchange(&huge);
    assert!(!r.ok && r.output.starts_with("request too long"), "{r:?}");
    // Still in step after the over-long line.
    let r = exchange(b"{\"line\":\"shutdown\"}\n");
    assert_eq!(r, ControlResponse::ok("ran shutdown\nline 2"));
    let r = exchange(b"{\"line\":\"\xff\"}\n");
    assert!(!r.ok && r.output.starts_with("bad request: "), "{r:?}");
}

// ---- screen -------------------------------------------------------------------------------

#[test]
fn screen_commands_parse_and_round_trip() {
    use super::screen::ScreenCommand as S;
    use crate::config::Network;
    let net = |s: &str| Network::parse(s).unwrap();
    let cases = [
        ("screen list", S::List),
        (
            "screen ban 192.0.2.1",
            S::Ban {
                ip: "192.0.2.1".parse().unwrap(),
                seconds: None,
            },
        ),
        (
            "screen ban 2001:db8::1 --for 2h",
            S::Ban {
                ip: "2001:db8::1".parse().unwrap(),
                seconds: Some(7200),
            },
        ),
        (
            "SCREEN BAN 192.0.2.1 --for=90",
            S::Ban {
                ip: "192.0.2.1".parse().unwrap(),
                seconds: Some(90),
            },
        ),
        ("screen unban 192.0.2.1", S::Unban(net("192.0.2.1/32"))),
        // Host bits are cleared: the rule is the network.
        ("screen deny 10.1.2.3/8", S::Deny(net("10.0.0.0/8"))),
        (
            "screen allow 2001:db8::7/32",
            S::Allow(net("2001:db8::/32")),
        ),
    ];
    for (line, want) in cases {
        let want = AdminCommand::Screen(want);
        assert_eq!(parsed(line), Ok(want.clone()), "{line:?}");
        assert_eq!(parse(&want.to_words()), Ok(want.clone()), "{line:?}");
        assert!(!want.has_secret());
    }
    let errors = [
        (
            "screen ban nobody",
            "screen ban: 'nobody' is not an IP address\nusage: screen ban IP [--for DURATION]",
        ),
        (
            "screen ban 192.0.2.1 --for soon",
            "screen ban: bad duration 'soon' (e.g. 90s, 15m, 4h, 2d, or seconds)\nusage: screen ban IP [--for DURATION]",
        ),
        (
            "screen ban 192.0.2.1 --for 0",
            "screen ban: bad duration '0' (e.g. 90s, 15m, 4h, 2d, or seconds)\nusage: screen ban IP [--for DURATION]",
        ),
        (
            "screen deny 10.0.0.0/33",
            "screen deny: '10.0.0.0/33' is not an address or network (IP or IP/PREFIX)\nusage: screen deny IP|IP/PREFIX",
        ),
        ("screen unban", "screen unban: missing NETWORK\nusage: screen unban IP|IP/PREFIX"),
    ];
    for (line, want) in errors {
        assert_eq!(parsed(line), Err(want.to_string()), "{line:?}");
    }
}

/// Without a server, the commands work on the stored state that a server starts from.
#[test]
fn screen_commands_run_without_a_server() {
    use crate::config::Config;
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "data_dir = \"{}\"\n[screening]\ntrusted = [\"10.9.0.0/16\"]\n",
        dir.path().display()
    );
    let config = Config::parse(&text, dir.path(), None).unwrap();
    let (store, writers) = crate::storage::Store::open(dir.path()).unwrap();
    let run = |line: &str| {
        exec::execute_with_config(&store, &writers, &config, &parse_line(line).unwrap())
    };
    let out = run("screen ban 192.0.2.1 --for 1h").unwrap();
    assert!(
        out.starts_with("192.0.2.1 banned from every service until"),
        "{out}"
    );
    assert!(out.ends_with("(3600s)"), "{out}");
    let e = run("screen ban 10.9.3.4").unwrap_err();
    assert!(e.contains("trusted network"), "{e}");
    run("screen deny 203.0.113.0/24").unwrap();
    let list = run("screen list").unwrap();
    assert!(list.contains("banned (1):\n  192.0.2.1  until"), "{list}");
    assert!(list.contains("denied: 203.0.113.0/24"), "{list}");
    assert!(
        list.contains("trusted ([screening] trusted): 10.9.0.0/16"),
        "{list}"
    );
    // What a server would load.
    let snap = store.screen_load().unwrap();
    assert_eq!(snap.addresses.len(), 1);
    assert_eq!(snap.deny, vec!["203.0.113.0/24".to_string()]);
    assert_eq!(
        run("screen unban 192.0.2.1").unwrap(),
        "ban of 192.0.2.1 lifted"
    );
    assert!(store.screen_load().unwrap().addresses.is_empty());
    // The store-only executor says why it cannot run them.
    assert!(exec::execute(&store, &parse_line("screen list").unwrap()).is_err());
}

// ---- two-factor login and API keys ---------------------------------------------------------

#[test]
fn twofa_and_apikey_commands_parse_and_print_back() {
    use super::apikey::Scope;
    use super::TwoFaAction;
    use AdminCommand::*;
    let s = |x: &str| x.to_string();
    let cases = vec![
        (
            "account 2fa status bob@x",
            TwoFa {
                action: TwoFaAction::Status,
                address: s("bob@x"),
            },
        ),
        (
            "ACCOUNT 2FA Begin bob@x",
            TwoFa {
                action: TwoFaAction::Begin,
                address: s("bob@x"),
            },
        ),
        (
            "account 2fa confirm bob@x 123456",
            TwoFa {
                action: TwoFaAction::Confirm(s("123456")),
                address: s("bob@x"),
            },
        ),
        (
            "account 2fa reset bob@x",
            TwoFa {
                action: TwoFaAction::Reset,
                address: s("bob@x"),
            },
        ),
        (
            "apikey add bob@x 'ci runner'",
            ApiKeyAdd {
                owner: s("bob@x"),
                name: s("ci runner"),
                scope: Scope::All,
            },
        ),
        (
            "apikey add bob@x ci --scope read-only",
            ApiKeyAdd {
                owner: s("bob@x"),
                name: s("ci"),
                scope: Scope::ReadOnly,
            },
        ),
        ("apikey list", ApiKeyList),
        ("apikey del 0A1B2C3D", ApiKeyDel(s("0a1b2c3d"))),
    ];
    for (line, want) in cases {
        assert_eq!(parsed(line), Ok(want.clone()), "{line:?}");
        assert_eq!(parse(&want.to_words()), Ok(want.clone()), "{line:?}");
    }
    let errors = [
        (
            "account 2fa",
            "account 2fa: missing ACTION\nusage: account 2fa status|begin|confirm|reset ADDRESS [CODE]",
        ),
        (
            "account 2fa enable bob@x",
            "account 2fa: unknown action 'enable' (one of: status, begin, confirm, reset)\nusage: account 2fa status|begin|confirm|reset ADDRESS [CODE]",
        ),
        (
            "account 2fa confirm bob@x",
            "account 2fa: confirm needs the CODE\nusage: account 2fa status|begin|confirm|reset ADDRESS [CODE]",
        ),
        (
            "account 2fa status bob@x 123456",
            "account 2fa: unexpected argument '123456'\nusage: account 2fa status|begin|confirm|reset ADDRESS [CODE]",
        ),
        (
            "account 2fa status bob",
            "account 2fa: 'bob' is not an address (expected local@domain)\nusage: account 2fa status|begin|confirm|reset ADDRESS [CODE]",
        ),
        (
            "apikey add bob@x ci --scope everything",
            "apikey add: unknown scope \"everything\" (read-only, accounts, queues or all)\nusage: apikey add OWNER LABEL [--scope read-only|accounts|queues|all]",
        ),
        (
            "apikey add bob ci",
            "apikey add: 'bob' is not an address (expected local@domain)\nusage: apikey add OWNER LABEL [--scope read-only|accounts|queues|all]",
        ),
        (
            "apikey del 12",
            "apikey del: bad key id '12' (8 hex digits, as `apikey list` shows)\nusage: apikey del ID",
        ),
    ];
    for (line, want) in errors {
        assert_eq!(
            parsed(line).as_ref().map_err(String::as_str),
            Err(want),
            "{line:?}"
        );
    }
    // A confirmation code stays out of history and logs.
    let cmd = parse_line("account 2fa confirm bob@x 123456").unwrap();
    assert!(cmd.has_secret());
    assert!(!format!("{cmd:?}").contains("123456"));
    assert!(!parse_line("account 2fa status bob@x").unwrap().has_secret());
    assert_eq!(
        complete("account 2fa ", 12),
        (12, vec![s("begin"), s("confirm"), s("reset"), s("status")])
    );
    assert_eq!(
        complete("apikey ", 7),
        (7, vec![s("add"), s("del"), s("list")])
    );
}
