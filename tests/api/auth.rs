use serde_json::json;

use crate::helpers::{Call, signed_token, spawn_app};

fn every_route() -> Vec<(&'static str, Call)> {
    let id = "01JDQ3G9X2V0Y8M6K4T5R7N3PA";
    vec![
        ("list", Call::list()),
        ("get", Call::get(id)),
        ("create", Call::create(json!({"name": "Lamp", "price": 1}))),
        ("replace", Call::replace(id, json!({"name": "Lamp", "price": 1}))),
        ("update", Call::update(id, json!({"stock": 1}))),
        ("delete", Call::delete(id)),
    ]
}

#[tokio::test]
async fn every_route_requires_a_bearer_token() {
    let app = spawn_app().await;

    for (route, call) in every_route() {
        let reply = app.send(call.without_header("authorization")).await;

        assert_eq!(reply.status, 401, "{route}");
        assert_eq!(reply.error_code(), "unauthorized", "{route}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{route}");
    }
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn invalid_tokens_get_401_invalid_token_and_write_nothing() {
    let app = spawn_app().await;
    let now = jsonwebtoken::get_current_timestamp();
    let bad_tokens = [
        ("expired", signed_token(json!({"sub": "alice", "role": "user", "exp": now - 600}))),
        ("no role", signed_token(json!({"sub": "alice", "exp": now + 600}))),
        ("no sub", signed_token(json!({"role": "user", "exp": now + 600}))),
        ("garbage", "abc.def.ghi".to_owned()),
    ];

    for (case, token) in bad_tokens {
        for (route, call) in every_route() {
            let reply = app.send(call.bearer(&token)).await;

            assert_eq!(reply.status, 401, "{case} on {route}");
            assert_eq!(reply.header("www-authenticate"), Some("Bearer error=\"invalid_token\""), "{case} on {route}");
            assert!(!reply.body.to_string().contains("Expired"), "reasons are not echoed");
        }
    }
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn unauthenticated_requests_are_rejected_before_input_is_examined() {
    let app = spawn_app().await;

    let reply = app.send(Call::create(json!({"price": -1})).without_header("authorization")).await;

    assert_eq!(reply.status, 401, "no validation detail leaks to an anonymous caller");
}
