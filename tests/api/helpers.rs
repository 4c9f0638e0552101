//! Test harness: a fresh table per test, request builders over the events/ fixtures, and a
//! dispatcher that routes like API Gateway does.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;

use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, SearchSchemaElement, SearchSchemaElementType, VectorAttributeDefinition,
    VectorDistanceFunction, VectorIndex,
};
use jsonwebtoken::{EncodingKey, Header, encode};
use lambda_http::http::HeaderMap;
use lambda_http::{Body, Request};
use serde::Deserialize;
use serde_json::{Value, json};
use shared::App;
use shared::config::{AuthConfig, CacheConfig, Config, Secret, TokenConfig};
use shared::domain::RateRules;
use shared::domain::{ItemId, Timestamp};
use shared::xray::Exporter;

/// Why a call to the local SQS failed.
pub type QueueError = Box<dyn std::error::Error + Send + Sync>;

/// The public development secret of infra/local.env; the fixtures' tokens are signed with it.
pub const DEV_SECRET: &str = "local-development-secret-not-for-production-use";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub struct TestApp {
    pub app: App,
    pub dynamo: Client,
    pub sqs: aws_sdk_sqs::Client,
    pub table: String,
    /// This test's own index queue.
    pub queue_url: String,
    config: Config,
    aws: aws_config::SdkConfig,
    calls: Arc<AtomicUsize>,
}

/// Counts every DynamoDB operation the app's SDK client starts: N+1 shows up here.
#[derive(Debug)]
struct CallCounter(Arc<AtomicUsize>);

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// A new table, created from template.yaml's definition, and an `App` that uses it, verifying
/// HS256 tokens signed with the development secret.
pub async fn spawn_app() -> Arc<TestApp> {
    spawn_app_with(AuthConfig::Verify(TokenConfig::hs256(DEV_SECRET.as_bytes()))).await
}

/// Like [`spawn_app`], with another way of authenticating callers.
pub async fn spawn_app_with(auth: AuthConfig) -> Arc<TestApp> {
    spawn_configured(auth, RateRules::off(), CacheConfig::off(), None).await
}

/// Like [`spawn_app`], on a table whose vector index takes `dimensions` (not the embedder's).
pub async fn spawn_app_with_vector_dimensions(dimensions: i64) -> Arc<TestApp> {
    spawn_configured(dev_auth(), RateRules::off(), CacheConfig::off(), Some(dimensions)).await
}

/// Like [`spawn_app`], with rate limits.
pub async fn spawn_app_with_limits(rules: RateRules) -> Arc<TestApp> {
    spawn_configured(dev_auth(), rules, CacheConfig::off(), None).await
}

/// Like [`spawn_app`], with another cache configuration.
pub async fn spawn_app_with_cache(cache: CacheConfig) -> Arc<TestApp> {
    spawn_configured(dev_auth(), RateRules::off(), cache, None).await
}

fn dev_auth() -> AuthConfig {
    AuthConfig::Verify(TokenConfig::hs256(DEV_SECRET.as_bytes()))
}

