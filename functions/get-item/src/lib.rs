//! `GET /api/items/{id}`: one item (or only the requested fields), with its ETag.

use lambda_http::{Body, Request, Response};
use shared::http::route::GET_ITEM;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &GET_ITEM, |caller| items::get(api, caller, &request)).await
}
