//! Every fixture in events/ is a real API Gateway v2 event that its function answers as expected.

use crate::helpers::{Call, id_of, load_fixture, repo_root, spawn_app};

#[tokio::test]
async fn every_fixture_is_exercised_through_its_function() {
    let app = spawn_app().await;
    let fixture_id = load_fixture("get-item.ok")["pathParameters"]["id"].as_str().unwrap().to_owned();
    let seeded =
        app.create_as("fixture-user", serde_json::json!({"name": "Seed", "price": 1, "status": "active"})).await;
    let seeded_id = id_of(&seeded);

    let expectations = [
        ("list-items.ok", 200),
        ("list-items.filtered", 200),
        ("list-items.offset", 400),
        ("create-item.ok", 201),
        ("create-item.invalid", 400),
        ("get-item.ok", 200),
        ("get-item.fields", 200),
        ("get-item.no-token", 401),
        ("update-item.ok", 200),
        ("update-item.if-match", 412),
        ("replace-item.ok", 200),
        ("delete-item.forbidden", 403),
        ("delete-item.ok", 204),
    ];
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("events"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    let mut covered: Vec<String> = expectations.iter().map(|(name, _)| (*name).to_owned()).collect();
    covered.sort();
    assert_eq!(names, covered, "every fixture has an expectation here");

    for (name, status) in expectations {
        // Fixtures carry their own (long-lived, dev-secret) token; only the item id is swapped in.
        let mut call = Call::fixture_as_is(name);
        if call.has_path_id() {
            assert_eq!(call.path_id(), fixture_id);
            call = call.id(&seeded_id);
        }
        let reply = app.send(call).await;
        assert_eq!(reply.status, status, "{name}: {:?}", reply.body);
    }
}
