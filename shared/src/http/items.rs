//! The six item routes, from request to reply. Each function is one route's whole behaviour,
//! starting with the permission it needs.

use lambda_http::Request;
use lambda_http::http::header::{ETAG, LOCATION};

use super::request;
use super::response::{PageInfo, Reply};
use crate::app::App;
use serde::Serialize;

use crate::domain::{ItemChanges, ItemPatch, ItemView, OwnerId, Permission, Profile};
use crate::error::ApiError;
use crate::ratelimit::RouteGroup;
use crate::repository::ReplayRecord;

/// `GET /api/items` (`include=owner` embeds owner profiles with one `BatchGetItem` per page)
pub async fn list(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit_read(req, RouteGroup::Read, |caller| async move {
        let query = request::list_query(req, &app.cursors)?;
        let page = app.items.list(&caller, query.clone()).await?;
        let next_cursor = page.next.map(|position| app.cursors.encode(&query, position));
        let info = PageInfo { limit: query.limit.get(), next_cursor };
        if !query.include_owner {
            return Reply::page(page.items, info);
        }
        let owners: Vec<OwnerId> = page.items.iter().filter_map(|item| item.owner_id.clone()).collect();
        let profiles = app.profiles.by_id(&owners).await?;
        let items: Vec<ItemWithOwner> = page
            .items
            .into_iter()
            .map(|item| {
                let owner = item.owner_id.as_ref().and_then(|id| profiles.get(id).cloned());
                ItemWithOwner { item, owner }
            })
            .collect();
        Reply::page(items, info)
    })
    .await
}

#[derive(Serialize)]
struct ItemWithOwner {
    #[serde(flatten)]
    item: ItemView,
    owner: Option<Profile>,
}

/// `GET /api/items/{id}`
pub async fn get(app: &App, req: &Request) -> Result<Reply, ApiError> {
    app.admit_read(req, RouteGroup::Read, |caller| async move {
        let id = request::item_id(req)?;
        let fields = request::item_fields(req)?;
        let held = request::if_none_match(req)?;
        let (item, version) = app.items.get(&caller, id, fields).await?;
        if held.matches(version) {
            return Ok(Reply::not_modified().header(ETAG, version.etag()));
        }
        Ok(Reply::ok(item)?.header(ETAG, version.etag()))
    })
    .await
}

/// `POST /api/items` (honours `Idempotency-Key`)
pub async fn create(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Write).await?;
    request::no_query(req)?;
    let body = request::json_object(req)?;
    let content = ItemChanges::parse(&body).map_err(ApiError::Validation)?;
    let now = app.now();
    let prepare = || async {
        app.profiles.ensure(&caller).await?;
        let item = app.items.new_item(&caller, content, now);
        let reply = Reply::created(&item)?
            .header(LOCATION, format!("/api/items/{}", item.id))
            .header(ETAG, item.version.etag());
        Ok((item, reply))
    };
    let commit = |item, record: Option<ReplayRecord>| async move { app.items.create(&item, record.as_ref()).await };
    app.idempotency.run(req, &caller, "POST /api/items", &body, now, prepare, commit).await
}

/// `PUT /api/items/{id}`: full replacement of the client-owned fields.
pub async fn replace(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Write).await?;
    let id = request::item_id(req)?;
    request::no_query(req)?;
    let precondition = request::precondition(req)?;
    let content = ItemChanges::parse(&request::json_object(req)?).map_err(ApiError::Validation)?;
    let item = app.items.replace(&caller, id, &content, precondition, app.now()).await?;
    Ok(Reply::ok(&item)?.header(ETAG, item.version.etag()))
}

/// `PATCH /api/items/{id}`: only the fields sent change.
pub async fn update(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Write).await?;
    let id = request::item_id(req)?;
    request::no_query(req)?;
    let precondition = request::precondition(req)?;
    let patch = ItemPatch::parse(&request::json_object(req)?).map_err(ApiError::Validation)?;
    let item = app.items.update(&caller, id, &patch, precondition, app.now()).await?;
    Ok(Reply::ok(&item)?.header(ETAG, item.version.etag()))
}

/// `DELETE /api/items/{id}`
pub async fn delete(app: &App, req: &Request) -> Result<Reply, ApiError> {
    let caller = app.admit(req, Permission::Delete).await?;
    let id = request::item_id(req)?;
    request::no_query(req)?;
    let precondition = request::precondition(req)?;
    app.items.delete(&caller, id, precondition).await?;
    Ok(Reply::no_content())
}
