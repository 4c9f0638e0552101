//! `POST /api/items`: creates an item owned by the caller; 201 with Location and ETag.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "POST /api/items", items::create(app, &request)).await
}
