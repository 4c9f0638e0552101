//! `PATCH /api/items/{id}`: changes only the fields sent; If-Match guards against lost updates.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "PATCH /api/items/{id}", items::update(app, &request)).await
}
