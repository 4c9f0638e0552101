//! Indexing through SQS and the worker, and search over the result.

use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, id_of, spawn_app};

fn search(text: &str) -> Call {
    Call::fixture("search-items.ok").set_query("q", text).set_query("limit", "10")
}

async fn found_ids(app: &TestApp, call: Call) -> Vec<String> {
    let reply = app.send(call).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["data"].as_array().unwrap().iter().map(id_of).collect()
}

async fn active(app: &TestApp, owner: &str, name: &str) -> Value {
    app.create_as(owner, json!({"name": name, "price": 100, "status": "active"})).await
}

#[tokio::test]
async fn a_created_item_becomes_searchable_once_indexed() {
    let app = spawn_app().await;
    let lamp = active(&app, "alice", "Brass desk lamp").await;

    assert!(found_ids(&app, search("desk lamp")).await.is_empty(), "not indexed before the worker runs");
    let (processed, failed) = app.run_index_worker().await;

    assert_eq!((processed, failed), (1, 0));
    let reply = app.send(search("desk lamp")).await;
    assert_eq!(reply.body["data"][0]["id"], lamp["id"]);
    assert!(reply.body["data"][0]["score"].as_f64().unwrap() > 0.5);
    assert_eq!(reply.body["data"][0]["name"], "Brass desk lamp", "results carry the item itself");
}

