//! `CachedItemRepository`: the seed's cache-aside repository, for any `ItemRepository`.

use std::time::Duration;

use super::Cache;
use crate::domain::{FieldSet, Item, ItemChanges, ItemId, ItemPatch, ItemView, ListQuery, Page, Timestamp};
use crate::repository::{ItemRepository, StoreError, WriteGuard};
use crate::scope;

pub struct CachedItemRepository<R, C> {
    inner: R,
    cache: C,
    ttl: Duration,
}

impl<R, C> CachedItemRepository<R, C> {
    pub fn new(inner: R, cache: C, ttl: Duration) -> Self {
        Self { inner, cache, ttl }
    }

    pub fn cache(&self) -> &C {
        &self.cache
    }
}

pub fn cache_key(id: ItemId) -> String {
    format!("item:{id}")
}

impl<R: ItemRepository, C: Cache> ItemRepository for CachedItemRepository<R, C> {
    async fn create(&self, item: &Item) -> Result<(), StoreError> {
        self.inner.create(item).await
    }

    /// Whole items are cached; a projection is applied to the cached copy.
    async fn get(&self, id: ItemId, fields: FieldSet) -> Result<Option<ItemView>, StoreError> {
        let key = cache_key(id);
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
        if let Ok(json) = serde_json::to_string(&view) {
            self.cache.set(&key, json, self.ttl).await;
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

    async fn replace(
        &self,
        id: ItemId,
        changes: &ItemChanges,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let outcome = self.inner.replace(id, changes, guard, now).await;
        self.cache.delete(&cache_key(id)).await;
        outcome
    }

    async fn update(
        &self,
        id: ItemId,
        patch: &ItemPatch,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let outcome = self.inner.update(id, patch, guard, now).await;
        self.cache.delete(&cache_key(id)).await;
        outcome
    }

    async fn delete(&self, id: ItemId, guard: &WriteGuard) -> Result<(), StoreError> {
        let outcome = self.inner.delete(id, guard).await;
        self.cache.delete(&cache_key(id)).await;
        outcome
    }
}
