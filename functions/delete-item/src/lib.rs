//! `DELETE /api/items/{id}`: deletes an item; If-Match guards against deleting a newer version.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "DELETE /api/items/{id}", items::delete(app, &request)).await
}
