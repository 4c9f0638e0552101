//! SQS-triggered index worker: embeds and stores each job's item, reporting partial batch failures.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::App;

pub async fn handle(event: SqsEvent, app: &App) -> SqsBatchResponse {
    shared::worker::handle_batch(app, event).await
}
