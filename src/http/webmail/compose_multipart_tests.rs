//! The compose form without JavaScript: posted as `multipart/form-data` with a file input,
//! the CSRF token read from the form's first part, a 5 MiB file arriving byte for byte, the
//! size cap answered with the form and a clear error.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};
use mail_parser::MimeHeaders;

use super::compose_tests::{
    body_of, inbox_of, input, location, log_in, parse, world_with_queues, Session,
};
use super::test_support::service;
use crate::http::tests::{peer, session_cookie, PASSWORD};

const BOUNDARY: &str = "----formBoundary7MA4YWxkTrZu0gW";

/// A multipart body of `fields` then one file part `attach` (when given).
fn multipart(fields: &[(&str, &str)], file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        out.extend(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"attach\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .bytes(),
        );
        out.extend_from_slice(bytes);
        out.extend(b"\r\n");
    }
    out.extend(format!("--{BOUNDARY}--\r\n").bytes());
    out
}

fn post(s: &Session, body: Vec<u8>) -> TestRequest {
    TestRequest::post()
        .uri("/compose")
        .peer_addr(peer())
        .insert_header((
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ))
        .insert_header((header::COOKIE, format!("fm_session={}", s.cookie)))
        .set_payload(body)
}

#[actix_web::test]
async fn a_form_without_script_sends_a_5_mib_file_byte_for_byte() {
    let w = world_with_queues("");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    assert!(page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(page.contains("name=\"attach\" type=\"file\""), "{page}");
    let cid = input(&page, "cid");
    let data: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let fields = |csrf: &str| {
        multipart(
            &[
                ("csrf", csrf),
                ("cid", &cid),
                ("from", "alice@example.com"),
                ("to", "root@example.com"),
                ("subject", "Big one"),
                ("body", "see attached"),
                ("action", "send"),
            ],
            Some(("big.bin", &data)),
        )
    };
    // The token is read from the form's first part: without it or wrong, refused.
    let res = test::call_service(&svc, post(&s, fields("")).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(&svc, post(&s, fields("0000")).to_request()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = test::call_service(&svc, post(&s, fields(&s.csrf)).to_request()).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&res), "/compose?sent=1");
    let got = inbox_of(&w, "root@example.com", 1).await;
    let m = parse(&got[0]);
    assert_eq!(m.subject(), Some("Big one"));
    let att = m.attachments().next().expect("an attachment");
    assert_eq!(att.attachment_name(), Some("big.bin"));
    assert!(att.contents() == data.as_slice(), "the attachment differs");
}

#[actix_web::test]
async fn files_over_the_size_limit_are_refused_with_the_form_kept() {
    let w = world_with_queues("[smtp]\nmax_message_size = 300000\n");
    let svc = service!(w);
    let s = log_in!(&svc, "alice@example.com");
    let (_, page) = body_of!(&svc, s.get("/compose"));
    let cid = input(&page, "cid");
    let form = |action: &'static str| {
        vec![
            ("csrf", s.csrf.clone()),
            ("cid", cid.clone()),
            ("subject", "Kept subject".to_string()),
            ("action", action.to_string()),
        ]
    };
    let with = |action, file: Option<(&str, &[u8])>| {
        let f = form(action);
        let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        multipart(&f, file)
    };
    // At the limit: stored, the form shows it; nothing chosen (an empty file name): skipped.
    let small = vec![7u8; 300_000];
    let (status, page) = body_of!(&svc, post(&s, with("attach", Some(("a.bin", &small)))));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("a.bin"), "{page}");
    let (status, page) = body_of!(&svc, post(&s, with("attach", Some(("", b"")))));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.matches("class=\"att-name\"").count(), 1, "{page}");
    // One byte more in total: refused, the form kept, the file not stored.
    let (status, page) = body_of!(&svc, post(&s, with("send", Some(("b.bin", b"x")))));
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{page}");
    assert!(page.contains("attachments are limited to"), "{page}");
    assert!(page.contains("Kept subject"), "{page}");
    assert!(!page.contains("b.bin"), "{page}");
    assert_eq!(page.matches("class=\"att-name\"").count(), 1, "{page}");
}
