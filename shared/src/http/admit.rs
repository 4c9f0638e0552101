//! Admission: the one gate every route passes before doing anything — authenticate, count the
//! request against the caller's rate limit (per client IP when unauthenticated), check the
//! permission the route needs.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::auth::permit;
use crate::app::App;
use crate::domain::{Permission, Principal};
use crate::error::ApiError;
use crate::ratelimit::{Audience, RouteGroup};
use crate::scope;

impl App {
    /// The caller, admitted to a route that needs `permission` (rate-limited in that permission's group).
    pub async fn admit(&self, request: &Request, permission: Permission) -> Result<Principal, ApiError> {
        self.admit_in(request, permission, RouteGroup::for_permission(permission)).await
    }

    /// Like [`App::admit`], counted in `group`.
    pub async fn admit_in(
        &self,
        request: &Request,
        permission: Permission,
        group: RouteGroup,
    ) -> Result<Principal, ApiError> {
        let authenticated = self.auth.authenticate(request).await;
        // Failed logins count too, per IP: that is what slows down token guessing.
        let (subject, audience) = match &authenticated {
            Ok(principal) => (principal.user_id.as_str().to_owned(), Audience::Role(principal.role)),
            Err(_) => (format!("ip:{}", client_ip(request)), Audience::Anonymous),
        };
        if let Some(outcome) = self.limiter.check(&subject, audience, group, self.now()).await? {
            scope::record_rate(outcome);
            if !outcome.allowed {
                return Err(ApiError::TooManyRequests { retry_after: outcome.reset_seconds.max(1) });
            }
        }
        let principal = authenticated?;
        permit(&principal, permission)?;
        Ok(principal)
    }
}

/// The caller's IP as API Gateway saw it (not a client-supplied `X-Forwarded-For`).
fn client_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".to_owned())
}
