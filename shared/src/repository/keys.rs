//! Every DynamoDB key and index name the items table uses is built here and nowhere else.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{ItemId, ItemStatus, ListQuery, Money, OrderId, OwnerId, PagePosition, SortField};

pub const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
/// Partition key of the "all items" indexes; only items carry it, so those indexes stay item-only.
pub(crate) const LIST_PK: &str = "list_pk";
/// Partition key of the "items by status" indexes.
pub(crate) const STATUS_PK: &str = "status_pk";
/// Sort key of the price indexes: zero-padded price then id, so equal prices keep a stable order.
pub(crate) const PRICE_SK: &str = "price_sk";
/// Sort key of the creation-time indexes: the ULID id itself is time-ordered.
pub(crate) const ID: &str = "id";

const ITEM_PREFIX: &str = "ITEM#";
const ORDER_PREFIX: &str = "ORDER#";
pub(crate) const ORDER_SK: &str = "ORDER";
/// Partition key of `orders_by_owner`: one partition per user, newest order first by id.
pub(crate) const ORDERS_PK: &str = "orders_pk";
pub(crate) const ORDERS_BY_OWNER: &str = "orders_by_owner";
pub(crate) const PROFILE_SK: &str = "PROFILE";
/// Set on every item write, removed by the index worker once that version is indexed: the sparse
/// `items_pending_index` lists exactly the items whose search index is stale.
/// The [`WriteToken`](super::WriteToken) of the last write to a record.
pub(crate) const WRITE_TOKEN: &str = "write_token";
pub(crate) const INDEX_PENDING: &str = "index_pending";
const PENDING: &str = "PENDING";
pub(crate) const ITEMS_PENDING_INDEX: &str = "items_pending_index";
/// Left by a delete (in the same transaction) until the worker removes the item's vector.
pub(crate) const TOMBSTONE_SK: &str = "DELETED";
pub(crate) const VECTOR_SK: &str = "VECTOR";
pub(crate) const ITEM_SK: &str = "ITEM";
pub(crate) const STOCK_SK: &str = "STOCK";

/// Every item-wide index key is spread over this many partition key values, by a hash of the item
/// id: one value takes at most ~1,000 write units per second, and every item write (an order's stock
/// change included) writes each listing index. A listing reads all shards and merges them.
/// Changing it re-keys every item (infra/reshard.py).
pub const SHARDS: u8 = 16;

/// The shard an item's index keys live in: fixed for its life (ids never change).
pub fn shard_of(id: ItemId) -> u8 {
    // FNV-1a over the id's text: stable across releases and platforms, unlike std's hasher.
    let hash = id
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
    (hash % u64::from(SHARDS)) as u8
}

/// `list_pk` of an item in `shard`: the "all items" indexes' partition.
pub fn list_partition(shard: u8) -> String {
    format!("ITEM#SHARD#{shard:02}")
}

/// `index_pending` of a record in `shard`: the pending-index GSI's partition.
pub(crate) fn pending_partition(shard: u8) -> String {
    format!("{PENDING}#{shard:02}")
}

pub fn item_pk(id: ItemId) -> String {
    format!("{ITEM_PREFIX}{id}")
}

/// The item an `ITEM#<id>` partition key names.
pub(crate) fn item_id_of(pk: &str) -> Option<ItemId> {
    ItemId::parse(pk.strip_prefix(ITEM_PREFIX)?)
}

pub fn item_tombstone_key(id: ItemId) -> HashMap<String, AttributeValue> {
    key(item_pk(id), TOMBSTONE_SK)
}

pub fn vector_key(id: ItemId) -> HashMap<String, AttributeValue> {
    key(item_pk(id), VECTOR_SK)
}

/// One fixed window of one subject's requests in one route group.
pub(crate) fn rate_window_key(group: &str, subject: &str, window_start: i64) -> HashMap<String, AttributeValue> {
    key(format!("RATE#{group}#{subject}"), format!("WINDOW#{window_start}"))
}

pub fn order_pk(id: OrderId) -> String {
    format!("{ORDER_PREFIX}{id}")
}

/// Zero-padded so lines sort in order.
pub(crate) fn order_line_sk(line: u32) -> String {
    format!("LINE#{line:03}")
}

pub fn order_key(id: OrderId) -> HashMap<String, AttributeValue> {
    key(order_pk(id), ORDER_SK)
}

pub fn owner_orders_partition(owner: &OwnerId) -> String {
    format!("ORDERS#{}", owner.as_str())
}

/// `ExclusiveStartKey` of `orders_by_owner`, resuming after order `id`.
pub(crate) fn order_start_key(owner: &OwnerId, id: OrderId) -> HashMap<String, AttributeValue> {
    let mut key = order_key(id);
    key.insert(ORDERS_PK.to_owned(), AttributeValue::S(owner_orders_partition(owner)));
    key.insert(ID.to_owned(), AttributeValue::S(id.to_string()));
    key
}

pub fn profile_key(user: &OwnerId) -> HashMap<String, AttributeValue> {
    key(format!("USER#{}", user.as_str()), PROFILE_SK)
}

/// Idempotency records are scoped to the caller and the route, so two users (or two routes)
/// using the same key never collide. The user id is length-prefixed: ids and keys may both hold
/// `#`, and user `a#b` with key `c` must not meet user `a` with key `b#c`.
pub fn idempotency_key(scope: &str, user: &OwnerId, client_key: &str) -> HashMap<String, AttributeValue> {
    let user = user.as_str();
    key(format!("IDEMPOTENCY#{scope}#{}:{user}#{client_key}", user.len()), "IDEMPOTENCY")
}

