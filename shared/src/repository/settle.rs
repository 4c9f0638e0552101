//! Every write a client is answered for is sent until its outcome is known, not guessed.
//!
//! An attempt can end three ways: the store answered (applied, or refused with a reason), the store
//! certainly did not apply it (throttled, or the connection was never made), or nobody knows (the
//! attempt timed out, the connection broke after the request went out, the store answered 5xx). The
//! SDK's own retries cannot tell these apart for us, so writes make one SDK attempt each and this
//! loop decides: throttling is retried a few times and then is a 503 that tells the truth (nothing
//! was written); an unknown outcome is resolved by sending the same write again, under the same
//! write token and `ClientRequestToken`, until the store answers or the invocation's time runs out.
//! A resend is safe: a committed transaction's token makes DynamoDB answer success without applying
//! it again (for 10 minutes), and every single-item write is conditioned on not carrying its own
//! token, so the refusal of a resend hands back the stored item, which names the write as ours.

use std::error::Error as StdError;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::error::{StoreError, THROTTLING_CODES};
use crate::retry::Backoff;

/// With no invocation deadline (tests, tools), a write settles within this long.
const BUDGET_WITHOUT_DEADLINE: Duration = Duration::from_secs(8);
/// Kept free before the invocation deadline to answer the client.
const ANSWER_MARGIN: Duration = Duration::from_millis(500);
/// An attempt shorter than this is not worth sending.
const SHORTEST_ATTEMPT: Duration = Duration::from_millis(50);
/// Attempts refused for load before the write is given up as a 503, when no attempt was lost.
const BUSY_ATTEMPTS: u32 = 3;

/// What the store last said about a write.
pub(super) struct Answer<T, E> {
    /// Applied, or refused by the store for a reason it gave (a failed condition, a cancelled
    /// transaction, a malformed request).
    pub result: Result<T, E>,
    /// An earlier attempt's outcome was never learned: it may have been applied before this answer.
    pub after_lost_attempt: bool,
}

/// How one attempt ended.
enum Attempt<T, E> {
    Answered(Result<T, E>),
    /// The SDK could not even build the request: nothing was sent, and a retry would fail alike.
    Unsendable(crate::error::BoxError),
    /// Certainly not applied: throttled, or never sent.
    NotApplied(String),
    /// May or may not have been applied.
    Unknown(String),
}

/// Sends the write `send` builds (each call one SDK attempt of at most the given time, see
/// [`single_attempt`]) until the store answers it, and says whether an earlier attempt might have
/// been applied unseen. Each attempt is bounded by the client's own attempt timeout, if it has one;
/// each resend also by the time left.
pub(super) async fn settle<T, E, F, Fut>(
    client: &Client,
    context: &'static str,
    mut send: F,
) -> Result<Answer<T, E>, StoreError>
where
    F: FnMut(Duration) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let end = settle_by(Instant::now());
    let attempt_limit = client.config().timeout_config().and_then(|timeouts| timeouts.operation_attempt_timeout());
    let mut backoff = Backoff::new(Duration::from_millis(25), Duration::from_millis(400), u32::MAX);
    let mut lost = 0u32;
    let mut busy = 0u32;
    loop {
        // The first attempt always goes out, as any call would; the deadline bounds the resends.
        // (Under Lambda it is in the future; `cargo lambda watch` may hand over one already past.)
        let attempt_time = if lost == 0 && busy == 0 {
            attempt_limit.unwrap_or(BUDGET_WITHOUT_DEADLINE)
        } else {
            let left = end.saturating_duration_since(Instant::now());
            if left < SHORTEST_ATTEMPT {
                return Err(gave_up(context, lost));
            }
            attempt_limit.map_or(left, |limit| left.min(limit))
        };
        match read_attempt(send(attempt_time).await) {
            Attempt::Answered(result) => return Ok(Answer { result, after_lost_attempt: lost > 0 }),
            Attempt::Unsendable(source) if lost == 0 => return Err(StoreError::Failed { context, source }),
            Attempt::Unsendable(_) => return Err(gave_up(context, lost)),
            Attempt::NotApplied(why) => {
                busy += 1;
                tracing::debug!(context, why, "write not applied; retrying");
                if lost == 0 && busy >= BUSY_ATTEMPTS {
                    return Err(StoreError::Throttled);
                }
            }
            Attempt::Unknown(why) => {
                lost += 1;
                tracing::warn!(context, why, attempt = lost, "write outcome unknown; sending it again to learn it");
            }
        }
        let delay = backoff.next_delay().unwrap_or(Duration::ZERO);
        if Instant::now() + delay + SHORTEST_ATTEMPT >= end {
            return Err(gave_up(context, lost));
        }
        tokio::time::sleep(delay).await;
    }
}

/// Out of time: a 503 if no attempt can have been applied, else the outcome is unknown.
fn gave_up(context: &'static str, lost: u32) -> StoreError {
    if lost == 0 {
        StoreError::Throttled
    } else {
        tracing::error!(context, lost_attempts = lost, "write outcome still unknown at the deadline");
        StoreError::OutcomeUnknown
    }
}

/// When settling must stop: before the invocation's deadline, with time to answer.
fn settle_by(now: Instant) -> Instant {
    let budget = match crate::scope::deadline() {
        Some(deadline) => deadline
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .saturating_sub(ANSWER_MARGIN)
            .min(BUDGET_WITHOUT_DEADLINE),
        None => BUDGET_WITHOUT_DEADLINE,
    };
    now + budget
}

/// The per-call settings of a write attempt: no SDK retries (this module retries, knowing why) and
/// an attempt bounded by `time`.
pub(super) fn single_attempt(time: Duration) -> aws_sdk_dynamodb::config::Builder {
    aws_sdk_dynamodb::config::Builder::default()
        .retry_config(RetryConfig::disabled())
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(time).operation_timeout(time).build())
}

fn read_attempt<T, E>(outcome: Result<T, SdkError<E, HttpResponse>>) -> Attempt<T, E>
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    let error = match outcome {
        Ok(output) => return Attempt::Answered(Ok(output)),
        Err(error) => error,
    };
    let why = crate::error::error_chain(&error);
    match error {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let error = service.into_err();
            match error.code() {
                Some(code) if THROTTLING_CODES.contains(&code) => Attempt::NotApplied(why),
                // A resend while our first send still runs: that one may yet commit.
                Some("TransactionInProgressException") => Attempt::Unknown(why),
                // The store failed while handling it; it may have been applied.
                _ if status >= 500 => Attempt::Unknown(why),
                _ => Attempt::Answered(Err(error)),
            }
        }
        unsendable @ SdkError::ConstructionFailure(_) => Attempt::Unsendable(unsendable.into()),
        SdkError::DispatchFailure(failure) if never_connected(&failure) => Attempt::NotApplied(why),
        // Timed out, reset after sending, unreadable answer: the request may have been applied.
        _ => Attempt::Unknown(why),
    }
}

/// The connection was never made, so the request never left.
fn never_connected(failure: &aws_smithy_runtime_api::client::result::DispatchFailure) -> bool {
    let mut source: Option<&(dyn StdError + 'static)> = failure.as_connector_error().map(|e| e as _);
    while let Some(error) = source {
        if error.downcast_ref::<hyper_util::client::legacy::Error>().is_some_and(|e| e.is_connect()) {
            return true;
        }
        if error.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::ConnectionRefused) {
            return true;
        }
        source = error.source();
    }
    false
}
