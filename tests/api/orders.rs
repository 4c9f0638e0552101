//! Orders: one transaction per placement, correct under concurrency; cancel exactly once.

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{Call, TestApp, id_of, spawn_app};

fn place(lines: Value) -> Call {
    Call::fixture("create-order.ok").without_header("idempotency-key").json(&json!({ "lines": lines }))
}

async fn stock_of(app: &TestApp, id: &str) -> u64 {
    app.send(Call::get(id).by("staff", "moderator")).await.body["data"]["stock"].as_u64().expect("stock")
}

async fn active_item(app: &TestApp, price: u64, stock: u64) -> String {
    id_of(&app.create_as("seller", json!({"name": "Widget", "price": price, "stock": stock, "status": "active"})).await)
}

#[tokio::test]
async fn placing_an_order_prices_it_from_the_store_and_takes_stock() {
    let app = spawn_app().await;
    let lamp = active_item(&app, 1999, 5).await;
    let pen = active_item(&app, 150, 100).await;

    let reply = app
        .send(place(json!([{"item_id": lamp, "quantity": 2}, {"item_id": pen, "quantity": 10}])).by_user("olga"))
        .await;

    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let order = &reply.body["data"];
    assert_eq!(order["total"], 2 * 1999 + 10 * 150);
    assert_eq!(order["status"], "placed");
    assert_eq!(order["owner_id"], "olga");
    assert_eq!(order["line_count"], 2);
    assert_eq!(order["lines"][1]["unit_price"], 150);
    assert_eq!(order["lines"][1]["line_total"], 1500);
    assert_eq!(reply.header("location"), Some(format!("/api/orders/{}", id_of(order)).as_str()));
    assert_eq!(stock_of(&app, &lamp).await, 3);
    assert_eq!(stock_of(&app, &pen).await, 90);
}

#[tokio::test]
async fn a_client_cannot_set_prices_or_totals() {
    let app = spawn_app().await;
    let lamp = active_item(&app, 1999, 5).await;

    let reply = app
        .send(Call::fixture("create-order.ok").json(&json!({
            "lines": [{"item_id": lamp, "quantity": 1, "unit_price": 1}], "total": 1
        })))
        .await;

    assert_eq!(reply.status, 400);
    assert_eq!(
        reply.bad_fields(),
        [("lines[0].unit_price".into(), "unknown_field".into()), ("total".into(), "unknown_field".into())]
    );
    assert_eq!(stock_of(&app, &lamp).await, 5);
}

#[tokio::test]
async fn an_order_whose_total_would_pass_the_largest_amount_is_a_409_and_takes_nothing() {
    let app = spawn_app().await;
    let dear = active_item(&app, 9_007_199_254_740_991, 5).await;

    // Schema-valid (the quantity is in range); only today's price makes it impossible.
    let reply = app.send(place(json!([{"item_id": dear, "quantity": 2}]))).await;

    assert_eq!((reply.status, reply.error_code()), (409, "order_rejected"), "{:?}", reply.body);
    assert_eq!(reply.bad_fields(), [("lines".into(), "total_too_large".into())]);
    assert_eq!(stock_of(&app, &dear).await, 5);
    assert_eq!(app.count_sort_keys("ORDER").await, 0, "no order placed");
}

#[tokio::test]
async fn an_unfulfillable_third_line_rejects_the_whole_order() {
    let app = spawn_app().await;
    let first = active_item(&app, 100, 10).await;
    let second = active_item(&app, 200, 10).await;
    let third = active_item(&app, 300, 1).await;

    let reply = app
        .send(place(json!([
            {"item_id": first, "quantity": 1}, {"item_id": second, "quantity": 2}, {"item_id": third, "quantity": 5}
        ])))
        .await;

    assert_eq!((reply.status, reply.error_code()), (409, "order_rejected"), "{:?}", reply.body);
    assert_eq!(reply.bad_fields(), [("lines[2]".into(), "out_of_stock".into())]);
    assert!(reply.body["error"]["details"][0]["message"].as_str().unwrap().starts_with("line 3"));
    assert_eq!(
        (stock_of(&app, &first).await, stock_of(&app, &second).await, stock_of(&app, &third).await),
        (10, 10, 1)
    );
    assert_eq!(app.count_sort_keys("ORDER").await, 0, "no order was stored");
    assert_eq!(app.count_sort_keys("LINE#").await, 0, "no order line was stored");
}

