//! Idempotency keys on POST /api/orders and POST /api/items.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shared::domain::OwnerId;
use shared::repository::keys;

use crate::helpers::{Call, TestApp, id_of, spawn_app};

async fn item(app: &TestApp, stock: u64) -> String {
    id_of(&app.create_as("seller", json!({"name": "Widget", "price": 700, "stock": stock, "status": "active"})).await)
}

fn order(item: &str, quantity: u64, key: &str) -> Call {
    Call::fixture("create-order.ok")
        .json(&json!({"lines": [{"item_id": item, "quantity": quantity}]}))
        .header("idempotency-key", key)
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_replays_the_response_and_writes_once() {
    let app = spawn_app().await;
    let widget = item(&app, 10).await;

    let first = app.send(order(&widget, 2, "retry-me")).await;
    let retry = app.send(order(&widget, 2, "retry-me")).await;

    assert_eq!(first.status, 201);
    assert_eq!(retry.status, 201);
    assert_eq!(retry.body, first.body, "the identical response");
    assert_eq!(retry.header("location"), first.header("location"));
    assert_eq!(retry.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.count_sort_keys("ORDER").await, 1, "one order");
    let stock = app.send(Call::get(&widget).by("staff", "moderator")).await.body["data"]["stock"].clone();
    assert_eq!(stock, 8, "stock taken once");
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_422() {
    let app = spawn_app().await;
    let widget = item(&app, 10).await;
    app.send(order(&widget, 1, "once")).await;

    let reused = app.send(order(&widget, 3, "once")).await;

    assert_eq!((reused.status, reused.error_code()), (422, "idempotency_key_reused"));
    assert_eq!(app.count_sort_keys("ORDER").await, 1);
}

#[tokio::test]
async fn two_requests_racing_with_one_key_place_one_order_and_get_the_same_answer() {
    let app = spawn_app().await;
    let widget = item(&app, 10).await;

    let (first, second) = tokio::join!(app.send(order(&widget, 2, "race")), app.send(order(&widget, 2, "race")));

    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(first.body, second.body, "the loser replays the winner's response");
    assert_eq!(app.count_sort_keys("ORDER").await, 1, "one order");
    let stock = app.send(Call::get(&widget).by("staff", "moderator")).await.body["data"]["stock"].clone();
    assert_eq!(stock, 8, "stock taken once");
}

#[tokio::test]
async fn a_claim_left_by_the_previous_release_does_not_block_the_key() {
    let app = spawn_app().await;
    let widget = item(&app, 10).await;
    let body = json!({"lines": [{"item_id": widget, "quantity": 1}]});
    // What the previous release left while a request ran: an in-progress claim without a response.
    let now = jsonwebtoken::get_current_timestamp() as i64;
    let mut record: HashMap<String, AttributeValue> =
        keys::idempotency_key("POST /api/orders", &OwnerId::new("alice"), "slow");
    for (name, value) in [
        ("state", AttributeValue::S("in_progress".into())),
        ("fingerprint", AttributeValue::S(shared::http::idempotency::fingerprint(body.as_object().unwrap()))),
        ("claim", AttributeValue::S("someone-else".into())),
        ("lock_expires_at", AttributeValue::N((now + 60).to_string())),
        ("expires_at", AttributeValue::N((now + 86_400).to_string())),
    ] {
        record.insert(name.to_owned(), value);
    }
    app.dynamo.put_item().table_name(&app.table).set_item(Some(record)).send().await.unwrap();

    let retry = app.send(order(&widget, 1, "slow")).await;
    let again = app.send(order(&widget, 1, "slow")).await;

    assert_eq!((retry.status, again.status), (201, 201));
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.count_sort_keys("ORDER").await, 1);
}

#[tokio::test]
async fn keys_are_scoped_per_user_and_failures_are_not_stored() {
    let app = spawn_app().await;
    let widget = item(&app, 1).await;

    let alice = app.send(order(&widget, 1, "shared-key").by_user("alice")).await;
    let bob = app.send(order(&widget, 1, "shared-key").by_user("bob")).await;
    assert_eq!((alice.status, bob.status), (201, 409), "bob's request ran (and found no stock), not alice's replay");

    app.send(Call::update(&widget, json!({"stock": 5})).by("staff", "moderator")).await;
    let bob_retry = app.send(order(&widget, 1, "shared-key").by_user("bob")).await;
    assert_eq!(bob_retry.status, 201, "a failed attempt released its key, so the retry ran again");
}

#[tokio::test]
async fn creating_items_is_idempotent_too() {
    let app = spawn_app().await;
    let create = || Call::create(json!({"name": "Once", "price": 1})).header("idempotency-key", "item-1");

    let first = app.send(create()).await;
    let retry = app.send(create()).await;
    let bad_key = app.send(Call::create(json!({"name": "x", "price": 1})).header("idempotency-key", "has space")).await;

    assert_eq!((first.status, retry.status), (201, 201));
    assert_eq!(first.body, retry.body);
    assert_eq!(app.count_sort_keys("ITEM").await, 1);
    assert_eq!((bad_key.status, bad_key.error_code()), (400, "invalid_idempotency_key"));
}
