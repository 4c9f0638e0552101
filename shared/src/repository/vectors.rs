//! Stored embeddings (`ITEM#<id>` / `VECTOR`), the `vectors_by_change` index that search
//! containers refresh from, and the `index_pending` markers the worker clears.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};

use super::error::{classify, failed};
use super::put::{Condition, Put, put_if};
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
    ///
    /// The change is stamped with the time of this write, not the job's: search containers look
    /// for changes a little older than the newest they have seen, and a job that started long ago
    /// (redelivered, a slow embedding) must not stamp its vector into the past they skip.
    pub async fn put(&self, entry: &IndexEntry) -> Result<bool, StoreError> {
        let now = Timestamp::now();
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
        let newer = Condition::new(
            "attribute_not_exists(#pk) OR #version < :version",
            vec![("#pk", keys::PK), ("#version", "version")],
            vec![(":version", AttributeValue::N(entry.version.to_string()))],
        );
        Ok(matches!(put_if(&self.client, &self.table, record, newer, "put vector").await?, Put::Written))
    }

    /// Every vector changed at or after `since_ms` (all of them for `None`), following pages.
    pub async fn changed_since(&self, since_ms: Option<i64>) -> Result<Vec<IndexEntry>, StoreError> {
        let from = keys::changed_at_floor(since_ms.unwrap_or(0));
        let records = self
            .query_index(
                keys::VECTORS_BY_CHANGE,
                "#partition = :partition AND #changed >= :from",
                &[("#partition", keys::VECTOR_PK), ("#changed", keys::CHANGED_AT)],
                vec![
                    (":partition", AttributeValue::S(keys::ALL_VECTORS.to_owned())),
                    (":from", AttributeValue::S(from)),
                ],
                usize::MAX,
            )
            .await?;
        records.into_iter().map(entry_from).collect()
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
        let records = self
            .query_index(
                keys::ITEMS_PENDING_INDEX,
                "#pending = :pending",
                &[("#pending", keys::INDEX_PENDING)],
                vec![(":pending", AttributeValue::S(keys::PENDING.to_owned()))],
                limit,
            )
            .await?;
        records
            .into_iter()
            .map(|record| {
                let marker: Marker = serde_dynamo::from_item(record).map_err(failed("decode pending marker"))?;
                let deleted = marker.sk == keys::TOMBSTONE_SK;
                let version = if deleted { DELETED_VERSION } else { marker.version.unwrap_or(0) };
                Ok(Pending { id: marker.id, version, deleted })
            })
            .collect()
    }

    /// Queries a GSI, following pages until it is exhausted or `max` records are in hand.
    async fn query_index(
        &self,
        index: &str,
        key_condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
        max: usize,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let names: HashMap<String, String> = names.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let values: HashMap<String, AttributeValue> = values.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression(key_condition)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|err| classify(err.into_service_error(), "query index"))?;
            records.extend(output.items.unwrap_or_default());
            if records.len() >= max {
                records.truncate(max);
                return Ok(records);
            }
            match output.last_evaluated_key {
                Some(key) => start = Some(key),
                None => return Ok(records),
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
