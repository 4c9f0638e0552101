//! `ItemRepository` on DynamoDB: conditional writes for concurrency, GSI queries for listing.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde::Serialize;

use super::batch::{BatchRead, batch_get};
use super::error::{cancelled, classify, failed};
use super::keys;
use super::listing::{ListRequest, VisibilityFilter, merged_page};
use super::put::{Condition, Put, put_if};
use super::records::ItemRecord;
use super::replays::{put_record, stored_replay};
use super::settle::{settle, single_attempt};
use super::transact::{Refused, busy, condition_failed, ours, put_new, transact};
use super::{ItemRepository, StoreError, WriteGuard, WriteToken};
use crate::domain::{
    FieldSet, Item, ItemField, ItemId, ItemView, ItemWrite, ListQuery, Page, Precondition, ReplayRecord, Timestamp,
    Written,
};

#[derive(Clone)]
pub struct DynamoItemRepository {
    client: Client,
    table: String,
}

impl DynamoItemRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

impl ItemRepository for DynamoItemRepository {
    async fn create(&self, item: &Item, replay: Option<&ReplayRecord>) -> Result<Written<()>, StoreError> {
        let token = WriteToken::new();
        let record = serde_dynamo::to_item(ItemRecord::new(item, &token)).map_err(failed("encode item record"))?;
        let Some(replay) = replay else {
            // One write: no transaction needed.
            return match put_if(&self.client, &self.table, record, Condition::absent(), "put item").await? {
                Put::Written => Ok(Written::Done(())),
                // Our own earlier attempt, committed before its response was lost.
                Put::Refused(stored) if token.marks(stored.as_ref()) => Ok(Written::Done(())),
                Put::Refused(_) => Err(StoreError::AlreadyExists),
            };
        };
        let writes = vec![put_new(&self.table, record)?, put_record(replay, &self.table, &token)?];
        match transact(&self.client, writes, &token, 0, "create item").await {
            Ok(()) => Ok(Written::Done(())),
            Err(Refused::Store(error)) => Err(error),
            Err(Refused::Cancelled(reasons)) => created_or_why_not(&reasons, &token, now_seconds(item)),
        }
    }

