//! Compose through actix-web's test service on the `https` listener's application, with
//! the queue actors running so a sent message is delivered for real: reply headers and
//! \Answered, forward as attachment and `$Forwarded`, the copy in Sent, the From: check,
//! REQUIRETLS on the queue record, the size cap, CSRF, drafts replaced, chunked uploads.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use mail_parser::{MessageParser, MimeHeaders};

use super::test_support::{backend, deliver, folder, service};
use crate::actors::queues::QueueAddrs;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD, T0};
use crate::protocols::imap::backend::{flag_bits, Backend};

/// A world whose queue actors run (local delivery included).
pub(super) fn world_with_queues(extra: &str) -> World {
    let w = world(extra);
    w.ctx.set_queues(QueueAddrs::start(&w.ctx));
    w
}

/// The messages of `owner`'s folder `name` (none when it does not exist yet).
pub(super) async fn contents(
    w: &World,
    owner: &str,
    name: &str,
) -> Vec<(u8, Vec<String>, Vec<u8>)> {
    let (owner, name) = (owner.to_string(), name.to_string());
    backend(w, move |b| {
        let Some(f) = b.find_folder(&owner, &name).unwrap() else {
            return Vec::new();
        };
        b.messages(f.id)
            .unwrap()
            .into_iter()
            .map(|m| (m.flags, m.keywords, b.message_content(f.id, m.uid).unwrap()))
            .collect()
    })
    .await
}

/// Waits (bounded) until `owner`'s INBOX holds `n` messages; its messages.
pub(super) async fn inbox_of(w: &World, owner: &str, n: usize) -> Vec<Vec<u8>> {
    for _ in 0..400 {
        let got = contents(w, owner, "INBOX").await;
        if got.len() >= n {
            return got.into_iter().map(|(_, _, c)| c).collect();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{owner}'s INBOX never held {n} messages");
}

pub(super) struct Session {
    pub(super) cookie: String,
    pub(super) csrf: String,
}

impl Session {
    pub(super) fn get(&self, uri: &str) -> TestRequest {
        TestRequest::get()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
    }

    pub(super) fn post(&self, uri: &str, body: &str) -> TestRequest {
        TestRequest::post()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::CONTENT_TYPE, "application/x-www-form-urlencoded"))
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
            .set_payload(body.to_string())
    }

    pub(super) fn put(&self, uri: &str, body: Vec<u8>) -> TestRequest {
        TestRequest::put()
            .uri(uri)
            .peer_addr(peer())
            .insert_header((header::COOKIE, format!("fm_session={}", self.cookie)))
            .insert_header(("X-CSRF-Token", self.csrf.clone()))
            .set_payload(body)
    }
}

pub(super) fn location<B>(res: &actix_web::dev::ServiceResponse<B>) -> String {
    res.headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The value of the form input `name` on `page` (attributes as compose.html writes them).
pub(super) fn input(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name}: {page}"));
    let rest = &page[at..];
    let v = rest.split("value=\"").nth(1).expect("a value");
    html_unescape(v.split('"').next().unwrap())
}

pub(super) fn textarea(page: &str) -> String {
    let start = page.find("name=\"body\"").expect("the body");
    let rest = &page[start..];
    let inner = &rest[rest.find('>').unwrap() + 1..rest.find("</textarea>").unwrap()];
    // A browser drops one newline right after <textarea> (HTML's parsing rules); the
    // template writes one there so a body that starts with blank lines keeps them.
    html_unescape(inner.strip_prefix('\n').unwrap_or(inner))
}

