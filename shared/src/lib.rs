//! Everything the item functions share: domain, storage, services, HTTP handling, auth, telemetry.

pub mod app;
pub mod aws;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod queue;
pub mod repository;
pub mod retry;
pub mod scope;
pub mod search;
pub mod service;
pub mod telemetry;
pub mod trace;
pub mod worker;
pub mod xray;

pub use app::App;
