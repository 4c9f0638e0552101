//! Redis (ElastiCache / Valkey) backend: one connection per container, opened on first use (not
//! at cold start) and re-established by the connection manager. Every operation is bounded in
//! time; a slow or absent Redis degrades to cache misses, never to failed requests.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use tokio::sync::OnceCell;

use super::Cache;

const OPERATION_TIMEOUT: Duration = Duration::from_millis(250);
/// After a failed connect, requests skip the cache this long instead of each paying a timeout.
const RECONNECT_AFTER: Duration = Duration::from_secs(5);

pub struct RedisCache {
    client: redis::Client,
    connection: OnceCell<ConnectionManager>,
    failed_at: Mutex<Option<Instant>>,
}

impl RedisCache {
    pub fn new(url: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("CACHE_URL: {e}"))?;
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
    async fn get(&self, key: &str) -> Option<String> {
        let mut connection = self.connection().await?;
        self.bounded(connection.get::<_, Option<String>>(key)).await.flatten()
    }

    async fn set(&self, key: &str, value: String, ttl: Duration) {
        let Some(mut connection) = self.connection().await else { return };
        let millis = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        self.bounded(connection.pset_ex::<_, _, ()>(key, value, millis)).await;
    }

    async fn delete(&self, key: &str) {
        let Some(mut connection) = self.connection().await else { return };
        self.bounded(connection.del::<_, ()>(key)).await;
    }
}
