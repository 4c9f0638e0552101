//! `POST /api/orders`: places an order in one DynamoDB transaction; honours Idempotency-Key.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::orders_api, shared::http::route::create_order).await
}
