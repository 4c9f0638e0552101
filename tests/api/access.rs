//! Roles, ownership and visibility, through the handlers.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, id_of, spawn_app};

#[tokio::test]
async fn a_user_cannot_change_another_users_item_and_learns_nothing() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Alice's lamp", "price": 100, "status": "active"})).await;
    let id = id_of(&item);

    let patch = app.send(Call::update(&id, json!({"price": 1})).by_user("bob")).await;
    let put = app.send(Call::replace(&id, json!({"name": "Bob's now", "price": 1})).by_user("bob")).await;
    let stale_if_match =
        app.send(Call::update(&id, json!({"price": 1})).by_user("bob").header("if-match", "\"9\"")).await;
    let missing = app.send(Call::update("01JDQ3G9X2V0Y8M6K4T5R7N3PA", json!({"price": 1})).by_user("bob")).await;

    for reply in [&patch, &put, &stale_if_match] {
        assert_eq!(reply.status, 404, "another user's item looks exactly like a missing one");
        assert_eq!(reply.body["error"], missing.body["error"].clone().tap_request_id(&reply.body));
    }
    assert_eq!(app.send(Call::get(&id)).await.body["data"], item, "the item is unchanged");
}

/// Error bodies differ only in their request id.
trait TapRequestId {
    fn tap_request_id(self, other: &Value) -> Value;
}

impl TapRequestId for Value {
    fn tap_request_id(mut self, other: &Value) -> Value {
        self["request_id"] = other["error"]["request_id"].clone();
        self
    }
}

#[tokio::test]
async fn moderators_and_admins_may_change_any_item() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;
    let id = id_of(&item);

    let by_moderator = app.send(Call::update(&id, json!({"price": 90})).by("mia", "moderator")).await;
    let by_admin = app.send(Call::replace(&id, json!({"name": "Lamp", "price": 80})).by("ada", "admin")).await;

    assert_eq!(by_moderator.status, 200);
    assert_eq!(by_admin.status, 200);
    assert_eq!(by_admin.body["data"]["owner_id"], "alice", "staff edits keep the owner");
    assert_eq!(by_admin.body["data"]["price"], 80);
}

#[tokio::test]
async fn users_lack_the_delete_permission_even_for_their_own_items() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;
    let id = id_of(&item);

    let by_owner = app.send(Call::delete(&id).by_user("alice")).await;
    let by_moderator = app.send(Call::delete(&id).by("mia", "moderator")).await;

    assert_eq!((by_owner.status, by_owner.error_code()), (403, "forbidden"));
    assert!(by_owner.body["error"]["message"].as_str().unwrap().contains("delete"));
    assert_eq!(by_moderator.status, 204);
}

#[tokio::test]
async fn the_body_cannot_assign_an_owner() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;

    let create = app.send(Call::create(json!({"name": "x", "price": 1, "owner_id": "mallory"})).by_user("bob")).await;
    let patch = app.send(Call::update(&id_of(&item), json!({"owner_id": "bob"})).by_user("alice")).await;

    assert_eq!(create.bad_fields(), [("owner_id".into(), "read_only".into())]);
    assert_eq!(patch.bad_fields(), [("owner_id".into(), "read_only".into())]);
    assert_eq!(app.send(Call::get(&id_of(&item))).await.body["data"]["owner_id"], "alice");
    assert_eq!(app.item_count().await, 1, "nothing else was written");
}

#[tokio::test]
async fn drafts_are_visible_only_to_their_owner_and_staff() {
    let app = spawn_app().await;
    let draft = app.create_as("alice", json!({"name": "Secret plan", "price": 1, "status": "draft"})).await;
    let id = id_of(&draft);

    let owner = app.send(Call::get(&id).by_user("alice")).await;
    let stranger = app.send(Call::get(&id).by_user("bob")).await;
    let stranger_fields = app.send(Call::get(&id).by_user("bob").query("fields", "id")).await;
    let moderator = app.send(Call::get(&id).by("mia", "moderator")).await;

    assert_eq!(owner.status, 200);
    assert_eq!(stranger.status, 404);
    assert_eq!(stranger_fields.status, 404, "a projection does not bypass the rule");
    assert_eq!(moderator.status, 200);
}

async fn listed_ids(app: &TestApp, call: Call) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut page_call = call.clone().query("limit", "3");
        if let Some(cursor) = &cursor {
            page_call = page_call.query("cursor", cursor);
        }
        let reply = app.send(page_call).await;
        assert_eq!(reply.status, 200, "{:?}", reply.body);
        ids.extend(reply.body["data"].as_array().unwrap().iter().map(id_of));
        match reply.body["page"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test]
async fn listings_hide_other_users_drafts_without_losing_items_across_pages() {
    let app = spawn_app().await;
    let mut everything = Vec::new();
    for n in 0..18 {
        let owner = if n % 2 == 0 { "alice" } else { "bob" };
        let status = ["draft", "active", "archived", "draft"][n % 4];
        let item = app.create_as(owner, json!({"name": format!("item {n}"), "price": n, "status": status})).await;
        everything.push(item);
    }
    let visible_to_bob: HashSet<String> =
        everything.iter().filter(|item| item["status"] != "draft" || item["owner_id"] == "bob").map(id_of).collect();
    let bobs_drafts: HashSet<String> =
        everything.iter().filter(|item| item["status"] == "draft" && item["owner_id"] == "bob").map(id_of).collect();

    let bob_all = listed_ids(&app, Call::list().by_user("bob")).await;
    let bob_by_price = listed_ids(&app, Call::list().by_user("bob").query("sort", "price")).await;
    let bob_drafts = listed_ids(&app, Call::list().by_user("bob").query("status", "draft")).await;
    let moderator_all = listed_ids(&app, Call::list().by("mia", "moderator")).await;

    assert_eq!(bob_all.len(), visible_to_bob.len(), "no repeats");
    assert_eq!(bob_all.iter().cloned().collect::<HashSet<_>>(), visible_to_bob);
    assert_eq!(bob_by_price.iter().cloned().collect::<HashSet<_>>(), visible_to_bob);
    assert_eq!(bob_drafts.iter().cloned().collect::<HashSet<_>>(), bobs_drafts);
    assert_eq!(moderator_all.len(), everything.len(), "staff see every item");
}
