//! Asymmetric tokens verified with keys from a JWKS served over real HTTP, and the attack matrix.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use shared::config::{AuthConfig, TokenConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::{Call, TestApp, repo_root, spawn_app_with};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "items-api";

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("tests/keys").join(name)).expect("test key")
}

/// A JWKS endpoint on 127.0.0.1 that counts how often it is asked.
async fn serve_jwks() -> (String, Arc<AtomicUsize>) {
    let body = String::from_utf8(key_file("jwks.json")).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut request = vec![0_u8; 4096];
            let _ = socket.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (url, hits)
}

async fn spawn_jwks_app() -> (Arc<TestApp>, Arc<AtomicUsize>) {
    let (url, hits) = serve_jwks().await;
    (jwks_app(url).await, hits)
}

async fn jwks_app(url: String) -> Arc<TestApp> {
    let config = TokenConfig {
        algorithms: vec![Algorithm::RS256, Algorithm::ES256],
        hmac_secret: None,
        jwks_url: Some(url),
        issuer: Some(ISSUER.to_owned()),
        audience: Some(AUDIENCE.to_owned()),
        leeway_seconds: 30,
        jwks_cache_ttl: Duration::from_secs(600),
        jwks_min_refresh_interval: Duration::from_secs(30),
    };
    spawn_app_with(AuthConfig::Verify(config)).await
}

fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

fn claims() -> Value {
    json!({"sub": "rita", "role": "user", "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 600})
}

fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

fn rs256(kid: &str, key_pem: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &EncodingKey::from_rsa_pem(&key_file(key_pem)).unwrap()).unwrap()
}

fn es256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some("ec-1".to_owned());
    encode(&header, claims, &EncodingKey::from_ec_pem(&key_file("ec.pem")).unwrap()).unwrap()
}

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

#[tokio::test]
async fn tokens_signed_with_published_keys_are_accepted() {
    let (app, hits) = spawn_jwks_app().await;

    let rsa = app.send(Call::list().bearer(&rs256("rsa-1", "rsa.pem", &claims()))).await;
    let ec = app.send(Call::list().bearer(&es256(&claims()))).await;
    let again = app.send(Call::list().bearer(&rs256("rsa-1", "rsa.pem", &claims()))).await;

    assert_eq!((rsa.status, ec.status, again.status), (200, 200, 200));
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the key set is fetched once and cached");
}

#[tokio::test]
async fn attack_matrix_every_case_is_401_and_writes_nothing() {
    let (app, _) = spawn_jwks_app().await;
    let good = rs256("rsa-1", "rsa.pem", &claims());
    let (head, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let alg_none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&claims()));
    let confused =
        encode(&Header::new(Algorithm::HS256), &claims(), &EncodingKey::from_secret(&key_file("rsa.pub.pem"))).unwrap();

    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("wrong scheme", Some(format!("Basic {good}"))),
        ("alg none", Some(format!("Bearer {alg_none}"))),
        ("HS256 signed with the RSA public key", Some(format!("Bearer {confused}"))),
        ("bad signature", Some(format!("Bearer {head}.{payload}.{flipped}{}", &signature[1..]))),
        ("expired", Some(format!("Bearer {}", rs256("rsa-1", "rsa.pem", &with(claims(), "exp", json!(now() - 120)))))),
        (
            "nbf in the future",
            Some(format!("Bearer {}", rs256("rsa-1", "rsa.pem", &with(claims(), "nbf", json!(now() + 600))))),
        ),
        (
            "wrong iss",
            Some(format!("Bearer {}", rs256("rsa-1", "rsa.pem", &with(claims(), "iss", json!("https://evil.test"))))),
        ),
        (
            "wrong aud",
            Some(format!("Bearer {}", rs256("rsa-1", "rsa.pem", &with(claims(), "aud", json!("other-api"))))),
        ),
        ("malformed base64", Some(format!("Bearer {head}!!.{payload}.{signature}"))),
        ("64 KB token", Some(format!("Bearer {head}.{}.{signature}", "A".repeat(64 * 1024)))),
        ("unknown kid", Some(format!("Bearer {}", rs256("rsa-9", "rsa-unpublished.pem", &claims())))),
    ];
    for (case, authorization) in cases {
        let mut call = Call::create(json!({"name": "Lamp", "price": 1})).without_header("authorization");
        if let Some(value) = &authorization {
            call = call.header("authorization", value);
        }

        let reply = app.send(call).await;

        assert_eq!((reply.status, reply.error_code()), (401, "unauthorized"), "{case}");
        let challenge = reply.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{case}: {challenge}");
        assert_eq!(challenge.contains("invalid_token"), authorization.is_some(), "{case}");
    }
    assert_eq!(app.item_count().await, 0, "no case wrote anything");
    let valid = app.send(Call::create(json!({"name": "Lamp", "price": 1})).bearer(&good)).await;
    assert_eq!(valid.status, 201, "the same app accepts a good token");
}

