//! A split item's stock (`stock_buckets` > 1): that many counters, each on its own partition key,
//! holding a share of the stock and a copy of the item's price and status. An order line draws from
//! one counter with one conditional update and never touches the item, so a flash sale's orders
//! spread over the counters instead of queueing (and conflicting) on one record. The item's stock is
//! the sum of its counters, and its version the item record's plus every draw since the record was
//! last written, so `If-Match` still fails after an order, as it does for an unsplit item.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::batch::{BatchRead, batch_get};
use super::error::failed;
use super::transact::checked_update;
use super::{StoreError, keys};
use crate::domain::{Item, ItemId, ItemStatus, ItemView, MAX_SAFE_INTEGER, Money, Stock, StockBuckets, Version};

/// What a counter stores.
#[derive(Serialize, Deserialize)]
struct CounterRecord {
    pk: String,
    sk: String,
    item_id: ItemId,
    counter: u8,
    stock: u64,
    /// Takes and returns since the item was last written (each bumps the item's version by one).
    draws: u64,
    price: Money,
    status: ItemStatus,
}

/// One counter as read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counter {
    pub stock: u64,
    pub draws: u64,
}

/// Every counter of a split item, by counter number; `None` where one is missing (only while a
/// concurrent write re-splits the item).
pub(super) type Counters = Vec<Option<Counter>>;

/// Reads the counters of each `(item, buckets)`, in one `BatchGetItem` per 100 counters.
pub(super) async fn read_counters(
    client: &Client,
    table: &str,
    items: &[(ItemId, StockBuckets)],
    consistent: bool,
) -> Result<HashMap<ItemId, Counters>, StoreError> {
    let mut counters: HashMap<ItemId, Counters> =
        items.iter().map(|(id, buckets)| (*id, vec![None; usize::from(buckets.get())])).collect();
    let keys: Vec<_> = items
        .iter()
        .flat_map(|(id, buckets)| (0..buckets.get()).map(|counter| keys::stock_counter_key(*id, counter)))
        .collect();
    if keys.is_empty() {
        return Ok(counters);
    }
    let names = HashMap::from([
        ("#item".to_owned(), "item_id".to_owned()),
        ("#counter".to_owned(), "counter".to_owned()),
        ("#stock".to_owned(), "stock".to_owned()),
        ("#draws".to_owned(), "draws".to_owned()),
    ]);
    let read = BatchRead { projection: Some(("#item, #counter, #stock, #draws".to_owned(), names)), consistent };
    #[derive(Deserialize)]
    struct Read {
        item_id: ItemId,
        counter: u8,
        stock: u64,
        draws: u64,
    }
    for record in batch_get(client, table, keys, &read).await? {
        let read: Read = serde_dynamo::from_item(record).map_err(failed("decode stock counter"))?;
        if let Some(slot) = counters.get_mut(&read.item_id).and_then(|all| all.get_mut(usize::from(read.counter))) {
            *slot = Some(Counter { stock: read.stock, draws: read.draws });
        }
    }
    Ok(counters)
}

/// The stock and draws over all of one item's counters.
pub(super) fn totals(counters: &Counters) -> Counter {
    counters.iter().flatten().fold(Counter::default(), |sum, counter| Counter {
        stock: sum.stock.saturating_add(counter.stock),
        draws: sum.draws.saturating_add(counter.draws),
    })
}

/// Gives each split item among `views` its stock and version as its counters say (one
/// `BatchGetItem` for the lot). Views need `stock_buckets` read along with `stock`/`version`.
pub(super) async fn compose(
    client: &Client,
    table: &str,
    views: &mut [ItemView],
    consistent: bool,
) -> Result<(), StoreError> {
    let split: Vec<(ItemId, StockBuckets)> = views
        .iter()
        .filter_map(|view| Some((view.id?, view.stock_buckets.filter(|buckets| buckets.is_split())?)))
        .collect();
    if split.is_empty() {
        return Ok(());
    }
    let counters = read_counters(client, table, &split, consistent).await?;
    for view in views {
        let Some(sum) = view.id.and_then(|id| counters.get(&id)).map(totals) else {
            continue;
        };
        if view.stock.is_some() {
            // Each counter stays within MAX_SAFE_INTEGER / buckets (see `room`), so the sum fits.
            view.stock = Some(Stock::new(sum.stock).ok_or_else(|| StoreError::Failed {
                context: "sum stock counters",
                source: format!("{} units is past the largest stock", sum.stock).into(),
            })?);
        }
        if let Some(version) = view.version {
            view.version = Some(Version::new(version.get().saturating_add(sum.draws)));
        }
    }
    Ok(())
}

