//! `GET /api/items/search` and the admin reindex route.

use lambda_http::Request;
use serde::Serialize;

use super::error::ApiError;
use super::request;
use super::response::Reply;
use crate::domain::Principal;
use crate::service::{IndexerOverDynamo, Search};

/// Most items a reindex call enqueues; call again for more.
const REINDEX_BATCH: usize = 1000;

/// What the search route works with: the embedder and the table's vector index; no state of its own.
pub struct SearchApi {
    pub search: Search,
}

/// What the admin routes work with.
pub struct AdminApi {
    pub indexer: IndexerOverDynamo,
}

/// `GET /api/items/search?q=...&limit=...&status=...`: best match first, each with its `score`.
pub async fn search(api: &SearchApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let query = request::search_query(req)?;
    Reply::ok(api.search.search(&caller, &query).await?)
}

#[derive(Serialize)]
struct Reindexed {
    enqueued: usize,
}

/// `POST /api/admin/reindex` (admin): re-enqueues every item still marked `index_pending`.
pub async fn reindex(api: &AdminApi, _caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    request::no_query(req)?;
    Reply::ok(Reindexed { enqueued: api.indexer.reconcile(REINDEX_BATCH).await? })
}
