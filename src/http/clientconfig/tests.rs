//! The self-configuration answers through actix-web's test service, each parsed as a
//! client would (an XML parser, a JSON parser, a plist parser after checking the CMS
//! signature with OpenSSL), never compared as strings.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::records::records;
use super::sign::Signer;
use super::{Endpoint, Offer};
use crate::actors::authlog::AuthFailureLog;
use crate::actors::ServerContext;
use crate::clock::ManualClock;
use crate::config::Config;
use crate::http::server::{app, routes, Front, Listener};
use crate::storage::Store;

const PASSWORD: &str = "correct horse";
const HOST: &str = "mail.example.net";

struct World {
    dir: tempfile::TempDir,
    ctx: Arc<ServerContext>,
}

/// A server for example.com whose listeners are imaps, imap, pop3s, smtps, submission and
/// https on made-up ports (nothing is bound); pop3 is left out, so it is not offered.
fn world() -> World {
    crate::storage::set_fast_password_hashing_for_tests(true);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "hostname = {HOST:?}\ndata_dir = {:?}\n[listeners]\nimaps = \"127.0.0.1:9993\"\n\
         imap = \"127.0.0.1:9143\"\npop3s = \"127.0.0.1:9995\"\nsmtps = \"127.0.0.1:9465\"\n\
         submission = \"127.0.0.1:9587\"\nhttps = \"127.0.0.1:9443\"\n",
        dir.path().display().to_string()
    );
    let config = Config::parse(&text, dir.path(), None).expect("config");
    let (store, writers) = Store::open(dir.path()).expect("store");
    store.add_domain("example.com").expect("domain");
    store
        .add_account("alice@example.com", PASSWORD, false)
        .expect("alice");
    let log = AuthFailureLog::open(dir.path()).expect("auth log");
    let arbiter = actix_rt::Arbiter::current();
    let ctx = ServerContext::new(
        Arc::new(config),
        None,
        store,
        writers,
        ManualClock::new(1_800_000_000),
        log,
        arbiter.clone(),
        vec![arbiter],
    );
    World { dir, ctx }
}

macro_rules! service {
    ($w:expr) => {{
        let front = Front {
            listener: Listener::Https,
            https_port: Some(9443),
        };
        test::init_service(app(web::Data::new($w.ctx.clone()), front, move |cfg| {
            routes(cfg, Listener::Https)
        }))
        .await
    }};
}

/// An XML element as a client sees it: name (without prefix), attributes, text, children.
#[derive(Debug, Default)]
struct Node {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    children: Vec<Node>,
}

impl Node {
    fn all(&self, name: &str) -> Vec<&Node> {
        self.children.iter().filter(|c| c.name == name).collect()
    }
    fn one(&self, name: &str) -> &Node {
        let all = self.all(name);
        assert_eq!(all.len(), 1, "{name} in {self:?}");
        all[0]
    }
    fn text_of(&self, name: &str) -> &str {
        &self.one(name).text
    }
}

/// Parses `xml` into its root element; panics on malformed XML.
fn parse_xml(xml: &[u8]) -> Node {
    let mut reader = Reader::from_reader(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) => stack.push(node(&e)),
            Event::Empty(e) => {
                let n = node(&e);
                stack.last_mut().unwrap().children.push(n);
            }
            Event::End(_) => {
                let n = stack.pop().unwrap();
                stack.last_mut().unwrap().children.push(n);
            }
            Event::Text(t) => stack.last_mut().unwrap().text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name = r.xml10_content();
                let s = quick_xml::escape::resolve_xml_entity(&name)
                    .map(str::to_string)
                    .or_else(|| r.resolve_char_ref().unwrap().map(String::from))
                    .expect("a known entity");
                stack.last_mut().unwrap().text.push_str(&s);
            }
            _ => {}
        }
    }
    let mut doc = stack.pop().unwrap();
    assert_eq!(doc.children.len(), 1, "one root element");
    doc.children.pop().unwrap()
}

