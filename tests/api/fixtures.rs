//! Every fixture in events/ is a real API Gateway v2 event that its function answers as expected.

use serde_json::json;

use crate::helpers::{Call, id_of, load_fixture, repo_root, spawn_app};

/// The placeholder ids the fixtures carry (see infra/make_events.py).
const FIXTURE_ITEM_ID: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3PA";
const FIXTURE_ORDER_ID: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3QR";

#[tokio::test]
async fn every_fixture_is_exercised_through_its_function() {
    let app = spawn_app().await;
    assert_eq!(load_fixture("get-item.ok")["pathParameters"]["id"], FIXTURE_ITEM_ID);
    let seeded =
        app.create_as("fixture-user", json!({"name": "Seed", "price": 250, "stock": 10, "status": "active"})).await;
    let item_id = id_of(&seeded);
    let mut order_id = String::new();

    let expectations = [
        ("list-items.ok", 200),
        ("list-items.filtered", 200),
        ("list-items.offset", 400),
        ("create-item.ok", 201),
        ("create-item.invalid", 400),
        ("get-item.ok", 200),
        ("get-item.fields", 200),
        ("get-item.no-token", 401),
        ("search-items.ok", 200),
        ("reindex.ok", 200),
        ("create-order.ok", 201),
        ("list-orders.ok", 200),
        ("get-order.ok", 200),
        ("cancel-order.ok", 200),
        ("update-item.ok", 200),
        ("update-item.if-match", 412),
        ("replace-item.ok", 200),
        ("delete-item.forbidden", 403),
        ("delete-item.ok", 204),
    ];
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    let mut covered: Vec<String> = expectations.iter().map(|(name, _)| (*name).to_owned()).collect();
    covered.push("index-worker.batch".to_owned());
    covered.sort();
    assert_eq!(names, covered, "every fixture has an expectation here");

    for (name, status) in expectations {
        // Fixtures carry their own (long-lived, dev-secret) token; only placeholder ids are swapped.
        let call =
            Call::fixture_as_is(name).replacing(FIXTURE_ITEM_ID, &item_id).replacing(FIXTURE_ORDER_ID, &order_id);
        let reply = app.send(call).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
        if name == "create-order.ok" {
            order_id = id_of(&reply.body["data"]);
        }
    }

    // The worker's fixture: a real job for the seeded item and a poison message.
    let event = load_fixture("index-worker.batch").to_string().replace(FIXTURE_ITEM_ID, &item_id);
    let response = shared::worker::handle_batch(&app.app.worker, serde_json::from_str(&event).unwrap()).await;
    let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
    assert_eq!(failed, ["poison-1"]);
}
