//! `POST /api/admin/reindex`: admin: re-enqueues every item whose search index is stale.

use lambda_http::{Body, Request, Response};
use shared::http::route::REINDEX;
use shared::http::{AdminApi, Gate, search, serve};

pub async fn handle(request: Request, gate: &Gate, api: &AdminApi) -> Response<Body> {
    serve(gate, &request, &REINDEX, |caller| search::reindex(api, caller, &request)).await
}
