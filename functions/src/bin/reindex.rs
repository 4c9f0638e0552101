//! `POST /api/admin/reindex`: admin: re-enqueues every item whose search index is stale.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(shared::app::admin_api, shared::http::route::reindex).await
}
