//! Orders on DynamoDB. Placing and cancelling are each one `TransactWriteItems`: the order, its
//! lines and every stock change land together or not at all.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, CancellationReason, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::batch::{BatchRead, batch_get};
use super::error::{cancelled, classify, failed};
use super::replays::{put_record, stored_replay};
use super::stock;
use super::transact::{Refused, busy, checked_update, condition_failed, only_conflicts, ours, put_new, transact};
use super::{StoreError, WriteToken, keys};
use crate::domain::{
    ItemId, ItemStatus, LineProblem, MAX_SAFE_INTEGER, Money, Order, OrderDetail, OrderId, OrderLine, OrderStatus,
    OwnerId, Page, ReplayRecord, StockBuckets, StockDraw, Timestamp, Written,
};
use crate::retry::{Backoff, spread_index};

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
    /// Read back into `OrderLine::stock_draws` (which clients never see).
    #[serde(skip_serializing_if = "<[StockDraw]>::is_empty")]
    stock_draws: &'a [StockDraw],
}

#[derive(Deserialize)]
struct StoredRow {
    sk: String,
}

/// DynamoDB retries neither `TransactionConflict` cancellations nor, of course, our conditions;
/// conflicts (another transaction touching the same item) are worth a few quick retries.
const CONFLICT_RETRIES: u32 = 3;

/// Fresh reads (of a split item's counters, or of how it is split) an order may act on before it
/// gives up as busy: in a flash sale, counters run dry under a buyer's feet.
const REREADS: u32 = 4;

/// DynamoDB's limit on writes in one transaction.
const MAX_TRANSACTION_WRITES: usize = 100;

#[derive(Clone)]
pub struct DynamoOrderRepository {
    client: Client,
    table: String,
}

