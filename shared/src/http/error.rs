//! `ApiError`: the one error type of the HTTP layer, and the one place it becomes the error
//! envelope. Services say what went wrong in their own terms (`ServiceError`); this is where that
//! becomes a status code.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

use crate::domain::FieldError;
use crate::error::BoxError;
use crate::service::ServiceError;

#[derive(Debug)]
pub enum ApiError {
    /// One or more input fields were wrong; each is listed in `details`.
    Validation(Vec<FieldError>),
    /// A request that is malformed as a whole (bad JSON, bad cursor, unsupported parameter).
    BadRequest {
        code: &'static str,
        message: String,
    },
    Unauthenticated(AuthFailure),
    /// Authenticated, but the caller's role does not grant the permission the route needs.
    Forbidden {
        permission: &'static str,
    },
    NotFound,
    PreconditionFailed,
    /// The request conflicts with the current state; `details` may name the parts (e.g. order lines).
    Conflict {
        code: &'static str,
        message: String,
        details: Vec<FieldError>,
    },
    /// Well-formed but unprocessable as sent (e.g. an idempotency key reused with another body).
    Unprocessable {
        code: &'static str,
        message: String,
    },
    PayloadTooLarge {
        limit_bytes: usize,
    },
    UnsupportedMediaType,
    /// The store throttled us, or could not be reached: worth retrying shortly.
    Unavailable,
    /// A write was sent, and the store did not say in time whether it was applied: neither a
    /// success nor a 503 would be true. A retry with the same `Idempotency-Key` is safe.
    OutcomeUnknown,
    /// The caller is over a rate limit; `retry_after` seconds until its window resets.
    TooManyRequests {
        retry_after: u64,
    },
    /// Our fault. The source is logged; the client sees only a generic message.
    Internal {
        context: &'static str,
        source: BoxError,
    },
}

/// Why a request was not authenticated. Logged, never echoed in detail.
#[derive(Debug)]
pub enum AuthFailure {
    MissingToken,
    InvalidToken(String),
}

impl ApiError {
    pub(crate) fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest { code, message: message.into() }
    }

    pub fn invalid_field(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::OutcomeUnknown => StatusCode::GATEWAY_TIMEOUT,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::BadRequest { code, .. } | Self::Conflict { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::Unauthenticated(_) => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::NotFound => "not_found",
            Self::PreconditionFailed => "precondition_failed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Unavailable => "service_unavailable",
            Self::OutcomeUnknown => "outcome_unknown",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Internal { .. } => "internal_error",
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Validation(_) => "the request has invalid fields; see details".to_owned(),
            Self::BadRequest { message, .. } | Self::Conflict { message, .. } | Self::Unprocessable { message, .. } => {
                message.clone()
            }
            Self::Unauthenticated(AuthFailure::MissingToken) => "a bearer token is required".to_owned(),
            Self::Unauthenticated(AuthFailure::InvalidToken(_)) => "the bearer token is invalid or expired".to_owned(),
            Self::Forbidden { permission } => format!("your role does not grant the {permission} permission"),
            Self::NotFound => "no such item".to_owned(),
            Self::PreconditionFailed => "the item has changed since the version named in If-Match".to_owned(),
            Self::PayloadTooLarge { limit_bytes } => {
                format!("the body must be at most {limit_bytes} bytes")
            }
            Self::UnsupportedMediaType => "the body must be sent as Content-Type: application/json".to_owned(),
            Self::Unavailable => "the service is busy and nothing was written; retry shortly".to_owned(),
            Self::OutcomeUnknown => "the store did not confirm in time whether the write was applied; retry with \
                                     the same Idempotency-Key, or read the resource, to find out"
                .to_owned(),
            Self::TooManyRequests { retry_after } => format!("too many requests; retry in {retry_after} s"),
            Self::Internal { .. } => "an internal error occurred".to_owned(),
        }
    }

    /// The error envelope: `{ "success": false, "error": { code, message, details?, request_id } }`.
    pub(crate) fn into_response(self, request_id: &str) -> Response<Body> {
        let details = match &self {
            Self::Validation(details) => Some(details.as_slice()),
            Self::Conflict { details, .. } if !details.is_empty() => Some(details.as_slice()),
            _ => None,
        };
        let envelope = ErrorEnvelope {
            success: false,
            error: ErrorBody { code: self.code(), message: self.message(), details, request_id },
        };
        let body = serde_json::to_string(&envelope)
            .unwrap_or_else(|_| r#"{"success":false,"error":{"code":"internal_error"}}"#.to_owned());
        let mut response = Response::new(Body::Text(body));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match &self {
            Self::Unauthenticated(AuthFailure::MissingToken) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::Unauthenticated(AuthFailure::InvalidToken(_)) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            Self::Unavailable | Self::OutcomeUnknown => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::TooManyRequests { retry_after } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

#[derive(Serialize)]
struct ErrorEnvelope<'a> {
    success: bool,
    error: ErrorBody<'a>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<&'a [FieldError]>,
    request_id: &'a str,
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(fields) => Self::Validation(fields),
            ServiceError::NotFound => Self::NotFound,
            ServiceError::PreconditionFailed => Self::PreconditionFailed,
            ServiceError::Conflict { code, message, details } => Self::Conflict { code, message, details },
            ServiceError::Unavailable => Self::Unavailable,
            ServiceError::OutcomeUnknown => Self::OutcomeUnknown,
            ServiceError::Internal { context, source } => Self::Internal { context, source },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Internal { context, .. } => f.write_str(context),
            Self::Unauthenticated(AuthFailure::InvalidToken(reason)) => {
                write!(f, "invalid token: {reason}")
            }
            other => f.write_str(&other.message()),
        }
    }
}

