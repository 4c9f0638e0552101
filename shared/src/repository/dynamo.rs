//! `ItemRepository` on DynamoDB: conditional writes for concurrency, GSI queries for listing.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::Serialize;

use super::keys;
use super::records::ItemRecord;
use super::{ItemRepository, Precondition, StoreError};
use crate::domain::{
    FieldSet, Item, ItemChanges, ItemField, ItemId, ItemPatch, ItemView, ListQuery, Page,
    PagePosition, SortOrder, Timestamp,
};

#[derive(Clone)]
pub struct DynamoItemRepository {
    client: Client,
    table: String,
}

impl DynamoItemRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

impl ItemRepository for DynamoItemRepository {
    async fn create(&self, item: &Item) -> Result<(), StoreError> {
        let record =
            serde_dynamo::to_item(ItemRecord::new(item)).map_err(failed("encode item record"))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(#pk)")
            .expression_attribute_names("#pk", keys::PK)
            .send()
            .await
            .map_err(|err| match err.into_service_error() {
                e if e.is_conditional_check_failed_exception() => StoreError::AlreadyExists,
                e => classify(e, "put item"),
            })?;
        Ok(())
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
        output
            .item
            .map(|stored| serde_dynamo::from_item(stored).map_err(failed("decode item")))
            .transpose()
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<ItemView>, StoreError> {
        let index = keys::list_index(query);
        let requested = query.fields.unwrap_or_else(FieldSet::all);
        // The next cursor is built from the last item's id and price, so always read those.
        let projection = Projection::of(requested.with(ItemField::Id).with(ItemField::Price));
        let page_size = query.limit.get() as usize;
        let mut names = projection.names;
        names.insert(
            "#partition".to_owned(),
            index.partition_attribute.to_owned(),
        );
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index.name)
            .key_condition_expression("#partition = :partition")
            .expression_attribute_values(
                ":partition",
                AttributeValue::S(index.partition_value.clone()),
            )
            .set_expression_attribute_names(Some(names))
            .projection_expression(projection.expression)
            .scan_index_forward(query.order == SortOrder::Asc)
            // One extra row tells whether another page exists, so the last page never has a cursor.
            .limit(i32::from(query.limit.get()) + 1)
            .set_exclusive_start_key(
                query
                    .after
                    .map(|position| keys::start_key(&index, position)),
            )
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "query items"))?;

        let mut views: Vec<ItemView> = serde_dynamo::from_items(output.items.unwrap_or_default())
            .map_err(failed("decode items"))?;
        let has_more = views.len() > page_size;
        views.truncate(page_size);
        let next = if has_more {
            views.last().map(position_of).transpose()?
        } else {
            None
        };
        for view in &mut views {
            keep_only(view, requested);
        }
        Ok(Page { items: views, next })
    }

    async fn replace(
        &self,
        id: ItemId,
        changes: &ItemChanges,
        precondition: &Precondition,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let patch = ItemPatch {
            name: Some(changes.name.clone()),
            description: Some(changes.description.clone()),
            status: Some(changes.status),
            price: Some(changes.price),
            stock: Some(changes.stock),
        };
        self.update(id, &patch, precondition, now).await
    }

    async fn update(
        &self,
        id: ItemId,
        patch: &ItemPatch,
        precondition: &Precondition,
        now: Timestamp,
    ) -> Result<Item, StoreError> {
        let versions = match precondition {
            Precondition::VersionIn(versions) if versions.is_empty() => {
                return Err(StoreError::PreconditionFailed);
            }
            Precondition::VersionIn(versions) => versions.as_slice(),
            Precondition::Exists => &[],
        };
        let mut write = ConditionalWrite::new(versions)?;
        if let Some(name) = &patch.name {
            write.set("name", name)?;
        }
        if let Some(description) = &patch.description {
            write.set("description", description)?;
        }
        if let Some(status) = patch.status {
            write.set("status", &status)?;
            write.set(keys::STATUS_PK, &keys::status_partition(status))?;
        }
        if let Some(price) = patch.price {
            write.set("price", &price)?;
            write.set(keys::PRICE_SK, &keys::price_sort_key(price, id))?;
        }
        if let Some(stock) = patch.stock {
            write.set("stock", &stock)?;
        }
        write.set("updated_at", &now)?;
        write
            .values
            .insert(":one".to_owned(), AttributeValue::N("1".to_owned()));
        write
            .names
            .insert("#version".to_owned(), "version".to_owned());
        let update_expression = format!(
            "SET {}, #version = #version + :one",
            write.assignments.join(", ")
        );

        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .update_expression(update_expression)
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values(Some(write.values))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|err| match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(e) => {
                    missing_or_stale(e.item.is_some())
                }
                e => classify(e, "update item"),
            })?;
        let stored = output.attributes.ok_or_else(|| StoreError::Failed {
            context: "update item returned no attributes",
            source: "missing ALL_NEW attributes".into(),
        })?;
        serde_dynamo::from_item(stored).map_err(failed("decode updated item"))
    }

    async fn delete(&self, id: ItemId, precondition: &Precondition) -> Result<(), StoreError> {
        let versions = match precondition {
            Precondition::VersionIn(versions) if versions.is_empty() => {
                return Err(StoreError::PreconditionFailed);
            }
            Precondition::VersionIn(versions) => versions.as_slice(),
            Precondition::Exists => &[],
        };
        let write = ConditionalWrite::new(versions)?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .condition_expression(write.condition)
            .set_expression_attribute_names(Some(write.names))
            .set_expression_attribute_values((!write.values.is_empty()).then_some(write.values))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await
            .map_err(|err| match err.into_service_error() {
                DeleteItemError::ConditionalCheckFailedException(e) => {
                    missing_or_stale(e.item.is_some())
                }
                e => classify(e, "delete item"),
            })?;
        Ok(())
    }
}

