//! `GET /api/items/search`: semantic search over the items the caller may read, best match first.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{search, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "GET /api/items/search", search::search(app, &request)).await
}
