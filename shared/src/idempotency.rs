//! Idempotency keys for POSTs (what Powertools for AWS Lambda offers, natively): the first request
//! with a key claims it in DynamoDB (an in-progress marker that expires), runs, and stores its
//! response with a TTL; a retry with the same key and body gets that response back without
//! running again; the same key with another body is a 422; a retry while the first still runs
//! is a 409. Keys are scoped to the caller and the route.

use std::collections::HashMap;
use std::future::Future;

use aws_lc_rs::digest;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use lambda_http::Request;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::{ItemId, OwnerId, Principal, Timestamp};
use crate::error::ApiError;
use crate::http::response::{Reply, StoredReply};
use crate::repository::keys;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// How long a claim blocks retries before a crashed first attempt may be taken over.
const IN_PROGRESS_SECONDS: i64 = 60;
/// How long a completed response is replayed (the record's TTL attribute, `expires_at`).
const RECORD_SECONDS: i64 = 24 * 3600;

pub struct IdempotencyStore {
    client: Client,
    table: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    state: String,
    fingerprint: String,
    /// Unique per claim, so only the claimer completes or releases it.
    claim: String,
    lock_expires_at: i64,
    expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    response: Option<StoredReply>,
}

const IN_PROGRESS: &str = "in_progress";
const COMPLETED: &str = "completed";

enum Claim {
    Proceed { key: HashMap<String, AttributeValue>, claim: String },
    Replay(StoredReply),
}

impl IdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Runs `work` at most once per (caller, route, key); without an `Idempotency-Key` header it
    /// simply runs. Only successful (2xx) replies are stored: after a failure the claim is
    /// released, so a retry runs again.
    pub async fn run<F, Fut>(
        &self,
        request: &Request,
        caller: &Principal,
        route: &str,
        body: &Map<String, Value>,
        now: Timestamp,
        work: F,
    ) -> Result<Reply, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Reply, ApiError>>,
    {
        let Some(key) = idempotency_key(request)? else {
            return work().await;
        };
        let fingerprint = fingerprint(body);
        let (key, claim) = match self.claim(route, &caller.user_id, &key, &fingerprint, now).await? {
            Claim::Replay(stored) => return Ok(Reply::from_stored(stored).header_str("idempotent-replayed", "true")),
            Claim::Proceed { key, claim } => (key, claim),
        };
        let outcome = work().await;
        match &outcome {
            Ok(reply) if reply.status().is_success() => self.complete(key, &claim, reply.to_stored(), now).await?,
            _ => self.release(key, &claim).await,
        }
        outcome
    }

    async fn claim(
        &self,
        route: &str,
        user: &OwnerId,
        key: &str,
        fingerprint: &str,
        now: Timestamp,
    ) -> Result<Claim, ApiError> {
        let now_seconds = now.as_millis() / 1000;
        let claim = ItemId::new(now).to_string();
        let record = Record {
            state: IN_PROGRESS.to_owned(),
            fingerprint: fingerprint.to_owned(),
            claim: claim.clone(),
            lock_expires_at: now_seconds + IN_PROGRESS_SECONDS,
            expires_at: now_seconds + RECORD_SECONDS,
            response: None,
        };
        let item_key = keys::idempotency_key(route, user, key);
        let mut item: HashMap<String, AttributeValue> = serde_dynamo::to_item(&record).map_err(internal("encode"))?;
        item.extend(item_key.clone());
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Free, expired (TTL deletion lags), or abandoned by a crashed attempt.
            .condition_expression(
                "attribute_not_exists(#pk) OR #expires_at < :now OR (#state = :in_progress AND #lock < :now)",
            )
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#lock", "lock_expires_at")
            .expression_attribute_values(":now", AttributeValue::N(now_seconds.to_string()))
            .expression_attribute_values(":in_progress", AttributeValue::S(IN_PROGRESS.to_owned()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let existing = match outcome.map_err(|e| e.into_service_error()) {
            Ok(_) => return Ok(Claim::Proceed { key: item_key, claim }),
            Err(PutItemError::ConditionalCheckFailedException(e)) => e.item.unwrap_or_default(),
            Err(other) => return Err(crate::repository::StoreError::from_sdk(other, "claim idempotency key").into()),
        };
        let existing: Record = serde_dynamo::from_item(existing).map_err(internal("decode"))?;
        if existing.fingerprint != fingerprint {
            return Err(ApiError::Unprocessable {
                code: "idempotency_key_reused",
                message: "this Idempotency-Key was used with a different request body".to_owned(),
            });
        }
        match existing.response {
            Some(stored) if existing.state == COMPLETED => Ok(Claim::Replay(stored)),
            _ => Err(ApiError::Conflict {
                code: "idempotency_in_progress",
                message: "a request with this Idempotency-Key is still being processed; retry shortly".to_owned(),
                details: Vec::new(),
            }),
        }
    }

    async fn complete(
        &self,
        key: HashMap<String, AttributeValue>,
        claim: &str,
        stored: StoredReply,
        now: Timestamp,
    ) -> Result<(), ApiError> {
        let response = serde_dynamo::to_attribute_value(&stored).map_err(internal("encode response"))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("SET #state = :completed, #response = :response, #expires_at = :expires")
            .condition_expression("#claim = :claim")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#response", "response")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":completed", AttributeValue::S(COMPLETED.to_owned()))
            .expression_attribute_values(":response", response)
            .expression_attribute_values(
                ":expires",
                AttributeValue::N((now.as_millis() / 1000 + RECORD_SECONDS).to_string()),
            )
            .expression_attribute_values(":claim", AttributeValue::S(claim.to_owned()))
            .send()
            .await
            .map_err(|e| crate::repository::StoreError::from_sdk(e.into_service_error(), "complete idempotency key"))?;
        Ok(())
    }

    /// Best effort: if this fails the claim simply expires after `IN_PROGRESS_SECONDS`.
    async fn release(&self, key: HashMap<String, AttributeValue>, claim: &str) {
        let outcome = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("#claim = :claim")
            .expression_attribute_names("#claim", "claim")
            .expression_attribute_values(":claim", AttributeValue::S(claim.to_owned()))
            .send()
            .await;
        if let Err(error) = outcome {
            tracing::warn!(error = %error, "could not release idempotency claim; it will expire");
        }
    }
}

fn internal<E: std::error::Error + Send + Sync + 'static>(context: &'static str) -> impl FnOnce(E) -> ApiError {
    move |source| ApiError::Internal { context, source: Box::new(source) }
}

/// The `Idempotency-Key` header: 1..=255 visible ASCII characters.
fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let Some(value) = request.headers().get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default();
    if key.is_empty() || key.len() > MAX_KEY_CHARS || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(
            "invalid_idempotency_key",
            format!("Idempotency-Key must be 1 to {MAX_KEY_CHARS} visible ASCII characters"),
        ));
    }
    Ok(Some(key.to_owned()))
}

/// SHA-256 of the body as canonical JSON (keys sorted), so a retry that re-serialises the same
/// body differently still matches.
pub fn fingerprint(body: &Map<String, Value>) -> String {
    let canonical = Value::Object(body.clone()).to_string();
    digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fingerprint_ignores_key_order_but_not_values() {
        let a = json!({"name": "Lamp", "price": 1});
        let b: Value = serde_json::from_str(r#"{ "price": 1, "name": "Lamp" }"#).unwrap();
        let c = json!({"name": "Lamp", "price": 2});
        let f = |v: &Value| fingerprint(v.as_object().unwrap());
        assert_eq!(f(&a), f(&b));
        assert_ne!(f(&a), f(&c));
    }
}
