//! Storage: the `ItemRepository` trait the services depend on, and its DynamoDB implementation.

mod batch;
mod dynamo;
pub mod keys;
mod orders;
mod profiles;
mod records;
mod replays;
mod transact;
mod vectors;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;

use aws_sdk_dynamodb::types::AttributeValue;

pub use dynamo::DynamoItemRepository;
pub use orders::{CancelError, DynamoOrderRepository, PlaceError};
pub use profiles::DynamoProfileRepository;
pub use replays::{DynamoReplayRepository, ReplayRecord, StoredReplay};
pub use vectors::{DELETED_VERSION, DynamoVectorRepository, Pending};

use crate::domain::{
    FieldSet, Item, ItemChanges, ItemId, ItemPatch, ItemView, ListQuery, OwnerId, Page, Timestamp, Version,
};

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// What a conditional write requires of the stored item, beyond existing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No `If-Match`, or `If-Match: *`.
    #[default]
    Exists,
    /// `If-Match` with one or more strong ETags: the stored version must be one of them.
    VersionIn(Vec<Version>),
}

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
pub struct WriteToken(String);

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

/// What a write guarded by an idempotency record did.
#[derive(Debug)]
pub enum Written<T> {
    /// This request's effect is stored (now, or by an earlier attempt of this very request).
    Done(T),
    /// Another request with the same idempotency key stored its effect first: nothing was written.
    KeyTaken(StoredReplay),
}

#[derive(Debug)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    PreconditionFailed,
    /// The store is throttling us; the request may be retried later.
    Throttled,
    Failed {
        context: &'static str,
        source: BoxError,
    },
}

impl StoreError {
    /// Classifies an SDK error: throttling becomes `Throttled`, anything else `Failed`.
    pub fn from_sdk<E>(error: E, context: &'static str) -> Self
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + StdError + Send + Sync + 'static,
    {
        dynamo::classify(error, context)
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("item not found"),
            StoreError::AlreadyExists => f.write_str("item already exists"),
            StoreError::PreconditionFailed => f.write_str("precondition failed"),
            StoreError::Throttled => f.write_str("store throttled the request"),
            StoreError::Failed { context, .. } => f.write_str(context),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StoreError::Failed { source, .. } => Some(source.as_ref()),
            _ => None,
        }
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

    /// Replaces every client-owned field and bumps the version, in one conditional write.
    fn replace(
        &self,
        id: ItemId,
        changes: &ItemChanges,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> impl Future<Output = Result<Item, StoreError>> + Send;

    /// Changes only the fields present in `patch` and bumps the version, in one conditional write.
    fn update(
        &self,
        id: ItemId,
        patch: &ItemPatch,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> impl Future<Output = Result<Item, StoreError>> + Send;

    fn delete(&self, id: ItemId, guard: &WriteGuard) -> impl Future<Output = Result<(), StoreError>> + Send;
}