/// `status_pk` of an item in `shard`: the "items by status" indexes' partition.
pub(crate) fn status_partition(status: ItemStatus, shard: u8) -> String {
    format!("ITEM#STATUS#{}#{shard:02}", status.as_str())
}

/// 16 digits hold every price up to 2^53 - 1, so string order equals numeric order.
pub fn price_sort_key(price: Money, id: ItemId) -> String {
    format!("{:016}#{id}", price.get())
}

/// A table key: partition and sort key, as strings.
fn key(pk: impl Into<String>, sk: impl Into<String>) -> HashMap<String, AttributeValue> {
    HashMap::from([(PK.to_owned(), AttributeValue::S(pk.into())), (SK.to_owned(), AttributeValue::S(sk.into()))])
}

pub fn item_key(id: ItemId) -> HashMap<String, AttributeValue> {
    key(item_pk(id), ITEM_SK)
}

/// One stock counter of a split item: each on a partition key of its own, so orders drawing from
/// different counters never share a partition (or conflict) with each other or with the item.
pub(crate) fn stock_counter_key(id: ItemId, counter: u8) -> HashMap<String, AttributeValue> {
    key(format!("STOCK#{id}#{counter:02}"), STOCK_SK)
}

/// A global secondary index that serves one shape of list query, spread over [`SHARDS`] partitions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListIndex {
    pub name: &'static str,
    pub partition_attribute: &'static str,
    /// One per shard, in shard order.
    pub partitions: Vec<String>,
    pub sort_attribute: &'static str,
}

pub fn list_index(query: &ListQuery) -> ListIndex {
    let (name, sort_attribute) = match (query.status.is_some(), query.sort) {
        (false, SortField::CreatedAt) => ("items_by_created", ID),
        (false, SortField::Price) => ("items_by_price", PRICE_SK),
        (true, SortField::CreatedAt) => ("items_by_status_created", ID),
        (true, SortField::Price) => ("items_by_status_price", PRICE_SK),
    };
    let (partition_attribute, partitions) = match query.status {
        Some(status) => (STATUS_PK, (0..SHARDS).map(|shard| status_partition(status, shard)).collect()),
        None => (LIST_PK, (0..SHARDS).map(list_partition).collect()),
    };
    ListIndex { name, partition_attribute, partitions, sort_attribute }
}

/// The index sort key value at `position`: every shard resumes strictly after it.
/// `None` if the index sorts by price and the position has none.
pub(crate) fn sort_value(index: &ListIndex, position: PagePosition) -> Option<String> {
    if index.sort_attribute == PRICE_SK {
        Some(price_sort_key(position.price?, position.id))
    } else {
        Some(position.id.to_string())
    }
}

/// The position a sort key value stands for: the inverse of [`sort_value`].
pub(crate) fn position_of_sort_value(index: &ListIndex, value: &str) -> Option<PagePosition> {
    if index.sort_attribute == PRICE_SK {
        let (price, id) = value.split_once('#')?;
        Some(PagePosition { id: ItemId::parse(id)?, price: Some(Money::new(price.parse().ok()?)?) })
    } else {
        Some(PagePosition { id: ItemId::parse(value)?, price: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    fn id() -> ItemId {
        ItemId::new(Timestamp::from_millis(1_700_000_000_000))
    }

    #[test]
    fn price_keys_sort_numerically() {
        let id = id();
        let cheap = price_sort_key(Money::new(99).unwrap(), id);
        let dear = price_sort_key(Money::new(1_000).unwrap(), id);
        assert!(cheap < dear, "{cheap} should sort before {dear}");
        assert_eq!(cheap.len(), 16 + 1 + 26);
    }

    #[test]
    fn each_query_shape_has_its_own_index_over_every_shard() {
        let by_status = ListQuery { status: Some(ItemStatus::Active), sort: SortField::Price, ..ListQuery::default() };
        let index = list_index(&by_status);
        assert_eq!(index.name, "items_by_status_price");
        assert_eq!(index.partitions.len(), usize::from(SHARDS));
        assert_eq!(index.partitions[7], "ITEM#STATUS#active#07");
        let all = list_index(&ListQuery::default());
        assert_eq!(all.name, "items_by_created");
        assert_eq!(all.partitions[15], "ITEM#SHARD#15");
    }

    #[test]
    fn sort_values_round_trip_and_need_a_price_only_on_price_indexes() {
        let id = id();
        let by_price = list_index(&ListQuery { sort: SortField::Price, ..ListQuery::default() });
        let position = PagePosition { id, price: Money::new(5) };
        let value = sort_value(&by_price, position).unwrap();
        assert_eq!(value, format!("0000000000000005#{id}"));
        assert_eq!(position_of_sort_value(&by_price, &value), Some(position));

        let by_date = list_index(&ListQuery::default());
        let position = PagePosition { id, price: None };
        assert_eq!(position_of_sort_value(&by_date, &sort_value(&by_date, position).unwrap()), Some(position));
        assert_eq!(sort_value(&by_price, position), None);
    }

    #[test]
    fn ids_spread_evenly_over_the_shards() {
        let mut counts = [0_u32; SHARDS as usize];
        for n in 0..16_000_i64 {
            counts[usize::from(shard_of(ItemId::new(Timestamp::from_millis(1_700_000_000_000 + n))))] += 1;
        }
        // 1,000 expected per shard; a fair hash stays well within ±15 %.
        assert!(counts.iter().all(|c| (850..=1150).contains(c)), "{counts:?}");
        let id = id();
        assert_eq!(shard_of(id), shard_of(ItemId::parse(&id.to_string()).unwrap()), "stable");
    }
}
