//! Item use cases, with the access rules applied: who may see and change what. Identity and time
//! come in as arguments, so tests control both.

use super::error::ServiceError;
use super::indexing::IndexNotifier;
use crate::domain::{
    FieldSet, IndexOp, Item, ItemChanges, ItemField, ItemId, ItemView, ItemWrite, ListQuery, Page, Precondition,
    Principal, ReplayRecord, Timestamp, Version, Written,
};
use crate::repository::{DELETED_VERSION, ItemRepository, WriteGuard};

pub struct ItemService<R> {
    repository: R,
    index: IndexNotifier,
}

impl<R: ItemRepository> ItemService<R> {
    pub fn new(repository: R, index: IndexNotifier) -> Self {
        Self { repository, index }
    }

    /// The item a create will store: it belongs to the caller, whatever the body said
    /// (server-owned fields are rejected before this point anyway). Nothing is written yet.
    pub(crate) fn new_item(&self, caller: &Principal, content: ItemChanges, now: Timestamp) -> Item {
        Item::create(ItemId::new(now), content, caller.user_id.clone(), now)
    }

    /// Stores `item` (with the idempotency record, if any, in the same transaction).
    pub async fn create(&self, item: &Item, replay: Option<&ReplayRecord>) -> Result<Written<()>, ServiceError> {
        let written = self.repository.create(item, replay).await?;
        if let Written::Done(()) = written {
            self.index.notify(item.id, item.version.get(), IndexOp::Upsert).await;
        }
        Ok(written)
    }

    /// The requested fields of one item the caller may see, and its current version (for the
    /// ETag). Another user's draft is "not found", exactly like a missing item.
    pub async fn get(
        &self,
        caller: &Principal,
        id: ItemId,
        fields: Option<FieldSet>,
    ) -> Result<(ItemView, Version), ServiceError> {
        let wanted = fields.unwrap_or_else(FieldSet::all);
        let needed = wanted.with(ItemField::Version).with(ItemField::Status).with(ItemField::OwnerId);
        let mut view = self.repository.get(id, needed).await?.ok_or(ServiceError::NotFound)?;
        let (Some(version), Some(status), Some(owner)) = (view.version, view.status, view.owner_id.as_ref()) else {
            return Err(ServiceError::Internal {
                context: "stored item lacks version, status or owner",
                source: format!("item {id}").into(),
            });
        };
        if !caller.can_see(status, owner) {
            return Err(ServiceError::NotFound);
        }
        view.retain(wanted);
        Ok((view, version))
    }

    pub async fn list(&self, caller: &Principal, mut query: ListQuery) -> Result<Page<ItemView>, ServiceError> {
        query.drafts_of = caller.owner_scope().cloned();
        Ok(self.repository.list(&query).await?)
    }

    /// Replaces or patches one item in one conditional write, then asks for its reindexing.
    pub async fn write(
        &self,
        caller: &Principal,
        id: ItemId,
        change: &ItemWrite,
        precondition: Precondition,
        now: Timestamp,
    ) -> Result<Item, ServiceError> {
        // Boxed: the write's state machine is deep (cache fence, retries, the SDK's orchestrator);
        // one indirection here keeps each route's future type within the compiler's depth limit.
        let item = Box::pin(self.repository.write(id, change, &guard(caller, precondition), now)).await?;
        self.index.notify(item.id, item.version.get(), IndexOp::Upsert).await;
        Ok(item)
    }

    pub async fn delete(&self, caller: &Principal, id: ItemId, precondition: Precondition) -> Result<(), ServiceError> {
        self.repository.delete(id, &guard(caller, precondition)).await?;
        self.index.notify(id, DELETED_VERSION, IndexOp::Delete).await;
        Ok(())
    }
}

/// Users may write only their own items; staff any.
fn guard(caller: &Principal, precondition: Precondition) -> WriteGuard {
    WriteGuard { precondition, owner: caller.owner_scope().cloned() }
}
