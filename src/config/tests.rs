use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/ferrymail"), None)
}

fn problems(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(c) => panic!("expected problems, parsed {c:?}"),
        Err(e) => e.problems,
    }
}

fn addr(s: &str) -> Option<SocketAddr> {
    Some(s.parse().expect("test address"))
}

fn documented_smtp() -> SmtpConfig {
    SmtpConfig {
        max_message_size: 26_214_400,
        drop_connection_size: 3 * 26_214_400,
        max_recipients: 1000,
        max_connections: 2000,
        max_connections_per_ip: 20,
        command_timeout: Duration::from_secs(300),
        data_timeout: Duration::from_secs(600),
        auth_on_smtp_port: false,
        allow_plaintext_auth: false,
        max_line_length: 4096,
    }
}

#[test]
fn shipped_file_equals_documented_defaults() {
    let c = parse(DEFAULT_CONFIG).expect("shipped config parses");
    let expected = Config {
        hostname: machine_hostname(),
        data_dir: PathBuf::from("/etc/ferrymail/data"),
        listeners: Listeners {
            smtp: addr("0.0.0.0:25"),
            submission: addr("0.0.0.0:587"),
            smtps: addr("0.0.0.0:465"),
            pop3: addr("0.0.0.0:110"),
            pop3s: addr("0.0.0.0:995"),
            imap: addr("0.0.0.0:143"),
            imaps: addr("0.0.0.0:993"),
            odmr: addr("0.0.0.0:366"),
            minger: addr("0.0.0.0:4069"),
            http: addr("0.0.0.0:3000"),
            https: addr("0.0.0.0:443"),
            admin: addr("127.0.0.1:1000"),
        },
        tls: TlsConfig::default(),
        dns: DnsConfig::default(),
        smtp: documented_smtp(),
        imap: ImapConfig {
            max_connections: 20_000,
            max_connections_per_ip: 50,
            idle_timeout: Duration::from_secs(1800),
            login_timeout: Duration::from_secs(60),
            literal_timeout: Duration::from_secs(1200),
            output_timeout: Duration::from_secs(600),
            allow_plaintext_login: false,
            append_limit: 52_428_800,
            max_line_length: 65_536,
            unauthenticate: true,
        },
        pop3: Pop3Config {
            max_connections: 2000,
            max_connections_per_ip: 10,
            idle_timeout: Duration::from_secs(600),
            login_timeout: Duration::from_secs(60),
            output_timeout: Duration::from_secs(600),
            allow_plaintext_login: false,
        },
        queue: QueueConfig {
            deferred_check_interval: Duration::from_secs(60),
            local_retry_interval: Duration::from_secs(30),
        },
        delivery: DeliveryConfig {
            smarthost: None,
            smarthost_auth: None,
            host_auth: Vec::new(),
            max_connections: 50,
            max_connections_per_domain: 3,
            retry_schedule: DEFAULT_RETRY_SCHEDULE.to_vec(),
            message_lifetime: Duration::from_secs(5 * 86_400),
            delay_notice: Some(Duration::from_secs(4 * 3600)),
            port: 25,
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(300),
            data_timeout: Duration::from_secs(600),
            mta_sts: true,
            tls_reports: false,
            https_port: 443,
            test_trust_roots: None,
        },
        server: ServerConfig {
            shutdown_grace: Duration::from_secs(30),
        },
        log: LogConfig {
            level: "info".into(),
            file_logging: false,
        },
        auth: AuthConfig {
            verify: true,
            dmarc_policy: DmarcEnforcement::Enforce,
            dns_timeout: Duration::from_secs(5),
            verify_timeout: Duration::from_secs(30),
            trusted_networks: vec![
                Network::parse("127.0.0.0/8").unwrap(),
                Network::parse("::1/128").unwrap(),
            ],
            credential_cache_ttl: Duration::from_secs(300),
        },
        fetch: FetchConfig {
            max_concurrent: 4,
            min_interval: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
            max_message_size: 52_428_800,
            max_backoff: Duration::from_secs(3600),
        },
        screening: ScreeningConfig::default(),
        http: HttpConfig::default(),
        storage: StorageConfig::default(),
        source: None,
    };
    assert_eq!(c, expected);
    assert!(!c.hostname.is_empty());
}

