//! Queue lists by keyset (`after`, `next`) and a domain admin's view of its users' outgoing
//! mail.

use super::*;

/// The ids of a list answer.
fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect()
}

/// Walking a queue by `next` gives every record once, in id order, and the same pages as
/// offsets; the last page has no `next`; a bad `after` or one beside `offset` is 422.
#[test]
fn the_queue_is_walked_page_by_page_by_next() {
    let s = server();
    let mut want: Vec<String> = (0..7)
        .map(|i| {
            let id = common::put_deferred(&s, "x@remote.test", &["y@remote.test"], &format!("{i}"));
            format!("{id:016X}")
        })
        .collect();
    want.sort();
    with_api(s.handle().ctx.clone(), move |api| async move {
        let mut seen = Vec::new();
        let mut path = "/api/v1/queues/deferred?limit=3".to_string();
        let mut pages = 0;
        loop {
            pages += 1;
            assert!(pages <= 5, "the walk does not end: {seen:?}");
            let v = api.ok(Method::GET, &path, None).await;
            assert_eq!(v["total"], 7, "{v}");
            seen.extend(ids(&v));
            match v["next"].as_str() {
                Some(next) => path = next.to_string(),
                None => break,
            }
        }
        assert_eq!(seen, want);
        assert_eq!(pages, 3);
        let v = api
            .ok(
                Method::GET,
                "/api/v1/queues/deferred?offset=3&limit=3",
                None,
            )
            .await;
        assert_eq!(ids(&v), want[3..6].to_vec());
        assert_eq!(
            v["next"],
            format!("/api/v1/queues/deferred?after={}&limit=3", want[5])
        );
        let v = api
            .ok(
                Method::GET,
                &format!("/api/v1/queues/deferred?after={}", want[2].to_lowercase()),
                None,
            )
            .await;
        assert_eq!(ids(&v), want[3..].to_vec());
        assert!(v["next"].is_null(), "{v}");
        for bad in [
            "/api/v1/queues/deferred?after=xyz",
            "/api/v1/queues/deferred?after=00000000000000001",
            "/api/v1/queues/deferred?after=1&offset=2",
        ] {
            let (st, v) = api.call(Some(ROOT), Method::GET, bad, None).await;
            assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        }
    });
}

/// A domain admin (of example.org) sees the mail its users submitted whole, recipients in
/// other domains included, and may change it; mail submitted by another domain's account,
/// or only claiming its domain as the sender, stays invisible, in lists, counts, keyset
/// pages and single reads.
#[test]
fn a_domain_admin_sees_and_changes_its_users_outgoing_mail() {
    let s = server();
    let outgoing = common::put_deferred_as(
        &s,
        Some("carol@example.org"),
        "carol@example.org",
        &["far@remote.test", "other@third.test"],
        "outgoing",
    );
    let foreign = common::put_deferred_as(
        &s,
        Some("bob@example.com"),
        "carol@example.org",
        &["far@remote.test"],
        "foreign",
    );
    let inbound = common::put_deferred(&s, "x@remote.test", &["carol@example.org"], "in");
    let second = common::put_deferred_as(
        &s,
        Some("dom@example.org"),
        "dom@example.org",
        &["z@remote.test"],
        "second",
    );
    let hex = |id: u64| format!("{id:016X}");
    let (outgoing, foreign, inbound, second) =
        (hex(outgoing), hex(foreign), hex(inbound), hex(second));
    with_api(s.handle().ctx.clone(), move |api| async move {
        let (st, v) = api
            .call(
                Some(DOM),
                Method::GET,
                "/api/v1/queues/deferred?limit=2",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["total"], 3, "{v}");
        assert_eq!(ids(&v), vec![outgoing.clone(), inbound.clone()]);
        let out = &v["items"][0];
        assert_eq!(out["hidden_recipients"], 0, "{out}");
        assert_eq!(out["recipients"].as_array().unwrap().len(), 2, "{out}");
        assert!(out["last_error"].is_string(), "{out}");
        let next = v["next"].as_str().expect("a next page").to_string();
        let (st, v) = api.call(Some(DOM), Method::GET, &next, None).await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(ids(&v), vec![second.clone()]);
        assert!(v["next"].is_null(), "{v}");
        assert!(!v.to_string().contains(&foreign), "{v}");
        let (_, v) = api
            .call(Some(DOM), Method::GET, "/api/v1/queues", None)
            .await;
        let deferred = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "deferred")
            .unwrap()
            .clone();
        assert_eq!(deferred["count"], 3, "{v}");

        let path = |id: &str| format!("/api/v1/queues/deferred/{id}");
        let (st, v) = api
            .call(Some(DOM), Method::GET, &path(&foreign), None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
        let (st, v) = api
            .call(Some(DOM), Method::GET, &path(&outgoing), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["authenticated"], "carol@example.org");
        assert!(
            v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "Subject" && h["value"] == "outgoing"),
            "{v}"
        );
        let (st, v) = api
            .call(Some(DOM), Method::DELETE, &path(&foreign), None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND, "{v}");
        let (st, v) = api
            .call(Some(DOM), Method::DELETE, &path(&outgoing), None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
    });
    let store = s.store();
    let left: Vec<u64> = store
        .queue_list(QueueName::Deferred)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(store.queue_index_problems().unwrap().is_empty());
}