pub(super) fn html_unescape(s: &str) -> String {
    s.replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"")
        .replace("&#38;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

pub(super) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

macro_rules! body_of {
    ($svc:expr, $req:expr) => {{
        let res = test::call_service($svc, $req.to_request()).await;
        let status = res.status();
        let bytes = test::read_body(res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }};
}

pub(super) use body_of;

macro_rules! log_in {
    ($svc:expr, $address:expr) => {{
        let body = format!(
            "address={}&password={}",
            $address,
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
        let mut s = Session {
            cookie,
            csrf: String::new(),
        };
        let (status, page) = body_of!($svc, s.get("/compose"));
        assert_eq!(status, StatusCode::OK, "{page}");
        s.csrf = input(&page, "csrf");
        s
    }};
}
pub(super) use log_in;

/// The post of the form on `page` with `action`, `changes` replacing its fields.
pub(super) fn form_of(page: &str, action: &str, changes: &[(&str, &str)]) -> String {
    let mut fields: Vec<(String, String)> = [
        "csrf",
        "cid",
        "in_reply_to",
        "references",
        "origin",
        "draft",
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
    ]
    .iter()
    .map(|n| (n.to_string(), input(page, n)))
    .collect();
    fields.push(("body".into(), textarea(page)));
    for (k, v) in changes {
        match fields.iter_mut().find(|(n, _)| n == k) {
            Some(f) => f.1 = v.to_string(),
            None => fields.push((k.to_string(), v.to_string())),
        }
    }
    fields.push(("action".into(), action.into()));
    fields
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(super) fn parse(raw: &[u8]) -> mail_parser::Message<'_> {
    MessageParser::new().parse(raw).expect("a message")
}

#[actix_web::test]
async fn a_reply_threads_is_delivered_marks_the_original_and_is_filed_in_sent() {
    let w = world_with_queues("");
    let svc = service!(w);
    let (inbox, uid) = deliver(
        &w,
        "alice@example.com",
        "From: Root <root@example.com>\nTo: alice@example.com, dom@example.com\nSubject: Re: Lunch\nMessage-ID: <m1@example.com>\nReferences: <m0@example.com>\n\nFriday?\n",
    )
    .await;
    let s = log_in!(&svc, "alice@example.com");
    let (status, page) = body_of!(&svc, s.get(&format!("/compose?reply={inbox}/{uid}")));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(input(&page, "to"), "Root <root@example.com>");
    assert_eq!(input(&page, "cc"), "");
    assert_eq!(input(&page, "subject"), "Re: Lunch", "Re: once");
    assert_eq!(input(&page, "in_reply_to"), "<m1@example.com>");
    assert!(textarea(&page).contains("> Friday?"), "{page}");
    // Reply all: the other recipient too, never oneself.
    let (_, all) = body_of!(&svc, s.get(&format!("/compose?replyall={inbox}/{uid}")));
    assert_eq!(
        input(&all, "to"),
        "Root <root@example.com>, dom@example.com"
    );
    let body = form_of(&page, "send", &[("body", "Yes, Friday.\n\n> Friday?")]);
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(location(&res), "/compose?sent=1");
    let got = inbox_of(&w, "root@example.com", 1).await;
    let m = parse(&got[0]);
    assert_eq!(m.subject(), Some("Re: Lunch"));
    assert_eq!(m.in_reply_to().as_text(), Some("m1@example.com"));
    assert_eq!(
        m.references().as_text_list().unwrap(),
        ["m0@example.com", "m1@example.com"]
    );
    assert_eq!(
        m.from().unwrap().first().unwrap().address(),
        Some("alice@example.com")
    );
    assert!(m.body_text(0).unwrap().starts_with("Yes, Friday."));
    // Through the submission pipeline: our Received field, as an authenticated client's.
    let text = String::from_utf8_lossy(&got[0]);
    assert!(text.starts_with("Received: from webmail"), "{text}");
    // The original answered, a copy in Sent, the recipient remembered.
    let flags = backend(&w, move |b| {
        b.message_meta(inbox, uid).unwrap().unwrap().flags
    })
    .await;
    assert_ne!(flags & flag_bits::ANSWERED, 0);
    let sent = contents(&w, "alice@example.com", "Sent").await;
    assert_eq!(sent.len(), 1);
    assert_ne!(sent[0].0 & flag_bits::SEEN, 0);
    assert_eq!(parse(&sent[0].2).subject(), Some("Re: Lunch"));
    let (_, fresh) = body_of!(&svc, s.get("/compose?sent=1"));
    assert!(fresh.contains("Your message was sent."), "{fresh}");
    assert!(
        fresh.contains("<option value=\"root@example.com\">"),
        "{fresh}"
    );
}

#[actix_web::test]
async fn forwards_carry_the_original_inline_or_whole() {
    let w = world_with_queues("");
    let svc = service!(w);
    let original = "From: root@example.com\nSubject: Report\nMessage-ID: <r@example.com>\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=x.pdf\n\nPDF\n--b--\n";
    let (inbox, uid) = deliver(&w, "alice@example.com", original).await;
    let s = log_in!(&svc, "alice@example.com");
    // Inline: the text quoted, the attachment carried over.
    let (_, inline) = body_of!(&svc, s.get(&format!("/compose?forward={inbox}/{uid}")));
    assert_eq!(input(&inline, "subject"), "Fwd: Report");
    assert!(textarea(&inline).contains("see attached"), "{inline}");
    assert!(inline.contains(">x.pdf<"), "{inline}");
    // As an attachment: the original whole, message/rfc822.
    let (_, page) = body_of!(
        &svc,
        s.get(&format!("/compose?forward={inbox}/{uid}&as=attachment"))
    );
    assert!(page.contains(">Report.eml<"), "{page}");
    let body = form_of(&page, "send", &[("to", "dom@example.com")]);
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(location(&res), "/compose?sent=1");
    let got = inbox_of(&w, "dom@example.com", 1).await;
    let m = parse(&got[0]);
    assert_eq!(m.subject(), Some("Fwd: Report"));
    let part = m.attachments().next().expect("the forwarded message");
    assert!(part.is_content_type("message", "rfc822"));
    let inner = part.message().expect("parsed as a message");
    assert_eq!(inner.subject(), Some("Report"));
    assert_eq!(inner.message_id(), Some("r@example.com"));
    assert_eq!(
        inner.attachments().next().unwrap().contents(),
        b"PDF",
        "the original's own attachment inside"
    );
    let keywords = backend(&w, move |b| {
        b.message_meta(inbox, uid).unwrap().unwrap().keywords
    })
    .await;
    assert_eq!(keywords, ["$Forwarded"]);
}

#[actix_web::test]
async fn a_from_address_the_account_does_not_own_is_refused_and_the_form_kept() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(input(&page, "from"), "alice@example.com");
    let body = form_of(
        &page,
        "send",
        &[
            ("from", "Root <root@example.com>"),
            ("to", "dom@example.com"),
            ("subject", "pay this"),
            ("body", "a long text typed with care"),
        ],
    );
    let (status, again) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.contains("id=\"compose-error\""), "{again}");
    assert!(
        again.contains("you may not send as root@example.com"),
        "{again}"
    );
    assert_eq!(textarea(&again), "a long text typed with care");
    assert_eq!(input(&again, "subject"), "pay this");
    // A bad address is refused the same way; nothing was queued for anyone.
    let body = form_of(&page, "send", &[("to", "not an address")]);
    let (status, again) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.contains("is not an email address"), "{again}");
    assert!(contents(&w, "dom@example.com", "INBOX").await.is_empty());
    assert!(contents(&w, "alice@example.com", "Sent").await.is_empty());
}

