//! The stored shape of an item: its fields plus the key attributes that place it in each index.

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde::Serialize;

use super::transact::put_new;
use super::{StoreError, WriteToken, keys};
use crate::domain::{Item, ItemId};

#[derive(Serialize)]
pub(crate) struct ItemRecord<'a> {
    pk: String,
    sk: &'static str,
    list_pk: String,
    status_pk: String,
    price_sk: String,
    index_pending: String,
    write_token: &'a str,
    #[serde(flatten)]
    item: &'a Item,
}

impl<'a> ItemRecord<'a> {
    pub fn new(item: &'a Item, token: &'a WriteToken) -> Self {
        Self {
            pk: keys::item_pk(item.id),
            sk: keys::ITEM_SK,
            list_pk: keys::list_partition(keys::shard_of(item.id)),
            status_pk: keys::status_partition(item.status, keys::shard_of(item.id)),
            price_sk: keys::price_sort_key(item.price, item.id),
            index_pending: keys::pending_partition(keys::shard_of(item.id)),
            write_token: token.as_str(),
            item,
        }
    }
}

/// A record on the pending-index GSI saying the item is gone, so the search index learns of the
/// deletion even if the queue message is lost. Ids are never reused, so the tombstone is new,
/// unless this very delete already landed.
pub(super) fn tombstone(table: &str, id: ItemId, token: &WriteToken) -> Result<TransactWriteItem, StoreError> {
    let mut tombstone = keys::item_tombstone_key(id);
    tombstone.insert(keys::ID.to_owned(), AttributeValue::S(id.to_string()));
    tombstone.insert(keys::INDEX_PENDING.to_owned(), AttributeValue::S(keys::pending_partition(keys::shard_of(id))));
    tombstone.insert(keys::WRITE_TOKEN.to_owned(), AttributeValue::S(token.as_str().to_owned()));
    put_new(table, tombstone)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;
    use crate::domain::{Item, ItemChanges, ItemId, OwnerId, Timestamp};
    use crate::repository::WriteToken;

    #[test]
    fn record_round_trips_and_carries_index_keys() {
        let now = Timestamp::from_millis(1_700_000_000_000);
        let body = serde_json::json!({"name": "Lamp", "price": 1999, "stock": 4, "status": "active"});
        let changes = ItemChanges::parse(body.as_object().unwrap()).unwrap();
        let item = Item::create(ItemId::new(now), changes, OwnerId::new("user-1"), now);

        let stored: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(ItemRecord::new(&item, &WriteToken::new())).unwrap();

        assert_eq!(stored["price"], AttributeValue::N("1999".into()));
        let shard = keys::shard_of(item.id);
        assert_eq!(stored["status_pk"], AttributeValue::S(format!("ITEM#STATUS#active#{shard:02}")));
        assert_eq!(stored["list_pk"], AttributeValue::S(format!("ITEM#SHARD#{shard:02}")));
        assert_eq!(stored["index_pending"], AttributeValue::S(format!("PENDING#{shard:02}")));
        assert_eq!(stored["created_at"], AttributeValue::S(now.to_string()));
        let read_back: Item = serde_dynamo::from_item(stored).unwrap();
        assert_eq!(read_back, item);
    }
}
