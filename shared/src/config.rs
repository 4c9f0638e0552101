//! Configuration, read from the environment once per container. Every setting is documented in
//! the README's configuration table.

use std::env;
use std::str::FromStr;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::domain::RateRules;
pub use crate::domain::Secret;
pub use crate::http::auth::{AuthConfig, TokenConfig};
pub use crate::search::VectorIndexConfig;

/// HMAC secrets shorter than the hash output weaken the signature (RFC 7518 §3.2).
pub(crate) const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone, Debug)]
pub struct Config {
    pub table_name: String,
    pub auth: AuthConfig,
    /// Signs pagination cursors.
    pub cursor_secret: Secret,
    /// SQS queue for index jobs. Unset, writes still mark items `index_pending` for the reconciler.
    pub index_queue_url: Option<String>,
    /// The table's vector index that search asks and the worker's vectors fill.
    pub vector_index: VectorIndexConfig,
    pub embedder: EmbedderChoice,
    pub rate_limits: RateRules,
    /// When the rate-limit table cannot be reached: admit (true, the default) or answer 503.
    pub rate_limit_fail_open: bool,
    /// Origins allowed to call the API from a browser (`*` for any); empty: no CORS headers.
    pub cors_allowed_origins: Vec<String>,
    pub cache: CacheConfig,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// `CACHE_URL` (`redis://host:6379`): a Redis shared by every container; unset, no cache.
    pub redis_url: Option<String>,
    /// How long a cached item lives. Writes fence their entries, so this bounds memory, not
    /// staleness (unless Redis loses acknowledged writes: see README, Caching).
    pub ttl: Duration,
}

