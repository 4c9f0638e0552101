//! The composition root: how each function's parts are built from configuration and AWS
//! clients, and the runtime entry points every function's `main` calls.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_http::{Body, Error, Request, Response, service_fn};
use lambda_runtime::LambdaEvent;

use crate::cache::{CachedItemRepository, ItemCache, RedisCache};
use crate::config::{Config, EmbedderChoice};
use crate::domain::Timestamp;
use crate::http::auth::Authenticator;
use crate::http::cors::CorsPolicy;
use crate::http::cursor::CursorCodec;
use crate::http::idempotency::IdempotencyStore;
use crate::http::{AdminApi, Gate, ItemsApi, OrdersApi, SearchApi};
use crate::queue::IndexQueue;
use crate::repository::{
    DynamoItemRepository, DynamoOrderRepository, DynamoProfileRepository, DynamoReplayRepository,
    DynamoVectorRepository,
};
use crate::scope::Scope;
use crate::search::{StaticEmbedder, TextEmbedder};
use crate::service::{
    IndexNotifier, Indexer, IndexerOverDynamo, ItemService, OrderService, ProfileService, RateLimiter, ReplayService,
    SearchService,
};
use crate::trace::TraceHeader;
use crate::worker::IndexWorker;
use crate::xray::{Exporter, XRayInterceptor};

/// Configuration and AWS clients of one container, each client built the first time a route's
/// parts ask for it: a function builds only what its route uses (no SQS client for a read or an
/// order, and for item writes only at the first write; no embedder outside search and the worker).
pub struct Parts {
    config: Config,
    aws: Option<aws_types::SdkConfig>,
    /// Where the clients' X-Ray subsegments go (the daemon under Lambda).
    xray: Exporter,
    dynamo: OnceLock<aws_sdk_dynamodb::Client>,
    /// Given by tests; functions build theirs when a queue is first opened.
    sqs: OnceLock<aws_sdk_sqs::Client>,
    cache: OnceLock<Arc<ItemCache>>,
    embedder: OnceLock<Arc<TextEmbedder>>,
}

impl Parts {
    /// Reads configuration and the AWS settings from the environment (`AWS_ENDPOINT_URL` is
    /// honoured, which is how local runs reach the moto server).
    pub fn from_env() -> Result<Self, Error> {
        let config = Config::from_env()?;
        let aws = crate::aws::from_env(crate::aws::TrustedRoots::from_env()?)?;
        Ok(Self { aws: Some(aws), xray: Exporter::from_env(), ..Self::bare(config) })
    }

    /// Parts over clients built elsewhere (tests, tools).
    pub(crate) fn with_clients(
        config: Config,
        dynamo: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        embedder: TextEmbedder,
    ) -> Self {
        let parts = Self::bare(config);
        let _ = parts.dynamo.set(dynamo);
        let _ = parts.sqs.set(sqs);
        let _ = parts.embedder.set(Arc::new(embedder));
        parts
    }

