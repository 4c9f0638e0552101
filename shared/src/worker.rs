//! The index worker's SQS batch handler: every message processed concurrently, and only the
//! failed ones reported back (`ReportBatchItemFailures`), so one bad message does not re-run the
//! others; a message that keeps failing reaches the dead-letter queue after `maxReceiveCount`.
//! Each message is worked on in its own span and scope: its log lines name the job, the request
//! that caused it and its trace, and its AWS calls join that trace (the `AWSTraceHeader` the
//! sender set).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;
use tracing::{Instrument, Span, field};

use crate::domain::IndexJob;
use crate::error::BoxError;
use crate::scope::{self, Scope};
use crate::service::IndexerOverDynamo;
use crate::trace::TraceHeader;

/// The SQS system attribute that carries a message's X-Ray trace header.
const TRACE_ATTRIBUTE: &str = "AWSTraceHeader";

/// What the index worker works with.
pub struct IndexWorker {
    pub indexer: IndexerOverDynamo,
}

pub async fn handle_batch(worker: &IndexWorker, event: SqsEvent) -> SqsBatchResponse {
    let cold_start = crate::metrics::take_cold_start();
    let outcomes = join_all(event.records.iter().map(|message| process_traced(worker, message))).await;
    let mut response = SqsBatchResponse::default();
    for (message, indexed) in event.records.iter().zip(outcomes) {
        if !indexed {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message.message_id.clone().unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    let failed = response.batch_item_failures.len();
    crate::metrics::emit_index_jobs(event.records.len() - failed, failed, cold_start);
    response
}

/// Processes one message in its span and its trace's scope, logs the outcome, and says whether
/// it was indexed.
async fn process_traced(worker: &IndexWorker, message: &SqsMessage) -> bool {
    // The message's own trace, else the invocation's (a job sent outside a traced request).
    let trace = message_trace(message).or_else(|| scope::with_trace(TraceHeader::clone));
    let span = tracing::info_span!(
        "index_job",
        message_id = message.message_id.as_deref().unwrap_or_default(),
        item_id = field::Empty,
        version = field::Empty,
        op = field::Empty,
        request_id = field::Empty,
        trace_id = field::Empty,
    );
    if let Some(trace) = &trace {
        span.record("trace_id", trace.root());
    }
    let scope = Scope::traced(scope::deadline(), scope::request_id(), trace);
    let work = async {
        match process(worker, message).await {
            Ok(()) => {
                tracing::info!("indexed");
                true
            }
            Err(error) => {
                let reason = crate::error::error_chain(error.as_ref());
                tracing::error!(%reason, "index job failed; SQS will redeliver it");
                false
            }
        }
    };
    scope::within(scope, work.instrument(span)).await
}

fn message_trace(message: &SqsMessage) -> Option<TraceHeader> {
    message.attributes.get(TRACE_ATTRIBUTE).and_then(|header| TraceHeader::parse(header))
}

async fn process(worker: &IndexWorker, message: &SqsMessage) -> Result<(), BoxError> {
    let body = message.body.as_deref().ok_or("message has no body")?;
    let job: IndexJob = serde_json::from_str(body)?;
    record_job(&Span::current(), &job);
    worker.indexer.process(&job).await?;
    Ok(())
}

fn record_job(span: &Span, job: &IndexJob) {
    span.record("item_id", field::display(job.item_id));
    span.record("version", job.version);
    span.record("op", job.op.as_str());
    if let Some(request_id) = &job.request_id {
        span.record("request_id", request_id.as_str());
    }
}