#[test]
fn empty_file_takes_defaults_except_listeners() {
    let empty = parse("").expect("empty parses");
    let mut shipped = parse(DEFAULT_CONFIG).expect("shipped parses");
    assert_eq!(empty.listeners.iter(), vec![]);
    shipped.listeners = Listeners::default();
    assert_eq!(empty, shipped);
}

#[test]
fn shipped_file_documents_every_key_and_each_is_optional() {
    let keys = [
        "hostname",
        "data_dir",
        "tls.cert",
        "tls.key",
        "dns.nameservers",
        "smtp.max_message_size",
        "smtp.drop_connection_size",
        "smtp.max_recipients",
        "smtp.max_connections",
        "smtp.max_connections_per_ip",
        "smtp.command_timeout",
        "smtp.data_timeout",
        "smtp.auth_on_smtp_port",
        "smtp.allow_plaintext_auth",
        "smtp.max_line_length",
        "pop3.max_connections",
        "pop3.max_connections_per_ip",
        "pop3.idle_timeout",
        "pop3.login_timeout",
        "pop3.allow_plaintext_login",
        "queue.deferred_check_interval",
        "queue.local_retry_interval",
        "server.shutdown_grace",
        "log.level",
        "log.file_logging",
        "auth.verify",
        "auth.dmarc_policy",
        "auth.dns_timeout",
        "auth.verify_timeout",
        "auth.credential_cache_ttl",
        "fetch.max_concurrent",
        "fetch.min_interval",
        "fetch.timeout",
        "fetch.max_message_size",
        "fetch.max_backoff",
        "http.allow_plaintext_login",
        "http.session_idle",
        "http.session_max",
        "http.login_failures",
        "http.remember_device_days",
        "screening.enabled",
        "screening.trusted",
        "screening.auth_failures",
        "screening.account_failures",
        "screening.failed_rcpts",
        "screening.auth_probes",
        "screening.window",
        "screening.connections_per_minute",
        "screening.ban",
        "screening.ban_factor",
        "screening.ban_max",
        "screening.forget_after",
    ];
    let shipped: toml::Table = toml::from_str(DEFAULT_CONFIG).expect("toml");
    let services = SERVICES.map(|s| format!("listeners.{s}"));
    for key in keys
        .iter()
        .copied()
        .chain(services.iter().map(String::as_str))
    {
        let mut table = shipped.clone();
        let removed = match key.split_once('.') {
            None => table.remove(key),
            Some((sec, k)) => table
                .get_mut(sec)
                .and_then(|t| t.as_table_mut())
                .and_then(|t| t.remove(k)),
        };
        assert!(
            removed.is_some(),
            "{key} missing from config/ferrymail.toml"
        );
        let text = toml::to_string(&table).expect("serialise");
        assert!(parse(&text).is_ok(), "without {key}: {:?}", parse(&text));
        // The key is documented with a comment in the annotated file.
        let leaf = key.rsplit('.').next().unwrap_or(key);
        assert!(DEFAULT_CONFIG.contains(&format!("{leaf} = ")), "{key}");
    }
}

#[test]
fn unknown_keys_at_every_level_reported_together() {
    let e = parse(
        "hostnme = \"x\"\n[smtp]\nmax_mesage_size = 10\n[listeners]\nsmpt = \"0.0.0.0:25\"\n[tsl]\ncert = \"a\"\n[log]\nlevel = \"debug\"\nfile = true\n",
    )
    .expect_err("unknown keys");
    assert_eq!(
        e.problems,
        vec![
            "listeners.smpt: unknown key",
            "smtp.max_mesage_size: unknown key",
            "log.file: unknown key",
            "hostnme: unknown key",
            "tsl: unknown key",
        ]
    );
    assert_eq!(e.file, "<built-in default>");
    let shown = e.to_string();
    assert!(
        shown.starts_with(
            "config <built-in default>: 5 problems:\n  - listeners.smpt: unknown key\n"
        ),
        "{shown}"
    );
}

