//! Stored embeddings (`ITEM#<id>` / `VECTOR`), the `vectors_by_change` index that search
//! containers refresh from, and the `index_pending` markers the worker clears.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::dynamo::{classify, failed};
use super::{StoreError, keys};
use crate::domain::{ItemId, ItemStatus, OwnerId, Timestamp};
use crate::search::IndexEntry;

/// A deleted item's vector tombstone outranks every real version: ids are never reused.
pub const DELETED_VERSION: u64 = u64::MAX;

#[derive(Serialize, Deserialize)]
struct VectorFields {
    id: ItemId,
    version: u64,
    status: ItemStatus,
    owner_id: OwnerId,
    deleted: bool,
    changed_at_ms: i64,
}

/// An item awaiting (re)indexing: live, or a deletion tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub id: ItemId,
    pub version: u64,
    pub deleted: bool,
}

#[derive(Clone)]
pub struct DynamoVectorRepository {
    client: Client,
    table: String,
}

impl DynamoVectorRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Stores the vector unless one of the same or a newer version is there already, so repeated
    /// and out-of-order jobs leave the newest. Returns whether it wrote.
    pub async fn put(&self, entry: &IndexEntry, now: Timestamp) -> Result<bool, StoreError> {
        let fields = VectorFields {
            id: entry.id,
            version: entry.version,
            status: entry.status,
            owner_id: entry.owner_id.clone(),
            deleted: entry.deleted,
            changed_at_ms: now.as_millis(),
        };
        let mut record: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(&fields).map_err(failed("encode vector"))?;
        record.extend(keys::vector_key(entry.id));
        record.insert(keys::VECTOR_PK.to_owned(), AttributeValue::S(keys::ALL_VECTORS.to_owned()));
        record.insert(keys::CHANGED_AT.to_owned(), AttributeValue::S(keys::changed_at(now, entry.id)));
        // A binary attribute: serde would write a list of numbers, four times the size.
        record.insert("vector".to_owned(), AttributeValue::B(Blob::new(to_bytes(&entry.vector))));
        let outcome = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record))
            .condition_expression("attribute_not_exists(#pk) OR #version < :version")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(entry.version.to_string()))
            .send()
            .await;
        match outcome.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(true),
            Err(e) if e.is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(classify(e, "put vector")),
        }
    }

    /// Every vector changed at or after `since_ms` (all of them for `None`), following pages.
    pub async fn changed_since(&self, since_ms: Option<i64>) -> Result<Vec<IndexEntry>, StoreError> {
        let from = keys::changed_at_floor(since_ms.unwrap_or(0));
        let mut entries = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::VECTORS_BY_CHANGE)
                .key_condition_expression("#partition = :partition AND #changed >= :from")
                .expression_attribute_names("#partition", keys::VECTOR_PK)
                .expression_attribute_names("#changed", keys::CHANGED_AT)
                .expression_attribute_values(":partition", AttributeValue::S(keys::ALL_VECTORS.to_owned()))
                .expression_attribute_values(":from", AttributeValue::S(from.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| classify(err.into_service_error(), "query vectors"))?;
            for record in output.items.unwrap_or_default() {
                entries.push(entry_from(record)?);
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(entries),
            }
        }
    }

    /// Clears an item's `index_pending` marker, but only if the item is still at `version`: a
    /// newer write keeps its marker until its own job runs.
    pub async fn clear_pending(&self, id: ItemId, version: u64) -> Result<(), StoreError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .update_expression("REMOVE #pending")
            .condition_expression("#version = :version")
            .expression_attribute_names("#pending", keys::INDEX_PENDING)
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", AttributeValue::N(version.to_string()))
            .send()
            .await;
        match outcome.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(()),
            Err(e) if e.is_conditional_check_failed_exception() => Ok(()),
            Err(e) => Err(classify(e, "clear index marker")),
        }
    }

    /// Removes a deleted item's tombstone once its vector is marked deleted.
    pub async fn remove_tombstone(&self, id: ItemId) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_tombstone_key(id)))
            .send()
            .await
            .map_err(|e| classify(e.into_service_error(), "delete tombstone"))?;
        Ok(())
    }

    /// Items whose index is stale (sparse GSI on `index_pending`), up to `limit`.
    pub async fn pending(&self, limit: usize) -> Result<Vec<Pending>, StoreError> {
        #[derive(Deserialize)]
        struct Marker {
            sk: String,
            id: ItemId,
            #[serde(default)]
            version: Option<u64>,
        }
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::ITEMS_PENDING_INDEX)
                .key_condition_expression("#pending = :pending")
                .expression_attribute_names("#pending", keys::INDEX_PENDING)
                .expression_attribute_values(":pending", AttributeValue::S(keys::PENDING.to_owned()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| classify(err.into_service_error(), "query pending index"))?;
            for record in output.items.unwrap_or_default() {
                let marker: Marker = serde_dynamo::from_item(record).map_err(failed("decode pending marker"))?;
                let deleted = marker.sk == keys::TOMBSTONE_SK;
                let version = if deleted { DELETED_VERSION } else { marker.version.unwrap_or(0) };
                found.push(Pending { id: marker.id, version, deleted });
                if found.len() >= limit {
                    return Ok(found);
                }
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(found),
            }
        }
    }
}

fn to_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn entry_from(mut record: HashMap<String, AttributeValue>) -> Result<IndexEntry, StoreError> {
    let vector = match record.remove("vector") {
        Some(AttributeValue::B(blob)) => from_bytes(blob.as_ref()),
        _ => Vec::new(),
    };
    let fields: VectorFields = serde_dynamo::from_item(record).map_err(failed("decode vector"))?;
    Ok(IndexEntry {
        id: fields.id,
        version: fields.version,
        status: fields.status,
        owner_id: fields.owner_id,
        deleted: fields.deleted,
        vector,
        changed_at: fields.changed_at_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_through_bytes() {
        let vector = vec![0.25_f32, -1.5, 3.0e-7];
        assert_eq!(from_bytes(&to_bytes(&vector)), vector);
    }
}
