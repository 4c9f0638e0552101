//! Admission: the one gate every route passes before doing anything — authenticate, count the
//! request against the caller's rate limit (per client IP when unauthenticated), check the
//! permission the route needs.

use std::future::Future;

use futures_util::FutureExt;
use futures_util::future::{Either, select};

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
        self.count(rate_subject(request, &authenticated), group).await?;
        let principal = authenticated?;
        permit(&principal, permission)?;
        Ok(principal)
    }

    /// For routes that only read: admits the caller like [`App::admit_in`], but runs `read` while
    /// the limiter counts the request. Reads change nothing, so when the count needs a DynamoDB
    /// claim the two round trips overlap instead of queueing, and a refused read is dropped (429)
    /// as soon as the count says so.
    /// When the limiter can answer without I/O (a lease in hand, a caller already over its limit)
    /// that answer comes first, and a refused read never starts.
    pub async fn admit_read<T, F, Fut>(&self, request: &Request, group: RouteGroup, read: F) -> Result<T, ApiError>
    where
        F: FnOnce(Principal) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let authenticated = self.auth.authenticate(request).await;
        let principal = match authenticated {
            Ok(principal) if permit(&principal, Permission::Read).is_ok() => principal,
            // Refused either way: count first, as every route does, then say why.
            refused => {
                self.count(rate_subject(request, &refused), group).await?;
                let principal = refused?;
                permit(&principal, Permission::Read)?;
                principal
            }
        };
        let mut count = Box::pin(self.count(user_subject(&principal), group));
        if let Some(counted) = (&mut count).now_or_never() {
            counted?;
            return read(principal).await;
        }
        // Whichever finishes first: a refusal drops the read at once; a finished read waits for its count.
        match select(count, Box::pin(read(principal))).await {
            Either::Left((counted, read)) => {
                counted?;
                read.await
            }
            Either::Right((result, count)) => {
                count.await?;
                result
            }
        }
    }

    /// Counts the request against the caller's limit in `group`: 429 when over it.
    async fn count(&self, (subject, audience): (String, Audience), group: RouteGroup) -> Result<(), ApiError> {
        if let Some(outcome) = self.limiter.check(&subject, audience, group, self.now()).await? {
            scope::record_rate(outcome);
            if !outcome.allowed {
                return Err(ApiError::TooManyRequests { retry_after: outcome.reset_seconds.max(1) });
            }
        }
        Ok(())
    }
}

/// Who a request is counted against: the principal, or (failed logins count too, which is what
/// slows down token guessing) the client IP. The two kinds never share a bucket: a user whose id
/// reads like an address is still `user:…`.
fn rate_subject(request: &Request, authenticated: &Result<Principal, ApiError>) -> (String, Audience) {
    match authenticated {
        Ok(principal) => user_subject(principal),
        Err(_) => (format!("ip:{}", client_ip(request)), Audience::Anonymous),
    }
}

fn user_subject(principal: &Principal) -> (String, Audience) {
    (format!("user:{}", principal.user_id.as_str()), Audience::Role(principal.role))
}

/// The caller's IP as API Gateway saw it (not a client-supplied `X-Forwarded-For`).
fn client_ip(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.http.source_ip.clone(),
        _ => None,
    }
    .unwrap_or_else(|| "unknown".to_owned())
}