fn node(e: &quick_xml::events::BytesStart<'_>) -> Node {
    let attrs = e
        .attributes()
        .map(|a| {
            let a = a.expect("attribute");
            (
                a.key.as_ref().to_string(),
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .expect("value")
                    .into_owned(),
            )
        })
        .collect();
    Node {
        name: e.local_name().as_ref().to_string(),
        attrs,
        ..Node::default()
    }
}

/// (type, hostname, port, socketType, username) of each server in an autoconfig answer.
fn servers(provider: &Node, element: &str) -> Vec<(String, String, u16, String, String)> {
    provider
        .all(element)
        .iter()
        .map(|s| {
            (
                s.attrs["type"].clone(),
                s.text_of("hostname").to_string(),
                s.text_of("port").parse().expect("a port"),
                s.text_of("socketType").to_string(),
                s.text_of("username").to_string(),
            )
        })
        .collect()
}

#[actix_web::test]
async fn autoconfig_offers_the_configured_listeners_at_the_public_name() {
    let w = world();
    let svc = service!(w);
    let req = TestRequest::get()
        .uri("/mail/config-v1.1.xml?emailaddress=Alice%40Example.COM")
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let ct = res.headers().get(header::CONTENT_TYPE).unwrap();
    assert!(ct.to_str().unwrap().starts_with("application/xml"));
    let root = parse_xml(&test::read_body(res).await);
    assert_eq!(root.name, "clientConfig");
    assert_eq!(root.attrs["version"], "1.1");
    let provider = root.one("emailProvider");
    assert_eq!(provider.attrs["id"], "example.com");
    assert_eq!(provider.text_of("domain"), "example.com");
    let user = "Alice@Example.COM".to_string();
    let s = |t: &str, port, sock: &str| {
        (
            t.to_string(),
            HOST.to_string(),
            port,
            sock.to_string(),
            user.clone(),
        )
    };
    // Implicit TLS first; pop3 (not configured) is not offered.
    assert_eq!(
        servers(provider, "incomingServer"),
        vec![
            s("imap", 9993, "SSL"),
            s("imap", 9143, "STARTTLS"),
            s("pop3", 9995, "SSL")
        ]
    );
    assert_eq!(
        servers(provider, "outgoingServer"),
        vec![s("smtp", 9465, "SSL"), s("smtp", 9587, "STARTTLS")]
    );
    for server in provider.all("incomingServer") {
        assert_eq!(server.text_of("authentication"), "password-cleartext");
    }
    // CardDAV and CalDAV, beside the provider, on the https listener.
    let books = root.all("addressBook");
    let calendars = root.all("calendar");
    assert_eq!((books.len(), calendars.len()), (1, 1));
    for (dav, kind) in [(books[0], "carddav"), (calendars[0], "caldav")] {
        assert_eq!(dav.attrs["type"], kind);
        assert_eq!(dav.text_of("username"), "Alice@Example.COM");
        assert_eq!(dav.text_of("authentication"), "http-basic");
        assert_eq!(
            dav.text_of("serverURL"),
            format!("https://{HOST}:9443/dav/")
        );
    }
}

