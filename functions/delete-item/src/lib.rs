//! `DELETE /api/items/{id}`: deletes an item; If-Match guards against deleting a newer version.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{items, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "DELETE /api/items/{id}", items::delete(app, &request)).await
}
