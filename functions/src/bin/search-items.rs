//! `GET /api/items/search`: semantic search over the items the caller may read, best match first.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::search_api, shared::http::route::search_items).await
}
