//! `DELETE /api/items/{id}`: deletes an item; If-Match guards against deleting a newer version.

use lambda_http::{Body, Request, Response};
use shared::http::route::DELETE_ITEM;
use shared::http::{Gate, ItemsApi, items, serve};

pub async fn handle(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &DELETE_ITEM, |caller| items::delete(api, caller, &request)).await
}
