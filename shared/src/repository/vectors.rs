//! Stored embeddings (`ITEM#<id>` / `VECTOR`, one record per item, read by DynamoDB's vector
//! index), the search over that index, and the `index_pending` markers the worker clears.
//!
//! The vector lives beside the item, not on it: item reads and writes never carry its ~3 KB, and
//! a PATCH never drops or rewrites it. The record is written only for the item's current version.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Deserialize;

use super::error::{classify, failed};
use super::put::{Condition, put_if};
use super::{StoreError, keys};
use crate::domain::ItemId;
use crate::search::{Filing, Slice, VectorIndexConfig};

/// A deleted item's vector tombstone outranks every real version: ids are never reused.
pub(crate) const DELETED_VERSION: u64 = u64::MAX;

/// The vector record's search attributes: the index's `HASH` and its two inline filters.
pub const SHELF: &str = "search_shelf";
pub const SEARCH_STATUS: &str = "search_status";
pub const SEARCH_OWNER: &str = "search_owner";
const EMBEDDER: &str = "embedder";

/// An item's embedding at one version, and where the index files it.
pub struct ItemVector<'a> {
    pub id: ItemId,
    pub version: u64,
    /// [`crate::search::TextEmbedder::id`]: a vector from another embedder is replaced even at the
    /// same version (an embedder migration).
    pub embedder: &'a str,
    pub vector: &'a [f32],
    pub filing: &'a Filing,
}

/// One search hit: the item and how similar it is, higher is better (cosine similarity, -1 to 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub id: ItemId,
    pub score: f32,
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
    index: VectorIndexConfig,
}

impl DynamoVectorRepository {
    pub fn new(client: Client, table: impl Into<String>, index: VectorIndexConfig) -> Self {
        Self { client, table: table.into(), index }
    }

