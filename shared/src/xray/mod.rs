//! X-Ray without an X-Ray SDK: a subsegment for every DynamoDB and SQS call
//! of a sampled invocation, sent to the daemon Lambda runs (see README, "Tracing").
//!
//! Hand-written rather than a crate: the one that exists for the Rust SDK (xray-lite with
//! xray-lite-aws-sdk) takes its trace from the process environment and wants an interceptor
//! attached at every call site, where here the trace belongs to the task (the worker runs a batch
//! of messages, each of its own trace, at once) and one interceptor per client covers every call.
//! What it sends is one small JSON document per call over UDP.

mod exporter;
mod interceptor;
mod segment;

pub use exporter::Exporter;
pub(crate) use interceptor::XRayInterceptor;
