//! An AWS SDK interceptor that records each DynamoDB or SQS call of a sampled invocation as an
//! X-Ray subsegment. Unsampled, it does one task-local lookup per call and nothing else.

use std::time::SystemTime;

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::client::interceptors::context::Input;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use aws_types::region::Region;

use super::exporter::Exporter;
use super::segment::{AwsCall, Http, HttpResponse as SegmentResponse, Subsegment, epoch_seconds, new_id};
use crate::error::BoxError;

/// Error codes AWS answers throttled requests with (DynamoDB and SQS send 400, not 429).
const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "TooManyRequestsException",
];

#[derive(Debug)]
pub(crate) struct XRayInterceptor {
    exporter: Exporter,
}

impl XRayInterceptor {
    pub fn new(exporter: Exporter) -> Self {
        Self { exporter }
    }
}

/// A call of a sampled trace, from its start to its end (all attempts).
#[derive(Debug)]
struct Started {
    trace_id: String,
    parent_id: String,
    resource: Resource,
    at: SystemTime,
}

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// The table or queue a call is about, where the input names it.
#[derive(Debug, Default)]
enum Resource {
    #[default]
    Unknown,
    Table(String),
    Tables(Vec<String>),
    Queue(String),
}

impl Intercept for XRayInterceptor {
    fn name(&self) -> &'static str {
        "XRay"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let sampled = crate::scope::with_trace(|trace| {
            trace.parent().filter(|_| trace.sampled()).map(|parent| (trace.root().to_owned(), parent.to_owned()))
        });
        if let Some((trace_id, parent_id)) = sampled.flatten() {
            let resource = resource(context.input());
            cfg.interceptor_state().store_put(Started { trace_id, parent_id, resource, at: SystemTime::now() });
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(started) = cfg.load::<Started>() {
            let failed = context.output_or_error().is_some_and(|outcome| outcome.is_err());
            let Some(segment) = finish(started, context.response(), failed, cfg) else { return Ok(()) };
            self.exporter.export(&segment);
        }
        Ok(())
    }
}

/// The subsegment of a finished call; `None` only if no id could be drawn.
fn finish<'a>(
    started: &'a Started,
    response: Option<&'a HttpResponse>,
    failed: bool,
    cfg: &'a ConfigBag,
) -> Option<Subsegment<'a>> {
    let metadata = cfg.load::<Metadata>();
    let status = response.map(|response| response.status().as_u16());
    let throttle = status == Some(429) || response.and_then(error_code).is_some_and(is_throttling);
    let mut aws = AwsCall {
        operation: metadata.map_or("unknown", Metadata::name),
        region: cfg.load::<Region>().map(Region::as_ref),
        request_id: response.and_then(|response| response.headers().get("x-amzn-requestid")),
        retries: cfg.load::<RequestAttempts>().map_or(0, |attempts| attempts.attempts().saturating_sub(1)),
        ..AwsCall::default()
    };
    match &started.resource {
        Resource::Table(table) => aws.table_name = Some(table),
        Resource::Tables(tables) => aws.table_names = Some(tables),
        Resource::Queue(url) => aws.queue_url = Some(url),
        Resource::Unknown => {}
    }
    Some(Subsegment {
        name: metadata.map_or("AWS", Metadata::service),
        id: new_id()?,
        trace_id: &started.trace_id,
        parent_id: &started.parent_id,
        start_time: epoch_seconds(started.at),
        end_time: epoch_seconds(SystemTime::now()),
        kind: "subsegment",
        namespace: "aws",
        aws,
        http: status.map(|status| Http { response: SegmentResponse { status } }),
        error: throttle || status.is_some_and(|status| (400..500).contains(&status)),
        throttle,
        fault: status.is_some_and(|status| status >= 500) || (failed && status.is_none()),
    })
}

