//! Storage: the `ItemRepository` trait the services depend on, and its DynamoDB implementation.

mod batch;
mod dynamo;
mod error;
pub mod keys;
mod listing;
mod orders;
mod profiles;
mod put;
mod rate_windows;
mod records;
mod replays;
mod settle;
mod split_item;
mod stock;
mod transact;
mod vectors;

use std::collections::HashMap;
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;

pub use dynamo::DynamoItemRepository;
pub use error::StoreError;
pub use orders::{CancelError, DynamoOrderRepository, PlaceError};
pub use profiles::DynamoProfileRepository;
pub(crate) use rate_windows::{ClaimError, DynamoRateWindows, RateWindow};
pub use replays::DynamoReplayRepository;
pub(crate) use vectors::DELETED_VERSION;
pub use vectors::{DynamoVectorRepository, ItemVector, Pending, SEARCH_OWNER, SEARCH_STATUS, SHELF, Scored};

use crate::domain::{
    FieldSet, Item, ItemId, ItemView, ItemWrite, ListQuery, OwnerId, Page, Precondition, ReplayRecord, Timestamp,
    Written,
};

/// Everything a conditional write requires of the stored item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteGuard {
    pub precondition: Precondition,
    /// When set, the item must belong to this user; another's item is reported as not found, so a
    /// write never reveals that someone else's item exists.
    pub owner: Option<OwnerId>,
}

/// Marks one logical write (all the SDK's attempts at it) on what it writes: a resend of an attempt
/// that committed although its response was lost finds its own token and is recognised as done,
/// not as a conflict. Also the transaction's `ClientRequestToken`, so DynamoDB itself replays it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WriteToken(String);

impl WriteToken {
    pub fn new() -> Self {
        Self(ulid::Ulid::generate().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a stored record (as DynamoDB returned it with a failed condition) carries this token.
    pub fn marks(&self, record: Option<&HashMap<String, AttributeValue>>) -> bool {
        record.and_then(|record| record.get(keys::WRITE_TOKEN)).and_then(|value| value.as_s().ok()) == Some(&self.0)
    }
}

impl Default for WriteToken {
    fn default() -> Self {
        Self::new()
    }
}

pub trait ItemRepository: Send + Sync {
    /// Stores a new item; fails with `AlreadyExists` rather than overwrite. With `replay`, the
    /// idempotency record is stored in the same transaction, or nothing is.
    fn create(
        &self,
        item: &Item,
        replay: Option<&ReplayRecord>,
    ) -> impl Future<Output = Result<Written<()>, StoreError>> + Send;

    /// Reads only `fields` of one item, strongly consistent.
    fn get(&self, id: ItemId, fields: FieldSet) -> impl Future<Output = Result<Option<ItemView>, StoreError>> + Send;

    /// Reads only `fields` of every existing item in `ids`, strongly consistent, in one
    /// `BatchGetItem` per 100 ids. Missing ids are simply absent from the result.
    fn get_many(
        &self,
        ids: &[ItemId],
        fields: FieldSet,
    ) -> impl Future<Output = Result<Vec<ItemView>, StoreError>> + Send;

    /// One page of items from the index that serves `query`, honouring `query.drafts_of`.
    fn list(&self, query: &ListQuery) -> impl Future<Output = Result<Page<ItemView>, StoreError>> + Send;

    /// Replaces every client-owned field (PUT) or only those sent (PATCH) and bumps the version,
    /// in one conditional write.
    fn write(
        &self,
        id: ItemId,
        change: &ItemWrite,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> impl Future<Output = Result<Item, StoreError>> + Send;

    fn delete(&self, id: ItemId, guard: &WriteGuard) -> impl Future<Output = Result<(), StoreError>> + Send;
}
