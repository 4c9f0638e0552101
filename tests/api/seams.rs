//! Correctness where Lambda breaks it: across containers of different functions, across the SDK's
//! retries of attempts whose responses were lost, and across partial failures. Each test checks
//! what is stored (items, orders, stock, versions), not only what the client was told.

use std::time::Duration;

use serde_json::{Value, json};
use shared::App;
use shared::config::CacheConfig;

use crate::cache::redis_cache;
use crate::helpers::{Call, TestApp, id_of, spawn_app, spawn_app_with_cache};
use crate::proxy::{Fault, Rule};

fn order(item: &str, quantity: u64) -> Call {
    Call::fixture("create-order.ok").json(&json!({"lines": [{"item_id": item, "quantity": quantity}]})).by_user("bob")
}

/// The fixtures' order id, replaced by a real one.
const FIXTURE_ORDER: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3QR";

fn cancel(order_id: &str) -> Call {
    Call::fixture("cancel-order.ok").replacing(FIXTURE_ORDER, order_id).by_user("bob")
}

/// The item as stored, read by staff (who see drafts) through the test's own container.
async fn stored(test: &TestApp, id: &str) -> Value {
    test.send(Call::get(id).by("staff", "moderator")).await.body["data"].clone()
}

async fn widget(test: &TestApp, stock: u64) -> String {
    id_of(&test.create_as("alice", json!({"name": "Widget", "price": 700, "stock": stock, "status": "active"})).await)
}

/// Writes in one container (standing in for each write function), reads in another that read the
/// item before each write: every read after a 2xx write sees it.
async fn reads_in_another_container_see_every_write(cache: CacheConfig) {
    let test = spawn_app_with_cache(cache).await;
    let writer = test.container();
    let reader = test.container();
    let id = widget(&test, 5).await;
    let read = |who: &'static str| reader_get(&test, &reader, id.clone(), who);

    assert_eq!(read("alice").await.1["price"], 700, "the reader has now seen (and may cache) the item");
    let patched = test.send_to(&writer, Call::update(&id, json!({"price": 701})).by_user("alice")).await;
    assert_eq!(patched.status, 200);
    assert_eq!(read("alice").await.1["price"], 701, "PATCH");

    let body = json!({"name": "Widget II", "price": 700, "stock": 5, "status": "active"});
    assert_eq!(test.send_to(&writer, Call::replace(&id, body).by_user("alice")).await.status, 200);
    assert_eq!(read("alice").await.1["name"], "Widget II", "PUT");

    let placed = test.send_to(&writer, order(&id, 1)).await;
    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(read("alice").await.1["stock"], 4, "an order takes stock");

    let order_id = placed.body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(test.send_to(&writer, cancel(&order_id)).await.status, 200);
    assert_eq!(read("alice").await.1["stock"], 5, "a cancel returns it");

    assert_eq!(read("bob").await.0, 200, "bob sees alice's active item");
    test.send_to(&writer, Call::update(&id, json!({"status": "draft"})).by_user("alice")).await;
    assert_eq!(read("bob").await.0, 404, "now alice's draft: hidden from bob");
    assert_eq!(read("alice").await.1["status"], "draft");

    assert_eq!(test.send_to(&writer, Call::delete(&id).by("staff", "moderator")).await.status, 204);
    assert_eq!(read("alice").await.0, 404, "DELETE");
}

async fn reader_get(test: &TestApp, reader: &App, id: String, who: &str) -> (u16, Value) {
    let reply = test.send_to(reader, Call::get(&id).by_user(who)).await;
    (reply.status, reply.body["data"].clone())
}

#[tokio::test]
async fn by_default_reads_in_another_container_see_every_write() {
    reads_in_another_container_see_every_write(CacheConfig::off()).await;
}

#[tokio::test]
async fn with_redis_reads_in_another_container_see_every_write() {
    reads_in_another_container_see_every_write(redis_cache()).await;
}

/// The race a cache-aside delete loses: a reader reads the old item, a write lands and clears the
/// cache, then the reader's fill puts the old item back for the whole TTL.
#[tokio::test]
async fn with_redis_a_read_that_straddles_a_write_leaves_no_stale_copy() {
    let test = spawn_app_with_cache(redis_cache()).await;
    let (proxy, slow_reader) = test.behind_fault_proxy().await;
    let writer = test.container();
    let id = widget(&test, 5).await;
    // The reader's GetItem is answered by moto at once, but the answer reaches it only later.
    proxy.inject(Rule::on("GetItem").containing(&id).fault(Fault::DelayResponse(Duration::from_millis(700))));

    let read = test.send_to(&slow_reader, Call::get(&id));
    let write = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        test.send_to(&writer, Call::update(&id, json!({"price": 701}))).await
    };
    let (read, written) = tokio::join!(read, write);

    assert_eq!(proxy.fired(), 1);
    assert_eq!((read.body["data"]["price"].clone(), written.status), (json!(700), 200), "the read began first");
    let later = reader_get(&test, &test.container(), id.clone(), "alice").await;
    assert_eq!(later.1["price"], 701, "no container is served the copy read before the write");
}