impl DynamoOrderRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Puts the order and its lines and takes each line's quantity from its item's stock (or from
    /// one of its counters, for a split item), on the conditions that the item exists, is active,
    /// still has that price and has enough stock. With `replay`, the idempotency record lands in
    /// the same transaction, or nothing does.
    pub async fn place(
        &self,
        order: &Order,
        lines: &[OrderLine],
        now: Timestamp,
        replay: Option<&ReplayRecord>,
    ) -> Result<Written<()>, PlaceError> {
        let token = WriteToken::new();
        let mut takes: Vec<Take> = lines.iter().map(Take::first_guess).collect();
        let mut conflicts = Backoff::new(Duration::from_millis(20), Duration::from_millis(200), CONFLICT_RETRIES);
        let mut rereads = REREADS;
        for attempt in 0.. {
            let planned = self.place_writes(order, lines, &takes, now, replay, &token)?;
            let reasons = match transact(&self.client, planned.writes, &token, attempt, "place order").await {
                Ok(()) => return Ok(Written::Done(())),
                Err(Refused::Store(error)) => return Err(error.into()),
                Err(Refused::Cancelled(reasons)) => reasons,
            };
            // An earlier attempt of ours committed (its response was lost): the order is placed.
            if ours(&reasons, &token) {
                return Ok(Written::Done(()));
            }
            if let Some(existing) = planned
                .replay_write
                .and_then(|index| reasons.get(index))
                .filter(|r| condition_failed(Some(r)))
                .and_then(|r| r.item())
            {
                if let Some(stored) = stored_replay(existing, now.as_millis() / 1000) {
                    return Ok(Written::KeyTaken(stored));
                }
            }
            if only_conflicts(&reasons) {
                if let Some(delay) = conflicts.next_delay() {
                    // Another order holds that counter: try another one.
                    takes.iter_mut().for_each(Take::move_elsewhere);
                    tokio::time::sleep(delay).await;
                    continue;
                }
            }
            let mut problems: Vec<(u32, LineProblem)> = Vec::new();
            let mut reread = false;
            for (&(index, counter), reason) in
                planned.stock_writes.iter().zip(reasons.iter().skip(planned.first_stock_write))
            {
                let line = &lines[index];
                if !condition_failed(Some(reason)) || problems.iter().any(|(number, _)| *number == line.line) {
                    continue;
                }
                match self.why_not_taken(line, counter, reason, &mut takes[index]).await? {
                    Some(problem) => problems.push((line.line, problem)),
                    None => reread = true,
                }
            }
            if !problems.is_empty() {
                return Err(PlaceError::Lines(problems));
            }
            if reread && rereads > 0 {
                rereads -= 1;
                continue;
            }
            if reread || busy(&reasons) {
                return Err(StoreError::Throttled.into());
            }
            return Err(cancelled("place order", &reasons).into());
        }
        unreachable!("the attempts loop returns")
    }

    /// The transaction placing `order`: its record, its lines, each line's stock take(s) and the
    /// idempotency record.
    fn place_writes(
        &self,
        order: &Order,
        lines: &[OrderLine],
        takes: &[Take],
        now: Timestamp,
        replay: Option<&ReplayRecord>,
        token: &WriteToken,
    ) -> Result<PlannedPlace, PlaceError> {
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
        for (line, take) in lines.iter().zip(takes) {
            let record = LineRecord {
                pk: keys::order_pk(order.id),
                sk: keys::order_line_sk(line.line),
                line,
                stock_draws: take.draws(),
            };
            writes.push(put(&self.table, &record)?);
        }
        let first_stock_write = writes.len();
        let mut stock_writes = Vec::with_capacity(lines.len());
        for (index, (line, take)) in lines.iter().zip(takes).enumerate() {
            match take {
                Take::Item => {
                    writes.push(stock_change(&self.table, line, line.quantity, StockChange::Take, now)?);
                    stock_writes.push((index, None));
                }
                Take::Counters { draws, .. } => {
                    for draw in draws {
                        writes.push(stock::take(
                            &self.table,
                            line.item_id,
                            draw.counter,
                            draw.quantity,
                            line.unit_price,
                        )?);
                        stock_writes.push((index, Some(draw.counter)));
                    }
                }
            }
        }
        let replay_write = replay.map(|_| writes.len());
        if let Some(replay) = replay {
            writes.push(put_record(replay, &self.table, token)?);
        }
        if writes.len() > MAX_TRANSACTION_WRITES {
            // Only lines spread over many nearly empty counters get here.
            let spread = lines.iter().zip(takes).filter(|(_, take)| take.draws().len() > 1);
            return Err(PlaceError::Lines(spread.map(|(line, _)| (line.line, LineProblem::OutOfStock)).collect()));
        }
        Ok(PlannedPlace { writes, first_stock_write, stock_writes, replay_write })
    }

    /// Why one stock take of `line` failed its condition: a problem to report, or `None` when
    /// `take` now holds a better plan (the item was split or unsplit, or the chosen counter ran
    /// dry while others still hold enough) and the order is worth trying again.
    async fn why_not_taken(
        &self,
        line: &OrderLine,
        counter: Option<u8>,
        reason: &CancellationReason,
        take: &mut Take,
    ) -> Result<Option<LineProblem>, StoreError> {
        let buckets_in = |record: &HashMap<String, AttributeValue>| {
            record
                .get("stock_buckets")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .and_then(StockBuckets::new)
        };
        if counter.is_none() {
            // Taken from the item: it may have been split since it was priced.
            return Ok(match reason.item().and_then(buckets_in).filter(|b| b.is_split()) {
                Some(buckets) => {
                    *take = Take::spread(buckets, line.quantity);
                    None
                }
                None => line_problem(line, reason),
            });
        }
        if reason.item().is_none() {
            // No such counter: the item was unsplit, re-split or deleted since.
            let read = BatchRead {
                projection: Some(("#b".to_owned(), HashMap::from([("#b".to_owned(), "stock_buckets".to_owned())]))),
                consistent: true,
            };
            let item = batch_get(&self.client, &self.table, vec![keys::item_key(line.item_id)], &read).await?;
            return Ok(match item.first() {
                None => Some(LineProblem::NotFound),
                Some(record) => {
                    *take = Take::spread(buckets_in(record).unwrap_or_default(), line.quantity);
                    None
                }
            });
        }
        if let Some(problem) = line_problem(line, reason).filter(|problem| *problem != LineProblem::OutOfStock) {
            return Ok(Some(problem));
        }
        // This counter ran dry: the others may still hold enough.
        let Take::Counters { buckets, .. } = *take else {
            return Ok(line_problem(line, reason));
        };
        let counters = stock::read_counters(&self.client, &self.table, &[(line.item_id, buckets)], true).await?;
        let read = counters.get(&line.item_id).cloned().unwrap_or_default();
        Ok(match stock::plan_take(&read, line.quantity, spread_index(read.len())) {
            Some(plan) => {
                let draws = plan.into_iter().map(|(counter, quantity)| StockDraw { counter, quantity }).collect();
                *take = Take::Counters { buckets, draws };
                None
            }
            None => Some(LineProblem::OutOfStock),
        })
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

    /// Marks a placed order cancelled and returns each line's quantity to its item (to the
    /// counters it came from, for a split item), once: the order's status is the transaction's
    /// condition, so a second cancel changes nothing. `owner` restricts the cancel to that user's
    /// orders.
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
            // A line whose item was deleted cannot be restocked; a split item's goes to its counters.
            let item_keys = detail.lines.iter().map(|line| keys::item_key(line.item_id)).collect();
            let read = BatchRead {
                projection: Some((
                    "#id, #b".to_owned(),
                    HashMap::from([("#id".to_owned(), "id".to_owned()), ("#b".to_owned(), "stock_buckets".to_owned())]),
                )),
                consistent: true,
            };
            #[derive(Deserialize)]
            struct Existing {
                id: ItemId,
                #[serde(default)]
                stock_buckets: StockBuckets,
            }
            let existing: HashMap<ItemId, StockBuckets> = batch_get(&self.client, &self.table, item_keys, &read)
                .await?
                .into_iter()
                .map(|record| serde_dynamo::from_item::<_, Existing>(record).map(|e| (e.id, e.stock_buckets)))
                .collect::<Result<_, _>>()
                .map_err(failed("decode item"))?;

            let mut writes = vec![mark_cancelled(&self.table, id, &token, now)?];
            let mut returned_lines = Vec::new();
            for line in &detail.lines {
                let Some(&buckets) = existing.get(&line.item_id) else {
                    continue;
                };
                if !buckets.is_split() {
                    writes.push(stock_change(&self.table, line, line.quantity, StockChange::Return, now)?);
                    returned_lines.push(line.line);
                    continue;
                }
                for (counter, quantity) in returns(line, buckets) {
                    writes.push(stock::give_back(&self.table, line.item_id, counter, quantity, buckets)?);
                    returned_lines.push(line.line);
                }
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
            // An item (or counter) still there, as split as we read it, whose stock cannot take
            // the quantity back.
            let full = reasons.iter().skip(1).zip(&returned_lines).find(|(reason, _)| {
                condition_failed(Some(reason))
                    && reason.item().is_some_and(|stored| {
                        stored.get("stock_buckets").and_then(|v| v.as_n().ok()).is_none_or(|n| n == "1")
                    })
            });
            if let Some((_, line)) = full {
                return Err(CancelError::StockLimit(*line));
            }
            // A conflict, throttling, or an item deleted or (un)split since we looked: read again.
            match backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None if busy(&reasons) => return Err(StoreError::Throttled.into()),
                None => return Err(cancelled("cancel order", &reasons).into()),
            }
        }
        unreachable!("the attempts loop returns")
    }
}

