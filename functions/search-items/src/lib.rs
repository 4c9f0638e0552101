//! `GET /api/items/search`: semantic search over the items the caller may read, best match first.

use lambda_http::{Body, Request, Response};
use shared::http::route::SEARCH_ITEMS;
use shared::http::{Gate, SearchApi, search, serve};

pub async fn handle(request: Request, gate: &Gate, api: &SearchApi) -> Response<Body> {
    serve(gate, &request, &SEARCH_ITEMS, |caller| search::search(api, caller, &request)).await
}
