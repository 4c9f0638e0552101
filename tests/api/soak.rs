//! The soak: clients doing random operations at once, through several containers of every function,
//! while a fault proxy in front of the store drops, delays, throttles and resets calls at random.
//! Every request and its answer goes into a history; afterwards a checker holds the history against
//! everything stored and reports each broken invariant. `SOAK_SEED`, `SOAK_OPERATIONS` and
//! `SOAK_CLIENTS` size it: the default is the short run CI makes; `./infra/bench.sh` runs the long one.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::json;
use shared::App;

use crate::helpers::{Call, Dice, Reply, TestApp, id_of, spawn_app};
use crate::proxy::{Fault, FaultProxy, Rule};

/// Every item starts with this stock; item writes never change it (a PUT carries the stock it read,
/// under `If-Match`), so orders alone move it.
const INITIAL_STOCK: u64 = 60;
/// The fixtures' order id, replaced by a real one.
const FIXTURE_ORDER: &str = "01JDQ3G9X2V0Y8M6K4T5R7N3QR";
/// A client's attempts at one operation (retries on 503, and on 504 where a key makes it safe).
const TRIES: usize = 6;

struct Plan {
    seed: u64,
    operations: usize,
    clients: usize,
    /// Catalog walks per run at most: each reads every shard of the whole catalog, and moto scans
    /// the table for every query, so a long run keeps few.
    walks: usize,
    /// Items per page of a walk.
    page: usize,
}

impl Plan {
    fn from_env() -> Plan {
        let number =
            |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
        Plan {
            seed: number("SOAK_SEED", 7),
            operations: number("SOAK_OPERATIONS", 640) as usize,
            clients: number("SOAK_CLIENTS", 16) as usize,
            walks: number("SOAK_WALKS", 30) as usize,
            page: number("SOAK_PAGE", 25).clamp(1, 100) as usize,
        }
    }
}

/// What happened to one write the client sent: the name it set marks it.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    /// Answered 2xx, with the version the client was told.
    Done(u64),
    /// Answered 4xx, or 503 on every try: it must not be visible.
    Refused,
    /// Answered 504 last: it may or may not have landed.
    Unknown,
}

#[derive(Debug, Default)]
struct ItemLedger {
    owner: String,
    /// Its writes, in the order its owner (the only client writing it) sent them: (name, outcome).
    writes: Vec<(String, Outcome)>,
    /// When its create was answered.
    created: Option<Instant>,
    /// When a delete of it was first sent, and whether one was answered 204.
    delete_sent: Option<Instant>,
    deleted: bool,
}

#[derive(Debug, Default)]
struct Walk {
    started: Option<Instant>,
    ended: Option<Instant>,
    ids: Vec<String>,
    complete: bool,
}

/// Everything the clients saw.
#[derive(Default)]
struct History {
    items: HashMap<String, ItemLedger>,
    /// Per `Idempotency-Key` of an order: the order ids its 201s named, and whether it ended unknown.
    keyed: HashMap<String, (String, HashSet<String>, bool)>,
    /// Orders without a key answered 201 (id, owner), and per owner how many ended 504.
    unkeyed: Vec<(String, String)>,
    unkeyed_unknown: HashMap<String, usize>,
    cancelled: HashSet<String>,
    cancel_unknown: HashSet<String>,
    walks: Vec<Walk>,
    latencies: Vec<Duration>,
    answers: usize,
    violations: Vec<String>,
}

struct Soak {
    test: Arc<TestApp>,
    max_walks: usize,
    page: usize,
    containers: Vec<App>,
    history: Mutex<History>,
}

