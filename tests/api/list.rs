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
    // A listing reads a few rows of each shard per call, so short pages need one shard full of rows
    // alice may not see: copies of one of bob's drafts, under ids of a single shard.
    let template =
        id_of(&app.create_as("bob", json!({"name": "Secret", "price": 900_000_700, "status": "draft"})).await);
    let drafts = crate::helpers::copies_in_one_shard(&app, &template, 60, |n| 900_000_701 + n).await;
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

#[tokio::test]
async fn paging_while_items_are_written_neither_skips_nor_repeats() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..40 {
        created.push(
            app.create_as("alice", json!({"name": format!("shelf {n}"), "price": 100 + n % 9, "status": "active"}))
                .await,
        );
    }
    let shards: HashSet<u8> = created
        .iter()
        .map(|item| shared::repository::keys::shard_of(shared::domain::ItemId::parse(&id_of(item)).unwrap()))
        .collect();
    assert!(shards.len() >= 8, "40 items spread over {} shards only", shards.len());
    let mut cheapest_first = created.clone();
    cheapest_first.sort_by_key(|item| (item["price"].as_u64().unwrap(), id_of(item)));

    // Walk cheapest first, 4 per page; between pages, write: a new item dearer than all (ahead of the
    // cursor: must appear once, at the end), a new one cheaper than all (behind it: never), and a
    // description change on an item not yet reached (must stay in its place).
    let mut seen = Vec::new();
    let mut dearer = Vec::new();
    let mut cursor: Option<String> = None;
    for page in 0..100 {
        let mut call = Call::list().query("sort", "price").query("order", "asc").query("limit", "4");
        if let Some(cursor) = &cursor {
            call = call.query("cursor", cursor);
        }
        let reply = app.send(call).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        seen.extend(ids(reply.body["data"].as_array().unwrap()));
        match reply.body["page"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        if page < 6 {
            let body = json!({"name": format!("new dear {page}"), "price": 10_000 + page, "status": "active"});
            dearer.push(id_of(&app.create_as("bob", body).await));
            app.create_as("bob", json!({"name": format!("new cheap {page}"), "price": 1, "status": "active"})).await;
            let ahead = &cheapest_first[39 - page as usize];
            let patch = Call::update(&id_of(ahead), json!({"description": format!("edited {page}")}));
            assert_eq!(app.send(patch.by_user("alice")).await.status, 200);
        }
    }

    let mut expected = ids(&cheapest_first);
    expected.extend(dearer);
    assert_eq!(seen, expected, "each item once, in order; the ones written behind the cursor not at all");
}

#[tokio::test]
async fn the_reshard_script_moves_items_of_unsharded_keys_back_into_listings() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for n in 0..12 {
        created.push(
            app.create_as("alice", json!({"name": format!("legacy {n}"), "price": 100 + n, "status": "active"})).await,
        );
    }
    // As a release before sharding left them: one partition for all, one per status, one pending.
    for item in &created {
        let key = std::collections::HashMap::from([
            ("pk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S(format!("ITEM#{}", id_of(item)))),
            ("sk".to_owned(), aws_sdk_dynamodb::types::AttributeValue::S("ITEM".to_owned())),
        ]);
        let s = |v: &str| aws_sdk_dynamodb::types::AttributeValue::S(v.to_owned());
        app.dynamo
            .update_item()
            .table_name(&app.table)
            .set_key(Some(key))
            .update_expression("SET list_pk = :all, status_pk = :status, index_pending = :pending")
            .expression_attribute_values(":all", s("ITEM"))
            .expression_attribute_values(":status", s("ITEM#STATUS#active"))
            .expression_attribute_values(":pending", s("PENDING"))
            .send()
            .await
            .unwrap();
    }
    assert!(listed_ids(&app, Call::list()).await.is_empty(), "unsharded keys are out of every listing");
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 0, "and of reindex");

    let output = std::process::Command::new(crate::helpers::repo_root().join(".venv/bin/python"))
        .arg(crate::helpers::repo_root().join("infra/reshard.py"))
        .arg(&app.table)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("run infra/reshard.py with the project's .venv");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("re-keyed 12 records"),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let mut newest_first = ids(&created);
    newest_first.reverse();
    assert_eq!(listed_ids(&app, Call::list()).await, newest_first);
    assert_eq!(listed_ids(&app, Call::list().query("status", "active").query("sort", "price")).await.len(), 12);
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 12, "pending again");
}

/// The ids of the first page of up to 50 of `call`.
async fn listed_ids(app: &TestApp, call: Call) -> Vec<String> {
    ids(app.send(call.query("limit", "50")).await.body["data"].as_array().unwrap())
}
