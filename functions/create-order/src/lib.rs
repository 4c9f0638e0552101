//! `POST /api/orders`: places an order in one DynamoDB transaction; honours Idempotency-Key.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{orders, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "POST /api/orders", orders::create(app, &request)).await
}
