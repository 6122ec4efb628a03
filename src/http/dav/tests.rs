//! The DAV layer through actix-web's test service on a fresh store: the resource model's
//! paths, the file store's methods and their status codes (RFC 4918 §9), dead
//! properties kept with their namespace, quota (507), locks and the If header.

use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use actix_web::web;

use super::{file_href, target_of, Target};
use crate::http::server::{app, routes, Front, Listener};
use crate::http::tests::{peer, world, PASSWORD};
use crate::storage::davstore::CollectionKind;

const ALICE: &str = "/dav/files/alice@example.com";

/// HTTP Basic for `who` with the test password.
pub(super) fn auth_as(who: &str) -> String {
    use base64::Engine;
    let raw = format!("{who}:{PASSWORD}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

macro_rules! service {
    ($w:expr) => {{
        let front = Front {
            listener: Listener::Http,
            https_port: None,
        };
        test::init_service(app(web::Data::new($w.ctx.clone()), front, move |cfg| {
            routes(cfg, Listener::Http)
        }))
        .await
    }};
}

pub(super) use service;

/// One request as `$who` (the test password): `(status, headers, body as text)`.
macro_rules! call_as {
    ($svc:expr, $who:expr, $method:expr, $path:expr, [$(($h:expr, $v:expr)),*], $body:expr) => {{
        let req = TestRequest::default()
            .method(actix_web::http::Method::from_bytes($method.as_bytes()).unwrap())
            .uri(AsRef::<str>::as_ref(&$path))
            .peer_addr(peer())
            .insert_header(("Authorization", $crate::http::dav::tests::auth_as($who)))
            $(.insert_header(($h, $v)))*
            .set_payload($body.to_vec())
            .to_request();
        let res = test::call_service(&$svc, req).await;
        let status = res.status();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }};
}
pub(super) use call_as;

/// One request as alice.
macro_rules! call {
    ($svc:expr, $method:expr, $path:expr, [$(($h:expr, $v:expr)),*], $body:expr) => {
        $crate::http::dav::tests::call_as!($svc, "alice@example.com", $method, $path, [$(($h, $v)),*], $body)
    };
}
pub(super) use call;

#[test]
fn paths_decode_into_targets() {
    assert_eq!(target_of("/dav").unwrap(), Some(Target::Root));
    assert_eq!(target_of("/dav/").unwrap(), Some(Target::Root));
    assert_eq!(
        target_of("/dav/principals/Bob@Example.com/").unwrap(),
        Some(Target::Principal("bob@example.com".into()))
    );
    assert_eq!(
        target_of("/dav/files/a%40b/x%20y/z").unwrap(),
        Some(Target::Files {
            owner: "a@b".into(),
            path: "/x y/z".into()
        })
    );
    assert_eq!(
        target_of("/dav/files/a@b/").unwrap(),
        Some(Target::Files {
            owner: "a@b".into(),
            path: String::new()
        })
    );
    assert_eq!(target_of("/dav/other").unwrap(), None);
    assert_eq!(
        target_of("/dav/calendars/A@b/").unwrap(),
        Some(Target::Home {
            owner: "a@b".into(),
            kind: CollectionKind::Calendar
        })
    );
    assert_eq!(
        target_of("/dav/addressbooks/a@b/contacts/").unwrap(),
        Some(Target::Collection {
            owner: "a@b".into(),
            kind: CollectionKind::AddressBook,
            name: "contacts".into()
        })
    );
    assert_eq!(
        target_of("/dav/calendars/a@b/work/x%20y.ics").unwrap(),
        Some(Target::Object {
            owner: "a@b".into(),
            kind: CollectionKind::Calendar,
            collection: "work".into(),
            name: "x y.ics".into()
        })
    );
    assert_eq!(target_of("/dav/calendars/a@b/c/d/e").unwrap(), None);
    assert_eq!(
        super::object_href("a@b", CollectionKind::Calendar, "my cal", "e.ics"),
        "/dav/calendars/a@b/my%20cal/e.ics"
    );
    for bad in [
        "/dav/files/a/../b",
        "/dav/files/a/%2F",
        "/dav/files/a//b",
        "/dav/files/a/%zz",
        "/dav/files/a/%00",
    ] {
        assert!(target_of(bad).is_err(), "{bad}");
    }
    assert_eq!(
        file_href("a@b", "/x y/%", false),
        "/dav/files/a@b/x%20y/%25"
    );
    assert_eq!(file_href("a@b", "", true), "/dav/files/a@b/");
}

#[actix_rt::test]
async fn file_store_methods() {
    let w = world("");
    let svc = service!(w);
    let (s, h, _) = call!(svc, "OPTIONS", format!("{ALICE}/"), [], b"");
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h.get("DAV").unwrap(), "1, 2");

    // MKCOL: 201, again 405, without parent 409, with a body 415.
    let (s, _, _) = call!(svc, "MKCOL", format!("{ALICE}/c/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(svc, "MKCOL", format!("{ALICE}/c/"), [], b"");
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    let (s, _, _) = call!(svc, "MKCOL", format!("{ALICE}/no/c/"), [], b"");
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call!(svc, "MKCOL", format!("{ALICE}/d/"), [], b"<x/>");
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    // PUT / GET / HEAD.
    let (s, h, _) = call!(
        svc,
        "PUT",
        format!("{ALICE}/c/f.txt"),
        [("Content-Type", "text/plain")],
        b"hello"
    );
    assert_eq!(s, StatusCode::CREATED);
    let etag = h.get("ETag").unwrap().to_str().unwrap().to_string();
    let (s, h, body) = call!(svc, "GET", format!("{ALICE}/c/f.txt"), [], b"");
    assert_eq!((s, body.as_str()), (StatusCode::OK, "hello"));
    assert_eq!(h.get("ETag").unwrap().to_str().unwrap(), etag);
    assert_eq!(h.get("Content-Type").unwrap(), "text/plain");
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/none/f.txt"), [], b"x");
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/c/"), [], b"x");
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    // PROPFIND depth 1 lists the member with its live properties.
    let (s, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{ALICE}/c/"),
        [("Depth", "1")],
        b""
    );
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert!(
        body.contains("<D:href>/dav/files/alice@example.com/c/f.txt</D:href>"),
        "{body}"
    );
    assert!(
        body.contains("<D:getcontentlength>5</D:getcontentlength>"),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "<D:getetag>{}</D:getetag>",
            etag.replace('"', "&quot;")
        )),
        "{body}"
    );

    // PROPPATCH: a dead property with XML content comes back in its namespace; a live
    // one is protected (403, the rest 424, nothing changed).
    let patch = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:color><Z:rgb v="1">red</Z:rgb></Z:color></D:prop></D:set></D:propertyupdate>"#;
    let (s, _, body) = call!(svc, "PROPPATCH", format!("{ALICE}/c/f.txt"), [], patch);
    assert_eq!(s, StatusCode::MULTI_STATUS);
    assert!(body.contains("HTTP/1.1 200"), "{body}");
    let ask = br#"<D:propfind xmlns:D="DAV:"><D:prop><color xmlns="urn:z"/></D:prop></D:propfind>"#;
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{ALICE}/c/f.txt"),
        [("Depth", "0")],
        ask
    );
    assert!(
        body.contains(
            r#"<P:color xmlns:P="urn:z"><x0:rgb xmlns:x0="urn:z" v="1">red</x0:rgb></P:color>"#
        ),
        "{body}"
    );
    let bad = br#"<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><D:getetag>x</D:getetag><Z:n>1</Z:n></D:prop></D:set></D:propertyupdate>"#;
    let (_, _, body) = call!(svc, "PROPPATCH", format!("{ALICE}/c/f.txt"), [], bad);
    assert!(
        body.contains("HTTP/1.1 403") && body.contains("HTTP/1.1 424"),
        "{body}"
    );
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{ALICE}/c/f.txt"),
        [("Depth", "0")],
        br#"<D:propfind xmlns:D="DAV:"><D:prop><n xmlns="urn:z"/></D:prop></D:propfind>"#
    );
    assert!(body.contains("HTTP/1.1 404"), "nothing was set: {body}");

    // COPY with Overwrite F onto an existing target: 412; MOVE: 201 then the source is gone.
    let (s, _, _) = call!(
        svc,
        "COPY",
        format!("{ALICE}/c/"),
        [("Destination", format!("{ALICE}/d/"))],
        b""
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(
        svc,
        "COPY",
        format!("{ALICE}/c/"),
        [("Destination", format!("{ALICE}/d/")), ("Overwrite", "F")],
        b""
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{ALICE}/d/f.txt"),
        [
            ("Host", "dav.test"),
            ("Destination", format!("http://elsewhere.test{ALICE}/g.txt"))
        ],
        b""
    );
    assert_eq!(
        s,
        StatusCode::BAD_GATEWAY,
        "a destination on another server"
    );
    let (s, _, _) = call!(
        svc,
        "MOVE",
        format!("{ALICE}/d/f.txt"),
        [
            ("Host", "dav.test"),
            ("Destination", format!("http://dav.test{ALICE}/g.txt"))
        ],
        b""
    );
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, _) = call!(svc, "GET", format!("{ALICE}/d/f.txt"), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = call!(
        svc,
        "COPY",
        format!("{ALICE}/g.txt"),
        [("Destination", "/dav/files/root@example.com/g.txt")],
        b""
    );
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "no copy into another account's files"
    );

    // DELETE the tree.
    let (s, _, _) = call!(svc, "DELETE", format!("{ALICE}/c/"), [], b"");
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(
        svc,
        "PROPFIND",
        format!("{ALICE}/c/f.txt"),
        [("Depth", "0")],
        b""
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[actix_rt::test]
async fn quota_is_507_and_reported() {
    let w = world("");
    w.ctx
        .store
        .set_quota("alice@example.com", Some(10), None)
        .unwrap();
    let svc = service!(w);
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/a"), [], b"123456");
    assert_eq!(s, StatusCode::CREATED);
    let (s, _, body) = call!(svc, "PUT", format!("{ALICE}/b"), [], b"123456");
    assert_eq!(s, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    let ask = br#"<D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/><D:quota-available-bytes/></D:prop></D:propfind>"#;
    let (_, _, body) = call!(svc, "PROPFIND", format!("{ALICE}/"), [("Depth", "0")], ask);
    assert!(
        body.contains("<D:quota-used-bytes>6</D:quota-used-bytes>"),
        "{body}"
    );
    assert!(
        body.contains("<D:quota-available-bytes>4</D:quota-available-bytes>"),
        "{body}"
    );
    let (s, _, _) = call!(svc, "GET", format!("{ALICE}/b"), [], b"");
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing of the refused PUT stays");
}

#[actix_rt::test]
async fn locks_and_the_if_header() {
    let w = world("");
    let svc = service!(w);
    let lockinfo = br#"<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>me</D:owner></D:lockinfo>"#;
    // LOCK on an unmapped URL makes an empty resource (201).
    let (s, h, body) = call!(
        svc,
        "LOCK",
        format!("{ALICE}/locked"),
        [("Timeout", "Second-60")],
        lockinfo
    );
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let token = h.get("Lock-Token").unwrap().to_str().unwrap().to_string();
    assert!(body.contains("<D:timeout>Second-60</D:timeout>"), "{body}");
    // Without the token: 423; a second exclusive lock: 423; with it: 204.
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/locked"), [], b"x");
    assert_eq!(s, StatusCode::LOCKED);
    let (s, _, _) = call!(svc, "LOCK", format!("{ALICE}/locked"), [], lockinfo);
    assert_eq!(s, StatusCode::LOCKED);
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{ALICE}/locked"),
        [("If", format!("({token})"))],
        b"x"
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    // A token that is no lock: the If header fails, 412.
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{ALICE}/locked"),
        [("If", "(<urn:uuid:nope>)")],
        b"x"
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    // The If holds by its Not list, but the lock's token is not submitted: 423.
    let (s, _, _) = call!(
        svc,
        "PUT",
        format!("{ALICE}/locked"),
        [("If", "(<urn:uuid:nope>) (Not <DAV:no-lock>)")],
        b"x"
    );
    assert_eq!(s, StatusCode::LOCKED);
    let (_, _, body) = call!(
        svc,
        "PROPFIND",
        format!("{ALICE}/locked"),
        [("Depth", "0")],
        b""
    );
    assert!(
        body.contains(&token[1..token.len() - 1]),
        "lockdiscovery shows the lock: {body}"
    );
    // UNLOCK with a wrong token: 409; with it: 204; then a PUT needs nothing.
    let (s, _, _) = call!(
        svc,
        "UNLOCK",
        format!("{ALICE}/locked"),
        [("Lock-Token", "<urn:uuid:x>")],
        b""
    );
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = call!(
        svc,
        "UNLOCK",
        format!("{ALICE}/locked"),
        [("Lock-Token", token.clone())],
        b""
    );
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/locked"), [], b"y");
    assert_eq!(s, StatusCode::NO_CONTENT);
}

#[actix_rt::test]
async fn a_session_cookie_neither_logs_in_nor_meets_the_csrf_check() {
    let w = world("");
    let svc = service!(w);
    let http_req = TestRequest::default().peer_addr(peer()).to_http_request();
    let cookie = crate::http::session::start(&w.ctx, &http_req, "alice@example.com", true);
    let cookie = format!("{}={}", cookie.name(), cookie.value());
    // A browser's session alone: 401 with the Basic challenge (not the CSRF check's 403,
    // and not a login).
    let req = TestRequest::put()
        .uri(&format!("{ALICE}/f"))
        .peer_addr(peer())
        .insert_header(("Cookie", cookie.clone()))
        .set_payload("x")
        .to_request();
    let res = test::call_service(&svc, req).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("WWW-Authenticate"));
    // With Basic as well, the request is the Basic user's.
    let (s, _, _) = call!(svc, "PUT", format!("{ALICE}/f"), [("Cookie", cookie)], b"x");
    assert_eq!(s, StatusCode::CREATED);
}

/// `If-Match: *` on an existing file-store directory (no ETag) reads it (RFC 9110 §13.1.1:
/// `*` matches any existing resource); on a missing one the read is 404 before any
/// precondition.
#[actix_rt::test]
async fn if_match_star_reads_a_directory_without_an_etag() {
    let w = world("");
    let svc = service!(w);
    let (s, _, _) = call!(svc, "MKCOL", format!("{ALICE}/dir/"), [], b"");
    assert_eq!(s, StatusCode::CREATED);
    let (s, h, _) = call!(
        svc,
        "GET",
        format!("{ALICE}/dir/"),
        [("If-Match", "*")],
        b""
    );
    assert_eq!(s, StatusCode::OK);
    assert!(h.get("ETag").is_none(), "a directory has no ETag");
    let (s, _, _) = call!(
        svc,
        "GET",
        format!("{ALICE}/dir/"),
        [("If-Match", "\"other\"")],
        b""
    );
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);
    let (s, _, _) = call!(
        svc,
        "GET",
        format!("{ALICE}/nodir/"),
        [("If-Match", "*")],
        b""
    );
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A modification time is never served later than the clock (RFC 9110 §8.8.2.1), whatever
/// was stored.
#[test]
fn served_times_are_capped_at_the_clock() {
    use crate::protocols::webdav::conditional::parse_http_date;
    let far = super::http_date(u64::MAX / 2);
    let served = parse_http_date(&far).unwrap();
    assert!(
        served <= crate::storage::now_secs() as i64 && served > 0,
        "{far}"
    );
    assert_eq!(
        super::http_date(784_111_777),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert!(super::calobjects::time_of(i64::MAX).is_some_and(|t| {
        parse_http_date(&t).is_some_and(|s| s <= crate::storage::now_secs() as i64)
    }));
    assert_eq!(super::calobjects::time_of(0), None);
}
