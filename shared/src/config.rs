//! Configuration, read from the environment once per container.

use std::env;

/// HS256 secrets shorter than the hash output weaken the signature (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Clone)]
pub struct Config {
    pub table_name: String,
    pub jwt_secret: Vec<u8>,
}

/// Never prints the secret.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("table_name", &self.table_name)
            .field("jwt_secret", &"<redacted>")
            .finish()
    }
}

#[derive(Debug)]
pub struct ConfigError(String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            lookup(name)
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| ConfigError(format!("{name} must be set")))
        };
        let table_name = required("TABLE_NAME")?;
        let jwt_secret = required("JWT_SECRET")?.into_bytes();
        if jwt_secret.len() < MIN_SECRET_BYTES {
            return Err(ConfigError(format!(
                "JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes"
            )));
        }
        Ok(Self {
            table_name,
            jwt_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn requires_table_and_a_strong_secret() {
        let secret = "s".repeat(MIN_SECRET_BYTES);
        assert!(config(&[("TABLE_NAME", "items"), ("JWT_SECRET", &secret)]).is_ok());
        assert!(
            config(&[("JWT_SECRET", &secret)])
                .unwrap_err()
                .0
                .contains("TABLE_NAME")
        );
        assert!(
            config(&[("TABLE_NAME", "items"), ("JWT_SECRET", "short")])
                .unwrap_err()
                .0
                .contains("32")
        );
    }
}
