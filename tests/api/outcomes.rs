//! A 5xx that tells the truth. The store commits a write but its answer comes too late or never
//! (a queued request, a lost response): the function learns the outcome before answering, and
//! answers 503 only when nothing was written, 504 `outcome_unknown` when it could not learn it.
//! Each test checks what is stored against what the client was told.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use shared::App;

use crate::helpers::{Call, Dice, Reply, TestApp, id_of, spawn_app};
use crate::proxy::{Fault, FaultProxy, Rule};

/// Longer than a write attempt may take (1.5 s), and three of them longer than the whole operation
/// the SDK used to allow (4 s): the committed write's answer arrives after the client gave up on it.
const LATE: Fault = Fault::DelayResponse(Duration::from_millis(2000));

/// The fixtures' order id, replaced by a real one.
const FIXTURE_ORDER: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3QR";

async fn widget(test: &TestApp, stock: u64) -> String {
    id_of(&test.create_as("alice", json!({"name": "Widget", "price": 700, "stock": stock, "status": "active"})).await)
}

fn order(lines: &[(&str, u64)]) -> Call {
    let lines: Vec<Value> =
        lines.iter().map(|(item, quantity)| json!({"item_id": item, "quantity": quantity})).collect();
    Call::fixture("create-order.ok").json(&json!({ "lines": lines })).by_user("bob")
}

fn cancel(order_id: &str) -> Call {
    Call::fixture("cancel-order.ok").replacing(FIXTURE_ORDER, order_id).by_user("bob")
}

/// The item as stored (staff see drafts), read around the proxy.
async fn stored(test: &TestApp, id: &str) -> Value {
    test.send(Call::get(id).by("staff", "moderator")).await.body["data"].clone()
}

fn order_id(reply: &Reply) -> String {
    reply.body["data"]["id"].as_str().expect("an order id").to_owned()
}

// ---- every write route: committed, answered only after three attempts timed out ----

#[tokio::test]
async fn a_create_answered_after_every_timeout_is_a_201_with_one_item() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    proxy.inject(Rule::on("PutItem").containing("Slow lamp").times(3).fault(LATE));

    let created = test.send_to(&app, Call::create(json!({"name": "Slow lamp", "price": 3}))).await;

    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(proxy.fired(), 3, "three attempts' answers came too late");
    assert_eq!(test.item_count().await, 1, "one item");
    assert_eq!(stored(&test, &id_of(&created.body["data"])).await, created.body["data"]);
}

#[tokio::test]
async fn a_patch_and_a_put_answered_after_every_timeout_are_applied_once() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;

    proxy.inject(Rule::on("UpdateItem").containing(&id).times(3).fault(LATE));
    let patched = test.send_to(&app, Call::update(&id, json!({"price": 701})).header("if-match", "\"1\"")).await;
    proxy.inject(Rule::on("UpdateItem").containing(&id).times(3).fault(LATE));
    let body = json!({"name": "Widget II", "price": 702, "stock": 5, "status": "active"});
    let replaced = test.send_to(&app, Call::replace(&id, body)).await;

    assert_eq!((patched.status, patched.header("etag")), (200, Some("\"2\"")), "{:?}", patched.body);
    assert_eq!((replaced.status, replaced.header("etag")), (200, Some("\"3\"")), "{:?}", replaced.body);
    assert_eq!(proxy.fired(), 6);
    let item = stored(&test, &id).await;
    assert_eq!((item["price"].clone(), item["version"].clone()), (json!(702), json!(3)), "one bump per write");
    assert_eq!(item, replaced.body["data"], "the answer is what is stored");
}

#[tokio::test]
async fn a_delete_answered_after_every_timeout_is_a_204() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").containing(&id).times(3).fault(LATE));

    let deleted = test.send_to(&app, Call::delete(&id).by("staff", "moderator").header("if-match", "\"1\"")).await;

    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(proxy.fired(), 3);
    assert_eq!(test.item_count().await, 0);
    assert_eq!(test.count_sort_keys("DELETED").await, 1, "one tombstone for the index");
}

#[tokio::test]
async fn an_order_answered_after_every_timeout_is_a_201_placed_once() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").containing(&id).times(3).fault(LATE));

    let placed = test.send_to(&app, order(&[(&id, 2)])).await;

    assert_eq!(placed.status, 201, "{:?}", placed.body);
    assert_eq!(proxy.fired(), 3);
    assert_eq!(test.count_sort_keys("ORDER").await, 1, "one order");
    assert_eq!(test.count_sort_keys("LINE#").await, 1, "one line");
    assert_eq!(stored(&test, &id).await["stock"], 3, "stock taken once");
}

