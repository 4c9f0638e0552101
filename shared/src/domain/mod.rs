//! Domain types: values that are parsed once at the edge and valid from then on.

mod access;
mod fields;
mod index_job;
mod item;
mod listing;
mod order;
mod profile;
mod rate;
mod replay;
mod secret;
mod text;
mod time;

pub use access::{Permission, Principal, Role};
pub use fields::{FieldSet, ItemField};
pub use index_job::{IndexJob, IndexOp};
pub(crate) use item::MAX_SAFE_INTEGER;
pub use item::{
    Description, Item, ItemChanges, ItemId, ItemName, ItemPatch, ItemStatus, ItemView, ItemWrite, Money, OwnerId,
    Precondition, Stock, StockBuckets, Version,
};
pub use listing::{ListQuery, Page, PageLimit, PagePosition, SortField, SortOrder};
pub use order::{LineProblem, MAX_ORDER_LINES, Order, OrderDetail, OrderLine, OrderStatus, StockDraw};
pub(crate) use order::{OrderId, OrderRequest};
pub(crate) use profile::Profile;
pub use rate::{Audience, RateOutcome, RateRules, RouteGroup, Rule};
pub use replay::{ReplayRecord, StoredReplay, Written};
pub use secret::Secret;
pub use time::Timestamp;

/// One rejected input field: what was wrong, in words a client can show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.field, self.message)
    }
}
