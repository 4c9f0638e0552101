//! `GET /api/items`: one page of items, filtered and sorted, with a cursor to the next.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::list_items).await
}
