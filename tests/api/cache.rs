//! Cache-aside item reads, with the in-container LRU and with a real Redis.

use std::time::Duration;

use serde_json::json;
use shared::config::CacheConfig;

use crate::helpers::{Call, TestApp, id_of, spawn_app, spawn_app_with_cache};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set. The Redis cache tests need a redis-server: run ./infra/test.sh, which starts one")
    })
}

/// Reads an item twice, changes it, reads again: returns the DynamoDB calls of each read.
async fn read_write_read(app: &TestApp) -> (usize, usize, serde_json::Value) {
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;
    let id = id_of(&item);

    let before = app.dynamo_calls();
    assert_eq!(app.send(Call::get(&id)).await.status, 200);
    let first_read = app.dynamo_calls() - before;
    let before = app.dynamo_calls();
    let cached = app.send(Call::get(&id).query("fields", "id,price")).await;
    let second_read = app.dynamo_calls() - before;
    assert_eq!(cached.body["data"], json!({"id": id, "price": 100}), "projections apply to cached items");

    app.send(Call::update(&id, json!({"price": 150}))).await;
    let after_write = app.send(Call::get(&id)).await;
    (first_read, second_read, after_write.body["data"].clone())
}

#[tokio::test]
async fn in_container_cache_serves_repeat_reads_and_is_invalidated_by_writes() {
    let app = spawn_app().await;

    let (first, second, after_write) = read_write_read(&app).await;

    assert_eq!((first, second), (1, 0), "the second read is a cache hit");
    assert_eq!(after_write["price"], 150, "the write invalidated the cached copy");
    assert_eq!(after_write["version"], 2);
}

#[tokio::test]
async fn redis_cache_serves_repeat_reads_and_is_invalidated_by_writes() {
    let url = redis_url();
    let app =
        spawn_app_with_cache(CacheConfig { redis_url: Some(url.clone()), ttl: Duration::from_secs(60), capacity: 1 })
            .await;

    let (first, second, after_write) = read_write_read(&app).await;

    assert_eq!((first, second), (1, 0), "the second read came from Redis");
    assert_eq!(after_write["price"], 150);
    let client = redis::Client::open(url).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let key = format!("item:{}", after_write["id"].as_str().unwrap());
    let stored: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut connection).await.unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut connection).await.unwrap();
    assert!(stored.unwrap().contains("\"price\":150"), "Redis holds the current item");
    assert!(ttl > 0 && ttl <= 60_000, "with the configured TTL: {ttl} ms");
}

#[tokio::test]
async fn an_unreachable_redis_degrades_to_reading_dynamodb() {
    let app = spawn_app_with_cache(CacheConfig {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ttl: Duration::from_secs(60),
        capacity: 1,
    })
    .await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;

    let reply = app.send(Call::get(&id_of(&item))).await;

    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["data"], item);
}
