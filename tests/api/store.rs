//! The local store itself: `ClientRequestToken` on `TransactWriteItems` behaves as DynamoDB
//! documents it (infra/moto_server.py adds it to moto), through the real SDK. The app relies on it:
//! the SDK's retries of one transaction share its token, so a resend of a committed attempt must be
//! answered as a success without writing again.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::helpers::{TestApp, spawn_app};

fn key(pk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.to_owned())),
        ("sk".to_owned(), AttributeValue::S("STORE".to_owned())),
    ])
}

/// `ADD n 1` on the counter; with `at_least`, only if the counter is already at least that.
fn add_one(table: &str, at_least: Option<i64>) -> TransactWriteItem {
    let mut update = Update::builder()
        .table_name(table)
        .set_key(Some(key("STORE#counter")))
        .update_expression("ADD #n :one")
        .expression_attribute_names("#n", "n")
        .expression_attribute_values(":one", AttributeValue::N("1".into()));
    if let Some(min) = at_least {
        update = update
            .condition_expression("#n >= :min")
            .expression_attribute_values(":min", AttributeValue::N(min.to_string()));
    }
    TransactWriteItem::builder().update(update.build().unwrap()).build()
}

/// Puts the record `pk`; with `if_absent`, only where nothing is stored yet.
fn put(table: &str, pk: &str, if_absent: bool) -> TransactWriteItem {
    let mut put = Put::builder().table_name(table).set_item(Some(key(pk)));
    if if_absent {
        put = put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", "pk");
    }
    TransactWriteItem::builder().put(put.build().unwrap()).build()
}

async fn send(app: &TestApp, token: &str, writes: Vec<TransactWriteItem>) -> Result<(), TransactWriteItemsError> {
    app.dynamo
        .transact_write_items()
        .set_transact_items(Some(writes))
        .client_request_token(token)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

async fn counter(app: &TestApp) -> Option<i64> {
    let got = app
        .dynamo
        .get_item()
        .table_name(&app.table)
        .set_key(Some(key("STORE#counter")))
        .consistent_read(true)
        .send()
        .await;
    got.unwrap().item.map(|item| item["n"].as_n().unwrap().parse().unwrap())
}

/// Every record this module writes (they all have sort key STORE), by partition key.
async fn stored(app: &TestApp) -> Vec<String> {
    let scan = app.dynamo.scan().table_name(&app.table).consistent_read(true).send().await.unwrap();
    let mut keys: Vec<String> = scan
        .items()
        .iter()
        .filter(|item| item.get("sk").and_then(|sk| sk.as_s().ok()).is_some_and(|sk| sk == "STORE"))
        .map(|item| item["pk"].as_s().unwrap().clone())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn a_transaction_sent_twice_with_one_token_is_applied_once_and_both_succeed() {
    let app = spawn_app().await;
    let writes = || vec![add_one(&app.table, None), put(&app.table, "STORE#a", true)];

    let first = send(&app, "token-a", writes()).await;
    let again = send(&app, "token-a", writes()).await;

    assert!(first.is_ok(), "{first:?}");
    assert!(again.is_ok(), "the resend is answered as a success: {again:?}");
    assert_eq!(counter(&app).await, Some(1), "incremented once");
    assert_eq!(stored(&app).await, ["STORE#a", "STORE#counter"], "the put written once");
}

#[tokio::test]
async fn the_same_token_with_other_writes_is_an_idempotent_parameter_mismatch_and_writes_nothing() {
    let app = spawn_app().await;
    send(&app, "token-b", vec![add_one(&app.table, None), put(&app.table, "STORE#b1", true)]).await.unwrap();

    let other = send(&app, "token-b", vec![add_one(&app.table, None), put(&app.table, "STORE#b2", true)]).await;

    assert!(matches!(other, Err(TransactWriteItemsError::IdempotentParameterMismatchException(_))), "{other:?}");
    assert_eq!(counter(&app).await, Some(1));
    assert_eq!(stored(&app).await, ["STORE#b1", "STORE#counter"]);
}

#[tokio::test]
async fn a_token_whose_first_send_was_cancelled_runs_again_when_resent() {
    let app = spawn_app().await;
    let writes = || vec![add_one(&app.table, Some(5)), put(&app.table, "STORE#c", true)];

    let cancelled = send(&app, "token-c", writes()).await;
    assert!(matches!(cancelled, Err(TransactWriteItemsError::TransactionCanceledException(_))), "{cancelled:?}");
    assert_eq!(counter(&app).await, None, "a cancelled transaction writes nothing");
    let set = app
        .dynamo
        .put_item()
        .table_name(&app.table)
        .set_item(Some(key("STORE#counter")))
        .item("n", AttributeValue::N("5".into()))
        .send()
        .await;
    set.unwrap();

    let resent = send(&app, "token-c", writes()).await;

    assert!(resent.is_ok(), "a failed first use is not remembered: {resent:?}");
    assert_eq!(counter(&app).await, Some(6));
    let replayed = send(&app, "token-c", writes()).await;
    assert!(replayed.is_ok(), "the successful use is: {replayed:?}");
    assert_eq!(counter(&app).await, Some(6));
    assert_eq!(stored(&app).await, ["STORE#c", "STORE#counter"]);
}

#[tokio::test]
async fn the_same_writes_with_another_token_are_applied_again() {
    let app = spawn_app().await;
    let writes = || vec![add_one(&app.table, None), put(&app.table, "STORE#d", false)];

    send(&app, "token-d1", writes()).await.unwrap();
    send(&app, "token-d1", writes()).await.unwrap();
    send(&app, "token-d2", writes()).await.unwrap();

    assert_eq!(counter(&app).await, Some(2), "once per token");
    assert_eq!(stored(&app).await, ["STORE#counter", "STORE#d"]);
}
