//! Redis (ElastiCache / Valkey) backend: one connection per container, opened on first use (not
//! at cold start) and re-established by the connection manager. Every operation is bounded in
//! time; a slow or absent Redis degrades reads to cache misses and refuses fences (so writes).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use redis::{AsyncCommands, ExistenceCheck, SetExpiry, SetOptions};
use tokio::sync::OnceCell;

use super::{Cache, CacheUnavailable, FENCE_TTL};

/// What a fenced key holds: no JSON document starts with a NUL.
const FENCE: &str = "\u{0}fence";

const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connect, requests skip the cache this long instead of each paying a timeout.
const RECONNECT_AFTER: Duration = Duration::from_secs(5);

pub struct RedisCache {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    failed_at: Mutex<Option<Instant>>,
}

impl RedisCache {
    /// Refuses a `CACHE_URL` redis cannot parse; connecting happens on first use.
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        Ok(Self { client, connection: OnceCell::new(), failed_at: Mutex::new(None) })
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        if let Some(connection) = self.connection.get() {
            return Some(connection.clone());
        }
        let recently_failed =
            self.failed_at.lock().is_ok_and(|failed_at| failed_at.is_some_and(|at| at.elapsed() < RECONNECT_AFTER));
        if recently_failed {
            return None;
        }
        let connect = || async {
            tokio::time::timeout(OPERATION_TIMEOUT * 4, ConnectionManager::new(self.client.clone()))
                .await
                .map_err(|_| "connect timed out".to_owned())
                .and_then(|result| result.map_err(|e| e.to_string()))
        };
        match self.connection.get_or_try_init(connect).await {
            Ok(connection) => Some(connection.clone()),
            Err(reason) => {
                tracing::warn!(%reason, "cache unavailable; reading through to DynamoDB");
                if let Ok(mut failed_at) = self.failed_at.lock() {
                    *failed_at = Some(Instant::now());
                }
                None
            }
        }
    }

    async fn bounded<T>(&self, operation: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        match tokio::time::timeout(OPERATION_TIMEOUT, operation).await {
            Ok(Ok(value)) => Some(value),
            Ok(Err(error)) => {
                tracing::warn!(%error, "cache operation failed");
                None
            }
            Err(_) => {
                tracing::warn!("cache operation timed out");
                None
            }
        }
    }
}

impl Cache for RedisCache {
    fn enabled(&self) -> bool {
        true
    }

    async fn get(&self, key: &str) -> Option<String> {
        let mut connection = self.connection().await?;
        self.bounded(connection.get::<_, Option<String>>(key)).await.flatten().filter(|value| value != FENCE)
    }

    async fn fill(&self, key: &str, value: String, ttl: Duration) {
        let Some(mut connection) = self.connection().await else { return };
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let options = SetOptions::default().conditional_set(ExistenceCheck::NX).with_expiration(SetExpiry::PX(millis));
        self.bounded(connection.set_options::<_, _, ()>(key, value, options)).await;
    }

    async fn fence(&self, keys: &[String]) -> Result<(), CacheUnavailable> {
        let mut connection = self.connection().await.ok_or(CacheUnavailable)?;
        let millis = u64::try_from(FENCE_TTL.as_millis()).unwrap_or(u64::MAX);
        let mut fences = redis::pipe();
        fences.atomic();
        for key in keys {
            fences.pset_ex(key, FENCE, millis).ignore();
        }
        self.bounded(fences.query_async::<()>(&mut connection)).await.ok_or(CacheUnavailable)
    }
}
