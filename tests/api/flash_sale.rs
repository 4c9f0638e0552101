//! A split item (`stock_buckets` > 1): orders draw from its counters, never more than the stock,
//! across containers; cancels return units to the counters they came from; `If-Match` still sees
//! every order; splitting and unsplitting keep every unit.

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::helpers::{Call, TestApp, id_of, spawn_app};

fn order(item: &str, quantity: u64) -> Call {
    Call::fixture("create-order.ok")
        .without_header("idempotency-key")
        .json(&json!({ "lines": [{"item_id": item, "quantity": quantity}] }))
}

fn cancel(order_id: &str) -> Call {
    Call::fixture("cancel-order.ok").replacing("01JDQ3G9X2V0Y8M6K4T5R7N3QR", order_id).by_user("alice")
}

async fn item_as_seen(app: &TestApp, id: &str) -> Value {
    let reply = app.send(Call::get(id).by("staff", "moderator")).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["data"].clone()
}

async fn split_item(app: &TestApp, stock: u64, buckets: u64) -> String {
    let body =
        json!({"name": "Console", "price": 49_900, "stock": stock, "status": "active", "stock_buckets": buckets});
    id_of(&app.create_as("seller", body).await)
}

/// Every stored record whose `attribute` (a key) starts with `prefix`, over all scan pages.
async fn records_where(app: &TestApp, attribute: &str, prefix: &str) -> Vec<HashMap<String, AttributeValue>> {
    app.dynamo
        .scan()
        .table_name(&app.table)
        .filter_expression("begins_with(#key, :prefix)")
        .expression_attribute_names("#key", attribute)
        .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned()))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("scan")
}

fn whole_number(record: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    record[name].as_n().expect("a number").parse().expect("an integer")
}

/// Each stored counter of `item`: (counter number, stock, draws).
async fn counters(app: &TestApp, item: &str) -> Vec<(u64, u64, u64)> {
    let mut found: Vec<_> = records_where(app, "pk", &format!("STOCK#{item}#"))
        .await
        .iter()
        .map(|record| (whole_number(record, "counter"), whole_number(record, "stock"), whole_number(record, "draws")))
        .collect();
    found.sort();
    found
}

