//! The four order routes.

use lambda_http::Request;
use lambda_http::http::header::LOCATION;

use super::request;
use super::response::{PageInfo, Reply};
use crate::app::App;
use crate::domain::{OrderRequest, Permission};
use crate::error::ApiError;
use crate::ratelimit::RouteGroup;
use crate::repository::ReplayRecord;

/// `POST /api/orders` (honours `Idempotency-Key`)
pub async fn create(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Write).await?;
    request::no_query(req)?;
    let body = request::json_object(req)?;
    let order_request = OrderRequest::parse(&body).map_err(ApiError::Validation)?;
    let now = app.now();
    let prepare = || async {
        let placed = app.orders.prepare(&caller, order_request, now).await?;
        let reply = Reply::created(&placed)?.header(LOCATION, format!("/api/orders/{}", placed.order.id));
        Ok((placed, reply))
    };
    let commit = |placed, record: Option<ReplayRecord>| async move { app.orders.place(&placed, record.as_ref()).await };
    app.idempotency.run(req, &caller, "POST /api/orders", &body, now, prepare, commit).await
}

/// `GET /api/orders/{id}`: the owner's or, for staff, anyone's; lines carry item summaries.
pub async fn get(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit_read(req, RouteGroup::Read, |caller| async move {
        let id = request::order_id(req)?;
        request::no_query(req)?;
        Reply::ok(app.orders.get(&caller, id).await?)
    })
    .await
}

/// `GET /api/orders`: the caller's orders, newest first.
pub async fn list(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit_read(req, RouteGroup::Read, |caller| async move {
        let (limit, after) = request::order_page(req, &app.cursors)?;
        let page = app.orders.list(&caller, limit.get(), after).await?;
        let next_cursor = page.next.map(|position| app.cursors.encode_order(position.id));
        Reply::page(page.items, PageInfo { limit: limit.get(), next_cursor })
    })
    .await
}

/// `POST /api/orders/{id}/cancel`: returns the stock once; a second cancel is a 409.
pub async fn cancel(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Write).await?;
    let id = request::order_id(req)?;
    request::no_query(req)?;
    Reply::ok(app.orders.cancel(&caller, id, app.now()).await?)
}