/// A failed condition with the old item attached means the item exists with another version.
fn missing_or_stale(item_existed: bool) -> StoreError {
    if item_existed {
        StoreError::PreconditionFailed
    } else {
        StoreError::NotFound
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
        Self {
            expression: placeholders.join(", "),
            names,
        }
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
    fn new(versions: &[crate::domain::Version]) -> Result<Self, StoreError> {
        let mut names = HashMap::from([("#pk".to_owned(), keys::PK.to_owned())]);
        let mut values = HashMap::new();
        let mut condition = "attribute_exists(#pk)".to_owned();
        if !versions.is_empty() {
            names.insert("#version".to_owned(), "version".to_owned());
            let mut placeholders = Vec::with_capacity(versions.len());
            for (index, version) in versions.iter().enumerate() {
                let placeholder = format!(":expected{index}");
                values.insert(placeholder.clone(), to_value(version)?);
                placeholders.push(placeholder);
            }
            condition.push_str(&format!(" AND #version IN ({})", placeholders.join(", ")));
        }
        Ok(Self {
            assignments: Vec::new(),
            names,
            values,
            condition,
        })
    }

    fn set(&mut self, attribute: &str, value: &impl Serialize) -> Result<(), StoreError> {
        let index = self.assignments.len();
        self.names
            .insert(format!("#a{index}"), attribute.to_owned());
        self.values.insert(format!(":a{index}"), to_value(value)?);
        self.assignments.push(format!("#a{index} = :a{index}"));
        Ok(())
    }
}

fn to_value(value: &impl Serialize) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(failed("encode attribute"))
}

fn position_of(view: &ItemView) -> Result<PagePosition, StoreError> {
    match (view.id, view.price) {
        (Some(id), Some(price)) => Ok(PagePosition { id, price }),
        _ => Err(StoreError::Failed {
            context: "stored item lacks id or price",
            source: "bad record".into(),
        }),
    }
}

fn keep_only(view: &mut ItemView, fields: FieldSet) {
    if !fields.contains(ItemField::Id) {
        view.id = None;
    }
    if !fields.contains(ItemField::Price) {
        view.price = None;
    }
}

fn failed<E>(context: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| StoreError::Failed {
        context,
        source: Box::new(source),
    }
}

const THROTTLING_CODES: [&str; 3] = [
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
];

/// Throttling is the caller's to retry later (503); anything else is our failure (500).
fn classify<E>(error: E, context: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if error
        .code()
        .is_some_and(|code| THROTTLING_CODES.contains(&code))
    {
        return StoreError::Throttled;
    }
    StoreError::Failed {
        context,
        source: Box::new(error),
    }
}
