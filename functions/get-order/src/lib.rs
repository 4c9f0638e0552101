//! `GET /api/orders/{id}`: one order with its lines and item summaries (two DynamoDB calls).

use lambda_http::{Body, Request, Response};
use shared::http::route::GET_ORDER;
use shared::http::{Gate, OrdersApi, orders, serve};

pub async fn handle(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &GET_ORDER, |caller| orders::get(api, caller, &request)).await
}
