//! Lambda entry point: wiring only; the behaviour lives in `shared`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::orders_api, cancel_order::handle).await
}
