//! `GET /api/items`: one page of items, filtered and sorted, with a cursor to the next.

use lambda_http::{Body, Request, Response};
use shared::http::route::LIST_ITEMS;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &LIST_ITEMS, |caller| items::list(api, caller, &request)).await
}
