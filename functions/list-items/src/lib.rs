//! `GET /api/items`: one page of items, filtered and sorted, with a cursor to the next.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "GET /api/items", items::list(app, &request)).await
}
