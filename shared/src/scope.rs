//! Per-invocation state that several layers contribute to (the Lambda deadline, the request id and
//! X-Ray trace, the rate-limit outcome, cache hits), carried in a task-local so it need not be
//! threaded through every call.

use std::future::Future;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::SystemTime;

use crate::domain::RateOutcome;
use crate::trace::TraceHeader;

tokio::task_local! {
    static SCOPE: Arc<Scope>;
}

#[derive(Debug, Default)]
pub struct Scope {
    /// When the Lambda invocation times out: no retry may sleep past it.
    pub deadline: Option<SystemTime>,
    /// The invocation's request id: index jobs carry it, so the worker's logs name the request.
    pub request_id: Option<String>,
    /// The X-Ray trace the invocation (or, in the worker, the message) belongs to.
    pub trace: Option<TraceHeader>,
    rate: Mutex<Option<RateOutcome>>,
    cache_hits: AtomicU32,
    cache_misses: AtomicU32,
}

impl Scope {
    /// A scope that also knows which request and trace its work belongs to.
    pub fn traced(deadline: Option<SystemTime>, request_id: Option<String>, trace: Option<TraceHeader>) -> Arc<Self> {
        Arc::new(Self { deadline, request_id, trace, ..Self::default() })
    }

    pub fn rate(&self) -> Option<RateOutcome> {
        self.rate.lock().ok().and_then(|rate| *rate)
    }

    pub fn cache_counts(&self) -> (u32, u32) {
        (self.cache_hits.load(Ordering::Relaxed), self.cache_misses.load(Ordering::Relaxed))
    }
}

/// Runs `work` with `scope` as the current invocation's scope.
pub async fn within<F: Future>(scope: Arc<Scope>, work: F) -> F::Output {
    SCOPE.scope(scope, work).await
}

pub fn deadline() -> Option<SystemTime> {
    SCOPE.try_with(|scope| scope.deadline).ok().flatten()
}

pub fn request_id() -> Option<String> {
    SCOPE.try_with(|scope| scope.request_id.clone()).ok().flatten()
}

/// `read` applied to the current trace, if there is one; borrows, so asking costs no copy.
pub(crate) fn with_trace<R>(read: impl FnOnce(&TraceHeader) -> R) -> Option<R> {
    SCOPE.try_with(|scope| scope.trace.as_ref().map(read)).ok().flatten()
}

pub fn record_rate(outcome: RateOutcome) {
    let _ = SCOPE.try_with(|scope| {
        if let Ok(mut rate) = scope.rate.lock() {
            *rate = Some(outcome);
        }
    });
}

pub fn record_cache(hit: bool) {
    let _ = SCOPE.try_with(|scope| {
        let counter = if hit { &scope.cache_hits } else { &scope.cache_misses };
        counter.fetch_add(1, Ordering::Relaxed)
    });
}
