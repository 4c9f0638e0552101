//! `POST /api/orders/{id}/cancel`: cancels a placed order and returns its stock, exactly once.

use lambda_http::{Body, Request, Response};
use shared::http::route::CANCEL_ORDER;
use shared::http::{Gate, OrdersApi, orders, serve};

pub async fn handle(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &CANCEL_ORDER, |caller| orders::cancel(api, caller, &request)).await
}
