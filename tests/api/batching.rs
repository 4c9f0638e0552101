//! N+1-free reads: DynamoDB calls counted at the SDK, not assumed.

use serde_json::json;

use crate::helpers::{Call, id_of, spawn_app};

#[tokio::test]
async fn a_page_of_fifty_items_with_owners_takes_a_query_per_shard_and_one_batch() {
    let app = spawn_app().await;
    for n in 0..50 {
        let owner = format!("owner-{}", n % 7);
        app.create_as(&owner, json!({"name": format!("item {n}"), "price": n, "status": "active"})).await;
    }

    let before = app.dynamo_calls();
    let reply = app.send(Call::list().query("limit", "50").query("include", "owner")).await;
    let calls = app.dynamo_calls() - before;

    assert_eq!(reply.status, 200);
    let items = reply.body["data"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    for item in items {
        assert_eq!(item["owner"]["id"], item["owner_id"]);
        assert_eq!(item["owner"]["display_name"], item["owner_id"], "no name claim: the id is the display name");
    }
    // One Query per listing shard (a second round only for a shard holding more than its share of
    // the page), and one BatchGetItem for all 7 owners: nothing per item.
    let shards = usize::from(shared::repository::keys::SHARDS);
    assert!((shards + 1..=2 * shards + 1).contains(&calls), "{calls} calls for a page of 50 over {shards} shards");
}

#[tokio::test]
async fn an_order_with_item_summaries_takes_two_dynamodb_calls() {
    let app = spawn_app().await;
    let mut lines = Vec::new();
    for n in 0..25 {
        let item = app
            .create_as("seller", json!({"name": format!("part {n}"), "price": 10, "stock": 5, "status": "active"}))
            .await;
        lines.push(json!({"item_id": id_of(&item), "quantity": 1}));
    }
    let order = app
        .send(Call::fixture("create-order.ok").without_header("idempotency-key").json(&json!({"lines": lines})))
        .await;
    assert_eq!(order.status, 201, "{:?}", order.body);
    let order_id = id_of(&order.body["data"]);

    let before = app.dynamo_calls();
    let reply = app.send(Call::fixture("get-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", &order_id)).await;
    let calls = app.dynamo_calls() - before;

    assert_eq!(reply.status, 200);
    let embedded = reply.body["data"]["lines"].as_array().unwrap();
    assert_eq!(embedded.len(), 25);
    assert!(embedded.iter().all(|line| line["item"]["name"].is_string()));
    assert_eq!(calls, 2, "one Query for the order and its lines, one BatchGetItem for the items");
}