#[tokio::test]
async fn a_cancel_answered_after_every_timeout_is_a_200_returning_the_stock_once() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    let placed = order_id(&test.send(order(&[(&id, 2)])).await);
    proxy.inject(Rule::on("TransactWriteItems").containing(&placed).times(3).fault(LATE));

    let cancelled = test.send_to(&app, cancel(&placed)).await;

    assert_eq!(cancelled.status, 200, "{:?}", cancelled.body);
    assert_eq!(cancelled.body["data"]["status"], "cancelled");
    assert_eq!(proxy.fired(), 3);
    assert_eq!(stored(&test, &id).await["stock"], 5, "returned once");
}

// ---- the outcome cannot be learned in time: 504, and the client's keyed retry learns it ----

#[tokio::test]
async fn an_order_whose_answers_are_lost_until_the_deadline_is_a_504_and_a_keyed_retry_learns_it() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    proxy.inject(Rule::on("TransactWriteItems").containing(&id).times(1000).fault(Fault::DropResponse));
    let keyed = || order(&[(&id, 2)]).header("idempotency-key", "checkout-504");

    let unknown = test.send_to(&app, keyed().deadline_in(Duration::from_secs(3))).await;
    let retried = test.send(keyed()).await;

    assert_eq!((unknown.status, unknown.error_code()), (504, "outcome_unknown"), "{:?}", unknown.body);
    assert_eq!(unknown.header("retry-after"), Some("1"));
    assert!(proxy.fired() >= 2, "the lost attempt was sent again while time allowed");
    assert_eq!(retried.status, 201, "{:?}", retried.body);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"), "the first attempt had committed");
    assert_eq!(test.count_sort_keys("ORDER").await, 1, "one order");
    assert_eq!(stored(&test, &id).await["stock"], 3, "stock taken once");
}

#[tokio::test]
async fn a_write_throttled_after_a_lost_attempt_is_a_504_not_a_503() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    // The first attempt commits but its answer is lost; every resend is throttled.
    proxy.inject(Rule::on("UpdateItem").containing(&id).fault(Fault::DropResponse));
    proxy.inject(Rule::on("UpdateItem").containing(&id).times(1000).fault(Fault::Throttle));

    let patched =
        test.send_to(&app, Call::update(&id, json!({"price": 701})).deadline_in(Duration::from_secs(2))).await;

    assert_eq!((patched.status, patched.error_code()), (504, "outcome_unknown"), "{:?}", patched.body);
    assert_eq!(stored(&test, &id).await["price"], 701, "it had been applied: a 503 would have lied");
}

/// Found by the long soak (seed 7, 20,000 operations): a PATCH without `If-Match` whose first attempt
/// was held up on its way to the store (here: by the proxy, for longer than the request lasted) landed
/// after a later PATCH had been acknowledged, and overwrote it. A write without `If-Match` is now
/// conditioned on the version it read, so the straggler fails its condition.
#[tokio::test]
async fn an_attempt_that_reaches_the_store_late_cannot_overwrite_a_later_acknowledged_write() {
    let test = spawn_app().await;
    let (proxy, app) = test.behind_fault_proxy().await;
    let id = widget(&test, 5).await;
    let held = Duration::from_secs(5);
    proxy.inject(Rule::on("UpdateItem").containing("Straggler").fault(Fault::DelayRequest(held)));

    let first = test.send_to(&app, Call::update(&id, json!({"name": "Straggler"}))).await;
    assert!(matches!(first.status, 200 | 504), "its resend commits, or its outcome is unknown: {:?}", first.body);
    let second = test.send(Call::update(&id, json!({"name": "Acknowledged"}))).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let acknowledged = second.body["data"]["version"].as_u64().expect("a version");
    // The held attempt reaches the store now, after the acknowledged write.
    tokio::time::sleep(held).await;
    assert_eq!(proxy.fired(), 1, "the first attempt was held");

    let now = stored(&test, &id).await;
    assert_eq!(now["name"], "Acknowledged", "the late attempt must not overwrite it: {now}");
    assert_eq!(now["version"].as_u64(), Some(acknowledged), "{now}");
}

