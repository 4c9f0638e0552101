//! CORS: which browser origins may read responses. API Gateway answers preflights from the same
//! allowlist (`CorsConfiguration` in template.yaml); functions add the headers to real responses.

use lambda_http::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ORIGIN, VARY};
use lambda_http::http::{HeaderMap, HeaderValue};

/// Response headers a browser script may read besides the CORS-safelisted ones.
const EXPOSED: &str = "etag, location, x-request-id, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset, idempotent-replayed";

#[derive(Debug, Clone, Default)]
pub struct CorsPolicy {
    origins: Vec<String>,
}

impl CorsPolicy {
    pub fn new(origins: Vec<String>) -> Self {
        Self { origins }
    }

    /// Adds `Access-Control-Allow-Origin` (and friends) when the request's origin is allowed.
    pub fn apply(&self, request: &HeaderMap, response: &mut HeaderMap) {
        let Some(origin) = request.get(ORIGIN).and_then(|v| v.to_str().ok()) else { return };
        let any = self.origins.iter().any(|allowed| allowed == "*");
        if !any && !self.origins.iter().any(|allowed| allowed == origin) {
            return;
        }
        let allow = if any {
            HeaderValue::from_static("*")
        } else {
            HeaderValue::from_str(origin).ok().unwrap_or(HeaderValue::from_static("null"))
        };
        response.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allow);
        response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static(EXPOSED));
        response.append(VARY, HeaderValue::from_static("origin"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers_for(policy: &CorsPolicy, origin: &str) -> HeaderMap {
        let mut request = HeaderMap::new();
        request.insert(ORIGIN, HeaderValue::from_str(origin).unwrap());
        let mut response = HeaderMap::new();
        policy.apply(&request, &mut response);
        response
    }

    #[test]
    fn only_listed_origins_are_allowed() {
        let policy = CorsPolicy::new(vec!["https://app.example".to_owned()]);
        assert_eq!(headers_for(&policy, "https://app.example")[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert!(headers_for(&policy, "https://evil.example").get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
        assert!(headers_for(&CorsPolicy::default(), "https://app.example").is_empty());
        let any = CorsPolicy::new(vec!["*".to_owned()]);
        assert_eq!(headers_for(&any, "https://x.example")[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    }
}
