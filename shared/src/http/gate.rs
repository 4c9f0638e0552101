//! Admission: the one gate every route passes before its work runs: authenticate, count the
//! request against the caller's rate limit (per client IP when unauthenticated), check the
//! permission the route declares. The gate also holds what every response needs (CORS).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use futures_util::future::{Either, select};
use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use super::auth::{Authenticator, permit};
use super::cors::CorsPolicy;
use super::error::ApiError;
use crate::domain::{Audience, Permission, Principal, RouteGroup, Timestamp};
use crate::scope;
use crate::service::RateLimiter;

/// How admission treats the route's work: a read changes nothing, so it may run while the rate
/// limiter counts it; a write waits for the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// What a route declares for admission (the table of them: `route.rs`).
#[derive(Debug)]
pub struct Route {
    /// The function (and its binary) that serves the route.
    pub function: &'static str,
    pub key: &'static str,
    pub permission: Permission,
    pub group: RouteGroup,
    pub access: Access,
}

pub(crate) const fn route(
    function: &'static str,
    key: &'static str,
    permission: Permission,
    group: RouteGroup,
    access: Access,
) -> Route {
    Route { function, key, permission, group, access }
}

pub struct Gate {
    pub auth: Authenticator,
    pub limiter: RateLimiter,
    pub cors: CorsPolicy,
    pub clock: fn() -> Timestamp,
    /// Set once this container has counted a request: from then on its HTTP pool holds a
    /// connection to DynamoDB, and a read may overlap its count.
    pub(crate) counted_before: AtomicBool,
}

impl Gate {
    /// Admits the request to `route` and runs `work` as the admitted caller. A read runs while
    /// the limiter counts it (the two round trips overlap, and a refused read is dropped as soon
    /// as the count says so); a write runs only after its count. When the limiter can answer
    /// without I/O (a lease in hand, a caller already over its limit) that answer comes first,
    /// and refused work never starts.
    ///
    /// A container's first read waits for its count too: no connection is open yet, so overlapping
    /// would open two, and the second TLS handshake costs more CPU (at 128 MB, billed time) than
    /// the round trip the overlap saves (README, "The race with serverless-rust-demo").
    pub async fn admit<T, F, Fut>(&self, request: &Request, route: &Route, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(Principal) -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let authenticated = self.auth.authenticate(request).await;
        let principal = match authenticated {
            Ok(principal) if permit(&principal, route.permission).is_ok() => principal,
            // Refused either way: count first, as every request is counted, then say why.
            refused => {
                self.count(rate_subject(request, &refused), route.group).await?;
                let principal = refused?;
                permit(&principal, route.permission)?;
                principal
            }
        };
        let mut count = Box::pin(self.count(user_subject(&principal), route.group));
        if route.access == Access::Write || !self.counted_before.load(Ordering::Relaxed) {
            let counted = count.await;
            self.counted_before.store(true, Ordering::Relaxed);
            counted?;
            return work(principal).await;
        }
        if let Some(counted) = (&mut count).now_or_never() {
            counted?;
            return work(principal).await;
        }
        // Whichever finishes first: a refusal drops the read at once; a finished read waits for its count.
        match select(count, Box::pin(work(principal))).await {
            Either::Left((counted, work)) => {
                counted?;
                work.await
            }
            Either::Right((result, count)) => {
                count.await?;
                result
            }
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.clock)()
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
