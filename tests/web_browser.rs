//! The admin dashboard in a real browser: Debian's headless Chromium driven through
//! chromedriver by the selenium script `tests/web/dashboard.py`, against the real binary.
//! The script logs in with the postmaster password printed at first start, checks the
//! session cookie's flags and the CSRF refusal, sets up two-factor login and logs in with a
//! TOTP code, creates a domain and an account, watches the overview's counter move when a
//! message arrives over SMTP, and retries a deferred message from the queue page.
//!
//! Needs `chromium`, `chromedriver`, `python3` and the `selenium` Python package; when one
//! is missing the test says SKIPPED loudly (set `FERRYMAIL_REQUIRE_BROWSER=1` to make that
//! a failure, as CI does).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::proc::Running;

/// What is missing to run a browser, if anything.
fn missing_tools() -> Option<String> {
    let found = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    for tool in ["chromium", "chromedriver", "python3"] {
        if !found(tool) {
            return Some(tool.to_string());
        }
    }
    let selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !selenium {
        return Some("the selenium Python package".into());
    }
    None
}

/// Whether to go on; prints SKIPPED (or fails when the browser is required).
fn browser_available(test: &str) -> bool {
    let Some(what) = missing_tools() else {
        return true;
    };
    if std::env::var_os("FERRYMAIL_REQUIRE_BROWSER").is_some() {
        panic!("{test}: {what} is missing and FERRYMAIL_REQUIRE_BROWSER is set");
    }
    eprintln!("\n*** SKIPPED {test}: {what} is missing (apt-get install chromium chromium-driver; pip install selenium) ***\n");
    println!("SKIPPED {test}: {what} is missing");
    false
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn write_config(dir: &Path, dns: &str, delivery_port: u16) -> PathBuf {
    let path = dir.join("ferrymail.toml");
    std::fs::write(
        &path,
        format!(
            "hostname = \"mx.test\"\ndata_dir = \"data\"\n[listeners]\n\
             smtp = \"127.0.0.1:0\"\nsubmission = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n\
             [queue]\nlocal_retry_interval = 1\ndeferred_check_interval = 1\n\
             [server]\nshutdown_grace = 5\n[auth]\nverify = false\n\
             [smtp]\nallow_plaintext_auth = true\n{dns}\
             [delivery]\nport = {delivery_port}\nconnect_timeout = 5\ncommand_timeout = 10\n\
             retry_schedule = [\"1h\"]\n{}",
            common::storage_section(&dir.join("data"), "node-a")
        ),
    )
    .unwrap();
    path
}

/// The postmaster password from the first-start line.
fn first_password(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| {
            l.split("created admin account postmaster@mx.test with password ")
                .nth(1)
        })
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no first-start password in {lines:?}"))
        .to_string()
}

#[test]
fn dashboard_in_headless_chromium() {
    if !browser_available("dashboard_in_headless_chromium") {
        return;
    }
    // remote.test's MX is this machine, on a port nothing listens on: mail there is
    // deferred.
    let dns = common::dns::TestDns::start();
    dns.mx("remote.test", 10, "mx.remote.test");
    dns.a("mx.remote.test", std::net::Ipv4Addr::LOCALHOST);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &dns.config(), closed_port());
    let server = Running::start(&config);
    let password = first_password(&server.lines);
    let admin = server.addr("admin");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/dashboard.py");
    let out = Command::new("python3")
        .arg(&script)
        .env("FM_BASE", format!("https://{admin}"))
        .env("FM_ADMIN", "postmaster@mx.test")
        .env("FM_PASSWORD", &password)
        .env("FM_SMTP", server.addr("smtp").to_string())
        .env("FM_SUBMISSION", server.addr("submission").to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser script failed ({:?}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
