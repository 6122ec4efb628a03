//! The reader's safety features and categories through actix-web's test service (the real
//! routes and middleware): remote images blocked, allowed for a message and for a sender
//! (persisted in the store), links showing another host flagged, inline images not listed
//! again as attachments, bodies in other charsets, and categories set from the reader and
//! seen by an IMAP session (FETCH FLAGS, FLAGS, PERMANENTFLAGS).

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::images::{FRAME_CSP_IMAGES, PREFIX};
use super::reader::FRAME_CSP;
use super::test_support::{backend, service};
use crate::actors::imap_backend::StoreBackend;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::protocols::imap::backend::{Backend, FolderRef, NewMessage};
use crate::protocols::imap::session::{Action, Session, SessionConfig};

/// Appends `raw` (LF line ends) to alice's INBOX through its folder actor.
async fn deliver(w: &World, raw: &str) -> (FolderRef, u32) {
    let raw = raw.replace('\n', "\r\n").into_bytes();
    backend(w, move |b| {
        let inbox = b
            .find_folder("alice@example.com", "INBOX")
            .unwrap()
            .unwrap()
            .id;
        let m = NewMessage {
            flags: 0,
            keywords: Vec::new(),
            internal_date: T0,
            content: raw,
        };
        (inbox, b.append(inbox, vec![m]).unwrap()[0])
    })
    .await
}

struct Web {
    cookie: String,
    csrf: String,
}

impl Web {
    fn get(&self, uri: &str) -> TestRequest {
        TestRequest::get()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
    }

    /// A form post with the CSRF token added.
    fn post(&self, uri: &str, body: &str) -> TestRequest {
        TestRequest::post()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
            .set_payload(format!("csrf={}&{body}", self.csrf))
    }
}

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

/// alice logged in, with the CSRF token of a page.
macro_rules! alice {
    ($svc:expr) => {{
        let body = format!(
            "address=alice@example.com&password={}",
            PASSWORD.replace(' ', "+")
        );
        let req = TestRequest::post()
            .uri("/login")
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .set_payload(body);
        let res = test::call_service($svc, req.to_request()).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let (cookie, _) = session_cookie(&res).expect("a session cookie");
        let mut s = Web {
            cookie,
            csrf: String::new(),
        };
        let res = test::call_service($svc, s.get("/mail").to_request()).await;
        let inbox = res
            .headers()
            .get(header::LOCATION)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let (_, page) = body_of!($svc, s.get(&inbox));
        s.csrf = page
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .expect("a CSRF field")
            .to_string();
        s
    }};
}

