//! Everything the item functions share: domain, storage, services, HTTP handling, auth, telemetry.

pub mod app;
pub(crate) mod aws;
pub mod cache;
pub mod config;
pub mod domain;
pub(crate) mod error;
pub mod http;
pub(crate) mod metrics;
pub(crate) mod queue;
pub mod repository;
pub(crate) mod retry;
pub(crate) mod scope;
pub mod search;
pub mod service;
pub mod telemetry;
pub(crate) mod trace;
pub mod worker;
pub mod xray;

pub use app::App;
