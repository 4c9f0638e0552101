//! Cache-aside for item reads: `CachedItemRepository` wraps any `ItemRepository`, reading through
//! the cache and invalidating on every write. Two backends behind one `Cache` trait: Redis
//! (ElastiCache/Valkey) when `CACHE_URL` is set, shared by all containers; otherwise a small
//! in-container LRU with TTL.

mod memory;
mod redis_cache;
mod repository;

use std::future::Future;
use std::time::Duration;

pub use memory::MemoryCache;
pub use redis_cache::RedisCache;
pub use repository::{CachedItemRepository, cache_key};

/// A string cache. Backends swallow their own failures (a cache outage is a miss, never an error).
pub trait Cache: Send + Sync {
    fn get(&self, key: &str) -> impl Future<Output = Option<String>> + Send;
    fn set(&self, key: &str, value: String, ttl: Duration) -> impl Future<Output = ()> + Send;
    fn delete(&self, key: &str) -> impl Future<Output = ()> + Send;
}

impl<T: Cache> Cache for std::sync::Arc<T> {
    async fn get(&self, key: &str) -> Option<String> {
        self.as_ref().get(key).await
    }

    async fn set(&self, key: &str, value: String, ttl: Duration) {
        self.as_ref().set(key, value, ttl).await
    }

    async fn delete(&self, key: &str) {
        self.as_ref().delete(key).await
    }
}

/// The backend chosen by configuration.
pub enum AnyCache {
    Memory(MemoryCache),
    Redis(RedisCache),
}

impl Cache for AnyCache {
    async fn get(&self, key: &str) -> Option<String> {
        match self {
            AnyCache::Memory(cache) => cache.get(key).await,
            AnyCache::Redis(cache) => cache.get(key).await,
        }
    }

    async fn set(&self, key: &str, value: String, ttl: Duration) {
        match self {
            AnyCache::Memory(cache) => cache.set(key, value, ttl).await,
            AnyCache::Redis(cache) => cache.set(key, value, ttl).await,
        }
    }

    async fn delete(&self, key: &str) {
        match self {
            AnyCache::Memory(cache) => cache.delete(key).await,
            AnyCache::Redis(cache) => cache.delete(key).await,
        }
    }
}
