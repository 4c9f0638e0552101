//! `PATCH /api/items/{id}`: changes only the fields sent; If-Match guards against lost updates.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "PATCH /api/items/{id}", items::update(app, &request)).await
}
