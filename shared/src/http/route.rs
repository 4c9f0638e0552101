//! Every API route, in one table: its function (the binary `functions/src/bin/<function>.rs`), its
//! key (as API Gateway names it), the permission it needs, the rate-limit group it is counted in,
//! whether it only reads, and the handler that function runs. `tests/api/contract.rs` holds the
//! table against `template.yaml`, `openapi.yaml` and the binaries; the local router is derived from
//! `template.yaml` (infra/router.py). Adding a route: README, "Adding a route".

use lambda_http::{Body, Request, Response};

use super::gate::{Access, Gate, Route, route};
use super::items::{self, ItemsApi};
use super::orders::{self, OrdersApi};
use super::search::{self, AdminApi, SearchApi};
use super::serve::serve;
use crate::domain::{Permission, RouteGroup};

use Access::{Read, Write};
use Permission as P;
use RouteGroup as G;

pub const LIST_ITEMS: Route = route("list-items", "GET /api/items", P::Read, G::Read, Read);
pub const GET_ITEM: Route = route("get-item", "GET /api/items/{id}", P::Read, G::Read, Read);
pub const CREATE_ITEM: Route = route("create-item", "POST /api/items", P::Write, G::Write, Write);
pub const REPLACE_ITEM: Route = route("replace-item", "PUT /api/items/{id}", P::Write, G::Write, Write);
pub const UPDATE_ITEM: Route = route("update-item", "PATCH /api/items/{id}", P::Write, G::Write, Write);
pub const DELETE_ITEM: Route = route("delete-item", "DELETE /api/items/{id}", P::Delete, G::Write, Write);
pub const SEARCH_ITEMS: Route = route("search-items", "GET /api/items/search", P::Read, G::Search, Read);
pub const CREATE_ORDER: Route = route("create-order", "POST /api/orders", P::Write, G::Write, Write);
pub const LIST_ORDERS: Route = route("list-orders", "GET /api/orders", P::Read, G::Read, Read);
pub const GET_ORDER: Route = route("get-order", "GET /api/orders/{id}", P::Read, G::Read, Read);
pub const CANCEL_ORDER: Route = route("cancel-order", "POST /api/orders/{id}/cancel", P::Write, G::Write, Write);
pub const REINDEX: Route = route("reindex", "POST /api/admin/reindex", P::Admin, G::Admin, Write);

/// All of them, for checks that every route is deployed, documented, built and dispatched.
pub const ROUTES: &[&Route] = &[
    &LIST_ITEMS,
    &GET_ITEM,
    &CREATE_ITEM,
    &REPLACE_ITEM,
    &UPDATE_ITEM,
    &DELETE_ITEM,
    &SEARCH_ITEMS,
    &CREATE_ORDER,
    &LIST_ORDERS,
    &GET_ORDER,
    &CANCEL_ORDER,
    &REINDEX,
];

// Each function's handler: admission by its route's declaration, then its body in `<area>.rs`.

pub async fn list_items(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &LIST_ITEMS, |caller| items::list(api, caller, &request)).await
}

pub async fn get_item(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &GET_ITEM, |caller| items::get(api, caller, &request)).await
}

pub async fn create_item(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &CREATE_ITEM, |caller| items::create(api, caller, &request)).await
}

pub async fn replace_item(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &REPLACE_ITEM, |caller| items::replace(api, caller, &request)).await
}

pub async fn update_item(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &UPDATE_ITEM, |caller| items::update(api, caller, &request)).await
}

pub async fn delete_item(request: Request, gate: &Gate, api: &ItemsApi) -> Response<Body> {
    serve(gate, &request, &DELETE_ITEM, |caller| items::delete(api, caller, &request)).await
}

pub async fn search_items(request: Request, gate: &Gate, api: &SearchApi) -> Response<Body> {
    serve(gate, &request, &SEARCH_ITEMS, |caller| search::search(api, caller, &request)).await
}

pub async fn create_order(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &CREATE_ORDER, |caller| orders::create(api, caller, &request)).await
}

pub async fn list_orders(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &LIST_ORDERS, |caller| orders::list(api, caller, &request)).await
}

pub async fn get_order(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &GET_ORDER, |caller| orders::get(api, caller, &request)).await
}

pub async fn cancel_order(request: Request, gate: &Gate, api: &OrdersApi) -> Response<Body> {
    serve(gate, &request, &CANCEL_ORDER, |caller| orders::cancel(api, caller, &request)).await
}

pub async fn reindex(request: Request, gate: &Gate, api: &AdminApi) -> Response<Body> {
    serve(gate, &request, &REINDEX, |caller| search::reindex(api, caller, &request)).await
}

/// Every route's parts at once, borrowed: what `dispatch` needs to stand in for all the functions.
pub struct Apis<'a> {
    pub gate: &'a Gate,
    pub items: &'a ItemsApi,
    pub orders: &'a OrdersApi,
    pub search: &'a SearchApi,
    pub admin: &'a AdminApi,
}

/// The handler of the function API Gateway would invoke for `route_key`, run on `request`; `None` for
/// a key no route has. The tests' (and any single-process host's) router: each deployed function
/// calls its own handler and links no other.
pub async fn dispatch(apis: Apis<'_>, route_key: &str, request: Request) -> Option<Response<Body>> {
    let Apis { gate, items, orders, search, admin } = apis;
    let route = ROUTES.iter().find(|route| route.key == route_key)?;
    Some(match route.function {
        "list-items" => list_items(request, gate, items).await,
        "get-item" => get_item(request, gate, items).await,
        "create-item" => create_item(request, gate, items).await,
        "replace-item" => replace_item(request, gate, items).await,
        "update-item" => update_item(request, gate, items).await,
        "delete-item" => delete_item(request, gate, items).await,
        "search-items" => search_items(request, gate, search).await,
        "create-order" => create_order(request, gate, orders).await,
        "list-orders" => list_orders(request, gate, orders).await,
        "get-order" => get_order(request, gate, orders).await,
        "cancel-order" => cancel_order(request, gate, orders).await,
        "reindex" => reindex(request, gate, admin).await,
        _ => return None,
    })
}
