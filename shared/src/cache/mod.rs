//! Cache-aside item reads, off by default. With `CACHE_URL` set, one Redis (ElastiCache/Valkey)
//! shared by every container of every function, kept exact by fencing rather than deleting:
//!
//! - a write first replaces the item's entry with a *fence* (a marker with a TTL of
//!   [`FENCE_TTL`]); when the fence cannot be set the write is refused (503) before anything is
//!   written, so an unreachable cache can never leave a stale copy behind;
//! - after the write, the fence is set again (its TTL restarts);
//! - a read that finds a fence or nothing reads DynamoDB and fills the entry only if the key is
//!   still empty (`SET NX`) and no more than [`MAX_FILL_DELAY`] after it looked.
//!
//! A reader that read the old item before a write can therefore only fill while the fence still
//! stands, and its fill is refused; readers that come later read DynamoDB. Staleness after a 2xx
//! write is zero as long as Redis keeps what it acknowledged (see README, Caching).

mod redis_cache;
mod repository;

use std::future::Future;
use std::time::Duration;

pub use redis_cache::RedisCache;
pub use repository::{CachedItemRepository, cache_key, fenced};

/// How long a fence stands. It must outlast a write (the functions time out after 10 s) plus
/// [`MAX_FILL_DELAY`], so that no read that started before the write can fill after it.
pub(crate) const FENCE_TTL: Duration = Duration::from_secs(30);
/// A read fills the cache only this soon after it found the entry missing or fenced.
pub(crate) const MAX_FILL_DELAY: Duration = Duration::from_secs(15);

/// The cache could not be reached; a write must not proceed.
#[derive(Debug)]
pub struct CacheUnavailable;

impl std::fmt::Display for CacheUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the item cache cannot be reached to fence a write")
    }
}

impl std::error::Error for CacheUnavailable {}

/// A string cache shared by all containers. Reads degrade to misses; fences must succeed.
pub trait Cache: Send + Sync {
    /// False when there is no cache: reads go straight to the store, writes fence nothing.
    fn enabled(&self) -> bool;
    /// The cached value; `None` for a miss, a fence, or a cache that cannot be reached.
    fn get(&self, key: &str) -> impl Future<Output = Option<String>> + Send;
    /// Stores `value` only if the key holds nothing (neither a copy nor a fence).
    fn fill(&self, key: &str, value: String, ttl: Duration) -> impl Future<Output = ()> + Send;
    /// Replaces every key with a fence, all or nothing.
    fn fence(&self, keys: &[String]) -> impl Future<Output = Result<(), CacheUnavailable>> + Send;
}

impl<T: Cache> Cache for std::sync::Arc<T> {
    fn enabled(&self) -> bool {
        self.as_ref().enabled()
    }

    async fn get(&self, key: &str) -> Option<String> {
        self.as_ref().get(key).await
    }

    async fn fill(&self, key: &str, value: String, ttl: Duration) {
        self.as_ref().fill(key, value, ttl).await
    }

    async fn fence(&self, keys: &[String]) -> Result<(), CacheUnavailable> {
        self.as_ref().fence(keys).await
    }
}

/// The item cache chosen by configuration.
pub enum ItemCache {
    /// The default: every read is a strongly consistent DynamoDB read.
    Off,
    Redis(RedisCache),
}

impl Cache for ItemCache {
    fn enabled(&self) -> bool {
        matches!(self, ItemCache::Redis(_))
    }

    async fn get(&self, key: &str) -> Option<String> {
        match self {
            ItemCache::Off => None,
            ItemCache::Redis(cache) => cache.get(key).await,
        }
    }

    async fn fill(&self, key: &str, value: String, ttl: Duration) {
        if let ItemCache::Redis(cache) = self {
            cache.fill(key, value, ttl).await
        }
    }

    async fn fence(&self, keys: &[String]) -> Result<(), CacheUnavailable> {
        match self {
            ItemCache::Off => Ok(()),
            ItemCache::Redis(cache) => cache.fence(keys).await,
        }
    }
}
