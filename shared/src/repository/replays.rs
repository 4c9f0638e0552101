//! Idempotency records: the response of an idempotent POST, written in the same transaction as the
//! effect it answers for. No failure between the two can leave an effect without its record (a
//! retry would repeat it) or a record without its effect.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};

use super::error::{classify, failed};
use super::{StoreError, WriteToken, keys};
use crate::domain::{OwnerId, ReplayRecord, StoredReplay};

const FINGERPRINT: &str = "fingerprint";
const RESPONSE: &str = "response";
/// The table's TTL attribute (epoch seconds); DynamoDB deletes the record some time after it.
const EXPIRES_AT: &str = "expires_at";

/// The record as one write of the effect's transaction: it lands only if the key is free
/// (absent, expired but not yet swept, or a claim left by an older release of this code).
pub(super) fn put_record(
    record: &ReplayRecord,
    table: &str,
    token: &WriteToken,
) -> Result<TransactWriteItem, StoreError> {
    let mut item = keys::idempotency_key(record.route, &record.user, &record.key);
    item.insert(FINGERPRINT.to_owned(), AttributeValue::S(record.fingerprint.clone()));
    item.insert(RESPONSE.to_owned(), serde_dynamo::to_attribute_value(&record.response).map_err(failed("encode"))?);
    item.insert(EXPIRES_AT.to_owned(), AttributeValue::N((record.now_seconds + record.keep_seconds).to_string()));
    item.insert(keys::WRITE_TOKEN.to_owned(), AttributeValue::S(token.as_str().to_owned()));
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk) OR #expires_at < :now OR attribute_not_exists(#response)")
        .expression_attribute_names("#pk", keys::PK)
        .expression_attribute_names("#expires_at", EXPIRES_AT)
        .expression_attribute_names("#response", RESPONSE)
        .expression_attribute_values(":now", AttributeValue::N(record.now_seconds.to_string()))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed("build idempotency record"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The completed record in `item`, if it holds one that has not expired at `now_seconds`.
pub(super) fn stored_replay(item: &HashMap<String, AttributeValue>, now_seconds: i64) -> Option<StoredReplay> {
    let expires_at: i64 = item.get(EXPIRES_AT)?.as_n().ok()?.parse().ok()?;
    if expires_at < now_seconds {
        return None;
    }
    Some(StoredReplay {
        fingerprint: item.get(FINGERPRINT)?.as_s().ok()?.clone(),
        response: serde_dynamo::from_attribute_value(item.get(RESPONSE)?.clone()).ok()?,
    })
}

/// Reads idempotency records; they are written only inside the effects' transactions.
#[derive(Clone)]
pub struct DynamoReplayRepository {
    client: Client,
    table: String,
}

impl DynamoReplayRepository {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// The stored response for this key, strongly consistent: a retry sent after a 2xx finds it.
    pub async fn find(
        &self,
        scope: &str,
        user: &OwnerId,
        key: &str,
        now_seconds: i64,
    ) -> Result<Option<StoredReplay>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(keys::idempotency_key(scope, user, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| classify(error.into_service_error(), "read idempotency record"))?;
        Ok(output.item.as_ref().and_then(|item| stored_replay(item, now_seconds)))
    }
}