// ---- a 503 means nothing was written ----

#[tokio::test]
async fn every_write_route_throttled_throughout_is_a_503_that_wrote_nothing() {
    let test = spawn_app().await;
    let id = widget(&test, 5).await;
    let placed = order_id(&test.send(order(&[(&id, 1)])).await);
    let (proxy, app) = test.behind_fault_proxy().await;
    // Items are written with PutItem, UpdateItem or in a transaction; the caller's profile (its
    // own PutItem) is let through, so each create reaches its item write.
    proxy.inject(Rule::on("PutItem").containing("Never").times(1000).fault(Fault::Throttle));
    for operation in ["UpdateItem", "TransactWriteItems"] {
        proxy.inject(Rule::on(operation).times(1000).fault(Fault::Throttle));
    }
    let body = json!({"name": "W", "price": 1, "stock": 1, "status": "active"});
    let calls = [
        Call::create(json!({"name": "Never", "price": 1})),
        Call::create(json!({"name": "Never", "price": 1})).header("idempotency-key", "never-1"),
        Call::update(&id, json!({"price": 1})),
        Call::replace(&id, body).header("if-match", "\"2\""),
        Call::delete(&id).by("staff", "moderator"),
        order(&[(&id, 1)]).header("idempotency-key", "never-2"),
        cancel(&placed),
    ];

    for call in calls {
        let reply = test.send_to(&app, call).await;
        assert_eq!((reply.status, reply.header("retry-after")), (503, Some("1")), "{:?}", reply.body);
    }

    assert_eq!(test.item_count().await, 1, "no item created, none deleted");
    let item = stored(&test, &id).await;
    assert_eq!(
        (item["price"].clone(), item["stock"].clone(), item["version"].clone()),
        (json!(700), json!(4), json!(2))
    );
    assert_eq!(test.count_sort_keys("ORDER").await, 1, "no second order");
    let order = test.send(Call::fixture("get-order.ok").replacing(FIXTURE_ORDER, &placed).by_user("bob")).await;
    assert_eq!(order.body["data"]["status"], "placed", "not cancelled");
    assert_eq!(proxy.fired(), 3 * 7, "three attempts for each write, then the truth");
}

// ---- many clients, many containers, random faults: what was told is what is stored ----

const ITEMS: usize = 4;
const INITIAL_STOCK: u64 = 1000;
const CLIENTS: usize = 8;
const OPERATIONS_PER_CLIENT: usize = 40;
/// A client resends a keyed order or a cancel answered 503 or 504 this many times at most.
const CLIENT_TRIES: usize = 6;

/// What one client was told.
#[derive(Default)]
struct History {
    /// Order ids answered 201, with their lines.
    placed: HashMap<String, Vec<(usize, u64)>>,
    /// Keys whose order may exist: some attempt was answered 504 and none 201.
    unknown_orders: usize,
    /// Orders the client was told are cancelled (200, or 409 already_cancelled after a 504).
    cancelled: HashSet<String>,
    /// Orders whose cancel ended without a definite answer.
    unknown_cancels: HashSet<String>,
    /// Per item: PATCHes answered 200, and PATCHes answered 504.
    patched: [u64; ITEMS],
    unknown_patches: [u64; ITEMS],
    /// Every 5xx: (status, code, Retry-After).
    errors: Vec<(u16, String, Option<String>)>,
}

impl History {
    fn note(&mut self, reply: &Reply) {
        if reply.status >= 500 {
            self.errors.push((
                reply.status,
                reply.error_code().to_owned(),
                reply.header("retry-after").map(str::to_owned),
            ));
        }
    }
}