/// The frame's CSP and document.
macro_rules! frame {
    ($svc:expr, $s:expr, $uri:expr) => {{
        let res = test::call_service($svc, $s.get($uri).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
        let csp = res
            .headers()
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let doc = String::from_utf8_lossy(&test::read_body(res).await).into_owned();
        (csp, doc)
    }};
}

const NEWSLETTER: &str = "From: News <news@shop.example>\nTo: alice@example.com\n\
Subject: Offers\nContent-Type: text/html; charset=utf-8\n\n\
<p>Hi</p><img src=\"https://img.shop.example/banner.png\" alt=\"banner\">\
<img src=\"https://tracker.example/p.gif\">\
<a href=\"https://evil.test/login\">https://bank.example/login</a>\
<a href=\"https://shop.example/sale\">shop.example</a>\n";

#[actix_web::test]
async fn remote_images_wait_for_the_user_per_message_or_sender() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, NEWSLETTER).await;
    let other = NEWSLETTER.replace("news@shop.example", "spam@elsewhere.example");
    let (_, uid_other) = deliver(&w, &other).await;
    let s = alice!(&svc);
    let page_uri = format!("/mail/{inbox}/{uid}");
    let frame_uri = format!("{page_uri}/html");

    // Blocked: the notice counts both, the frame has neither, its CSP no remote images.
    let (status, page) = body_of!(&svc, s.get(&page_uri));
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("2 remote images blocked"), "{page}");
    assert!(
        page.contains(&format!("href=\"{page_uri}?images=1\"")),
        "{page}"
    );
    assert!(page.contains("Always for news@shop.example"), "{page}");
    assert!(page.contains(&format!("src=\"{frame_uri}\"")), "{page}");
    let (csp, doc) = frame!(&svc, s, &frame_uri);
    assert_eq!(csp, FRAME_CSP);
    assert!(
        !doc.contains("img.shop.example") && !doc.contains("tracker.example"),
        "{doc}"
    );

    // For this message only: page and frame with ?images=1.
    let (_, page) = body_of!(&svc, s.get(&format!("{page_uri}?images=1")));
    assert!(!page.contains("images-blocked"), "{page}");
    assert!(
        page.contains(&format!("src=\"{frame_uri}?images=1\"")),
        "{page}"
    );
    let (csp, doc) = frame!(&svc, s, &format!("{frame_uri}?images=1"));
    assert_eq!(csp, FRAME_CSP_IMAGES);
    assert!(csp.contains("img-src data: https:") && !csp.contains("script"));
    assert!(
        doc.contains("src=\"https://img.shop.example/banner.png\""),
        "{doc}"
    );
    // ... and not for the frame without it.
    let (csp, _) = frame!(&svc, s, &frame_uri);
    assert_eq!(csp, FRAME_CSP);

    // Always for the sender: needs the CSRF token, then stored in the account's metadata.
    let req = TestRequest::post()
        .uri(&format!("{page_uri}/images"))
        .peer_addr(peer())
        .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
        .insert_header((header::COOKIE, format!("fm_session={}", s.cookie)))
        .set_payload("sender=allow");
    let res = test::call_service(&svc, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(
        &svc,
        s.post(&format!("{page_uri}/images"), "sender=allow")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let entries = backend(&w, |b| b.metadata(None, "alice@example.com").unwrap()).await;
    assert_eq!(
        entries,
        [(format!("{PREFIX}news@shop.example"), b"1".to_vec())]
    );
    let (_, page) = body_of!(&svc, s.get(&page_uri));
    assert!(!page.contains("images-blocked"), "{page}");
    assert!(
        page.contains("Remote images from news@shop.example are shown"),
        "{page}"
    );
    let (csp, doc) = frame!(&svc, s, &frame_uri);
    assert_eq!(csp, FRAME_CSP_IMAGES);
    assert!(
        doc.contains("src=\"https://tracker.example/p.gif\""),
        "{doc}"
    );
    // Another sender's message stays blocked.
    let (csp, _) = frame!(&svc, s, &format!("/mail/{inbox}/{uid_other}/html"));
    assert_eq!(csp, FRAME_CSP);
    // The list is alice's own: another account's is untouched.
    let roots = backend(&w, |b| b.metadata(None, "root@example.com").unwrap()).await;
    assert!(roots.is_empty(), "{roots:?}");

    // Forgotten: blocked again.
    let res = test::call_service(
        &svc,
        s.post(&format!("{page_uri}/images"), "sender=forget")
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (csp, _) = frame!(&svc, s, &frame_uri);
    assert_eq!(csp, FRAME_CSP);
    let entries = backend(&w, |b| b.metadata(None, "alice@example.com").unwrap()).await;
    assert!(entries.is_empty(), "{entries:?}");
}

#[actix_web::test]
async fn links_showing_another_host_are_flagged() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, NEWSLETTER).await;
    let s = alice!(&svc);
    let (_, page) = body_of!(&svc, s.get(&format!("/mail/{inbox}/{uid}")));
    assert!(page.contains("id=\"link-warnings\""), "{page}");
    assert!(
        page.contains("<span class=\"shown\">https://bank.example/login</span> goes to <strong>evil.test</strong>"),
        "{page}"
    );
    // The honest link is not listed.
    assert_eq!(page.matches("goes to <strong>").count(), 1, "{page}");
    let (_, doc) = frame!(&svc, s, &format!("/mail/{inbox}/{uid}/html"));
    assert!(doc.contains("class=\"fm-suspicious\""), "{doc}");
    assert!(doc.contains("[\u{26a0} goes to evil.test]"), "{doc}");
    assert_eq!(
        doc.matches("rel=\"noopener noreferrer\"").count(),
        2,
        "{doc}"
    );
    assert_eq!(doc.matches("target=\"_blank\"").count(), 2, "{doc}");
}

const RELATED: &str = "From: bob@example.com\nSubject: Pictures\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=m\n\n\
--m\nContent-Type: multipart/related; boundary=r\n\n\
--r\nContent-Type: text/html; charset=utf-8\n\n<p>Logo: <img src=\"cid:logo@x\"></p>\n\
--r\nContent-Type: image/png\nContent-ID: <logo@x>\nContent-Transfer-Encoding: base64\n\n\
iVBORw0KGgo=\n\
--r\nContent-Type: image/png\nContent-ID: <unused@x>\nContent-Disposition: inline; filename=\"unused.png\"\n\
Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\n--r--\n\
--m\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=\"report.pdf\"\n\
Content-Transfer-Encoding: base64\n\nJVBERg==\n--m--\n";

#[actix_web::test]
async fn inline_images_shown_in_the_html_are_not_attachments() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, RELATED).await;
    let s = alice!(&svc);
    let (_, page) = body_of!(&svc, s.get(&format!("/mail/{inbox}/{uid}")));
    // Parts: 0 the shown logo (not listed), 1 the unused image, 2 the PDF.
    assert!(!page.contains("/part/0\""), "{page}");
    assert!(page.contains("/part/1\" download>unused.png</a>"), "{page}");
    assert!(page.contains("/part/2\" download>report.pdf</a>"), "{page}");
    let res = test::call_service(
        &svc,
        s.get(&format!("/mail/{inbox}/{uid}/part/2")).to_request(),
    )
    .await;
    assert_eq!(test::read_body(res).await.as_ref(), b"%PDF");
    let (_, doc) = frame!(&svc, s, &format!("/mail/{inbox}/{uid}/html"));
    assert!(
        doc.contains("src=\"data:image/png;base64,iVBORw0KGgo=\""),
        "{doc}"
    );
}

