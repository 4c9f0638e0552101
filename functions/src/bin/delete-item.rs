//! `DELETE /api/items/{id}`: deletes an item; If-Match guards against deleting a newer version.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::items_api, shared::http::route::delete_item).await
}
