//! `POST /api/orders`: places an order in one DynamoDB transaction; honours Idempotency-Key.

// The route's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{orders, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "POST /api/orders", orders::create(app, &request)).await
}