#[tokio::test]
async fn inactive_missing_and_hidden_items_are_named_per_line() {
    let app = spawn_app().await;
    let archived =
        id_of(&app.create_as("seller", json!({"name": "Old", "price": 1, "stock": 5, "status": "archived"})).await);
    let someone_elses_draft = id_of(&app.create_as("seller", json!({"name": "Draft", "price": 1, "stock": 5})).await);

    let reply = app
        .send(place(json!([
            {"item_id": archived, "quantity": 1},
            {"item_id": "01JDQ3G9X2V0Y8M6K4T5R7N3PA", "quantity": 1},
            {"item_id": someone_elses_draft, "quantity": 1},
        ])))
        .await;

    assert_eq!(reply.status, 409);
    // Missing and invisible items are found before any write; the archived one only by the
    // transaction, so the first answer names the lines known not to exist.
    assert_eq!(reply.bad_fields(), [("lines[1]".into(), "not_found".into()), ("lines[2]".into(), "not_found".into())]);

    let only_archived = app.send(place(json!([{"item_id": archived, "quantity": 1}]))).await;
    assert_eq!(only_archived.bad_fields(), [("lines[0]".into(), "not_active".into())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty() {
    let app = spawn_app().await;
    let item = active_item(&app, 500, 50).await;

    let mut buyers = JoinSet::new();
    for n in 0..200 {
        let (app, item) = (app.clone(), item.clone());
        buyers.spawn(async move {
            app.send(place(json!([{"item_id": item, "quantity": 1}])).by_user(&format!("buyer-{n}"))).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = buyers.join_next().await {
        statuses.push(status.expect("buyer task"));
    }

    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 50);
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 150);
    assert_eq!(stock_of(&app, &item).await, 0, "never negative, never left over");
    assert_eq!(app.count_sort_keys("ORDER").await, 50);
}

#[tokio::test]
async fn cancelling_returns_stock_once_and_a_second_cancel_is_a_409() {
    let app = spawn_app().await;
    let item = active_item(&app, 100, 10).await;
    let order = app.send(place(json!([{"item_id": item, "quantity": 4}]))).await;
    let order_id = id_of(&order.body["data"]);
    assert_eq!(stock_of(&app, &item).await, 6);

    let cancel = app.send(cancel_call(&order_id)).await;
    let again = app.send(cancel_call(&order_id)).await;

    assert_eq!(cancel.status, 200, "{:?}", cancel.body);
    assert_eq!(cancel.body["data"]["status"], "cancelled");
    assert_eq!((again.status, again.error_code()), (409, "already_cancelled"));
    assert_eq!(stock_of(&app, &item).await, 10);
}

fn cancel_call(order_id: &str) -> Call {
    Call::fixture("cancel-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", order_id).by_user("alice")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cancels_restore_stock_exactly_once() {
    let app = spawn_app().await;
    let item = active_item(&app, 100, 10).await;
    let order = app.send(place(json!([{"item_id": item, "quantity": 3}]))).await;
    let order_id = id_of(&order.body["data"]);

    let (first, second) = tokio::join!(app.send(cancel_call(&order_id)), app.send(cancel_call(&order_id)));

    let mut statuses = [first.status, second.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    assert_eq!(stock_of(&app, &item).await, 10, "3 units came back once, not twice");
}

#[tokio::test]
async fn orders_are_private_to_their_owner_and_staff() {
    let app = spawn_app().await;
    let item = active_item(&app, 100, 10).await;
    let order = app.send(place(json!([{"item_id": item, "quantity": 1}])).by_user("alice")).await;
    let order_id = id_of(&order.body["data"]);
    let get = |who: &str, role: &str| {
        Call::fixture("get-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", &order_id).by(who, role)
    };

    let owner = app.send(get("alice", "user")).await;
    let stranger = app.send(get("bob", "user")).await;
    let stranger_cancel = app.send(cancel_call(&order_id).by_user("bob")).await;
    let moderator = app.send(get("mia", "moderator")).await;

    assert_eq!(owner.status, 200);
    assert_eq!(
        owner.body["data"]["lines"][0]["item"],
        json!({"id": item, "name": "Widget", "status": "active", "price": 100})
    );
    assert_eq!(stranger.status, 404);
    assert_eq!(stranger_cancel.status, 404);
    assert_eq!(moderator.status, 200);
    assert_eq!(stock_of(&app, &item).await, 9, "the stranger's cancel changed nothing");
}

#[tokio::test]
async fn listing_orders_shows_the_callers_newest_first_across_pages() {
    let app = spawn_app().await;
    let item = active_item(&app, 100, 100).await;
    let mut mine = Vec::new();
    for _ in 0..5 {
        mine.push(id_of(
            &app.send(place(json!([{"item_id": item, "quantity": 1}])).by_user("alice")).await.body["data"],
        ));
    }
    app.send(place(json!([{"item_id": item, "quantity": 1}])).by_user("bob")).await;

    let first = app.send(Call::fixture("list-orders.ok").by_user("alice").set_query("limit", "3")).await;
    let cursor = first.body["page"]["next_cursor"].as_str().expect("a second page").to_owned();
    let second = app
        .send(Call::fixture("list-orders.ok").by_user("alice").set_query("limit", "3").query("cursor", &cursor))
        .await;

    let ids: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|reply| reply.body["data"].as_array().unwrap().iter().map(id_of).collect::<Vec<_>>())
        .collect();
    mine.reverse();
    assert_eq!(ids, mine, "alice's five orders, newest first, none of bob's");
    assert_eq!(second.body["page"]["next_cursor"], Value::Null);
}
