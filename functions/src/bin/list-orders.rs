//! `GET /api/orders`: the caller's orders, newest first, with a cursor to the next page.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::orders_api, shared::http::route::list_orders).await
}
