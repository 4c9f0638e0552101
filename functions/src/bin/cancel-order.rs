//! `POST /api/orders/{id}/cancel`: cancels a placed order and returns its stock, exactly once.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::orders_api, shared::http::route::cancel_order).await
}
