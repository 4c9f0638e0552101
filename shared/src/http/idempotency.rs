//! Idempotency keys for POSTs (what Powertools for AWS Lambda offers, without its gap): a request
//! with an `Idempotency-Key` stores its response in the same DynamoDB transaction as its effect.
//! A retry with the same key and body gets that response back without running again; the same key
//! with another body is a 422. Two requests with one key racing each other both run up to the
//! transaction; one commits, the other finds the first's record there and replays it. There is no
//! "in progress" state to expire, and no failure between effect and record can repeat the effect.
//! Keys are scoped to the caller and the route.

use aws_lc_rs::digest;
use lambda_http::Request;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::response::{Reply, StoredReply};
use crate::domain::{OwnerId, Principal, ReplayRecord, StoredReplay, Timestamp, Written};
use crate::service::ReplayService;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// How long a completed response is replayed (the record's TTL attribute, `expires_at`).
const RECORD_SECONDS: i64 = 24 * 3600;

pub struct IdempotencyStore {
    replays: ReplayService,
}

/// Who sent which key to which route, with which body.
struct KeyedRequest {
    route: &'static str,
    user: OwnerId,
    key: String,
    fingerprint: String,
}

impl IdempotencyStore {
    pub fn new(replays: ReplayService) -> Self {
        Self { replays }
    }

    /// Starts a POST that runs at most once per (caller, route, key). Without an `Idempotency-Key`
    /// header it simply runs. With one whose response is stored, that response is replayed (422 if
    /// the body differs). Otherwise the caller decides the effect and its reply without writing,
    /// writes the effect with `Attempt::record` in one transaction, and hands the outcome to
    /// `Attempt::finish`. Only a 2xx reply is ever recorded: a failed request leaves no record, so
    /// its retry runs.
    pub async fn begin(
        &self,
        request: &Request,
        caller: &Principal,
        route: &'static str,
        body: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<Begun, ApiError> {
        let keyed = idempotency_key(request)?.map(|key| KeyedRequest {
            route,
            user: caller.user_id.clone(),
            key,
            fingerprint: fingerprint(body),
        });
        if let Some(keyed) = &keyed {
            let stored = self.replays.find(keyed.route, &keyed.user, &keyed.key, now.as_millis() / 1000).await?;
            if let Some(stored) = stored {
                return replay(keyed, stored).map(Begun::Replay);
            }
        }
        Ok(Begun::Run(Attempt { keyed, now }))
    }
}

/// Where an idempotent POST stands after `IdempotencyStore::begin`.
pub enum Begun {
    /// An earlier run's stored response: send it back as it is.
    Replay(Reply),
    /// Nothing stored under the key (or no key): run the request.
    Run(Attempt),
}

/// A POST being run: what its write must carry, and how its outcome becomes the reply.
pub struct Attempt {
    keyed: Option<KeyedRequest>,
    now: Timestamp,
}

impl Attempt {
    /// The record to write in the effect's transaction, holding `reply`: none without a key.
    pub fn record(&self, reply: &Reply) -> Result<Option<ReplayRecord>, ApiError> {
        let Some(keyed) = &self.keyed else {
            return Ok(None);
        };
        Ok(Some(ReplayRecord {
            route: keyed.route,
            user: keyed.user.clone(),
            key: keyed.key.clone(),
            fingerprint: keyed.fingerprint.clone(),
            response: serde_json::to_value(reply.to_stored()).map_err(internal("encode reply"))?,
            now_seconds: self.now.as_millis() / 1000,
            keep_seconds: RECORD_SECONDS,
        }))
    }

    /// The reply, given how the write went: `reply` if it committed; if a racing request with the
    /// same key committed first, that one's stored response (or 422 for another body).
    pub fn finish(self, written: Written<()>, reply: Reply) -> Result<Reply, ApiError> {
        match (written, self.keyed) {
            (Written::Done(()), _) => Ok(reply),
            (Written::KeyTaken(stored), Some(keyed)) => replay(&keyed, stored),
            (Written::KeyTaken(_), None) => Err(ApiError::Internal {
                context: "a write without an idempotency key found one taken",
                source: "no key".into(),
            }),
        }
    }
}

/// The stored response for a retry with the same body; 422 for another body under the same key.
fn replay(keyed: &KeyedRequest, stored: StoredReplay) -> Result<Reply, ApiError> {
    if stored.fingerprint != keyed.fingerprint {
        return Err(ApiError::Unprocessable {
            code: "idempotency_key_reused",
            message: "this Idempotency-Key was used with a different request body".to_owned(),
        });
    }
    let stored: StoredReply = serde_json::from_value(stored.response).map_err(internal("decode stored reply"))?;
    Ok(Reply::from_stored(stored).header_str("idempotent-replayed", "true"))
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