#[test]
fn wrong_types_name_path_and_expected_type() {
    let got = problems(
        "hostname = 5\n[smtp]\nmax_message_size = \"big\"\nauth_on_smtp_port = 1\ncommand_timeout = 1.5\n[dns]\nnameservers = \"1.1.1.1\"\n[queue]\nlocal_retry_interval = []\n",
    );
    assert_eq!(
        got,
        vec![
            "hostname: expected a string, found an integer",
            "dns.nameservers: expected an array, found a string",
            "smtp.max_message_size: expected an integer, found a string",
            "smtp.command_timeout: expected an integer, found a float",
            "smtp.auth_on_smtp_port: expected a boolean, found an integer",
            "queue.local_retry_interval: expected an integer, found an array",
        ]
    );
    assert_eq!(
        problems("smtp = 3"),
        vec!["smtp: expected a table, found an integer"]
    );
}

#[test]
fn bad_values_are_named() {
    let cases: &[(&str, &str)] = &[
        (
            "[listeners]\nsmtp = \"0.0.0.0:99999\"",
            "listeners.smtp: invalid address \"0.0.0.0:99999\"",
        ),
        (
            "[listeners]\nimap = \"localhost:143\"",
            "listeners.imap: invalid address \"localhost:143\"",
        ),
        (
            "[listeners]\nsmtp = \"0.0.0.0:25\"\nsubmission = \"0.0.0.0:25\"",
            "listeners.submission: 0.0.0.0:25 is also used by listeners.smtp",
        ),
        (
            "[dns]\nnameservers = [\"1.1.1.1:53\", \"one\"]",
            "dns.nameservers[1]: invalid address \"one\"",
        ),
        (
            "[dns]\nnameservers = [53]",
            "dns.nameservers[0]: expected a string, found an integer",
        ),
        (
            "[smtp]\nmax_recipients = 99",
            "smtp.max_recipients: 99 is too small (minimum 100)",
        ),
        (
            "[smtp]\nmax_recipients = -1",
            "smtp.max_recipients: -1 is negative",
        ),
        (
            "[smtp]\nmax_message_size = 0",
            "smtp.max_message_size: 0 is too small (minimum 1)",
        ),
        (
            "[pop3]\nidle_timeout = 300",
            "pop3.idle_timeout: 300 is too small (minimum 600)",
        ),
        (
            "[pop3]\nmax_connections = 0",
            "pop3.max_connections: 0 is too small (minimum 1)",
        ),
        (
            "[pop3]\nallow_plaintext_login = \"yes\"",
            "pop3.allow_plaintext_login: expected a boolean, found a string",
        ),
        (
            "[smtp]\nmax_line_length = 512",
            "smtp.max_line_length: 512 is too small (minimum 1000)",
        ),
        (
            "[smtp]\nmax_message_size = 1000\ndrop_connection_size = 999",
            "smtp.drop_connection_size: 999 is smaller than max_message_size (1000)",
        ),
        (
            "[tls]\ncert = \"c.pem\"",
            "tls: cert and key must be set together",
        ),
        ("data_dir = \"\"", "data_dir: must not be empty"),
        (
            "hostname = \"mail example\"",
            "hostname: \"mail example\" contains ' '",
        ),
        ("[log]\nlevel = \"\"", "log.level: must not be empty"),
    ];
    for (text, want) in cases {
        let got = problems(text);
        assert_eq!(got.len(), 1, "{text}: {got:?}");
        assert!(
            got[0].starts_with(want),
            "{text}: got {:?}, want {want:?}",
            got[0]
        );
    }
}

#[test]
fn all_bad_values_reported_at_once() {
    let got =
        problems("[smtp]\nmax_recipients = 10\nmax_line_length = 10\n[listeners]\nhttp = \"x\"\n");
    assert_eq!(got.len(), 3, "{got:?}");
}

#[test]
fn syntax_error_names_line() {
    let e = parse("hostname = \"a\"\n[smtp]\nmax_message_size = = 3\n").expect_err("syntax");
    assert_eq!(e.problems.len(), 1);
    assert!(
        e.problems[0].starts_with("line 3, column "),
        "{:?}",
        e.problems
    );
}

