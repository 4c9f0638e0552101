//! SQS-triggered index worker: embeds and stores each job's item, reporting partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::worker::IndexWorker;

pub async fn handle(event: SqsEvent, worker: &IndexWorker) -> SqsBatchResponse {
    shared::worker::handle_batch(worker, event).await
}
