//! The four order routes, each the work for a caller the gate has admitted.

use lambda_http::Request;
use lambda_http::http::header::LOCATION;

use super::cursor::CursorCodec;
use super::error::ApiError;
use super::idempotency::{Begun, IdempotencyStore};
use super::request;
use super::response::{PageInfo, Reply};
use crate::domain::{OrderRequest, Principal, Timestamp};
use crate::service::Orders;

/// What the order routes work with.
pub struct OrdersApi {
    pub orders: Orders,
    pub cursors: CursorCodec,
    pub idempotency: IdempotencyStore,
    pub clock: fn() -> Timestamp,
}

/// The namespace of order replays (see items.rs's `CREATE_REPLAYS`).
const ORDER_REPLAYS: &str = "POST /api/orders";

/// `POST /api/orders` (honours `Idempotency-Key`)
pub async fn create(api: &OrdersApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    request::no_query(req)?;
    let body = request::json_object(req)?;
    let order_request = OrderRequest::parse(&body).map_err(ApiError::Validation)?;
    let now = (api.clock)();
    let attempt = match api.idempotency.begin(req, &caller, ORDER_REPLAYS, &body, now).await? {
        Begun::Replay(reply) => return Ok(reply),
        Begun::Run(attempt) => attempt,
    };
    let placed = api.orders.prepare(&caller, order_request, now).await?;
    let reply = Reply::created(&placed)?.header(LOCATION, format!("/api/orders/{}", placed.order.id));
    let written = api.orders.place(&placed, attempt.record(&reply)?.as_ref()).await?;
    attempt.finish(written, reply)
}

/// `GET /api/orders/{id}`: the owner's or, for staff, anyone's; lines carry item summaries.
pub async fn get(api: &OrdersApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let id = request::order_id(req)?;
    request::no_query(req)?;
    Reply::ok(api.orders.get(&caller, id).await?)
}

/// `GET /api/orders`: the caller's orders, newest first.
pub async fn list(api: &OrdersApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let (limit, after) = request::order_page(req, &api.cursors)?;
    let page = api.orders.list(&caller, limit.get(), after).await?;
    let next_cursor = page.next.map(|position| api.cursors.encode_order(position.id));
    Reply::page(page.items, PageInfo { limit: limit.get(), next_cursor })
}

/// `POST /api/orders/{id}/cancel`: returns the stock once; a second cancel is a 409.
pub async fn cancel(api: &OrdersApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let id = request::order_id(req)?;
    request::no_query(req)?;
    Reply::ok(api.orders.cancel(&caller, id, (api.clock)()).await?)
}
