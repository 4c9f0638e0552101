//! Item use cases. Identity and time come in as arguments, so tests control both.

use crate::domain::{
    FieldSet, Item, ItemChanges, ItemField, ItemId, ItemPatch, ItemView, ListQuery, Page,
    Timestamp, Version,
};
use crate::error::ApiError;
use crate::http::auth::Principal;
use crate::repository::{ItemRepository, Precondition};

pub struct ItemService<R> {
    repository: R,
}

impl<R: ItemRepository> ItemService<R> {
    pub fn new(repository: R) -> Self {
        Self { repository }
    }

    pub async fn create(
        &self,
        caller: &Principal,
        content: ItemChanges,
        now: Timestamp,
    ) -> Result<Item, ApiError> {
        let item = Item::create(ItemId::new(now), content, caller.user_id.clone(), now);
        self.repository.create(&item).await?;
        Ok(item)
    }

    /// The requested fields of one item, and its current version (for the ETag) even when the
    /// version was not among the fields asked for.
    pub async fn get(
        &self,
        id: ItemId,
        fields: Option<FieldSet>,
    ) -> Result<(ItemView, Version), ApiError> {
        let wanted = fields.unwrap_or_else(FieldSet::all);
        let mut view = self
            .repository
            .get(id, wanted.with(ItemField::Version))
            .await?
            .ok_or(ApiError::NotFound)?;
        let version = view.version.ok_or_else(|| ApiError::Internal {
            context: "stored item has no version",
            source: format!("item {id}").into(),
        })?;
        if !wanted.contains(ItemField::Version) {
            view.version = None;
        }
        Ok((view, version))
    }

    pub async fn list(&self, query: &ListQuery) -> Result<Page<ItemView>, ApiError> {
        Ok(self.repository.list(query).await?)
    }

    pub async fn replace(
        &self,
        id: ItemId,
        content: &ItemChanges,
        precondition: &Precondition,
        now: Timestamp,
    ) -> Result<Item, ApiError> {
        Ok(self
            .repository
            .replace(id, content, precondition, now)
            .await?)
    }

    pub async fn update(
        &self,
        id: ItemId,
        patch: &ItemPatch,
        precondition: &Precondition,
        now: Timestamp,
    ) -> Result<Item, ApiError> {
        Ok(self.repository.update(id, patch, precondition, now).await?)
    }

    pub async fn delete(&self, id: ItemId, precondition: &Precondition) -> Result<(), ApiError> {
        Ok(self.repository.delete(id, precondition).await?)
    }
}
