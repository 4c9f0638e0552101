//! Writes to an item whose stock is split over counters (see [`super::stock`]), or is being split:
//! the item record and every counter in one transaction, on the condition that neither changed
//! since they were read, so a concurrent order is never overwritten and `If-Match` compares the
//! version orders advance too. Such writes are rare next to the orders they make room for; a
//! conflict with one is retried from a fresh read.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::error::{cancelled, classify, failed};
use super::records::{self, ItemRecord};
use super::stock::{self, Counter, Counters, Expect};
use super::transact::{Refused, busy, ours, transact};
use super::{StoreError, WriteGuard, WriteToken, keys};
use crate::domain::{Item, ItemId, ItemPatch, Precondition, Stock, Timestamp, Version};
use crate::retry::Backoff;

/// The item record and its counters as one consistent read.
struct Current {
    item: Item,
    counters: Counters,
}

impl Current {
    async fn read(client: &Client, table: &str, id: ItemId, guard: &WriteGuard) -> Result<Current, StoreError> {
        let output = client
            .get_item()
            .table_name(table)
            .set_key(Some(keys::item_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| classify(err.into_service_error(), "get item"))?;
        let item: Item = output
            .item
            .map(|stored| serde_dynamo::from_item(stored).map_err(failed("decode item")))
            .transpose()?
            .ok_or(StoreError::NotFound)?;
        if guard.owner.as_ref().is_some_and(|owner| *owner != item.owner_id) {
            return Err(StoreError::NotFound);
        }
        let counters = match item.stock_buckets.is_split() {
            true => stock::read_counters(client, table, &[(id, item.stock_buckets)], true)
                .await?
                .remove(&id)
                .unwrap_or_default(),
            false => Vec::new(),
        };
        let current = Current { item, counters };
        if let Precondition::VersionIn(versions) = &guard.precondition {
            if !versions.contains(&current.version()) {
                return Err(StoreError::PreconditionFailed);
            }
        }
        Ok(current)
    }

    /// The version clients see: the record's plus every draw from its counters since.
    fn version(&self) -> Version {
        Version::new(self.item.version.get().saturating_add(stock::totals(&self.counters).draws))
    }

    fn stock(&self) -> Result<Stock, StoreError> {
        match self.item.stock_buckets.is_split() {
            true => Stock::new(stock::totals(&self.counters).stock).ok_or_else(|| StoreError::Failed {
                context: "sum stock counters",
                source: "the counters hold more than the largest stock".into(),
            }),
            false => Ok(self.item.stock),
        }
    }

    /// The record's put, if it is still at the version read, and each counter's rewrite or removal.
    fn writes(&self, table: &str, next: &Item, token: &WriteToken) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut writes = vec![put_record(table, next, self.item.version, token)?];
        let old = self.item.stock_buckets.get();
        let new = next.stock_buckets.get();
        let shares =
            if next.stock_buckets.is_split() { stock::split(next.stock.get(), next.stock_buckets) } else { vec![] };
        for counter in 0..old.max(new) {
            let read = self.counters.get(usize::from(counter)).copied().flatten();
            let expect = read.map_or(Expect::New, |Counter { draws, .. }| Expect::Draws(draws));
            match (shares.get(usize::from(counter)), read) {
                (Some(share), _) => writes.push(stock::put_counter(table, next, counter, *share, expect)?),
                (None, Some(Counter { draws, .. })) => {
                    writes.push(stock::delete_counter(table, next.id, counter, draws)?);
                }
                (None, None) => {}
            }
        }
        Ok(writes)
    }
}

fn put_record(table: &str, item: &Item, read: Version, token: &WriteToken) -> Result<TransactWriteItem, StoreError> {
    let record = serde_dynamo::to_item(ItemRecord::new(item, token)).map_err(failed("encode item record"))?;
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(record))
        .condition_expression("#version = :read")
        .expression_attribute_names("#version", "version")
        .expression_attribute_values(":read", AttributeValue::N(read.get().to_string()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed("build item put"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A changed item or counter since the read: read again and retry, a few times.
fn retries() -> Backoff {
    Backoff::new(Duration::from_millis(20), Duration::from_millis(200), 4)
}

/// PUT or PATCH of an item that is split or becomes split. The new version is one past the one
/// clients saw, and the counters start again from no draws, so versions only ever grow.
pub(super) async fn write(
    client: &Client,
    table: &str,
    id: ItemId,
    patch: &ItemPatch,
    guard: &WriteGuard,
    now: Timestamp,
) -> Result<Item, StoreError> {
    let token = WriteToken::new();
    let mut backoff = retries();
    for attempt in 0.. {
        let current = Current::read(client, table, id, guard).await?;
        let mut next = current.item.clone();
        next.name = patch.name.clone().unwrap_or(next.name);
        next.description = patch.description.clone().unwrap_or(next.description);
        next.status = patch.status.unwrap_or(next.status);
        next.price = patch.price.unwrap_or(next.price);
        next.stock = match patch.stock {
            Some(stock) => stock,
            None => current.stock()?,
        };
        next.stock_buckets = patch.stock_buckets.unwrap_or(next.stock_buckets);
        next.updated_at = now;
        next.version = Version::new(current.version().get().saturating_add(1));
        let writes = current.writes(table, &next, &token)?;
        let reasons = match transact(client, writes, &token, attempt, "write split item").await {
            Ok(()) => return Ok(next),
            Err(Refused::Store(error)) => return Err(error),
            Err(Refused::Cancelled(reasons)) => reasons,
        };
        if ours(&reasons, &token) {
            return Ok(next);
        }
        retry_or_give_up(&mut backoff, &reasons, "write split item").await?;
    }
    unreachable!("the attempts loop returns")
}

/// DELETE of a split item: the record, every counter and a search tombstone together.
pub(super) async fn delete(client: &Client, table: &str, id: ItemId, guard: &WriteGuard) -> Result<(), StoreError> {
    let token = WriteToken::new();
    let mut backoff = retries();
    for attempt in 0.. {
        let current = Current::read(client, table, id, guard).await?;
        let record = Delete::builder()
            .table_name(table)
            .set_key(Some(keys::item_key(id)))
            .condition_expression("#version = :read")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":read", AttributeValue::N(current.item.version.get().to_string()))
            .build()
            .map_err(failed("build delete"))?;
        let mut writes =
            vec![TransactWriteItem::builder().delete(record).build(), records::tombstone(table, id, &token)?];
        for (counter, read) in (0..).zip(&current.counters) {
            if let Some(read) = read {
                writes.push(stock::delete_counter(table, id, counter, read.draws)?);
            }
        }
        let reasons = match transact(client, writes, &token, attempt, "delete split item").await {
            Ok(()) => return Ok(()),
            Err(Refused::Store(error)) => return Err(error),
            Err(Refused::Cancelled(reasons)) => reasons,
        };
        if ours(&reasons, &token) {
            return Ok(());
        }
        retry_or_give_up(&mut backoff, &reasons, "delete split item").await?;
    }
    unreachable!("the attempts loop returns")
}

/// After a refusal that was not our own earlier attempt (something changed under us, or the store
/// is busy): waits to read again, or says why not.
async fn retry_or_give_up(
    backoff: &mut Backoff,
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
    context: &'static str,
) -> Result<(), StoreError> {
    match backoff.next_delay() {
        Some(delay) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
        // Orders kept changing the counters: as busy as throttling, and as safe to retry.
        None if busy(reasons) || reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) => {
            Err(StoreError::Throttled)
        }
        None => Err(cancelled(context, reasons)),
    }
}