#[tokio::test]
async fn a_writer_that_cannot_reach_redis_writes_nothing_and_readers_stay_exact() {
    let test = spawn_app_with_cache(redis_cache()).await;
    let reader = test.container();
    let id = widget(&test, 5).await;
    assert_eq!(reader_get(&test, &reader, id.clone(), "alice").await.1["price"], 700, "cached by the reader");
    let cut_off =
        test.container_with_cache(CacheConfig { redis_url: Some("redis://127.0.0.1:1".to_owned()), ..redis_cache() });

    let patch = test.send_to(&cut_off, Call::update(&id, json!({"price": 1})).by_user("alice")).await;
    let placed = test.send_to(&cut_off, order(&id, 1)).await;

    assert_eq!((patch.status, patch.header("retry-after")), (503, Some("1")));
    assert_eq!(placed.status, 503);
    let item = stored(&test, &id).await;
    assert_eq!(
        (item["price"].clone(), item["stock"].clone(), item["version"].clone()),
        (json!(700), json!(5), json!(1))
    );
    assert_eq!(test.count_sort_keys("ORDER").await, 0, "no order");
    assert_eq!(reader_get(&test, &reader, id.clone(), "alice").await.1, item, "the reader's copy is the truth");
}

// ---- lost responses: the first attempt commits, its answer never arrives, the SDK sends again ----

#[tokio::test]
async fn a_create_whose_response_was_lost_is_a_201_with_one_item() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    proxy.inject(Rule::on("PutItem").containing("Lost lamp").fault(Fault::DropResponse));

    let created = test.send_to(&app, Call::create(json!({"name": "Lost lamp", "price": 3}))).await;

    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(proxy.fired(), 1, "the response of the committed attempt was lost");
    assert_eq!(test.item_count().await, 1, "one item");
    assert_eq!(stored(&test, &id_of(&created.body["data"])).await, created.body["data"]);
}

#[tokio::test]
async fn a_keyed_create_whose_response_was_lost_is_a_201_with_one_item_and_its_record() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    // Whichever call carries the item (here the item and its record share one transaction).
    proxy.inject(Rule::on("*").containing("Lost lamp").fault(Fault::DropResponse));
    let create = || Call::create(json!({"name": "Lost lamp", "price": 3})).header("idempotency-key", "lamp-1");

    let created = test.send_to(&app, create()).await;
    let retried = test.send(create()).await;

    assert_eq!((created.status, retried.status), (201, 201), "{:?}", created.body);
    assert_eq!(proxy.fired(), 1);
    assert_eq!(retried.body, created.body, "the record was stored with the item");
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(test.item_count().await, 1);
}

#[tokio::test]
async fn conditional_writes_whose_responses_were_lost_are_recognised_as_ours() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    let lose_one_response = || proxy.inject(Rule::on("UpdateItem").containing(&id).fault(Fault::DropResponse));

    lose_one_response();
    let patched = test.send_to(&app, Call::update(&id, json!({"price": 701})).header("if-match", "\"1\"")).await;
    assert_eq!(proxy.fired(), 1, "one lost response, then the resend's answer arrives");
    lose_one_response();
    let unguarded = test.send_to(&app, Call::update(&id, json!({"price": 702}))).await;
    lose_one_response();
    let replaced = test
        .send_to(
            &app,
            Call::replace(&id, json!({"name": "W", "price": 703, "stock": 5, "status": "active"}))
                .header("if-match", "\"3\""),
        )
        .await;

    assert_eq!((patched.status, patched.header("etag")), (200, Some("\"2\"")), "not a 412: {:?}", patched.body);
    assert_eq!((unguarded.status, unguarded.header("etag")), (200, Some("\"3\"")), "applied once, not twice");
    assert_eq!((replaced.status, replaced.header("etag")), (200, Some("\"4\"")));
    assert_eq!(proxy.fired(), 3);
    let item = stored(&test, &id).await;
    assert_eq!((item["price"].clone(), item["version"].clone()), (json!(703), json!(4)));
}

