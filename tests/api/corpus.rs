//! A negative-input corpus: every route × malformed ids, bodies, queries and headers. Each answer
//! is a 4xx in the error envelope — never a 5xx, never a panic — and nothing is written.

use serde_json::{Value, json};

use crate::helpers::{Call, id_of, spawn_app};

const FIXTURE_ITEM: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3PA";
const FIXTURE_ORDER: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3QR";

fn bad_ids() -> Vec<String> {
    vec![
        "not-an-id".to_owned(),
        "0".to_owned(),
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZ".to_owned(),
        "01JDQ3G9X2V0Y8M6K4T5R7N3P".to_owned(),
        "x".repeat(2000),
        "é".repeat(26),
        "..%2F..%2Fetc".to_owned(),
    ]
}

fn bad_bodies() -> Vec<String> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    vec![
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        "\"text\"".to_owned(),
        "{".to_owned(),
        deep,
        deep_object,
        json!({"name": "x".repeat(70_000), "price": 1}).to_string(),
        json!({"name": "Lamp", "price": "5"}).to_string(),
        json!({"name": "Lamp", "price": 5.5}).to_string(),
        json!({"name": "Lamp", "price": 1e300}).to_string(),
        json!({"name": "Lamp", "price": -1}).to_string(),
        json!({"name": "Lamp", "price": 9_007_199_254_740_992u64}).to_string(),
        json!({"name": null, "price": 1}).to_string(),
        json!({"name": "Lamp", "price": 1, "stock": null}).to_string(),
        json!({"name": ["Lamp"], "price": 1}).to_string(),
        json!({"lines": "x"}).to_string(),
        json!({"lines": [{"item_id": 5, "quantity": "1"}]}).to_string(),
        json!({"lines": [{"item_id": FIXTURE_ITEM, "quantity": 0}]}).to_string(),
        json!({"lines": [{"item_id": FIXTURE_ITEM, "quantity": 1.5}]}).to_string(),
        r#"{"name":"a","name":"b","price":1}"#.to_owned(),
        "{\"name\":\"\\ud800\",\"price\":1}".to_owned(),
    ]
}

fn bad_queries() -> Vec<Vec<(String, String)>> {
    let many: Vec<(String, String)> = (0..500).map(|n| (format!("p{n}"), "1".to_owned())).collect();
    vec![
        vec![("limit".into(), "abc".into())],
        vec![("limit".into(), "-1".into())],
        vec![("limit".into(), "1e3".into())],
        vec![("limit".into(), "100000000000000000000".into())],
        vec![("cursor".into(), "%%%".into())],
        vec![("cursor".into(), "A".repeat(10_000))],
        vec![("fields".into(), "id,nope".into())],
        vec![("sort".into(), "price;drop".into())],
        vec![("q".into(), "x".repeat(10_000))],
        many,
    ]
}

/// Every response to bad input: a 4xx with the envelope.
fn assert_refused(what: &str, reply: &crate::helpers::Reply) {
    assert!((400..500).contains(&reply.status), "{what}: answered {} {:?}", reply.status, reply.body);
    assert_eq!(reply.body["success"], Value::Bool(false), "{what}: {:?}", reply.body);
    assert!(reply.body["error"]["code"].is_string(), "{what}: {:?}", reply.body);
}

#[tokio::test]
async fn malformed_ids_bodies_queries_and_headers_are_4xx_and_write_nothing() {
    let app = spawn_app().await;
    let item =
        id_of(&app.create_as("alice", json!({"name": "Lamp", "price": 1, "stock": 5, "status": "active"})).await);
    let item_routes = ["get-item.ok", "replace-item.ok", "update-item.ok", "delete-item.ok"];
    let order_routes = ["get-order.ok", "cancel-order.ok"];

    for id in bad_ids() {
        for fixture in item_routes {
            let call = Call::fixture(fixture).by("staff", "moderator").replacing(FIXTURE_ITEM, &id);
            assert_refused(&format!("{fixture} id {:.40}", id), &app.send(call).await);
        }
        for fixture in order_routes {
            let call = Call::fixture(fixture).by("staff", "moderator").replacing(FIXTURE_ORDER, &id);
            assert_refused(&format!("{fixture} id {:.40}", id), &app.send(call).await);
        }
    }
    for body in bad_bodies() {
        let calls = [
            ("create-item", Call::fixture("create-item.ok").body(&body)),
            ("replace-item", Call::fixture("replace-item.ok").replacing(FIXTURE_ITEM, &item).body(&body)),
            ("update-item", Call::fixture("update-item.ok").replacing(FIXTURE_ITEM, &item).body(&body)),
            ("create-order", Call::fixture("create-order.ok").body(&body)),
        ];
        for (route, call) in calls {
            assert_refused(&format!("{route} body {:.60}", body), &app.send(call).await);
        }
    }
    for query in bad_queries() {
        for fixture in ["list-items.ok", "list-orders.ok", "search-items.ok", "get-item.ok"] {
            let mut call = Call::fixture(fixture).replacing(FIXTURE_ITEM, &item);
            for (key, value) in &query {
                call = call.set_query(key, value);
            }
            assert_refused(&format!("{fixture} query {:.60}", format!("{query:?}")), &app.send(call).await);
        }
    }
    let odd_headers = [
        ("if-match", "\"1\", garbage"),
        ("if-match", "W/"),
        ("if-match", "\"ÿ\""),
        ("content-type", "text/plain"),
        ("authorization", "Basic dXNlcjpwYXNz"),
    ];
    for (name, value) in odd_headers {
        let call = Call::fixture("update-item.ok").replacing(FIXTURE_ITEM, &item).header(name, value);
        assert_refused(&format!("header {name}: {value:?}"), &app.send(call).await);
    }

    assert_eq!(app.item_count().await, 1, "no item created");
    assert_eq!(app.count_sort_keys("ORDER").await, 0, "no order placed");
    let stored = app.send(Call::get(&item)).await;
    assert_eq!((stored.body["data"]["version"].clone(), stored.body["data"]["stock"].clone()), (json!(1), json!(5)));
}
