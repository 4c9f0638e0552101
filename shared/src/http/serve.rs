//! The wrapper every route runs in: request id, one access log line, errors rendered as envelopes.

use std::future::Future;
use std::time::Instant;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use lambda_http::http::HeaderValue;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use tracing::{Instrument, field};

use super::response::Reply;
use crate::error::ApiError;

/// Runs one route's work and always produces an HTTP response; the Lambda runtime never sees an
/// HTTP error as `Err`.
pub async fn serve<F>(request: &Request, route: &'static str, work: F) -> Response<Body>
where
    F: Future<Output = Result<Reply, ApiError>>,
{
    let started = Instant::now();
    let request_id = request_id(request);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        apigw_request_id = field::Empty,
        route,
        method = %request.method(),
        user_id = field::Empty,
    );
    if let Some(apigw_id) = gateway_context(request).and_then(|ctx| ctx.request_id.as_deref()) {
        span.record("apigw_request_id", apigw_id);
    }
    async move {
        let mut response = match work.await {
            Ok(reply) => reply.into_response(),
            Err(error) => {
                log_error(&error);
                error.into_response(&request_id)
            }
        };
        if let Ok(value) = HeaderValue::try_from(request_id.as_str()) {
            response.headers_mut().insert("x-request-id", value);
        }
        tracing::info!(
            status = response.status().as_u16(),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request completed"
        );
        response
    }
    .instrument(span)
    .await
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
