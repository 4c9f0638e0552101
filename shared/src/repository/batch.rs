//! `BatchGetItem` done right: chunks of 100 keys, and `UnprocessedKeys` retried with backoff
//! until every key is answered. One call per chunk, never one call per row.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};

use super::StoreError;
use super::error::classify;
use crate::retry::Backoff;

/// DynamoDB's limit on keys per `BatchGetItem`.
const MAX_KEYS_PER_CALL: usize = 100;

pub type Record = HashMap<String, AttributeValue>;

/// What to read: a projection (expression + names) and whether reads must be strongly consistent.
#[derive(Clone, Default)]
pub(crate) struct BatchRead {
    pub projection: Option<(String, HashMap<String, String>)>,
    pub consistent: bool,
}

pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Record>,
    read: &BatchRead,
) -> Result<Vec<Record>, StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(MAX_KEYS_PER_CALL) {
        let mut pending = Some(keys_and_attributes(chunk.to_vec(), read)?);
        let mut backoff = Backoff::new(Duration::from_millis(25), Duration::from_millis(800), 6);
        while let Some(request) = pending.take() {
            let output = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|err| classify(err.into_service_error(), "batch get"))?;
            if let Some(mut responses) = output.responses {
                found.extend(responses.remove(table).unwrap_or_default());
            }
            let unprocessed = output.unprocessed_keys.and_then(|mut map| map.remove(table));
            if let Some(unprocessed) = unprocessed.filter(|u| !u.keys.is_empty()) {
                let delay = backoff.next_delay().ok_or(StoreError::Throttled)?;
                tokio::time::sleep(delay).await;
                pending = Some(unprocessed);
            }
        }
    }
    Ok(found)
}

fn keys_and_attributes(keys: Vec<Record>, read: &BatchRead) -> Result<KeysAndAttributes, StoreError> {
    let mut builder = KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(read.consistent);
    if let Some((expression, names)) = &read.projection {
        builder = builder.projection_expression(expression).set_expression_attribute_names(Some(names.clone()));
    }
    builder.build().map_err(|e| StoreError::Failed { context: "build batch get", source: Box::new(e) })
}
