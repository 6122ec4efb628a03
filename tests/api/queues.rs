//! The queues through the API: list, show and change records.

use super::*;

/// Submits a message from bob to a remote address: with the test server's failing name
/// server it ends up deferred.
pub(crate) fn deferred_record(s: &TestServer) -> u64 {
    let before = s.queue_depth(QueueName::Deferred);
    let mut c = Client::connect(s.addr("submission"));
    c.cmd("EHLO client.example.net");
    assert!(c.auth_plain(BOB, PASSWORD).starts_with("235"));
    assert!(c.cmd("MAIL FROM:<bob@example.com>").starts_with("250"));
    assert!(c.cmd("RCPT TO:<carol@remote.test>").starts_with("250"));
    let r = c.data(
        "From: bob@example.com\r\nTo: carol@remote.test\r\nSubject: api test\r\n\r\nHello.\r\n",
    );
    assert!(r.starts_with("250"), "{r}");
    c.cmd("QUIT");
    for _ in 0..600 {
        if s.queue_depth(QueueName::Deferred) > before {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let recs = s.store().queue_list(QueueName::Deferred).unwrap();
    assert!(recs.len() > before, "the message was deferred");
    recs.last().unwrap().id
}

#[test]
fn queues_list_show_and_change() {
    let s = server();
    let id = deferred_record(&s);
    let hex = format!("{id:016X}");
    let ctx = s.handle().ctx.clone();
    let h = hex.clone();
    with_api(ctx, |api| async move {
        let hex = h;
        let v = api.ok(Method::GET, "/api/v1/queues", None).await;
        let items = v["items"].as_array().unwrap();
        assert_eq!(items.len(), 6);
        let deferred = items.iter().find(|q| q["name"] == "deferred").unwrap();
        assert_eq!(deferred["count"], 1);

        let v = api
            .ok(Method::GET, "/api/v1/queues/deferred?limit=10", None)
            .await;
        assert_eq!(v["total"], 1);
        let item = &v["items"][0];
        assert_eq!(item["id"], hex);
        assert_eq!(item["from"], BOB);
        assert_eq!(item["recipients"][0]["address"], "carol@remote.test");
        assert!(item["attempts"].as_u64().unwrap() >= 1, "{item}");
        let (st, _) = api
            .call(Some(ROOT), Method::GET, "/api/v1/queues/nope", None)
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        let v = api
            .ok(Method::GET, &format!("/api/v1/queues/deferred/{hex}"), None)
            .await;
        assert!(
            v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "Subject" && h["value"] == "api test"),
            "{v}"
        );
        assert_eq!(v["authenticated"], BOB);
        // The failed attempt is in the history.
        let history = v["history"].as_array().unwrap();
        assert!(!history.is_empty(), "{v}");
        assert_eq!(history[0]["attempt"], 1, "{v}");
        assert_eq!(history[0]["recipient"], "carol@remote.test");
        assert_eq!(history[0]["outcome"], "deferred");
        let (st, _) = api
            .call(
                Some(ROOT),
                Method::GET,
                "/api/v1/queues/remote/00000000000000FF",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);

        // Move to bad, then bulk: an unknown id is reported, the real one moves back.
        let v = api
            .ok(
                Method::POST,
                &format!("/api/v1/queues/deferred/{hex}/move"),
                Some(json!({"to": "bad"})),
            )
            .await;
        assert_eq!(v["queue"], "bad", "{v}");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                &format!("/api/v1/queues/bad/{hex}/move"),
                Some(json!({"to": "bad"})),
            )
            .await;
        assert_eq!(st, StatusCode::CONFLICT, "{v}");
        let v = api
            .ok(
                Method::POST,
                "/api/v1/queues/bad/bulk",
                Some(json!({"action": "move", "to": "deferred", "ids": [hex, "00000000000000FF"]})),
            )
            .await;
        assert_eq!(v["done"], 1, "{v}");
        assert_eq!(v["failed"], 1);
        assert_eq!(v["items"][1]["status"], 404);
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::POST,
                "/api/v1/queues/deferred/bulk",
                Some(json!({"action": "explode", "ids": []})),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let (st, v) = api
            .call(
                Some(ROOT),
                Method::DELETE,
                &format!("/api/v1/queues/deferred/{hex}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["queue"], Value::Null, "gone");
    });
    assert!(s.store().queue_find(id).unwrap().is_none());

    // Retry of a deferred record: routed again at once, under a new id, which the answer
    // gives with its queue (remote: carol@remote.test).
    let id = deferred_record(&s);
    let hex = format!("{id:016X}");
    let attempts = s.store().queue_find(id).unwrap().unwrap().attempts;
    let v = with_api(s.handle().ctx.clone(), |api| async move {
        api.ok(
            Method::POST,
            &format!("/api/v1/queues/deferred/{hex}/retry"),
            None,
        )
        .await
    });
    assert_eq!(v["from"], "deferred", "{v}");
    assert_eq!(v["queue"], "remote", "{v}");
    let new_hex = v["id"].as_str().expect("id").to_string();
    let new = u64::from_str_radix(&new_hex, 16).expect("hexadecimal id");
    assert_ne!(new, id, "routing gives a new id");
    assert_eq!(
        v["records"],
        json!([{"id": new_hex, "queue": "remote"}]),
        "{v}"
    );
    assert!(
        v["output"].as_str().unwrap().contains(&format!(
            "retried from deferred, another attempt now: {new_hex} in remote"
        )),
        "{v}"
    );
    assert!(s.store().queue_find(id).unwrap().is_none(), "replaced");
    // The attempt is made at once: the new record is tried (it comes back to deferred
    // with one more attempt, under the same id), or settles for good.
    let mut moved_on = false;
    for _ in 0..600 {
        moved_on = s
            .store()
            .queue_find(new)
            .unwrap()
            .is_none_or(|r| r.queue == QueueName::Deferred && r.attempts > attempts);
        if moved_on {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(moved_on, "another attempt was made");

    // The bulk retry reports each id's new place the same way.
    let back = s.store().queue_find(new).unwrap();
    assert!(
        back.is_some_and(|r| r.queue == QueueName::Deferred),
        "back in deferred: remote.test does not resolve"
    );
    let v = with_api(s.handle().ctx.clone(), |api| async move {
        api.ok(
            Method::POST,
            "/api/v1/queues/deferred/bulk",
            Some(json!({"action": "retry", "ids": [new_hex]})),
        )
        .await
    });
    assert_eq!(v["done"], 1, "{v}");
    let item = &v["items"][0];
    assert_eq!(item["status"], 200, "{v}");
    let now = &item["records"][0];
    assert_eq!(now["queue"], "remote", "{v}");
    let again = u64::from_str_radix(now["id"].as_str().unwrap(), 16).unwrap();
    assert_ne!(again, new, "{v}");
    assert!(s.store().queue_find(new).unwrap().is_none());
}

/// A domain admin (of example.org) sees a record only when a recipient is in its domains,
/// never by the sender; of a record with recipients elsewhere it sees only its own ones
/// (and how many others), no header and no overall error, and may not change it (403);
/// a record whose recipients are all its own it sees whole and may change.
#[test]
fn a_domain_admin_sees_and_changes_queued_mail_by_its_recipients() {
    let s = server();
    let forged = common::put_deferred(&s, "carol@example.org", &["x@remote.test"], "forged");
    let mixed = common::put_deferred(
        &s,
        "x@remote.test",
        &["secret@remote.test", "carol@example.org", "y@third.test"],
        "mixed",
    );
    let own = common::put_deferred(&s, "x@remote.test", &["carol@example.org"], "own");
    let (forged, mixed, own) = (
        format!("{forged:016X}"),
        format!("{mixed:016X}"),
        format!("{own:016X}"),
    );
    with_api(s.handle().ctx.clone(), move |api| async move {
        let (st, v) = api
            .call(Some(DOM), Method::GET, "/api/v1/queues", None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let deferred = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["name"] == "deferred")
            .unwrap()
            .clone();
        assert_eq!(deferred["count"], 2, "{v}");

        let (st, v) = api
            .call(Some(DOM), Method::GET, "/api/v1/queues/deferred", None)
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["total"], 2, "{v}");
        let ids: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, vec![mixed.as_str(), own.as_str()], "{v}");
        let text = v.to_string();
        assert!(
            !text.contains("secret@remote.test") && !text.contains("y@third.test"),
            "another domain's recipients leaked: {text}"
        );
        let m = &v["items"][0];
        assert_eq!(m["hidden_recipients"], 2, "{m}");
        assert_eq!(m["recipients"].as_array().unwrap().len(), 1);
        assert_eq!(m["recipients"][0]["address"], "carol@example.org");
        assert!(m["last_error"].is_null(), "{m}");
        assert_eq!(v["items"][1]["hidden_recipients"], 0);

        // One record: the forged sender opens nothing.
        let (st, _) = api
            .call(
                Some(DOM),
                Method::GET,
                &format!("/api/v1/queues/deferred/{forged}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        let (st, v) = api
            .call(
                Some(DOM),
                Method::GET,
                &format!("/api/v1/queues/deferred/{mixed}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert_eq!(v["headers"].as_array().unwrap().len(), 0, "{v}");
        assert_eq!(v["hidden_recipients"], 2);
        assert!(!v.to_string().contains("secret@remote.test"), "{v}");
        let (st, v) = api
            .call(
                Some(DOM),
                Method::GET,
                &format!("/api/v1/queues/deferred/{own}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        assert!(
            v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|h| h["name"] == "Subject" && h["value"] == "own"),
            "{v}"
        );

        // Changes: the mixed one is refused (403, nothing changes), the forged one is
        // unknown (404), its own one goes.
        for (method, path, body) in [
            (
                Method::POST,
                format!("/api/v1/queues/deferred/{mixed}/retry"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/queues/deferred/{mixed}/bounce"),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/queues/deferred/{mixed}/move"),
                Some(json!({"to": "bad"})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/queues/deferred/{mixed}"),
                None,
            ),
        ] {
            let (st, v) = api.call(Some(DOM), method.clone(), &path, body).await;
            assert_eq!(st, StatusCode::FORBIDDEN, "{method} {path}: {v}");
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("outside your domains"),
                "{v}"
            );
        }
        let (st, v) = api
            .call(
                Some(DOM),
                Method::POST,
                "/api/v1/queues/deferred/bulk",
                Some(json!({"action": "delete", "ids": [mixed, forged, own]})),
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{v}");
        let statuses: Vec<u64> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["status"].as_u64().unwrap())
            .collect();
        assert_eq!(statuses, vec![403, 404, 200], "{v}");
    });
    let store = s.store();
    let left: Vec<u64> = store
        .queue_list(QueueName::Deferred)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left.len(), 2, "only its own record was deleted: {left:?}");
}
