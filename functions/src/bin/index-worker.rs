//! SQS-triggered index worker: embeds and stores each job's item, reporting partial batch failures.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::run_index_worker().await
}
