//! Authentication: who is calling. Either the function verifies the bearer JWT itself (HS256 with
//! a secret, or RS/ES keys from a JWKS), or API Gateway's JWT authorizer did and the function reads
//! the claims it passes. Configuration picks the mode; nothing in a request can switch it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::http::header::AUTHORIZATION;
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use serde::Deserialize;

use super::error::{ApiError, AuthFailure};
use super::jwks::{JwksCache, JwksError};
use crate::domain::{OwnerId, Permission, Principal, Role, Secret};

/// Longer tokens are refused before any decoding work: no legitimate token comes close.
pub(crate) const MAX_TOKEN_BYTES: usize = 8 * 1024;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Clone, Debug)]
pub enum AuthConfig {
    /// The function verifies the bearer token itself.
    Verify(TokenConfig),
    /// API Gateway's JWT authorizer verified the token; the function reads the claims it passes.
    Gateway,
}

#[derive(Clone, Debug)]
pub struct TokenConfig {
    /// The only algorithms accepted; a token's header never widens this list.
    pub algorithms: Vec<Algorithm>,
    pub hmac_secret: Option<Secret>,
    pub jwks_url: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: u64,
    pub jwks_cache_ttl: Duration,
    /// Unknown `kid`s refresh the key set at most this often.
    pub jwks_min_refresh_interval: Duration,
}

impl TokenConfig {
    /// HS256 with a shared secret: the local default.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            algorithms: vec![Algorithm::HS256],
            hmac_secret: Some(Secret::new(secret)),
            jwks_url: None,
            issuer: None,
            audience: None,
            leeway_seconds: 30,
            jwks_cache_ttl: Duration::from_secs(600),
            jwks_min_refresh_interval: Duration::from_secs(30),
        }
    }
}

pub struct Authenticator {
    mode: Mode,
}

enum Mode {
    Verify(Box<Verifier>),
    Gateway,
}

struct Verifier {
    /// One validation per accepted algorithm: jsonwebtoken requires every algorithm in a
    /// `Validation` to match the key's family, so RS256 and ES256 cannot share one.
    validations: Vec<(Algorithm, Validation)>,
    hmac_key: Option<Arc<DecodingKey>>,
    jwks: Option<JwksCache>,
}

fn invalid(reason: impl Into<String>) -> ApiError {
    ApiError::Unauthenticated(AuthFailure::InvalidToken(reason.into()))
}

impl Authenticator {
    pub fn new(config: &AuthConfig) -> Self {
        let mode = match config {
            AuthConfig::Gateway => Mode::Gateway,
            AuthConfig::Verify(tokens) => Mode::Verify(Box::new(Verifier::new(tokens))),
        };
        Self { mode }
    }

    /// HS256 with `secret`: the local default.
    pub fn hs256(secret: &[u8]) -> Self {
        Self::new(&AuthConfig::Verify(TokenConfig::hs256(secret)))
    }

    /// The caller, or 401. Also records the user id on the request's log span.
    pub async fn authenticate(&self, request: &Request) -> Result<Principal, ApiError> {
        let principal = match &self.mode {
            Mode::Verify(verifier) => verifier.verify(bearer_token(request)?).await?,
            Mode::Gateway => gateway_principal(request)?,
        };
        tracing::Span::current().record("user_id", principal.user_id.as_str());
        Ok(principal)
    }
}

impl Verifier {
    fn new(config: &TokenConfig) -> Self {
        Self {
            validations: config.algorithms.iter().map(|alg| (*alg, validation_for(*alg, config))).collect(),
            hmac_key: config.hmac_secret.as_ref().map(|secret| Arc::new(DecodingKey::from_secret(secret.expose()))),
            jwks: config
                .jwks_url
                .as_ref()
                .map(|url| JwksCache::new(url, config.jwks_cache_ttl, config.jwks_min_refresh_interval)),
        }
    }

    async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(format!("token of {} bytes exceeds the limit", token.len())));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("header: {e}")))?;
        // Checked before any key lookup, so a token cannot pick its own algorithm or make us fetch keys.
        let Some((_, validation)) = self.validations.iter().find(|(alg, _)| *alg == header.alg) else {
            return Err(invalid(format!("algorithm {:?} is not accepted", header.alg)));
        };
        let key = self.key_for(header.alg, header.kid.as_deref()).await?;
        let claims =
            jsonwebtoken::decode::<Claims>(token, &key, validation).map_err(|e| invalid(e.to_string()))?.claims;
        principal(claims.sub, claims.role, claims.name)
    }

    async fn key_for(&self, algorithm: Algorithm, kid: Option<&str>) -> Result<Arc<DecodingKey>, ApiError> {
        if matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) {
            return self.hmac_key.clone().ok_or_else(|| invalid("no HMAC secret configured"));
        }
        let jwks = self.jwks.as_ref().ok_or_else(|| invalid("no JWKS configured"))?;
        let kid = kid.ok_or_else(|| invalid("token has no kid"))?;
        jwks.key(kid).await.map_err(|error| match error {
            JwksError::UnknownKey => invalid(format!("unknown kid {kid:?}")),
            JwksError::Unavailable(reason) => {
                tracing::warn!(%reason, "identity provider unavailable; answering 503");
                ApiError::Unavailable
            }
        })
    }
}

