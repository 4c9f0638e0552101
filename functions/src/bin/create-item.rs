//! `POST /api/items`: creates an item owned by the caller; 201 with Location and ETag.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::create_item).await
}
