use serde_json::json;

use crate::helpers::{Call, spawn_app};

#[tokio::test]
async fn create_item_returns_201_with_location_etag_and_caller_as_owner() {
    let app = spawn_app().await;

    let reply = app
        .send(
            Call::create(json!({"name": "  Desk lamp ", "price": 4999, "stock": 3, "status": "active"}))
                .by_user("alice"),
        )
        .await;

    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["success"], true);
    let item = &reply.body["data"];
    let id = item["id"].as_str().unwrap();
    assert_eq!(id.len(), 26, "a ULID");
    assert_eq!(item["name"], "Desk lamp", "name is trimmed");
    assert_eq!(item["price"], 4999);
    assert_eq!(item["stock"], 3);
    assert_eq!(item["status"], "active");
    assert_eq!(item["description"], "");
    assert_eq!(item["owner_id"], "alice");
    assert_eq!(item["version"], 1);
    assert_eq!(item["created_at"], item["updated_at"]);
    assert_eq!(reply.header("location"), Some(format!("/api/items/{id}").as_str()));
    assert_eq!(reply.header("etag"), Some("\"1\""));
    assert_eq!(reply.header("content-type"), Some("application/json"));

    let stored = app.send(Call::get(id)).await;
    assert_eq!(stored.body["data"], *item, "what was returned is what was stored");
}

#[tokio::test]
async fn create_item_applies_defaults_for_optional_fields() {
    let app = spawn_app().await;

    let item = app.create_as("alice", json!({"name": "Pen", "price": 150})).await;

    assert_eq!(item["status"], "draft");
    assert_eq!(item["stock"], 0);
    assert_eq!(item["description"], "");
}

#[tokio::test]
async fn create_item_reads_integers_as_json_schema_does() {
    let app = spawn_app().await;

    // OpenAPI's `integer` is any number with a zero fraction: 250.0 and 2.5e2 are 250.
    let item = app.create_as("alice", json!({"name": "Pen", "price": 250.0, "stock": 2.5e2})).await;

    assert_eq!((item["price"].as_u64(), item["stock"].as_u64()), (Some(250), Some(250)));
    let fraction = app.send(Call::create(json!({"name": "Pen", "price": 250.5}))).await;
    assert_eq!(fraction.bad_fields(), [("price".into(), "invalid_type".into())]);
    assert_eq!(app.item_count().await, 1);
}

#[tokio::test]
async fn create_item_lists_every_bad_field_and_writes_nothing() {
    let app = spawn_app().await;
    let body = json!({
        "name": "x".repeat(201), "description": 5, "price": 9.99, "stock": -1, "status": "sold"
    });

    let reply = app.send(Call::create(body)).await;

    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.error_code(), "validation_failed");
    assert_eq!(reply.body["error"]["request_id"], "fixture-request-id");
    let fields: Vec<_> = reply.bad_fields();
    assert_eq!(
        fields,
        [
            ("description".into(), "invalid_type".into()),
            ("name".into(), "too_long".into()),
            ("price".into(), "invalid_type".into()),
            ("status".into(), "invalid".into()),
            ("stock".into(), "out_of_range".into()),
        ]
    );
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn create_item_rejects_server_owned_and_unknown_fields() {
    let app = spawn_app().await;
    let body = json!({
        "name": "Lamp", "price": 1, "id": "01JDQ3G9X2V0Y8M6K4T5R7N3PA", "owner_id": "mallory",
        "version": 7, "created_at": "2020-01-01T00:00:00Z", "updated_at": "2020-01-01T00:00:00Z", "colour": "red"
    });

    let reply = app.send(Call::create(body)).await;

    assert_eq!(reply.status, 400);
    let codes: Vec<_> = reply.bad_fields().into_iter().map(|(f, c)| format!("{f}:{c}")).collect();
    assert_eq!(
        codes,
        [
            "colour:unknown_field",
            "created_at:read_only",
            "id:read_only",
            "owner_id:read_only",
            "updated_at:read_only",
            "version:read_only"
        ]
    );
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn create_item_requires_name_and_price() {
    let app = spawn_app().await;

    let reply = app.send(Call::create(json!({"stock": 1}))).await;

    assert_eq!(reply.status, 400);
    assert_eq!(reply.bad_fields(), [("name".into(), "required".into()), ("price".into(), "required".into())]);
}

#[tokio::test]
async fn malformed_bodies_get_clear_4xx_and_write_nothing() {
    let app = spawn_app().await;
    let base = Call::create(json!({"name": "Lamp", "price": 1}));
    let cases = [
        ("broken JSON", base.clone().body("{\"name\": "), 400, "invalid_json"),
        ("array body", base.clone().body("[1, 2]"), 400, "invalid_body"),
        ("empty body", base.clone().body(""), 400, "empty_body"),
        ("text/plain", base.clone().header("content-type", "text/plain"), 415, "unsupported_media_type"),
        ("no content type", base.clone().without_header("content-type"), 415, "unsupported_media_type"),
        (
            "oversize",
            base.clone().body(&format!("{{\"name\":\"a\",\"price\":1,\"description\":\"{}\"}}", "x".repeat(70_000))),
            413,
            "payload_too_large",
        ),
        ("query parameter", base.clone().query("dry_run", "1"), 400, "validation_failed"),
    ];
    for (case, call, status, code) in cases {
        let reply = app.send(call).await;
        assert_eq!((reply.status, reply.error_code()), (status, code), "{case}: {:?}", reply.body);
        assert_eq!(reply.body["success"], false, "{case}");
    }
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn create_item_accepts_largest_valid_item() {
    let app = spawn_app().await;
    // 200 + 5000 four-byte characters: ~21 KB, inside the body limit.
    let body = json!({"name": "😀".repeat(200), "description": "😀".repeat(5000), "price": 9_007_199_254_740_991_u64});

    let item = app.create_as("alice", body).await;

    assert_eq!(item["name"].as_str().unwrap().chars().count(), 200);
    assert_eq!(item["price"], 9_007_199_254_740_991_u64);
}
