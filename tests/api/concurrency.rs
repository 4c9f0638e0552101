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

/// A PATCH without `If-Match` is fenced on the version it read (see README, "Attempts that arrive
/// late"); one that loses the race to another reads again instead of answering 412, which the client
/// never asked for. Two containers stand in for two instances of the function.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_without_if_match_from_two_containers_all_land_and_none_is_a_412() {
    let app = spawn_app().await;
    let other = std::sync::Arc::new(app.container_via(&std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL")));
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 1, "stock": 0})).await;
    let id = id_of(&item);

    let mut writers = JoinSet::new();
    for n in 0..6 {
        let (app, other, id) = (app.clone(), other.clone(), id.clone());
        writers.spawn(async move {
            let call = Call::update(&id, json!({"name": format!("writer {n}")}));
            let reply = if n % 2 == 0 { app.send(call).await } else { app.send_to(&other, call).await };
            (reply.status, reply.body["data"]["name"].as_str().map(str::to_owned))
        });
    }
    let mut answers = Vec::new();
    while let Some(answer) = writers.join_next().await {
        answers.push(answer.expect("writer task"));
    }

    assert!(
        answers.iter().all(|(status, _)| matches!(status, 200 | 503)),
        "only 200, or 503 after 4 lost races: {answers:?}"
    );
    // A 503 means 4 reads each found the version moved on: 4 other writes landed.
    let landed = answers.iter().filter(|(status, _)| *status == 200).count();
    assert!(landed >= 4, "re-reading lets most through: {answers:?}");
    let current = app.send(Call::get(&id)).await;
    assert_eq!(current.body["data"]["version"], 1 + landed as u64, "each 200 bumped the version once");
    let name = current.body["data"]["name"].as_str().map(str::to_owned);
    assert!(
        answers.iter().any(|(status, written)| *status == 200 && *written == name),
        "the stored name is an acknowledged one"
    );
}