impl CacheConfig {
    /// No cache: every read is a strongly consistent DynamoDB read. The default.
    pub fn off() -> Self {
        Self { redis_url: None, ttl: Duration::from_secs(60) }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedderChoice {
    Static,
    Bedrock { model_id: String },
}

#[derive(Debug)]
pub struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

fn is_hmac(algorithm: Algorithm) -> bool {
    matches!(algorithm, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub(crate) fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let optional = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let required = |name: &str| optional(name).ok_or_else(|| ConfigError(format!("{name} must be set")));
        let secret = |name: &str| -> Result<Option<Secret>, ConfigError> {
            match optional(name) {
                Some(value) if value.len() < MIN_SECRET_BYTES => {
                    Err(ConfigError(format!("{name} must be at least {MIN_SECRET_BYTES} bytes")))
                }
                value => Ok(value.map(Secret::new)),
            }
        };
        let seconds = |name: &str, default: u64| -> Result<u64, ConfigError> {
            optional(name).map_or(Ok(default), |raw| {
                raw.trim().parse().map_err(|_| ConfigError(format!("{name} must be a whole number")))
            })
        };

        let table_name = required("TABLE_NAME")?;
        let jwt_secret = secret("JWT_SECRET")?;
        let auth = match optional("AUTH_MODE").as_deref().unwrap_or("verify") {
            "gateway" => AuthConfig::Gateway,
            "verify" => {
                let algorithms = optional("JWT_ALGORITHMS")
                    .unwrap_or_else(|| "HS256".to_owned())
                    .split(',')
                    .map(|name| {
                        Algorithm::from_str(name.trim())
                            .map_err(|_| ConfigError(format!("JWT_ALGORITHMS: unknown algorithm {name:?}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let jwks_url = optional("JWKS_URL");
                if algorithms.iter().any(|a| is_hmac(*a)) && jwt_secret.is_none() {
                    return Err(ConfigError("JWT_SECRET must be set for HS* algorithms".to_owned()));
                }
                if algorithms.iter().any(|a| !is_hmac(*a)) && jwks_url.is_none() {
                    return Err(ConfigError("JWKS_URL must be set for RS*/PS*/ES*/EdDSA algorithms".to_owned()));
                }
                AuthConfig::Verify(TokenConfig {
                    algorithms,
                    hmac_secret: jwt_secret.clone(),
                    jwks_url,
                    issuer: optional("JWT_ISSUER"),
                    audience: optional("JWT_AUDIENCE"),
                    leeway_seconds: seconds("JWT_LEEWAY_SECONDS", 30)?,
                    jwks_cache_ttl: Duration::from_secs(seconds("JWKS_CACHE_SECONDS", 600)?),
                    jwks_min_refresh_interval: Duration::from_secs(seconds("JWKS_MIN_REFRESH_SECONDS", 30)?),
                })
            }
            other => return Err(ConfigError(format!("AUTH_MODE must be verify or gateway, not {other:?}"))),
        };
        let cursor_secret = match (secret("CURSOR_SECRET")?, jwt_secret) {
            (Some(secret), _) => secret,
            (None, Some(jwt)) => derive_key(jwt.expose(), b"pagination-cursor-key/v1"),
            (None, None) => return Err(ConfigError("CURSOR_SECRET (or JWT_SECRET) must be set".to_owned())),
        };
        let defaults = VectorIndexConfig::default();
        let vector_index = VectorIndexConfig {
            name: optional("VECTOR_INDEX_NAME").unwrap_or(defaults.name),
            attribute: optional("VECTOR_ATTRIBUTE").unwrap_or(defaults.attribute),
        };
        let embedder = match optional("EMBEDDER").as_deref().unwrap_or("static") {
            "static" => EmbedderChoice::Static,
            "bedrock" => EmbedderChoice::Bedrock {
                model_id: optional("BEDROCK_MODEL_ID").unwrap_or_else(|| "amazon.titan-embed-text-v2:0".to_owned()),
            },
            other => return Err(ConfigError(format!("EMBEDDER must be static or bedrock, not {other:?}"))),
        };
        let rate_limits = match optional("RATE_LIMITS") {
            Some(raw) => RateRules::parse(&raw).map_err(|e| ConfigError(format!("RATE_LIMITS: {e}")))?,
            None => RateRules::defaults(),
        };
        let rate_limit_fail_open = match optional("RATE_LIMIT_FAIL").as_deref().unwrap_or("open") {
            "open" => true,
            "closed" => false,
            other => return Err(ConfigError(format!("RATE_LIMIT_FAIL must be open or closed, not {other:?}"))),
        };
        let cors_allowed_origins = optional("CORS_ALLOWED_ORIGINS")
            .map(|raw| raw.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect())
            .unwrap_or_default();
        let cache = CacheConfig {
            redis_url: optional("CACHE_URL"),
            ttl: Duration::from_secs(seconds("CACHE_TTL_SECONDS", 60)?),
        };
        Ok(Self {
            table_name,
            auth,
            cursor_secret,
            index_queue_url: optional("INDEX_QUEUE_URL"),
            vector_index,
            embedder,
            rate_limits,
            rate_limit_fail_open,
            cors_allowed_origins,
            cache,
        })
    }
}

/// A purpose-bound key derived from a shared secret, so one secret can serve two uses without a
/// signature made for one ever being valid for the other.
pub(crate) fn derive_key(secret: &[u8], purpose: &[u8]) -> Secret {
    use aws_lc_rs::hmac;
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    Secret::new(hmac::sign(&key, purpose).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned()))
    }

    fn error(pairs: &[(&str, &str)]) -> String {
        config(pairs).unwrap_err().0
    }

    #[test]
    fn defaults_to_hs256_verification() {
        let config = config(&[("TABLE_NAME", "items"), ("JWT_SECRET", SECRET)]).unwrap();
        let AuthConfig::Verify(tokens) = config.auth else { panic!("verify mode expected") };
        assert_eq!(tokens.algorithms, [Algorithm::HS256]);
        assert_eq!(tokens.leeway_seconds, 30);
        assert_ne!(config.cursor_secret.expose(), SECRET.as_bytes(), "the cursor key is derived, not reused");
    }

    #[test]
    fn requires_a_table_and_strong_secrets() {
        assert!(error(&[("JWT_SECRET", SECRET)]).contains("TABLE_NAME"));
        assert!(error(&[("TABLE_NAME", "t"), ("JWT_SECRET", "short")]).contains("32"));
        assert!(error(&[("TABLE_NAME", "t")]).contains("JWT_SECRET"));
    }

    #[test]
    fn asymmetric_algorithms_need_a_jwks_url() {
        let base = [("TABLE_NAME", "t"), ("CURSOR_SECRET", SECRET), ("JWT_ALGORITHMS", "RS256,ES256")];
        assert!(error(&base).contains("JWKS_URL"));
        let with_url = [&base[..], &[("JWKS_URL", "https://idp.example/jwks.json")]].concat();
        assert!(config(&with_url).is_ok());
        assert!(error(&[("TABLE_NAME", "t"), ("JWT_ALGORITHMS", "XS1")]).contains("unknown algorithm"));
    }

    #[test]
    fn gateway_mode_needs_no_token_secret_but_a_cursor_secret() {
        assert!(error(&[("TABLE_NAME", "t"), ("AUTH_MODE", "gateway")]).contains("CURSOR_SECRET"));
        let ok = config(&[("TABLE_NAME", "t"), ("AUTH_MODE", "gateway"), ("CURSOR_SECRET", SECRET)]).unwrap();
        assert!(matches!(ok.auth, AuthConfig::Gateway));
        assert!(error(&[("TABLE_NAME", "t"), ("AUTH_MODE", "trust-me")]).contains("AUTH_MODE"));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = config(&[("TABLE_NAME", "items"), ("JWT_SECRET", SECRET)]).unwrap();
        assert!(!format!("{config:?}").contains(SECRET));
    }
}
