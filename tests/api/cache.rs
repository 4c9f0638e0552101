//! The item cache: off by default; with Redis, cache-aside reads kept exact by fencing writes.

use std::time::Duration;

use serde_json::json;
use shared::cache::{Cache, RedisCache};
use shared::config::CacheConfig;

use crate::helpers::{Call, id_of, spawn_app, spawn_app_with_cache};

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| {
        panic!("REDIS_URL is not set. The Redis cache tests need a redis-server: run ./infra/test.sh, which starts one")
    })
}

pub fn redis_cache() -> CacheConfig {
    CacheConfig { redis_url: Some(redis_url()), ttl: Duration::from_secs(60) }
}

async fn raw_get(key: &str) -> Option<String> {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("GET").arg(key).query_async(&mut connection).await.unwrap()
}

#[tokio::test]
async fn without_configuration_there_is_no_cache_and_every_read_asks_dynamodb() {
    let app = spawn_app().await;
    let id = id_of(&app.create_as("alice", json!({"name": "Lamp", "price": 100})).await);

    let before = app.dynamo_calls();
    app.send(Call::get(&id)).await;
    app.send(Call::get(&id)).await;

    assert_eq!(app.dynamo_calls() - before, 2, "one strongly consistent GetItem per read");
}

#[tokio::test]
async fn redis_serves_repeat_reads_and_a_write_fences_the_entry() {
    let app = spawn_app_with_cache(redis_cache()).await;
    let id = id_of(&app.create_as("alice", json!({"name": "Lamp", "price": 100})).await);
    let key = format!("item:{id}");

    let before = app.dynamo_calls();
    assert_eq!(app.send(Call::get(&id)).await.status, 200);
    let first_read = app.dynamo_calls() - before;
    let before = app.dynamo_calls();
    let cached = app.send(Call::get(&id).query("fields", "id,price")).await;
    let second_read = app.dynamo_calls() - before;
    assert_eq!((first_read, second_read), (1, 0), "the second read came from Redis");
    assert_eq!(cached.body["data"], json!({"id": id, "price": 100}), "projections apply to cached items");

    app.send(Call::update(&id, json!({"price": 150}))).await;
    assert_eq!(raw_get(&key).await.as_deref(), Some("\u{0}fence"), "the write left a fence, not a copy");
    let before = app.dynamo_calls();
    let after_write = app.send(Call::get(&id)).await;
    assert_eq!(app.dynamo_calls() - before, 1, "a fenced entry is read through");
    assert_eq!(
        (after_write.body["data"]["price"].clone(), after_write.body["data"]["version"].clone()),
        (json!(150), json!(2))
    );
    assert_eq!(raw_get(&key).await.as_deref(), Some("\u{0}fence"), "and not filled while the fence stands");
}

#[tokio::test]
async fn a_fill_never_replaces_a_fence_or_a_copy() {
    let cache = RedisCache::new(&redis_url()).unwrap();
    let fenced = format!("fill-test:{}", shared::domain::ItemId::new(shared::domain::Timestamp::now()));
    let empty = format!("{fenced}-empty");

    cache.fence(std::slice::from_ref(&fenced)).await.expect("Redis is up");
    cache.fill(&fenced, "old copy".to_owned(), Duration::from_secs(60)).await;
    cache.fill(&empty, "first".to_owned(), Duration::from_secs(60)).await;
    cache.fill(&empty, "second".to_owned(), Duration::from_secs(60)).await;

    assert_eq!(cache.get(&fenced).await, None, "a fence reads as a miss");
    assert_eq!(raw_get(&fenced).await.as_deref(), Some("\u{0}fence"), "the late fill was refused");
    assert_eq!(cache.get(&empty).await.as_deref(), Some("first"), "fills only ever go into an empty key");
}

#[tokio::test]
async fn an_unreachable_redis_degrades_reads_to_dynamodb_and_refuses_writes() {
    let app = spawn_app().await;
    let item = app.create_as("alice", json!({"name": "Lamp", "price": 100})).await;
    let down = app.container_with_cache(CacheConfig {
        redis_url: Some("redis://127.0.0.1:1".to_owned()),
        ttl: Duration::from_secs(60),
    });

    let read = app.send_to(&down, Call::get(&id_of(&item))).await;
    let write = app.send_to(&down, Call::update(&id_of(&item), json!({"price": 5}))).await;

    assert_eq!((read.status, read.body["data"].clone()), (200, item.clone()));
    assert_eq!((write.status, write.header("retry-after")), (503, Some("1")));
    assert_eq!(app.send(Call::get(&id_of(&item))).await.body["data"], item, "nothing was written");
}
