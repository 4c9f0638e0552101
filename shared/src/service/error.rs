//! What a use case can answer besides its result, in the service's own terms. `http/` alone turns
//! it into a status code and an envelope.

use crate::domain::FieldError;
use crate::error::BoxError;
use crate::repository::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Input that is well-formed but not acceptable, field by field.
    #[error("invalid input: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// No such thing, or not the caller's to see (the two are never told apart).
    #[error("not found")]
    NotFound,
    /// The stored version is not one the caller named.
    #[error("the stored version does not match")]
    PreconditionFailed,
    /// The current state refuses the request; `details` may name the parts (e.g. order lines).
    #[error("{message}")]
    Conflict { code: &'static str, message: String, details: Vec<FieldError> },
    /// The store (or the cache fence) is busy or unreachable: worth retrying shortly.
    #[error("the store is busy or unreachable")]
    Unavailable,
    /// A write was sent but the store never said whether it was applied, within the time the
    /// request had. A retry with the same idempotency key (or a read) tells.
    #[error("the outcome of the write is unknown")]
    OutcomeUnknown,
    /// A fault of ours or of the store's; the source says which.
    #[error("{context}")]
    Internal {
        context: &'static str,
        #[source]
        source: BoxError,
    },
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::PreconditionFailed => Self::PreconditionFailed,
            StoreError::Throttled | StoreError::IndexNotReady => Self::Unavailable,
            StoreError::OutcomeUnknown => Self::OutcomeUnknown,
            StoreError::AlreadyExists => Self::Internal { context: "new item id collided", source: error.into() },
            StoreError::Failed { context, source } => Self::Internal { context, source },
        }
    }
}
