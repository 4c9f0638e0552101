//! The AWS settings every client shares, loaded once per container without the work a Lambda
//! never needs.
//!
//! `aws_config::load_from_env` is built for every environment an SDK may run in; a Lambda function
//! is one, and it paid for the others. Measured with callgrind, ~85 % of a function's init went to
//! building an STS client for the web-identity credential provider and parsing the system's whole
//! root certificate bundle (144 PEM certificates here); and aws-config with its STS client was
//! ~0.4 MB of every binary. Lambda hands a function everything in its environment, so:
//! - region, keys and endpoint are read from the variables Lambda sets (`AWS_REGION`,
//!   `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and `AWS_ENDPOINT_URL`;
//!   profiles, SSO and instance metadata are not consulted;
//! - TLS trusts the Amazon Trust Services roots compiled into the binary when the endpoints are
//!   AWS's own. With `AWS_ENDPOINT_URL` set (a local or proxied endpoint) it trusts the system
//!   bundle instead. `AWS_TLS_ROOTS=amazon|system` overrides either choice.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_types::SdkConfig;

/// Amazon Root CA 1-4 and Starfield Services Root G2, as published by Amazon Trust Services.
pub(crate) const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services-roots.pem");

/// Which certificates the HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// The Amazon Trust Services roots only (compiled in: nothing to read or parse at init).
    Amazon,
    /// The operating system's bundle.
    System,
}

/// A setting the AWS clients cannot be built without, missing or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set (Lambda sets it; locally, export it)")]
    Missing(&'static str),
    #[error("AWS_TLS_ROOTS must be `amazon` or `system`, not {0:?}")]
    Roots(String),
}

impl TrustedRoots {
    /// `AWS_TLS_ROOTS` if set, else Amazon's unless `AWS_ENDPOINT_URL` points elsewhere.
    pub fn from_env() -> Result<Self, SettingsError> {
        match std::env::var("AWS_TLS_ROOTS").ok().as_deref() {
            Some("amazon") => Ok(Self::Amazon),
            Some("system") => Ok(Self::System),
            Some(other) => Err(SettingsError::Roots(other.to_owned())),
            None if std::env::var_os("AWS_ENDPOINT_URL").is_some() => Ok(Self::System),
            None => Ok(Self::Amazon),
        }
    }
}

/// The shared AWS settings, from the environment (see the module docs).
pub fn from_env(roots: TrustedRoots) -> Result<SdkConfig, SettingsError> {
    settings(roots, |name| std::env::var(name).ok())
}

fn settings(roots: TrustedRoots, lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, SettingsError> {
    let var = |name: &str| lookup(name).filter(|value| !value.is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).ok_or(SettingsError::Missing("AWS_REGION"))?;
    let key = var("AWS_ACCESS_KEY_ID").ok_or(SettingsError::Missing("AWS_ACCESS_KEY_ID"))?;
    let secret = var("AWS_SECRET_ACCESS_KEY").ok_or(SettingsError::Missing("AWS_SECRET_ACCESS_KEY"))?;
    let credentials = Credentials::new(key, secret, var("AWS_SESSION_TOKEN"), None, "environment");
    let settings = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client(roots));
    Ok(match var("AWS_ENDPOINT_URL") {
        Some(endpoint) => settings.endpoint_url(endpoint),
        None => settings,
    }
    .build())
}

/// The SDK's own rustls + aws-lc client, trusting `roots`.
pub(crate) fn https_client(roots: TrustedRoots) -> SharedHttpClient {
    let trust = match roots {
        TrustedRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS),
        TrustedRoots::System => TrustStore::default(),
    };
    let context = TlsContext::builder().with_trust_store(trust).build();
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match context {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context only stores the trust store; should that ever fail, keep the defaults.
        Err(_) => builder.build_https(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::config::ProvideCredentials;
    use rustls_pki_types::pem::PemObject;

    use super::*;

    fn settings_from(pairs: &[(&str, &str)]) -> Result<SdkConfig, SettingsError> {
        let env: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        settings(TrustedRoots::Amazon, |name| env.get(name).cloned())
    }

    #[tokio::test]
    async fn reads_what_lambda_sets() {
        let settings = settings_from(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
        ])
        .expect("complete environment");

        assert_eq!(settings.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(settings.endpoint_url(), None, "AWS's own endpoints");
        let credentials =
            settings.credentials_provider().expect("provider").provide_credentials().await.expect("credentials");
        assert_eq!(credentials.access_key_id(), "AKID");
        assert_eq!(credentials.session_token(), Some("token"));
    }

    #[test]
    fn falls_back_to_the_default_region_and_honours_an_endpoint() {
        let settings = settings_from(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ])
        .expect("complete environment");

        assert_eq!(settings.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(settings.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[test]
    fn says_which_variable_is_missing() {
        let error = settings_from(&[("AWS_REGION", "us-east-1"), ("AWS_SECRET_ACCESS_KEY", "s")]).unwrap_err();
        assert_eq!(error, SettingsError::Missing("AWS_ACCESS_KEY_ID"));
        let error = settings_from(&[("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s")]).unwrap_err();
        assert_eq!(error, SettingsError::Missing("AWS_REGION"));
    }

    #[test]
    fn the_compiled_in_roots_are_the_five_amazon_trust_services_certificates() {
        let certificates: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS)
            .collect::<Result<_, _>>()
            .expect("valid PEM");
        assert_eq!(certificates.len(), 5);
        for certificate in &certificates {
            webpki::anchor_from_trusted_cert(certificate).expect("usable as a trust anchor");
        }
    }
}
