//! The index worker's SQS batch handler: every message processed concurrently, and only the
//! failed ones reported back (`ReportBatchItemFailures`), so one bad message does not re-run the
//! others; a message that keeps failing reaches the dead-letter queue after `maxReceiveCount`.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures_util::future::join_all;

use crate::domain::{IndexJob, Timestamp};
use crate::error::BoxError;
use crate::service::IndexerOverDynamo;

/// What the index worker works with.
pub struct IndexWorker {
    pub indexer: IndexerOverDynamo,
    pub clock: fn() -> Timestamp,
}

pub async fn handle_batch(worker: &IndexWorker, event: SqsEvent) -> SqsBatchResponse {
    let cold_start = crate::metrics::take_cold_start();
    let outcomes = join_all(event.records.iter().map(|message| process(worker, message))).await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        let id = message.message_id.clone().unwrap_or_default();
        match outcome {
            Ok(job) => tracing::info!(message_id = %id, item_id = %job.item_id, version = job.version, "indexed"),
            Err(error) => {
                let reason = crate::error::error_chain(error.as_ref());
                tracing::error!(message_id = %id, %reason, "index job failed; SQS will redeliver it");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
    }
    let failed = response.batch_item_failures.len();
    crate::metrics::emit_index_jobs(event.records.len() - failed, failed, cold_start);
    response
}

async fn process(worker: &IndexWorker, message: &SqsMessage) -> Result<IndexJob, BoxError> {
    let body = message.body.as_deref().ok_or("message has no body")?;
    let job: IndexJob = serde_json::from_str(body)?;
    worker.indexer.process(&job, (worker.clock)()).await?;
    Ok(job)
}
