//! The wrapper every route runs in: request id, one access log line, errors rendered as envelopes.

use std::future::Future;
use std::time::{Duration, Instant, UNIX_EPOCH};

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::HeaderValue;
use lambda_http::http::header::CACHE_CONTROL;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::{Instrument, field};

use super::error::ApiError;
use super::gate::Gate;
use super::gate::Route;
use super::response::Reply;
use crate::domain::Principal;
use crate::metrics;
use crate::scope::{self, Scope};
use crate::trace::TraceHeader;

/// Serves one request of `route`: admits it through the gate, runs `work` as the admitted caller,
/// and always produces an HTTP response; the Lambda runtime never sees an HTTP error as `Err`.
/// Adds the headers every response carries, logs one line, emits metrics.
pub async fn serve<F, Fut>(gate: &Gate, request: &Request, route: &Route, work: F) -> Response<Body>
where
    F: FnOnce(Principal) -> Fut,
    Fut: Future<Output = Result<Reply, ApiError>>,
{
    let route_key = route.key;
    let started = Instant::now();
    let cold_start = metrics::take_cold_start();
    let request_id = request_id(request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        apigw_request_id = field::Empty,
        trace_id = field::Empty,
        route = route_key,
        method = %request.method(),
        user_id = field::Empty,
        cold_start,
    );
    if let Some(apigw_id) = gateway_context(request).and_then(|ctx| ctx.request_id.as_deref()) {
        span.record("apigw_request_id", apigw_id);
    }
    let trace = trace_header(request);
    if let Some(trace) = &trace {
        span.record("trace_id", trace.root());
    }
    let deadline = request.lambda_context_ref().map(|context| UNIX_EPOCH + Duration::from_millis(context.deadline));
    let scope = Scope::traced(deadline, Some(request_id.clone()), trace);
    async move {
        // Boxed: a route's state machine is large (debug builds especially); keep it off the stack.
        let outcome = scope::within(scope.clone(), Box::pin(gate.admit(request, route, work))).await;
        let throttled = matches!(outcome, Err(ApiError::TooManyRequests { .. }));
        let mut response = match outcome {
            Ok(reply) => reply.into_response(),
            Err(error) => {
                log_error(&error);
                error.into_response(&request_id)
            }
        };
        let headers = response.headers_mut();
        if let Ok(value) = HeaderValue::try_from(request_id.as_str()) {
            headers.insert("x-request-id", value);
        }
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
        if let Some(rate) = scope.rate() {
            headers.insert("ratelimit-limit", HeaderValue::from(rate.limit));
            headers.insert("ratelimit-remaining", HeaderValue::from(rate.remaining));
            headers.insert("ratelimit-reset", HeaderValue::from(rate.reset_seconds));
        }
        gate.cors.apply(request.headers(), headers);
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = response.status().as_u16();
        tracing::info!(status, latency_ms, "request completed");
        let (cache_hits, cache_misses) = scope.cache_counts();
        metrics::emit_request(&metrics::RequestMetrics {
            route: route_key,
            status,
            latency_ms,
            cold_start,
            throttled,
            cache_hits,
            cache_misses,
        });
        response
    }
    .instrument(span)
    .await
}

/// The X-Ray trace: from the Lambda context when running under Lambda, else the request's
/// `x-amzn-trace-id` header (local runs, tests). A malformed one is ignored, not logged.
fn trace_header(request: &Request) -> Option<TraceHeader> {
    request
        .lambda_context_ref()
        .and_then(|context| context.xray_trace_id.as_deref())
        .or_else(|| request.headers().get("x-amzn-trace-id").and_then(|v| v.to_str().ok()))
        .and_then(TraceHeader::parse)
}

fn log_error(error: &ApiError) {
    if error.status().is_server_error() {
        tracing::error!(error = %crate::error::error_chain(error), code = error.code(), "request failed");
    } else {
        tracing::debug!(reason = %error, code = error.code(), "request rejected");
    }
}

fn gateway_context(request: &Request) -> Option<&ApiGatewayV2httpRequestContext> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => Some(context),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The Lambda invocation id when running under the runtime, else the gateway's request id.
fn request_id(request: &Request) -> String {
    request
        .lambda_context_ref()
        .map(|context| context.request_id.clone())
        .filter(|id| !id.is_empty())
        .or_else(|| gateway_context(request).and_then(|ctx| ctx.request_id.clone()))
        .unwrap_or_else(|| "unknown".to_owned())
}
