//! Every API route, declared once: its key (as API Gateway names it), the permission it needs,
//! the rate-limit group it is counted in, and whether it only reads. `serve` admits a request by
//! this declaration; `tests/api/contract.rs` holds the list against `template.yaml`, `openapi.yaml`
//! and the local router.

use crate::domain::{Permission, RouteGroup};

/// How admission treats the route's work: a read changes nothing, so it may run while the rate
/// limiter counts it; a write waits for the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug)]
pub struct Route {
    pub key: &'static str,
    pub permission: Permission,
    pub group: RouteGroup,
    pub access: Access,
}

const fn route(key: &'static str, permission: Permission, group: RouteGroup, access: Access) -> Route {
    Route { key, permission, group, access }
}

use Access::{Read, Write};
use Permission as P;
use RouteGroup as G;

pub const LIST_ITEMS: Route = route("GET /api/items", P::Read, G::Read, Read);
pub const GET_ITEM: Route = route("GET /api/items/{id}", P::Read, G::Read, Read);
pub const CREATE_ITEM: Route = route("POST /api/items", P::Write, G::Write, Write);
pub const REPLACE_ITEM: Route = route("PUT /api/items/{id}", P::Write, G::Write, Write);
pub const UPDATE_ITEM: Route = route("PATCH /api/items/{id}", P::Write, G::Write, Write);
pub const DELETE_ITEM: Route = route("DELETE /api/items/{id}", P::Delete, G::Write, Write);
pub const SEARCH_ITEMS: Route = route("GET /api/items/search", P::Read, G::Search, Read);
pub const PLACE_ORDER: Route = route("POST /api/orders", P::Write, G::Write, Write);
pub const LIST_ORDERS: Route = route("GET /api/orders", P::Read, G::Read, Read);
pub const GET_ORDER: Route = route("GET /api/orders/{id}", P::Read, G::Read, Read);
pub const CANCEL_ORDER: Route = route("POST /api/orders/{id}/cancel", P::Write, G::Write, Write);
pub const REINDEX: Route = route("POST /api/admin/reindex", P::Admin, G::Admin, Write);

/// All of them, for checks that every route is deployed, documented and served.
pub const ROUTES: [&Route; 12] = [
    &LIST_ITEMS,
    &GET_ITEM,
    &CREATE_ITEM,
    &REPLACE_ITEM,
    &UPDATE_ITEM,
    &DELETE_ITEM,
    &SEARCH_ITEMS,
    &PLACE_ORDER,
    &LIST_ORDERS,
    &GET_ORDER,
    &CANCEL_ORDER,
    &REINDEX,
];
