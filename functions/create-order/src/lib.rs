//! `POST /api/orders`: places an order in one DynamoDB transaction; honours Idempotency-Key.

use lambda_http::{Body, Request, Response};
use shared::http::route::PLACE_ORDER;
use shared::http::{Gate, OrdersApi, orders, serve};

pub async fn handle(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &PLACE_ORDER, |caller| orders::create(api, caller, &request)).await
}
