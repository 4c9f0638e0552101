//! `PATCH /api/items/{id}`: changes only the fields sent; If-Match guards against lost updates.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::update_item).await
}
