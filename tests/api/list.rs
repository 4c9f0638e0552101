use std::collections::HashSet;

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, id_of, spawn_app};

/// Follows `next_cursor` from the first page to the last; returns every item seen, in order.
async fn walk_pages(app: &TestApp, base: Call, limit: usize) -> (Vec<Value>, usize) {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut call = base.clone().query("limit", &limit.to_string());
        if let Some(cursor) = &cursor {
            call = call.query("cursor", cursor);
        }
        let reply = app.send(call).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        assert_eq!(reply.body["page"]["limit"], limit);
        let items = reply.body["data"].as_array().unwrap().clone();
        assert!(items.len() <= limit);
        pages += 1;
        seen.extend(items);
        match reply.body["page"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 100, "pagination does not end");
    }
    (seen, pages)
}

async fn create_catalogue(app: &TestApp, count: usize) -> Vec<Value> {
    let mut items = Vec::new();
    for n in 0..count {
        let status = ["draft", "active", "archived"][n % 3];
        // Repeated prices check that ties keep a stable order across pages.
        let body = json!({"name": format!("item {n}"), "price": (n * 7) % 10 * 100, "status": status});
        items.push(app.create_as("alice", body).await);
    }
    items
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(id_of).collect()
}

#[tokio::test]
async fn pagination_visits_every_item_once_in_every_sort() {
    let app = spawn_app().await;
    let created = create_catalogue(&app, 45).await;

    let mut newest_first = created.clone();
    newest_first.sort_by_key(|item| std::cmp::Reverse(id_of(item)));
    let mut cheapest_first = created.clone();
    cheapest_first.sort_by_key(|item| (item["price"].as_u64().unwrap(), id_of(item)));
    let mut active_dearest_first: Vec<Value> =
        created.iter().filter(|item| item["status"] == "active").cloned().collect();
    active_dearest_first.sort_by_key(|item| std::cmp::Reverse((item["price"].as_u64().unwrap(), id_of(item))));
    let mut oldest_first = newest_first.clone();
    oldest_first.reverse();

    let cases = [
        ("default: newest first", Call::list(), newest_first),
        ("created_at asc", Call::list().query("sort", "created_at").query("order", "asc"), oldest_first),
        ("price asc", Call::list().query("sort", "price").query("order", "asc"), cheapest_first),
        (
            "active, price desc",
            Call::list().query("status", "active").query("sort", "price").query("order", "desc"),
            active_dearest_first,
        ),
    ];
    for (case, call, expected) in cases {
        let (seen, pages) = walk_pages(&app, call, 10).await;
        let unique: HashSet<_> = ids(&seen).into_iter().collect();
        assert_eq!(unique.len(), seen.len(), "{case}: an item was repeated");
        assert_eq!(ids(&seen), ids(&expected), "{case}: items lost or out of order");
        assert_eq!(pages, expected.len().div_ceil(10), "{case}: the last page has no cursor");
    }
}

#[tokio::test]
async fn list_items_defaults_to_twenty_per_page() {
    let app = spawn_app().await;
    create_catalogue(&app, 21).await;

    let reply = app.send(Call::list()).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 20);
    assert_eq!(reply.body["page"]["limit"], 20);
    assert!(reply.body["page"]["next_cursor"].is_string());
}

#[tokio::test]
async fn list_items_of_an_empty_table_is_an_empty_last_page() {
    let app = spawn_app().await;

    let reply = app.send(Call::list()).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"], json!([]));
    assert_eq!(reply.body["page"]["next_cursor"], Value::Null);
}

#[tokio::test]
async fn list_items_with_fields_returns_only_those_fields() {
    let app = spawn_app().await;
    create_catalogue(&app, 3).await;

    let reply = app.send(Call::list().query("fields", "name,status")).await;

    assert_eq!(reply.status, 200);
    for item in reply.body["data"].as_array().unwrap() {
        let keys: Vec<_> = item.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["name", "status"]);
    }
}

