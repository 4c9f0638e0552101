//! `PUT /api/items/{id}`: replaces every client-owned field; If-Match guards against lost updates.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "PUT /api/items/{id}", items::replace(app, &request)).await
}