#[test]
fn dav_elements_and_payloads_only_with_an_https_listener() {
    let mut offer = super::Offer {
        host: "mail.example.net".into(),
        imaps: Some(super::Endpoint {
            port: 993,
            implicit_tls: true,
        }),
        imap: None,
        pop3s: None,
        pop3: None,
        smtps: Some(super::Endpoint {
            port: 465,
            implicit_tls: true,
        }),
        submission: None,
        https: Some(443),
    };
    assert_eq!(
        super::autoconfig::dav_url(&offer).as_deref(),
        Some("https://mail.example.net/dav/")
    );
    let profile = super::mobileconfig::profile(&offer, "bob@example.net").unwrap();
    let content = get_dict(&profile, "PayloadContent").as_array().unwrap();
    let types: Vec<&str> = content
        .iter()
        .map(|p| {
            get_dict(p.as_dictionary().unwrap(), "PayloadType")
                .as_string()
                .unwrap()
        })
        .collect();
    assert_eq!(
        types,
        [
            "com.apple.mail.managed",
            "com.apple.caldav.account",
            "com.apple.carddav.account"
        ]
    );
    let mut uuids = std::collections::BTreeSet::new();
    for (p, prefix) in content[1..].iter().zip(["CalDAV", "CardDAV"]) {
        let d = p.as_dictionary().unwrap();
        let s = |k: &str| {
            get_dict(d, &format!("{prefix}{k}"))
                .as_string()
                .unwrap()
                .to_string()
        };
        assert_eq!(s("HostName"), "mail.example.net");
        assert_eq!(
            get_dict(d, &format!("{prefix}Port")).as_signed_integer(),
            Some(443)
        );
        assert_eq!(
            get_dict(d, &format!("{prefix}UseSSL")).as_boolean(),
            Some(true)
        );
        assert_eq!(s("PrincipalURL"), "/dav/principals/bob@example.net/");
        assert_eq!(s("Username"), "bob@example.net");
        assert!(d.keys().all(|k| !k.contains("Password")));
        uuids.insert(get_dict(d, "PayloadUUID").as_string().unwrap().to_string());
    }
    assert_eq!(uuids.len(), 2, "each payload has its own UUID");

    offer.https = None;
    assert_eq!(super::autoconfig::dav_url(&offer), None);
    let profile = super::mobileconfig::profile(&offer, "bob@example.net").unwrap();
    assert_eq!(
        get_dict(&profile, "PayloadContent")
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let xml = super::autoconfig::document(&offer, "example.net", "bob@example.net").unwrap();
    let root = parse_xml(&xml);
    assert!(root.all("addressBook").is_empty() && root.all("calendar").is_empty());
}

#[actix_web::test]
async fn autoconfig_well_known_names_the_domain_by_host_and_refuses_others() {
    let w = world();
    let svc = service!(w);
    let req = TestRequest::get()
        .uri("/.well-known/autoconfig/mail/config-v1.1.xml")
        .insert_header((header::HOST, "autoconfig.example.com"))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let root = parse_xml(&test::read_body(res).await);
    let provider = root.one("emailProvider");
    assert_eq!(provider.attrs["id"], "example.com");
    let imap = &servers(provider, "incomingServer")[0];
    assert_eq!(imap.4, "%EMAILADDRESS%");

    // Domains the server does not host: 404, by address or by host; no address: 400.
    for (uri, host) in [
        ("/mail/config-v1.1.xml?emailaddress=bob%40example.org", "x"),
        (
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            "autoconfig.example.org",
        ),
        (
            "/mail/config-v1.1.xml?emailaddress=alice%40example.com.evil",
            "x",
        ),
    ] {
        let req = TestRequest::get()
            .uri(uri)
            .insert_header((header::HOST, host))
            .to_request();
        let res = test::call_service(&svc, req).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{uri}");
    }
    let req = TestRequest::get()
        .uri("/mail/config-v1.1.xml?emailaddress=no-at-sign")
        .to_request();
    assert_eq!(
        test::call_service(&svc, req).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// A local part made of XML's special characters comes back as the same text, not as
/// markup; control characters (which XML 1.0 cannot carry) are refused.
#[actix_web::test]
async fn autoconfig_escapes_a_hostile_address() {
    let w = world();
    let svc = service!(w);
    let hostile = "\"</username><injected a='1'>&amp;]]>'\"@example.com";
    let encoded: String = form_urlencoded::byte_serialize(hostile.as_bytes()).collect();
    let req = TestRequest::get()
        .uri(&format!("/mail/config-v1.1.xml?emailaddress={encoded}"))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let root = parse_xml(&test::read_body(res).await);
    let provider = root.one("emailProvider");
    for server in provider.all("incomingServer") {
        assert_eq!(server.text_of("username"), hostile);
        assert!(server.all("injected").is_empty());
    }
    let req = TestRequest::get()
        .uri("/mail/config-v1.1.xml?emailaddress=a%00b%40example.com")
        .to_request();
    assert_eq!(
        test::call_service(&svc, req).await.status(),
        StatusCode::BAD_REQUEST
    );
}

/// The body Outlook 2016 and later send (CRLF line ends, the request schema as default
/// namespace).
const OUTLOOK_REQUEST: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n\
<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\r\n\
  <Request>\r\n\
    <EMailAddress>alice@example.com</EMailAddress>\r\n\
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>\r\n\
  </Request>\r\n\
</Autodiscover>\r\n";

fn pox(path: &str, body: &str) -> actix_http::Request {
    TestRequest::post()
        .uri(path)
        .insert_header((header::CONTENT_TYPE, "text/xml"))
        .set_payload(body.to_string())
        .to_request()
}

#[actix_web::test]
async fn autodiscover_pox_answers_outlook_in_any_path_case() {
    let w = world();
    let svc = service!(w);
    for path in [
        "/autodiscover/autodiscover.xml",
        "/Autodiscover/Autodiscover.xml",
        "/AUTODISCOVER/AUTODISCOVER.XML",
    ] {
        let res = test::call_service(&svc, pox(path, OUTLOOK_REQUEST)).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let root = parse_xml(&test::read_body(res).await);
        assert_eq!(root.name, "Autodiscover");
        let response = root.one("Response");
        assert_eq!(response.attrs["xmlns"], super::autodiscover::OUTLOOK_SCHEMA);
        let account = response.one("Account");
        assert_eq!(account.text_of("AccountType"), "email");
        assert_eq!(account.text_of("Action"), "settings");
        let protocols: Vec<(String, String, u16, String, String)> = account
            .all("Protocol")
            .iter()
            .map(|p| {
                assert_eq!(p.text_of("SSL"), "on");
                assert_eq!(p.text_of("AuthRequired"), "on");
                (
                    p.text_of("Type").to_string(),
                    p.text_of("Server").to_string(),
                    p.text_of("Port").parse().unwrap(),
                    p.text_of("Encryption").to_string(),
                    p.text_of("LoginName").to_string(),
                )
            })
            .collect();
        let p = |t: &str, port| {
            (
                t.to_string(),
                HOST.to_string(),
                port,
                "SSL".to_string(),
                "alice@example.com".to_string(),
            )
        };
        assert_eq!(
            protocols,
            vec![p("IMAP", 9993), p("POP3", 9995), p("SMTP", 9465)]
        );
    }
}

#[actix_web::test]
async fn autodiscover_pox_refusals() {
    let w = world();
    let svc = service!(w);
    // Another domain: 404, whatever the account.
    let other = OUTLOOK_REQUEST.replace("alice@example.com", "alice@example.org");
    let res = test::call_service(&svc, pox("/autodiscover/autodiscover.xml", &other)).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // An account that does not exist in a hosted domain gets the same answer as one that
    // does: nothing tells them apart.
    let ghost = OUTLOOK_REQUEST.replace("alice@", "nobody-here@");
    let res = test::call_service(&svc, pox("/autodiscover/autodiscover.xml", &ghost)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let root = parse_xml(&test::read_body(res).await);
    let account = root.one("Response").one("Account");
    assert_eq!(account.all("Protocol").len(), 3);
    // ActiveSync's schema: error 601; not XML: error 600 (both in HTTP 200, as Exchange).
    let mobilesync = OUTLOOK_REQUEST.replace(
        "outlook/responseschema/2006a",
        "mobilesync/responseschema/2006",
    );
    for (body, code) in [
        (mobilesync.as_str(), "601"),
        ("<Autodiscover><Request>", "600"),
        ("not xml <", "600"),
    ] {
        let res = test::call_service(&svc, pox("/autodiscover/autodiscover.xml", body)).await;
        assert_eq!(res.status(), StatusCode::OK, "{body}");
        let root = parse_xml(&test::read_body(res).await);
        assert_eq!(
            root.one("Response").one("Error").text_of("ErrorCode"),
            code,
            "{body}"
        );
    }
}

#[test]
fn pox_requests_are_read_whatever_the_prefix_and_escaping() {
    let body = "<a:Autodiscover xmlns:a=\"x\"><a:Request><a:EMailAddress> o&apos;neil&#x26;co@example.com </a:EMailAddress></a:Request></a:Autodiscover>";
    let r = super::autodiscover::parse_request(body.as_bytes()).unwrap();
    assert_eq!(r.email.as_deref(), Some("o'neil&co@example.com"));
    assert_eq!(r.schema, None);
    assert!(super::autodiscover::parse_request(b"<a><b></a>").is_none());
}

async fn json_call(
    svc: &impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
        Error = actix_web::Error,
    >,
    uri: &str,
) -> (StatusCode, serde_json::Value) {
    let res = test::call_service(svc, TestRequest::get().uri(uri).to_request()).await;
    let status = res.status();
    let body = test::read_body(res).await;
    (status, serde_json::from_slice(&body).expect("JSON"))
}

#[actix_web::test]
async fn autodiscover_v2_json() {
    let w = world();
    let svc = service!(w);
    let url = format!("https://{HOST}:9443/autodiscover/autodiscover.xml");
    for uri in [
        "/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=AutodiscoverV1",
        "/Autodiscover/Autodiscover.json?email=alice%40example.com&protocol=autodiscoverv1",
        "/autodiscover/autodiscover.json/v1.0/alice@example.com?Protocol=AutodiscoverV1",
    ] {
        let (status, v) = json_call(&svc, uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {v}");
        assert_eq!(v["Protocol"], "AutodiscoverV1");
        assert_eq!(v["Url"], url.as_str());
    }
    for (uri, status, code) in [
        (
            "/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=ActiveSync",
            404,
            "ProtocolNotSupported",
        ),
        (
            "/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=Ews",
            404,
            "ProtocolNotSupported",
        ),
        (
            "/autodiscover/autodiscover.json?Email=alice%40example.com&Protocol=Gopher",
            400,
            "InvalidProtocol",
        ),
        (
            "/autodiscover/autodiscover.json?Email=alice%40example.org&Protocol=AutodiscoverV1",
            404,
            "NotFound",
        ),
        (
            "/autodiscover/autodiscover.json?Protocol=AutodiscoverV1",
            400,
            "InvalidEmailAddress",
        ),
    ] {
        let (got, v) = json_call(&svc, uri).await;
        assert_eq!(got.as_u16(), status, "{uri}: {v}");
        assert_eq!(v["ErrorCode"], code, "{uri}");
        assert!(v["ErrorMessage"].is_string());
    }
}

#[test]
fn port_zero_listeners_are_offered_on_their_bound_port_and_missing_ones_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let text = "hostname = \"h.test\"\n[listeners]\nimaps = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\n";
    let config = Config::parse(text, dir.path(), None).unwrap();
    let unbound = Offer::from_config(&config, &BTreeMap::new());
    assert_eq!(unbound.imaps, None);
    let bound = BTreeMap::from([
        ("imaps".to_string(), 40993),
        ("submission".to_string(), 40587),
    ]);
    let offer = Offer::from_config(&config, &bound);
    assert_eq!(
        offer.imaps,
        Some(Endpoint {
            port: 40993,
            implicit_tls: true
        })
    );
    assert_eq!(
        offer.submission,
        Some(Endpoint {
            port: 40587,
            implicit_tls: false
        })
    );
    assert_eq!(
        (
            offer.imap,
            offer.pop3,
            offer.pop3s,
            offer.smtps,
            offer.https
        ),
        (None, None, None, None, None)
    );
}

#[test]
fn dns_records_follow_the_offer() {
    let dir = tempfile::tempdir().unwrap();
    let text = "hostname = \"mail.example.net\"\n[listeners]\nimaps = \"0.0.0.0:993\"\n\
                imap = \"0.0.0.0:143\"\nsubmission = \"0.0.0.0:587\"\nhttps = \"0.0.0.0:443\"\n";
    let config = Config::parse(text, dir.path(), None).unwrap();
    let offer = Offer::from_config(&config, &BTreeMap::new());
    let rs = records(&offer, "example.com");
    let find = |name: &str| {
        rs.iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name} in {rs:?}"))
    };
    assert_eq!(find("example.com.").value, "10 mail.example.net.");
    assert_eq!(
        find("_imaps._tcp.example.com.").value,
        "0 1 993 mail.example.net."
    );
    assert_eq!(
        find("_imap._tcp.example.com.").value,
        "10 1 143 mail.example.net."
    );
    assert_eq!(
        find("_submission._tcp.example.com.").value,
        "10 1 587 mail.example.net."
    );
    for off in ["_submissions", "_pop3s", "_pop3"] {
        assert_eq!(
            find(&format!("{off}._tcp.example.com.")).value,
            "0 0 0 .",
            "{off}"
        );
    }
    assert_eq!(
        find("_autodiscover._tcp.example.com.").value,
        "0 1 443 mail.example.net."
    );
    assert_eq!(find("autoconfig.example.com.").kind, "CNAME");
    assert_eq!(find("autodiscover.example.com.").value, "mail.example.net.");
}

/// Whether `openssl` runs here; the tests that verify signatures with it say SKIP loudly
/// without it (or fail when FERRYMAIL_REQUIRE_OPENSSL is set).
fn openssl_available(test: &str) -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("FERRYMAIL_REQUIRE_OPENSSL").is_none(),
            "{test}: openssl is required (FERRYMAIL_REQUIRE_OPENSSL) but does not run"
        );
        eprintln!("SKIP {test}: openssl is not installed; the CMS signature is not verified");
    }
    ok
}

