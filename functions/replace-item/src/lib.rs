//! `PUT /api/items/{id}`: replaces every client-owned field; If-Match guards against lost updates.

use lambda_http::{Body, Request, Response};
use shared::http::route::REPLACE_ITEM;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &REPLACE_ITEM, |caller| items::replace(api, caller, &request)).await
}
