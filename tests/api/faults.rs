//! Fault injection: the SDK pointed at a local endpoint that throttles, or refuses connections.
//! Retries must be bounded, the answer a 503 with `Retry-After`, and nothing half-written.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{Call, id_of, spawn_app};

/// A "DynamoDB" that answers every request with a throttling error, counting requests.
async fn throttling_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut request = vec![0_u8; 64 * 1024];
            let _ = socket.read(&mut request).await;
            let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, hits)
}

#[tokio::test]
async fn throttling_is_retried_a_bounded_number_of_times_then_503() {
    let test = spawn_app().await;
    let (endpoint, hits) = throttling_endpoint().await;
    let app = test.container_via(&endpoint);

    let response =
        shared::http::route::get_item(Call::get("01JDQ3G9X2V0Y8M6K4T5R7N3PA").request(), &app.gate, &app.items).await;

    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(hits.load(Ordering::SeqCst), 3, "three attempts, as configured, then give up");
}

#[tokio::test]
async fn a_refused_connection_is_a_503_and_no_partial_write() {
    let test = spawn_app().await;
    let item = test.create_as("alice", json!({"name": "Lamp", "price": 1})).await;
    let app = test.container_via("http://127.0.0.1:1");

    let response = shared::http::route::update_item(
        Call::update(&id_of(&item), json!({"price": 2})).request(),
        &app.gate,
        &app.items,
    )
    .await;

    assert_eq!(response.status(), 503);
    let stored = test.send(Call::get(&id_of(&item))).await;
    assert_eq!(stored.body["data"], item, "the real table is untouched");
}