async fn spawn_configured(
    auth: AuthConfig,
    rate_limits: RateRules,
    cache: CacheConfig,
    vector_dimensions: Option<i64>,
) -> Arc<TestApp> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set. Integration tests need the moto server: run ./infra/test.sh, \
             or start one with ./infra/moto.sh and export the AWS_* variables it prints."
        )
    });
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(CallCounter(calls.clone())).build();
    let dynamo = Client::from_conf(counted);
    let table = format!("items-test-{}", ItemId::new(Timestamp::now()));
    create_table(&dynamo, &table, vector_dimensions)
        .await
        .unwrap_or_else(|e| panic!("cannot create a table on the moto server at {endpoint} (is it running?): {e:?}"));
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{table}-index"))
        .send()
        .await
        .expect("create index queue")
        .queue_url
        .expect("queue url");
    let config = Config {
        table_name: table.clone(),
        auth,
        cursor_secret: Secret::new(DEV_SECRET),
        index_queue_url: Some(queue_url.clone()),
        vector_index: shared::config::VectorIndexConfig::default(),
        embedder: shared::config::EmbedderChoice::Static,
        rate_limits,
        rate_limit_fail_open: true,
        cors_allowed_origins: vec!["https://app.example".to_owned()],
        cache,
    };
    let app = App::new(&config, dynamo.clone(), shared::app::sqs_client(&aws, &Exporter::to_log()), embedder());
    Arc::new(TestApp { app, dynamo, sqs, table, queue_url, config, calls, aws })
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableSpec {
    attribute_definitions: Vec<AttributeSpec>,
    key_schema: Vec<KeySpec>,
    global_secondary_indexes: Vec<IndexSpec>,
    #[serde(default)]
    vector_indexes: Vec<VectorIndexSpec>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VectorIndexSpec {
    index_name: String,
    vector_attribute: VectorAttributeSpec,
    dimensions: i64,
    distance_function: String,
    #[serde(default)]
    search_schema: Vec<SearchSchemaSpec>,
    projection: ProjectionSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VectorAttributeSpec {
    attribute_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SearchSchemaSpec {
    attribute_name: String,
    search_schema_element_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeSpec {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeySpec {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexSpec {
    index_name: String,
    key_schema: Vec<KeySpec>,
    projection: ProjectionSpec,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionSpec {
    projection_type: String,
    #[serde(default)]
    non_key_attributes: Option<Vec<String>>,
}

fn key_schema(keys: &[KeySpec]) -> Vec<KeySchemaElement> {
    keys.iter()
        .map(|key| {
            KeySchemaElement::builder()
                .attribute_name(&key.attribute_name)
                .key_type(KeyType::from(key.key_type.as_str()))
                .build()
                .expect("key schema element")
        })
        .collect()
}

fn projection(spec: &ProjectionSpec) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(spec.projection_type.as_str()))
        .set_non_key_attributes(spec.non_key_attributes.clone())
        .build()
}

/// Reads `Resources.ItemsTable.Properties` of template.yaml: the same schema as deployed (with
/// the vector index's dimensions replaced by `vector_dimensions`, if given).
async fn create_table(
    dynamo: &Client,
    name: &str,
    vector_dimensions: Option<i64>,
) -> Result<(), aws_sdk_dynamodb::Error> {
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).expect("read template.yaml");
    let document: serde_yaml::Value = serde_yaml::from_str(&template).expect("parse template.yaml");
    let properties = document["Resources"]["ItemsTable"]["Properties"].clone();
    let spec: TableSpec = serde_yaml::from_value(properties).expect("ItemsTable properties");

    let attributes = spec.attribute_definitions.iter().map(|attribute| {
        AttributeDefinition::builder()
            .attribute_name(&attribute.attribute_name)
            .attribute_type(ScalarAttributeType::from(attribute.attribute_type.as_str()))
            .build()
            .expect("attribute definition")
    });
    let indexes = spec.global_secondary_indexes.iter().map(|index| {
        GlobalSecondaryIndex::builder()
            .index_name(&index.index_name)
            .set_key_schema(Some(key_schema(&index.key_schema)))
            .projection(projection(&index.projection))
            .build()
            .expect("global secondary index")
    });
    let vector_indexes = spec.vector_indexes.iter().map(|index| {
        let schema = index.search_schema.iter().map(|element| {
            SearchSchemaElement::builder()
                .attribute_name(&element.attribute_name)
                .search_schema_element_type(SearchSchemaElementType::from(element.search_schema_element_type.as_str()))
                .build()
                .expect("search schema element")
        });
        VectorIndex::builder()
            .index_name(&index.index_name)
            .vector_attribute(
                VectorAttributeDefinition::builder()
                    .attribute_name(&index.vector_attribute.attribute_name)
                    .build()
                    .expect("vector attribute"),
            )
            .dimensions(vector_dimensions.unwrap_or(index.dimensions))
            .distance_function(VectorDistanceFunction::from(index.distance_function.as_str()))
            .set_search_schema(Some(schema.collect()))
            .projection(projection(&index.projection))
            .build()
            .expect("vector index")
    });
    dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes.collect()))
        .set_key_schema(Some(key_schema(&spec.key_schema)))
        .set_global_secondary_indexes(Some(indexes.collect()))
        .set_vector_indexes(Some(vector_indexes.collect()))
        .send()
        .await?;
    Ok(())
}

/// The default embedder (`EMBEDDER=static`), as every function that embeds builds it.
fn embedder() -> shared::search::TextEmbedder {
    shared::search::TextEmbedder::Static(
        shared::search::StaticEmbedder::builtin().expect("the built-in embedding table parses"),
    )
}

pub fn token(sub: &str, role: &str) -> String {
    signed_token(json!({ "sub": sub, "role": role, "exp": jsonwebtoken::get_current_timestamp() + 600 }))
}

pub fn signed_token(claims: Value) -> String {
    encode(&Header::default(), &claims, &EncodingKey::from_secret(DEV_SECRET.as_bytes())).expect("sign token")
}

/// An API Gateway v2 event, starting from a fixture in events/ and adjusted per test.
#[derive(Clone)]
pub struct Call {
    event: Value,
    query: Vec<(String, String)>,
    /// The Lambda invocation's time left, as the runtime would give it.
    deadline: Option<std::time::Duration>,
}

pub fn load_fixture(name: &str) -> Value {
    let path = repo_root().join("events").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture is JSON")
}

impl Call {
    pub fn fixture(name: &str) -> Self {
        let event = load_fixture(name);
        let query = event["queryStringParameters"]
            .as_object()
            .map(|params| params.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
            .unwrap_or_default();
        Self { event, query, deadline: None }.by_user("alice")
    }

    /// The fixture exactly as committed, token included.
    pub fn fixture_as_is(name: &str) -> Self {
        let mut call = Self::fixture(name);
        call.event = load_fixture(name);
        call
    }

    /// Replaces every occurrence of a placeholder (path, body, parameters) in the event.
    pub fn replacing(mut self, placeholder: &str, value: &str) -> Self {
        if value.is_empty() {
            return self;
        }
        let text = self.event.to_string().replace(placeholder, value);
        self.event = serde_json::from_str(&text).expect("still JSON");
        for (_, query_value) in &mut self.query {
            *query_value = query_value.replace(placeholder, value);
        }
        self
    }

    pub fn list() -> Self {
        Self::fixture("list-items.ok")
    }

    pub fn get(id: &str) -> Self {
        Self::fixture("get-item.ok").id(id)
    }

    pub fn create(body: Value) -> Self {
        Self::fixture("create-item.ok").json(&body)
    }

    pub fn replace(id: &str, body: Value) -> Self {
        Self::fixture("replace-item.ok").id(id).json(&body)
    }

    pub fn update(id: &str, body: Value) -> Self {
        Self::fixture("update-item.ok").id(id).json(&body)
    }

    pub fn delete(id: &str) -> Self {
        Self::fixture("delete-item.ok").id(id)
    }

    pub fn id(mut self, id: &str) -> Self {
        let path = format!("/api/items/{id}");
        self.event["pathParameters"] = json!({ "id": id });
        self.event["rawPath"] = json!(path);
        self.event["requestContext"]["http"]["path"] = json!(path);
        self
    }

    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Sets a query parameter, replacing any the fixture had.
    pub fn set_query(mut self, key: &str, value: &str) -> Self {
        self.query.retain(|(k, _)| k != key);
        self.query(key, value)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name] = json!(value);
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        if let Some(headers) = self.event["headers"].as_object_mut() {
            headers.remove(name);
        }
        self
    }

    pub fn by_user(self, sub: &str) -> Self {
        self.bearer(&token(sub, "user"))
    }

    pub fn by(self, sub: &str, role: &str) -> Self {
        self.bearer(&token(sub, role))
    }

    /// What API Gateway's JWT authorizer puts in the request context after verifying a token.
    pub fn gateway_claims(mut self, claims: Value) -> Self {
        self.event["requestContext"]["authorizer"] = json!({ "jwt": { "claims": claims, "scopes": null } });
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json").body(&body.to_string())
    }

    pub fn body(mut self, text: &str) -> Self {
        self.event["body"] = json!(text);
        self
    }

    /// Runs as an invocation whose deadline is `left` from now (without one, a write settles within
    /// its own budget).
    pub fn deadline_in(mut self, left: std::time::Duration) -> Self {
        self.deadline = Some(left);
        self
    }

    pub fn request(&self) -> Request {
        let mut event = self.event.clone();
        let raw_query: Vec<String> =
            self.query.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
        event["rawQueryString"] = json!(raw_query.join("&"));
        let mut joined: HashMap<&str, Vec<&str>> = HashMap::new();
        for (k, v) in &self.query {
            joined.entry(k).or_default().push(v);
        }
        // API Gateway joins repeated parameters with commas in this field.
        event["queryStringParameters"] =
            json!(joined.into_iter().map(|(k, v)| (k, v.join(","))).collect::<HashMap<_, _>>());
        let request = lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event");
        match self.deadline {
            Some(left) => {
                let deadline = std::time::SystemTime::now() + left;
                let millis = deadline.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
                let mut context = lambda_http::Context::default();
                context.deadline = u64::try_from(millis).unwrap_or(u64::MAX);
                lambda_http::RequestExt::with_lambda_context(request, context)
            }
            None => request,
        }
    }
}

fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("<none>")
    }

    /// `(field, code)` of each validation detail, sorted.
    pub fn bad_fields(&self) -> Vec<(String, String)> {
        let mut fields: Vec<_> = self.body["error"]["details"]
            .as_array()
            .map(|details| {
                details
                    .iter()
                    .map(|d| {
                        (d["field"].as_str().unwrap_or("").to_owned(), d["code"].as_str().unwrap_or("").to_owned())
                    })
                    .collect()
            })
            .unwrap_or_default();
        fields.sort();
        fields
    }
}

