//! `CachedItemRepository`: the seed's cache-aside repository for any `ItemRepository`, made exact
//! across containers by fencing each write (see the module above).

use std::future::Future;
use std::time::{Duration, Instant};

use super::{Cache, MAX_FILL_DELAY};
use crate::domain::{FieldSet, Item, ItemId, ItemView, ItemWrite, ListQuery, Page, ReplayRecord, Timestamp, Written};
use crate::repository::{ItemRepository, StoreError, WriteGuard};
use crate::scope;

pub struct CachedItemRepository<R, C> {
    inner: R,
    cache: C,
    ttl: Duration,
}

impl<R, C: Cache> CachedItemRepository<R, C> {
    pub fn new(inner: R, cache: C, ttl: Duration) -> Self {
        Self { inner, cache, ttl }
    }

    async fn fenced<T>(&self, id: ItemId, write: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
        fenced(&self.cache, &[cache_key(id)], write).await
    }
}

/// Runs `write` between two fences on `keys`: refused (503) before anything is written if the first
/// cannot be set. The second may fail: the first still stands for [`super::FENCE_TTL`].
pub async fn fenced<T, E: From<StoreError>>(
    cache: &impl Cache,
    keys: &[String],
    write: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    if keys.is_empty() {
        return write.await;
    }
    cache.fence(keys).await.map_err(|unavailable| {
        tracing::warn!(error = %unavailable, "write refused: its cached copies cannot be fenced");
        StoreError::Throttled
    })?;
    let outcome = write.await;
    let _ = cache.fence(keys).await;
    outcome
}

pub fn cache_key(id: ItemId) -> String {
    format!("item:{id}")
}

impl<R: ItemRepository, C: Cache> ItemRepository for CachedItemRepository<R, C> {
    /// A new id has no cached copy (absent items are never cached), so nothing to fence.
    async fn create(&self, item: &Item, replay: Option<&ReplayRecord>) -> Result<Written<()>, StoreError> {
        self.inner.create(item, replay).await
    }

    /// Whole items are cached; a projection is applied to the cached copy.
    async fn get(&self, id: ItemId, fields: FieldSet) -> Result<Option<ItemView>, StoreError> {
        if !self.cache.enabled() {
            return self.inner.get(id, fields).await;
        }
        let key = cache_key(id);
        let looked = Instant::now();
        if let Some(mut view) = self.cache.get(&key).await.and_then(|json| serde_json::from_str::<ItemView>(&json).ok())
        {
            scope::record_cache(true);
            view.retain(fields);
            return Ok(Some(view));
        }
        scope::record_cache(false);
        let Some(mut view) = self.inner.get(id, FieldSet::all()).await? else {
            return Ok(None);
        };
        // A slow read may predate a write whose fence has expired since: don't let it fill.
        if looked.elapsed() < MAX_FILL_DELAY {
            if let Ok(json) = serde_json::to_string(&view) {
                self.cache.fill(&key, json, self.ttl).await;
            }
        }
        view.retain(fields);
        Ok(Some(view))
    }

    async fn get_many(&self, ids: &[ItemId], fields: FieldSet) -> Result<Vec<ItemView>, StoreError> {
        self.inner.get_many(ids, fields).await
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ItemView>, StoreError> {
        self.inner.list(query).await
    }

    async fn write(
        &self,
        id: ItemId,
        change: &ItemWrite,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        self.fenced(id, self.inner.write(id, change, guard, now)).await
    }

    async fn delete(&self, id: ItemId, guard: &WriteGuard) -> Result<(), StoreError> {
        self.fenced(id, self.inner.delete(id, guard)).await
    }
}