#[tokio::test]
async fn unknown_kids_trigger_at_most_one_rate_limited_refresh() {
    let (app, hits) = spawn_jwks_app().await;
    assert_eq!(app.send(Call::list().bearer(&rs256("rsa-1", "rsa.pem", &claims()))).await.status, 200);
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    for n in 0..5 {
        let forged = rs256(&format!("made-up-{n}"), "rsa-unpublished.pem", &claims());
        assert_eq!(app.send(Call::list().bearer(&forged)).await.status, 401);
    }

    // The first fetch just happened, so the refresh interval has not passed: no refetch at all.
    assert_eq!(hits.load(Ordering::SeqCst), 1, "unknown kids did not hammer the JWKS endpoint");
}

#[tokio::test]
async fn each_unknown_kid_refreshes_once_when_the_interval_allows() {
    let (url, hits) = serve_jwks().await;
    let config = TokenConfig {
        algorithms: vec![Algorithm::RS256],
        hmac_secret: None,
        jwks_url: Some(url),
        issuer: None,
        audience: None,
        leeway_seconds: 30,
        jwks_cache_ttl: Duration::from_secs(600),
        jwks_min_refresh_interval: Duration::ZERO,
    };
    let app = spawn_app_with(AuthConfig::Verify(config)).await;
    let no_iss_aud = json!({"sub": "rita", "role": "user", "exp": now() + 600});

    assert_eq!(app.send(Call::list().bearer(&rs256("rsa-1", "rsa.pem", &no_iss_aud))).await.status, 200);
    for n in 0..3 {
        let forged = rs256(&format!("made-up-{n}"), "rsa-unpublished.pem", &no_iss_aud);
        assert_eq!(app.send(Call::list().bearer(&forged)).await.status, 401);
    }

    assert_eq!(hits.load(Ordering::SeqCst), 1 + 3, "one refresh per unknown kid, never a retry loop");
}

#[tokio::test]
async fn an_identity_provider_that_cannot_be_reached_is_a_503_not_a_401_or_500() {
    let app = jwks_app("http://127.0.0.1:1/.well-known/jwks.json".to_owned()).await;
    let token = rs256("rsa-1", "rsa.pem", &claims());

    let cold = app.send(Call::list().bearer(&token)).await;
    let within_the_refresh_interval = app.send(Call::list().bearer(&token)).await;

    assert_eq!((cold.status, cold.header("retry-after")), (503, Some("1")));
    assert_eq!(within_the_refresh_interval.status, 503, "still the provider's outage, not a bad token");
}

#[tokio::test]
async fn a_key_set_whose_body_never_ends_is_cut_off_by_one_deadline() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = vec![0_u8; 4096];
                let _ = socket.read(&mut request).await;
                // Headers at once, then a body that trickles forever.
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n{\"keys\":").await;
                loop {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    if socket.write_all(b" ").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    let app = jwks_app(url).await;

    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        app.send(Call::list().bearer(&rs256("rsa-1", "rsa.pem", &claims()))),
    )
    .await
    .expect("the fetch gives up at its deadline instead of waiting for the body");

    assert_eq!(reply.status, 503);
}