impl TestApp {
    /// Routes the request to the function API Gateway would invoke for it.
    pub async fn send(&self, call: Call) -> Reply {
        dispatch(&self.app, call).await
    }

    /// Creates an item as `owner` (role user) and returns its JSON.
    pub async fn create_as(&self, owner: &str, body: Value) -> Value {
        let reply = self.send(Call::create(body).by_user(owner)).await;
        assert_eq!(reply.status, 201, "create failed: {:?}", reply.body);
        reply.body["data"].clone()
    }

    /// Another container of any function: the same table, queue and configuration, its own
    /// caches, limiter leases and connections.
    pub fn container(&self) -> App {
        self.container_with_cache(self.config.cache.clone())
    }

    /// Another container whose item cache is configured as `cache`.
    pub fn container_with_cache(&self, cache: CacheConfig) -> App {
        let config = Config { cache, ..self.config.clone() };
        App::new(&config, self.dynamo.clone(), shared::app::sqs_client(&self.aws, &Exporter::to_log()), embedder())
    }

    /// A fault proxy in front of moto, and a container of every function whose AWS calls pass
    /// through it.
    pub async fn behind_fault_proxy(&self) -> (Arc<crate::proxy::FaultProxy>, App) {
        let moto = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
        let proxy = crate::proxy::FaultProxy::start(&moto).await;
        let app = self.container_via(&proxy.url());
        (proxy, app)
    }

