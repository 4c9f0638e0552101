//! `PUT /api/items/{id}`: replaces every client-owned field; If-Match guards against lost updates.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::replace_item).await
}
