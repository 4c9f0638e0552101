//! `POST /api/admin/reindex`: admin: re-enqueues every item whose search index is stale.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{search, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "POST /api/admin/reindex", search::reindex(app, &request)).await
}
