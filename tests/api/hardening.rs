//! Nothing ambiguous is accepted: duplicate JSON keys, over-long If-Match lists.

use serde_json::json;

use shared::domain::RateRules;

use crate::helpers::{Call, id_of, spawn_app, spawn_app_with_limits};
use crate::proxy::FaultProxy;

#[tokio::test]
async fn a_body_naming_a_field_twice_is_a_400_and_writes_nothing() {
    let app = spawn_app().await;
    let item =
        id_of(&app.create_as("alice", json!({"name": "Lamp", "price": 1, "stock": 5, "status": "active"})).await);

    let create = app.send(Call::create(json!({})).body(r#"{"name":"a","name":"b","price":1}"#)).await;
    let nested = app
        .send(
            Call::fixture("create-order.ok")
                .body(&format!(r#"{{"lines":[{{"item_id":"{item}","quantity":1,"quantity":4}}]}}"#)),
        )
        .await;

    assert_eq!((create.status, create.error_code()), (400, "duplicate_field"));
    assert!(create.body["error"]["message"].as_str().unwrap().contains("\"name\""), "{:?}", create.body);
    assert_eq!((nested.status, nested.error_code()), (400, "duplicate_field"), "at any depth");
    assert_eq!(app.item_count().await, 1, "no item created");
    assert_eq!(app.count_sort_keys("ORDER").await, 0, "no order placed");
}

#[tokio::test]
async fn if_match_lists_longer_than_one_hundred_tags_are_a_400() {
    let app = spawn_app().await;
    let id = id_of(&app.create_as("alice", json!({"name": "Lamp", "price": 1})).await);
    let tags = |count: u64| (2..2 + count).map(|n| format!("\"{n}\"")).chain(["\"1\"".to_owned()]).collect::<Vec<_>>();

    let too_many = app.send(Call::update(&id, json!({"price": 2})).header("if-match", &tags(100).join(", "))).await;
    let most = app.send(Call::update(&id, json!({"price": 3})).header("if-match", &tags(99).join(", "))).await;

    assert_eq!((too_many.status, too_many.error_code()), (400, "invalid_if_match"));
    assert!(too_many.body["error"]["message"].as_str().unwrap().contains("100"));
    assert_eq!(most.status, 200, "100 tags are fine: {:?}", most.body);
    assert_eq!(app.send(Call::get(&id)).await.body["data"]["price"], 3);
}

#[tokio::test]
async fn a_user_whose_id_reads_like_an_address_has_a_bucket_of_its_own() {
    let app = spawn_app_with_limits(RateRules::parse("anonymous:read=2/60,user:read=100/60").unwrap()).await;
    for _ in 0..2 {
        assert_eq!(app.send(Call::list().without_header("authorization")).await.status, 401);
    }
    let anonymous = app.send(Call::list().without_header("authorization")).await;
    // The fixtures' source address is 127.0.0.1.
    let lookalike = app.send(Call::list().by_user("ip:127.0.0.1")).await;

    assert_eq!(anonymous.status, 429, "the address has spent its anonymous budget");
    assert_eq!(lookalike.status, 200, "a user is never counted in an address's bucket");
}

#[tokio::test]
async fn idempotency_keys_of_users_whose_ids_hold_a_hash_never_meet() {
    let app = spawn_app().await;
    let item = id_of(&app.create_as("seller", json!({"name": "W", "price": 5, "stock": 10, "status": "active"})).await);
    let order = |user: &str, key: &str| {
        Call::fixture("create-order.ok")
            .json(&json!({"lines": [{"item_id": item, "quantity": 1}]}))
            .by_user(user)
            .header("idempotency-key", key)
    };

    let first = app.send(order("a#b", "c")).await;
    let second = app.send(order("a", "b#c")).await;

    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(second.header("idempotent-replayed"), None, "not a replay of another user's order");
    assert_eq!(app.count_sort_keys("ORDER").await, 2);
}

#[tokio::test]
async fn a_cancel_that_would_take_stock_past_the_largest_safe_integer_is_a_409_and_changes_nothing() {
    let app = spawn_app().await;
    let item = id_of(&app.create_as("seller", json!({"name": "W", "price": 5, "stock": 10, "status": "active"})).await);
    let placed =
        app.send(Call::fixture("create-order.ok").json(&json!({"lines": [{"item_id": item, "quantity": 2}]}))).await;
    assert_eq!(placed.status, 201);
    let order_id = placed.body["data"]["id"].as_str().unwrap().to_owned();
    let full = app.send(Call::update(&item, json!({"stock": 9_007_199_254_740_991u64})).by_user("seller")).await;
    assert_eq!(full.status, 200);

    let cancel = app.send(Call::fixture("cancel-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", &order_id)).await;

    assert_eq!((cancel.status, cancel.error_code()), (409, "stock_limit"), "{:?}", cancel.body);
    let order = app.send(Call::fixture("get-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", &order_id)).await;
    assert_eq!(order.body["data"]["status"], "placed");
    let stored = app.send(Call::get(&item)).await;
    assert_eq!(stored.body["data"]["stock"], 9_007_199_254_740_991u64);
}

#[tokio::test]
async fn reindex_sends_ten_jobs_to_a_call() {
    let app = spawn_app().await;
    for n in 0..12 {
        app.create_as("alice", json!({"name": format!("pending {n}"), "price": 1})).await;
    }
    let proxy = FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL").unwrap()).await;
    let admin = app.container_via(&proxy.url());

    // Nothing has been indexed yet, so all twelve are still marked pending.
    let reindex = app.send_to(&admin, Call::fixture_as_is("reindex.ok")).await;

    assert_eq!(reindex.body["data"]["enqueued"], 12, "{:?}", reindex.body);
    assert_eq!((proxy.seen("SendMessageBatch"), proxy.seen("SendMessage")), (2, 0));
    let (processed, failed) = app.run_index_worker().await;
    assert_eq!((processed, failed), (24, 0), "the writes' own jobs and the reindex's");
}

#[tokio::test]
async fn names_that_hide_or_reorder_text_are_refused_and_text_is_stored_in_nfc() {
    let app = spawn_app().await;
    for name in ["\u{200B}", "\u{202E}gnp.exe", "a\u{2028}b", "x\u{E000}"] {
        let reply = app.send(Call::create(json!({"name": name, "price": 1}))).await;
        assert_eq!((reply.status, reply.bad_fields()), (400, vec![("name".into(), "invalid".into())]), "{name:?}");
    }
    let bidi = app.send(Call::create(json!({"name": "ok", "description": "\u{202E}evil", "price": 1}))).await;
    assert_eq!(bidi.bad_fields(), [("description".into(), "invalid".into())]);
    assert_eq!(app.item_count().await, 0, "nothing written");

    let created = app.create_as("alice", json!({"name": "cafe\u{301}", "price": 1})).await;
    assert_eq!(created["name"], "caf\u{e9}");
}
