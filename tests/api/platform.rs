//! Rate limiting, CORS and the headers every response carries.

use std::sync::Arc;

use serde_json::json;
use shared::domain::{Audience, RateRules, RouteGroup, Rule};
use shared::domain::{Role, Timestamp};
use shared::service::RateLimiter;
use tokio::task::JoinSet;

use crate::helpers::{Call, spawn_app, spawn_app_with_limits};

fn limited(audience: Audience, group: RouteGroup, limit: u32) -> RateRules {
    RateRules::off().with(audience, group, Rule { limit, window_seconds: 3600 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_requests_against_a_limit_of_twenty_let_exactly_twenty_through() {
    let app = spawn_app_with_limits(limited(Audience::Role(Role::User), RouteGroup::Read, 20)).await;
    // A single-item read: the limiter is what is under test, not a listing's 16 shard queries.
    let item = crate::helpers::id_of(
        &app.create_as("seller", json!({"name": "Lamp", "price": 100, "status": "active"})).await,
    );

    let mut callers = JoinSet::new();
    for _ in 0..50 {
        let (app, item) = (app.clone(), item.clone());
        callers.spawn(async move { app.send(Call::get(&item).by_user("greedy")).await });
    }
    let mut replies = Vec::new();
    while let Some(reply) = callers.join_next().await {
        replies.push(reply.expect("caller task"));
    }

    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 20);
    let refused: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 30);
    for reply in &refused {
        assert_eq!(reply.error_code(), "rate_limited");
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
        assert_eq!(reply.header("ratelimit-remaining"), Some("0"));
    }
    let other_user = app.send(Call::get(&item).by_user("modest")).await;
    assert_eq!(other_user.status, 200, "limits are per principal");
    assert_eq!(other_user.header("ratelimit-limit"), Some("20"));
    assert_eq!(other_user.header("ratelimit-remaining"), Some("19"));
}

#[tokio::test]
async fn a_caller_over_the_limit_is_answered_without_another_dynamodb_call() {
    let app = spawn_app_with_limits(limited(Audience::Role(Role::User), RouteGroup::Write, 1)).await;
    let create = || Call::create(json!({"name": "x", "price": 1}));
    assert_eq!(app.send(create()).await.status, 201);
    assert_eq!(app.send(create()).await.status, 429, "the second write is over the limit");

    let before = app.dynamo_calls();
    let third = app.send(create()).await;

    assert_eq!(third.status, 429);
    assert_eq!(app.dynamo_calls(), before, "the in-container memo answered");
    assert_eq!(app.item_count().await, 1, "nothing over the limit was written");
}

#[tokio::test]
async fn a_read_over_the_limit_is_refused_and_once_known_never_starts() {
    let app = spawn_app_with_limits(limited(Audience::Role(Role::User), RouteGroup::Read, 1)).await;
    assert_eq!(app.send(Call::list()).await.status, 200);

    // The count (refused by DynamoDB) and the read overlap; the read's result is dropped.
    let refused = app.send(Call::list()).await;
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "rate_limited");

    let before = app.dynamo_calls();
    let known = app.send(Call::list()).await;
    assert_eq!(known.status, 429);
    assert_eq!(app.dynamo_calls(), before, "neither a count nor the list's Query was sent");
}

#[tokio::test]
async fn a_containers_first_read_waits_for_its_count_so_a_refused_one_never_reads() {
    let test = spawn_app_with_limits(limited(Audience::Role(Role::User), RouteGroup::Read, 1)).await;
    let item =
        crate::helpers::id_of(&test.create_as("seller", json!({"name": "Lamp", "price": 5, "status": "active"})).await);
    assert_eq!(test.send(Call::get(&item).by_user("reader")).await.status, 200, "the one read of the window");

    // A new container: no connection is open yet, so its first read is not overlapped with the count.
    let (proxy, fresh) = test.behind_fault_proxy().await;
    let refused = test.send_to(&fresh, Call::get(&item).by_user("reader")).await;

    assert_eq!(refused.status, 429);
    assert_eq!(proxy.seen("UpdateItem"), 1, "the count");
    assert_eq!(proxy.seen("GetItem"), 0, "the read never started, and opened no second connection");
}

