//! The per-container application state, built once at init, and the runtime entry point every
//! function's `main` calls.

use std::future::Future;

use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::config::Config;
use crate::domain::Timestamp;
use crate::http::auth::Authenticator;
use crate::http::cursor::CursorCodec;
use crate::idempotency::IdempotencyStore;
use crate::repository::{DynamoItemRepository, DynamoOrderRepository, DynamoProfileRepository};
use crate::service::{ItemService, OrderService, ProfileService};

pub struct App {
    pub items: ItemService<DynamoItemRepository>,
    pub orders: OrderService<DynamoItemRepository>,
    pub profiles: ProfileService,
    pub idempotency: IdempotencyStore,
    pub auth: Authenticator,
    pub cursors: CursorCodec,
    pub clock: fn() -> Timestamp,
}

impl App {
    pub fn new(config: &Config, dynamo: aws_sdk_dynamodb::Client) -> Self {
        Self {
            items: ItemService::new(DynamoItemRepository::new(dynamo.clone(), &config.table_name)),
            orders: OrderService::new(
                DynamoOrderRepository::new(dynamo.clone(), &config.table_name),
                DynamoItemRepository::new(dynamo.clone(), &config.table_name),
            ),
            profiles: ProfileService::new(DynamoProfileRepository::new(dynamo.clone(), &config.table_name)),
            idempotency: IdempotencyStore::new(dynamo, &config.table_name),
            auth: Authenticator::new(&config.auth),
            cursors: CursorCodec::new(config.cursor_secret.expose()),
            clock: Timestamp::now,
        }
    }

    /// Reads configuration and builds AWS clients from the environment (`AWS_ENDPOINT_URL` is
    /// honoured, which is how local runs reach the moto server).
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let aws = aws_config::load_from_env().await;
        Ok(Self::new(&config, aws_sdk_dynamodb::Client::new(&aws)))
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

/// Initialises logging, builds the `App` once, and serves `handler` on the Lambda runtime.
pub async fn run<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Request, &'static App) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    // The app lives as long as the container; leaking it lets every invocation borrow it freely.
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_http::run(service_fn(|request| {
        let response = handler(request, app);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}
