//! Idempotent requests: the answer a keyed request earned, stored with its effect so a retry gets
//! it back, and what a write reports when another request with the same key got there first.

use serde_json::Value;

use super::item::OwnerId;

/// What a keyed request stores along with its effect. Keys are scoped to the route and the user,
/// so they never collide across either.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayRecord {
    pub route: &'static str,
    pub user: OwnerId,
    pub key: String,
    /// SHA-256 of the request body as canonical JSON: a retry must send the same body.
    pub fingerprint: String,
    pub response: Value,
    pub now_seconds: i64,
    /// How long the response is replayed.
    pub keep_seconds: i64,
}

/// A stored response, as a later request with the same key finds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReplay {
    pub fingerprint: String,
    pub response: Value,
}

/// What a write guarded by an idempotency record did.
#[derive(Debug)]
pub enum Written<T> {
    /// This request's effect is stored (now, or by an earlier attempt of this very request).
    Done(T),
    /// Another request with the same idempotency key stored its effect first: nothing was written.
    KeyTaken(StoredReplay),
}