impl std::error::Error for ApiError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Internal { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(response: &Response<Body>) -> serde_json::Value {
        serde_json::from_slice(response.body().as_ref()).unwrap()
    }

    #[test]
    fn validation_errors_list_each_field() {
        let error = ApiError::Validation(vec![
            FieldError::new("name", "required", "is required"),
            FieldError::new("price", "out_of_range", "must not be negative"),
        ]);
        let response = error.into_response("req-1");
        assert_eq!(response.status(), 400);
        let body = body_of(&response);
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "validation_failed");
        assert_eq!(body["error"]["request_id"], "req-1");
        assert_eq!(body["error"]["details"][1]["field"], "price");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::Internal { context: "query items", source: "connection reset by 10.0.0.7".into() };
        let response = error.into_response("req-2");
        assert_eq!(response.status(), 500);
        let text = String::from_utf8(response.body().to_vec()).unwrap();
        assert!(!text.contains("10.0.0.7") && !text.contains("query items"), "{text}");
    }

    #[test]
    fn service_errors_map_to_statuses() {
        assert_eq!(ApiError::from(ServiceError::NotFound).status(), 404);
        assert_eq!(ApiError::from(ServiceError::PreconditionFailed).status(), 412);
        assert_eq!(ApiError::from(ServiceError::Unavailable).status(), 503);
        assert_eq!(ApiError::from(ServiceError::OutcomeUnknown).status(), 504);
        let invalid = ServiceError::Invalid(vec![FieldError::new("lines", "total_too_large", "too much")]);
        assert_eq!(ApiError::from(invalid).status(), 400);
    }

    #[test]
    fn unauthenticated_says_bearer_and_whether_the_token_was_bad() {
        let missing = ApiError::Unauthenticated(AuthFailure::MissingToken).into_response("r");
        assert_eq!(missing.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let invalid = ApiError::Unauthenticated(AuthFailure::InvalidToken("ExpiredSignature at 1700000000".into()))
            .into_response("r");
        assert_eq!(invalid.headers()[header::WWW_AUTHENTICATE], "Bearer error=\"invalid_token\"");
        assert!(!String::from_utf8(invalid.body().to_vec()).unwrap().contains("ExpiredSignature"));
    }
}
