//! The six item routes, from request to reply: each function is one route's work for a caller
//! the gate has already admitted (see `route.rs` for what each route requires).

use lambda_http::Request;
use lambda_http::http::header::{ETAG, LOCATION};
use serde::Serialize;
use serde_json::{Map, Value};

use super::cursor::CursorCodec;
use super::idempotency::{Begun, IdempotencyStore};
use super::request;
use super::response::{PageInfo, Reply};

use super::error::ApiError;
use crate::domain::{FieldError, ItemChanges, ItemPatch, ItemView, ItemWrite, OwnerId, Principal, Profile, Timestamp};
use crate::service::{ApiItemRepository, ItemService, ProfileService};

/// The namespace of create replays: an `Idempotency-Key` is the caller's per route. Fixed here rather
/// than read from the route table, so renaming the route cannot orphan the replays already stored.
const CREATE_REPLAYS: &str = "POST /api/items";

/// What the item routes work with.
pub struct ItemsApi {
    pub items: ItemService<ApiItemRepository>,
    pub profiles: ProfileService,
    pub cursors: CursorCodec,
    pub idempotency: IdempotencyStore,
    pub clock: fn() -> Timestamp,
}

/// `GET /api/items` (`include=owner` embeds owner profiles with one `BatchGetItem` per page)
pub async fn list(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let query = request::list_query(req, &api.cursors)?;
    let page = api.items.list(&caller, query.clone()).await?;
    let next_cursor = page.next.map(|position| api.cursors.encode(&query, position));
    let info = PageInfo { limit: query.limit.get(), next_cursor };
    if !query.include_owner {
        return Reply::page(page.items, info);
    }
    let owners: Vec<OwnerId> = page.items.iter().filter_map(|item| item.owner_id.clone()).collect();
    let profiles = api.profiles.by_id(&owners).await?;
    let items: Vec<ItemWithOwner> = page
        .items
        .into_iter()
        .map(|item| {
            let owner = item.owner_id.as_ref().and_then(|id| profiles.get(id).cloned());
            ItemWithOwner { item, owner }
        })
        .collect();
    Reply::page(items, info)
}

#[derive(Serialize)]
struct ItemWithOwner {
    #[serde(flatten)]
    item: ItemView,
    owner: Option<Profile>,
}

/// `GET /api/items/{id}`
pub async fn get(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let id = request::item_id(req)?;
    let fields = request::item_fields(req)?;
    let held = request::if_none_match(req)?;
    let (item, version) = api.items.get(&caller, id, fields).await?;
    if held.matches(version) {
        return Ok(Reply::not_modified().header(ETAG, version.etag()));
    }
    Ok(Reply::ok(item)?.header(ETAG, version.etag()))
}

/// `POST /api/items` (honours `Idempotency-Key`)
pub async fn create(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    request::no_query(req)?;
    let body = request::json_object(req)?;
    let content = ItemChanges::parse(&body).map_err(ApiError::Validation)?;
    let now = (api.clock)();
    let attempt = match api.idempotency.begin(req, &caller, CREATE_REPLAYS, &body, now).await? {
        Begun::Replay(reply) => return Ok(reply),
        Begun::Run(attempt) => attempt,
    };
    api.profiles.ensure(&caller).await?;
    let item = api.items.new_item(&caller, content, now);
    let reply =
        Reply::created(&item)?.header(LOCATION, format!("/api/items/{}", item.id)).header(ETAG, item.version.etag());
    let written = api.items.create(&item, attempt.record(&reply)?.as_ref()).await?;
    attempt.finish(written, reply)
}

/// `PUT /api/items/{id}`: every client-owned field replaced.
pub async fn replace(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    write(api, caller, req, |body| ItemChanges::parse(body).map(ItemWrite::Replace)).await
}

/// `PATCH /api/items/{id}`: only the fields sent change.
pub async fn update(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    write(api, caller, req, |body| ItemPatch::parse(body).map(ItemWrite::Patch)).await
}

/// Reads a PUT or PATCH body as the change it asks for.
type ParseWrite = fn(&Map<String, Value>) -> Result<ItemWrite, Vec<FieldError>>;

/// PUT and PATCH: one path from the request's id, `If-Match` and body to the reply with its ETag.
async fn write(api: &ItemsApi, caller: Principal, req: &Request, parse: ParseWrite) -> Result<Reply, ApiError> {
    let id = request::item_id(req)?;
    request::no_query(req)?;
    let precondition = request::precondition(req)?;
    let change = parse(&request::json_object(req)?).map_err(ApiError::Validation)?;
    let item = api.items.write(&caller, id, &change, precondition, (api.clock)()).await?;
    Ok(Reply::ok(&item)?.header(ETAG, item.version.etag()))
}

/// `DELETE /api/items/{id}`
pub async fn delete(api: &ItemsApi, caller: Principal, req: &Request) -> Result<Reply, ApiError> {
    let id = request::item_id(req)?;
    request::no_query(req)?;
    let precondition = request::precondition(req)?;
    api.items.delete(&caller, id, precondition).await?;
    Ok(Reply::no_content())
}
