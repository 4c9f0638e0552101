//! Orders on DynamoDB. Placing and cancelling are each one `TransactWriteItems`: the order, its
//! lines and every stock change land together or not at all.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use serde::{Deserialize, Serialize};

use super::batch::{BatchRead, batch_get};
use super::error::{cancelled, classify, failed};
use super::replays::{put_record, stored_replay};
use super::transact::{Refused, busy, condition_failed, only_conflicts, ours, put_new, transact};
use super::{StoreError, WriteToken, keys};
use crate::domain::{
    ItemStatus, LineProblem, MAX_SAFE_INTEGER, Money, Order, OrderDetail, OrderId, OrderLine, OrderStatus, OwnerId,
    Page, ReplayRecord, Timestamp, Written,
};
use crate::retry::Backoff;

#[derive(Debug)]
pub enum PlaceError {
    /// Lines that cannot be fulfilled (1-based line number), read from the cancellation reasons.
    Lines(Vec<(u32, LineProblem)>),
    Store(StoreError),
}

impl From<StoreError> for PlaceError {
    fn from(error: StoreError) -> Self {
        PlaceError::Store(error)
    }
}

#[derive(Debug)]
pub enum CancelError {
    NotFound,
    AlreadyCancelled,
    /// Returning this (1-based) line's quantity would take its item's stock past 2^53 - 1.
    StockLimit(u32),
    Store(StoreError),
}

impl From<StoreError> for CancelError {
    fn from(error: StoreError) -> Self {
        CancelError::Store(error)
    }
}

#[derive(Serialize)]
struct OrderRecord<'a> {
    pk: String,
    sk: &'static str,
    orders_pk: String,
    write_token: &'a str,
    #[serde(flatten)]
    order: &'a Order,
}

#[derive(Serialize)]
struct LineRecord<'a> {
    pk: String,
    sk: String,
    #[serde(flatten)]
    line: &'a OrderLine,
}

#[derive(Deserialize)]
struct StoredRow {
    sk: String,
}

/// DynamoDB retries neither `TransactionConflict` cancellations nor, of course, our conditions;
/// conflicts (another transaction touching the same item) are worth a few quick retries.
const CONFLICT_RETRIES: u32 = 3;

#[derive(Clone)]
pub struct DynamoOrderRepository {
    client: Client,
    table: String,
}