/// The error code of a failed answer, read as the SDK reads it: the `x-amzn-errortype` header,
/// else the body's `__type` or `code`, without its namespace (`…#Code`) or suffix (`Code:…`).
fn error_code(response: &HttpResponse) -> Option<&str> {
    if response.status().as_u16() < 400 {
        return None;
    }
    let code = match response.headers().get("x-amzn-errortype") {
        Some(code) => code,
        None => body_code(response.body().bytes()?)?,
    };
    let code = code.split(':').next().unwrap_or(code);
    Some(code.rsplit('#').next().unwrap_or(code))
}

fn body_code(body: &[u8]) -> Option<&str> {
    #[derive(serde::Deserialize)]
    struct ErrorBody<'a> {
        #[serde(rename = "__type", borrow)]
        kind: Option<&'a str>,
        #[serde(borrow)]
        code: Option<&'a str>,
    }
    let parsed: ErrorBody<'_> = serde_json::from_slice(body).ok()?;
    parsed.kind.or(parsed.code)
}

fn is_throttling(code: &str) -> bool {
    THROTTLING_CODES.iter().any(|throttling| code.ends_with(throttling))
}

/// The table or queue of the operations this code calls; others are recorded without one.
fn resource(input: &Input) -> Resource {
    use aws_sdk_dynamodb::operation as dynamodb;
    use aws_sdk_sqs::operation as sqs;
    let table = |name: Option<&str>| name.map_or(Resource::Unknown, |name| Resource::Table(name.to_owned()));
    if let Some(input) = input.downcast_ref::<dynamodb::get_item::GetItemInput>() {
        table(input.table_name())
    } else if let Some(input) = input.downcast_ref::<dynamodb::put_item::PutItemInput>() {
        table(input.table_name())
    } else if let Some(input) = input.downcast_ref::<dynamodb::update_item::UpdateItemInput>() {
        table(input.table_name())
    } else if let Some(input) = input.downcast_ref::<dynamodb::delete_item::DeleteItemInput>() {
        table(input.table_name())
    } else if let Some(input) = input.downcast_ref::<dynamodb::query::QueryInput>() {
        table(input.table_name())
    } else if let Some(input) = input.downcast_ref::<dynamodb::batch_get_item::BatchGetItemInput>() {
        Resource::Tables(input.request_items().map(|items| items.keys().cloned().collect()).unwrap_or_default())
    } else if let Some(input) = input.downcast_ref::<sqs::send_message::SendMessageInput>() {
        input.queue_url().map_or(Resource::Unknown, |url| Resource::Queue(url.to_owned()))
    } else if let Some(input) = input.downcast_ref::<sqs::send_message_batch::SendMessageBatchInput>() {
        input.queue_url().map_or(Resource::Unknown, |url| Resource::Queue(url.to_owned()))
    } else {
        Resource::Unknown
    }
}

#[cfg(test)]
mod tests {
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    fn answer(status: u16, header: Option<&str>, body: &str) -> HttpResponse {
        let mut response = HttpResponse::new(StatusCode::try_from(status).expect("status"), SdkBody::from(body));
        if let Some(code) = header {
            response.headers_mut().insert("x-amzn-errortype", code.to_owned());
        }
        response
    }

    #[test]
    fn reads_the_error_code_as_the_sdk_does() {
        let dynamo = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
        assert_eq!(error_code(&answer(400, None, dynamo)), Some("ProvisionedThroughputExceededException"));
        assert_eq!(
            error_code(&answer(400, Some("ThrottlingException:http://internal"), "{}")),
            Some("ThrottlingException")
        );
        assert_eq!(error_code(&answer(400, None, r#"{"code":"RequestThrottled"}"#)), Some("RequestThrottled"));
        assert_eq!(error_code(&answer(200, None, dynamo)), None, "a success has no error code");
        assert_eq!(error_code(&answer(500, None, "<html>")), None);
    }

    #[test]
    fn knows_throttling_from_other_client_errors() {
        assert!(is_throttling("ProvisionedThroughputExceededException"));
        assert!(is_throttling("ThrottlingException"));
        assert!(!is_throttling("ConditionalCheckFailedException"));
        assert!(!is_throttling("ValidationException"));
    }
}
