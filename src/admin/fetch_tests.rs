//! Parsing, printing back and running the `source` and `domainpop` commands.

use super::fetch::{DomainPopSpec, SourceSpec};
use super::*;
use crate::storage::{FetchProtocol, FetchSource, TlsMode};

fn spec() -> SourceSpec {
    SourceSpec {
        host: "pop.provider.net".into(),
        port: 995,
        tls: TlsMode::Implicit,
        verify_cert: true,
        user: "bob".into(),
        password: "s3 cret".into(),
        protocol: FetchProtocol::Pop3,
        delete: false,
        interval: 300,
    }
}

#[test]
fn source_commands_parse_with_defaults_and_print_back() {
    let cmd = parse_line(
        "source add Bob@Example.com --host pop.provider.net --user bob --password 's3 cret'",
    )
    .unwrap();
    assert_eq!(
        cmd,
        AdminCommand::SourceAdd {
            account: "bob@example.com".into(),
            spec: spec()
        }
    );
    let cmd = parse_line(
        "source add bob@example.com --host 127.0.0.1 --user u --password p --protocol IMAP --tls starttls --no-verify --delete --interval 60",
    )
    .unwrap();
    let AdminCommand::SourceAdd { spec: s, .. } = &cmd else {
        panic!()
    };
    assert_eq!(
        (s.protocol, s.port, s.tls),
        (FetchProtocol::Imap, 143, TlsMode::StartTls)
    );
    assert!(!s.verify_cert && s.delete && s.interval == 60);
    for line in [
        "source list",
        "source list bob@example.com",
        "source del 3",
        "source run 12",
        "source status",
        "source status 2",
        "domainpop show example.com",
        "domainpop del example.com",
        "domainpop run example.com",
    ] {
        let cmd = parse_line(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(join_words(&cmd.to_words()), line);
    }
    assert_eq!(parse(&cmd.to_words()), Ok(cmd.clone()));
    // Debug and history never show the password.
    assert!(!format!("{cmd:?}").contains("--password p "));
    assert!(format!("{cmd:?}").contains("<redacted>"));
    assert!(cmd.has_secret());
}

#[test]
fn domainpop_set_defaults_and_options() {
    let cmd = parse_line("domainpop set Example.com --host h --user u --password p").unwrap();
    let AdminCommand::DomainPopSet {
        domain, options, ..
    } = &cmd
    else {
        panic!()
    };
    assert_eq!(domain, "example.com");
    assert_eq!(
        *options,
        DomainPopSpec {
            headers: crate::fetch::recipients::DEFAULT_HEADERS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            unknown: "postmaster@example.com".into(),
            dedup: Some(86_400),
            raw_copy: None,
        }
    );
    assert_eq!(parse(&cmd.to_words()), Ok(cmd.clone()));
    let cmd = parse_line(
        "domainpop set example.com --host h --user u --password p --headers 'Delivered-To, To/Cc' --unknown bad --dedup off --raw-copy domainpop/raw",
    )
    .unwrap();
    let AdminCommand::DomainPopSet { options, .. } = &cmd else {
        panic!()
    };
    assert_eq!(options.headers, vec!["Delivered-To", "To/Cc"]);
    assert_eq!((options.unknown.as_str(), options.dedup), ("bad", None));
    assert_eq!(options.raw_copy.as_deref(), Some("domainpop/raw"));
    assert_eq!(parse(&cmd.to_words()), Ok(cmd));
}

#[test]
fn bad_source_options_are_named() {
    let base = "source add bob@x --host h --user u --password p";
    let cases = [
        (format!("{base} --port 0"), "bad port '0'"),
        (format!("{base} --port http"), "bad port 'http'"),
        (format!("{base} --tls maybe"), "unknown TLS mode 'maybe'"),
        (format!("{base} --protocol smtp"), "unknown protocol 'smtp'"),
        (format!("{base} --interval 0"), "bad interval '0'"),
        (
            "source add bob@x --host 'a b' --user u --password p".into(),
            "is not a host",
        ),
        (
            "source add bob@x --user u --password p".into(),
            "missing --host",
        ),
        ("source del x1".into(), "bad ID 'x1'"),
        (
            "domainpop set example.com --host h --user u --password p --headers 'Bad Name'".into(),
            "is not a header name",
        ),
        (
            "domainpop set example.com --host h --user u --password p --raw-copy ../etc".into(),
            "--raw-copy '../etc'",
        ),
        (
            "domainpop set example.com --host h --user u --password p --unknown nobody".into(),
            "expected an account address or 'bad'",
        ),
        (
            "domainpop set example.com --host h --user u --password p --dedup soon".into(),
            "--dedup 'soon'",
        ),
    ];
    for (line, want) in cases {
        let e = parse_line(&line).expect_err(&line).to_string();
        assert!(e.contains(want), "{line}: {e}");
    }
}

#[test]
fn sources_are_stored_listed_shown_and_deleted_offline() {
    let (_dir, store) = crate::storage::testutil_store_with_bob();
    let run = |line: &str| exec::execute(&store, &parse_line(line).unwrap());
    let out = run("source add bob@example.com --host imap.example.net --user bob --password pw --protocol imap --delete").unwrap();
    assert!(
        out.starts_with("source 1 added for bob@example.com: imap://bob@imap.example.net:993"),
        "{out}"
    );
    assert!(!out.contains("pw"));
    let e = run("source add nobody@example.com --host h --user u --password p").unwrap_err();
    assert_eq!(e, "no account nobody@example.com");
    let list = run("source list").unwrap();
    assert!(
        list.contains("bob@example.com") && list.contains("delete after fetching"),
        "{list}"
    );
    assert_eq!(run("source list alice@example.com").unwrap(), "no sources");
    let status = run("source status 1").unwrap();
    assert!(
        status.contains("last run: never") && status.contains("last error: none"),
        "{status}"
    );
    assert!(run("source run 1")
        .unwrap_err()
        .contains("needs a running server"));

    assert!(
        run("domainpop set example.org --host h --user u --password p")
            .unwrap_err()
            .contains("not a local domain")
    );
    let out = run("domainpop set example.com --host h --user u --password p").unwrap();
    assert!(out.contains("source 2"), "{out}");
    // Setting it again keeps the id (and with it what was fetched already).
    let out = run("domainpop set example.com --host h2 --user u --password p --dedup off").unwrap();
    assert!(out.contains("source 2"), "{out}");
    let show = run("domainpop show example.com").unwrap();
    assert!(
        show.contains("h2") && show.contains("duplicate suppression: off"),
        "{show}"
    );
    assert!(
        show.contains("unknown recipients: postmaster@example.com"),
        "{show}"
    );
    assert_eq!(
        run("domainpop del example.com").unwrap(),
        "source 2 (example.com) deleted"
    );
    assert!(run("domainpop show example.com").is_err());
    assert_eq!(
        run("source del 1").unwrap(),
        "source 1 (bob@example.com) deleted"
    );
    assert!(run("source del 1").is_err());
    // The sealed password is not in the database files in clear.
    let _ = store;
}

#[test]
fn source_passwd_changes_only_the_password() {
    let cmd = parse_line("source passwd 4 --password 'new pw'").unwrap();
    assert_eq!(
        cmd,
        AdminCommand::SourcePasswd {
            id: 4,
            password: "new pw".into()
        }
    );
    assert_eq!(parse(&cmd.to_words()), Ok(cmd.clone()));
    assert!(cmd.has_secret());
    assert!(!format!("{cmd:?}").contains("new pw"));
    assert!(parse_line("source passwd 4")
        .unwrap_err()
        .to_string()
        .contains("--password"));

    let (_dir, store) = crate::storage::testutil_store_with_bob();
    let run = |line: &str| exec::execute(&store, &parse_line(line).unwrap());
    run("source add bob@example.com --host h --user bob --password old --interval 60").unwrap();
    let before = store.fetch_source(1).unwrap().unwrap();
    let mut status = store.fetch_status(1).unwrap();
    status.total_fetched = 7;
    store.fetch_set_status(1, &status).unwrap();

    let out = run("source passwd 1 --password 'new pw'").unwrap();
    assert_eq!(out, "source 1: password changed");
    let after = store.fetch_source(1).unwrap().unwrap();
    assert_eq!(store.open_secret(&after.password).unwrap(), "new pw");
    // Everything else is as it was, and the status (kept beside it) too.
    assert_eq!(
        FetchSource {
            password: before.password.clone(),
            ..after
        },
        before
    );
    assert_eq!(store.fetch_status(1).unwrap().total_fetched, 7);

    assert_eq!(
        run("source passwd 9 --password x").unwrap_err(),
        "no source 9 (see `source list`)"
    );
    assert!(run("source passwd 1 --password 'a\nb'")
        .unwrap_err()
        .contains("line breaks"));
}
