//! Links whose shown text names another host than they go to ([`super::links`]), through
//! the sanitiser that marks them ([`super::render`]).

use super::links::Suspicious;
use super::render::sanitize_html;
use std::collections::HashMap;

fn run(html: &str) -> (String, Vec<Suspicious>) {
    let c = sanitize_html(html, HashMap::new(), false);
    (c.html, c.suspicious)
}

#[test]
fn a_url_shown_for_another_host_is_marked() {
    let (out, found) = run(
        "<p>Log in at <a href=\"https://evil.test/login?a=1&b=2\"><b>https://bank.example/</b></a> now</p>",
    );
    assert_eq!(
        found,
        [Suspicious {
            text: "https://bank.example/".into(),
            host: "evil.test".into()
        }]
    );
    assert!(out.contains("class=\"fm-suspicious\""), "{out}");
    assert!(
        out.contains("title=\"This link goes to evil.test, not https://bank.example/\""),
        "{out}"
    );
    assert!(
        out.contains("</a> <strong>[\u{26a0} goes to evil.test]</strong> now"),
        "{out}"
    );
    assert!(out.contains("rel=\"noopener noreferrer\""), "{out}");
}

#[test]
fn what_counts_as_another_host() {
    let cases: &[(&str, &str, Option<&str>)] = &[
        // Same host, any case, www. or not, with a path: fine.
        ("https://Bank.Example/x", "https://www.bank.example/y", None),
        ("bank.example", "https://bank.example/", None),
        ("Click here", "https://evil.test/", None),
        (
            "report.pdf",
            "https://files.bank.example/report.pdf",
            Some("files.bank.example"),
        ),
        (
            "www.bank.example/login",
            "http://evil.test/",
            Some("evil.test"),
        ),
        // User info is not the host.
        (
            "https://bank.example/",
            "https://bank.example@evil.test/",
            Some("evil.test"),
        ),
        (
            "https://bank.example/",
            "https://evil.test:8443/",
            Some("evil.test"),
        ),
        (
            "help@bank.example",
            "mailto:help@evil.test?subject=x",
            Some("evil.test"),
        ),
        ("help@bank.example", "mailto:help@bank.example", None),
        (
            "mailto:help@bank.example",
            "https://evil.test/",
            Some("evil.test"),
        ),
        ("two words.example", "https://evil.test/", None),
        ("1.5", "https://evil.test/", None),
    ];
    for (text, href, want) in cases {
        let (_, found) = run(&format!("<a href=\"{href}\">{text}</a>"));
        let got = found.first().map(|s| s.host.as_str());
        assert_eq!(got, *want, "{text} -> {href}");
    }
}

#[test]
fn markup_inside_links_and_quotes_do_not_confuse_the_scan() {
    let (out, found) = run(
        "<a href=\"https://evil.test/?q=a>b\" title=\"x > y\">https://bank.example<img alt=\"</a>\"></a>\
         <a>no href</a><a href=\"https://ok.example/\">ok.example</a>",
    );
    assert_eq!(found.len(), 1, "{out}");
    assert_eq!(found[0].host, "evil.test");
    // The existing title stays the only one.
    assert_eq!(out.matches("title=").count(), 1, "{out}");
    assert!(out.ends_with(">ok.example</a>"), "{out}");
}
