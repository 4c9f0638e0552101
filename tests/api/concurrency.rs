use serde_json::json;
use tokio::task::JoinSet;

use crate::helpers::{Call, id_of, spawn_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_with_the_same_if_match_let_exactly_one_through() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1, "stock": 0})).await;
    let id = id_of(&item);

    let mut writers = JoinSet::new();
    for n in 0..20 {
        let (app, id) = (app.clone(), id.clone());
        writers.spawn(async move {
            app.send(Call::update(&id, json!({"stock": n + 1})).header("if-match", "\"1\"")).await.status
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = writers.join_next().await {
        statuses.push(status.expect("writer task"));
    }

    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 412).count(), 19, "{statuses:?}");
    let current = app.send(Call::get(&id)).await;
    assert_eq!(current.body["data"]["version"], 2, "exactly one write landed");
}
