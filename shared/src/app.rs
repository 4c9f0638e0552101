//! The per-container application state, built once at init, and the runtime entry point every
//! function's `main` calls.

use std::future::Future;

use aws_lc_rs::hmac;
use lambda_http::{Body, Error, Request, Response, service_fn};

use crate::config::Config;
use crate::domain::Timestamp;
use crate::http::auth::Authenticator;
use crate::http::cursor::CursorCodec;
use crate::repository::DynamoItemRepository;
use crate::service::ItemService;

pub struct App {
    pub items: ItemService<DynamoItemRepository>,
    pub auth: Authenticator,
    pub cursors: CursorCodec,
    pub clock: fn() -> Timestamp,
}

impl App {
    pub fn new(config: &Config, dynamo: aws_sdk_dynamodb::Client) -> Self {
        Self {
            items: ItemService::new(DynamoItemRepository::new(dynamo, &config.table_name)),
            auth: Authenticator::hs256(&config.jwt_secret),
            cursors: CursorCodec::new(&cursor_key(&config.jwt_secret)),
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

/// Cursors are signed with a key derived from the JWT secret, so one secret serves both without
/// a cursor tag ever doubling as a token signature.
fn cursor_key(jwt_secret: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, jwt_secret);
    hmac::sign(&key, b"pagination-cursor-key/v1")
        .as_ref()
        .to_vec()
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
