//! A fault-injecting HTTP/1.1 proxy in front of moto: lost responses, slow answers, throttling,
//! canned errors and connection resets, chosen per operation (and request body) by rules.
//!
//! Point an SDK client at [`FaultProxy::url`] instead of `AWS_ENDPOINT_URL`; requests that no rule
//! matches are forwarded to moto unchanged (each over a new upstream connection).

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put, ScalarAttributeType,
    TransactWriteItem,
};

/// Longest request or response head accepted, in bytes.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request or response body accepted, in bytes.
const MAX_BODY: usize = 64 * 1024 * 1024;

/// A proxy listening on 127.0.0.1, forwarding to one upstream and applying [`Rule`]s.
pub struct FaultProxy {
    addr: SocketAddr,
    /// `host:port` of the upstream.
    upstream: String,
    rules: Mutex<Vec<Rule>>,
    seen: Mutex<HashMap<String, usize>>,
    fired: AtomicUsize,
    /// Times each kind of fault fired, by the fault's name.
    fired_by_kind: Mutex<HashMap<&'static str, usize>>,
    /// Draws for rules that fire only sometimes (xorshift; a fixed seed, as reproducible as the
    /// order of concurrent requests allows).
    dice: Mutex<u64>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream` (e.g. "http://127.0.0.1:5000", the AWS_ENDPOINT_URL).
    pub async fn start(upstream: &str) -> Arc<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the fault proxy");
        let proxy = Arc::new(FaultProxy {
            addr: listener.local_addr().expect("fault proxy address"),
            upstream: authority(upstream),
            rules: Mutex::new(Vec::new()),
            seen: Mutex::new(HashMap::new()),
            fired: AtomicUsize::new(0),
            fired_by_kind: Mutex::new(HashMap::new()),
            dice: Mutex::new(0x9E37_79B9_7F4A_7C15),
        });
        let serving = proxy.clone();
        tokio::spawn(async move {
            loop {
                match listener.accept().await {
                    Ok((client, _)) => {
                        let proxy = serving.clone();
                        tokio::spawn(async move {
                            let _ = serve(&proxy, client).await;
                        });
                    }
                    // Out of file descriptors and the like: back off rather than spin.
                    Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                }
            }
        });
        proxy
    }

    /// "http://127.0.0.1:PORT"
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a rule; rules are tried in insertion order, the first that matches (and has uses left) applies.
    pub fn inject(&self, rule: Rule) {
        assert!(rule.fault.is_some(), "Rule::on({:?}) needs a .fault(..)", rule.operation);
        lock(&self.rules).push(rule);
    }

    /// Requests seen so far whose operation is `operation` (e.g. "TransactWriteItems"), faulted or not.
    pub fn seen(&self, operation: &str) -> usize {
        lock(&self.seen).get(operation).copied().unwrap_or(0)
    }

    /// Times each kind of fault has fired (e.g. "DropResponse").
    pub fn fired_by_kind(&self) -> HashMap<&'static str, usize> {
        lock(&self.fired_by_kind).clone()
    }

    /// Requests seen so far, of every operation.
    pub fn seen_total(&self) -> usize {
        lock(&self.seen).values().sum()
    }

    /// Times rules have fired in total.
    pub fn fired(&self) -> usize {
        self.fired.load(Ordering::SeqCst)
    }

    fn roll(&self, per_thousand: u64) -> bool {
        if per_thousand >= 1000 {
            return true;
        }
        let mut state = lock(&self.dice);
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state % 1000 < per_thousand
    }

    /// Counts the request, then consumes one use of the first rule that matches it, if any.
    fn on_request(&self, operation: &str, body: &[u8]) -> Option<Fault> {
        *lock(&self.seen).entry(operation.to_owned()).or_default() += 1;
        let mut rules = lock(&self.rules);
        let rule = rules
            .iter_mut()
            .find(|rule| rule.uses > 0 && rule.matches(operation, body) && self.roll(rule.per_thousand))?;
        rule.uses -= 1;
        self.fired.fetch_add(1, Ordering::SeqCst);
        if let Some(fault) = &rule.fault {
            *lock(&self.fired_by_kind).entry(fault.kind()).or_default() += 1;
        }
        rule.fault.clone()
    }
}

/// Which requests to fault, how often, and how.
#[derive(Debug, Clone)]
pub struct Rule {
    operation: String,
    containing: Vec<String>,
    uses: usize,
    /// Of the requests it matches, how many in a thousand it fires on.
    per_thousand: u64,
    fault: Option<Fault>,
}

impl Rule {
    /// Matches the operation name; "*" matches any.
    pub fn on(operation: &str) -> Rule {
        Rule { operation: operation.to_owned(), containing: Vec::new(), uses: 1, per_thousand: 1000, fault: None }
    }

    /// And the request body contains `text` (e.g. an item id, "IDEMPOTENCY#"); repeatable, all must match.
    pub fn containing(mut self, text: &str) -> Rule {
        self.containing.push(text.to_owned());
        self
    }

    /// Fires at most `n` times (default 1), then passes through.
    pub fn times(mut self, n: usize) -> Rule {
        self.uses = n;
        self
    }

    /// Fires on about `per_thousand` of every thousand requests it matches (default: all).
    pub fn sometimes(mut self, per_thousand: u64) -> Rule {
        self.per_thousand = per_thousand;
        self
    }

    /// What to do to a matching request (required).
    pub fn fault(mut self, fault: Fault) -> Rule {
        self.fault = Some(fault);
        self
    }

    fn matches(&self, operation: &str, body: &[u8]) -> bool {
        (self.operation == "*" || self.operation == operation)
            && self.containing.iter().all(|text| find(body, text.as_bytes()).is_some())
    }
}

#[derive(Debug, Clone)]
pub enum Fault {
    /// Wait, then forward normally.
    DelayRequest(Duration),
    /// Forward to upstream and read its whole answer (so the write happened), then close the client
    /// connection without answering (a lost response).
    DropResponse,
    /// Forward, then hold the answer this long before sending it (longer than the SDK's attempt
    /// timeout = a lost response the SDK retries after timing out).
    DelayResponse(Duration),
    /// Do not forward; answer with a throttling error in the protocol of the request (DynamoDB JSON,
    /// SQS JSON, or, for query-protocol requests, an XML `Throttling` error).
    Throttle,
    /// Do not forward; answer exactly this status, content-type application/x-amz-json-1.0 and body
    /// (e.g. a TransactionCanceledException with chosen CancellationReasons).
    Respond { status: u16, body: String },
    /// Do not forward; reset the connection (SO_LINGER 0, then drop).
    Reset,
}

impl Fault {
    /// The fault's name, for counting.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::DelayRequest(_) => "DelayRequest",
            Fault::DropResponse => "DropResponse",
            Fault::DelayResponse(_) => "DelayResponse",
            Fault::Throttle => "Throttle",
            Fault::Respond { .. } => "Respond",
            Fault::Reset => "Reset",
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// "http://host:port/anything" → "host:port" (port 80 if none).
fn authority(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let host = rest.split(['/', '?']).next().unwrap_or(rest);
    if host.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
        host.to_owned()
    } else {
        format!("{host}:80")
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|window| window == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

/// A message head: the start line and the header lines, as received.
struct Head {
    start: String,
    lines: Vec<String>,
}

impl Head {
    /// `bytes` ends with the blank line.
    fn parse(bytes: &[u8]) -> io::Result<Head> {
        let text = std::str::from_utf8(bytes).map_err(|_| invalid("head is not UTF-8"))?;
        let mut lines = text.trim_end_matches("\r\n").split("\r\n");
        let start = lines.next().unwrap_or_default().to_owned();
        let lines: Vec<String> = lines.map(str::to_owned).collect();
        if lines.iter().any(|line| !line.contains(':')) {
            return Err(invalid("malformed header line"));
        }
        Ok(Head { start, lines })
    }

    fn name(line: &str) -> &str {
        line.split_once(':').map_or(line, |(name, _)| name.trim())
    }

    /// The first value of header `name` (case-insensitive).
    fn get(&self, name: &str) -> Option<&str> {
        self.lines
            .iter()
            .filter_map(|line| line.split_once(':'))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
    }

    /// Whether a comma-separated header `name` lists `token` (case-insensitive).
    fn has_token(&self, name: &str, token: &str) -> bool {
        self.lines
            .iter()
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .any(|(_, value)| value.split(',').any(|item| item.trim().eq_ignore_ascii_case(token)))
    }

    fn content_length(&self) -> io::Result<Option<usize>> {
        match self.get("content-length") {
            None => Ok(None),
            Some(value) => match value.parse::<usize>() {
                Ok(length) if length <= MAX_BODY => Ok(Some(length)),
                _ => Err(invalid("bad content-length")),
            },
        }
    }

    /// Whether the connection ends after this message: `connection: close`, or HTTP/1.0 without keep-alive.
    fn closes(&self) -> bool {
        self.has_token("connection", "close") || (self.is_http_10() && !self.has_token("connection", "keep-alive"))
    }

    fn is_http_10(&self) -> bool {
        self.start.starts_with("HTTP/1.0") || self.start.ends_with("HTTP/1.0")
    }
}

/// Reads into `buf` until it holds a whole head; the head's length, or `None` on EOF before any byte.
async fn read_head(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        if let Some(at) = find(buf, b"\r\n\r\n") {
            return Ok(Some(at + 4));
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("head too long"));
        }
        if stream.read_buf(buf).await? == 0 {
            return if buf.is_empty() { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
    }
}

/// Reads into `buf` until it holds at least `length` bytes.
async fn read_at_least(stream: &mut TcpStream, buf: &mut Vec<u8>, length: usize) -> io::Result<()> {
    while buf.len() < length {
        if stream.read_buf(buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}

struct Request {
    head: Head,
    body: Vec<u8>,
}

impl Request {
    /// The next request on a client connection; `None` when the client closed it between requests.
    /// `pending` carries bytes read past the end of one request over to the next.
    async fn read(client: &mut TcpStream, pending: &mut Vec<u8>) -> io::Result<Option<Request>> {
        let Some(head_length) = read_head(client, pending).await? else {
            return Ok(None);
        };
        let head = Head::parse(&pending[..head_length])?;
        if head.get("transfer-encoding").is_some() {
            return Err(invalid("chunked requests are not supported"));
        }
        let end = head_length + head.content_length()?.unwrap_or(0);
        read_at_least(client, pending, end).await?;
        let body = pending[head_length..end].to_vec();
        pending.drain(..end);
        Ok(Some(Request { head, body }))
    }

    /// From `x-amz-target` (the part after the last '.'), else the body's `Action=` parameter.
    fn operation(&self) -> String {
        if let Some(target) = self.head.get("x-amz-target") {
            return target.rsplit('.').next().unwrap_or(target).to_owned();
        }
        self.action().unwrap_or_default().to_owned()
    }

    fn action(&self) -> Option<&str> {
        std::str::from_utf8(&self.body).ok()?.split('&').find_map(|pair| pair.strip_prefix("Action="))
    }

    fn wants_close(&self) -> bool {
        self.head.closes()
    }

    /// The request as received, but asking upstream to close the connection after answering.
    fn to_upstream(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.body.len() + 1024);
        bytes.extend_from_slice(self.head.start.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        for line in &self.head.lines {
            let name = Head::name(line);
            if ["connection", "keep-alive", "proxy-connection"].iter().any(|hop| name.eq_ignore_ascii_case(hop)) {
                continue;
            }
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"connection: close\r\n\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// A throttling error in the request's protocol.
    fn throttled(&self) -> Vec<u8> {
        match self.head.get("x-amz-target") {
            Some(target) if target.to_ascii_lowercase().starts_with("amazonsqs.") => answer(
                400,
                "application/x-amz-json-1.0",
                &[("x-amzn-query-error", "ThrottlingException;Sender")],
                r#"{"__type":"com.amazonaws.sqs#ThrottlingException","message":"throttled"}"#,
            ),
            None if self.action().is_some() => answer(
                400,
                "text/xml",
                &[],
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>throttled</Message></Error>\
                 <RequestId>fault-proxy</RequestId></ErrorResponse>",
            ),
            _ => answer(
                400,
                "application/x-amz-json-1.0",
                &[],
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
            ),
        }
    }
}

/// A complete response, kept-alive unless `connection: close`.
fn answer(status: u16, content_type: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut text =
        format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text.push_str("\r\n");
    text.push_str(body);
    text.into_bytes()
}

/// Upstream's whole answer, as received.
struct Response {
    bytes: Vec<u8>,
    /// Whether the client connection may serve another request after this answer.
    keep_alive: bool,
}

/// Sends `request` upstream over a new connection and reads the whole answer.
async fn forward(upstream: &str, request: &Request) -> io::Result<Response> {
    let mut stream = TcpStream::connect(upstream).await?;
    stream.write_all(&request.to_upstream()).await?;
    let mut bytes = Vec::new();
    let head_length = read_head(&mut stream, &mut bytes).await?.ok_or(io::ErrorKind::UnexpectedEof)?;
    let head = Head::parse(&bytes[..head_length])?;
    let mut delimited_by_eof = false;
    if head.get("transfer-encoding").is_some() {
        // Chunked: upstream closes after answering (we asked it to); relay the chunks as they are.
        stream.read_to_end(&mut bytes).await?;
    } else if let Some(length) = head.content_length()? {
        read_at_least(&mut stream, &mut bytes, head_length + length).await?;
        bytes.truncate(head_length + length);
    } else {
        stream.read_to_end(&mut bytes).await?;
        delimited_by_eof = true;
    }
    if bytes.len() > MAX_HEAD + MAX_BODY {
        return Err(invalid("response too large"));
    }
    let keep_alive = !delimited_by_eof && !head.closes();
    Ok(Response { bytes, keep_alive })
}

/// Serves one client connection, request after request, until either side closes it.
async fn serve(proxy: &FaultProxy, mut client: TcpStream) -> io::Result<()> {
    let mut pending = Vec::new();
    while let Some(request) = Request::read(&mut client, &mut pending).await? {
        let fault = proxy.on_request(&request.operation(), &request.body);
        let keep_alive = match fault {
            None => relay(&proxy.upstream, &request, &mut client, Duration::ZERO).await?,
            Some(Fault::DelayRequest(delay)) => {
                tokio::time::sleep(delay).await;
                relay(&proxy.upstream, &request, &mut client, Duration::ZERO).await?
            }
            Some(Fault::DelayResponse(delay)) => relay(&proxy.upstream, &request, &mut client, delay).await?,
            Some(Fault::DropResponse) => {
                forward(&proxy.upstream, &request).await?;
                return Ok(());
            }
            Some(Fault::Throttle) => {
                client.write_all(&request.throttled()).await?;
                true
            }
            Some(Fault::Respond { status, body }) => {
                client.write_all(&answer(status, "application/x-amz-json-1.0", &[], &body)).await?;
                true
            }
            Some(Fault::Reset) => {
                client.set_zero_linger()?;
                return Ok(());
            }
        };
        if !keep_alive || request.wants_close() {
            break;
        }
    }
    Ok(())
}

/// Forwards `request`, waits `hold`, then relays the answer; whether to keep the client connection.
async fn relay(upstream: &str, request: &Request, client: &mut TcpStream, hold: Duration) -> io::Result<bool> {
    let response = forward(upstream, request).await?;
    if !hold.is_zero() {
        tokio::time::sleep(hold).await;
    }
    client.write_all(&response.bytes).await?;
    client.flush().await?;
    Ok(response.keep_alive)
}

fn moto() -> String {
    std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL (the moto server) must be set")
}

/// A DynamoDB client for `endpoint`: `attempts` attempts of at most 1.5 s each, short backoff.
fn dynamo(endpoint: &str, attempts: u32) -> Client {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "tests")))
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
        .build();
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk)
        .retry_config(
            RetryConfig::standard().with_max_attempts(attempts).with_initial_backoff(Duration::from_millis(20)),
        )
        .timeout_config(TimeoutConfig::builder().operation_attempt_timeout(Duration::from_millis(1500)).build())
        .build();
    Client::from_conf(config)
}

/// A unique name, for tables and item keys.
fn unique(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

/// A proxy in front of moto, and a new table with hash key `pk` (S), created through it.
async fn setup(attempts: u32) -> (Arc<FaultProxy>, Client, String) {
    let proxy = FaultProxy::start(&moto()).await;
    let client = dynamo(&proxy.url(), attempts);
    let table = unique("proxy-test");
    client
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .expect("create a table through the proxy");
    (proxy, client, table)
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test]
async fn requests_without_a_matching_rule_pass_through() {
    let (proxy, client, table) = setup(3).await;
    proxy.inject(Rule::on("PutItem").containing("no-such-item").fault(Fault::Reset));

    client.put_item().table_name(&table).item("pk", s("a")).item("v", s("1")).send().await.expect("put");
    let got = client.get_item().table_name(&table).key("pk", s("a")).send().await.expect("get");

    assert_eq!(got.item().and_then(|item| item.get("v")), Some(&s("1")));
    assert_eq!(proxy.seen("CreateTable"), 1);
    assert_eq!(proxy.seen("PutItem"), 1);
    assert_eq!(proxy.seen("GetItem"), 1);
    assert_eq!(proxy.fired(), 0, "the rule's body text never appeared");
}

#[tokio::test]
async fn a_dropped_put_response_is_retried_after_the_write_happened() {
    let (proxy, client, table) = setup(3).await;
    let marker = unique("dropped");
    proxy.inject(Rule::on("PutItem").containing(&marker).fault(Fault::DropResponse));

    let put = client
        .put_item()
        .table_name(&table)
        .item("pk", s(&marker))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;

    let error = put.expect_err("the retry finds the item the lost attempt wrote").into_service_error();
    assert!(error.is_conditional_check_failed_exception(), "{error:?}");
    assert_eq!(proxy.seen("PutItem"), 2, "the SDK retried a non-idempotent PutItem after a lost response");
    assert_eq!(proxy.fired(), 1);
    let direct = dynamo(&moto(), 1);
    let stored = direct.get_item().table_name(&table).key("pk", s(&marker)).send().await.expect("get from moto");
    assert!(stored.item().is_some(), "the first attempt's write reached moto");
}

#[tokio::test]
async fn a_response_held_past_the_attempt_timeout_is_retried() {
    let (proxy, client, table) = setup(3).await;
    let marker = unique("slow");
    proxy.inject(
        Rule::on("TransactWriteItems").containing(&marker).fault(Fault::DelayResponse(Duration::from_millis(2500))),
    );
    proxy.inject(Rule::on("GetItem").fault(Fault::DelayRequest(Duration::from_millis(200))));
    let put = Put::builder()
        .table_name(&table)
        .item("pk", s(&marker))
        .condition_expression("attribute_not_exists(pk)")
        .build()
        .unwrap();

    let started = Instant::now();
    let written =
        client.transact_write_items().transact_items(TransactWriteItem::builder().put(put).build()).send().await;
    let elapsed = started.elapsed();

    assert_eq!(proxy.seen("TransactWriteItems"), 2, "one timed-out attempt, one retry");
    assert!(elapsed >= Duration::from_millis(1500), "the first attempt ran into its timeout: {elapsed:?}");
    // The retry carries the same ClientRequestToken: like DynamoDB, the local store answers it with
    // the committed transaction's success instead of re-evaluating its condition.
    written.expect("the retry of a committed transaction is answered as a success");

    let started = Instant::now();
    let got = client
        .get_item()
        .table_name(&table)
        .key("pk", s(&marker))
        .send()
        .await
        .expect("a delayed request still succeeds");
    assert!(got.item().is_some());
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(proxy.seen("GetItem"), 1, "a delay within the attempt timeout is no retry");
    assert_eq!(proxy.fired(), 2);
}

#[tokio::test]
async fn throttled_twice_the_third_attempt_succeeds() {
    let (proxy, client, table) = setup(3).await;
    client.put_item().table_name(&table).item("pk", s("t")).send().await.expect("put");
    proxy.inject(Rule::on("GetItem").times(2).fault(Fault::Throttle));

    let got = client.get_item().table_name(&table).key("pk", s("t")).send().await.expect("third attempt");

    assert!(got.item().is_some());
    assert_eq!(proxy.seen("GetItem"), 3);
    assert_eq!(proxy.fired(), 2);
}

#[tokio::test]
async fn resets_and_canned_errors_reach_the_caller() {
    let (proxy, _, table) = setup(3).await;
    let client = dynamo(&proxy.url(), 1);
    proxy.inject(Rule::on("GetItem").fault(Fault::Reset));
    proxy.inject(Rule::on("*").fault(Fault::Respond {
        status: 400,
        body: r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled","CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed","Message":"injected"}]}"#.to_owned(),
    }));

    let reset = client.get_item().table_name(&table).key("pk", s("r")).send().await;
    assert!(
        reset.expect_err("a reset connection").as_service_error().is_none(),
        "a dispatch error, not a service error"
    );

    let put = Put::builder().table_name(&table).item("pk", s("c")).build().unwrap();
    let canned = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put).build())
        .send()
        .await
        .expect_err("the canned answer")
        .into_service_error();
    let reasons: Vec<_> = match &canned {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e) => {
            e.cancellation_reasons().iter().map(|reason| reason.code().unwrap_or_default().to_owned()).collect()
        }
        other => panic!("expected TransactionCanceledException, got {other:?}"),
    };
    assert_eq!(reasons, ["None", "ConditionalCheckFailed"]);
    assert_eq!(proxy.seen("GetItem"), 1);
    assert_eq!(proxy.seen("TransactWriteItems"), 1);
    assert_eq!(proxy.fired(), 2);
}