impl DynamoOrderRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Puts the order and its lines and takes each line's quantity from its item's stock, on the
    /// conditions that the item exists, is active, still has that price and has enough stock.
    /// With `replay`, the idempotency record lands in the same transaction, or nothing does.
    pub async fn place(
        &self,
        order: &Order,
        lines: &[OrderLine],
        now: Timestamp,
        replay: Option<&ReplayRecord>,
    ) -> Result<Written<()>, PlaceError> {
        let token = WriteToken::new();
        let mut writes = Vec::with_capacity(2 + 2 * lines.len());
        writes.push(put(
            &self.table,
            &OrderRecord {
                pk: keys::order_pk(order.id),
                sk: keys::ORDER_SK,
                orders_pk: keys::owner_orders_partition(&order.owner_id),
                write_token: token.as_str(),
                order,
            },
        )?);
        for line in lines {
            writes.push(put(
                &self.table,
                &LineRecord { pk: keys::order_pk(order.id), sk: keys::order_line_sk(line.line), line },
            )?);
        }
        let first_stock_write = writes.len();
        for line in lines {
            writes.push(stock_change(&self.table, line, StockChange::Take, now)?);
        }
        let replay_write = writes.len();
        if let Some(replay) = replay {
            writes.push(put_record(replay, &self.table, &token)?);
        }

        let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(200), CONFLICT_RETRIES);
        for attempt in 0.. {
            let reasons = match transact(&self.client, writes.clone(), &token, attempt, "place order").await {
                Ok(()) => return Ok(Written::Done(())),
                Err(Refused::Store(error)) => return Err(error.into()),
                Err(Refused::Cancelled(reasons)) => reasons,
            };
            // An earlier attempt of ours committed (its response was lost): the order is placed.
            if ours(&reasons, &token) {
                return Ok(Written::Done(()));
            }
            if let Some(existing) =
                reasons.get(replay_write).filter(|r| condition_failed(Some(r))).and_then(|r| r.item())
            {
                if let Some(stored) = stored_replay(existing, now.as_millis() / 1000) {
                    return Ok(Written::KeyTaken(stored));
                }
            }
            if only_conflicts(&reasons) {
                if let Some(delay) = backoff.next_delay() {
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let problems: Vec<(u32, LineProblem)> = lines
                .iter()
                .zip(reasons.iter().skip(first_stock_write))
                .filter_map(|(line, reason)| line_problem(line, reason).map(|problem| (line.line, problem)))
                .collect();
            if !problems.is_empty() {
                return Err(PlaceError::Lines(problems));
            }
            if busy(&reasons) {
                return Err(StoreError::Throttled.into());
            }
            return Err(cancelled("place order", &reasons).into());
        }
        unreachable!("the attempts loop returns")
    }

    /// The order and its lines, strongly consistent (one `Query` on the order's partition).
    pub async fn get(&self, id: OrderId) -> Result<Option<OrderDetail>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_values(":pk", AttributeValue::S(keys::order_pk(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "query order"))?;
        let mut order = None;
        let mut lines = Vec::new();
        for row in output.items.unwrap_or_default() {
            let kind: StoredRow = serde_dynamo::from_item(row.clone()).map_err(failed("decode order row"))?;
            if kind.sk == keys::ORDER_SK {
                order = Some(serde_dynamo::from_item::<_, Order>(row).map_err(failed("decode order"))?);
            } else {
                lines.push(serde_dynamo::from_item::<_, OrderLine>(row).map_err(failed("decode order line"))?);
            }
        }
        lines.sort_by_key(|line| line.line);
        Ok(order.map(|order| OrderDetail { order, lines }))
    }

    /// The owner's orders, newest first.
    pub async fn list(&self, owner: &OwnerId, limit: u16, after: Option<OrderId>) -> Result<Page<Order>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::ORDERS_BY_OWNER)
            .key_condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", keys::ORDERS_PK)
            .expression_attribute_values(":owner", AttributeValue::S(keys::owner_orders_partition(owner)))
            .scan_index_forward(false)
            .limit(i32::from(limit) + 1)
            .set_exclusive_start_key(after.map(|id| keys::order_start_key(owner, id)))
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "query orders"))?;
        let mut orders: Vec<Order> =
            serde_dynamo::from_items(output.items.unwrap_or_default()).map_err(failed("decode orders"))?;
        let has_more = orders.len() > usize::from(limit);
        orders.truncate(usize::from(limit));
        let next = if has_more { orders.last().map(|order| order.id) } else { None };
        Ok(Page { items: orders, next: next.map(|id| crate::domain::PagePosition { id, price: None }) })
    }

    /// Marks a placed order cancelled and returns each line's quantity to its item, once: the
    /// order's status is the transaction's condition, so a second cancel changes nothing.
    /// `owner` restricts the cancel to that user's orders.
    pub async fn cancel(
        &self,
        id: OrderId,
        owner: Option<&OwnerId>,
        now: Timestamp,
    ) -> Result<OrderDetail, CancelError> {
        let token = WriteToken::new();
        let mut backoff = Backoff::new(Duration::from_millis(20), Duration::from_millis(200), CONFLICT_RETRIES);
        for attempt in 0.. {
            let detail = self.get(id).await?.ok_or(CancelError::NotFound)?;
            if owner.is_some_and(|owner| *owner != detail.order.owner_id) {
                return Err(CancelError::NotFound);
            }
            if detail.order.status == OrderStatus::Cancelled {
                return Err(CancelError::AlreadyCancelled);
            }
            // A line whose item was deleted cannot be restocked.
            let item_keys = detail.lines.iter().map(|line| keys::item_key(line.item_id)).collect();
            let read = BatchRead {
                projection: Some(("#id".to_owned(), HashMap::from([("#id".to_owned(), "id".to_owned())]))),
                consistent: true,
            };
            let existing: Vec<String> = batch_get(&self.client, &self.table, item_keys, &read)
                .await?
                .into_iter()
                .filter_map(|record| record.get("id").and_then(|v| v.as_s().ok()).cloned())
                .collect();

            let mut writes = vec![mark_cancelled(&self.table, id, &token, now)?];
            for line in detail.lines.iter().filter(|line| existing.contains(&line.item_id.to_string())) {
                writes.push(stock_change(&self.table, line, StockChange::Return, now)?);
            }
            let reasons = match transact(&self.client, writes, &token, attempt, "cancel order").await {
                Ok(()) => {
                    let mut order = detail.order;
                    order.status = OrderStatus::Cancelled;
                    order.updated_at = now;
                    return Ok(OrderDetail { order, lines: detail.lines });
                }
                Err(Refused::Store(error)) => return Err(error.into()),
                Err(Refused::Cancelled(reasons)) => reasons,
            };
            if ours(&reasons, &token) {
                // Our earlier attempt committed; the order as it now stands is the answer.
                let mut detail = self.get(id).await?.ok_or(CancelError::NotFound)?;
                detail.order.status = OrderStatus::Cancelled;
                return Ok(detail);
            }
            if condition_failed(reasons.first()) {
                return Err(CancelError::AlreadyCancelled);
            }
            // An item still there whose stock cannot take the quantity back.
            let full =
                reasons.iter().skip(1).position(|reason| condition_failed(Some(reason)) && reason.item().is_some());
            if let Some(index) = full {
                let returned: Vec<&OrderLine> =
                    detail.lines.iter().filter(|line| existing.contains(&line.item_id.to_string())).collect();
                return Err(CancelError::StockLimit(returned.get(index).map_or(0, |line| line.line)));
            }
            // A conflict, throttling, or an item deleted since we looked: read again and retry.
            match backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None if busy(&reasons) => return Err(StoreError::Throttled.into()),
                None => return Err(cancelled("cancel order", &reasons).into()),
            }
        }
        unreachable!("the attempts loop returns")
    }
}

