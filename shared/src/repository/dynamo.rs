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
use super::records::{self, ItemRecord};
use super::replays::{put_record, stored_replay};
use super::settle::{settle, single_attempt};
use super::split_item;
use super::stock;
use super::transact::{Refused, busy, condition_failed, ours, put_new, transact};
use super::{ItemRepository, StoreError, WriteGuard, WriteToken};
use crate::domain::{
    FieldSet, Item, ItemField, ItemId, ItemView, ItemWrite, ListQuery, Page, Precondition, ReplayRecord, StockBuckets,
    Timestamp, Written,
};

/// How many times a write without `If-Match` reads the version and tries again when another write
/// lands between its read and its write (see `write`).
const FENCE_READS: usize = 4;

#[derive(Clone)]
pub struct DynamoItemRepository {
    client: Client,
    table: String,
}

impl DynamoItemRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    async fn write_once(
        &self,
        id: ItemId,
        change: &ItemWrite,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let patch = change.as_patch();
        if patch.stock_buckets.is_some_and(StockBuckets::is_split) {
            return split_item::write(&self.client, &self.table, id, &patch, guard, now).await;
        }
        let token = WriteToken::new();
        let mut write = ConditionalWrite::new(guard, &token)?;
        write.unsplit_only();
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
        if let Some(buckets) = patch.stock_buckets {
            write.set("stock_buckets", &buckets)?;
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
                old_item => match why_condition_failed(old_item, guard) {
                    Refusal::Split => {
                        return split_item::write(&self.client, &self.table, id, &patch, guard, now).await;
                    }
                    Refusal::Error(error) => return Err(error),
                },
            },
            Err(other) => return Err(classify(other, "update item")),
        };
        serde_dynamo::from_item(stored).map_err(failed("decode updated item"))
    }
}

impl ItemRepository for DynamoItemRepository {
    async fn create(&self, item: &Item, replay: Option<&ReplayRecord>) -> Result<Written<()>, StoreError> {
        let token = WriteToken::new();
        let record = serde_dynamo::to_item(ItemRecord::new(item, &token)).map_err(failed("encode item record"))?;
        if item.stock_buckets.is_split() {
            return self.create_split(item, record, replay, token).await;
        }
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
        let projection = Projection::of(with_counters(fields));
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
        let Some(stored) = output.item else {
            return Ok(None);
        };
        let mut view: ItemView = serde_dynamo::from_item(stored).map_err(failed("decode item"))?;
        stock::compose(&self.client, &self.table, std::slice::from_mut(&mut view), true).await?;
        view.retain(fields);
        Ok(Some(view))
    }

    async fn get_many(&self, ids: &[ItemId], fields: FieldSet) -> Result<Vec<ItemView>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let projection = Projection::of(with_counters(fields));
        let read = BatchRead { projection: Some((projection.expression, projection.names)), consistent: true };
        let keys = ids.iter().map(|id| keys::item_key(*id)).collect();
        let records = batch_get(&self.client, &self.table, keys, &read).await?;
        let mut views: Vec<ItemView> = serde_dynamo::from_items(records).map_err(failed("decode items"))?;
        stock::compose(&self.client, &self.table, &mut views, true).await?;
        for view in &mut views {
            view.retain(fields);
        }
        Ok(views)
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ItemView>, StoreError> {
        let requested = query.fields.unwrap_or_else(FieldSet::all);
        // The merge and the next cursor use each item's id and price, so always read those.
        let projection = Projection::of(with_counters(requested).with(ItemField::Id).with(ItemField::Price));
        let filter = VisibilityFilter::for_query(query);
        let request =
            ListRequest { query, projection: (&projection.expression, &projection.names), filter: filter.as_ref() };
        let (mut views, next) = merged_page(&self.client, &self.table, &request).await?;
        // Index reads are eventually consistent; so may the counters' be, at half the cost.
        stock::compose(&self.client, &self.table, &mut views, false).await?;
        for view in &mut views {
            view.retain(requested);
        }
        Ok(Page { items: views, next })
    }

    /// A write without `If-Match` is still conditioned on the version it found: an attempt of it
    /// that reaches the table late (held up in the network after its request gave up with a 504)
    /// then fails its condition instead of overwriting a write acknowledged after it. A write that
    /// loses to another in between reads again, up to `FENCE_READS` times, then answers 503.
    async fn write(
        &self,
        id: ItemId,
        change: &ItemWrite,
        guard: &WriteGuard,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        if guard.precondition != Precondition::Exists {
            return self.write_once(id, change, guard, now).await;
        }
        for _ in 0..FENCE_READS {
            let Some(found) = self.get(id, FieldSet::of(&[ItemField::Version])).await?.and_then(|view| view.version)
            else {
                return Err(StoreError::NotFound);
            };
            let fenced = WriteGuard { precondition: Precondition::VersionIn(vec![found]), owner: guard.owner.clone() };
            match self.write_once(id, change, &fenced, now).await {
                Err(StoreError::PreconditionFailed) => continue,
                written => return written,
            }
        }
        Err(StoreError::Throttled)
    }

