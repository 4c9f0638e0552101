//! Order use cases: placing (prices from the store, never the client), reading with item
//! summaries, listing the caller's orders, and cancelling once.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use serde::Serialize;

use super::error::ServiceError;
use crate::cache::{Cache, ItemCache, cache_key, fenced};
use crate::domain::{
    FieldError, FieldSet, ItemField, ItemId, ItemView, LineProblem, MAX_SAFE_INTEGER, Money, Order, OrderDetail,
    OrderId, OrderLine, OrderRequest, OrderStatus, Page, Principal, ReplayRecord, Timestamp, Written,
};
use crate::repository::{CancelError, DynamoOrderRepository, ItemRepository, PlaceError};

pub struct OrderService<R> {
    orders: DynamoOrderRepository,
    items: R,
    /// Orders change items' stock: their cached copies are fenced around each placement or cancel.
    item_cache: Arc<ItemCache>,
}

/// An order line with a summary of its item as it is now (`null` once the item is gone or hidden).
#[derive(Serialize)]
pub struct LineWithItem {
    #[serde(flatten)]
    pub line: OrderLine,
    pub item: Option<ItemView>,
}

#[derive(Serialize)]
pub struct OrderWithItems {
    #[serde(flatten)]
    pub order: Order,
    pub lines: Vec<LineWithItem>,
}

impl<R: ItemRepository> OrderService<R> {
    pub fn new(orders: DynamoOrderRepository, items: R, item_cache: Arc<ItemCache>) -> Self {
        Self { orders, items, item_cache }
    }

    /// Runs a write that changes these lines' items between fences of their cached copies.
    async fn fenced<T>(
        &self,
        lines: &[OrderLine],
        write: impl Future<Output = Result<T, ServiceError>>,
    ) -> Result<T, ServiceError> {
        let keys: Vec<String> = lines.iter().map(|line| cache_key(line.item_id)).collect();
        fenced(&self.item_cache, &keys, write).await
    }

    /// The order `request` would place, priced from the store (never the client); nothing is
    /// written yet. 409 naming each line whose item the caller cannot see.
    pub(crate) async fn prepare(
        &self,
        caller: &Principal,
        request: OrderRequest,
        now: Timestamp,
    ) -> Result<OrderDetail, ServiceError> {
        let ids: Vec<ItemId> = request.lines.iter().map(|line| line.item_id).collect();
        let wanted = FieldSet::of(&[
            ItemField::Id,
            ItemField::Price,
            ItemField::Status,
            ItemField::OwnerId,
            ItemField::StockBuckets,
        ]);
        let items: HashMap<ItemId, ItemView> =
            self.items.get_many(&ids, wanted).await?.into_iter().filter_map(|v| Some((v.id?, v))).collect();

        let mut lines = Vec::with_capacity(request.lines.len());
        let mut missing = Vec::new();
        let mut total: u64 = 0;
        for (index, requested) in request.lines.iter().enumerate() {
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            // Another user's draft is as invisible here as everywhere else.
            let priced =
                items.get(&requested.item_id).and_then(|view| match (view.price, view.status, &view.owner_id) {
                    (Some(price), Some(status), Some(owner)) if caller.can_see(status, owner) => {
                        Some((price, view.stock_buckets.unwrap_or_default()))
                    }
                    _ => None,
                });
            let Some((unit_price, stock_buckets)) = priced else {
                missing.push((number, LineProblem::NotFound));
                continue;
            };
            let line_total = unit_price.get().checked_mul(requested.quantity).and_then(Money::new);
            let new_total = line_total.and_then(|line_total| total.checked_add(line_total.get()));
            let (Some(line_total), Some(new_total)) = (line_total, new_total.filter(|t| *t <= MAX_SAFE_INTEGER)) else {
                return Err(too_large());
            };
            total = new_total;
            lines.push(OrderLine {
                line: number,
                item_id: requested.item_id,
                quantity: requested.quantity,
                unit_price,
                line_total,
                stock_buckets,
                stock_draws: Vec::new(),
            });
        }
        if !missing.is_empty() {
            return Err(rejected(missing));
        }
        let total = Money::new(total).ok_or_else(too_large)?;

        let order = Order {
            id: OrderId::new(now),
            owner_id: caller.user_id.clone(),
            status: OrderStatus::Placed,
            total,
            line_count: u32::try_from(lines.len()).unwrap_or(u32::MAX),
            created_at: now,
            updated_at: now,
        };
        Ok(OrderDetail { order, lines })
    }

