//! Indexing through SQS and the worker, and search over the result.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};

use crate::helpers::{Call, TestApp, id_of, spawn_app, spawn_app_with_vector_dimensions};
use crate::proxy::{Fault, Rule};

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

/// A household catalogue whose names share few words: meaning is all that links a query to most.
const CATALOGUE: [&str; 12] = [
    "Leather sofa",
    "Ceramic mug",
    "Desk lamp",
    "Garden hose",
    "Copper kettle",
    "Oak bookshelf",
    "Wool blanket",
    "Running shoes",
    "Cast iron skillet",
    "Bath towel",
    "Wall clock",
    "Pillow",
];

/// Lower-cased words and their character trigrams: what a spelling-based search can match on.
fn spellings(text: &str) -> std::collections::HashSet<String> {
    let words: Vec<String> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
    let trigrams = words.iter().flat_map(|w| {
        let chars: Vec<char> = w.chars().collect();
        chars.windows(3).map(|t| t.iter().collect::<String>()).collect::<Vec<_>>()
    });
    words.iter().cloned().chain(trigrams).collect()
}

#[tokio::test]
async fn a_query_finds_the_item_it_means_with_no_word_or_trigram_in_common() {
    let app = spawn_app().await;
    let mut ids = std::collections::HashMap::new();
    for name in CATALOGUE {
        ids.insert(name, id_of(&active(&app, "alice", name).await));
    }
    app.run_index_worker().await;

    for (query, meant) in [
        ("couch", "Leather sofa"),
        ("coffee cup", "Ceramic mug"),
        ("frying pan", "Cast iron skillet"),
        ("sneakers", "Running shoes"),
    ] {
        assert!(spellings(query).is_disjoint(&spellings(meant)), "{query:?} and {meant:?} share a spelling");
        let found = found_ids(&app, search(query)).await;
        assert_eq!(found.first(), Some(&ids[meant]), "{query:?} should find {meant:?} first");
    }
}

#[tokio::test]
async fn every_item_ranks_first_for_its_own_name() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for name in CATALOGUE.iter().chain(&["Leather armchair", "Ceramic teapot", "Desk organiser", "Oak desk"]) {
        ids.push((*name, id_of(&active(&app, "alice", name).await)));
    }
    app.run_index_worker().await;

    for (name, id) in ids {
        let reply = app.send(search(name)).await;
        assert_eq!(reply.body["data"][0]["id"], id.as_str(), "{name:?}: {:?}", reply.body["data"]);
        assert!(reply.body["data"][0]["score"].as_f64().unwrap() > 0.99, "its own name scores about 1");
    }
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
    let kettle = id_of(&active(&app, "alice", "Copper kettle").await);
    app.send_to_index_queue("{ not json").await;
    let hose = id_of(&active(&app, "alice", "Garden hose").await);

    let event = app.receive_index_batch().await;
    assert_eq!(event.records.len(), 3);
    let poison_id = event.records.iter().find(|m| m.body.as_deref() == Some("{ not json")).unwrap().message_id.clone();

    let response = shared::worker::handle_batch(&app.app.worker, event).await;

    let failed: Vec<_> = response.batch_item_failures.iter().map(|f| Some(f.item_identifier.clone())).collect();
    assert_eq!(failed, [poison_id], "exactly the poison message is reported");
    let by_kettle = found_ids(&app, search("copper kettle")).await;
    let by_hose = found_ids(&app, search("garden hose")).await;
    assert_eq!((by_kettle.first(), by_hose.first()), (Some(&kettle), Some(&hose)), "both good messages were processed");
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 0, "nothing left unindexed");
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
    shared::worker::handle_batch(&app.app.worker, jobs.clone()).await;
    shared::worker::handle_batch(&app.app.worker, jobs).await;

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
    let reply = shared::http::route::create_item(
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

/// The exact ranking the index must reproduce: cosine similarity of the embedder's vectors, best
/// first, none below the service's floor. (The local index is exact; AWS's is approximate.)
fn exact_ranking(query: &str, items: &[(String, &str)], limit: usize) -> Vec<(String, f32)> {
    use shared::search::{Embedder, StaticEmbedder, dot, item_text};
    let embedder = StaticEmbedder::builtin().expect("the built-in embedding table parses");
    let query = embedder.embed(query);
    let mut scored: Vec<(String, f32)> = items
        .iter()
        .map(|(id, name)| (id.clone(), dot(&query, &embedder.embed(&item_text(name, "")))))
        .filter(|(_, score)| *score >= shared::service::MIN_SCORE)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    scored.truncate(limit);
    scored
}

#[tokio::test]
async fn the_index_ranks_exactly_as_the_exact_scorer_with_higher_scores_first() {
    let app = spawn_app().await;
    let names = [
        "Desk lamp",
        "Brass desk lamp",
        "Lamp shade",
        "Standing desk",
        "Oak desk",
        "Reading lamp",
        "Copper kettle",
        "Walnut shelf",
        "Desk lamp bulbs",
        "Velvet sofa",
        "Lamp oil",
        "Desk organiser",
    ];
    let mut items = Vec::new();
    for name in names {
        let created = app.create_as("alice", json!({"name": name, "price": 100, "status": "active"})).await;
        items.push((id_of(&created), name));
    }
    app.run_index_worker().await;

    let reply = app.send(search("desk lamp").set_query("limit", "5")).await;

    let got: Vec<(String, f32)> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (id_of(r), r["score"].as_f64().unwrap() as f32))
        .collect();
    let expected = exact_ranking("desk lamp", &items, 5);
    assert_eq!(got.iter().map(|r| &r.0).collect::<Vec<_>>(), expected.iter().map(|r| &r.0).collect::<Vec<_>>());
    for ((_, score), (_, oracle)) in got.iter().zip(&expected) {
        assert!((score - oracle).abs() < 1e-4, "score {score} vs exact {oracle}");
    }
}