#[test]
fn send_securely_puts_requiretls_on_the_queue_record() {
    use crate::delivery::accept::{queue_record, StoredBody};
    use crate::protocols::smtp::PeerInfo;
    use crate::storage::{BlobId, QueueId};
    let peer = PeerInfo {
        ip: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
        session_id: "s".into(),
    };
    for on in [true, false] {
        let env = super::compose_send::envelope(
            "alice@example.com",
            "alice@example.com",
            &["bob@remote.test".to_string()],
            b"Subject: x\r\n\r\nx\r\n".to_vec(),
            on,
            true,
            peer.clone(),
        );
        assert_eq!(env.auth_as.as_deref(), Some("alice@example.com"));
        let stored = StoredBody {
            id: QueueId::default(),
            blob: BlobId([0; 32]),
            size: 1,
        };
        let record = queue_record(&env, stored, None, true, T0);
        assert_eq!(record.params.requiretls, on);
    }
    // The checkbox is what sets it.
    let form = super::compose_form::Form::parse(b"requiretls=1&to=a%40b.test");
    assert!(form.requiretls);
    assert!(!super::compose_form::Form::parse(b"to=a%40b.test").requiretls);
}

#[actix_web::test]
async fn uploads_are_chunked_capped_and_csrf_checked_and_arrive_byte_for_byte() {
    let w = world_with_queues("[smtp]\nmax_message_size = 300000\n");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    let cid = input(&page, "cid");
    let data: Vec<u8> = (0..150_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let url = |offset: usize| {
        format!(
            "/compose/{cid}/upload/0?name=data.bin&type=application/octet-stream&offset={offset}"
        )
    };
    // No CSRF header: refused.
    let req = TestRequest::put()
        .uri(&url(0))
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={}", s.cookie)))
        .set_payload(data[..1000].to_vec());
    assert_eq!(
        test::call_service(&svc, req.to_request()).await.status(),
        StatusCode::FORBIDDEN
    );
    // Two chunks; a repeated one is refused, not appended twice.
    let res = test::call_service(&svc, s.put(&url(0), data[..100_000].to_vec()).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = test::call_service(&svc, s.put(&url(0), data[..100_000].to_vec()).to_request()).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let res = test::call_service(
        &svc,
        s.put(&url(100_000), data[100_000..].to_vec()).to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    // Past the cap: 413, with the limit named.
    let big = format!("/compose/{cid}/upload/1?name=big&offset=0");
    let (status, text) = body_of!(&svc, s.put(&big, vec![0u8; 200_000]));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(text.contains("limited to"), "{text}");
    // The form without CSRF is refused too.
    let body = form_of(&page, "send", &[("to", "alice@example.com"), ("csrf", "")]);
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Sent to oneself; the reader gives the same bytes back.
    let body = form_of(
        &page,
        "send",
        &[("to", "alice@example.com"), ("subject", "file")],
    );
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(location(&res), "/compose?sent=1");
    inbox_of(&w, "alice@example.com", 1).await;
    let inbox = folder(&w, "alice@example.com", "INBOX").await;
    let res =
        test::call_service(&svc, s.get(&format!("/mail/{inbox}/1/part/0")).to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(test::read_body(res).await.to_vec(), data);
    // The uploads went with the send.
    let dir =
        super::uploads::dir(&web::Data::new(w.ctx.clone()), "alice@example.com", &cid).unwrap();
    assert!(!dir.exists());
    // A message over the cap, typed: the error on the form, the text kept.
    let long = "x".repeat(310_000);
    let body = form_of(
        &page,
        "send",
        &[("to", "alice@example.com"), ("body", &long)],
    );
    // (A form this large carries its token in the header, as compose.js sends it: the
    // CSRF middleware reads only forms within the default payload limit.)
    let req = s
        .post("/compose", &body)
        .insert_header(("X-CSRF-Token", s.csrf.clone()));
    let (status, again) = body_of!(&svc, req);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.contains("id=\"compose-error\""), "{again}");
    assert!(again.contains("over this server"), "{again}");
    assert_eq!(textarea(&again).len(), long.len());
}

#[actix_web::test]
async fn a_draft_is_replaced_not_duplicated_reopened_and_gone_once_sent() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    let body = form_of(
        &page,
        "save",
        &[
            ("to", "dom@example.com"),
            ("bcc", "root@example.com"),
            ("subject", "plan"),
            ("body", "first"),
        ],
    );
    let (status, saved) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert!(saved.contains("Draft saved."), "{saved}");
    let first = input(&saved, "draft");
    assert!(!first.is_empty());
    // The script's save: JSON, the previous draft replaced.
    let body = form_of(&saved, "save", &[("body", "second"), ("ajax", "1")]);
    let (status, json) = body_of!(&svc, s.post("/compose", &body));
    assert_eq!(status, StatusCode::OK, "{json}");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let second = v["draft"].as_str().unwrap().to_string();
    assert_ne!(second, first);
    let drafts = contents(&w, "alice@example.com", "Drafts").await;
    assert_eq!(drafts.len(), 1, "one draft, not two");
    assert_ne!(drafts[0].0 & flag_bits::DRAFT, 0);
    let m = parse(&drafts[0].2);
    assert_eq!(m.body_text(0).as_deref(), Some("second"));
    // Reopened: every field back, Bcc included.
    let (_, reopened) = body_of!(&svc, s.get(&format!("/compose?draft={second}")));
    assert_eq!(input(&reopened, "to"), "dom@example.com");
    assert_eq!(input(&reopened, "bcc"), "root@example.com");
    assert_eq!(input(&reopened, "subject"), "plan");
    assert_eq!(input(&reopened, "draft"), second);
    assert_eq!(textarea(&reopened), "second");
    // Another account's "draft" cannot be reopened.
    let (inbox, uid) = deliver(&w, "root@example.com", "Subject: not yours\n\nx\n").await;
    let (status, _) = body_of!(&svc, s.get(&format!("/compose?draft={inbox}/{uid}")));
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Sent: the draft goes; Bcc reached root but is not in the delivered header.
    let body = form_of(&reopened, "send", &[]);
    let res = test::call_service(&svc, s.post("/compose", &body).to_request()).await;
    assert_eq!(location(&res), "/compose?sent=1");
    let got = inbox_of(&w, "root@example.com", 2).await;
    assert!(got
        .iter()
        .any(|g| parse(g).subject() == Some("plan") && parse(g).bcc().is_none()));
    assert!(contents(&w, "alice@example.com", "Drafts").await.is_empty());
    let _ = Arc::clone(&w.ctx);
}

#[actix_web::test]
async fn attachments_are_removed_one_by_one_and_discard_drops_draft_and_uploads() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    let cid = input(&page, "cid");
    for n in 0..3 {
        let url = format!("/compose/{cid}/upload/{n}?name=f{n}.txt&type=text/plain&offset=0");
        let res = test::call_service(&svc, s.put(&url, b"abc".to_vec()).to_request()).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // The script's DELETE, and the form's remove-N without a script.
    let req = TestRequest::delete()
        .uri(&format!("/compose/{cid}/upload/0"))
        .peer_addr(peer())
        .insert_header((header::COOKIE, format!("fm_session={}", s.cookie)))
        .insert_header(("X-CSRF-Token", s.csrf.clone()));
    assert_eq!(
        test::call_service(&svc, req.to_request()).await.status(),
        StatusCode::NO_CONTENT
    );
    let (status, after) = body_of!(&svc, s.post("/compose", &form_of(&page, "remove-1", &[])));
    assert_eq!(status, StatusCode::OK, "{after}");
    assert!(
        !after.contains(">f0.txt<") && !after.contains(">f1.txt<"),
        "{after}"
    );
    assert!(after.contains(">f2.txt<"), "{after}");
    // Saved, then discarded: no draft, no uploads.
    let (_, saved) = body_of!(
        &svc,
        s.post("/compose", &form_of(&after, "save", &[("subject", "gone")]))
    );
    assert_eq!(contents(&w, "alice@example.com", "Drafts").await.len(), 1);
    let res = test::call_service(
        &svc,
        s.post("/compose", &form_of(&saved, "discard", &[]))
            .to_request(),
    )
    .await;
    assert_eq!(location(&res), "/mail");
    assert!(contents(&w, "alice@example.com", "Drafts").await.is_empty());
    let dir =
        super::uploads::dir(&web::Data::new(w.ctx.clone()), "alice@example.com", &cid).unwrap();
    assert!(!dir.exists());
}

#[actix_web::test]
async fn a_new_message_starts_with_the_signature_from_settings_once() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    // No signature set: the body starts empty.
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(textarea(&page), "", "{page}");
    backend(&w, |b| {
        let p = crate::http::webmail::prefs::Prefs {
            display_name: "Alice Liddell".into(),
            signature: "-- \n$NAME$ <$EMAIL$>".into(),
            time_zone: String::new(),
        };
        crate::http::webmail::prefs::save(b, "alice@example.com", p).unwrap();
    })
    .await;
    let (status, page) = body_of!(&svc, s.get("/compose"));
    assert_eq!(status, StatusCode::OK, "{page}");
    // Macros expanded, the "-- " separator once although the user typed it.
    assert_eq!(
        textarea(&page),
        "\n\n-- \nAlice Liddell <alice@example.com>",
        "{page}"
    );
}
