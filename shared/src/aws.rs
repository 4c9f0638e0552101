//! The AWS settings every client shares, loaded once per container without the work a Lambda
//! never needs.
//!
//! Two defaults of `aws_config::load_from_env` cost most of a cold start (measured with callgrind:
//! ~85 % of init's instructions): the default credential chain builds an STS client for web
//! identity, and the first HTTPS client parses the system's whole root certificate bundle (144
//! PEM certificates here). On Lambda the credentials are always in the environment, and AWS
//! endpoints chain to the five Amazon Trust Services roots, so:
//! - keys in the environment are used directly (otherwise the default chain, e.g. a profile);
//! - TLS trusts the Amazon Trust Services roots compiled into the binary when the endpoints are
//!   AWS's own. With `AWS_ENDPOINT_URL` set (a local or proxied endpoint) it trusts the system
//!   bundle instead. `AWS_TLS_ROOTS=amazon|system` overrides either choice.

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// Amazon Root CA 1-4 and Starfield Services Root G2, as published by Amazon Trust Services.
pub const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("../certs/amazon-trust-services-roots.pem");

/// Which certificates the HTTPS client trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedRoots {
    /// The Amazon Trust Services roots only (compiled in: nothing to read or parse at init).
    Amazon,
    /// The operating system's bundle.
    System,
}

impl TrustedRoots {
    /// `AWS_TLS_ROOTS` if set, else Amazon's unless `AWS_ENDPOINT_URL` points elsewhere.
    pub fn from_env() -> Result<Self, String> {
        match std::env::var("AWS_TLS_ROOTS").ok().as_deref() {
            Some("amazon") => Ok(Self::Amazon),
            Some("system") => Ok(Self::System),
            Some(other) => Err(format!("AWS_TLS_ROOTS must be `amazon` or `system`, not {other:?}")),
            None if std::env::var_os("AWS_ENDPOINT_URL").is_some() => Ok(Self::System),
            None => Ok(Self::Amazon),
        }
    }
}

/// The shared AWS settings: region and endpoint from the environment, as `load_from_env` would.
pub async fn load(roots: TrustedRoots) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client(roots));
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some() && std::env::var_os("AWS_SECRET_ACCESS_KEY").is_some() {
        loader = loader.credentials_provider(EnvironmentVariableCredentialsProvider::new());
    }
    loader.load().await
}

/// The SDK's own rustls + aws-lc client, trusting `roots`.
pub fn https_client(roots: TrustedRoots) -> SharedHttpClient {
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
    use rustls_pki_types::pem::PemObject;

    use super::*;

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