#[tokio::test]
async fn results_come_best_first_with_the_exact_title_on_top() {
    let app = spawn_app().await;
    active(&app, "alice", "Lamp shade").await;
    let exact = active(&app, "alice", "Desk lamp").await;
    active(&app, "alice", "Standing desk").await;
    active(&app, "alice", "Desk lamp bulb pack of six").await;
    app.run_index_worker().await;

    let reply = app.send(search("desk lamp")).await;

    let results = reply.body["data"].as_array().unwrap();
    assert_eq!(results[0]["id"], exact["id"]);
    let scores: Vec<f64> = results.iter().map(|r| r["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|pair| pair[0] >= pair[1]), "descending: {scores:?}");
}

#[tokio::test]
async fn renaming_and_deleting_update_the_index() {
    let app = spawn_app().await;
    let item = active(&app, "alice", "Walnut bookshelf").await;
    let id = id_of(&item);
    app.run_index_worker().await;

    app.send(Call::update(&id, json!({"name": "Copper kettle"}))).await;
    app.run_index_worker().await;
    let by_new_name = found_ids(&app, search("copper kettle")).await;
    let by_old_name = app.send(search("walnut bookshelf")).await;

    assert_eq!(by_new_name.first(), Some(&id));
    let old_score = by_old_name.body["data"].as_array().unwrap().first().map_or(0.0, |r| r["score"].as_f64().unwrap());
    assert!(old_score < 0.2, "the old name no longer matches: {old_score}");

    app.send(Call::delete(&id).by("mia", "moderator")).await;
    app.run_index_worker().await;
    assert!(!found_ids(&app, search("copper kettle")).await.contains(&id), "deleted items are gone");
}

#[tokio::test]
async fn other_users_drafts_are_never_returned() {
    let app = spawn_app().await;
    let draft = app.create_as("alice", json!({"name": "Secret prototype", "price": 1})).await;
    app.run_index_worker().await;

    let stranger = found_ids(&app, search("secret prototype").by_user("bob")).await;
    let owner = found_ids(&app, search("secret prototype").by_user("alice")).await;
    let staff = found_ids(&app, search("secret prototype").by("mia", "moderator")).await;

    assert!(stranger.is_empty());
    assert_eq!(owner, [id_of(&draft)]);
    assert_eq!(staff, [id_of(&draft)]);
}

#[tokio::test]
async fn a_poison_message_fails_alone() {
    let app = spawn_app().await;
    active(&app, "alice", "First").await;
    app.send_to_index_queue("{ not json").await;
    active(&app, "alice", "Second").await;

    let event = app.receive_index_batch().await;
    assert_eq!(event.records.len(), 3);
    let poison_id = event.records.iter().find(|m| m.body.as_deref() == Some("{ not json")).unwrap().message_id.clone();

    let response = index_worker::handle(event, &app.app.worker).await;

    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| Some(f.item_identifier.clone())).collect();
    assert_eq!(failed, [poison_id], "exactly the poison message is reported");
    let first = found_ids(&app, search("first")).await;
    let second = found_ids(&app, search("second")).await;
    assert_eq!((first.len(), second.len()), (1, 1), "both good messages were processed, and only they match");
}

#[tokio::test]
async fn repeated_and_out_of_order_jobs_leave_the_newest_version() {
    let app = spawn_app().await;
    let item = active(&app, "alice", "Version one").await;
    let id = id_of(&item);
    app.send(Call::update(&id, json!({"name": "Version two"}))).await;
    app.send(Call::update(&id, json!({"name": "Version three"}))).await;
    // Deliver the three jobs newest first, then all of them again.
    let mut jobs = app.receive_index_batch().await;
    jobs.records.reverse();
    index_worker::handle(jobs.clone(), &app.app.worker).await;
    index_worker::handle(jobs, &app.app.worker).await;

    let newest = app.send(search("version three")).await;
    assert_eq!(newest.body["data"][0]["id"], item["id"]);
    assert!(newest.body["data"][0]["score"].as_f64().unwrap() > 0.99, "indexed at version 3");
    let stale = app.send(search("version one")).await;
    assert!(stale.body["data"][0]["score"].as_f64().unwrap() < 0.99, "version 1 is not what is indexed");
}

#[tokio::test]
async fn items_written_while_sqs_is_down_are_found_by_the_reconciler() {
    let app = spawn_app().await;
    let sqs_down = app.with_sqs_down();
    let reply = create_item::handle(
        Call::create(json!({"name": "Offline lantern", "price": 5, "status": "active"})).request(),
        &sqs_down.gate,
        &sqs_down.items,
    )
    .await;
    assert_eq!(reply.status(), 201, "the write succeeds although SQS is down");
    assert_eq!(app.run_index_worker().await, (0, 0), "no job reached the queue");

    let user_reindex = app.send(Call::fixture("reindex.ok").by_user("alice")).await;
    let reindex = app.send(Call::fixture_as_is("reindex.ok")).await;
    assert_eq!(user_reindex.status, 403, "reindex is admin only");
    assert_eq!(reindex.body["data"]["enqueued"], 1);
    app.run_index_worker().await;

    assert_eq!(found_ids(&app, search("offline lantern")).await.len(), 1);
    let again = app.send(Call::fixture_as_is("reindex.ok")).await;
    assert_eq!(again.body["data"]["enqueued"], 0, "indexing cleared the stale marker");
}

#[tokio::test]
async fn bad_search_parameters_are_400() {
    let app = spawn_app().await;

    let missing = app.send(Call::fixture("search-items.ok").set_query("q", "  ")).await;
    let limits = app.send(search("x").set_query("limit", "51").query("status", "gone")).await;

    assert_eq!(missing.bad_fields(), [("q".into(), "required".into())]);
    assert_eq!(limits.bad_fields(), [("limit".into(), "invalid".into()), ("status".into(), "invalid".into())]);
}

fn a_minute_ago() -> shared::domain::Timestamp {
    shared::domain::Timestamp::from_millis(shared::domain::Timestamp::now().as_millis() - 60_000)
}

#[tokio::test]
async fn a_vector_written_long_after_its_job_started_still_reaches_a_warm_search_container() {
    let app = spawn_app().await;
    let first = active(&app, "alice", "warm lantern").await;
    app.run_index_worker().await;
    assert_eq!(found_ids(&app, search("warm lantern")).await, [id_of(&first)], "the search container is warm");

    let late = active(&app, "alice", "late teapot").await;
    // A worker whose job started a minute ago (a redelivery, a slow embedding) writes the vector now.
    let mut lagging = app.container();
    lagging.worker.clock = a_minute_ago;
    index_worker::handle(app.receive_index_batch().await, &lagging.worker).await;

    assert!(found_ids(&app, search("late teapot")).await.contains(&id_of(&late)), "loaded by the refresh");
}