/// Verifies the DER CMS `signed` with OpenSSL (signature and digest; the self-signed
/// certificate's chain is not checked: `-noverify`) and returns the content.
fn openssl_verify(dir: &Path, signed: &[u8]) -> Vec<u8> {
    let input = dir.join("signed.der");
    let output = dir.join("content");
    std::fs::write(&input, signed).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-noverify",
            "-binary",
            "-inform",
            "DER",
            "-in",
        ])
        .arg(&input)
        .arg("-out")
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl cms -verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&output).unwrap()
}

fn get_dict<'a>(d: &'a plist::Dictionary, k: &str) -> &'a plist::Value {
    d.get(k).unwrap_or_else(|| panic!("{k} in {d:?}"))
}

#[actix_web::test]
async fn mobileconfig_for_the_logged_in_account_is_signed_by_the_server() {
    let w = world();
    let svc = service!(w);
    let req = TestRequest::get().uri("/mobileconfig").to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
    let wrong = TestRequest::get()
        .uri("/mobileconfig")
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .insert_header((header::AUTHORIZATION, basic("alice@example.com", "wrong")))
        .to_request();
    assert_eq!(
        test::call_service(&svc, wrong).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let req = TestRequest::get()
        .uri("/mobileconfig")
        .peer_addr("127.0.0.1:40000".parse().unwrap())
        .insert_header((header::AUTHORIZATION, basic("alice@example.com", PASSWORD)))
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers().get(header::CONTENT_TYPE).unwrap(),
        super::mobileconfig::CONTENT_TYPE
    );
    let body = test::read_body(res).await;
    // Signed: DER, not the plist's XML.
    assert_ne!(body.first(), Some(&b'<'), "the profile is not signed");
    if !openssl_available("mobileconfig_for_the_logged_in_account_is_signed_by_the_server") {
        return;
    }
    let content = openssl_verify(w.dir.path(), &body);
    let profile = plist::Value::from_reader_xml(content.as_slice()).expect("a plist");
    let top = profile.as_dictionary().expect("a dictionary");
    assert_eq!(
        get_dict(top, "PayloadType").as_string(),
        Some("Configuration")
    );
    let content = get_dict(top, "PayloadContent").as_array().unwrap();
    // Mail, then CalDAV and CardDAV (the world has an https listener).
    assert_eq!(content.len(), 3);
    let mail = content[0].as_dictionary().unwrap();
    let s = |k| get_dict(mail, k).as_string().unwrap().to_string();
    let n = |k| get_dict(mail, k).as_signed_integer().unwrap();
    let b = |k| get_dict(mail, k).as_boolean().unwrap();
    assert_eq!(s("PayloadType"), "com.apple.mail.managed");
    assert_eq!(s("EmailAccountType"), "EmailTypeIMAP");
    assert_eq!(s("EmailAddress"), "alice@example.com");
    assert_eq!(s("IncomingMailServerHostName"), HOST);
    assert_eq!(n("IncomingMailServerPortNumber"), 9993);
    assert!(b("IncomingMailServerUseSSL"));
    assert_eq!(s("IncomingMailServerUsername"), "alice@example.com");
    assert_eq!(s("OutgoingMailServerHostName"), HOST);
    assert_eq!(n("OutgoingMailServerPortNumber"), 9465);
    assert!(b("OutgoingMailServerUseSSL"));
    // No password anywhere in it.
    assert!(!String::from_utf8_lossy(&content_bytes(&profile)).contains(PASSWORD));
    assert!(mail
        .keys()
        .all(|k| !k.contains("Password") || k == "OutgoingPasswordSameAsIncomingPassword"));
}