    /// Deletes the item and, in the same transaction, leaves a tombstone on the pending-index GSI,
    /// so the search index learns of the deletion even if the queue message is lost.
    async fn delete(&self, id: ItemId, guard: &WriteGuard) -> Result<(), StoreError> {
        let token = WriteToken::new();
        let mut write = ConditionalWrite::new(guard, &token)?;
        write.unsplit_only();
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values((!write.values.is_empty()).then_some(write.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(failed("build delete"))?;
        let writes =
            vec![TransactWriteItem::builder().delete(delete).build(), records::tombstone(&self.table, id, &token)?];
        match transact(&self.client, writes, &token, 0, "delete item").await {
            Ok(()) => Ok(()),
            Err(Refused::Store(error)) => Err(error),
            Err(Refused::Cancelled(reasons)) if ours(&reasons, &token) => Ok(()),
            Err(Refused::Cancelled(reasons)) if condition_failed(reasons.first()) => {
                match why_condition_failed(reasons.into_iter().next().and_then(|reason| reason.item), guard) {
                    Refusal::Split => split_item::delete(&self.client, &self.table, id, guard).await,
                    Refusal::Error(error) => Err(error),
                }
            }
            Err(Refused::Cancelled(reasons)) if busy(&reasons) => Err(StoreError::Throttled),
            Err(Refused::Cancelled(reasons)) => Err(cancelled("delete item", &reasons)),
        }
    }
}

impl DynamoItemRepository {
    /// A split item is born with its counters, in one transaction (with the idempotency record).
    async fn create_split(
        &self,
        item: &Item,
        record: HashMap<String, AttributeValue>,
        replay: Option<&ReplayRecord>,
        token: WriteToken,
    ) -> Result<Written<()>, StoreError> {
        let mut writes = vec![put_new(&self.table, record)?];
        if let Some(replay) = replay {
            writes.push(put_record(replay, &self.table, &token)?);
        }
        for (counter, stock) in (0..).zip(stock::split(item.stock.get(), item.stock_buckets)) {
            writes.push(stock::put_counter(&self.table, item, counter, stock, stock::Expect::New)?);
        }
        match transact(&self.client, writes, &token, 0, "create split item").await {
            Ok(()) => Ok(Written::Done(())),
            Err(Refused::Store(error)) => Err(error),
            Err(Refused::Cancelled(reasons)) => created_or_why_not(&reasons, &token, now_seconds(item)),
        }
    }
}

/// `fields`, plus `stock_buckets` and `id` (the counters' key) when a split item's counters decide
/// what is asked for.
fn with_counters(fields: FieldSet) -> FieldSet {
    match fields.contains(ItemField::Stock) || fields.contains(ItemField::Version) {
        true => fields.with(ItemField::StockBuckets).with(ItemField::Id),
        false => fields,
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

enum Refusal {
    /// The item's stock is split: the write must go through its counters.
    Split,
    Error(StoreError),
}

/// Tells the reasons a guarded write can fail apart from the old item DynamoDB returns with the
/// failure (`ReturnValuesOnConditionCheckFailure`), without a second call: no item, or another
/// user's item, is "not found"; a split item takes the counters' path; otherwise the version did
/// not match.
fn why_condition_failed(old_item: Option<HashMap<String, AttributeValue>>, guard: &WriteGuard) -> Refusal {
    let Some(old_item) = old_item else {
        return Refusal::Error(StoreError::NotFound);
    };
    let old_owner = old_item.get("owner_id").and_then(|value| value.as_s().ok()).map(String::as_str);
    let buckets = old_item.get("stock_buckets").and_then(|value| value.as_n().ok()).and_then(|n| n.parse().ok());
    match &guard.owner {
        Some(owner) if old_owner != Some(owner.as_str()) => Refusal::Error(StoreError::NotFound),
        _ if buckets.and_then(StockBuckets::new).is_some_and(StockBuckets::is_split) => Refusal::Split,
        _ => Refusal::Error(StoreError::PreconditionFailed),
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

    /// Only where the stock is on the item itself; a split item's writes go through its counters.
    fn unsplit_only(&mut self) {
        self.names.insert("#stock_buckets".to_owned(), "stock_buckets".to_owned());
        self.values.insert(":unsplit".to_owned(), AttributeValue::N("1".to_owned()));
        self.condition.push_str(" AND (attribute_not_exists(#stock_buckets) OR #stock_buckets = :unsplit)");
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
