//! Webmail contacts through the real routes: a contact made from the form (vCard 4.0),
//! listed, found by name, address and number, edited and deleted; a vCard 3 card from
//! another client edited without losing its other properties; a long list paged in name
//! order; the suggest endpoint's JSON; a stale ETag; CSRF; another account's cards.

use actix_web::http::{header, StatusCode};
use actix_web::test::{self, TestRequest};

use super::calendar_tests::{
    body_of, csrf_of, form, get, hidden, log_in, objects, post, ALICE, ROOT,
};
use super::test_support::service;
use crate::http::tests::{peer, session_cookie, world, World, PASSWORD};
use crate::protocols::carddav::validate::validate_card;
use crate::storage::davstore::{Condition, DavObject, NewObject, PutOutcome};

/// Stores a card in `owner`'s `contacts` as a CardDAV client would.
fn put_card(w: &World, owner: &str, name: &str, data: &str) -> DavObject {
    let c = w.ctx.store.dav_collections(owner).unwrap();
    let c = c.iter().find(|c| c.name == "contacts").unwrap();
    let obj = validate_card(data, 1 << 20).unwrap();
    let new = NewObject {
        name: name.into(),
        uid: obj.uid,
        data: data.into(),
        component: "VCARD".into(),
        first: None,
        last: None,
    };
    match w.ctx.store.dav_put(c.id, &new, &Condition::Any).unwrap() {
        PutOutcome::Stored { object, .. } => object,
        other => panic!("{other:?}"),
    }
}

fn card_form<'a>(csrf: &'a str, extra: &[(&'a str, &'a str)]) -> String {
    let mut pairs = vec![
        ("csrf", csrf),
        ("action", "save"),
        ("book", "contacts"),
        ("name", ""),
        ("etag", ""),
        ("version", "4.0"),
        ("full_name", "Grace Hopper"),
        ("emails", "grace@navy.example\r\ng.hopper@example.org"),
        ("phones", "+1 202 555 0142"),
        ("org", "US Navy"),
        ("note", "COBOL"),
    ];
    for (k, v) in extra {
        pairs.retain(|(pk, _)| pk != k);
        pairs.push((k, v));
    }
    form(&pairs)
}

const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-3\r\nFN:Ada Lovelace\r\n\
N:Lovelace;Ada;;;\r\nitem1.EMAIL;TYPE=INTERNET,pref:ada@example.org\r\n\
item1.X-ABLabel:_$!<Work>!$_\r\nTEL;TYPE=CELL:+44 20 7946 0000\r\n\
ADR;TYPE=HOME:;;12 St James's Sq;London;;SW1Y;UK\r\nBDAY:1815-12-10\r\n\
X-PHONETIC-FIRST-NAME:Ay-da\r\nCATEGORIES:math,history\r\nEND:VCARD\r\n";