/// The `stock_draws` stored with each order line: (counter, quantity) pairs per line.
async fn stored_draws(app: &TestApp) -> Vec<Vec<(u64, u64)>> {
    let lines = records_where(app, "sk", "LINE#").await;
    lines
        .iter()
        .map(|line| {
            let draws = line.get("stock_draws").and_then(|v| v.as_l().ok()).cloned().unwrap_or_default();
            draws
                .iter()
                .map(|draw| {
                    let draw = draw.as_m().expect("a draw is a map");
                    (whole_number(draw, "counter"), whole_number(draw, "quantity"))
                })
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a load test: infra/test.sh runs it alone, after the rest, so its load on moto cannot slow other tests"]
async fn a_thousand_buyers_across_containers_get_exactly_the_three_hundred_units() {
    let app = spawn_app().await;
    let item = split_item(&app, 300, 16).await;
    assert_eq!(counters(&app, &item).await.len(), 16, "one counter per bucket");
    let containers: Vec<_> = (0..4).map(|_| Arc::new(app.container())).collect();
    // All 1,000 buyers start at once; moto answers one request at a time, so at most 64 are in
    // flight (more would only queue past the SDK's attempt timeout, here, not in DynamoDB).
    let in_flight = Arc::new(Semaphore::new(64));

    let mut buyers = JoinSet::new();
    for n in 0..1000 {
        let (app, item, container, in_flight) =
            (app.clone(), item.clone(), containers[n % 4].clone(), in_flight.clone());
        buyers.spawn(async move {
            // A real client: a 503 or 504 is retried with the same key, so it is never placed twice.
            let call =
                || order(&item, 1).header("idempotency-key", &format!("flash-{n}")).by_user(&format!("buyer-{n}"));
            for _ in 0..20 {
                let reply = {
                    let _slot = in_flight.acquire().await.expect("semaphore open");
                    app.send_to(&container, call()).await
                };
                if ![503, 504].contains(&reply.status) {
                    return (reply.status, reply.error_code().to_owned(), reply.bad_fields());
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            (503, "still busy".to_owned(), Vec::new())
        });
    }
    let mut outcomes = Vec::new();
    while let Some(outcome) = buyers.join_next().await {
        outcomes.push(outcome.expect("buyer task"));
    }

    let sold = outcomes.iter().filter(|(status, ..)| *status == 201).count();
    let refused: Vec<_> = outcomes.iter().filter(|(status, ..)| *status != 201).collect();
    assert_eq!(sold, 300, "exactly the stock is sold");
    assert!(
        refused.iter().all(|(status, code, fields)| *status == 409
            && code == "order_rejected"
            && *fields == [("lines[0]".to_owned(), "out_of_stock".to_owned())]),
        "every other buyer is told it is sold out: {:?}",
        refused.iter().find(|(status, ..)| *status != 409)
    );
    let seen = item_as_seen(&app, &item).await;
    assert_eq!(seen["stock"], 0);
    assert_eq!(seen["version"], 1 + 300, "each sale advanced the version");
    assert_eq!(app.count_sort_keys("ORDER").await, 300);
    assert_eq!(app.count_sort_keys("LINE#").await, 300);
    let left = counters(&app, &item).await;
    assert_eq!(left.iter().map(|(_, stock, _)| stock).sum::<u64>(), 0, "no counter left with stock");
    assert_eq!(left.iter().map(|(.., draws)| draws).sum::<u64>(), 300, "one draw per sale");
    let draws = stored_draws(&app).await;
    assert!(draws.iter().all(|line| line.len() == 1 && line[0].1 == 1), "each line records its one counter");
    let mut per_counter = HashMap::new();
    for line in &draws {
        *per_counter.entry(line[0].0).or_insert(0_u64) += 1;
    }
    for (counter, _, draws) in &left {
        assert_eq!(per_counter.get(counter).copied().unwrap_or(0), *draws, "lines name the counters drawn");
    }
}

#[tokio::test]
async fn a_line_larger_than_any_counter_spans_counters_and_its_cancel_puts_each_unit_back() {
    let app = spawn_app().await;
    let item = split_item(&app, 8, 4).await;
    assert_eq!(counters(&app, &item).await, [(0, 2, 0), (1, 2, 0), (2, 2, 0), (3, 2, 0)]);

    let placed = app.send(order(&item, 3).by_user("alice")).await;

    assert_eq!(placed.status, 201, "{:?}", placed.body);
    let after_order = counters(&app, &item).await;
    assert_eq!(after_order.iter().map(|(_, stock, _)| stock).sum::<u64>(), 5);
    let draws = &stored_draws(&app).await[0];
    assert_eq!(draws.iter().map(|(_, quantity)| quantity).sum::<u64>(), 3);
    assert_eq!(draws.len(), 2, "two counters of 2 serve 3 units: {draws:?}");
    assert_eq!(item_as_seen(&app, &item).await["stock"], 5);
    assert!(placed.body["data"]["lines"][0].get("stock_draws").is_none(), "clients never see the counters");

    let cancelled = app.send(cancel(&id_of(&placed.body["data"]))).await;

    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    let stocks: Vec<u64> = counters(&app, &item).await.iter().map(|(_, stock, _)| *stock).collect();
    assert_eq!(stocks, [2, 2, 2, 2], "each unit went back to the counter it came from");
    let seen = item_as_seen(&app, &item).await;
    assert_eq!((seen["stock"].as_u64(), seen["version"].as_u64()), (Some(8), Some(1 + 2 + 2)));
}

#[tokio::test]
async fn if_match_fails_after_an_order_on_a_split_item_as_on_any_other() {
    let app = spawn_app().await;
    let item = split_item(&app, 10, 4).await;
    let read = item_as_seen(&app, &item).await;
    let etag = format!("\"{}\"", read["version"]);

    assert_eq!(app.send(order(&item, 1)).await.status, 201);
    let stale =
        app.send(Call::update(&item, json!({"stock": 10})).by("seller", "user").header("if-match", &etag)).await;

    assert_eq!(stale.status, 412, "the order changed the item since it was read: {:?}", stale.body);
    assert_eq!(item_as_seen(&app, &item).await["stock"], 9, "the stale write did not bring the unit back");
    let fresh = item_as_seen(&app, &item).await;
    let current = format!("\"{}\"", fresh["version"]);
    let write = app
        .send(
            Call::update(&item, json!({"stock": 20, "price": 45_000}))
                .by("seller", "user")
                .header("if-match", &current),
        )
        .await;
    assert_eq!(write.status, 200, "{:?}", write.body);
    assert_eq!(write.body["data"]["version"].as_u64(), fresh["version"].as_u64().map(|v| v + 1));
    let stocks: Vec<u64> = counters(&app, &item).await.iter().map(|(_, stock, _)| *stock).collect();
    assert_eq!(stocks, [5, 5, 5, 5], "a stock write spreads over the counters");
    let repriced = app.send(order(&item, 1)).await;
    assert_eq!(repriced.status, 201, "{:?}", repriced.body);
    assert_eq!(repriced.body["data"]["total"], 45_000, "the counters carry the new price");
}

#[tokio::test]
async fn splitting_and_unsplitting_keep_every_unit_and_versions_only_grow() {
    let app = spawn_app().await;
    let item =
        id_of(&app.create_as("seller", json!({"name": "Lamp", "price": 100, "stock": 10, "status": "active"})).await);
    let mut versions = vec![item_as_seen(&app, &item).await["version"].as_u64().expect("version")];
    let mut version_now = async |app: &TestApp| {
        let version = item_as_seen(app, &item).await["version"].as_u64().expect("version");
        versions.push(version);
        version
    };
    let before_split = app.send(order(&item, 2).by_user("alice")).await;
    assert_eq!(before_split.status, 201);
    version_now(&app).await;

    let split = app.send(Call::update(&item, json!({"stock_buckets": 4})).by("seller", "user")).await;

    assert_eq!(split.status, 200, "{:?}", split.body);
    assert_eq!(
        (split.body["data"]["stock"].as_u64(), split.body["data"]["stock_buckets"].as_u64()),
        (Some(8), Some(4))
    );
    assert_eq!(counters(&app, &item).await.iter().map(|(_, stock, _)| stock).sum::<u64>(), 8);
    version_now(&app).await;
    assert_eq!(app.send(order(&item, 1)).await.status, 201);
    version_now(&app).await;
    // Placed before the split: its units go to a counter that exists now.
    assert_eq!(app.send(cancel(&id_of(&before_split.body["data"]))).await.status, 200);
    assert_eq!(item_as_seen(&app, &item).await["stock"], 9);
    version_now(&app).await;

    let unsplit = app.send(Call::update(&item, json!({"stock_buckets": 1})).by("seller", "user")).await;

    assert_eq!(unsplit.status, 200, "{:?}", unsplit.body);
    assert_eq!(unsplit.body["data"]["stock"], 9);
    assert!(counters(&app, &item).await.is_empty(), "no counters left behind");
    version_now(&app).await;
    assert_eq!(app.send(order(&item, 1)).await.status, 201);
    assert_eq!(item_as_seen(&app, &item).await["stock"], 8, "the stock is back on the item");
    version_now(&app).await;
    assert!(versions.windows(2).all(|pair| pair[0] < pair[1]), "versions only grow: {versions:?}");
}

#[tokio::test]
async fn a_split_item_lists_searches_and_deletes_as_one_item() {
    let app = spawn_app().await;
    let item = split_item(&app, 12, 3).await;
    assert_eq!(app.send(order(&item, 5)).await.status, 201);

    let page = app.send(Call::list().query("fields", "id,stock,stock_buckets").by("staff", "moderator")).await;
    let listed: Vec<&Value> =
        page.body["data"].as_array().expect("a page").iter().filter(|v| v["id"] == item.as_str()).collect();
    assert_eq!(listed, [&json!({"id": item, "stock": 7, "stock_buckets": 3})], "the listing sums the counters");
    let only_stock = app.send(Call::get(&item).query("fields", "stock").by("staff", "moderator")).await;
    assert_eq!(only_stock.body["data"], json!({"stock": 7}), "the counters' sum, even without the id asked for");
    let only_name = app.send(Call::get(&item).query("fields", "name").by("staff", "moderator")).await;
    assert_eq!(only_name.body["data"], json!({"name": "Console"}), "what was not asked for stays out");

    let deleted = app.send(Call::delete(&item).by("boss", "admin")).await;

    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert!(counters(&app, &item).await.is_empty(), "the counters went with the item");
    let late = app.send(order(&item, 1)).await;
    assert_eq!(late.bad_fields(), [("lines[0]".to_owned(), "not_found".to_owned())]);
}

#[tokio::test]
async fn stock_buckets_out_of_range_is_a_400_naming_the_field() {
    let app = spawn_app().await;
    for bad in [json!(0), json!(33), json!("4"), json!(2.5), json!(-1)] {
        let body = json!({"name": "Lamp", "price": 100, "stock_buckets": bad});
        let reply = app.send(Call::create(body).by("seller", "user")).await;
        assert_eq!(reply.status, 400, "{bad}: {:?}", reply.body);
        assert_eq!(reply.bad_fields().first().map(|(field, _)| field.as_str()), Some("stock_buckets"), "{bad}");
    }
    assert_eq!(app.item_count().await, 0, "nothing was written");
}

#[tokio::test]
async fn a_split_item_sold_before_its_index_job_runs_is_indexed_once_and_leaves_nothing_pending() {
    let app = spawn_app().await;
    let item = split_item(&app, 10, 4).await;
    assert_eq!(app.send(order(&item, 1)).await.status, 201, "a draw before the worker runs");

    assert_eq!(app.run_index_worker().await, (1, 0));

    let record = app
        .dynamo
        .get_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(format!("ITEM#{item}")))
        .key("sk", AttributeValue::S("ITEM".to_owned()))
        .consistent_read(true)
        .send()
        .await
        .expect("get item record");
    let record = record.item().expect("the item record");
    assert!(!record.contains_key("index_pending"), "indexed: the marker is gone, so reindex skips it");
    let reply = app.send(Call::fixture("search-items.ok").set_query("q", "Console").set_query("limit", "10")).await;
    assert_eq!(reply.body["data"][0]["id"], item.as_str(), "{:?}", reply.body);
    assert_eq!(reply.body["data"][0]["stock"], 9, "results carry the counters' stock");
}
