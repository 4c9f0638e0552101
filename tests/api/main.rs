//! Integration tests: each route's handler, called in process with API Gateway v2 events built
//! from events/ fixtures, against a real DynamoDB API (the moto server), one table per test.
// The soak's client future is deep enough that proving it `Send` passes the default limit of 128.
#![recursion_limit = "256"]

mod access;
mod auth;
mod auth_gateway;
mod auth_jwks;
mod batching;
mod cache;
mod concurrency;
mod contract;
mod corpus;
mod create;
mod delete;
mod faults;
mod fixtures;
mod flash_sale;
mod hardening;
mod helpers;
mod idempotency;
mod list;
mod operability;
mod orders;
mod outcomes;
mod platform;
mod proxy;
mod read;
mod seams;
mod search;
mod soak;
mod store;
mod tracing;
mod vector_store;
mod write;