#[tokio::test]
async fn nearer_drafts_of_others_never_crowd_out_a_page() {
    let app = spawn_app().await;
    // More of bob's drafts than one search asks the index for, each a better match than alice's.
    for _ in 0..20 {
        app.create_as("bob", json!({"name": "Velvet armchair", "price": 1})).await;
    }
    let public =
        [active(&app, "alice", "Velvet armchair in green").await, active(&app, "alice", "Velvet armchair cover").await];
    app.run_index_worker().await;

    let stranger = found_ids(&app, search("velvet armchair").set_query("limit", "2").by_user("carol")).await;
    let owner = found_ids(&app, search("velvet armchair").set_query("limit", "5").by_user("bob")).await;

    let mut expected: Vec<String> = public.iter().map(id_of).collect();
    expected.sort();
    let mut stranger_sorted = stranger.clone();
    stranger_sorted.sort();
    assert_eq!(stranger_sorted, expected, "the page is full of what the caller may see");
    assert_eq!(owner.len(), 5, "the owner's own drafts are theirs to find");
}

#[tokio::test]
async fn the_status_parameter_filters_in_the_search() {
    let app = spawn_app().await;
    let live = active(&app, "alice", "Linen curtain").await;
    let old = app.create_as("alice", json!({"name": "Linen curtain", "price": 1, "status": "archived"})).await;
    let draft = app.create_as("alice", json!({"name": "Linen curtain", "price": 1})).await;
    app.run_index_worker().await;
    let with = |status: &str, who: &str, role: &str| search("linen curtain").set_query("status", status).by(who, role);

    assert_eq!(found_ids(&app, with("active", "bob", "user")).await, [id_of(&live)]);
    assert_eq!(found_ids(&app, with("archived", "bob", "user")).await, [id_of(&old)]);
    assert!(found_ids(&app, with("draft", "bob", "user")).await.is_empty(), "not bob's draft");
    assert_eq!(found_ids(&app, with("draft", "alice", "user")).await, [id_of(&draft)]);
    assert_eq!(found_ids(&app, with("draft", "mia", "moderator")).await, [id_of(&draft)], "staff see drafts");
    assert_eq!(found_ids(&app, search("linen curtain").by_user("bob")).await.len(), 2, "public ones, any status");
}

#[tokio::test]
async fn an_unpublished_item_leaves_the_results_before_and_after_reindexing() {
    let app = spawn_app().await;
    let item = active(&app, "alice", "Ceramic teapot").await;
    let id = id_of(&item);
    app.run_index_worker().await;
    assert_eq!(found_ids(&app, search("ceramic teapot").by_user("bob")).await, std::slice::from_ref(&id));

    let unpublished = app.send(Call::update(&id, json!({"status": "draft"})).by_user("alice")).await;
    assert_eq!(unpublished.status, 200);
    // The index still files it as public: the re-check on fresh data hides it already.
    assert!(found_ids(&app, search("ceramic teapot").by_user("bob")).await.is_empty(), "hidden before the worker");
    app.run_index_worker().await;

    assert!(found_ids(&app, search("ceramic teapot").by_user("bob")).await.is_empty(), "hidden after it");
    let own = search("ceramic teapot").set_query("status", "draft").by_user("alice");
    assert_eq!(found_ids(&app, own).await, [id], "now on the owner's draft shelf");
}