fn lock(history: &Mutex<History>) -> MutexGuard<'_, History> {
    history.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Soak {
    /// Sends one request through a random container and records its answer.
    async fn send(&self, dice: &mut Dice, call: Call) -> Reply {
        let container = &self.containers[dice.below(self.containers.len() as u64) as usize];
        let started = Instant::now();
        let reply = self.test.send_to(container, call).await;
        let mut history = lock(&self.history);
        history.latencies.push(started.elapsed());
        history.answers += 1;
        if reply.status >= 500 {
            let truthful =
                matches!((reply.status, reply.error_code()), (503, "service_unavailable") | (504, "outcome_unknown"));
            if !truthful || reply.header("retry-after").is_none() {
                history.violations.push(format!(
                    "a {} {} without Retry-After or not a 503/504: {:?}",
                    reply.status,
                    reply.error_code(),
                    reply.body
                ));
            }
        }
        reply
    }

    fn violation(&self, text: String) {
        lock(&self.history).violations.push(text);
    }

    /// Items some create was answered for, not known deleted: (id, owner).
    fn live_items(&self) -> Vec<(String, String)> {
        let history = lock(&self.history);
        let mut items: Vec<_> = history
            .items
            .iter()
            .filter(|(_, ledger)| ledger.created.is_some() && !ledger.deleted)
            .map(|(id, ledger)| (id.clone(), ledger.owner.clone()))
            .collect();
        items.sort();
        items
    }
}

