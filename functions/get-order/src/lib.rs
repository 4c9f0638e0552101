//! `GET /api/orders/{id}`: one order with its lines and item summaries (two DynamoDB calls).

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{orders, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "GET /api/orders/{id}", orders::get(app, &request)).await
}
