//! X-Ray trace context from the API to the worker: a sampled write's index job carries the
//! request's trace header (`AWSTraceHeader`) and request id through SQS, the worker logs and
//! traces its work under that trace, and every DynamoDB and SQS call of a sampled invocation is
//! exported as a subsegment of the function's segment. The exporter is pointed at a UDP socket
//! the test opens (a stand-in for the daemon), per container, so parallel tests do not mix.

use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchInput;
use aws_sdk_sqs::types::MessageSystemAttributeNameForSends;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_types::config_bag::ConfigBag;
use serde_json::{Value, json};
use shared::xray::Exporter;
use tracing::level_filters::LevelFilter;

use crate::helpers::{Call, id_of, spawn_app};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn trace_header(sampled: bool) -> String {
    format!("Root={ROOT};Parent={PARENT};Sampled={}", u8::from(sampled))
}

/// A stand-in for the X-Ray daemon: a UDP socket on loopback that collects what is sent to it.
struct Daemon(UdpSocket);

impl Daemon {
    fn start() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        socket.set_read_timeout(Some(Duration::from_millis(200))).expect("read timeout");
        Self(socket)
    }

    fn exporter(&self) -> Exporter {
        let address: SocketAddr = self.0.local_addr().expect("local address");
        Exporter::to_daemon(address)
    }

    /// Every subsegment received so far, each checked to be a daemon packet: the header line,
    /// then one JSON document. Subsegments are sent before the SDK call returns, so they are here
    /// once the request has been answered.
    fn received(&self) -> Vec<Value> {
        let mut documents = Vec::new();
        let mut buffer = [0u8; 65_536];
        while let Ok(length) = self.0.recv(&mut buffer) {
            let packet = std::str::from_utf8(&buffer[..length]).expect("UTF-8 packet");
            let (header, document) = packet.split_once('\n').expect("header line, then document");
            assert_eq!(header, r#"{"format": "json", "version": 1}"#);
            documents.push(serde_json::from_str(document).expect("a JSON document"));
        }
        documents
    }
}

fn subsegment<'a>(documents: &'a [Value], service: &str, operation: &str) -> &'a Value {
    documents
        .iter()
        .find(|document| document["name"] == service && document["aws"]["operation"] == operation)
        .unwrap_or_else(|| panic!("no {service} {operation} subsegment in {documents:#?}"))
}

/// The JSON log lines written on this test's thread while it holds the guard, in the format
/// the functions log in (`shared::telemetry::json_subscriber`).
struct Logs {
    written: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture() -> Self {
        // tracing-core asks only the registering thread's default when a single dispatcher is
        // registered, so a call site first reached by another test's thread (no subscriber) would
        // be cached as never enabled, for this test too. A global no-op dispatcher makes two, and
        // then every live dispatcher is asked.
        static GLOBAL: Once = Once::new();
        GLOBAL.call_once(|| {
            let _ = tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
        });
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = written.clone();
        let subscriber = shared::telemetry::json_subscriber(LevelFilter::DEBUG, move || Sink(sink.clone()));
        Self { written, _guard: tracing::subscriber::set_default(subscriber) }
    }

    fn lines(&self) -> Vec<Value> {
        let written = self.written.lock().expect("log buffer").clone();
        String::from_utf8(written)
            .expect("UTF-8 logs")
            .lines()
            .map(|line| serde_json::from_str(line).expect("each log line is JSON"))
            .collect()
    }

    fn with_message(&self, message: &str) -> Vec<Value> {
        self.lines().into_iter().filter(|line| line["message"] == message).collect()
    }
}

#[tokio::test]
async fn a_sampled_write_is_traced_through_the_queue_into_the_worker() {
    let app = spawn_app().await;
    let daemon = Daemon::start();
    let container = app.container_traced(&daemon.exporter());
    let logs = Logs::capture();

    let header = trace_header(true);
    let write = Call::create(json!({"name": "Traced lamp", "price": 12, "status": "active"}))
        .header("x-amzn-trace-id", &header)
        .replacing("fixture-request-id", "req-traced-write");
    let reply = app.send_to(&container, write).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.header("x-request-id"), Some("req-traced-write"));
    let item_id = id_of(&reply.body["data"]);

    // The API's calls: children of the function segment (the header's Parent), in its trace.
    let api = daemon.received();
    let put = subsegment(&api, "DynamoDB", "PutItem");
    assert_eq!(put["trace_id"], ROOT);
    assert_eq!(put["parent_id"], PARENT);
    assert_eq!((put["type"].as_str(), put["namespace"].as_str()), (Some("subsegment"), Some("aws")));
    assert_eq!(put["aws"]["table_name"], app.table);
    assert_eq!(put["http"]["response"]["status"], 200);
    assert_eq!(
        (put["error"].as_bool(), put["throttle"].as_bool(), put["fault"].as_bool()),
        (Some(false), Some(false), Some(false))
    );
    assert!(put["id"].as_str().is_some_and(|id| id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())));
    assert!(put["end_time"].as_f64() >= put["start_time"].as_f64() && put["start_time"].as_f64() > Some(1.7e9));
    let send = subsegment(&api, "SQS", "SendMessage");
    assert_eq!((send["trace_id"].as_str(), send["parent_id"].as_str()), (Some(ROOT), Some(PARENT)));
    assert_eq!(send["aws"]["queue_url"], app.queue_url);

    // The job's message, received as Lambda's SQS integration receives it.
    let event = app.receive_index_batch().await;
    assert_eq!(event.records.len(), 1);
    let message = &event.records[0];
    assert_eq!(message.attributes.get("AWSTraceHeader"), Some(&header), "the same trace crosses SQS");
    let job: Value = serde_json::from_str(message.body.as_deref().expect("body")).expect("job JSON");
    assert_eq!(job["request_id"], "req-traced-write");

    let outcome = shared::worker::handle_batch(&container.worker, event.clone()).await;
    assert!(outcome.batch_item_failures.is_empty());

    // The worker's calls join the request's trace, under the same parent.
    let worker = daemon.received();
    let read = subsegment(&worker, "DynamoDB", "GetItem");
    assert_eq!(read["aws"]["table_name"], app.table);
    assert!(worker.len() >= 2, "the read and the vector write at least: {worker:#?}");
    for document in &worker {
        assert_eq!((document["trace_id"].as_str(), document["parent_id"].as_str()), (Some(ROOT), Some(PARENT)));
    }

    // One log line per job, in the job's span: what, which message, which request, which trace.
    let indexed = logs.with_message("indexed");
    assert_eq!(indexed.len(), 1, "{indexed:#?}");
    let span = &indexed[0]["span"];
    assert_eq!(span["name"], "index_job");
    assert_eq!(span["item_id"], item_id.as_str());
    assert_eq!(span["version"], 1);
    assert_eq!(span["op"], "upsert");
    assert_eq!(span["message_id"], message.message_id.as_deref().expect("message id"));
    assert_eq!(span["request_id"], "req-traced-write");
    assert_eq!(span["trace_id"], ROOT);
    let request_log = logs.with_message("request completed");
    assert_eq!(request_log[0]["span"]["trace_id"], ROOT, "the API's line names the trace by its root too");
}