#[test]
fn values_and_resolution() {
    let c = parse(
        "hostname = \"mx.example.org\"\ndata_dir = \"state\"\n[listeners]\nsmtp = \"127.0.0.1:0\"\nimap = \"[::1]:1143\"\npop3 = \"\"\n[tls]\ncert = \"tls/cert.pem\"\nkey = \"/abs/key.pem\"\n[dns]\nnameservers = [\"9.9.9.9\", \"[2620:fe::fe]:5353\"]\n[smtp]\nmax_message_size = 1000\nmax_recipients = 100\n",
    )
    .expect("parses");
    assert_eq!(c.hostname, "mx.example.org");
    assert_eq!(c.data_dir, PathBuf::from("/etc/ferrymail/state"));
    assert_eq!(
        c.listeners.iter(),
        vec![
            ("smtp", "127.0.0.1:0".parse().expect("a")),
            ("imap", "[::1]:1143".parse().expect("a")),
        ]
    );
    assert_eq!(
        c.tls.cert,
        Some(PathBuf::from("/etc/ferrymail/tls/cert.pem"))
    );
    assert_eq!(c.tls.key, Some(PathBuf::from("/abs/key.pem")));
    assert_eq!(
        c.dns.nameservers,
        vec![
            "9.9.9.9:53".parse().expect("a"),
            "[2620:fe::fe]:5353".parse().expect("a")
        ]
    );
    assert_eq!(c.smtp.drop_connection_size, 3000);
    assert_eq!(c.smtp.max_recipients, 100);
}

#[test]
fn load_resolves_against_config_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sub = dir.path().join("etc");
    std::fs::create_dir(&sub).expect("mkdir");
    let file = sub.join("ferrymail.toml");
    std::fs::write(
        &file,
        "data_dir = \"../var\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"\n",
    )
    .expect("write");
    let c = Config::load(Some(&file)).expect("load");
    assert_eq!(c.data_dir, sub.join("../var"));
    assert_eq!(c.tls.key, Some(sub.join("k.pem")));
    assert_eq!(c.source, Some(file.clone()));

    let missing = dir.path().join("nope.toml");
    let e = Config::load(Some(&missing)).expect_err("missing file");
    assert_eq!(e.file, missing.display().to_string());
    assert!(e.problems[0].starts_with("cannot read: "), "{e}");

    std::fs::write(&file, "[smtp]\nmax_recipients = 5\n").expect("write");
    let e = Config::load(Some(&file)).expect_err("bad value");
    assert_eq!(
        e.to_string(),
        format!(
            "config {}: 1 problem:\n  - smtp.max_recipients: 5 is too small (minimum 100)",
            file.display()
        )
    );
}

#[test]
fn load_without_file_uses_embedded_default_in_current_dir() {
    let c = Config::load(None).expect("embedded default");
    let cwd = std::env::current_dir().expect("cwd");
    assert_eq!(c.data_dir, cwd.join("data"));
    assert_eq!(c.source, None);
    assert_eq!(c.listeners.iter().len(), 12);
}

#[test]
fn auth_section_values_are_checked() {
    let c = parse(
        "[auth]\nverify = false\ndmarc_policy = \"OFF\"\ndns_timeout = 2\nverify_timeout = 3\n\
         credential_cache_ttl = 0\n",
    )
    .expect("parses");
    assert_eq!(
        c.auth,
        AuthConfig {
            verify: false,
            dmarc_policy: DmarcEnforcement::Off,
            dns_timeout: Duration::from_secs(2),
            verify_timeout: Duration::from_secs(3),
            trusted_networks: vec![
                Network::parse("127.0.0.0/8").unwrap(),
                Network::parse("::1/128").unwrap(),
            ],
            credential_cache_ttl: Duration::ZERO,
        }
    );
    let e = parse("[auth]\ndmarc_policy = \"quarantine\"\ndns_timeout = 10\nverify_timeout = 5\n")
        .expect_err("bad values");
    assert_eq!(
        e.problems,
        vec![
            "auth.dmarc_policy: \"quarantine\" is not \"enforce\" or \"off\"",
            "auth.verify_timeout: 5 is shorter than dns_timeout (10)",
        ]
    );
}