/// The transaction `place` sends, and where in it each part is.
struct PlannedPlace {
    writes: Vec<TransactWriteItem>,
    first_stock_write: usize,
    /// For each stock write from `first_stock_write` on: the line's index and, for a split item,
    /// the counter.
    stock_writes: Vec<(usize, Option<u8>)>,
    replay_write: Option<usize>,
}

/// Where one line's units are taken from.
#[derive(Debug, Clone)]
enum Take {
    /// The item's own stock.
    Item,
    /// These counters of an item split `buckets` ways.
    Counters { buckets: StockBuckets, draws: Vec<StockDraw> },
}

impl Take {
    /// As the line was priced: one counter picked at random, so buyers spread over them.
    fn first_guess(line: &OrderLine) -> Self {
        Self::spread(line.stock_buckets, line.quantity)
    }

    fn spread(buckets: StockBuckets, quantity: u64) -> Self {
        match buckets.is_split() {
            true => {
                let counter = spread_index(usize::from(buckets.get())) as u8;
                Take::Counters { buckets, draws: vec![StockDraw { counter, quantity }] }
            }
            false => Take::Item,
        }
    }

    /// After a conflict on a counter: a single-counter take moves to another random one.
    fn move_elsewhere(&mut self) {
        if let Take::Counters { buckets, draws } = self {
            if let [draw] = draws.as_mut_slice() {
                draw.counter = spread_index(usize::from(buckets.get())) as u8;
            }
        }
    }

