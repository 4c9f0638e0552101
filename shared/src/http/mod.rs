//! HTTP: reading requests, rendering replies, authentication, and the item routes.

mod admit;
pub mod auth;
pub mod cors;
pub mod cursor;
pub mod items;
pub mod jwks;
pub mod orders;
pub mod request;
pub mod response;
pub mod search;
mod serve;

pub use serve::serve;
