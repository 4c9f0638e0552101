//! A single-item put under a condition, and the one way its outcome is read: written, or refused
//! by the condition (with the stored item, so a caller can tell its own earlier attempt apart),
//! or a store error.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

use super::error::{StoreError, classify};
use super::keys;
use super::settle::{settle, single_attempt};

pub(super) type Record = HashMap<String, AttributeValue>;

pub(super) enum Put {
    Written,
    /// The condition failed; the item as stored, if there is one.
    Refused(Option<Record>),
}

/// What must hold for the put to land.
pub(super) struct Condition {
    expression: &'static str,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Condition {
    /// No item with this key yet.
    pub(super) fn absent() -> Self {
        Self { expression: "attribute_not_exists(#pk)", names: vec![("#pk", keys::PK)], values: Vec::new() }
    }

    /// Any other condition over the named attributes and values.
    pub(super) fn new(
        expression: &'static str,
        names: Vec<(&'static str, &'static str)>,
        values: Vec<(&'static str, AttributeValue)>,
    ) -> Self {
        Self { expression, names, values }
    }
}

/// Settled (see [`super::settle`]): a put whose first attempt was lost is sent again, and a resend
/// refused because the item is there is the caller's to recognise by its write token.
pub(super) async fn put_if(
    client: &Client,
    table: &str,
    item: Record,
    condition: Condition,
    context: &'static str,
) -> Result<Put, StoreError> {
    let mut put = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition.expression)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
    for (name, attribute) in condition.names {
        put = put.expression_attribute_names(name, attribute);
    }
    for (name, value) in condition.values {
        put = put.expression_attribute_values(name, value);
    }
    let answer =
        settle(client, context, |time| put.clone().customize().config_override(single_attempt(time)).send()).await?;
    match answer.result {
        Ok(_) => Ok(Put::Written),
        Err(PutItemError::ConditionalCheckFailedException(refused)) => Ok(Put::Refused(refused.item)),
        Err(other) => Err(classify(other, context)),
    }
}
