//! `GET /api/items/{id}`: one item (or only the requested fields), with its ETag.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::get_item).await
}
