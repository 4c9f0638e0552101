//! The per-container application state, built once at init, and the runtime entry point every
//! function's `main` calls.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Error, Request, Response, service_fn};
use lambda_runtime::LambdaEvent;

use crate::cache::{CachedItemRepository, ItemCache, RedisCache};
use crate::config::{Config, EmbedderChoice};
use crate::domain::Timestamp;
use crate::http::auth::Authenticator;
use crate::http::cors::CorsPolicy;
use crate::http::cursor::CursorCodec;
use crate::idempotency::IdempotencyStore;
use crate::queue::IndexQueue;
use crate::ratelimit::RateLimiter;
use crate::repository::{DynamoItemRepository, DynamoOrderRepository, DynamoProfileRepository, DynamoVectorRepository};
use crate::search::{HashingEmbedder, TextEmbedder};
use crate::service::{IndexNotifier, Indexer, ItemService, OrderService, ProfileService, SearchService};

/// Item reads and writes in the API go through the cache (off by default); the worker, search and
/// orders read DynamoDB directly.
pub type CachedItems = CachedItemRepository<DynamoItemRepository, Arc<ItemCache>>;

pub struct App {
    pub items: ItemService<CachedItems>,
    pub indexer: Indexer<DynamoItemRepository>,
    pub search: SearchService<DynamoItemRepository>,
    pub orders: OrderService<DynamoItemRepository>,
    pub profiles: ProfileService,
    pub idempotency: IdempotencyStore,
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    pub cors: CorsPolicy,
    pub cursors: CursorCodec,
    pub clock: fn() -> Timestamp,
}

impl App {
    /// Clients are built once per container and shared by every service (they are cheap handles).
    pub fn new(
        config: &Config,
        dynamo: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        embedder: TextEmbedder,
    ) -> Self {
        let cache = match &config.cache.redis_url {
            Some(url) => match RedisCache::new(url) {
                Ok(redis) => ItemCache::Redis(redis),
                Err(reason) => {
                    tracing::error!(%reason, "invalid CACHE_URL; items are not cached");
                    ItemCache::Off
                }
            },
            None => ItemCache::Off,
        };
        let cache = Arc::new(cache);
        let items = || DynamoItemRepository::new(dynamo.clone(), &config.table_name);
        let vectors = || DynamoVectorRepository::new(dynamo.clone(), &config.table_name);
        let queue = config.index_queue_url.as_ref().map(|url| Arc::new(IndexQueue::new(sqs, url)));
        let embedder = Arc::new(embedder);
        Self {
            items: ItemService::new(
                CachedItemRepository::new(items(), cache.clone(), config.cache.ttl),
                IndexNotifier::new(queue.clone()),
            ),
            indexer: Indexer::new(items(), vectors(), embedder.clone(), queue),
            search: SearchService::new(items(), vectors(), embedder, config.search_refresh),
            orders: OrderService::new(
                DynamoOrderRepository::new(dynamo.clone(), &config.table_name),
                DynamoItemRepository::new(dynamo.clone(), &config.table_name),
                cache,
            ),
            profiles: ProfileService::new(DynamoProfileRepository::new(dynamo.clone(), &config.table_name)),
            idempotency: IdempotencyStore::new(dynamo.clone(), &config.table_name),
            auth: Authenticator::new(&config.auth),
            limiter: RateLimiter::new(
                dynamo,
                &config.table_name,
                config.rate_limits.clone(),
                config.rate_limit_fail_open,
            ),
            cors: CorsPolicy::new(config.cors_allowed_origins.clone()),
            cursors: CursorCodec::new(config.cursor_secret.expose()),
            clock: Timestamp::now,
        }
    }

    /// Reads configuration and builds AWS clients from the environment (`AWS_ENDPOINT_URL` is
    /// honoured, which is how local runs reach the moto server).
    pub async fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let aws = crate::aws::from_env(crate::aws::TrustedRoots::from_env()?)?;
        let embedder = embedder_for(&config, &aws)?;
        Ok(Self::new(&config, dynamo_client(&aws), sqs_client(&aws), embedder))
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
    }
}

/// `EMBEDDER=hashing` (default) or `bedrock` (needs the `bedrock` cargo feature).
fn embedder_for(config: &Config, aws: &aws_types::SdkConfig) -> Result<TextEmbedder, Error> {
    match &config.embedder {
        EmbedderChoice::Hashing => Ok(TextEmbedder::Hashing(HashingEmbedder)),
        #[cfg(feature = "bedrock")]
        EmbedderChoice::Bedrock { model_id } => Ok(TextEmbedder::Bedrock(
            crate::search::bedrock::BedrockEmbedder::new(aws_sdk_bedrockruntime::Client::new(aws), model_id),
        )),
        #[cfg(not(feature = "bedrock"))]
        EmbedderChoice::Bedrock { .. } => {
            let _ = aws;
            Err("EMBEDDER=bedrock needs a build with the `bedrock` cargo feature".into())
        }
    }
}

/// Initialises logging, builds the `App` once, and serves the SQS batch `handler`.
pub async fn run_sqs<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(SqsEvent, &'static App) -> Fut,
    Fut: Future<Output = SqsBatchResponse> + Send,
{
    crate::telemetry::init();
    let app: &'static App = Box::leak(Box::new(App::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<SqsEvent>| {
        let response = handler(event.payload, app);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}

/// DynamoDB retries, set deliberately rather than inherited: the SDK's standard mode (retrying
/// throttling, 5xx, timeouts and connection failures; never conditional-check failures) with 3
/// attempts, backoff starting at 25 ms and capped at 400 ms instead of the SDK's 1 s / 20 s, which
/// suit batch jobs, not an API request; each attempt bounded to 1.5 s and the whole operation to
/// 4 s, inside the functions' 10 s timeout. After the last attempt, throttling becomes a 503.
pub fn dynamo_client(aws: &aws_types::SdkConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(aws)
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(Duration::from_millis(25))
                .with_max_backoff(Duration::from_millis(400)),
        )
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(1500))
                .operation_timeout(Duration::from_secs(4))
                .build(),
        )
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// SQS sends are retried by `IndexQueue` with its own backoff, so the SDK makes one attempt each,
/// bounded in time: a dead queue endpoint must not hold an item write for long.
pub fn sqs_client(aws: &aws_types::SdkConfig) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(aws)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(
            aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_timeout(Duration::from_secs(2))
                .build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
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
