use serde_json::json;

use crate::helpers::{Call, id_of, spawn_app};

#[tokio::test]
async fn replace_item_sets_every_field_and_keeps_server_fields() {
    let app = spawn_app().await;
    let original = app
        .create_as(
            "alice",
            json!({"name": "Lamp", "price": 1999, "stock": 5, "status": "active", "description": "old"}),
        )
        .await;
    let id = id_of(&original);

    let reply = app.send(Call::replace(&id, json!({"name": "Lamp v2", "price": 2499}))).await;

    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let item = &reply.body["data"];
    assert_eq!(item["name"], "Lamp v2");
    assert_eq!(item["price"], 2499);
    assert_eq!(item["stock"], 0, "a full replacement resets omitted fields to their defaults");
    assert_eq!(item["status"], "draft");
    assert_eq!(item["description"], "");
    assert_eq!(item["id"], original["id"]);
    assert_eq!(item["owner_id"], original["owner_id"]);
    assert_eq!(item["created_at"], original["created_at"]);
    assert_eq!(item["version"], 2);
    assert_eq!(reply.header("etag"), Some("\"2\""));
    assert_eq!(app.send(Call::get(&id)).await.body["data"], *item);
}

#[tokio::test]
async fn replace_item_returns_404_for_an_unknown_id_and_creates_nothing() {
    let app = spawn_app().await;

    let reply = app.send(Call::replace("01JDQ3G9X2V0Y8M6K4T5R7N3PA", json!({"name": "Ghost", "price": 1}))).await;

    assert_eq!(reply.status, 404);
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn replace_item_validates_like_create() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1})).await;

    let reply = app.send(Call::replace(&id_of(&item), json!({"name": "Lamp", "price": 1, "version": 9}))).await;

    assert_eq!(reply.status, 400);
    assert_eq!(reply.bad_fields(), [("version".into(), "read_only".into())]);
    assert_eq!(app.send(Call::get(&id_of(&item))).await.body["data"], item);
}

#[tokio::test]
async fn update_item_changes_only_the_fields_sent() {
    let app = spawn_app().await;
    let original = app
        .create_as("alice", json!({"name": "Lamp", "price": 1999, "stock": 5, "status": "active", "description": "d"}))
        .await;

    let reply = app.send(Call::update(&id_of(&original), json!({"stock": 4}))).await;

    assert_eq!(reply.status, 200);
    let mut expected = original.clone();
    expected["stock"] = json!(4);
    expected["version"] = json!(2);
    expected["updated_at"] = reply.body["data"]["updated_at"].clone();
    assert_eq!(reply.body["data"], expected);
    assert_eq!(reply.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn update_item_with_matching_if_match_succeeds_and_stale_gets_412() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;
    let id = id_of(&item);

    let first = app.send(Call::update(&id, json!({"price": 1500})).header("if-match", "\"1\"")).await;
    let stale = app.send(Call::update(&id, json!({"price": 1})).header("if-match", "\"1\"")).await;
    let weak = app.send(Call::update(&id, json!({"price": 1})).header("if-match", "W/\"2\"")).await;
    let any = app.send(Call::update(&id, json!({"stock": 2})).header("if-match", "*")).await;

    assert_eq!(first.status, 200);
    assert_eq!((stale.status, stale.error_code()), (412, "precondition_failed"));
    assert_eq!(weak.status, 412, "weak ETags never satisfy If-Match");
    assert_eq!(any.status, 200);
    let current = app.send(Call::get(&id)).await;
    assert_eq!(current.body["data"]["price"], 1500, "the stale write changed nothing");
    assert_eq!(current.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn update_item_rejects_empty_and_invalid_patches() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;
    let id = id_of(&item);

    let empty = app.send(Call::update(&id, json!({}))).await;
    let nulls = app.send(Call::update(&id, json!({"name": null, "owner_id": "bob"}))).await;
    let bad_if_match = app.send(Call::update(&id, json!({"stock": 1})).header("if-match", "1")).await;

    assert_eq!(empty.bad_fields(), [("body".into(), "empty".into())]);
    assert_eq!(nulls.bad_fields(), [("name".into(), "invalid_type".into()), ("owner_id".into(), "read_only".into())]);
    assert_eq!((bad_if_match.status, bad_if_match.error_code()), (400, "invalid_if_match"));
    assert_eq!(app.send(Call::get(&id)).await.body["data"], item, "nothing changed");
}

#[tokio::test]
async fn update_item_returns_404_for_an_unknown_id() {
    let app = spawn_app().await;

    let plain = app.send(Call::update("01JDQ3G9X2V0Y8M6K4T5R7N3PA", json!({"stock": 1}))).await;
    let conditional =
        app.send(Call::update("01JDQ3G9X2V0Y8M6K4T5R7N3PA", json!({"stock": 1})).header("if-match", "\"1\"")).await;

    assert_eq!(plain.status, 404);
    assert_eq!(conditional.status, 404, "a missing item is 404 even with If-Match");
    assert_eq!(app.item_count().await, 0, "an update never creates");
}
