//! Successful responses: `{ "success": true, "data": ..., "page"? }` plus headers.

use lambda_http::http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use super::error::ApiError;

#[derive(Serialize)]
pub struct PageInfo {
    pub limit: u16,
    pub next_cursor: Option<String>,
}

#[derive(Serialize)]
struct Envelope<T> {
    success: bool,
    data: T,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<PageInfo>,
}

pub struct Reply {
    status: StatusCode,
    body: Option<String>,
    headers: Vec<(HeaderName, String)>,
}

/// A reply as stored for idempotent replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StoredReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

impl Reply {
    pub fn ok(data: impl Serialize) -> Result<Self, ApiError> {
        Self::with_status(StatusCode::OK, data, None)
    }

    pub fn created(data: impl Serialize) -> Result<Self, ApiError> {
        Self::with_status(StatusCode::CREATED, data, None)
    }

    pub fn page(data: impl Serialize, page: PageInfo) -> Result<Self, ApiError> {
        Self::with_status(StatusCode::OK, data, Some(page))
    }

    pub fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: None, headers: Vec::new() }
    }

    pub fn not_modified() -> Self {
        Self { status: StatusCode::NOT_MODIFIED, body: None, headers: Vec::new() }
    }

    fn with_status(status: StatusCode, data: impl Serialize, page: Option<PageInfo>) -> Result<Self, ApiError> {
        let body = serde_json::to_string(&Envelope { success: true, data, page })
            .map_err(|e| ApiError::Internal { context: "serialize response", source: e.into() })?;
        Ok(Self { status, body: Some(body), headers: Vec::new() })
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn header_str(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((HeaderName::from_static(name), value.into()));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn to_stored(&self) -> StoredReply {
        StoredReply {
            status: self.status.as_u16(),
            headers: self.headers.iter().map(|(name, value)| (name.as_str().to_owned(), value.clone())).collect(),
            body: self.body.clone(),
        }
    }

    /// Rebuilds a stored reply; a header name that no longer parses is dropped.
    pub(crate) fn from_stored(stored: StoredReply) -> Self {
        Self {
            status: StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK),
            headers: stored
                .headers
                .into_iter()
                .filter_map(|(name, value)| HeaderName::try_from(name).ok().map(|name| (name, value)))
                .collect(),
            body: stored.body,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::new(self.body.clone().map_or(Body::Empty, Body::Text));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.body.is_some() {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        // Item data is per-user once ownership rules apply: never let a shared cache keep it.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::try_from(value) {
                headers.insert(name, value);
            }
        }
        response
    }
}