#[tokio::test]
async fn tampered_or_foreign_cursors_get_400() {
    let app = spawn_app().await;
    create_catalogue(&app, 5).await;
    let first = app.send(Call::list().query("limit", "2")).await;
    let cursor = first.body["page"]["next_cursor"].as_str().unwrap().to_owned();
    let mut tampered = cursor.clone().into_bytes();
    tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();

    let cases = [
        ("tampered", Call::list().query("cursor", &tampered)),
        ("garbage", Call::list().query("cursor", "%%%")),
        ("other sort", Call::list().query("cursor", &cursor).query("sort", "price")),
        ("other filter", Call::list().query("cursor", &cursor).query("status", "active")),
    ];
    for (case, call) in cases {
        let reply = app.send(call).await;
        assert_eq!((reply.status, reply.error_code()), (400, "invalid_cursor"), "{case}");
    }
    let same_query_other_limit = app.send(Call::list().query("cursor", &cursor).query("limit", "3")).await;
    assert_eq!(same_query_other_limit.status, 200, "the page size may change between pages");
}

#[tokio::test]
async fn bad_list_parameters_get_400_naming_each() {
    let app = spawn_app().await;

    let reply = app
        .send(
            Call::list().query("limit", "101").query("sort", "name").query("order", "sideways").query("status", "gone"),
        )
        .await;
    let offset = app.send(Call::list().query("offset", "20")).await;
    let zero = app.send(Call::list().query("limit", "0")).await;

    assert_eq!(reply.status, 400);
    let fields: Vec<_> = reply.bad_fields().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["limit", "order", "sort", "status"]);
    assert_eq!((offset.status, offset.error_code()), (400, "offset_unsupported"));
    assert!(offset.body["error"]["message"].as_str().unwrap().contains("cursor"));
    assert_eq!(zero.status, 400);
}

#[tokio::test]
async fn status_and_price_changes_move_items_between_listings() {
    let app = spawn_app().await;
    let cheap = app.create_as("alice", json!({"name": "cheap", "price": 100, "status": "active"})).await;
    let dear = app.create_as("alice", json!({"name": "dear", "price": 900, "status": "active"})).await;

    let archived = app.send(Call::update(&id_of(&cheap), json!({"status": "archived"}))).await;
    let repriced = app.send(Call::update(&id_of(&dear), json!({"price": 50}))).await;
    assert_eq!((archived.status, repriced.status), (200, 200));

    let active = app.send(Call::list().query("status", "active")).await;
    let archive = app.send(Call::list().query("status", "archived")).await;
    let by_price = app.send(Call::list().query("sort", "price").query("order", "asc")).await;
    assert_eq!(ids(active.body["data"].as_array().unwrap()), [id_of(&dear)]);
    assert_eq!(ids(archive.body["data"].as_array().unwrap()), [id_of(&cheap)]);
    assert_eq!(ids(by_price.body["data"].as_array().unwrap()), [id_of(&dear), id_of(&cheap)]);
}

#[tokio::test]
async fn cursors_of_pages_that_end_on_hidden_rows_reveal_nothing() {
    let app = spawn_app().await;
    let visible = id_of(&app.create_as("alice", json!({"name": "Visible", "price": 1, "status": "active"})).await);
    let mut drafts = Vec::new();
    for n in 0..30 {
        let body = json!({"name": format!("Secret {n}"), "price": 900_000_700 + n, "status": "draft"});
        drafts.push(id_of(&app.create_as("bob", body).await));
    }

    let mut cursor: Option<String> = None;
    let mut seen = Vec::new();
    let mut cursors = Vec::new();
    for _ in 0..40 {
        let mut call = Call::list().set_query("limit", "1").query("sort", "price").query("order", "desc");
        if let Some(cursor) = &cursor {
            call = call.query("cursor", cursor);
        }
        let reply = app.send(call).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        seen.extend(reply.body["data"].as_array().unwrap().iter().map(id_of));
        match reply.body["page"]["next_cursor"].as_str() {
            Some(next) => {
                cursors.push(next.to_owned());
                cursor = Some(next.to_owned());
            }
            None => break,
        }
    }

    assert_eq!(seen, [visible], "alice sees only what she may");
    assert!(!cursors.is_empty(), "the drafts made pages end early");
    for cursor in &cursors {
        let decoded: String = cursor
            .split('.')
            .filter_map(|part| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .collect();
        assert!(!decoded.contains("900000"), "a hidden price in {decoded:?}");
        for draft in &drafts {
            assert!(!decoded.contains(draft.as_str()), "a hidden id in {decoded:?}");
        }
    }
}
