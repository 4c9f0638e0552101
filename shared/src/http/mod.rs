//! HTTP: reading requests, rendering replies, authentication, and the item routes.

pub mod auth;
pub(crate) mod cors;
pub mod cursor;
pub mod error;
mod gate;
pub mod idempotency;
pub mod items;
pub mod jwks;
pub mod orders;
pub mod request;
pub mod response;
pub mod route;
pub mod search;
mod serve;

pub use gate::Gate;
pub use items::ItemsApi;
pub use orders::OrdersApi;
pub use search::{AdminApi, SearchApi};
pub use serve::serve;
