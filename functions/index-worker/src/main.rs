//! Lambda entry point: wiring only; the behaviour lives in `shared`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::app::run_sqs(index_worker::handle).await
}