async fn client(test: Arc<TestApp>, containers: Arc<Vec<App>>, items: Arc<Vec<String>>, number: usize) -> History {
    let mut dice = Dice(0x2545_F491_4F6C_DD1D ^ (number as u64 + 1).wrapping_mul(0x9E37_79B9));
    let mut history = History::default();
    let mut etags = vec!["\"1\"".to_owned(); ITEMS];
    let user = format!("buyer{number}");
    let deadline = Duration::from_millis(3000);
    for step in 0..OPERATIONS_PER_CLIENT {
        let app = &containers[dice.below(containers.len() as u64) as usize];
        match dice.below(100) {
            0..40 => {
                let mut lines: Vec<(usize, u64)> = Vec::new();
                for _ in 0..=dice.below(3) {
                    let item = dice.below(ITEMS as u64) as usize;
                    if !lines.iter().any(|(taken, _)| *taken == item) {
                        lines.push((item, 1 + dice.below(3)));
                    }
                }
                let body: Vec<Value> = lines
                    .iter()
                    .map(|(item, quantity)| json!({"item_id": items[*item], "quantity": quantity}))
                    .collect();
                let call = || {
                    Call::fixture("create-order.ok")
                        .json(&json!({ "lines": body }))
                        .by_user(&user)
                        .header("idempotency-key", &format!("{user}-{step}"))
                        .deadline_in(deadline)
                };
                let mut maybe = false;
                for _ in 0..CLIENT_TRIES {
                    let reply = test.send_to(app, call()).await;
                    history.note(&reply);
                    match reply.status {
                        201 => {
                            history.placed.insert(order_id(&reply), lines.clone());
                            maybe = false;
                            break;
                        }
                        504 => maybe = true,
                        503 => {}
                        409 => break,
                        other => panic!("order answered {other}: {:?}", reply.body),
                    }
                }
                history.unknown_orders += usize::from(maybe);
            }
            40..60 => {
                let open: Vec<&String> = history
                    .placed
                    .keys()
                    .filter(|id| !history.cancelled.contains(*id) && !history.unknown_cancels.contains(*id))
                    .collect();
                let Some(target) = open.get(dice.below(open.len().max(1) as u64) as usize).map(|id| (*id).clone())
                else {
                    continue;
                };
                let call = || {
                    Call::fixture("cancel-order.ok")
                        .replacing(FIXTURE_ORDER, &target)
                        .by_user(&user)
                        .deadline_in(deadline)
                };
                let mut maybe = false;
                let mut done = false;
                for _ in 0..CLIENT_TRIES {
                    let reply = test.send_to(app, call()).await;
                    history.note(&reply);
                    match (reply.status, reply.error_code()) {
                        (200, _) => done = true,
                        // Only an earlier attempt of ours can have cancelled it.
                        (409, "already_cancelled") if maybe => done = true,
                        (504, _) => maybe = true,
                        (503, _) => continue,
                        (other, code) => panic!("cancel answered {other} {code}: {:?}", reply.body),
                    }
                    if done {
                        break;
                    }
                }
                if done {
                    history.cancelled.insert(target);
                } else if maybe {
                    history.unknown_cancels.insert(target);
                }
            }
            60..85 => {
                let item = dice.below(ITEMS as u64) as usize;
                let call = Call::update(&items[item], json!({"description": format!("{user} step {step}")}))
                    .by("staff", "moderator")
                    .header("if-match", &etags[item])
                    .deadline_in(deadline);
                let reply = test.send_to(app, call).await;
                history.note(&reply);
                match reply.status {
                    200 => {
                        history.patched[item] += 1;
                        etags[item] = reply.header("etag").expect("an ETag").to_owned();
                    }
                    504 => history.unknown_patches[item] += 1,
                    412 | 503 => {}
                    other => panic!("PATCH answered {other}: {:?}", reply.body),
                }
            }
            _ => {
                let item = dice.below(ITEMS as u64) as usize;
                let reply = test.send_to(app, Call::get(&items[item]).by_user(&user)).await;
                history.note(&reply);
                if reply.status == 200 {
                    etags[item] = reply.header("etag").expect("an ETag").to_owned();
                }
            }
        }
    }
    history
}

/// An order as stored: its owner, status and lines as (item id, quantity).
#[derive(Default)]
struct StoredOrder {
    owner: String,
    status: String,
    lines: Vec<(String, u64)>,
}

/// Every stored order by id.
async fn stored_orders(test: &TestApp) -> HashMap<String, StoredOrder> {
    let mut orders: HashMap<String, StoredOrder> = HashMap::new();
    let mut start = None;
    loop {
        let page = test
            .dynamo
            .scan()
            .table_name(&test.table)
            .filter_expression("begins_with(pk, :order)")
            .expression_attribute_values(":order", AttributeValue::S("ORDER#".to_owned()))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan orders");
        for row in page.items() {
            let text = |name: &str| row.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
            let id = text("pk").trim_start_matches("ORDER#").to_owned();
            let entry = orders.entry(id).or_default();
            if text("sk") == "ORDER" {
                entry.owner = text("owner_id");
                entry.status = text("status");
            } else {
                let quantity = row.get("quantity").and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                entry.lines.push((text("item_id"), quantity.expect("a line's quantity")));
            }
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            return orders;
        }
    }
}

