//! `POST /api/items`: creates an item owned by the caller; 201 with Location and ETag.

use lambda_http::{Body, Request, Response};
use shared::http::route::CREATE_ITEM;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &CREATE_ITEM, |caller| items::create(api, caller, &request)).await
}
