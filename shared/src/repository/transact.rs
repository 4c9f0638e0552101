//! `TransactWriteItems` with the two things every caller needs: a `ClientRequestToken`, and a
//! reading of the cancellation reasons that tells our own committed resend, a broken condition and
//! a busy store apart.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::error::{classify, failed};
use super::settle::{settle, single_attempt};
use super::{StoreError, WriteToken, keys};

/// Why a transaction did not commit.
pub(super) enum Refused {
    /// Cancelled; one reason per write, in order (`None` for writes that were fine).
    Cancelled(Vec<CancellationReason>),
    Store(StoreError),
}

/// Sends `writes` as one transaction, settled (see [`super::settle`]): an attempt whose outcome was
/// lost is sent again with the same `ClientRequestToken`, which DynamoDB answers with success, and
/// does not apply again, if the lost attempt committed. `attempt` numbers our own re-sends after
/// conflicts: each of those is a new transaction with its own token.
pub(super) async fn transact(
    client: &Client,
    writes: Vec<TransactWriteItem>,
    token: &WriteToken,
    attempt: u32,
    context: &'static str,
) -> Result<(), Refused> {
    let send = client
        .transact_write_items()
        .set_transact_items(Some(writes))
        .client_request_token(format!("{}-{attempt}", token.as_str()));
    let answer = settle(client, context, |time| send.clone().customize().config_override(single_attempt(time)).send())
        .await
        .map_err(Refused::Store)?;
    match answer.result {
        Ok(_) => Ok(()),
        Err(TransactWriteItemsError::TransactionCanceledException(e)) => {
            Err(Refused::Cancelled(e.cancellation_reasons.unwrap_or_default()))
        }
        Err(other) => Err(Refused::Store(classify(other, context))),
    }
}

/// A write that puts `record` only where nothing is stored yet; when that condition fails, the
/// cancellation reason carries what is stored, so a resend can recognise its own committed attempt.
pub(super) fn put_new(table: &str, record: HashMap<String, AttributeValue>) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(record))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", keys::PK)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed("build put"))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// An `Update` in a transaction that, when its condition fails, returns the record as stored with the
/// cancellation reason (so the caller can tell why).
pub(super) fn checked_update(
    table: &str,
    key: HashMap<String, AttributeValue>,
    (update, condition): (&str, &str),
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
    context: &'static str,
) -> Result<TransactWriteItem, StoreError> {
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(key))
        .update_expression(update)
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(Some(values))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .build()
        .map_err(failed(context))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// The condition of this write failed (as opposed to a conflict, throttling, or nothing wrong).
pub(super) fn condition_failed(reason: Option<&CancellationReason>) -> bool {
    reason.is_some_and(|reason| reason.code() == Some("ConditionalCheckFailed"))
}

/// A write whose condition failed because the record already carries `token`: an earlier attempt
/// of this same write committed (its response was lost) and the SDK sent it again.
pub(super) fn ours(reasons: &[CancellationReason], token: &WriteToken) -> bool {
    reasons.iter().any(|reason| condition_failed(Some(reason)) && token.marks(reason.item()))
}

/// Every failing reason is a conflict with another transaction: worth retrying at once.
pub(super) fn only_conflicts(reasons: &[CancellationReason]) -> bool {
    let mut failing = reasons.iter().filter_map(|reason| reason.code()).filter(|code| *code != "None").peekable();
    failing.peek().is_some() && failing.all(|code| code == "TransactionConflict")
}

/// Some write was refused for load (throttling, capacity, a conflict): the whole request is worth
/// retrying later, a 503 rather than a 500.
pub(super) fn busy(reasons: &[CancellationReason]) -> bool {
    const BUSY: [&str; 4] =
        ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"];
    reasons.iter().filter_map(|reason| reason.code()).any(|code| BUSY.contains(&code))
}