#[tokio::test]
async fn mixed_traffic_under_random_faults_conserves_stock_and_every_answer_is_true() {
    let test = spawn_app().await;
    let proxy = FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL")).await;
    let mut items = Vec::new();
    for _ in 0..ITEMS {
        items.push(widget(&test, INITIAL_STOCK).await);
    }
    // Writes: committed but answered too late, committed and the answer lost; any call: throttled,
    // or the connection reset before it reached the store.
    for write in ["TransactWriteItems", "UpdateItem", "PutItem"] {
        proxy.inject(
            Rule::on(write).times(usize::MAX).sometimes(80).fault(Fault::DelayResponse(Duration::from_millis(1700))),
        );
        proxy.inject(Rule::on(write).times(usize::MAX).sometimes(50).fault(Fault::DropResponse));
    }
    proxy.inject(Rule::on("*").times(usize::MAX).sometimes(40).fault(Fault::Throttle));
    proxy.inject(Rule::on("*").times(usize::MAX).sometimes(20).fault(Fault::Reset));
    let containers = Arc::new((0..3).map(|_| test.container_via(&proxy.url())).collect::<Vec<_>>());
    let shared_items = Arc::new(items.clone());

    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| tokio::spawn(client(test.clone(), containers.clone(), shared_items.clone(), number)))
        .collect();
    let mut histories = Vec::new();
    for handle in clients {
        histories.push(handle.await.expect("a client finished"));
    }
    assert!(proxy.fired() > 20, "faults were injected: {}", proxy.fired());

    // Every 5xx is a 503 with Retry-After (nothing written) or a 504 outcome_unknown.
    for (status, code, retry_after) in histories.iter().flat_map(|h| h.errors.iter()) {
        assert!(
            matches!((*status, code.as_str()), (503, "service_unavailable") | (504, "outcome_unknown")),
            "{status} {code}"
        );
        assert_eq!(retry_after.as_deref(), Some("1"));
    }

    let orders = stored_orders(&test).await;
    for (number, history) in histories.iter().enumerate() {
        let owner = format!("buyer{number}");
        for (id, lines) in &history.placed {
            let stored = orders.get(id).unwrap_or_else(|| panic!("order {id} told 201 is stored"));
            assert_eq!(stored.owner, owner);
            assert_eq!(stored.lines.len(), lines.len(), "every line of {id}");
            let expected = if history.cancelled.contains(id) {
                Some("cancelled")
            } else if history.unknown_cancels.contains(id) {
                None
            } else {
                Some("placed")
            };
            if let Some(expected) = expected {
                assert_eq!(stored.status, expected, "order {id}");
            }
        }
        let unexplained =
            orders.iter().filter(|(id, order)| order.owner == owner && !history.placed.contains_key(*id)).count();
        assert!(
            unexplained <= history.unknown_orders,
            "{owner}: {unexplained} stored orders were never answered 201, only {} were answered 504",
            history.unknown_orders
        );
    }

    // Stock conservation from what is stored, and versions from what clients were told.
    for (index, id) in items.iter().enumerate() {
        let item = stored(&test, id).await;
        let lines_of = |wanted: &str| {
            orders
                .values()
                .filter(|order| wanted.is_empty() || order.status == wanted)
                .flat_map(|order| order.lines.iter())
                .filter(|(item_id, _)| item_id == id)
                .map(|(_, quantity)| *quantity)
                .collect::<Vec<_>>()
        };
        let taken: u64 = lines_of("placed").iter().sum();
        assert_eq!(item["stock"], json!(INITIAL_STOCK - taken), "item {index}: stock = initial - live orders' units");
        let patched: u64 = histories.iter().map(|h| h.patched[index]).sum();
        let unknown: u64 = histories.iter().map(|h| h.unknown_patches[index]).sum();
        let order_writes = (lines_of("").len() + lines_of("cancelled").len()) as u64;
        let version = item["version"].as_u64().expect("a version");
        let told = 1 + patched + order_writes;
        assert!(
            (told..=told + unknown).contains(&version),
            "item {index}: version {version}; 1 + {patched} PATCHes answered 200 + {order_writes} order writes, \
             + up to {unknown} answered 504: a write answered 503 or 412 was applied, or one answered 200 was not"
        );
    }
}