    /// Another container whose DynamoDB and SQS clients (built as production builds them: retries,
    /// attempt timeouts) reach moto through `endpoint`, e.g. a fault proxy.
    pub fn container_via(&self, endpoint: &str) -> App {
        let aws = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"),
            ))
            .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .build();
        App::new(
            &self.config,
            shared::app::dynamo_client(&aws, &Exporter::to_log()),
            shared::app::sqs_client(&aws, &Exporter::to_log()),
            embedder(),
        )
    }

    /// Another container whose DynamoDB and SQS clients are built as production builds them and
    /// send the X-Ray subsegments of sampled calls to `xray` (e.g. a UDP socket the test reads).
    pub fn container_traced(&self, xray: &Exporter) -> App {
        App::new(
            &self.config,
            shared::app::dynamo_client(&self.aws, xray),
            shared::app::sqs_client(&self.aws, xray),
            embedder(),
        )
    }

    /// Another container whose SQS client also runs `interceptor`: to see what is sent where moto
    /// does not keep it.
    pub fn container_intercepting_sqs(&self, interceptor: impl Intercept + 'static) -> App {
        let sqs = shared::app::sqs_client(&self.aws, &Exporter::to_log());
        let sqs = aws_sdk_sqs::Client::from_conf(sqs.config().to_builder().interceptor(interceptor).build());
        App::new(&self.config, self.dynamo.clone(), sqs, embedder())
    }

    /// Sends `call` to the function serving its route in `container`.
    pub async fn send_to(&self, container: &App, call: Call) -> Reply {
        dispatch(container, call).await
    }

    /// Another app on the same table whose SQS endpoint refuses connections: SQS "is down".
    pub fn with_sqs_down(&self) -> App {
        let dead = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:1")
            .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "tests"),
            ))
            .build();
        App::new(&self.config, self.dynamo.clone(), shared::app::sqs_client(&dead, &Exporter::to_log()), embedder())
    }

    /// Sends a raw message body to this test's index queue.
    pub async fn send_to_index_queue(&self, body: &str) {
        self.sqs.send_message().queue_url(&self.queue_url).message_body(body).send().await.expect("send");
    }

    /// Receives up to 10 messages from the index queue as the SQS event Lambda would deliver,
    /// with the `AWSTraceHeader` system attribute where a message has one, as Lambda passes it.
    pub async fn receive_index_batch(&self) -> SqsEvent {
        self.try_receive_index_batch().await.expect("receive")
    }

    async fn try_receive_index_batch(&self) -> Result<SqsEvent, QueueError> {
        let received = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader)
            .send()
            .await?;
        let records: Vec<Value> = received
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| {
                let attributes: HashMap<String, String> = m
                    .attributes
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(name, value)| (name.as_str().to_owned(), value))
                    .collect();
                json!({
                    "messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                    "eventSource": "aws:sqs", "awsRegion": "us-east-1", "attributes": attributes,
                    "messageAttributes": {}
                })
            })
            .collect();
        Ok(serde_json::from_value(json!({ "Records": records }))?)
    }

    /// Runs the index worker over everything queued, as the SQS event source mapping would:
    /// messages it reports failed stay queued. Returns (processed, failed).
    pub async fn run_index_worker(&self) -> (usize, usize) {
        self.try_run_index_worker().await.expect("the queue answers")
    }

    /// `run_index_worker`, with the queue's own failures (a receive or delete the local SQS did not
    /// answer) returned rather than panicking: for a worker that keeps polling, as Lambda's does.
    pub async fn try_run_index_worker(&self) -> Result<(usize, usize), QueueError> {
        let (mut processed, mut failed) = (0, 0);
        loop {
            let event = self.try_receive_index_batch().await?;
            if event.records.is_empty() {
                return Ok((processed, failed));
            }
            let response = shared::worker::handle_batch(&self.app.worker, event.clone()).await;
            let failures: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
            for message in &event.records {
                if failures.contains(&message.message_id.as_deref().unwrap_or_default()) {
                    failed += 1;
                    continue;
                }
                processed += 1;
                let handle = message.receipt_handle.clone().unwrap_or_default();
                self.sqs.delete_message().queue_url(&self.queue_url).receipt_handle(handle).send().await?;
            }
            if !failures.is_empty() {
                return Ok((processed, failed));
            }
        }
    }

    /// DynamoDB operations started so far through the app's client (test setup included).
    pub fn dynamo_calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// The rate limiter's count for `group#subject`, summed over its windows.
    pub async fn rate_window_hits(&self, group_and_subject: &str) -> u32 {
        let windows = self
            .dynamo
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("RATE#{group_and_subject}")),
            )
            .send()
            .await
            .expect("query rate windows");
        windows.items().iter().filter_map(|window| window.get("hits")?.as_n().ok()?.parse::<u32>().ok()).sum()
    }

    /// Records whose sort key starts with `prefix` (e.g. "ORDER", "LINE#", "ITEM").
    pub async fn count_sort_keys(&self, prefix: &str) -> usize {
        let scan = self
            .dynamo
            .scan()
            .table_name(&self.table)
            .filter_expression("begins_with(#sk, :prefix)")
            .expression_attribute_names("#sk", "sk")
            .expression_attribute_values(":prefix", aws_sdk_dynamodb::types::AttributeValue::S(prefix.to_owned()))
            .select(aws_sdk_dynamodb::types::Select::Count);
        scan.send().await.expect("scan").count() as usize
    }

    /// Items stored (records with sort key `ITEM`).
    pub async fn item_count(&self) -> usize {
        self.count_sort_keys("ITEM").await
    }
}

