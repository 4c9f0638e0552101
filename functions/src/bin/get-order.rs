//! `GET /api/orders/{id}`: one order with its lines and item summaries (two DynamoDB calls).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::orders_api, shared::http::route::get_order).await
}
