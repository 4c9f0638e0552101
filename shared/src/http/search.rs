//! `GET /api/items/search` and the admin reindex route.

use lambda_http::Request;
use serde::Serialize;

use super::request;
use super::response::Reply;
use crate::app::App;
use crate::domain::Permission;
use crate::error::ApiError;
use crate::ratelimit::RouteGroup;

/// Most items a reindex call enqueues; call again for more.
const REINDEX_BATCH: usize = 1000;

/// `GET /api/items/search?q=...&limit=...&status=...`: best match first, each with its `score`.
pub async fn search(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit_read(req, RouteGroup::Search, |caller| async move {
        let query = request::search_query(req)?;
        Reply::ok(app.search.search(&caller, &query).await?)
    })
    .await
}

#[derive(Serialize)]
struct Reindexed {
    enqueued: usize,
}

/// `POST /api/admin/reindex` (admin): re-enqueues every item still marked `index_pending`.
pub async fn reindex(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit(req, Permission::Admin).await?;
    request::no_query(req)?;
    Reply::ok(Reindexed { enqueued: app.indexer.reconcile(REINDEX_BATCH).await? })
}