#[tokio::test]
async fn an_unsampled_request_exports_nothing_and_still_passes_its_trace_on() {
    let app = spawn_app().await;
    let daemon = Daemon::start();
    let container = app.container_traced(&daemon.exporter());
    let logs = Logs::capture();

    let header = trace_header(false);
    let write =
        Call::create(json!({"name": "Quiet lamp", "price": 3, "status": "active"})).header("x-amzn-trace-id", &header);
    assert_eq!(app.send_to(&container, write).await.status, 201);
    let event = app.receive_index_batch().await;
    assert_eq!(event.records[0].attributes.get("AWSTraceHeader"), Some(&header), "sampling is the consumer's call");
    assert!(shared::worker::handle_batch(&container.worker, event).await.batch_item_failures.is_empty());

    assert_eq!(daemon.received(), Vec::<Value>::new(), "no subsegment of an unsampled trace");
    assert_eq!(logs.with_message("indexed")[0]["span"]["trace_id"], ROOT, "logs name the trace anyway");
}

#[tokio::test]
async fn without_a_daemon_subsegments_are_debug_log_lines() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Logged lamp", "price": 4, "status": "active"})).await;
    let container = app.container_traced(&Exporter::to_log());
    let logs = Logs::capture();

    let read = Call::get(&id_of(&item)).header("x-amzn-trace-id", &trace_header(true));
    assert_eq!(app.send_to(&container, read).await.status, 200);

    let exported = logs.with_message("xray subsegment");
    assert_eq!(exported.len(), 1, "one GetItem: {exported:#?}");
    assert_eq!(exported[0]["level"], "DEBUG");
    let document: Value =
        serde_json::from_str(exported[0]["subsegment"].as_str().expect("the document")).expect("JSON");
    assert_eq!((document["name"].as_str(), document["aws"]["operation"].as_str()), (Some("DynamoDB"), Some("GetItem")));
    assert_eq!((document["trace_id"].as_str(), document["parent_id"].as_str()), (Some(ROOT), Some(PARENT)));
}

/// One entry of a `SendMessageBatch`: its `AWSTraceHeader`, if any, and its body.
type SentEntry = (Option<String>, String);

/// Records every entry of every `SendMessageBatch` the client starts.
#[derive(Debug, Default)]
struct BatchTraceHeaders(Arc<Mutex<Vec<SentEntry>>>);

impl Intercept for BatchTraceHeaders {
    fn name(&self) -> &'static str {
        "BatchTraceHeaders"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(input) = context.input().downcast_ref::<SendMessageBatchInput>() {
            let mut seen = self.0.lock().expect("recorded");
            for entry in input.entries() {
                let header = entry
                    .message_system_attributes()
                    .and_then(|attributes| attributes.get(&MessageSystemAttributeNameForSends::AwsTraceHeader))
                    .and_then(|value| value.string_value())
                    .map(str::to_owned);
                seen.push((header, entry.message_body().to_owned()));
            }
        }
        Ok(())
    }
}

/// moto (5.2.5) keeps `MessageSystemAttributes` of `SendMessage` but drops those of
/// `SendMessageBatch` entries, so the reconciler's batches are checked as sent, not as received.
#[tokio::test]
async fn the_reconcilers_batches_carry_the_trace_and_request_of_the_reindex_call() {
    let app = spawn_app().await;
    app.create_as("alice", json!({"name": "Pending lamp", "price": 7, "status": "active"})).await;
    let recorded = BatchTraceHeaders::default();
    let seen = recorded.0.clone();
    let container = app.container_intercepting_sqs(recorded);

    let header = trace_header(true);
    let reindex = Call::fixture("reindex.ok")
        .by("root", "admin")
        .header("x-amzn-trace-id", &header)
        .replacing("fixture-request-id", "req-reindex");
    let reply = app.send_to(&container, reindex).await;
    assert_eq!(reply.body["data"]["enqueued"], 1, "{:?}", reply.body);

    let seen = seen.lock().expect("recorded").clone();
    assert_eq!(seen.len(), 1);
    let (sent_header, body) = &seen[0];
    assert_eq!(sent_header.as_deref(), Some(header.as_str()));
    let job: Value = serde_json::from_str(body).expect("job JSON");
    assert_eq!(job["request_id"], "req-reindex");
}
