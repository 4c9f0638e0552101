use serde_json::json;

use crate::helpers::{Call, id_of, spawn_app};

#[tokio::test]
async fn delete_item_returns_204_and_the_item_is_gone() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1})).await;
    let id = id_of(&item);

    let reply = app.send(Call::delete(&id).by("mod-1", "moderator")).await;

    assert_eq!(reply.status, 204);
    assert!(reply.body.is_null(), "204 has no body");
    assert_eq!(app.send(Call::get(&id)).await.status, 404);
    assert_eq!(app.send(Call::delete(&id).by("mod-1", "moderator")).await.status, 404, "deleting twice is 404");
}

#[tokio::test]
async fn delete_item_with_stale_if_match_gets_412_and_keeps_the_item() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1})).await;
    let id = id_of(&item);
    app.send(Call::update(&id, json!({"stock": 9}))).await;

    let stale = app.send(Call::delete(&id).by("mod-1", "moderator").header("if-match", "\"1\"")).await;
    let current = app.send(Call::delete(&id).by("mod-1", "moderator").header("if-match", "\"2\"")).await;

    assert_eq!(stale.status, 412);
    assert_eq!(current.status, 204);
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn delete_item_rejects_a_malformed_id() {
    let app = spawn_app().await;

    let reply = app.send(Call::delete("../../etc").by("mod-1", "moderator")).await;

    assert_eq!(reply.status, 400);
}