#[actix_web::test]
async fn bodies_in_other_charsets_are_shown_decoded() {
    let w = world("");
    let svc = service!(w);
    let s = alice!(&svc);
    let cases = [
        (
            "ISO-8859-1",
            "Caf=E9 cr=E8me br=FBl=E9e",
            "Café crème brûlée",
        ),
        ("KOI8-R", "=F0=D2=C9=D7=C5=D4", "Привет"),
        ("Shift_JIS", "=93=FA=96=7B=8C=EA", "日本語"),
        (
            "windows-1252",
            "=93quoted=94 =80",
            "\u{201c}quoted\u{201d} €",
        ),
    ];
    for (charset, qp, want) in cases {
        for html in [false, true] {
            let ct = if html { "text/html" } else { "text/plain" };
            let raw = format!(
                "From: bob@example.com\nSubject: {charset}\nMIME-Version: 1.0\n\
                 Content-Type: {ct}; charset={charset}\nContent-Transfer-Encoding: quoted-printable\n\n\
                 {qp}\n"
            );
            let (inbox, uid) = deliver(&w, &raw).await;
            let uri = if html {
                format!("/mail/{inbox}/{uid}/html")
            } else {
                format!("/mail/{inbox}/{uid}")
            };
            let (status, body) = body_of!(&svc, s.get(&uri));
            assert_eq!(status, StatusCode::OK);
            assert!(body.contains(want), "{charset} {ct}: {body}");
        }
    }
}

/// An IMAP session of alice's on the same store, logged in.
fn imap(b: &StoreBackend) -> Session {
    let mut s = Session::new(
        SessionConfig {
            hostname: "h".into(),
            starttls_available: false,
            allow_plaintext: true,
            append_limit: 1 << 20,
            unauthenticate: false,
            max_line: 8192,
        },
        false,
    );
    s.greeting();
    let acts = s.receive(b"l LOGIN alice x\r\n", b);
    assert!(
        matches!(acts[..], [Action::Authenticate { .. }]),
        "{acts:?}"
    );
    s.resume_auth(Some("alice@example.com".into()), b);
    s
}

fn sent(actions: &[Action]) -> String {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

#[actix_web::test]
async fn categories_are_imap_keywords() {
    let w = world("");
    let svc = service!(w);
    let (inbox, uid) = deliver(&w, "From: bob@example.com\nSubject: Plan\n\nhi\n").await;
    let s = alice!(&svc);
    let uri = format!("/mail/{inbox}/{uid}/categories");
    for name in ["$label1", "Work"] {
        let res = test::call_service(
            &svc,
            s.post(&uri, &format!("op=add&name={}", name.replace('$', "%24")))
                .to_request(),
        )
        .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{name}");
    }
    // Not an atom: refused, nothing changed.
    let (status, _) = body_of!(&svc, s.post(&uri, "op=add&name=two+words"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = body_of!(&svc, s.post(&uri, "op=add&name=%5CSeen"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // The reader shows them as chips, each with its remove button.
    let (_, page) = body_of!(&svc, s.get(&format!("/mail/{inbox}/{uid}")));
    assert!(
        page.contains("<span class=\"chip-name\">$label1</span>"),
        "{page}"
    );
    assert!(
        page.contains("aria-label=\"Remove category Work\""),
        "{page}"
    );
    // The list too.
    let (_, list) = body_of!(&svc, s.get(&format!("/mail/{inbox}")));
    assert!(
        list.contains("<span class=\"chip\">$label1</span>"),
        "{list}"
    );

    // IMAP sees them.
    let out = backend(&w, move |b| {
        let mut session = imap(b);
        let mut out = sent(&session.receive(b"s SELECT INBOX\r\n", b));
        out += &sent(&session.receive(format!("f UID FETCH {uid} FLAGS\r\n").as_bytes(), b));
        out
    })
    .await;
    assert!(out.contains("$label1") && out.contains("Work"), "{out}");
    let fetch = out
        .lines()
        .find(|l| l.contains("FETCH ("))
        .unwrap_or_default();
    assert!(fetch.contains("$label1") && fetch.contains("Work"), "{out}");
    let flags = out
        .lines()
        .find(|l| l.starts_with("* FLAGS"))
        .unwrap_or_default();
    assert!(flags.contains("$label1"), "{out}");
    let permanent = out
        .lines()
        .find(|l| l.contains("PERMANENTFLAGS"))
        .unwrap_or_default();
    assert!(
        permanent.contains("$label1") || permanent.contains("\\*"),
        "{out}"
    );

    // Removed from the reader: gone for IMAP too.
    let res = test::call_service(&svc, s.post(&uri, "op=remove&name=Work").to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let keywords = backend(&w, move |b| {
        b.message_meta(inbox, uid).unwrap().unwrap().keywords
    })
    .await;
    assert_eq!(keywords, ["$label1"]);
}
