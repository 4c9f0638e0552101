//! SQS-triggered index worker: embeds and stores each job's item, reporting partial batch failures.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use shared::App;

pub async fn handle(event: SqsEvent, app: &App) -> SqsBatchResponse {
    shared::worker::handle_batch(app, event).await
}
