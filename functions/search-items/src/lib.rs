//! `GET /api/items/search`: semantic search over the items the caller may read, best match first.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{search, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "GET /api/items/search", search::search(app, &request)).await
}