#[tokio::test]
async fn a_delete_whose_response_was_lost_is_a_204() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").containing(&id).fault(Fault::DropResponse));

    let deleted = test.send_to(&app, Call::delete(&id).by("staff", "moderator").header("if-match", "\"1\"")).await;

    assert_eq!(deleted.status, 204, "not a 404: {:?}", deleted.body);
    assert_eq!(proxy.fired(), 1);
    assert_eq!(test.item_count().await, 0);
    assert_eq!(test.count_sort_keys("DELETED").await, 1, "one tombstone for the index");
}

#[tokio::test]
async fn an_order_whose_response_was_lost_is_placed_once() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").containing(&id).fault(Fault::DropResponse));

    let placed = test.send_to(&app, order(&id, 2)).await;

    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(proxy.fired(), 1);
    assert_eq!(test.count_sort_keys("ORDER").await, 1, "one order");
    assert_eq!(test.count_sort_keys("LINE#").await, 1, "one line");
    assert_eq!(stored(&test, &id).await["stock"], 3, "stock taken once");
}

#[tokio::test]
async fn a_cancel_whose_response_was_lost_returns_the_stock_once() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    let placed = test.send(order(&id, 2)).await;
    let order_id = placed.body["data"]["id"].as_str().unwrap().to_owned();
    proxy.inject(Rule::on("TransactWriteItems").containing(&order_id).fault(Fault::DropResponse));

    let cancelled = test.send_to(&app, cancel(&order_id)).await;

    assert_eq!(cancelled.status, 200, "not a 409: {:?}", cancelled.body);
    assert_eq!(cancelled.body["data"]["status"], "cancelled");
    assert_eq!(proxy.fired(), 1);
    assert_eq!(stored(&test, &id).await["stock"], 5, "returned once");
}

// ---- the client saw a failure after the effect committed, and retries with its key ----

#[tokio::test]
async fn a_keyed_create_committed_behind_a_504_is_not_repeated_by_the_clients_retry() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    // Every attempt's answer is lost until the invocation's time runs out: the first committed.
    proxy.inject(Rule::on("*").containing("Lamp once").times(1000).fault(Fault::DropResponse));
    let keyed = || Call::create(json!({"name": "Lamp once", "price": 3})).header("idempotency-key", "lamp-2");

    let failed = test.send_to(&app, keyed().deadline_in(Duration::from_secs(3))).await;
    let retried = test.send(keyed()).await;

    assert_eq!((failed.status, failed.error_code()), (504, "outcome_unknown"), "{:?}", failed.body);
    assert_eq!(retried.status, 201);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(test.item_count().await, 1, "one item");
}

// ---- a busy store: 503 with Retry-After, nothing half-written ----

fn cancelled_by(codes: &[&str]) -> Fault {
    let reasons: Vec<Value> = codes.iter().map(|code| json!({"Code": code, "Message": "injected"})).collect();
    let body = json!({
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons",
        "CancellationReasons": reasons,
    });
    Fault::Respond { status: 400, body: body.to_string() }
}

#[tokio::test]
async fn a_transaction_cancelled_for_throttling_is_a_503_and_writes_nothing() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").fault(cancelled_by(&["None", "None", "ThrottlingError"])));

    let placed = test.send_to(&app, order(&id, 2)).await;

    assert_eq!((placed.status, placed.header("retry-after")), (503, Some("1")), "{:?}", placed.body);
    assert_eq!(test.count_sort_keys("ORDER").await, 0);
    assert_eq!(stored(&test, &id).await["stock"], 5);
}

#[tokio::test]
async fn a_cancel_that_keeps_conflicting_is_a_503_and_changes_nothing() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    let placed = test.send(order(&id, 2)).await;
    let order_id = placed.body["data"]["id"].as_str().unwrap().to_owned();
    proxy.inject(Rule::on("TransactWriteItems").times(100).fault(cancelled_by(&["TransactionConflict", "None"])));

    let cancelled = test.send_to(&app, cancel(&order_id)).await;

    assert_eq!((cancelled.status, cancelled.header("retry-after")), (503, Some("1")), "{:?}", cancelled.body);
    assert!(proxy.fired() > 1, "conflicts are retried first");
    let order = test.send(Call::fixture("get-order.ok").replacing(FIXTURE_ORDER, &order_id).by_user("bob")).await;
    assert_eq!(order.body["data"]["status"], "placed");
    assert_eq!(stored(&test, &id).await["stock"], 3);
}