    async fn get(&self, id: ItemId, fields: FieldSet) -> Result<Option<ItemView>, StoreError> {
        let projection = Projection::of(fields);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .consistent_read(true)
            .projection_expression(projection.expression)
            .set_expression_attribute_names(Some(projection.names))
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "get item"))?;
        output.item.map(|stored| serde_dynamo::from_item(stored).map_err(failed("decode item"))).transpose()
    }

    async fn get_many(&self, ids: &[ItemId], fields: FieldSet) -> Result<Vec<ItemView>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let projection = Projection::of(fields);
        let read = BatchRead { projection: Some((projection.expression, projection.names)), consistent: true };
        let keys = ids.iter().map(|id| keys::item_key(*id)).collect();
        let records = batch_get(&self.client, &self.table, keys, &read).await?;
        serde_dynamo::from_items(records).map_err(failed("decode items"))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ItemView>, StoreError> {
        let requested = query.fields.unwrap_or_else(FieldSet::all);
        // The merge and the next cursor use each item's id and price, so always read those.
        let projection = Projection::of(requested.with(ItemField::Id).with(ItemField::Price));
        let filter = VisibilityFilter::for_query(query);
        let request =
            ListRequest { query, projection: (&projection.expression, &projection.names), filter: filter.as_ref() };
        let (mut views, next) = merged_page(&self.client, &self.table, &request).await?;
        for view in &mut views {
            view.retain(requested);
        }
        Ok(Page { items: views, next })
    }

    async fn write(
        &self,
        id: ItemId,
        change: &ItemWrite,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let patch = change.as_patch();
        let token = WriteToken::new();
        let mut write = ConditionalWrite::new(guard, &token)?;
        if let Some(name) = &patch.name {
            write.set("name", name)?;
        }
        if let Some(description) = &patch.description {
            write.set("description", description)?;
        }
        if let Some(status) = patch.status {
            write.set("status", &status)?;
            write.set(keys::STATUS_PK, &keys::status_partition(status, keys::shard_of(id)))?;
        }
        if let Some(price) = patch.price {
            write.set("price", &price)?;
            write.set(keys::PRICE_SK, &keys::price_sort_key(price, id))?;
        }
        if let Some(stock) = patch.stock {
            write.set("stock", &stock)?;
        }
        write.set("updated_at", &now)?;
        write.set(keys::INDEX_PENDING, &keys::pending_partition(keys::shard_of(id)))?;
        write.set(keys::WRITE_TOKEN, &token.as_str())?;
        write.values.insert(":one".to_owned(), AttributeValue::N("1".to_owned()));
        write.names.insert("#version".to_owned(), "version".to_owned());
        let update_expression = format!("SET {}, #version = #version + :one", write.assignments.join(", "));

        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .update_expression(update_expression)
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values(Some(write.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let answer = settle(&self.client, "update item", |time| {
            update.clone().customize().config_override(single_attempt(time)).send()
        })
        .await?;
        let stored = match answer.result {
            Ok(output) => output.attributes.ok_or_else(|| StoreError::Failed {
                context: "update item returned no attributes",
                source: "missing ALL_NEW attributes".into(),
            })?,
            Err(UpdateItemError::ConditionalCheckFailedException(refused)) => match refused.item {
                // Our own earlier attempt committed; what it left is the updated item.
                Some(stored) if token.marks(Some(&stored)) => stored,
                // A lost attempt may have committed and been overwritten since: refused or
                // superseded cannot be told apart.
                _ if answer.after_lost_attempt => return Err(StoreError::OutcomeUnknown),
                old_item => return Err(why_condition_failed(old_item, guard)),
            },
            Err(other) => return Err(classify(other, "update item")),
        };
        serde_dynamo::from_item(stored).map_err(failed("decode updated item"))
    }

    /// Deletes the item and, in the same transaction, leaves a tombstone on the pending-index GSI,
    /// so the search index learns of the deletion even if the queue message is lost.
    async fn delete(&self, id: ItemId, guard: &WriteGuard) -> Result<(), StoreError> {
        let token = WriteToken::new();
        let write = ConditionalWrite::new(guard, &token)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values((!write.values.is_empty()).then_some(write.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(failed("build delete"))?;
        // Ids are never reused, so the tombstone is new, unless this very delete already landed.
        let mut tombstone = keys::item_tombstone_key(id);
        tombstone.insert(keys::ID.to_owned(), AttributeValue::S(id.to_string()));
        tombstone
            .insert(keys::INDEX_PENDING.to_owned(), AttributeValue::S(keys::pending_partition(keys::shard_of(id))));
        tombstone.insert(keys::WRITE_TOKEN.to_owned(), AttributeValue::S(token.as_str().to_owned()));
        let writes = vec![TransactWriteItem::builder().delete(delete).build(), put_new(&self.table, tombstone)?];
        match transact(&self.client, writes, &token, 0, "delete item").await {
            Ok(()) => Ok(()),
            Err(Refused::Store(error)) => Err(error),
            Err(Refused::Cancelled(reasons)) if ours(&reasons, &token) => Ok(()),
            Err(Refused::Cancelled(reasons)) if condition_failed(reasons.first()) => {
                Err(why_condition_failed(reasons.into_iter().next().and_then(|reason| reason.item), guard))
            }
            Err(Refused::Cancelled(reasons)) if busy(&reasons) => Err(StoreError::Throttled),
            Err(Refused::Cancelled(reasons)) => Err(cancelled("delete item", &reasons)),
        }
    }
}

/// Why a create's transaction (item, idempotency record) was cancelled.
fn created_or_why_not(
    reasons: &[CancellationReason],
    token: &WriteToken,
    now_seconds: i64,
) -> Result<Written<()>, StoreError> {
    if ours(reasons, token) {
        return Ok(Written::Done(()));
    }
    if let Some(existing) = reasons.get(1).filter(|r| condition_failed(Some(r))).and_then(|r| r.item()) {
        if let Some(stored) = stored_replay(existing, now_seconds) {
            return Ok(Written::KeyTaken(stored));
        }
    }
    if condition_failed(reasons.first()) {
        return Err(StoreError::AlreadyExists);
    }
    if busy(reasons) {
        return Err(StoreError::Throttled);
    }
    Err(cancelled("create item", reasons))
}

fn now_seconds(item: &Item) -> i64 {
    item.created_at.as_millis() / 1000
}

/// Tells the reasons a guarded write can fail apart from the old item DynamoDB returns with the
/// failure (`ReturnValuesOnConditionCheckFailure`), without a second call: no item, or another
/// user's item, is "not found"; otherwise the version did not match.
fn why_condition_failed(old_item: Option<HashMap<String, AttributeValue>>, guard: &WriteGuard) -> StoreError {
    let Some(old_item) = old_item else {
        return StoreError::NotFound;
    };
    let old_owner = old_item.get("owner_id").and_then(|value| value.as_s().ok()).map(String::as_str);
    match &guard.owner {
        Some(owner) if old_owner != Some(owner.as_str()) => StoreError::NotFound,
        _ => StoreError::PreconditionFailed,
    }
}

/// A `ProjectionExpression` naming every attribute through placeholders (`name`, `status` are reserved words).
struct Projection {
    expression: String,
    names: HashMap<String, String>,
}

impl Projection {
    fn of(fields: FieldSet) -> Self {
        let mut names = HashMap::new();
        let placeholders: Vec<String> = fields
            .iter()
            .map(|field| {
                let placeholder = format!("#{}", field.name());
                names.insert(placeholder.clone(), field.name().to_owned());
                placeholder
            })
            .collect();
        Self { expression: placeholders.join(", "), names }
    }
}

/// The assignments and condition of an `UpdateItem`/`DeleteItem` guarded by existence and version.
struct ConditionalWrite {
    assignments: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    condition: String,
}

impl ConditionalWrite {
    /// The write must also not carry `token` yet: a resend of an attempt that committed fails
    /// its condition and is recognised by the token, instead of applying twice.
    fn new(guard: &WriteGuard, token: &WriteToken) -> Result<Self, StoreError> {
        let mut names = HashMap::from([
            ("#pk".to_owned(), keys::PK.to_owned()),
            ("#write_token".to_owned(), keys::WRITE_TOKEN.to_owned()),
        ]);
        let mut values = HashMap::from([(":write_token".to_owned(), AttributeValue::S(token.as_str().to_owned()))]);
        let mut condition =
            "attribute_exists(#pk) AND (attribute_not_exists(#write_token) OR #write_token <> :write_token)".to_owned();
        if let Some(owner) = &guard.owner {
            names.insert("#owner_id".to_owned(), "owner_id".to_owned());
            values.insert(":owner".to_owned(), AttributeValue::S(owner.as_str().to_owned()));
            condition.push_str(" AND #owner_id = :owner");
        }
        if let Precondition::VersionIn(versions) = &guard.precondition {
            // No strong ETag in If-Match: nothing can match, but a missing item is still a 404.
            if versions.is_empty() {
                condition.push_str(" AND attribute_not_exists(#pk)");
            }
            let mut placeholders = Vec::with_capacity(versions.len());
            for (index, version) in versions.iter().enumerate() {
                let placeholder = format!(":expected{index}");
                values.insert(placeholder.clone(), to_value(version)?);
                placeholders.push(placeholder);
            }
            if !placeholders.is_empty() {
                names.insert("#version".to_owned(), "version".to_owned());
                condition.push_str(&format!(" AND #version IN ({})", placeholders.join(", ")));
            }
        }
        Ok(Self { assignments: Vec::new(), names, values, condition })
    }

    fn set(&mut self, attribute: &str, value: &impl Serialize) -> Result<(), StoreError> {
        let index = self.assignments.len();
        self.names.insert(format!("#a{index}"), attribute.to_owned());
        self.values.insert(format!(":a{index}"), to_value(value)?);
        self.assignments.push(format!("#a{index} = :a{index}"));
        Ok(())
    }
}

fn to_value(value: &impl Serialize) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(failed("encode attribute"))
}
