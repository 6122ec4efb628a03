//! Clients that configure themselves, against the real binary with every listener on port
//! 0: the answers name the ports the listeners were really bound to and the server's
//! hostname; Apple's profile is signed with the certificate the https listener serves
//! (checked by OpenSSL when it is installed); and the dashboard's DNS page shows a domain
//! admin the records of its own domains only. The answers' details (escaping, refusals,
//! every key kind) are tested in `http::clientconfig::tests`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::http::{basic, request};
use common::proc::Running;

const HOST: &str = "mx.test";

fn write_config(dir: &Path) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    let mut listeners = String::new();
    for s in [
        "smtp",
        "submission",
        "smtps",
        "imap",
        "imaps",
        "pop3s",
        "http",
        "https",
        "admin",
    ] {
        listeners.push_str(&format!("{s} = \"127.0.0.1:0\"\n"));
    }
    std::fs::write(
        &path,
        format!(
            "hostname = \"{HOST}\"\ndata_dir = \"data\"\n[listeners]\n{listeners}\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n{}",
            common::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

/// The texts of the `<name>` elements in `xml`, in order (parsed, not searched).
fn texts(xml: &str, name: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let (mut out, mut inside) = (Vec::new(), false);
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) => inside = e.local_name().as_ref() == name,
            Event::Text(t) if inside => out.push(t.xml10_content().trim().to_string()),
            Event::End(_) => inside = false,
            _ => {}
        }
    }
    out
}

#[test]
fn self_configuration_of_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let mut server = Running::start(&config);
    let (ok, out) = common::proc::cli(&config, &["domain", "add", "a.test"]);
    assert!(ok, "{out}");
    let (ok, out) = common::proc::cli(&config, &["domain", "add", "b.test"]);
    assert!(ok, "{out}");
    let (ok, out) = common::proc::cli(
        &config,
        &["account", "add", "ann@a.test", "--password", "ann pw"],
    );
    assert!(ok, "{out}");
    let (ok, out) = common::proc::cli(
        &config,
        &["account", "add", "boss@a.test", "--password", "boss pw"],
    );
    assert!(ok, "{out}");
    let (ok, out) = common::proc::cli(&config, &["domainadmin", "add", "boss@a.test", "a.test"]);
    assert!(ok, "{out}");
    let http = server.addr("http");
    let port = |s: &str| server.addr(s).port().to_string();

    // Thunderbird: the bound ports, at the hostname; pop3 is not configured.
    let res = common::http::get(
        http,
        false,
        "/mail/config-v1.1.xml?emailaddress=ann%40a.test",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let xml = res.text();
    assert_eq!(texts(&xml, "hostname"), vec![HOST; 5]);
    assert_eq!(
        texts(&xml, "port"),
        vec![
            port("imaps"),
            port("imap"),
            port("pop3s"),
            port("smtps"),
            port("submission")
        ]
    );
    let res = common::http::get(
        http,
        false,
        "/mail/config-v1.1.xml?emailaddress=ann%40c.test",
    );
    assert_eq!(res.status, 404);

    // Outlook, POX and v2.
    let body = "<?xml version=\"1.0\" encoding=\"utf-8\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>ann@a.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>";
    let res = request(
        http,
        false,
        "POST",
        "/Autodiscover/Autodiscover.xml",
        &[("Content-Type", "text/xml")],
        body.as_bytes(),
    );
    assert_eq!(res.status, 200, "{}", res.text());
    let xml = res.text();
    assert_eq!(texts(&xml, "Type"), vec!["IMAP", "POP3", "SMTP"]);
    assert_eq!(
        texts(&xml, "Port"),
        vec![port("imaps"), port("pop3s"), port("smtps")]
    );
    let res = common::http::get(
        http,
        false,
        "/autodiscover/autodiscover.json?Email=ann%40a.test&Protocol=AutodiscoverV1",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.json()["Url"],
        format!(
            "https://{HOST}:{}/autodiscover/autodiscover.xml",
            port("https")
        )
    );

    // Apple: over https with the account's password, signed with the served certificate.
    let https = server.addr("https");
    let auth = basic("ann@a.test", "ann pw");
    let res = request(
        https,
        true,
        "GET",
        "/mobileconfig",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(
        res.header("content-type"),
        Some("application/x-apple-aspen-config")
    );
    let openssl = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if openssl {
        let signed = dir.path().join("profile.der");
        std::fs::write(&signed, &res.body).unwrap();
        let cert = dir.path().join("data/certs/cert.pem");
        let out = Command::new("openssl")
            .args([
                "cms", "-verify", "-binary", "-inform", "DER", "-purpose", "any", "-in",
            ])
            .arg(&signed)
            .arg("-CAfile")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let profile = plist::Value::from_reader_xml(out.stdout.as_slice()).expect("a plist");
        let mail = profile.as_dictionary().unwrap()["PayloadContent"]
            .as_array()
            .unwrap()[0]
            .as_dictionary()
            .unwrap()
            .clone();
        assert_eq!(mail["IncomingMailServerHostName"].as_string(), Some(HOST));
        assert_eq!(
            mail["IncomingMailServerPortNumber"].as_signed_integer(),
            Some(i64::from(server.addr("imaps").port()))
        );
    } else {
        assert!(
            std::env::var_os("FERRYMAIL_REQUIRE_OPENSSL").is_none(),
            "openssl is required (FERRYMAIL_REQUIRE_OPENSSL) but does not run"
        );
        eprintln!("SKIP self_configuration_of_the_binary: openssl is not installed; the profile's signature is not verified");
    }

    // The DNS page: a domain admin sees its domain's records, not another's.
    let admin = server.addr("admin");
    let form = "address=boss%40a.test&password=boss+pw";
    let res = request(
        admin,
        true,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    );
    assert_eq!(res.status, 303, "{}", res.text());
    let cookie = format!("fm_admin={}", res.cookie("fm_admin").expect("a session"));
    let res = request(admin, true, "GET", "/dns", &[("Cookie", &cookie)], b"");
    assert_eq!(res.status, 200, "{}", res.text());
    let page = res.text();
    let imaps = format!("0 1 {} {HOST}.", port("imaps"));
    for want in [
        "_imaps._tcp.a.test.",
        imaps.as_str(),
        "_pop3._tcp.a.test.",
        "autoconfig.a.test.",
        "href=\"/dkim\"",
    ] {
        assert!(page.contains(want), "the DNS page lacks {want}");
    }
    assert!(
        !page.contains("b.test"),
        "a domain admin sees another domain"
    );

    assert!(server.sigterm().success());
}