    fn bare(config: Config) -> Self {
        Self {
            config,
            aws: None,
            xray: Exporter::to_log(),
            dynamo: OnceLock::new(),
            sqs: OnceLock::new(),
            cache: OnceLock::new(),
            embedder: OnceLock::new(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    fn aws(&self) -> &aws_types::SdkConfig {
        // Parts are built either from the environment (with settings) or with every client.
        static NONE: OnceLock<aws_types::SdkConfig> = OnceLock::new();
        self.aws.as_ref().unwrap_or_else(|| NONE.get_or_init(|| aws_types::SdkConfig::builder().build()))
    }

    fn dynamo(&self) -> aws_sdk_dynamodb::Client {
        self.dynamo.get_or_init(|| dynamo_client(self.aws(), &self.xray)).clone()
    }

    fn queue(&self) -> Option<Arc<IndexQueue>> {
        self.queue_opener()()
    }

    /// What opens the index queue later, on a route's first write: the SQS client given at
    /// construction, or one built then from the AWS settings.
    fn queue_opener(&self) -> impl Fn() -> Option<Arc<IndexQueue>> + Send + Sync + 'static {
        let url = self.config.index_queue_url.clone();
        let given = self.sqs.get().cloned();
        let aws = self.aws().clone();
        let xray = self.xray.clone();
        move || {
            let url = url.as_ref()?;
            let sqs = given.clone().unwrap_or_else(|| sqs_client(&aws, &xray));
            Some(Arc::new(IndexQueue::new(sqs, url)))
        }
    }

    fn cache(&self) -> Arc<ItemCache> {
        self.cache
            .get_or_init(|| {
                Arc::new(match &self.config.cache.redis_url {
                    Some(url) => match RedisCache::new(url) {
                        Ok(redis) => ItemCache::Redis(redis),
                        Err(error) => {
                            tracing::error!(error = %crate::error::error_chain(&error), "invalid CACHE_URL; items are not cached");
                            ItemCache::Off
                        }
                    },
                    None => ItemCache::Off,
                })
            })
            .clone()
    }

    fn embedder(&self) -> Result<Arc<TextEmbedder>, Error> {
        if let Some(embedder) = self.embedder.get() {
            return Ok(embedder.clone());
        }
        let embedder = Arc::new(embedder_for(&self.config, self.aws())?);
        Ok(self.embedder.get_or_init(|| embedder).clone())
    }

    fn items(&self) -> DynamoItemRepository {
        DynamoItemRepository::new(self.dynamo(), &self.config.table_name)
    }

    fn vectors(&self) -> DynamoVectorRepository {
        DynamoVectorRepository::new(self.dynamo(), &self.config.table_name, self.config.vector_index.clone())
    }

    fn idempotency(&self) -> IdempotencyStore {
        IdempotencyStore::new(ReplayService::new(DynamoReplayRepository::new(self.dynamo(), &self.config.table_name)))
    }

    fn cursors(&self) -> CursorCodec {
        CursorCodec::new(self.config.cursor_secret.expose())
    }
}

/// What every API route needs: authentication, the rate limiter, CORS.
pub fn gate(parts: &Parts) -> Result<Gate, Error> {
    let config = parts.config();
    Ok(Gate {
        auth: Authenticator::new(&config.auth),
        limiter: RateLimiter::new(
            parts.dynamo(),
            &config.table_name,
            config.rate_limits.clone(),
            config.rate_limit_fail_open,
        ),
        cors: CorsPolicy::new(config.cors_allowed_origins.clone()),
        clock: Timestamp::now,
        counted_before: AtomicBool::new(false),
    })
}

pub fn items_api(parts: &Parts) -> Result<ItemsApi, Error> {
    let items = CachedItemRepository::new(parts.items(), parts.cache(), parts.config().cache.ttl);
    Ok(ItemsApi {
        items: ItemService::new(items, IndexNotifier::lazy(parts.queue_opener())),
        profiles: ProfileService::new(DynamoProfileRepository::new(parts.dynamo(), &parts.config().table_name)),
        cursors: parts.cursors(),
        idempotency: parts.idempotency(),
        clock: Timestamp::now,
    })
}

pub fn orders_api(parts: &Parts) -> Result<OrdersApi, Error> {
    Ok(OrdersApi {
        orders: OrderService::new(
            DynamoOrderRepository::new(parts.dynamo(), &parts.config().table_name),
            parts.items(),
            parts.cache(),
        ),
        cursors: parts.cursors(),
        idempotency: parts.idempotency(),
        clock: Timestamp::now,
    })
}

pub fn search_api(parts: &Parts) -> Result<SearchApi, Error> {
    Ok(SearchApi { search: SearchService::new(parts.items(), parts.vectors(), parts.embedder()?) })
}

/// Reindexing enqueues jobs: the admin route opens the queue.
pub fn admin_api(parts: &Parts) -> Result<AdminApi, Error> {
    Ok(AdminApi { indexer: indexer(parts, parts.queue())? })
}

/// The worker only consumes jobs: no queue, no SQS client.
pub fn index_worker(parts: &Parts) -> Result<IndexWorker, Error> {
    Ok(IndexWorker { indexer: indexer(parts, None)? })
}

fn indexer(parts: &Parts, queue: Option<Arc<IndexQueue>>) -> Result<IndexerOverDynamo, Error> {
    Ok(Indexer::new(parts.items(), parts.vectors(), parts.embedder()?, queue))
}

/// Every route's parts in one container: what the tests (and tools) use to stand in for any
/// function. A deployed function builds only its own (see `run`).
pub struct App {
    pub gate: Gate,
    pub items: ItemsApi,
    pub orders: OrdersApi,
    pub search: SearchApi,
    pub admin: AdminApi,
    pub worker: IndexWorker,
}

impl App {
    /// Every route's parts, as `http::route::dispatch` takes them.
    pub fn apis(&self) -> crate::http::route::Apis<'_> {
        crate::http::route::Apis {
            gate: &self.gate,
            items: &self.items,
            orders: &self.orders,
            search: &self.search,
            admin: &self.admin,
        }
    }

    pub fn new(
        config: &Config,
        dynamo: aws_sdk_dynamodb::Client,
        sqs: aws_sdk_sqs::Client,
        embedder: TextEmbedder,
    ) -> Self {
        let parts = Parts::with_clients(config.clone(), dynamo, sqs, embedder);
        let built = || -> Result<Self, Error> {
            Ok(Self {
                gate: gate(&parts)?,
                items: items_api(&parts)?,
                orders: orders_api(&parts)?,
                search: search_api(&parts)?,
                admin: admin_api(&parts)?,
                worker: index_worker(&parts)?,
            })
        };
        // Every part above is infallible once its clients exist, as they do here.
        built().unwrap_or_else(|error| panic!("building the app from ready clients cannot fail: {error}"))
    }
}

/// `EMBEDDER=static` (default) or `bedrock` (needs the `bedrock` cargo feature).
fn embedder_for(config: &Config, aws: &aws_types::SdkConfig) -> Result<TextEmbedder, Error> {
    match &config.embedder {
        EmbedderChoice::Static => Ok(TextEmbedder::Static(StaticEmbedder::builtin()?)),
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

/// Initialises logging, builds the worker's parts once, and serves SQS batches of index jobs.
pub async fn run_index_worker() -> Result<(), Error> {
    crate::telemetry::init();
    let worker: &'static IndexWorker = Box::leak(Box::new(index_worker(&Parts::from_env()?)?));
    lambda_runtime::run(lambda_runtime::service_fn(|event: LambdaEvent<SqsEvent>| {
        let scope = invocation_scope(&event.context);
        let response = crate::scope::within(scope, crate::worker::handle_batch(worker, event.payload));
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}

/// The worker invocation's deadline, id and trace: a message without a trace of its own is
/// traced under the invocation's.
fn invocation_scope(context: &lambda_runtime::Context) -> std::sync::Arc<Scope> {
    Scope::traced(
        Some(std::time::UNIX_EPOCH + Duration::from_millis(context.deadline)),
        Some(context.request_id.clone()).filter(|id| !id.is_empty()),
        context.xray_trace_id.as_deref().and_then(TraceHeader::parse),
    )
}

/// DynamoDB retries, set deliberately rather than inherited: the SDK's standard mode (retrying
/// throttling, 5xx, timeouts and connection failures; never conditional-check failures) with 3
/// attempts, backoff starting at 25 ms and capped at 400 ms instead of the SDK's 1 s / 20 s, which
/// suit batch jobs, not an API request; each attempt bounded to 1.5 s and the whole operation to
/// 4 s, inside the functions' 10 s timeout. After the last attempt, throttling becomes a 503.
/// Writes a client is answered for override this per call: one attempt each, retried by
/// `repository::settle`, which knows whether a lost attempt may have been applied. Calls of sampled invocations are recorded as X-Ray subsegments, sent to `xray`.
pub fn dynamo_client(aws: &aws_types::SdkConfig, xray: &Exporter) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(aws)
        .interceptor(XRayInterceptor::new(xray.clone()))
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
/// bounded in time: a dead queue endpoint must not hold an item write for long. Traced like DynamoDB.
pub fn sqs_client(aws: &aws_types::SdkConfig, xray: &Exporter) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(aws)
        .interceptor(XRayInterceptor::new(xray.clone()))
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

/// Initialises logging, builds the gate and the route's own parts (`build`) once, and serves
/// `handler` on the Lambda runtime.
pub async fn run<S, F, Fut>(build: fn(&Parts) -> Result<S, Error>, handler: F) -> Result<(), Error>
where
    S: Sync + 'static,
    F: Fn(Request, &'static Gate, &'static S) -> Fut,
    Fut: Future<Output = Response<Body>> + Send,
{
    crate::telemetry::init();
    let parts = Parts::from_env()?;
    // Built once per container and leaked: every invocation borrows them for the container's life.
    let gate: &'static Gate = Box::leak(Box::new(gate(&parts)?));
    let api: &'static S = Box::leak(Box::new(build(&parts)?));
    lambda_http::run(service_fn(|request| {
        let response = handler(request, gate, api);
        async move { Ok::<_, Error>(response.await) }
    }))
    .await
}