    /// Stores the vector unless one of a newer version, or of the same version by the same
    /// embedder, is there already: repeated and out-of-order jobs leave the newest. Returns whether
    /// it wrote. DynamoDB rejects a vector whose length is not the index's dimensions.
    ///
    /// An update, not a put: attributes it does not name stay, so during an embedder migration
    /// the old index's vector keeps serving searches until they switch to the new index.
    pub async fn put(&self, entry: &ItemVector<'_>) -> Result<bool, StoreError> {
        let numbers = entry.vector.iter().map(|x| AttributeValue::N(x.to_string())).collect();
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::vector_key(entry.id)))
            .update_expression(
                "SET #id = :id, #version = :version, #embedder = :embedder, #vector = :vector, \
                 #shelf = :shelf, #status = :status, #owner = :owner REMOVE #deleted",
            )
            .condition_expression(
                "attribute_not_exists(#version) OR #version < :version \
                 OR (#version = :version AND (attribute_not_exists(#embedder) OR #embedder <> :embedder))",
            )
            .expression_attribute_names("#id", keys::ID)
            .expression_attribute_names("#version", "version")
            .expression_attribute_names("#embedder", EMBEDDER)
            .expression_attribute_names("#vector", &self.index.attribute)
            .expression_attribute_names("#shelf", SHELF)
            .expression_attribute_names("#status", SEARCH_STATUS)
            .expression_attribute_names("#owner", SEARCH_OWNER)
            .expression_attribute_names("#deleted", "deleted")
            .expression_attribute_values(":id", AttributeValue::S(entry.id.to_string()))
            .expression_attribute_values(":version", AttributeValue::N(entry.version.to_string()))
            .expression_attribute_values(":embedder", AttributeValue::S(entry.embedder.to_owned()))
            // The index reads a list of numbers: the shortest decimal that round-trips each f32.
            .expression_attribute_values(":vector", AttributeValue::L(numbers))
            .expression_attribute_values(":shelf", AttributeValue::S(entry.filing.shelf.to_owned()))
            .expression_attribute_values(":status", AttributeValue::S(entry.filing.status.as_str().to_owned()))
            .expression_attribute_values(":owner", AttributeValue::S(entry.filing.owner.as_str().to_owned()))
            .send()
            .await;
        match outcome.map_err(|e| e.into_service_error()) {
            Ok(_) => Ok(true),
            Err(e) if e.is_conditional_check_failed_exception() => Ok(false),
            Err(e) => Err(classify(e, "put vector")),
        }
    }

    /// Replaces a deleted item's vector with a tombstone: no vector and no shelf, so the index
    /// drops it, and the highest version, so no late job for the item brings it back.
    pub(crate) async fn put_tombstone(&self, id: ItemId) -> Result<(), StoreError> {
        let mut record = keys::vector_key(id);
        record.insert(keys::ID.to_owned(), AttributeValue::S(id.to_string()));
        record.insert("version".to_owned(), AttributeValue::N(DELETED_VERSION.to_string()));
        record.insert("deleted".to_owned(), AttributeValue::Bool(true));
        // Only a version below the tombstone's is replaced: a second tombstone changes nothing.
        let older = Condition::new(
            "attribute_not_exists(#pk) OR #version < :version",
            vec![("#pk", keys::PK), ("#version", "version")],
            vec![(":version", AttributeValue::N(DELETED_VERSION.to_string()))],
        );
        put_if(&self.client, &self.table, record, older, "put vector tombstone").await?;
        Ok(())
    }

    /// The `top_k` nearest vectors in `slice`, most similar first. The index is filled
    /// asynchronously: a hit may be a version behind the item (callers re-check on fresh data).
    pub async fn search(&self, vector: &[f32], slice: &Slice, top_k: usize) -> Result<Vec<Scored>, StoreError> {
        let mut condition = vec!["#shelf = :shelf"];
        let mut names = HashMap::from([("#shelf".to_owned(), SHELF.to_owned())]);
        let mut values = HashMap::from([(":shelf".to_owned(), AttributeValue::S(slice.shelf.to_owned()))]);
        if let Some(status) = slice.status {
            condition.push("#status = :status");
            names.insert("#status".to_owned(), SEARCH_STATUS.to_owned());
            values.insert(":status".to_owned(), AttributeValue::S(status.as_str().to_owned()));
        }
        if let Some(owner) = &slice.owner {
            condition.push("#owner = :owner");
            names.insert("#owner".to_owned(), SEARCH_OWNER.to_owned());
            values.insert(":owner".to_owned(), AttributeValue::S(owner.as_str().to_owned()));
        }
        names.insert("#pk".to_owned(), keys::PK.to_owned());
        let output = self
            .client
            .search_vectors()
            .table_name(&self.table)
            .index_name(&self.index.name)
            .set_search_vector(Some(vector.iter().map(|x| AttributeValue::N(x.to_string())).collect()))
            .top_k(i32::try_from(top_k).unwrap_or(i32::MAX))
            .search_condition_expression(condition.join(" AND "))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            // Only the key comes back: the re-check reads the item itself.
            .projection_expression("#pk")
            .send()
            .await
            .map_err(|error| self.search_failed(error.into_service_error()))?;
        output
            .search_results()
            .iter()
            .map(|result| {
                let id = result
                    .item()
                    .and_then(|item| item.get(keys::PK))
                    .and_then(|pk| pk.as_s().ok())
                    .and_then(|pk| keys::item_id_of(pk))
                    .ok_or_else(|| StoreError::Failed {
                        context: "decode search result",
                        source: format!("result without an item key: {result:?}").into(),
                    })?;
                Ok(Scored { id, score: similarity(result.score() as f32) })
            })
            .collect()
    }

    /// An index that is being built (or that the search endpoint does not serve yet) answers
    /// `ValidationException`; AWS's advice is to wait and retry, so it is a 503, not our fault.
    fn search_failed(&self, error: aws_sdk_dynamodb::operation::search_vectors::SearchVectorsError) -> StoreError {
        let message = error.message().unwrap_or_default();
        let not_ready = error.code() == Some("ValidationException")
            && (message.contains("backfilling") || message.contains("does not have the specified index"));
        if not_ready {
            tracing::warn!(index = %self.index.name, message, "vector index not ready for searches");
            return StoreError::IndexNotReady;
        }
        classify(error, "search vectors")
    }

    /// Clears an item's `index_pending` marker, but only if no write reached the item record since
    /// it was read at `version`: a newer write keeps its marker until its own job runs. `<=`, not
    /// `=`: a split item's version also counts its counters' draws (which change nothing indexed),
    /// and its next write moves the record past every version read before it.
    pub(crate) async fn clear_pending(&self, id: ItemId, version: u64) -> Result<(), StoreError> {
        let outcome = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::item_key(id)))
            .update_expression("REMOVE #pending")
            .condition_expression("#version <= :version")
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
    pub(crate) async fn remove_tombstone(&self, id: ItemId) -> Result<(), StoreError> {
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
        // Every shard's partition, concurrently, each for its share of `limit` (markers are spread
        // by id like the items; what a call leaves stays marked for the next); oldest ids first.
        let per_shard = limit.div_ceil(usize::from(keys::SHARDS));
        let shards = (0..keys::SHARDS).map(|shard| {
            self.query_index(
                keys::ITEMS_PENDING_INDEX,
                "#pending = :pending",
                &[("#pending", keys::INDEX_PENDING)],
                vec![(":pending", AttributeValue::S(keys::pending_partition(shard)))],
                per_shard,
            )
        });
        let mut records: Vec<_> = futures_util::future::try_join_all(shards).await?.into_iter().flatten().collect();
        records.sort_by(|a, b| {
            a.get(keys::ID).and_then(|v| v.as_s().ok()).cmp(&b.get(keys::ID).and_then(|v| v.as_s().ok()))
        });
        records.truncate(limit);
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

/// The index's COSINE score is a distance, 0 (same direction) to 2 (opposite), lower first;
/// the API's is the cosine similarity, higher first.
fn similarity(cosine_distance: f32) -> f32 {
    1.0 - cosine_distance
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_smaller_distance_is_a_higher_score() {
        assert_eq!(similarity(0.0), 1.0);
        assert_eq!(similarity(2.0), -1.0);
        assert!(similarity(0.1) > similarity(0.4));
    }
}