/// Routes the request to the function API Gateway would invoke for it, in `app`'s container.
async fn dispatch(app: &App, call: Call) -> Reply {
    let request = call.request();
    let route = call.event["routeKey"].as_str().unwrap_or_default().to_owned();
    let response = shared::http::route::dispatch(app.apis(), &route, request)
        .await
        .unwrap_or_else(|| panic!("no function for route {route}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = match response.body() {
        Body::Empty => Value::Null,
        body => serde_json::from_slice(body.as_ref()).expect("every response body is JSON"),
    };
    Reply { status, headers, body }
}

pub fn id_of(item: &Value) -> String {
    item["id"].as_str().expect("item has an id").to_owned()
}

/// `count` copies of the stored item `template`, under new ids that all fall in one listing shard
/// (a hot shard, as a skewed catalog would make one), priced `price(n)`. Returns their ids.
pub async fn copies_in_one_shard(app: &TestApp, template: &str, count: u64, price: impl Fn(u64) -> u64) -> Vec<String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    use shared::repository::keys;
    let key = HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("ITEM#{template}"))),
        ("sk".to_owned(), AttributeValue::S("ITEM".to_owned())),
    ]);
    let stored = app.dynamo.get_item().table_name(&app.table).set_key(Some(key)).send().await.unwrap().item.unwrap();
    let status = stored["status"].as_s().unwrap().clone();
    let shard = keys::shard_of(ItemId::new(Timestamp::now()));
    let mut ids = Vec::new();
    while (ids.len() as u64) < count {
        let id = ItemId::new(Timestamp::now());
        if keys::shard_of(id) != shard {
            continue;
        }
        let n = ids.len() as u64;
        let price = shared::domain::Money::new(price(n)).unwrap();
        let mut record = stored.clone();
        let text = |value: String| AttributeValue::S(value);
        record.insert("pk".to_owned(), text(keys::item_pk(id)));
        record.insert("id".to_owned(), text(id.to_string()));
        record.insert("list_pk".to_owned(), text(keys::list_partition(shard)));
        record.insert("status_pk".to_owned(), text(format!("ITEM#STATUS#{status}#{shard:02}")));
        record.insert("price".to_owned(), AttributeValue::N(price.get().to_string()));
        record.insert("price_sk".to_owned(), text(keys::price_sort_key(price, id)));
        app.dynamo.put_item().table_name(&app.table).set_item(Some(record)).send().await.unwrap();
        ids.push(id.to_string());
    }
    ids
}

/// A small deterministic generator (xorshift): each simulated client's own reproducible stream.
pub struct Dice(pub u64);

impl Dice {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        if n == 0 { 0 } else { self.0 % n }
    }
}