/// `total` spread as evenly as possible: the first `total % buckets` counters hold one more.
pub(super) fn split(total: u64, buckets: StockBuckets) -> Vec<u64> {
    let count = u64::from(buckets.get());
    (0..count).map(|index| total / count + u64::from(index < total % count)).collect()
}

/// The most one counter may hold after a return, so the sum over all never passes
/// `MAX_SAFE_INTEGER` (a write may leave a counter above it; returns then stop there).
fn room(buckets: StockBuckets) -> u64 {
    MAX_SAFE_INTEGER / u64::from(buckets.get())
}

/// What a counter write requires of the stored counter.
#[derive(Debug, Clone, Copy)]
pub(super) enum Expect {
    /// None there yet.
    New,
    /// Exactly this many draws since the last write: no order changed it since it was read.
    Draws(u64),
}

fn number(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn expectation(expect: Expect) -> (&'static str, HashMap<String, AttributeValue>) {
    match expect {
        Expect::New => ("attribute_not_exists(#pk)", HashMap::new()),
        Expect::Draws(draws) => ("#draws = :draws", HashMap::from([(":draws".to_owned(), number(draws))])),
    }
}

/// (Re)writes one counter of `item` with `stock`, the item's price and status, and no draws.
pub(super) fn put_counter(
    table: &str,
    item: &Item,
    counter: u8,
    stock: u64,
    expect: Expect,
) -> Result<TransactWriteItem, StoreError> {
    let key = keys::stock_counter_key(item.id, counter);
    let text = |value: &AttributeValue| value.as_s().cloned().unwrap_or_default();
    let record = CounterRecord {
        pk: text(&key[keys::PK]),
        sk: text(&key[keys::SK]),
        item_id: item.id,
        counter,
        stock,
        draws: 0,
        price: item.price,
        status: item.status,
    };
    let (condition, values) = expectation(expect);
    let names = match expect {
        Expect::New => HashMap::from([("#pk".to_owned(), keys::PK.to_owned())]),
        Expect::Draws(_) => HashMap::from([("#draws".to_owned(), "draws".to_owned())]),
    };
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(record).map_err(failed("encode stock counter"))?))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(failed("build counter put"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Removes one counter that has seen exactly `draws` draws since it was read.
pub(super) fn delete_counter(
    table: &str,
    id: ItemId,
    counter: u8,
    draws: u64,
) -> Result<TransactWriteItem, StoreError> {
    let (condition, values) = expectation(Expect::Draws(draws));
    let delete = Delete::builder()
        .table_name(table)
        .set_key(Some(keys::stock_counter_key(id, counter)))
        .condition_expression(condition)
        .expression_attribute_names("#draws", "draws")
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(failed("build counter delete"))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// An order line's take from one counter: the counter must exist with the item active, at the
/// order's price and with enough stock. A failed condition returns the counter as it stands.
pub(super) fn take(
    table: &str,
    id: ItemId,
    counter: u8,
    quantity: u64,
    price: Money,
) -> Result<TransactWriteItem, StoreError> {
    draw(
        table,
        id,
        counter,
        "SET #stock = #stock - :quantity, #draws = #draws + :one",
        "attribute_exists(#pk) AND #status = :active AND #price = :price AND #stock >= :quantity",
        HashMap::from([
            (":quantity".to_owned(), number(quantity)),
            (":price".to_owned(), number(price.get())),
            (":active".to_owned(), AttributeValue::S(ItemStatus::Active.as_str().to_owned())),
        ]),
    )
}

/// A cancelled line's quantity back into one counter of an item split `buckets` ways.
pub(super) fn give_back(
    table: &str,
    id: ItemId,
    counter: u8,
    quantity: u64,
    buckets: StockBuckets,
) -> Result<TransactWriteItem, StoreError> {
    draw(
        table,
        id,
        counter,
        "SET #stock = #stock + :quantity, #draws = #draws + :one",
        "attribute_exists(#pk) AND #stock <= :room",
        HashMap::from([
            (":quantity".to_owned(), number(quantity)),
            (":room".to_owned(), number(room(buckets).saturating_sub(quantity))),
        ]),
    )
}

fn draw(
    table: &str,
    id: ItemId,
    counter: u8,
    update: &str,
    condition: &str,
    mut values: HashMap<String, AttributeValue>,
) -> Result<TransactWriteItem, StoreError> {
    let names: HashMap<String, String> =
        [("#pk", keys::PK), ("#stock", "stock"), ("#draws", "draws"), ("#status", "status"), ("#price", "price")]
            .into_iter()
            .filter(|(placeholder, _)| update.contains(placeholder) || condition.contains(placeholder))
            .map(|(placeholder, name)| (placeholder.to_owned(), name.to_owned()))
            .collect();
    values.insert(":one".to_owned(), number(1));
    let key = keys::stock_counter_key(id, counter);
    checked_update(table, key, (update, condition), names, values, "build counter update")
}

/// How to take `quantity` from counters as read: from one counter with enough, picked at random
/// (so concurrent buyers spread out), else from the fullest first. `None` if they hold too little.
pub(super) fn plan_take(counters: &[Option<Counter>], quantity: u64, pick: usize) -> Option<Vec<(u8, u64)>> {
    let stocked: Vec<(u8, u64)> = counters
        .iter()
        .enumerate()
        .filter_map(|(index, counter)| Some((u8::try_from(index).ok()?, counter.as_ref()?.stock)))
        .filter(|(_, stock)| *stock > 0)
        .collect();
    let enough: Vec<u8> = stocked.iter().filter(|(_, stock)| *stock >= quantity).map(|(index, _)| *index).collect();
    if !enough.is_empty() {
        return Some(vec![(enough[pick % enough.len()], quantity)]);
    }
    let mut fullest = stocked;
    fullest.sort_by_key(|&(_, stock)| std::cmp::Reverse(stock));
    let mut left = quantity;
    let mut plan = Vec::new();
    for (index, stock) in fullest {
        if left == 0 {
            break;
        }
        let part = stock.min(left);
        plan.push((index, part));
        left -= part;
    }
    (left == 0).then_some(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(count: u64) -> StockBuckets {
        StockBuckets::new(count).unwrap()
    }

    #[test]
    fn split_is_even_and_loses_nothing() {
        assert_eq!(split(10, buckets(4)), [3, 3, 2, 2]);
        assert_eq!(split(2, buckets(4)), [1, 1, 0, 0]);
        for total in [0, 1, 299, 300, MAX_SAFE_INTEGER] {
            assert_eq!(split(total, buckets(32)).iter().sum::<u64>(), total);
        }
    }

    #[test]
    fn room_keeps_the_sum_a_safe_integer() {
        for count in 1..=u64::from(StockBuckets::MAX) {
            assert!(room(buckets(count)) * count <= MAX_SAFE_INTEGER);
        }
    }

    fn counters(stocks: &[u64]) -> Counters {
        stocks.iter().map(|stock| Some(Counter { stock: *stock, draws: 0 })).collect()
    }

    #[test]
    fn a_take_prefers_one_counter_with_enough_and_spreads_by_pick() {
        let read = counters(&[0, 5, 1, 5]);
        assert_eq!(plan_take(&read, 2, 0), Some(vec![(1, 2)]));
        assert_eq!(plan_take(&read, 2, 1), Some(vec![(3, 2)]));
        assert_eq!(plan_take(&read, 1, 1), Some(vec![(2, 1)]), "any counter with stock serves one unit");
    }

    #[test]
    fn a_take_spans_counters_fullest_first_or_finds_too_little() {
        let read = counters(&[2, 4, 0, 3]);
        assert_eq!(plan_take(&read, 8, 0), Some(vec![(1, 4), (3, 3), (0, 1)]));
        assert_eq!(plan_take(&read, 9, 0), Some(vec![(1, 4), (3, 3), (0, 2)]));
        assert_eq!(plan_take(&read, 10, 0), None);
        assert_eq!(plan_take(&[None, None], 1, 0), None, "missing counters hold nothing");
    }
}
