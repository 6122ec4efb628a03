//! The effective configuration over HTTPS against a server in this process: the dashboard's
//! Settings page and `GET /api/v1/settings` show the configuration the server runs with
//! (defaults the file left out included, secrets masked), not the file's text: an edit
//! shows only once `reload` (from the page) has taken it, and then on both.

mod common;

use common::http::{basic, request};
use common::web::WebSession;
use common::TestServer;

const RELAY_PW: &str = "relay-secret-8c1d";
const PARTNER_PW: &str = "partner-secret-3e7a";

/// Delivery credentials in the file (no remote mail is sent by this test).
fn secrets() -> String {
    format!(
        "[delivery]\nsmarthost = \"relay.example.net:587\"\nsmarthost_user = \"relayuser\"\n\
         smarthost_password = \"{RELAY_PW}\"\n\
         [[delivery.host_auth]]\nhost = \"mx.partner.test\"\nuser = \"partner\"\n\
         password = \"{PARTNER_PW}\"\n"
    )
}

/// The page's JSON, unescaped.
fn page_text(s: &WebSession) -> String {
    let r = s.get("/settings");
    assert_eq!(r.status, 200, "{}", r.text());
    r.text().replace("&#34;", "\"").replace("&quot;", "\"")
}

fn api_settings(server: &TestServer) -> (String, serde_json::Value) {
    let auth = basic("root@example.com", "root pw");
    let r = request(
        server.addr("admin"),
        true,
        "GET",
        "/api/v1/settings",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    (r.text(), r.json())
}

#[test]
fn settings_show_the_configuration_in_force_and_follow_reload() {
    let server =
        TestServer::start_full("", &format!("[auth]\nverify = false\n{}", secrets()), None);
    let (ok, out) = server.console("account add root@example.com --password 'root pw' --admin");
    assert!(ok, "{out}");
    let root = WebSession::login(server.addr("admin"), "root@example.com", "root pw");

    // What the file says, and defaults it does not mention ([http], [fetch]).
    let page = page_text(&root);
    let (text, api) = api_settings(&server);
    for shown in [&page, &text] {
        for secret in [RELAY_PW, PARTNER_PW] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
    }
    for want in [
        "\"max_recipients\": 100",
        "\"session_idle\": \"30m\"",
        "\"max_concurrent\": 4",
        "\"smarthost_user\": \"relayuser\"",
        "\"smarthost_password\": \"********\"",
    ] {
        assert!(page.contains(want), "{want} missing:\n{page}");
    }
    let e = &api["effective"];
    assert_eq!(e["smtp"]["max_recipients"], 100);
    assert_eq!(e["http"]["session_idle"], "30m");
    assert_eq!(e["fetch"]["max_concurrent"], 4);
    assert_eq!(e["delivery"]["host_auth"][0]["user"], "partner");
    assert_eq!(e["delivery"]["host_auth"][0]["password"], "********");
    let path = server.config_path().display().to_string();
    assert_eq!(api["source"], path.as_str());
    assert!(page.contains(&path), "the page names the file");

    // The file changes: nothing shows until the server takes it.
    let file = std::fs::read_to_string(server.config_path()).unwrap();
    let edited = file.replace("max_recipients = 100", "max_recipients = 250")
        + "\n[fetch]\nmax_concurrent = 7\n";
    assert_ne!(edited, file);
    std::fs::write(server.config_path(), edited).unwrap();
    assert!(page_text(&root).contains("\"max_recipients\": 100"));
    assert_eq!(
        api_settings(&server).1["effective"]["fetch"]["max_concurrent"],
        4
    );

    // Reloaded from the page: both show the new values.
    let (status, flash) = root.post("/settings", &[("action", "reload")]);
    assert_eq!(status, 303);
    assert!(flash.starts_with("ok:reloaded"), "{flash}");
    let page = page_text(&root);
    assert!(page.contains("\"max_recipients\": 250"), "{page}");
    assert!(page.contains("\"max_concurrent\": 7"), "{page}");
    assert!(!page.contains(RELAY_PW));
    let (text, api) = api_settings(&server);
    assert_eq!(api["effective"]["smtp"]["max_recipients"], 250);
    assert_eq!(api["effective"]["fetch"]["max_concurrent"], 7);
    assert!(!text.contains(RELAY_PW) && !text.contains(PARTNER_PW));
}
