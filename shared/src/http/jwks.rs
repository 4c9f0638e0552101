//! A JSON Web Key Set fetched over HTTPS once per container and cached. A token whose `kid` is not
//! in the cache triggers at most one refresh, and refreshes are rate-limited, so a flood of tokens
//! with made-up `kid`s cannot turn into a flood of requests to the identity provider.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::Mutex;

const MAX_JWKS_BYTES: usize = 64 * 1024;
const FETCH_TIMEOUT: Duration = Duration::from_secs(3);

type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

#[derive(Debug)]
pub enum JwksError {
    /// The set, even freshly fetched, has no key with this id.
    UnknownKey,
    /// The key is not among those cached and the identity provider could not be asked (now, or at
    /// the last attempt, which the refresh interval keeps from being repeated yet).
    Unavailable(String),
}

/// Why a key set could not be fetched.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("bad JWKS_URL")]
    Url(#[source] hyper::http::uri::InvalidUri),
    #[error("no root certificates")]
    Roots(#[source] std::io::Error),
    #[error("JWKS request failed")]
    Request(#[source] hyper_util::client::legacy::Error),
    #[error("JWKS endpoint answered {0}")]
    Status(hyper::StatusCode),
    #[error("JWKS body could not be read")]
    Body(#[source] crate::error::BoxError),
    #[error("JWKS is not a key set")]
    NotAKeySet(#[source] serde_json::Error),
    #[error("JWKS fetch timed out after {0:?}")]
    TimedOut(Duration),
}

pub struct JwksCache {
    url: String,
    ttl: Duration,
    min_refresh_interval: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    keys: HashMap<String, Arc<DecodingKey>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    /// Why the last fetch failed, while it stands: an unknown key is then not the token's fault.
    last_failure: Option<String>,
    // Built on first use: loading the system's root certificates is work a cold start can skip.
    client: Option<HttpsClient>,
}

impl JwksCache {
    pub fn new(url: impl Into<String>, ttl: Duration, min_refresh_interval: Duration) -> Self {
        Self { url: url.into(), ttl, min_refresh_interval, state: Mutex::new(State::default()) }
    }

    pub async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, JwksError> {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        let fresh = state.fetched_at.is_some_and(|at| now.duration_since(at) < self.ttl);
        if fresh && let Some(key) = state.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_refresh = state.last_attempt.is_none_or(|at| now.duration_since(at) >= self.min_refresh_interval);
        if may_refresh {
            state.last_attempt = Some(now);
            // One deadline for the whole fetch: connecting, headers and body.
            let fetched = tokio::time::timeout(FETCH_TIMEOUT, self.fetch(&mut state))
                .await
                .unwrap_or(Err(FetchError::TimedOut(FETCH_TIMEOUT)));
            match fetched {
                Ok(keys) => {
                    state.keys = keys;
                    state.fetched_at = Some(now);
                    state.last_failure = None;
                }
                // Keep serving the keys we had: an identity-provider blip must not log everyone out.
                Err(error) => {
                    let reason = crate::error::error_chain(&error);
                    tracing::warn!(url = %self.url, %reason, cached = state.keys.len(), "JWKS fetch failed");
                    state.last_failure = Some(reason);
                }
            }
        }
        match (state.keys.get(kid), &state.last_failure) {
            (Some(key), _) => Ok(key.clone()),
            // The provider could not be asked: the token may well be valid. Say so, not "invalid".
            (None, Some(reason)) => Err(JwksError::Unavailable(reason.clone())),
            (None, None) => Err(JwksError::UnknownKey),
        }
    }

    async fn fetch(&self, state: &mut State) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
        let uri: hyper::Uri = self.url.parse().map_err(FetchError::Url)?;
        let client = match &state.client {
            Some(client) => client,
            None => {
                let https = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(FetchError::Roots)?
                    .https_or_http()
                    .enable_http1()
                    .build();
                state.client.insert(Client::builder(TokioExecutor::new()).build(https))
            }
        };
        let response = client.get(uri).await.map_err(FetchError::Request)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status()));
        }
        let body =
            Limited::new(response.into_body(), MAX_JWKS_BYTES).collect().await.map_err(FetchError::Body)?.to_bytes();
        parse_key_set(&body)
    }
}

/// Keys without a `kid`, or of a type we cannot verify with, are skipped rather than failing the set.
fn parse_key_set(body: &[u8]) -> Result<HashMap<String, Arc<DecodingKey>>, FetchError> {
    let set: JwkSet = serde_json::from_slice(body).map_err(FetchError::NotAKeySet)?;
    Ok(set
        .keys
        .iter()
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, Arc::new(key)))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_skips_those_without_kid() {
        let body = br#"{"keys":[
            {"kty":"EC","kid":"ec-1","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]}"#;
        let keys = parse_key_set(body).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), ["ec-1"]);
    }

    #[test]
    fn rejects_a_body_that_is_not_a_key_set() {
        assert!(parse_key_set(b"<html>").is_err());
    }
}