/// A container whose DynamoDB calls pass a proxy that answers every `SearchVectors` with `fault`.
async fn search_answered_with(fault: Fault) -> crate::helpers::Reply {
    let app = spawn_app().await;
    active(&app, "alice", "Glass vase").await;
    app.run_index_worker().await;
    let (proxy, container) = app.behind_fault_proxy().await;
    proxy.inject(Rule::on("SearchVectors").times(usize::MAX).fault(fault));
    let reply = app.send_to(&container, search("glass vase")).await;
    assert!(proxy.fired() > 0, "the fault was injected");
    reply
}

#[tokio::test]
async fn a_throttled_search_is_503_with_retry_after() {
    let reply = search_answered_with(Fault::Throttle).await;

    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert_eq!(reply.body["error"]["code"], "service_unavailable");
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_search_while_the_index_backfills_is_503_with_retry_after() {
    let body = json!({
        "__type": "com.amazon.coral.validate#ValidationException",
        "message": "Cannot search backfilling vector index: item_vectors",
    });
    let reply = search_answered_with(Fault::Respond { status: 400, body: body.to_string() }).await;

    assert_eq!(reply.status, 503, "{:?}", reply.body);
    assert!(reply.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_vector_the_index_refuses_fails_its_job_and_stays_marked_for_reindex() {
    // The table's index takes 128 dimensions; the embedder makes 256, as after a careless switch.
    let app = spawn_app_with_vector_dimensions(128).await;
    let id = id_of(&active(&app, "alice", "Pewter jug").await);

    let (processed, failed) = app.run_index_worker().await;

    assert_eq!((processed, failed), (0, 1), "the job is reported failed, not skipped");
    let vector = app
        .dynamo
        .get_item()
        .table_name(&app.table)
        .key("pk", AttributeValue::S(format!("ITEM#{id}")))
        .key("sk", AttributeValue::S("VECTOR".to_owned()))
        .send()
        .await
        .expect("get the vector record");
    assert!(vector.item.is_none(), "DynamoDB refused the vector: {:?}", vector.item);
    let reindex = app.send(Call::fixture_as_is("reindex.ok")).await;
    assert_eq!(reindex.body["data"]["enqueued"], 1, "the item is still marked stale");
}

#[tokio::test]
async fn a_vector_is_replaced_by_a_newer_version_or_another_embedder_only() {
    use shared::domain::{ItemId, ItemStatus, OwnerId, Timestamp};
    use shared::repository::{DynamoVectorRepository, ItemVector};
    use shared::search::{DIMENSIONS, Filing, VectorIndexConfig};
    let app = spawn_app().await;
    let vectors = DynamoVectorRepository::new(app.dynamo.clone(), &app.table, VectorIndexConfig::default());
    let id = ItemId::new(Timestamp::now());
    let filing = Filing::of(ItemStatus::Active, OwnerId::new("alice"));
    let vector = vec![1.0 / (DIMENSIONS as f32).sqrt(); DIMENSIONS];
    let put = |version: u64, embedder: &'static str| {
        let (vectors, vector, filing) = (&vectors, &vector, &filing);
        async move { vectors.put(&ItemVector { id, version, embedder, vector, filing }).await.expect("put vector") }
    };

    assert!(put(2, "old/256").await, "first vector");
    assert!(!put(2, "old/256").await, "the same version by the same embedder: nothing to do");
    assert!(!put(1, "new/256").await, "an older version never wins, whoever embedded it");
    assert!(put(2, "new/256").await, "the same version by another embedder: a migration re-embeds it");
    assert!(put(3, "new/256").await, "a newer version");
}

#[tokio::test]
async fn the_migration_script_marks_every_item_for_reindex() {
    let app = spawn_app().await;
    for name in ["Oak stool", "Pine bench", "Ash table"] {
        active(&app, "alice", name).await;
    }
    app.run_index_worker().await;
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 0, "all indexed");

    let python = crate::helpers::repo_root().join(".venv/bin/python");
    let script = crate::helpers::repo_root().join("infra/mark_all_stale.py");
    let output = std::process::Command::new(&python)
        .arg(&script)
        .arg(&app.table)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .output()
        .expect("run infra/mark_all_stale.py with the project's .venv");

    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("marked 3 items"), "items only");
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 3);
    assert_eq!(app.run_index_worker().await, (3, 0));
    assert_eq!(app.send(Call::fixture_as_is("reindex.ok")).await.body["data"]["enqueued"], 0, "cleared again");
}
