use serde_json::json;

use crate::helpers::{Call, id_of, spawn_app};

#[tokio::test]
async fn get_item_returns_the_item_with_its_etag() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;

    let reply = app.send(Call::get(&id_of(&item))).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, json!({"success": true, "data": item}));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("x-request-id"), Some("fixture-request-id"));
}

#[tokio::test]
async fn get_item_with_a_current_if_none_match_is_304_without_a_body() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;
    let id = id_of(&item);

    let current = app.send(Call::get(&id).header("if-none-match", "\"1\"")).await;
    let weak = app.send(Call::get(&id).header("if-none-match", "W/\"1\"")).await;
    app.send(Call::update(&id, json!({"stock": 1}))).await;
    let stale = app.send(Call::get(&id).header("if-none-match", "\"1\"")).await;

    assert_eq!(current.status, 304);
    assert!(current.body.is_null());
    assert_eq!(current.header("etag"), Some("\"1\""));
    assert_eq!(weak.status, 304, "If-None-Match uses weak comparison");
    assert_eq!(stale.status, 200);
    assert_eq!(stale.header("etag"), Some("\"2\""));
}

#[tokio::test]
async fn get_item_refuses_an_if_none_match_outside_the_entity_tag_grammar_before_reading() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;
    let id = id_of(&item);

    for malformed in ["1", "\"1", "*, \"1\"", "\"1\",", "\"a b\""] {
        let reply = app.send(Call::get(&id).header("if-none-match", malformed)).await;
        assert_eq!((reply.status, reply.error_code()), (400, "invalid_if_none_match"), "{malformed:?}");
    }
    // Refused from the header alone: an unknown id does not turn it into a 404.
    let unknown = app.send(Call::get("01JDQ3G9X2V0Y8M6K4T5R7N3PA").header("if-none-match", "1")).await;
    assert_eq!(unknown.status, 400);
    let listed = app.send(Call::get(&id).header("if-none-match", "\"7\", W/\"1\"")).await;
    assert_eq!(listed.status, 304);
}

#[tokio::test]
async fn get_item_returns_404_for_an_unknown_id() {
    let app = spawn_app().await;

    let reply = app.send(Call::get("01JDQ3G9X2V0Y8M6K4T5R7N3PA")).await;

    assert_eq!(reply.status, 404);
    assert_eq!(reply.error_code(), "not_found");
}

#[tokio::test]
async fn get_item_returns_400_for_a_malformed_id() {
    let app = spawn_app().await;

    let reply = app.send(Call::get("not-a-ulid")).await;

    assert_eq!(reply.status, 400);
    assert_eq!(reply.bad_fields(), [("id".into(), "invalid".into())]);
}

#[tokio::test]
async fn get_item_with_fields_returns_only_those_fields() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999, "description": "long text"})).await;

    let reply = app.send(Call::get(&id_of(&item)).query("fields", "id,name,price")).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"], json!({"id": item["id"], "name": "Lamp", "price": 1999}));
    assert_eq!(reply.header("etag"), Some("\"1\""), "the ETag is known even when version is not asked for");
}

#[tokio::test]
async fn get_item_rejects_unknown_fields_and_parameters() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1999})).await;
    let id = id_of(&item);

    let unknown_field = app.send(Call::get(&id).query("fields", "id,secret")).await;
    let unknown_param = app.send(Call::get(&id).query("expand", "owner")).await;

    assert_eq!(unknown_field.status, 400);
    assert_eq!(unknown_field.bad_fields(), [("fields".into(), "invalid".into())]);
    assert_eq!(unknown_param.status, 400);
    assert_eq!(unknown_param.bad_fields(), [("expand".into(), "unknown_parameter".into())]);
}