    /// Places a prepared order: the order, its lines, every stock change and the idempotency
    /// record (if any) in one transaction.
    pub async fn place(
        &self,
        placed: &OrderDetail,
        replay: Option<&ReplayRecord>,
    ) -> Result<Written<()>, ServiceError> {
        let order = &placed.order;
        self.fenced(&placed.lines, async {
            match self.orders.place(order, &placed.lines, order.created_at, replay).await {
                Ok(written) => Ok(written),
                Err(PlaceError::Lines(problems)) => Err(rejected(problems)),
                Err(PlaceError::Store(error)) => Err(error.into()),
            }
        })
        .await
    }

    /// The order with a summary of each line's item: one `Query` and one `BatchGetItem`.
    pub async fn get(&self, caller: &Principal, id: OrderId) -> Result<OrderWithItems, ServiceError> {
        let detail = self.orders.get(id).await?.ok_or(ServiceError::NotFound)?;
        if caller.owner_scope().is_some_and(|owner| *owner != detail.order.owner_id) {
            return Err(ServiceError::NotFound);
        }
        let ids: Vec<ItemId> = detail.lines.iter().map(|line| line.item_id).collect();
        let summary = FieldSet::of(&[ItemField::Id, ItemField::Name, ItemField::Status, ItemField::Price]);
        let mut items: HashMap<ItemId, ItemView> = self
            .items
            .get_many(&ids, summary.with(ItemField::OwnerId))
            .await?
            .into_iter()
            .filter(|view| match (view.status, &view.owner_id) {
                (Some(status), Some(owner)) => caller.can_see(status, owner),
                _ => false,
            })
            .filter_map(|mut view| {
                view.retain(summary);
                Some((view.id?, view))
            })
            .collect();
        let lines =
            detail.lines.into_iter().map(|line| LineWithItem { item: items.remove(&line.item_id), line }).collect();
        Ok(OrderWithItems { order: detail.order, lines })
    }

    pub async fn list(
        &self,
        caller: &Principal,
        limit: u16,
        after: Option<OrderId>,
    ) -> Result<Page<Order>, ServiceError> {
        Ok(self.orders.list(&caller.user_id, limit, after).await?)
    }

    pub async fn cancel(&self, caller: &Principal, id: OrderId, now: Timestamp) -> Result<OrderDetail, ServiceError> {
        // With a cache, the lines' items are fenced first (an order's lines never change); only
        // for an order the caller may cancel, so nobody can keep others' items out of the cache.
        let lines = match self.item_cache.enabled() {
            true => match self.orders.get(id).await? {
                Some(detail) if caller.owner_scope().is_none_or(|owner| *owner == detail.order.owner_id) => {
                    detail.lines
                }
                _ => Vec::new(),
            },
            false => Vec::new(),
        };
        self.fenced(&lines, async { self.orders.cancel(id, caller.owner_scope(), now).await.map_err(cancel_error) })
            .await
    }
}

fn cancel_error(error: CancelError) -> ServiceError {
    match error {
        CancelError::NotFound => ServiceError::NotFound,
        CancelError::AlreadyCancelled => ServiceError::Conflict {
            code: "already_cancelled",
            message: "the order is already cancelled; its stock was returned once".to_owned(),
            details: Vec::new(),
        },
        CancelError::StockLimit(line) => ServiceError::Conflict {
            code: "stock_limit",
            message: format!(
                "line {line}: returning its quantity would take the item's stock past {MAX_SAFE_INTEGER}; nothing was changed"
            ),
            details: Vec::new(),
        },
        CancelError::Store(error) => error.into(),
    }
}

/// The request is well-formed; today's prices make its total unrepresentable: a 409 like any
/// other line the store refuses, not a 400 the client could have avoided by reading the spec.
fn too_large() -> ServiceError {
    ServiceError::Conflict {
        code: "order_rejected",
        message: "the order cannot be placed; see details".to_owned(),
        details: vec![FieldError::new(
            "lines",
            "total_too_large",
            format!("at today's prices the order total would exceed {MAX_SAFE_INTEGER} minor units"),
        )],
    }
}

/// 409 naming each line that cannot be placed and why.
fn rejected(mut problems: Vec<(u32, LineProblem)>) -> ServiceError {
    problems.sort_by_key(|(line, _)| *line);
    let details = problems
        .into_iter()
        .map(|(line, problem)| {
            FieldError::new(
                format!("lines[{}]", line.saturating_sub(1)),
                problem.code(),
                format!("line {line}: {}", problem.describe()),
            )
        })
        .collect();
    ServiceError::Conflict {
        code: "order_rejected",
        message: "some order lines cannot be placed; see details".to_owned(),
        details,
    }
}