async fn client(soak: Arc<Soak>, number: usize, operations: usize, seed: u64) {
    let user = format!("soaker{number}");
    let mut dice = Dice(seed ^ (number as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut etags: HashMap<String, String> = HashMap::new();
    let mut my_orders: Vec<String> = Vec::new();
    for step in 0..operations {
        let mark = format!("soak {number} {step}");
        let items = soak.live_items();
        let mine: Vec<&String> = items.iter().filter(|(_, owner)| *owner == user).map(|(id, _)| id).collect();
        let roll = dice.below(100);
        match roll {
            _ if mine.len() < 2 || roll < 8 => create(&soak, &mut dice, &user, &mark).await,
            8..20 => {
                let item = mine[dice.below(mine.len() as u64) as usize].clone();
                let guarded = dice.below(2) == 0;
                patch(&soak, &mut dice, &user, &item, &mark, guarded.then(|| etags.get(&item).cloned()).flatten())
                    .await;
                etags.remove(&item);
            }
            20..25 => {
                let item = mine[dice.below(mine.len() as u64) as usize].clone();
                replace(&soak, &mut dice, &user, &item, &mark).await;
            }
            25..28 => {
                let item = mine[dice.below(mine.len() as u64) as usize].clone();
                delete(&soak, &mut dice, &item).await;
            }
            28..53 => {
                let keyed = dice.below(5) != 0;
                if let Some(id) = order(&soak, &mut dice, &user, &items, keyed, &format!("{user}-{step}")).await {
                    my_orders.push(id);
                }
            }
            53..60 if !my_orders.is_empty() => {
                let id = my_orders.swap_remove(dice.below(my_orders.len() as u64) as usize);
                cancel(&soak, &mut dice, &user, &id).await;
            }
            60..75 if !items.is_empty() => {
                let (item, owner) = &items[dice.below(items.len() as u64) as usize];
                let reply = soak.send(&mut dice, Call::get(item).by_user(&user)).await;
                if reply.status == 200 {
                    if let Some(etag) = reply.header("etag") {
                        etags.insert(item.clone(), etag.to_owned());
                    }
                    if reply.body["data"]["status"] == "draft" && *owner != user {
                        soak.violation(format!("{user} read {owner}'s draft {item}"));
                    }
                }
            }
            // Each walk reads the whole catalog (16 shards a page): a few dozen per run are plenty.
            75..80 if lock(&soak.history).walks.len() < soak.max_walks => walk(&soak, &mut dice).await,
            _ => search(&soak, &mut dice, &user).await,
        }
    }
}

async fn create(soak: &Soak, dice: &mut Dice, user: &str, mark: &str) {
    let status = if dice.below(4) == 0 { "draft" } else { "active" };
    let buckets = if dice.below(4) == 0 { 4 } else { 1 };
    let body = json!({"name": mark, "price": 100 + dice.below(400), "stock": INITIAL_STOCK, "status": status, "stock_buckets": buckets});
    let key = format!("create-{}", mark.replace(' ', "-"));
    for _ in 0..TRIES {
        let call = Call::fixture("create-item.ok").json(&body).by_user(user).header("idempotency-key", &key);
        let reply = soak.send(dice, call).await;
        match reply.status {
            201 => {
                let id = id_of(&reply.body["data"]);
                let mut history = lock(&soak.history);
                let ledger = history.items.entry(id).or_default();
                ledger.owner = user.to_owned();
                ledger.created = Some(Instant::now());
                ledger.writes.push((mark.to_owned(), Outcome::Done(1)));
                return;
            }
            503 | 504 => continue,
            other => return soak.violation(format!("create answered {other}: {:?}", reply.body)),
        }
    }
}

/// Records the outcome of a write of `item` named `mark`.
fn wrote(soak: &Soak, item: &str, mark: &str, outcome: Outcome) {
    let mut history = lock(&soak.history);
    history.items.entry(item.to_owned()).or_default().writes.push((mark.to_owned(), outcome));
}

/// Sends an item write until it gets an answer other than 503 (nothing written, so safe to resend).
async fn item_write(soak: &Soak, dice: &mut Dice, item: &str, mark: &str, call: impl Fn() -> Call) {
    for _ in 0..TRIES {
        let reply = soak.send(dice, call()).await;
        let outcome = match reply.status {
            200 => Outcome::Done(reply.body["data"]["version"].as_u64().unwrap_or(0)),
            503 => continue,
            504 => Outcome::Unknown,
            404 | 409 | 412 => Outcome::Refused,
            other => {
                soak.violation(format!("an item write answered {other}: {:?}", reply.body));
                Outcome::Unknown
            }
        };
        return wrote(soak, item, mark, outcome);
    }
    wrote(soak, item, mark, Outcome::Refused);
}

async fn patch(soak: &Soak, dice: &mut Dice, user: &str, item: &str, mark: &str, etag: Option<String>) {
    let mut body = json!({"name": mark, "description": format!("patched {mark}")});
    match dice.below(6) {
        0 => body["status"] = json!(["draft", "active", "archived"][dice.below(3) as usize]),
        1 => body["price"] = json!(100 + dice.below(400)),
        2 => body["stock_buckets"] = json!([1, 4][dice.below(2) as usize]),
        _ => {}
    }
    let call = || {
        let call = Call::update(item, body.clone()).by_user(user);
        match &etag {
            Some(etag) => call.header("if-match", etag),
            None => call,
        }
    };
    item_write(soak, dice, item, mark, call).await;
}

/// PUT under `If-Match` of what a fresh GET read, with a new name: the stock it carries is the
/// stock at that version, so a PUT that lands never changes it.
async fn replace(soak: &Soak, dice: &mut Dice, user: &str, item: &str, mark: &str) {
    let read = soak.send(dice, Call::get(item).by_user(user)).await;
    let Some(etag) = read.header("etag").filter(|_| read.status == 200).map(str::to_owned) else {
        return;
    };
    let current = &read.body["data"];
    let body = json!({
        "name": mark, "description": current["description"], "status": current["status"], "price": current["price"],
        "stock": current["stock"], "stock_buckets": current["stock_buckets"],
    });
    let call = || Call::replace(item, body.clone()).by_user(user).header("if-match", &etag);
    item_write(soak, dice, item, mark, call).await;
}

async fn delete(soak: &Soak, dice: &mut Dice, item: &str) {
    lock(&soak.history).items.entry(item.to_owned()).or_default().delete_sent.get_or_insert_with(Instant::now);
    for _ in 0..TRIES {
        let reply = soak.send(dice, Call::delete(item).by("soak-admin", "admin")).await;
        match reply.status {
            204 => {
                lock(&soak.history).items.entry(item.to_owned()).or_default().deleted = true;
                return;
            }
            503 | 504 => continue,
            404 => return,
            other => return soak.violation(format!("delete answered {other}: {:?}", reply.body)),
        }
    }
}

async fn order(
    soak: &Soak,
    dice: &mut Dice,
    user: &str,
    items: &[(String, String)],
    keyed: bool,
    key: &str,
) -> Option<String> {
    if items.is_empty() {
        return None;
    }
    let first = dice.below(items.len() as u64) as usize;
    let second = dice.below(items.len() as u64) as usize;
    let mut lines = vec![json!({"item_id": items[first].0, "quantity": 1 + dice.below(3)})];
    if second != first && dice.below(2) == 0 {
        lines.push(json!({"item_id": items[second].0, "quantity": 1 + dice.below(3)}));
    }
    let body = json!({ "lines": lines });
    let tries = if keyed { TRIES } else { 1 };
    let mut unknown = false;
    let mut placed = None;
    for _ in 0..tries {
        let call = Call::fixture("create-order.ok").without_header("idempotency-key").json(&body).by_user(user);
        let call = if keyed { call.header("idempotency-key", key) } else { call };
        let reply = soak.send(dice, call).await;
        match reply.status {
            201 => {
                placed = Some(id_of(&reply.body["data"]));
                unknown = false;
                break;
            }
            504 => unknown = true,
            503 => {}
            409 | 422 => break,
            other => {
                soak.violation(format!("an order answered {other}: {:?}", reply.body));
                break;
            }
        }
    }
    let mut history = lock(&soak.history);
    if keyed {
        let entry = history.keyed.entry(key.to_owned()).or_insert_with(|| (user.to_owned(), HashSet::new(), false));
        entry.1.extend(placed.clone());
        entry.2 = unknown && placed.is_none();
    } else if let Some(id) = &placed {
        history.unkeyed.push((id.clone(), user.to_owned()));
    } else if unknown {
        *history.unkeyed_unknown.entry(user.to_owned()).or_default() += 1;
    }
    placed
}

async fn cancel(soak: &Soak, dice: &mut Dice, user: &str, id: &str) {
    let mut maybe = false;
    for _ in 0..TRIES {
        let call = Call::fixture("cancel-order.ok").replacing(FIXTURE_ORDER, id).by_user(user);
        let reply = soak.send(dice, call).await;
        match (reply.status, reply.error_code()) {
            (200, _) => {
                lock(&soak.history).cancelled.insert(id.to_owned());
                return;
            }
            // Only an earlier attempt of ours can have cancelled it.
            (409, "already_cancelled") if maybe => {
                lock(&soak.history).cancelled.insert(id.to_owned());
                return;
            }
            (504, _) => maybe = true,
            (503, _) => {}
            (status, code) => return soak.violation(format!("cancel of {id} answered {status} {code}")),
        }
    }
    if maybe {
        lock(&soak.history).cancel_unknown.insert(id.to_owned());
    }
}

/// Walks the whole catalog, newest first, as staff, a page at a time.
async fn walk(soak: &Soak, dice: &mut Dice) {
    let mut walk = Walk { started: Some(Instant::now()), ..Walk::default() };
    let mut cursor: Option<String> = None;
    'pages: for _ in 0..200 {
        for _ in 0..TRIES {
            let mut call =
                Call::list().query("limit", &soak.page.to_string()).query("fields", "id").by("soak-staff", "moderator");
            if let Some(cursor) = &cursor {
                call = call.query("cursor", cursor);
            }
            let reply = soak.send(dice, call).await;
            match reply.status {
                200 => {
                    walk.ids.extend(reply.body["data"].as_array().into_iter().flatten().map(id_of));
                    match reply.body["page"]["next_cursor"].as_str() {
                        Some(next) => {
                            cursor = Some(next.to_owned());
                            continue 'pages;
                        }
                        None => {
                            walk.complete = true;
                            break 'pages;
                        }
                    }
                }
                503 => continue,
                other => {
                    soak.violation(format!("a listing page answered {other}: {:?}", reply.body));
                    break 'pages;
                }
            }
        }
        break;
    }
    walk.ended = Some(Instant::now());
    lock(&soak.history).walks.push(walk);
}

async fn search(soak: &Soak, dice: &mut Dice, user: &str) {
    let words = ["soak", "patched", "soak 3", "soak 5 1"];
    let call = Call::fixture("search-items.ok")
        .set_query("q", words[dice.below(4) as usize])
        .set_query("limit", "20")
        .by_user(user);
    let reply = soak.send(dice, call).await;
    if reply.status != 200 {
        return;
    }
    for hit in reply.body["data"].as_array().into_iter().flatten() {
        if hit["status"] == "draft" && hit["owner_id"] != user {
            soak.violation(format!("{user}'s search returned another user's draft {}", hit["id"]));
        }
    }
}

/// Every record of the table, over all scan pages.
async fn everything(test: &TestApp) -> Vec<HashMap<String, AttributeValue>> {
    test.dynamo
        .scan()
        .table_name(&test.table)
        .consistent_read(true)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .expect("scan the table")
}

fn text(record: &HashMap<String, AttributeValue>, name: &str) -> String {
    record.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

fn count(record: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    record.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// An order as stored: its status, owner, lines (item, quantity) and the line count its record states.
#[derive(Default)]
struct StoredOrder {
    status: String,
    owner: String,
    lines: Vec<(String, u64)>,
    line_count: u64,
}

/// Holds the history against the store; returns every broken invariant.
async fn check(test: &TestApp, history: &History) -> Vec<String> {
    let mut violations = history.violations.clone();
    let records = everything(test).await;
    let by_sk = |prefix: &'static str| records.iter().filter(move |r| text(r, "sk").starts_with(prefix));

    let mut orders: HashMap<String, StoredOrder> = HashMap::new();
    for record in by_sk("ORDER") {
        let id = text(record, "pk").trim_start_matches("ORDER#").to_owned();
        let order = orders.entry(id).or_default();
        order.status = text(record, "status");
        order.owner = text(record, "owner_id");
        order.line_count = count(record, "line_count");
    }
    for record in by_sk("LINE#") {
        let id = text(record, "pk").trim_start_matches("ORDER#").to_owned();
        orders.entry(id).or_default().lines.push((text(record, "item_id"), count(record, "quantity")));
    }
    for (id, order) in &orders {
        if order.status.is_empty() || order.lines.len() as u64 != order.line_count {
            let (status, line_count, lines) = (&order.status, order.line_count, order.lines.len());
            violations.push(format!("order {id} is half-written: status {status:?}, {lines} of {line_count} lines"));
        }
    }

    // Exactly one order per key, every 201 stored, nothing stored that no answer explains.
    let mut explained: HashMap<&str, usize> = HashMap::new();
    for (key, (owner, ids, unknown)) in &history.keyed {
        if ids.len() > 1 {
            violations.push(format!("key {key} named {} different orders", ids.len()));
        }
        for id in ids {
            if !orders.contains_key(id) {
                violations.push(format!("order {id} answered 201 is not stored"));
            }
        }
        *explained.entry(owner).or_default() += usize::from(!ids.is_empty() || *unknown);
    }
    for (id, owner) in &history.unkeyed {
        if !orders.contains_key(id) {
            violations.push(format!("order {id} answered 201 is not stored"));
        }
        *explained.entry(owner).or_default() += 1;
    }
    for (owner, unknown) in &history.unkeyed_unknown {
        *explained.entry(owner).or_default() += unknown;
    }
    let mut stored_per_owner: HashMap<&str, usize> = HashMap::new();
    for order in orders.values() {
        *stored_per_owner.entry(&order.owner).or_default() += 1;
    }
    for (owner, stored) in stored_per_owner {
        let told = explained.get(owner).copied().unwrap_or(0);
        if stored > told {
            violations.push(format!("{owner} has {stored} orders stored; answers explain {told}"));
        }
    }
    for id in &history.cancelled {
        if orders.get(id).map(|order| order.status.as_str()) != Some("cancelled") {
            violations.push(format!("order {id} answered cancelled is not"));
        }
    }

    // Stock conservation: initial - units of live orders = stock now, never negative.
    let mut taken: HashMap<&str, u64> = HashMap::new();
    for order in orders.values().filter(|order| order.status == "placed") {
        for (item, quantity) in &order.lines {
            *taken.entry(item).or_default() += quantity;
        }
    }
    let stored_items: HashMap<String, &HashMap<String, AttributeValue>> =
        by_sk("ITEM").filter(|r| text(r, "sk") == "ITEM").map(|r| (text(r, "id"), r)).collect();
    for id in stored_items.keys() {
        let seen = test.send(Call::get(id).by("soak-staff", "moderator")).await;
        let Some(stock) = seen.body["data"]["stock"].as_u64() else {
            violations.push(format!("item {id} cannot be read: {} {:?}", seen.status, seen.body));
            continue;
        };
        let expected = INITIAL_STOCK.checked_sub(taken.get(id.as_str()).copied().unwrap_or(0));
        if expected != Some(stock) {
            violations
                .push(format!("item {id}: stock {stock}, but {INITIAL_STOCK} - live orders' units = {expected:?}"));
        }
    }

    // Every acknowledged write visible or superseded; nothing refused visible.
    for (id, ledger) in &history.items {
        let stored = stored_items.get(id);
        if ledger.deleted {
            if stored.is_some() {
                violations.push(format!("item {id} answered deleted is stored"));
            }
            continue;
        }
        let Some(stored) = stored else {
            if ledger.delete_sent.is_none() && ledger.created.is_some() {
                violations.push(format!("item {id} vanished: never deleted"));
            }
            continue;
        };
        let name = text(stored, "name");
        let last_done = ledger.writes.iter().rposition(|(_, outcome)| matches!(outcome, Outcome::Done(_)));
        let could_be: Vec<&str> = ledger
            .writes
            .iter()
            .enumerate()
            .filter(|(index, (_, outcome))| {
                Some(*index) == last_done
                    || (last_done.is_none_or(|done| *index > done) && *outcome == Outcome::Unknown)
            })
            .map(|(_, (mark, _))| mark.as_str())
            .collect();
        if !could_be.contains(&name.as_str()) {
            let outcome = ledger.writes.iter().find(|(mark, _)| *mark == name).map(|(_, o)| o.clone());
            violations.push(format!("item {id} is named {name:?} ({outcome:?}), but only {could_be:?} may be visible"));
        }
        let told =
            ledger.writes.iter().filter_map(|(_, o)| if let Outcome::Done(v) = o { Some(*v) } else { None }).max();
        let version = test.send(Call::get(id).by("soak-staff", "moderator")).await.body["data"]["version"].as_u64();
        if told.is_some_and(|told| version.is_none_or(|version| version < told)) {
            violations.push(format!("item {id} is at version {version:?}, below the {told:?} a client was told"));
        }
    }

    // The search index: nothing pending, and each live item's vector filed as the item is now.
    let vectors: HashMap<String, &HashMap<String, AttributeValue>> =
        by_sk("VECTOR").map(|r| (text(r, "pk").trim_start_matches("ITEM#").to_owned(), r)).collect();
    for (id, stored) in &stored_items {
        if stored.contains_key("index_pending") {
            violations.push(format!("item {id} is still pending indexing after the drain and a reindex"));
        }
        let Some(vector) = vectors.get(id) else {
            violations.push(format!("item {id} has no vector"));
            continue;
        };
        let told = history.items.get(id).and_then(|ledger| {
            ledger.writes.iter().filter_map(|(_, o)| if let Outcome::Done(v) = o { Some(*v) } else { None }).max()
        });
        if told.is_some_and(|told| count(vector, "version") < told) {
            violations.push(format!(
                "item {id}'s vector is at version {}, older than the write a client was told of",
                count(vector, "version")
            ));
        }
        if text(vector, "search_status") != text(stored, "status")
            || text(vector, "search_owner") != text(stored, "owner_id")
        {
            violations.push(format!(
                "item {id}'s vector is filed as {} of {}, the item is {} of {}",
                text(vector, "search_status"),
                text(vector, "search_owner"),
                text(stored, "status"),
                text(stored, "owner_id")
            ));
        }
    }
    for (id, ledger) in &history.items {
        if ledger.deleted && vectors.get(id).is_some_and(|vector| !vector.contains_key("deleted")) {
            violations.push(format!("deleted item {id} still has a live vector"));
        }
    }

    // Cursor walks: never an item twice; never a skip of one that was there throughout.
    for walk in &history.walks {
        let mut seen = HashSet::new();
        for id in &walk.ids {
            if !seen.insert(id) {
                violations.push(format!("a walk returned {id} twice"));
            }
        }
        if !walk.complete {
            continue;
        }
        for (id, ledger) in &history.items {
            let there_before = ledger.created.is_some_and(|created| Some(created) < walk.started);
            let untouched = ledger.delete_sent.is_none_or(|sent| Some(sent) > walk.ended);
            if there_before && untouched && !seen.contains(id) {
                violations.push(format!("a walk skipped {id}, there throughout"));
            }
        }
    }
    violations
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "a load test: infra/test.sh runs it alone, after the rest, so its load on moto cannot slow other tests"]
async fn a_seeded_soak_under_random_faults_breaks_no_invariant() {
    let plan = Plan::from_env();
    let test = spawn_app().await;
    let proxy = FaultProxy::start(&std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL")).await;
    // Writes committed but answered too late or never; any call throttled or reset; SQS down now and then.
    for write in ["TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"] {
        proxy.inject(
            Rule::on(write).times(usize::MAX).sometimes(30).fault(Fault::DelayResponse(Duration::from_millis(1700))),
        );
        proxy.inject(Rule::on(write).times(usize::MAX).sometimes(30).fault(Fault::DropResponse));
    }
    proxy.inject(Rule::on("SendMessage").times(usize::MAX).sometimes(150).fault(Fault::Throttle));
    proxy.inject(Rule::on("*").times(usize::MAX).sometimes(25).fault(Fault::Throttle));
    proxy.inject(Rule::on("*").times(usize::MAX).sometimes(15).fault(Fault::Reset));
    proxy.inject(Rule::on("*").times(usize::MAX).sometimes(10).fault(Fault::DelayRequest(Duration::from_millis(300))));
    let soak = Arc::new(Soak {
        test: test.clone(),
        max_walks: plan.walks,
        page: plan.page,
        containers: (0..3).map(|_| test.container_via(&proxy.url())).collect(),
        history: Mutex::new(History::default()),
    });

    let started = Instant::now();
    let per_client = plan.operations / plan.clients;
    let clients: Vec<_> =
        (0..plan.clients).map(|number| tokio::spawn(client(soak.clone(), number, per_client, plan.seed))).collect();
    // The worker consumes index jobs while the clients write, as the queue's event source does in
    // production (a backlog would also make every SendMessage slower: moto counts the queue each time).
    let stop = Arc::new(AtomicBool::new(false));
    let worker = tokio::spawn({
        let (test, stop) = (test.clone(), stop.clone());
        async move {
            let mut done = 0;
            while !stop.load(Ordering::Relaxed) {
                // A poll the busy local queue did not answer is retried, as Lambda's poller does.
                done += test.try_run_index_worker().await.map_or(0, |(processed, _)| processed);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            done
        }
    });
    for handle in clients {
        handle.await.expect("a client finished");
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let indexed_during = worker.await.expect("the worker finished");

    // Let the pipeline settle, as production's queue and reconciler do: drain, reindex, drain.
    test.run_index_worker().await;
    let reindex = test.send(Call::fixture("reindex.ok").by("soak-admin", "admin")).await;
    assert_eq!(reindex.status, 200, "{:?}", reindex.body);
    test.run_index_worker().await;

    let history = std::mem::take(&mut *lock(&soak.history));
    let violations = check(&test, &history).await;
    let mut latencies = history.latencies.clone();
    latencies.sort();
    let p99 = latencies.get(latencies.len() * 99 / 100).copied().unwrap_or_default();
    let faults = proxy.fired_by_kind();
    let mut kinds: Vec<_> = faults.iter().collect();
    kinds.sort();
    eprintln!(
        "soak: seed {}, {} operations by {} clients, {} requests in {:.1} s ({:.0}/s), p99 {} ms; {} store calls, \
         {} faulted ({:.1} %): {kinds:?}; {} orders, {} walks, {} index jobs done meanwhile; {} violations",
        plan.seed,
        per_client * plan.clients,
        plan.clients,
        history.answers,
        elapsed.as_secs_f64(),
        history.answers as f64 / elapsed.as_secs_f64(),
        p99.as_millis(),
        proxy.seen_total(),
        proxy.fired(),
        100.0 * proxy.fired() as f64 / proxy.seen_total().max(1) as f64,
        history.keyed.len() + history.unkeyed.len(),
        history.walks.len(),
        indexed_during,
        violations.len(),
    );
    let shown: Vec<&String> = violations.iter().take(40).collect();
    assert!(violations.is_empty(), "{} violations, the first:\n{shown:#?}", violations.len());
    assert!(proxy.fired() > 20, "faults were injected: {}", proxy.fired());
}

/// The checker is only as good as what it catches: a history that the store contradicts, three ways.
#[tokio::test]
async fn the_checker_reports_a_lost_order_a_refused_write_made_visible_and_stock_out_of_balance() {
    let test = spawn_app().await;
    let body = json!({"name": "soak 0 0", "price": 100, "stock": INITIAL_STOCK, "status": "active"});
    let item = id_of(&test.create_as("soaker0", body).await);
    let mut history = History::default();
    history.items.insert(
        item.clone(),
        ItemLedger {
            owner: "soaker0".to_owned(),
            writes: vec![("soak 0 0".to_owned(), Outcome::Done(1)), ("soak 0 1".to_owned(), Outcome::Refused)],
            created: Some(Instant::now()),
            ..ItemLedger::default()
        },
    );
    history.keyed.insert(
        "k".to_owned(),
        ("soaker0".to_owned(), HashSet::from(["01JDQ3G9X2V0Y8M6K4T5R7N3QR".to_owned()]), false),
    );
    // What no answer explains: the refused write's name, and a unit gone with no order.
    test.dynamo
        .update_item()
        .table_name(&test.table)
        .key("pk", AttributeValue::S(format!("ITEM#{item}")))
        .key("sk", AttributeValue::S("ITEM".to_owned()))
        .update_expression("SET #name = :refused, #stock = :less")
        .expression_attribute_names("#name", "name")
        .expression_attribute_names("#stock", "stock")
        .expression_attribute_values(":refused", AttributeValue::S("soak 0 1".to_owned()))
        .expression_attribute_values(":less", AttributeValue::N((INITIAL_STOCK - 1).to_string()))
        .send()
        .await
        .expect("tamper with the item");

    let violations = check(&test, &history).await;

    let found = |text: &str| violations.iter().any(|violation| violation.contains(text));
    assert!(found("answered 201 is not stored"), "{violations:#?}");
    assert!(found("is named \"soak 0 1\" (Some(Refused))"), "{violations:#?}");
    assert!(found(&format!("stock {}", INITIAL_STOCK - 1)), "{violations:#?}");
}
