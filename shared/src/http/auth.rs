//! Bearer-token authentication: an HS256 JWT with `sub`, `role` and `exp`, verified on every request.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use lambda_http::Request;
use lambda_http::http::header::AUTHORIZATION;
use serde::Deserialize;

use crate::domain::OwnerId;
use crate::error::{ApiError, AuthFailure};

/// Longer tokens are refused before any decoding work: no legitimate token of ours comes close.
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const CLOCK_LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Moderator,
    User,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: OwnerId,
    pub role: Role,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    role: Role,
}

pub struct Authenticator {
    key: DecodingKey,
    validation: Validation,
}

impl Authenticator {
    /// The accepted algorithm is fixed here, never taken from the token's header.
    pub fn hs256(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = CLOCK_LEEWAY_SECONDS;
        validation.validate_nbf = true;
        Self {
            key: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn authenticate(&self, request: &Request) -> Result<Principal, ApiError> {
        let token = bearer_token(request)?;
        let invalid = |reason: String| ApiError::Unauthenticated(AuthFailure::InvalidToken(reason));
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid(format!(
                "token of {} bytes exceeds the limit",
                token.len()
            )));
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
            .map_err(|error| invalid(error.to_string()))?
            .claims;
        if claims.sub.trim().is_empty() {
            return Err(invalid("empty sub claim".to_owned()));
        }
        let principal = Principal {
            user_id: OwnerId::new(claims.sub),
            role: claims.role,
        };
        tracing::Span::current().record("user_id", principal.user_id.as_str());
        Ok(principal)
    }
}

fn bearer_token(request: &Request) -> Result<&str, ApiError> {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated(AuthFailure::MissingToken));
    };
    let invalid =
        |reason: &str| ApiError::Unauthenticated(AuthFailure::InvalidToken(reason.to_owned()));
    let value = header
        .to_str()
        .map_err(|_| invalid("authorization header is not ASCII"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| invalid("authorization header has no scheme"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("authorization scheme is not Bearer"));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid("empty bearer token"));
    }
    Ok(token)
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
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn request_with(authorization: Option<String>) -> Request {
        let mut builder = lambda_http::http::Request::builder();
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(lambda_http::Body::Empty).unwrap()
    }

    fn outcome(authorization: Option<String>) -> Result<Principal, ApiError> {
        Authenticator::hs256(SECRET).authenticate(&request_with(authorization))
    }

    fn is_invalid(result: Result<Principal, ApiError>) -> bool {
        matches!(
            result,
            Err(ApiError::Unauthenticated(AuthFailure::InvalidToken(_)))
        )
    }

    #[test]
    fn accepts_a_valid_token() {
        let good = token(
            json!({"sub": "alice", "role": "user", "exp": now() + 60}),
            SECRET,
        );
        let principal = outcome(Some(format!("Bearer {good}"))).unwrap();
        assert_eq!(
            principal,
            Principal {
                user_id: OwnerId::new("alice"),
                role: Role::User
            }
        );
    }

    #[test]
    fn missing_header_is_distinguished_from_a_bad_token() {
        assert!(matches!(
            outcome(None),
            Err(ApiError::Unauthenticated(AuthFailure::MissingToken))
        ));
    }

    #[test]
    fn rejects_bad_tokens() {
        let exp = now() + 60;
        let cases = [
            ("wrong scheme", format!("Basic {}", token(json!({"sub": "a", "role": "user", "exp": exp}), SECRET))),
            ("wrong secret", format!("Bearer {}", token(json!({"sub": "a", "role": "user", "exp": exp}), b"another-secret-another-secret-another"))),
            ("expired", format!("Bearer {}", token(json!({"sub": "a", "role": "user", "exp": now() - 3600}), SECRET))),
            ("no exp", format!("Bearer {}", token(json!({"sub": "a", "role": "user"}), SECRET))),
            ("no role", format!("Bearer {}", token(json!({"sub": "a", "exp": exp}), SECRET))),
            ("unknown role", format!("Bearer {}", token(json!({"sub": "a", "role": "root", "exp": exp}), SECRET))),
            ("empty sub", format!("Bearer {}", token(json!({"sub": " ", "role": "user", "exp": exp}), SECRET))),
            ("garbage", "Bearer not.a.jwt".to_owned()),
            ("oversize", format!("Bearer {}", "a".repeat(MAX_TOKEN_BYTES + 1))),
            ("alg none", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhIiwicm9sZSI6ImFkbWluIiwiZXhwIjo5OTk5OTk5OTk5fQ.".to_owned()),
        ];
        for (case, header) in cases {
            assert!(
                is_invalid(outcome(Some(header))),
                "{case} should be rejected as an invalid token"
            );
        }
    }
}