/// Claims rules for tokens signed with `algorithm`: `exp` and `sub` always required, `nbf`
/// honoured, `iss` and `aud` required and checked when configured.
fn validation_for(algorithm: Algorithm, config: &TokenConfig) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = config.leeway_seconds;
    validation.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    match &config.issuer {
        Some(issuer) => {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        None => validation.iss = None,
    }
    match &config.audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}

/// 403 unless the principal's role grants `permission`.
pub(crate) fn permit(principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    if principal.has(permission) { Ok(()) } else { Err(ApiError::Forbidden { permission: permission.as_str() }) }
}

fn principal(sub: String, role: Role, name: Option<String>) -> Result<Principal, ApiError> {
    if sub.trim().is_empty() {
        return Err(invalid("empty sub claim"));
    }
    Ok(Principal { user_id: OwnerId::new(sub), role, name })
}

fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated(AuthFailure::MissingToken));
    };
    let value = header.to_str().map_err(|_| invalid("authorization header is not ASCII"))?;
    let (scheme, token) = value.split_once(' ').ok_or_else(|| invalid("authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid("empty bearer token"));
    }
    Ok(token)
}

/// Claims API Gateway's JWT authorizer verified and put in the request context. The
/// `Authorization` header is not read in this mode: only what the gateway vouched for counts.
fn gateway_principal(request: &Request) -> Result<Principal, ApiError> {
    let claims: Option<&HashMap<String, String>> = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            context.authorizer.as_ref().and_then(|authorizer| authorizer.jwt.as_ref()).map(|jwt| &jwt.claims)
        }
        _ => None,
    };
    let Some(claims) = claims else {
        return Err(ApiError::Unauthenticated(AuthFailure::MissingToken));
    };
    let sub = claims.get("sub").cloned().ok_or_else(|| invalid("authorizer claims lack sub"))?;
    let role = claims
        .get("role")
        .and_then(|raw| Role::parse(raw))
        .ok_or_else(|| invalid("authorizer claims lack a known role"))?;
    principal(sub, role, claims.get("name").cloned())
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"unit-test-secret-of-at-least-32-bytes!!";

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn token(claims: serde_json::Value, secret: &[u8]) -> String {
        encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn request_with(authorization: Option<String>) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    async fn outcome(authorization: Option<String>) -> Result<Principal, ApiError> {
        Authenticator::hs256(SECRET).authenticate(&request_with(authorization)).await
    }

    fn is_invalid(result: Result<Principal, ApiError>) -> bool {
        matches!(result, Err(ApiError::Unauthenticated(AuthFailure::InvalidToken(_))))
    }

    #[tokio::test]
    async fn accepts_a_valid_token() {
        let good = token(json!({"sub": "alice", "role": "user", "exp": now() + 60}), SECRET);
        let principal = outcome(Some(format!("Bearer {good}"))).await.unwrap();
        assert_eq!(principal, Principal { user_id: OwnerId::new("alice"), role: Role::User, name: None });
    }

    #[tokio::test]
    async fn missing_header_is_distinguished_from_a_bad_token() {
        assert!(matches!(outcome(None).await, Err(ApiError::Unauthenticated(AuthFailure::MissingToken))));
    }

    #[tokio::test]
    async fn rejects_bad_tokens() {
        let exp = now() + 60;
        let claims = json!({"sub": "a", "role": "user", "exp": exp});
        let cases = [
            ("wrong scheme", format!("Basic {}", token(claims.clone(), SECRET))),
            ("wrong secret", format!("Bearer {}", token(claims.clone(), b"another-secret-another-secret-another"))),
            ("expired", format!("Bearer {}", token(json!({"sub": "a", "role": "user", "exp": now() - 3600}), SECRET))),
            ("no exp", format!("Bearer {}", token(json!({"sub": "a", "role": "user"}), SECRET))),
            ("no role", format!("Bearer {}", token(json!({"sub": "a", "exp": exp}), SECRET))),
            ("unknown role", format!("Bearer {}", token(json!({"sub": "a", "role": "root", "exp": exp}), SECRET))),
            ("empty sub", format!("Bearer {}", token(json!({"sub": " ", "role": "user", "exp": exp}), SECRET))),
            ("garbage", "Bearer not.a.jwt".to_owned()),
            ("oversize", format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1))),
        ];
        for (case, header) in cases {
            assert!(is_invalid(outcome(Some(header)).await), "{case} should be rejected as an invalid token");
        }
    }

    #[tokio::test]
    async fn users_lack_the_delete_permission() {
        let good = token(json!({"sub": "alice", "role": "user", "exp": now() + 60}), SECRET);
        let request = request_with(Some(format!("Bearer {good}")));
        let principal = Authenticator::hs256(SECRET).authenticate(&request).await.expect("a valid token");
        assert!(matches!(permit(&principal, Permission::Delete), Err(ApiError::Forbidden { permission: "delete" })));
    }
}
