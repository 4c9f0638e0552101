//! Lambda entry point: wiring only; the behaviour lives in `shared`.

// The handler's future nests the shared crate's async layers deeper than rustc's default limit.
#![recursion_limit = "256"]

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run(delete_item::handle).await
}