#[actix_web::test]
async fn a_contact_is_made_found_edited_and_deleted() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let (status, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("0 contacts"), "{page}");
    let (status, _, location) = body_of!(
        &svc,
        post(&cookie, "/contacts/card", &card_form(&csrf, &[]))
    );
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/contacts");
    let stored = objects(&w, ALICE, "contacts");
    assert_eq!(stored.len(), 1);
    assert!(stored[0].data.contains("VERSION:4.0"), "{}", stored[0].data);
    assert!(stored[0].data.contains("FN:Grace Hopper"));
    assert!(stored[0].name.ends_with(".vcf"));

    for q in ["grace", "HOPPER", "navy.example", "555 0142", "2025550142"] {
        let (_, page, _) = body_of!(
            &svc,
            get(&cookie, &format!("/contacts?q={}", q.replace(' ', "+")))
        );
        assert!(page.contains("Grace Hopper"), "{q}: {page}");
        assert!(page.contains("1 contact matching"), "{q}: {page}");
    }
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts?q=turing"));
    assert!(!page.contains("Grace Hopper"), "{page}");

    // Edit from the form, with its ETag.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    let href = page
        .split("href=\"/contacts/card?")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .replace("&amp;", "&")
        .replace("&#38;", "&");
    let (status, page, _) = body_of!(&svc, get(&cookie, &format!("/contacts/card?{href}")));
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("g.hopper@example.org"), "{page}");
    let etag = hidden(&page, "etag");
    let body = card_form(
        &csrf,
        &[
            ("name", &stored[0].name),
            ("etag", &etag),
            ("full_name", "Rear Admiral Grace Hopper"),
            ("emails", "grace@navy.example"),
        ],
    );
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = objects(&w, ALICE, "contacts");
    assert_eq!(after.len(), 1);
    assert!(after[0].data.contains("FN:Rear Admiral Grace Hopper"));
    assert!(!after[0].data.contains("g.hopper@"), "{}", after[0].data);

    // The old ETag now conflicts.
    let (status, page, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("changed by someone else"), "{page}");

    let body = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("book", "contacts"),
        ("name", &after[0].name),
        ("etag", &after[0].etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(objects(&w, ALICE, "contacts").is_empty());

    // A contact without a name, or with a bad address, is refused and nothing stored.
    for extra in [[("full_name", " ")], [("emails", "not an address")]] {
        let (status, page, _) = body_of!(
            &svc,
            post(&cookie, "/contacts/card", &card_form(&csrf, &extra))
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{page}");
    }
    assert!(objects(&w, ALICE, "contacts").is_empty());
}

#[actix_web::test]
async fn a_vcard_3_card_is_edited_without_losing_its_other_properties() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let card = put_card(&w, ALICE, "ada.vcf", V3);
    let (status, page, _) = body_of!(
        &svc,
        get(&cookie, "/contacts/card?book=contacts&name=ada.vcf")
    );
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("vCard 3.0"), "{page}");
    assert!(page.contains("ada@example.org"), "{page}");
    assert!(page.contains("+44 20 7946 0000"), "{page}");
    let body = card_form(
        &csrf,
        &[
            ("name", "ada.vcf"),
            ("etag", &card.etag),
            ("version", "3.0"),
            ("full_name", "Augusta Ada King"),
            ("emails", "ada@example.org\nada.king@example.org"),
            ("phones", "+44 20 7946 0000"),
            ("org", "Analytical Engine"),
            ("note", ""),
        ],
    );
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::SEE_OTHER);
    let data = objects(&w, ALICE, "contacts").remove(0).data;
    validate_card(&data, 1 << 20).unwrap();
    for kept in [
        "VERSION:3.0",
        "UID:ada-3",
        "N:Lovelace;Ada",
        "item1.EMAIL;TYPE=INTERNET,pref:ada@example.org",
        "item1.X-ABLabel",
        "TEL;TYPE=CELL:+44 20 7946 0000",
        "12 St James",
        "BDAY:1815",
        "X-PHONETIC-FIRST-NAME:Ay-da",
        "CATEGORIES:math,history",
        "FN:Augusta Ada King",
        "ada.king@example.org",
        "ORG:Analytical Engine",
    ] {
        assert!(data.contains(kept), "{kept} lost: {data}");
    }
}

