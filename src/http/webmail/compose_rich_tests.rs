//! Rich-text compose through the `https` listener's application with the queues running:
//! a rich send arrives as multipart/alternative with the sanitised HTML and its derived
//! text, a form without the script's `mode` stays plain, an HTML original is quoted as
//! HTML, a draft keeps its HTML and reopens in rich mode, the switch is remembered.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use mail_parser::MimeHeaders;

use super::compose_tests::{
    body_of, contents, form_of, inbox_of, input, log_in, parse, world_with_queues, Session,
};
use super::test_support::{deliver, service};
use crate::http::tests::{peer, session_cookie, PASSWORD};

/// The mode the page opens the editor in (`data-mode` of the form).
fn mode(page: &str) -> &str {
    let at = page.find("data-mode=\"").expect("data-mode") + 11;
    &page[at..at + page[at..].find('"').expect("a closing quote")]
}

#[actix_web::test]
async fn a_rich_message_is_sent_as_sanitised_html_with_a_derived_text_part() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(mode(&page), "plain", "plain until the user chooses rich");
    let html = "<div><b>Bold</b> <i>it</i> <script>alert(1)</script>and \
                <a href=\"https://e.example/\" onclick=\"x()\">a link</a></div>\
                <ul><li>one</li><li>two</li></ul><blockquote><div>said</div></blockquote>";
    let body = form_of(
        &page,
        "send",
        &[
            ("to", "root@example.com"),
            ("subject", "Rich"),
            ("mode", "rich"),
            ("html", html),
        ],
    );
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let got = inbox_of(&w, "root@example.com", 1).await;
    let m = parse(&got[0]);
    let ct = m.content_type().expect("a content type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative"))
    );
    let sent_html = m.body_html(0).expect("an html part");
    assert!(
        sent_html.contains("<b>Bold</b> <i>it</i> and <a href=\"https://e.example/\""),
        "{sent_html}"
    );
    assert!(!sent_html.contains("script") && !sent_html.contains("onclick"));
    assert_eq!(
        m.body_text(0).expect("a text part"),
        "Bold it and a link <https://e.example/>\r\n- one\r\n- two\r\n> said\r\n"
    );
    // The form without the script (no mode): the textarea, as before, whatever `html` holds.
    let (_, page) = body_of!(&svc, s.get("/compose"));
    let body = form_of(
        &page,
        "send",
        &[
            ("to", "root@example.com"),
            ("subject", "Plain"),
            ("body", "just text"),
            ("html", "<b>ignored</b>"),
        ],
    );
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let got = inbox_of(&w, "root@example.com", 2).await;
    let m = parse(&got[1]);
    assert_eq!(m.content_type().and_then(|c| c.subtype()), Some("plain"));
    assert_eq!(m.body_text(0).as_deref(), Some("just text"));
}

#[actix_web::test]
async fn an_html_original_is_quoted_rich_and_a_rich_draft_reopens_rich() {
    let w = world_with_queues("");
    let svc = service!(w);
    let (inbox, uid) = deliver(
        &w,
        "alice@example.com",
        "From: Root <root@example.com>\nTo: alice@example.com\nSubject: Menu\nMessage-ID: <h1@example.com>\nContent-Type: text/html; charset=utf-8\n\n<p>Soup <b>today</b><img src=\"https://t.example/p.gif\"></p>\n",
    )
    .await;
    let (_, plain_inbox_uid) = deliver(
        &w,
        "alice@example.com",
        "From: root@example.com\nTo: alice@example.com\nSubject: Text\n\nhello\n",
    )
    .await;
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(
        &svc,
        s.get(&format!("/compose?reply={inbox}/{plain_inbox_uid}"))
    );
    assert_eq!(mode(&page), "plain", "a text original stays plain");
    let (status, page) = body_of!(&svc, s.get(&format!("/compose?reply={inbox}/{uid}")));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(mode(&page), "rich");
    let quoted = input(&page, "html");
    assert!(
        quoted.contains("wrote:</div><blockquote><p>Soup <b>today</b></p>"),
        "{quoted}"
    );
    assert!(!quoted.contains("t.example"), "no remote image: {quoted}");
    // Saved as a draft in rich mode: the HTML is kept and the draft reopens rich.
    let mine = format!("<div>Yes <u>please</u></div>{quoted}");
    let body = form_of(&page, "save", &[("mode", "rich"), ("html", &mine)]);
    let (status, saved) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::OK, "{saved}");
    let draft = input(&saved, "draft");
    let drafts = contents(&w, "alice@example.com", "Drafts").await;
    assert_eq!(drafts.len(), 1);
    let d = parse(&drafts[0].2);
    assert!(d.body_html(0).unwrap().contains("Yes <u>please</u>"));
    assert!(d.body_text(0).unwrap().starts_with("Yes please\r\n"));
    let (_, reopened) = body_of!(&svc, s.get(&format!("/compose?draft={draft}")));
    assert_eq!(mode(&reopened), "rich");
    assert!(
        input(&reopened, "html").starts_with("<div>Yes <u>please</u></div>"),
        "{reopened}"
    );
}

#[actix_web::test]
async fn the_plain_or_rich_choice_is_remembered() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let choose = |m: &str| format!("csrf={}&action=mode&mode={m}", s.csrf);
    let res = test::call_service(&svc, s.post("/compose", &choose("rich")).to_request()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(mode(&page), "rich");
    // A new rich compose starts from the text (empty here) as editor lines.
    assert_eq!(input(&page, "html"), "<div><br></div>");
    // The choice needs the CSRF token like every change.
    let forged = "action=mode&mode=plain";
    let res = test::call_service(&svc, s.post("/compose", forged).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(mode(&page), "rich");
    let res = test::call_service(&svc, s.post("/compose", &choose("plain")).to_request()).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(mode(&page), "plain");
}
