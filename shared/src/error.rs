//! Error plumbing every layer shares: a boxed cause, and the one way a cause chain is written to
//! the log. Each layer has its own error type (`StoreError`, `ServiceError`, `ApiError`).

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// "context: cause: cause's cause", so one log line carries the whole story.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}