fn put(table: &str, record: &impl Serialize) -> Result<TransactWriteItem, StoreError> {
    put_new(table, serde_dynamo::to_item(record).map_err(failed("encode order record"))?)
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[derive(Clone, Copy)]
enum StockChange {
    /// Placing: the item must be active, at the order's price, with enough stock.
    Take,
    /// Cancelling: the item must still exist.
    Return,
}

fn stock_change(
    table: &str,
    line: &OrderLine,
    change: StockChange,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let mut names = HashMap::from([
        ("#pk".to_owned(), keys::PK.to_owned()),
        ("#stock".to_owned(), "stock".to_owned()),
        ("#version".to_owned(), "version".to_owned()),
        ("#updated_at".to_owned(), "updated_at".to_owned()),
    ]);
    let mut values = HashMap::from([
        (":quantity".to_owned(), number(line.quantity)),
        (":one".to_owned(), number(1)),
        (":now".to_owned(), AttributeValue::S(now.to_string())),
    ]);
    let (update, condition) = match change {
        StockChange::Take => {
            names.insert("#status".to_owned(), "status".to_owned());
            names.insert("#price".to_owned(), "price".to_owned());
            values.insert(":price".to_owned(), number(line.unit_price.get()));
            values.insert(":active".to_owned(), AttributeValue::S(ItemStatus::Active.as_str().to_owned()));
            (
                "SET #stock = #stock - :quantity, #version = #version + :one, #updated_at = :now",
                "attribute_exists(#pk) AND #status = :active AND #price = :price AND #stock >= :quantity",
            )
        }
        StockChange::Return => {
            // Stock stays a number every JSON client reads exactly.
            values.insert(":room".to_owned(), number(MAX_SAFE_INTEGER.saturating_sub(line.quantity)));
            (
                "SET #stock = #stock + :quantity, #version = #version + :one, #updated_at = :now",
                "attribute_exists(#pk) AND #stock <= :room",
            )
        }
    };
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::item_key(line.item_id)))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed("build stock update"))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn mark_cancelled(
    table: &str,
    id: OrderId,
    token: &WriteToken,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(keys::order_key(id)))
        .update_expression("SET #status = :cancelled, #updated_at = :now, #write_token = :token")
        .condition_expression("#status = :placed")
        .set_expression_attribute_names(Some(HashMap::from([
            ("#status".to_owned(), "status".to_owned()),
            ("#updated_at".to_owned(), "updated_at".to_owned()),
            ("#write_token".to_owned(), keys::WRITE_TOKEN.to_owned()),
        ])))
        .set_expression_attribute_values(Some(HashMap::from([
            (":cancelled".to_owned(), AttributeValue::S(OrderStatus::Cancelled.as_str().to_owned())),
            (":placed".to_owned(), AttributeValue::S(OrderStatus::Placed.as_str().to_owned())),
            (":now".to_owned(), AttributeValue::S(now.to_string())),
            (":token".to_owned(), AttributeValue::S(token.as_str().to_owned())),
        ])))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed("build cancel update"))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Reads why a stock update's condition failed from the item DynamoDB returned with the reason.
fn line_problem(line: &OrderLine, reason: &CancellationReason) -> Option<LineProblem> {
    if reason.code() != Some("ConditionalCheckFailed") {
        return None;
    }
    let Some(item) = reason.item() else {
        return Some(LineProblem::NotFound);
    };
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let count = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<u64>().ok());
    Some(if text("status") != Some(ItemStatus::Active.as_str()) {
        LineProblem::NotActive
    } else if count("price").and_then(Money::new) != Some(line.unit_price) {
        LineProblem::PriceChanged
    } else {
        LineProblem::OutOfStock
    })
}
