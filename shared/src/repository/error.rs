//! How storage fails, and how an SDK error is sorted into those kinds: throttled (worth a retry
//! later), or failed (ours to fix).

use std::error::Error as StdError;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::CancellationReason;

use crate::error::BoxError;

#[derive(Debug)]
pub enum StoreError {
    NotFound,
    AlreadyExists,
    PreconditionFailed,
    /// The store is throttling us or cannot be reached, and nothing was written: the request may
    /// be retried later.
    Throttled,
    /// A write was sent, but whether it was applied could not be learned in time.
    OutcomeUnknown,
    /// The vector index cannot be searched yet (being built, or not yet served): retry later.
    IndexNotReady,
    Failed {
        context: &'static str,
        source: BoxError,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::NotFound => f.write_str("item not found"),
            StoreError::AlreadyExists => f.write_str("item already exists"),
            StoreError::PreconditionFailed => f.write_str("precondition failed"),
            StoreError::Throttled => f.write_str("store throttled the request"),
            StoreError::OutcomeUnknown => f.write_str("the store did not say whether the write was applied"),
            StoreError::IndexNotReady => f.write_str("the vector index is not ready for searches"),
            StoreError::Failed { context, .. } => f.write_str(context),
        }
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StoreError::Failed { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

pub(super) fn failed<E>(context: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |source| StoreError::Failed { context, source: Box::new(source) }
}

pub(super) const THROTTLING_CODES: [&str; 3] =
    ["ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"];

/// Throttling, and failures that never got a service answer (connection refused, timeouts: no error
/// code), are the caller's to retry later (503); anything else is our failure (500).
pub(super) fn classify<E>(error: E, context: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match error.code() {
        Some(code) if THROTTLING_CODES.contains(&code) => StoreError::Throttled,
        None => {
            tracing::warn!(context, error = %crate::error::error_chain(&error), "DynamoDB unreachable after retries");
            StoreError::Throttled
        }
        Some(_) => StoreError::Failed { context, source: Box::new(error) },
    }
}

/// A cancellation none of whose reasons we expected.
pub(super) fn cancelled(context: &'static str, reasons: &[CancellationReason]) -> StoreError {
    StoreError::Failed { context, source: format!("transaction cancelled: {reasons:?}").into() }
}
