//! Every DynamoDB key and index name the items table uses is built here and nowhere else.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{ItemId, ItemStatus, ListQuery, Money, OrderId, OwnerId, PagePosition, SortField};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
/// Partition key of the "all items" indexes; only items carry it, so those indexes stay item-only.
pub const LIST_PK: &str = "list_pk";
/// Partition key of the "items by status" indexes.
pub const STATUS_PK: &str = "status_pk";
/// Sort key of the price indexes: zero-padded price then id, so equal prices keep a stable order.
pub const PRICE_SK: &str = "price_sk";
/// Sort key of the creation-time indexes: the ULID id itself is time-ordered.
pub const ID: &str = "id";

const ITEM_PREFIX: &str = "ITEM#";
const ORDER_PREFIX: &str = "ORDER#";
pub const ORDER_SK: &str = "ORDER";
/// Partition key of `orders_by_owner`: one partition per user, newest order first by id.
pub const ORDERS_PK: &str = "orders_pk";
pub const ORDERS_BY_OWNER: &str = "orders_by_owner";
pub const PROFILE_SK: &str = "PROFILE";
/// Set on every item write, removed by the index worker once that version is indexed: the sparse
/// `items_pending_index` lists exactly the items whose search index is stale.
/// The [`WriteToken`](super::WriteToken) of the last write to a record.
pub const WRITE_TOKEN: &str = "write_token";
pub const INDEX_PENDING: &str = "index_pending";
pub const PENDING: &str = "PENDING";
pub const ITEMS_PENDING_INDEX: &str = "items_pending_index";
/// Left by a delete (in the same transaction) until the worker removes the item's vector.
pub const TOMBSTONE_SK: &str = "DELETED";
pub const VECTOR_SK: &str = "VECTOR";
pub const ITEM_SK: &str = "ITEM";
pub const ALL_ITEMS: &str = "ITEM";

pub fn item_pk(id: ItemId) -> String {
    format!("{ITEM_PREFIX}{id}")
}

/// The item an `ITEM#<id>` partition key names.
pub fn item_id_of(pk: &str) -> Option<ItemId> {
    ItemId::parse(pk.strip_prefix(ITEM_PREFIX)?)
}

pub fn item_tombstone_key(id: ItemId) -> HashMap<String, AttributeValue> {
    key(item_pk(id), TOMBSTONE_SK)
}

pub fn vector_key(id: ItemId) -> HashMap<String, AttributeValue> {
    key(item_pk(id), VECTOR_SK)
}

/// One fixed window of one subject's requests in one route group.
pub fn rate_window_key(group: &str, subject: &str, window_start: i64) -> HashMap<String, AttributeValue> {
    key(format!("RATE#{group}#{subject}"), format!("WINDOW#{window_start}"))
}

pub fn order_pk(id: OrderId) -> String {
    format!("{ORDER_PREFIX}{id}")
}

/// Zero-padded so lines sort in order.
pub fn order_line_sk(line: u32) -> String {
    format!("LINE#{line:03}")
}

pub fn order_key(id: OrderId) -> HashMap<String, AttributeValue> {
    key(order_pk(id), ORDER_SK)
}

pub fn owner_orders_partition(owner: &OwnerId) -> String {
    format!("ORDERS#{}", owner.as_str())
}

/// `ExclusiveStartKey` of `orders_by_owner`, resuming after order `id`.
pub fn order_start_key(owner: &OwnerId, id: OrderId) -> HashMap<String, AttributeValue> {
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

pub fn status_partition(status: ItemStatus) -> String {
    format!("ITEM#STATUS#{}", status.as_str())
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

/// A global secondary index that serves one shape of list query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListIndex {
    pub name: &'static str,
    pub partition_attribute: &'static str,
    pub partition_value: String,
    pub sort_attribute: &'static str,
}

pub fn list_index(query: &ListQuery) -> ListIndex {
    let (name, sort_attribute) = match (query.status.is_some(), query.sort) {
        (false, SortField::CreatedAt) => ("items_by_created", ID),
        (false, SortField::Price) => ("items_by_price", PRICE_SK),
        (true, SortField::CreatedAt) => ("items_by_status_created", ID),
        (true, SortField::Price) => ("items_by_status_price", PRICE_SK),
    };
    let (partition_attribute, partition_value) = match query.status {
        Some(status) => (STATUS_PK, status_partition(status)),
        None => (LIST_PK, ALL_ITEMS.to_owned()),
    };
    ListIndex { name, partition_attribute, partition_value, sort_attribute }
}

/// The `ExclusiveStartKey` that resumes `index` just after `position`: table key plus index key.
/// `None` if the index sorts by price and the position has none.
pub fn start_key(index: &ListIndex, position: PagePosition) -> Option<HashMap<String, AttributeValue>> {
    let sort_value = if index.sort_attribute == PRICE_SK {
        price_sort_key(position.price?, position.id)
    } else {
        position.id.to_string()
    };
    let mut key = item_key(position.id);
    key.insert(index.partition_attribute.to_owned(), AttributeValue::S(index.partition_value.clone()));
    key.insert(index.sort_attribute.to_owned(), AttributeValue::S(sort_value));
    Some(key)
}

/// The position a `LastEvaluatedKey` stands for: the inverse of [`start_key`].
pub fn position_of_key(key: &HashMap<String, AttributeValue>) -> Option<PagePosition> {
    let pk = key.get(PK)?.as_s().ok()?;
    let id = ItemId::parse(pk.strip_prefix(ITEM_PREFIX)?)?;
    let price = match key.get(PRICE_SK) {
        Some(value) => Some(Money::new(value.as_s().ok()?.split('#').next()?.parse().ok()?)?),
        None => None,
    };
    Some(PagePosition { id, price })
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
    fn each_query_shape_has_its_own_index() {
        let by_status = ListQuery { status: Some(ItemStatus::Active), sort: SortField::Price, ..ListQuery::default() };
        let index = list_index(&by_status);
        assert_eq!(index.name, "items_by_status_price");
        assert_eq!(index.partition_value, "ITEM#STATUS#active");
        assert_eq!(list_index(&ListQuery::default()).name, "items_by_created");
    }

    #[test]
    fn start_key_names_table_and_index_keys() {
        let id = id();
        let query = ListQuery { sort: SortField::Price, ..ListQuery::default() };
        let position = PagePosition { id, price: Money::new(5) };
        let key = start_key(&list_index(&query), position).unwrap();
        let mut names: Vec<_> = key.keys().cloned().collect();
        names.sort();
        assert_eq!(names, [LIST_PK, PK, PRICE_SK, SK]);
        assert_eq!(key[PK], AttributeValue::S(format!("ITEM#{id}")));
        assert_eq!(position_of_key(&key), Some(position));
    }

    #[test]
    fn creation_time_keys_need_no_price() {
        let position = PagePosition { id: id(), price: None };
        let key = start_key(&list_index(&ListQuery::default()), position).unwrap();
        assert_eq!(position_of_key(&key), Some(position));
        let by_price = ListQuery { sort: SortField::Price, ..ListQuery::default() };
        assert_eq!(start_key(&list_index(&by_price), position), None);
    }
}