#[test]
fn networks_parse_and_match() {
    let n = Network::parse("10.1.0.0/16").unwrap();
    assert!(n.contains("10.1.200.3".parse().unwrap()));
    assert!(!n.contains("10.2.0.1".parse().unwrap()));
    assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
    let v6 = Network::parse("2001:db8::/32").unwrap();
    assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
    assert!(!v6.contains("10.1.0.1".parse().unwrap()));
    assert!(Network::parse("0.0.0.0/0")
        .unwrap()
        .contains("192.0.2.1".parse().unwrap()));
    assert_eq!(Network::parse("::1").unwrap().to_string(), "::1/128");
    for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
        assert!(Network::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn trusted_networks_default_and_errors() {
    let c = parse("[auth]\n").unwrap();
    assert_eq!(c.auth.trusted_networks.len(), 2);
    let c = parse("[auth]\ntrusted_networks = []\n").unwrap();
    assert!(c.auth.trusted_networks.is_empty());
    let e = parse("[auth]\ntrusted_networks = [\"10.0.0.0/99\", 3]\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("auth.trusted_networks[0]"), "{e}");
    assert!(e.contains("auth.trusted_networks[1]"), "{e}");
}

#[test]
fn delivery_section_reads_relays_durations_and_host_credentials() {
    let c = parse(
        r#"
[delivery]
smarthost = "relay.example.net:587"
smarthost_user = "me"
smarthost_password = "pw"
retry_schedule = [60, "2m", "1h"]
message_lifetime = "2d"
delay_notice = 0
port = 2525
[[delivery.host_auth]]
host = "MX.Partner.example."
user = "u"
password = "p"
"#,
    )
    .expect("parses");
    let d = &c.delivery;
    assert_eq!(
        d.smarthost,
        Some(Relay {
            host: "relay.example.net".into(),
            port: 587
        })
    );
    assert_eq!(
        d.auth_for("relay.example.net", true)
            .map(|a| a.user.as_str()),
        Some("me")
    );
    assert_eq!(
        d.auth_for("mx.partner.example", false)
            .map(|a| a.user.as_str()),
        Some("u")
    );
    assert_eq!(d.auth_for("other.example", false), None);
    assert_eq!(
        d.retry_schedule,
        vec![
            Duration::from_secs(60),
            Duration::from_secs(120),
            Duration::from_secs(3600)
        ]
    );
    assert_eq!(d.retry_after(1), Duration::from_secs(60));
    assert_eq!(d.retry_after(3), Duration::from_secs(3600));
    assert_eq!(
        d.retry_after(9),
        Duration::from_secs(3600),
        "the last entry repeats"
    );
    assert_eq!(d.message_lifetime, Duration::from_secs(2 * 86_400));
    assert_eq!(d.delay_notice, None);
    assert_eq!(d.port, 2525);
    assert!(!format!("{d:?}").contains("pw"), "passwords never print");
}

#[test]
fn delivery_problems_name_their_keys() {
    let p = problems(
        r#"
[delivery]
smarthost = "bad host!:25"
smarthost_user = "only-user"
retry_schedule = ["soon"]
message_lifetime = "5 weeks"
port = 70000
[[delivery.host_auth]]
host = "x.example"
colour = "blue"
"#,
    );
    let want = [
        "delivery.smarthost: invalid host name in \"bad host!:25\"",
        "delivery.smarthost_user: smarthost_user and smarthost_password must be set together",
        "delivery.retry_schedule[0]: invalid duration \"soon\"",
        "delivery.message_lifetime: invalid duration \"5 weeks\"",
        "delivery.port: 70000 is not a port number",
        "delivery.host_auth[0].user: user and password must be set",
        "delivery.host_auth[0].colour: unknown key",
    ];
    for w in want {
        assert!(
            p.iter().any(|x| x.starts_with(w)),
            "missing {w:?} in {p:#?}"
        );
    }
}