#[actix_web::test]
async fn a_long_list_is_paged_in_name_order() {
    let w = world("");
    let svc = service!(w);
    let (cookie, _) = log_in!(&svc, ALICE);
    for i in 0..120 {
        // Names out of order, mixed case.
        let n = (i * 37) % 120;
        let first = if n % 2 == 0 { "person" } else { "Person" };
        put_card(
            &w,
            ALICE,
            &format!("p{n}.vcf"),
            &format!(
                "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:p{n}\r\nFN:{first} {n:03}\r\n\
EMAIL:p{n}@example.org\r\nEND:VCARD\r\n"
            ),
        );
    }
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    assert!(page.contains("120 contacts"), "{page}");
    assert!(page.contains("Page 1 of 3"), "{page}");
    let rows: Vec<&str> = page.split("<tr><td><a href=").skip(1).collect();
    assert_eq!(rows.len(), 50);
    assert!(rows[0].contains("erson 000"), "{}", rows[0]);
    assert!(rows[49].contains("erson 049"), "{}", rows[49]);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts?q=&page=3"));
    let rows: Vec<&str> = page.split("<tr><td><a href=").skip(1).collect();
    assert_eq!(rows.len(), 20);
    assert!(rows[19].contains("erson 119"), "{}", rows[19]);
    assert!(page.contains("id=\"contacts-prev\""), "{page}");
    assert!(!page.contains("id=\"contacts-next\""), "{page}");
}

#[actix_web::test]
async fn suggest_answers_json_from_the_accounts_contacts_only() {
    let w = world("");
    let svc = service!(w);
    let (cookie, _) = log_in!(&svc, ALICE);
    put_card(&w, ALICE, "ada.vcf", V3);
    put_card(
        &w,
        ALICE,
        "dup.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:d\r\nFN:Doe, Jane\r\nEMAIL:jane@example.org\r\n\
EMAIL:jd@example.net\r\nEND:VCARD\r\n",
    );
    put_card(
        &w,
        ROOT,
        "secret.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:s\r\nFN:Ada Secret\r\nEMAIL:ada.secret@example.org\r\nEND:VCARD\r\n",
    );
    let res = test::call_service(&svc, get(&cookie, "/contacts/suggest?q=ada").to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .headers()
        .get(header::CONTENT_TYPE)
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
    assert_eq!(
        v,
        serde_json::json!([{"name": "Ada Lovelace", "email": "ada@example.org",
            "value": "Ada Lovelace <ada@example.org>"}])
    );
    let (_, body, _) = body_of!(&svc, get(&cookie, "/contacts/suggest?q=JANE"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    // A name match offers every address of the card; the name is quoted (its comma).
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[0]["value"], "\"Doe, Jane\" <jane@example.org>");
    let (_, body, _) = body_of!(&svc, get(&cookie, "/contacts/suggest?q=example.net"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["email"], "jd@example.net");
    let (_, body, _) = body_of!(&svc, get(&cookie, "/contacts/suggest?q="));
    assert_eq!(body, "[]");
    // No session: 401, no data.
    let res = test::call_service(
        &svc,
        TestRequest::get()
            .uri("/contacts/suggest?q=ada")
            .peer_addr(peer())
            .to_request(),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Compose loads the script and keeps its datalist for it.
    let (_, page, _) = body_of!(&svc, get(&cookie, "/compose"));
    assert!(page.contains("/static/suggest.js"), "{page}");
    assert!(page.contains("list=\"recent\""), "{page}");
}

#[actix_web::test]
async fn no_csrf_token_no_write_and_another_accounts_cards_are_out_of_reach() {
    let w = world("");
    let svc = service!(w);
    let (cookie, csrf) = log_in!(&svc, ALICE);
    let body = card_form(&csrf, &[]).replace(&format!("csrf={csrf}&"), "");
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(objects(&w, ALICE, "contacts").is_empty());

    let theirs = put_card(&w, ROOT, "r.vcf", V3);
    let (status, _, _) = body_of!(
        &svc,
        get(&cookie, "/contacts/card?book=contacts&name=r.vcf")
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let body = form(&[
        ("csrf", &csrf),
        ("action", "delete"),
        ("book", "contacts"),
        ("name", "r.vcf"),
        ("etag", &theirs.etag),
    ]);
    let (status, _, _) = body_of!(&svc, post(&cookie, "/contacts/card", &body));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page, _) = body_of!(&svc, get(&cookie, "/contacts"));
    assert!(!page.contains("Ada Lovelace"), "{page}");
    assert_eq!(objects(&w, ROOT, "contacts"), vec![theirs]);
}
