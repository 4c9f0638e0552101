//! Search benchmark: warm query latency over an in-memory index of 1,000 and 10,000 items, and,
//! when `AWS_ENDPOINT_URL` points at a local DynamoDB (moto), the cold load of 10,000 vectors.
//! Run: `cargo bench -p shared --bench search` (or `./infra/bench.sh`, which starts moto).

use std::time::{Duration, Instant};

use shared::domain::{ItemId, ItemStatus, OwnerId, Principal, Role, Timestamp};
use shared::search::{Embedder, HashingEmbedder, IndexEntry, VectorIndex, item_text};

const WORDS: [&str; 24] = [
    "desk", "lamp", "oak", "walnut", "chair", "table", "brass", "copper", "kettle", "mug", "velvet", "sofa", "shelf",
    "book", "pen", "ink", "paper", "rug", "wool", "linen", "glass", "vase", "clock", "mirror",
];

fn catalogue(size: usize) -> Vec<(ItemId, String)> {
    (0..size)
        .map(|n| {
            let name = format!("{} {} {}", WORDS[n % 24], WORDS[(n / 24) % 24], WORDS[(n / 576) % 24]);
            (ItemId::new(Timestamp::from_millis(1_700_000_000_000 + n as i64)), name)
        })
        .collect()
}

fn entries(items: &[(ItemId, String)]) -> Vec<IndexEntry> {
    items
        .iter()
        .map(|(id, name)| IndexEntry {
            id: *id,
            version: 1,
            status: ItemStatus::Active,
            owner_id: OwnerId::new("bench"),
            deleted: false,
            vector: HashingEmbedder.embed(&item_text(name, "")),
            changed_at: 0,
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn warm_search(size: usize) {
    let items = catalogue(size);
    let mut index = VectorIndex::default();
    index.apply(entries(&items));
    let caller = Principal { user_id: OwnerId::new("reader"), role: Role::User, name: None };
    let queries = ["desk lamp", "walnut shelf", "copper kettle mug", "velvet sofa", "glass vase clock"];
    let mut timings = Vec::with_capacity(2000);
    for n in 0..2000 {
        let started = Instant::now();
        let vector = HashingEmbedder.embed(queries[n % queries.len()]);
        let hits = index.search(&vector, &caller, None, 10);
        timings.push(started.elapsed());
        assert!(!hits.is_empty());
    }
    timings.sort();
    println!(
        "warm search, {size:>6} items: p50 {:>8.3} ms  p99 {:>8.3} ms  (embed + exact scoring + top 10; 2,000 queries)",
        percentile(&timings, 0.5).as_secs_f64() * 1e3,
        percentile(&timings, 0.99).as_secs_f64() * 1e3,
    );
}

fn main() {
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    warm_search(1_000);
    warm_search(10_000);
    if std::env::var("AWS_ENDPOINT_URL").is_ok() {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(cold_load());
    } else {
        println!("cold load: skipped (set AWS_ENDPOINT_URL to a local DynamoDB, or run ./infra/bench.sh)");
    }
}

async fn cold_load() {
    use shared::repository::DynamoVectorRepository;
    let aws = shared::aws::from_env(shared::aws::TrustedRoots::System).expect("AWS_* variables (moto's)");
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let table = format!("bench-vectors-{}", ItemId::new(Timestamp::now()));
    dynamo
        .create_table()
        .table_name(&table)
        .billing_mode(aws_sdk_dynamodb::types::BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            ["pk", "sk", "vector_pk", "changed_at"]
                .iter()
                .map(|name| {
                    aws_sdk_dynamodb::types::AttributeDefinition::builder()
                        .attribute_name(*name)
                        .attribute_type(aws_sdk_dynamodb::types::ScalarAttributeType::S)
                        .build()
                        .expect("attribute")
                })
                .collect(),
        ))
        .set_key_schema(Some(key_schema("pk", "sk")))
        .global_secondary_indexes(
            aws_sdk_dynamodb::types::GlobalSecondaryIndex::builder()
                .index_name("vectors_by_change")
                .set_key_schema(Some(key_schema("vector_pk", "changed_at")))
                .projection(
                    aws_sdk_dynamodb::types::Projection::builder()
                        .projection_type(aws_sdk_dynamodb::types::ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("index"),
        )
        .send()
        .await
        .expect("create bench table");
    let repository = DynamoVectorRepository::new(dynamo, &table);
    let items = catalogue(10_000);
    let started = Instant::now();
    for entry in entries(&items) {
        repository.put(&entry).await.expect("put vector");
    }
    println!("wrote 10,000 vectors in {:.1} s (one PutItem each, as the worker does)", started.elapsed().as_secs_f64());
    let started = Instant::now();
    let loaded = repository.changed_since(None).await.expect("load");
    let elapsed = started.elapsed();
    let mut index = VectorIndex::default();
    index.apply(loaded);
    println!(
        "cold load, 10,000 vectors: {:.0} ms (paged GSI Query against moto; {} indexed)",
        elapsed.as_secs_f64() * 1e3,
        index.len()
    );
}

fn key_schema(hash: &str, range: &str) -> Vec<aws_sdk_dynamodb::types::KeySchemaElement> {
    [(hash, aws_sdk_dynamodb::types::KeyType::Hash), (range, aws_sdk_dynamodb::types::KeyType::Range)]
        .into_iter()
        .map(|(name, kind)| {
            aws_sdk_dynamodb::types::KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key")
        })
        .collect()
}
