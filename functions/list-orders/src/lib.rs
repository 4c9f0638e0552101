//! `GET /api/orders`: the caller's orders, newest first, with a cursor to the next page.

use lambda_http::{Body, Request, Response};
use shared::http::route::LIST_ORDERS;
use shared::http::{Gate, OrdersApi, orders, serve};

pub async fn handle(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &LIST_ORDERS, |caller| orders::list(api, caller, &request)).await
}
