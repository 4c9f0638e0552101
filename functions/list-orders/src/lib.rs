//! `GET /api/orders`: the caller's orders, newest first, with a cursor to the next page.

use lambda_http::{Body, Request, Response};
use shared::App;
use shared::http::{orders, serve};

pub async fn handle(request: Request, app: &App) -> Response<Body> {
    serve(app, &request, "GET /api/orders", orders::list(app, &request)).await
}
