//! Rate windows: one caller's count for one route group in one fixed window, as an item whose
//! `hits` only grow by atomic, conditional `ADD`s, so no limit is ever exceeded under concurrency.
//! Window items expire through the table's TTL (`expires_at`).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::error::{StoreError, classify};
use super::keys;
use crate::domain::RouteGroup;

/// One caller's fixed window for one route group.
pub(crate) struct RateWindow<'a> {
    pub group: RouteGroup,
    pub subject: &'a str,
    pub start: i64,
    pub end: i64,
    pub limit: u32,
}

/// Why tokens were not claimed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClaimError {
    /// The window has no room for them: the caller is (or would be) over its limit.
    #[error("the rate window is full")]
    Full,
    #[error(transparent)]
    Store(StoreError),
}

#[derive(Clone)]
pub(crate) struct DynamoRateWindows {
    client: Client,
    table: String,
}

impl DynamoRateWindows {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    /// Adds `tokens` to the window's count if they all fit under the limit; returns the new count
    /// and the tokens granted (all of them).
    pub async fn claim(&self, window: &RateWindow<'_>, tokens: u32) -> Result<(u32, u32), ClaimError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate_window_key(window.group.as_str(), window.subject, window.start)))
            .update_expression("ADD #hits :tokens SET #expires_at = :expires")
            .condition_expression("attribute_not_exists(#hits) OR #hits <= :room")
            .expression_attribute_names("#hits", "hits")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":tokens", AttributeValue::N(tokens.to_string()))
            .expression_attribute_values(":room", AttributeValue::N((window.limit - tokens).to_string()))
            // Kept a minute past the window so a late request still finds its count.
            .expression_attribute_values(":expires", AttributeValue::N((window.end + 60).to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| match e.into_service_error() {
                full if full.is_conditional_check_failed_exception() => ClaimError::Full,
                other => ClaimError::Store(classify(other, "rate limit")),
            })?;
        let counted = output
            .attributes
            .and_then(|attributes| attributes.get("hits").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(window.limit);
        Ok((counted, tokens))
    }
}