#[tokio::test]
async fn unauthenticated_callers_are_limited_per_client_ip() {
    let app = spawn_app_with_limits(limited(Audience::Anonymous, RouteGroup::Read, 3)).await;

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.send(Call::list().bearer("not-a-token")).await.status);
    }

    assert_eq!(statuses, [401, 401, 401, 429, 429], "token guessing is slowed down");
}

#[tokio::test]
async fn every_response_carries_security_and_cors_headers() {
    let app = spawn_app().await;

    let ok = app.send(Call::list().header("origin", "https://app.example")).await;
    let error = app.send(Call::get("nope").header("origin", "https://evil.example")).await;

    assert_eq!(ok.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(ok.header("cache-control"), Some("private, no-cache"));
    assert_eq!(ok.header("access-control-allow-origin"), Some("https://app.example"));
    assert!(ok.header("access-control-expose-headers").unwrap().contains("etag"));
    assert_eq!(error.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(error.header("cache-control"), Some("no-store"));
    assert_eq!(error.header("access-control-allow-origin"), None, "origins outside the allowlist get no CORS headers");
}

/// A fixed instant well inside an hour-long window, so no test straddles a window boundary.
fn mid_window() -> Timestamp {
    Timestamp::from_millis(1_800_000_000_000 + 1_800_000)
}

fn limiter(app: &crate::helpers::TestApp, limit: u32) -> RateLimiter {
    let rules = limited(Audience::Role(Role::User), RouteGroup::Read, limit);
    RateLimiter::new(app.dynamo.clone(), &app.table, rules, false)
}

async fn admitted(limiter: &RateLimiter, requests: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..requests {
        let outcome = limiter.check("busy", Audience::Role(Role::User), RouteGroup::Read, mid_window()).await;
        allowed += usize::from(outcome.expect("limiter answers").expect("a rule applies").allowed);
    }
    allowed
}

#[tokio::test]
async fn a_busy_caller_costs_one_dynamodb_call_per_lease_not_per_request() {
    let app = spawn_app().await;
    let limiter = limiter(&app, 1000);
    assert_eq!(RateLimiter::max_lease(1000), 20);

    let before = app.dynamo_calls();
    assert_eq!(admitted(&limiter, 100).await, 100);

    // Leases of 1, 2, 4, 8, 16, then 20 at a time: 9 claims for 100 requests.
    assert_eq!(app.dynamo_calls() - before, 9);
    let counted = app.rate_window_hits("read#busy").await;
    assert!((100..=120).contains(&counted), "the window counts what was claimed: {counted}");
}

#[tokio::test]
async fn one_container_gets_its_whole_budget_exactly() {
    let app = spawn_app().await;
    let limiter = limiter(&app, 200);

    let before = app.dynamo_calls();
    assert_eq!(admitted(&limiter, 250).await, 200, "leases fall back to single tokens near the limit");
    // Leases of 1, 2, 4, then 48 of 4 up to 199, then 1; one refused claim; the other 49 from the memo:
    // near the limit no claim is refused for its size and retried.
    assert_eq!(app.dynamo_calls() - before, 53);
    assert_eq!(app.rate_window_hits("read#busy").await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn containers_sharing_a_window_never_admit_more_than_the_limit() {
    let app = spawn_app().await;
    let containers: Vec<_> = (0..3).map(|_| Arc::new(limiter(&app, 200))).collect();

    let mut callers = JoinSet::new();
    for container in &containers {
        let container = container.clone();
        callers.spawn(async move { admitted(&container, 120).await });
    }
    let mut allowed = 0;
    while let Some(count) = callers.join_next().await {
        allowed += count.expect("caller task");
    }

    // Each container can strand at most its last lease minus one (max lease 4 for a limit of 200).
    assert!(allowed <= 200, "never over the limit: {allowed}");
    assert!(allowed >= 200 - 3 * 3, "unspent leases cost little: {allowed}");
    let counted = app.rate_window_hits("read#busy").await;
    assert!(counted as usize >= allowed && counted <= 200, "the count covers every admission: {counted}");
}