    fn draws(&self) -> &[StockDraw] {
        match self {
            Take::Item => &[],
            Take::Counters { draws, .. } => draws,
        }
    }
}

/// Where a cancelled line's units go back to on an item split `buckets` ways: the counters they
/// came from (folded onto the counters that exist now, if the split changed since), or the first
/// counter for a line placed before the item was split.
fn returns(line: &OrderLine, buckets: StockBuckets) -> Vec<(u8, u64)> {
    let mut by_counter: Vec<(u8, u64)> = Vec::new();
    let draws = match line.stock_draws.is_empty() {
        true => vec![StockDraw { counter: 0, quantity: line.quantity }],
        false => line.stock_draws.clone(),
    };
    for draw in draws {
        let counter = draw.counter % buckets.get();
        match by_counter.iter_mut().find(|(existing, _)| *existing == counter) {
            Some((_, quantity)) => *quantity += draw.quantity,
            None => by_counter.push((counter, draw.quantity)),
        }
    }
    by_counter
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

/// A change to an unsplit item's own stock; it must still be unsplit (a split item's stock is in
/// its counters).
fn stock_change(
    table: &str,
    line: &OrderLine,
    quantity: u64,
    change: StockChange,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    let mut names = HashMap::from([
        ("#pk".to_owned(), keys::PK.to_owned()),
        ("#buckets".to_owned(), "stock_buckets".to_owned()),
        ("#stock".to_owned(), "stock".to_owned()),
        ("#version".to_owned(), "version".to_owned()),
        ("#updated_at".to_owned(), "updated_at".to_owned()),
    ]);
    let mut values = HashMap::from([
        (":quantity".to_owned(), number(quantity)),
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
                "attribute_exists(#pk) AND #status = :active AND #price = :price AND #stock >= :quantity \
                 AND (attribute_not_exists(#buckets) OR #buckets = :one)",
            )
        }
        StockChange::Return => {
            // Stock stays a number every JSON client reads exactly.
            values.insert(":room".to_owned(), number(MAX_SAFE_INTEGER.saturating_sub(quantity)));
            (
                "SET #stock = #stock + :quantity, #version = #version + :one, #updated_at = :now",
                "attribute_exists(#pk) AND #stock <= :room AND (attribute_not_exists(#buckets) OR #buckets = :one)",
            )
        }
    };
    checked_update(table, keys::item_key(line.item_id), (update, condition), names, values, "build stock update")
}

fn mark_cancelled(
    table: &str,
    id: OrderId,
    token: &WriteToken,
    now: Timestamp,
) -> Result<TransactWriteItem, StoreError> {
    checked_update(
        table,
        keys::order_key(id),
        ("SET #status = :cancelled, #updated_at = :now, #write_token = :token", "#status = :placed"),
        HashMap::from([
            ("#status".to_owned(), "status".to_owned()),
            ("#updated_at".to_owned(), "updated_at".to_owned()),
            ("#write_token".to_owned(), keys::WRITE_TOKEN.to_owned()),
        ]),
        HashMap::from([
            (":cancelled".to_owned(), AttributeValue::S(OrderStatus::Cancelled.as_str().to_owned())),
            (":placed".to_owned(), AttributeValue::S(OrderStatus::Placed.as_str().to_owned())),
            (":now".to_owned(), AttributeValue::S(now.to_string())),
            (":token".to_owned(), AttributeValue::S(token.as_str().to_owned())),
        ]),
        "build cancel update",
    )
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
