//! `PATCH /api/items/{id}`: changes only the fields sent; If-Match guards against lost updates.

use lambda_http::{Body, Request, Response};
use shared::http::route::UPDATE_ITEM;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &UPDATE_ITEM, |caller| items::update(api, caller, &request)).await
}