fn content_bytes(v: &plist::Value) -> Vec<u8> {
    let mut out = Vec::new();
    v.to_writer_xml(&mut out).unwrap();
    out
}

fn basic(login: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"))
    )
}

/// A key kind: its name, `openssl req -newkey` arguments, and the command that rewrites
/// the key in its traditional PEM form, if it has one.
type KeyCase = (
    &'static str,
    &'static [&'static str],
    Option<&'static [&'static str]>,
);

/// Each kind of key a `[tls]` certificate may have signs a profile OpenSSL verifies: RSA
/// (PKCS#8 and PKCS#1 PEM), ECDSA P-256 and P-384 (PKCS#8 and SEC1 PEM). The keys and
/// certificates are made by OpenSSL, as an operator's would be.
#[test]
fn every_supported_key_kind_signs_what_openssl_verifies() {
    if !openssl_available("every_supported_key_kind_signs_what_openssl_verifies") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let cases: [KeyCase; 4] = [
        (
            "rsa",
            &["-newkey", "rsa:2048"],
            Some(&["rsa", "-traditional"]),
        ),
        (
            "p256",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
            Some(&["ec"]),
        ),
        (
            "p384",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
            None,
        ),
        (
            "p256b",
            &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"],
            None,
        ),
    ];
    for (name, newkey, traditional) in cases {
        let (cert, key) = (format!("{name}.crt"), format!("{name}.key"));
        let mut args = vec![
            "req",
            "-x509",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=mail.example.net",
        ];
        args.extend_from_slice(newkey);
        args.extend_from_slice(&["-keyout", &key, "-out", &cert]);
        openssl(&args);
        let mut keys = vec![key.clone()];
        if let Some(t) = traditional {
            // PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY").
            let old = format!("{name}.old.key");
            let mut a = t.to_vec();
            a.extend_from_slice(&["-in", &key, "-out", &old]);
            openssl(&a);
            keys.push(old);
        }
        for k in keys {
            let signer = Signer::from_files(&dir.path().join(&cert), &dir.path().join(&k))
                .unwrap_or_else(|e| panic!("{name} {k}: {e}"));
            let content = format!("<plist>{name} {k}</plist>");
            let signed = signer.sign(content.as_bytes(), 1_800_000_000).unwrap();
            assert_eq!(
                openssl_verify(dir.path(), &signed),
                content.as_bytes(),
                "{name} {k}"
            );
        }
    }
    // A key that is not the certificate's is refused before anything is signed.
    let err = Signer::from_files(&dir.path().join("p256.crt"), &dir.path().join("p256b.key"));
    assert!(err.is_err());
}
