//! `AUTH_MODE=gateway`: API Gateway's JWT authorizer verified the token; only its claims count.

use serde_json::json;
use shared::config::AuthConfig;

use crate::helpers::{Call, spawn_app_with};

#[tokio::test]
async fn claims_from_the_gateway_authorizer_identify_the_caller() {
    let app = spawn_app_with(AuthConfig::Gateway).await;

    let reply = app
        .send(
            Call::create(json!({"name": "Lamp", "price": 1}))
                .without_header("authorization")
                .gateway_claims(json!({"sub": "gail", "role": "user", "iss": "https://idp.example"})),
        )
        .await;

    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["data"]["owner_id"], "gail");
}

#[tokio::test]
async fn a_bearer_token_the_gateway_did_not_verify_is_not_trusted() {
    let app = spawn_app_with(AuthConfig::Gateway).await;

    // A perfectly valid dev token, but no authorizer context: the gateway did not vouch for it.
    let unverified = app.send(Call::create(json!({"name": "Lamp", "price": 1}))).await;
    let unknown_role = app
        .send(Call::list().without_header("authorization").gateway_claims(json!({"sub": "gail", "role": "root"})))
        .await;
    let moderator = app
        .send(Call::delete("01JDQ3G9X2V0Y8M6K4T5R7N3PA").gateway_claims(json!({"sub": "m", "role": "moderator"})))
        .await;

    assert_eq!(unverified.status, 401);
    assert_eq!(unknown_role.status, 401);
    assert_eq!(moderator.status, 404, "roles from the authorizer claims apply: a moderator may try to delete");
    assert_eq!(app.item_count().await, 0);
}

#[tokio::test]
async fn in_verify_mode_authorizer_claims_are_ignored() {
    let app = crate::helpers::spawn_app().await;

    let reply = app
        .send(Call::list().without_header("authorization").gateway_claims(json!({"sub": "gail", "role": "admin"})))
        .await;

    assert_eq!(reply.status, 401, "claims in the event are not proof in verify mode");
}
