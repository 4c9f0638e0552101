//! Distributed rate limiting: fixed windows counted in DynamoDB, so every Lambda container
//! enforces the same limit (a per-process limiter, as in the seed, limits nothing on Lambda).
//!
//! Each count is an atomic `ADD` conditioned on the window still having room, so the limit is never
//! exceeded under concurrency. A container claims tokens in *leases*: one token at first, then
//! 2, 4, … up to [`RateLimiter::max_lease`] as the same caller keeps coming back within the window,
//! and spends them locally, so a busy caller costs one DynamoDB call per lease rather than per
//! request. Unspent tokens expire with the window, so a caller served by several containers can be
//! refused early by at most the tokens those containers still hold (each under 1/50 of the limit,
//! and never more than the container already used); near the limit, claims fall back to single
//! tokens. A caller already over its limit is answered from an in-container memo until its window
//! ends, without any call. Window records expire through the table's TTL (`expires_at`).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use crate::domain::{Permission, Role, Timestamp};
use crate::repository::{StoreError, keys};

/// Routes are limited per group, so a burst of reads does not use up a caller's writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteGroup {
    Read,
    Write,
    Search,
    Admin,
}

impl RouteGroup {
    pub fn for_permission(permission: Permission) -> Self {
        match permission {
            Permission::Read => RouteGroup::Read,
            Permission::Write | Permission::Delete => RouteGroup::Write,
            Permission::Admin => RouteGroup::Admin,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteGroup::Read => "read",
            RouteGroup::Write => "write",
            RouteGroup::Search => "search",
            RouteGroup::Admin => "admin",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        [RouteGroup::Read, RouteGroup::Write, RouteGroup::Search, RouteGroup::Admin]
            .into_iter()
            .find(|group| group.as_str() == raw)
    }
}

/// Who is counted: a role, or unauthenticated callers (counted per client IP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    Anonymous,
    Role(Role),
}

impl Audience {
    fn parse(raw: &str) -> Option<Self> {
        match raw {
            "anonymous" => Some(Audience::Anonymous),
            role => Role::parse(role).map(Audience::Role),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub limit: u32,
    pub window_seconds: u32,
}

/// Limits per (audience, route group). A pair without a rule is not limited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RateRules(HashMap<(Audience, RouteGroup), Rule>);

const DEFAULT_RULES: &str = "anonymous:read=60/60,anonymous:write=60/60,anonymous:search=60/60,anonymous:admin=60/60,\
user:read=600/60,user:write=120/60,user:search=120/60,\
moderator:read=1200/60,moderator:write=600/60,moderator:search=300/60,\
admin:read=3000/60,admin:write=1200/60,admin:search=600/60,admin:admin=60/60";

impl RateRules {
    /// No limits at all.
    pub fn off() -> Self {
        Self::default()
    }

    /// The defaults, documented in the README.
    pub fn defaults() -> Self {
        Self::parse(DEFAULT_RULES).unwrap_or_default()
    }

    /// `audience:group=limit/seconds` pairs separated by commas, e.g. `user:write=120/60`; `off` for none.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.trim() == "off" {
            return Ok(Self::off());
        }
        let mut rules = HashMap::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("bad rate rule {entry:?}: expected audience:group=limit/seconds");
            let (scope, rule) = entry.split_once('=').ok_or_else(bad)?;
            let (audience, group) = scope.split_once(':').ok_or_else(bad)?;
            let (limit, window) = rule.split_once('/').ok_or_else(bad)?;
            let audience = Audience::parse(audience.trim()).ok_or_else(bad)?;
            let group = RouteGroup::parse(group.trim()).ok_or_else(bad)?;
            let limit: u32 = limit.trim().parse().map_err(|_| bad())?;
            let window_seconds: u32 = window.trim().parse().ok().filter(|w| *w > 0).ok_or_else(bad)?;
            rules.insert((audience, group), Rule { limit, window_seconds });
        }
        Ok(Self(rules))
    }

    pub fn with(mut self, audience: Audience, group: RouteGroup, rule: Rule) -> Self {
        self.0.insert((audience, group), rule);
        self
    }

    fn rule(&self, audience: Audience, group: RouteGroup) -> Option<Rule> {
        self.0.get(&(audience, group)).copied()
    }
}

/// One caller's fixed window for one route group.
struct Window<'a> {
    group: RouteGroup,
    subject: &'a str,
    start: i64,
    end: i64,
    limit: u32,
}

/// What the limiter decided, and what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateOutcome {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window resets.
    pub reset_seconds: u64,
}

pub struct RateLimiter {
    client: Client,
    table: String,
    rules: RateRules,
    /// When DynamoDB cannot be asked: let the request through (`true`) or refuse it with 503.
    fail_open: bool,
    /// Callers known to be over their limit, until the end of their window (epoch seconds).
    blocked: Mutex<HashMap<String, (i64, u32)>>,
    /// Tokens this container has claimed and not spent yet, per caller and route group.
    leases: Mutex<HashMap<String, Lease>>,
}

/// Tokens claimed from one window's count and not yet spent by this container.
#[derive(Debug, Clone, Copy)]
struct Lease {
    window_start: i64,
    /// Epoch seconds; rules may have different window lengths, so expiry is per lease.
    window_end: i64,
    unspent: u32,
    /// The window's count right after this container's last claim (its own unspent tokens included).
    counted: u32,
    /// How many tokens the next claim asks for: doubles while the caller keeps coming back and
    /// the window has room for it; one near the limit.
    next_claim: u32,
}

/// The most a lease may hold, whatever the limit: bounds what a container can strand.
const LEASE_CAP: u32 = 32;

impl RateLimiter {
    pub fn new(client: Client, table: impl Into<String>, rules: RateRules, fail_open: bool) -> Self {
        Self {
            client,
            table: table.into(),
            rules,
            fail_open,
            blocked: Mutex::new(HashMap::new()),
            leases: Mutex::new(HashMap::new()),
        }
    }

    /// The largest lease for `limit`: 1/50 of it (at least 1, at most 32). Limits under 100 are
    /// therefore counted one request per call, exactly.
    pub fn max_lease(limit: u32) -> u32 {
        (limit / 50).clamp(1, LEASE_CAP)
    }

    /// Counts one request of `subject` (a user id, or a client IP for anonymous callers).
    /// `Ok(None)` when no rule applies.
    pub async fn check(
        &self,
        subject: &str,
        audience: Audience,
        group: RouteGroup,
        now: Timestamp,
    ) -> Result<Option<RateOutcome>, StoreError> {
        let Some(rule) = self.rules.rule(audience, group) else {
            return Ok(None);
        };
        let now_seconds = now.as_millis().div_euclid(1000);
        let window_length = i64::from(rule.window_seconds);
        let window_start = now_seconds - now_seconds.rem_euclid(window_length);
        let window_end = window_start + window_length;
        let reset_seconds = u64::try_from(window_end - now_seconds).unwrap_or(0);
        let refused = RateOutcome { allowed: false, limit: rule.limit, remaining: 0, reset_seconds };
        let memo_key = format!("{}#{subject}", group.as_str());
        if self.is_blocked(&memo_key, now_seconds) {
            return Ok(Some(refused));
        }
        if rule.limit == 0 {
            return Ok(Some(refused));
        }
        let allowed = |remaining: u32| RateOutcome { allowed: true, limit: rule.limit, remaining, reset_seconds };
        if let Some(remaining) = self.spend_leased(&memo_key, window_start, rule.limit) {
            return Ok(Some(allowed(remaining)));
        }

        let window = Window { group, subject, start: window_start, end: window_end, limit: rule.limit };
        let wanted = self.claim_size(&memo_key, window_start, rule.limit);
        let mut claimed = self.claim(&window, wanted).await;
        if wanted > 1 && matches!(&claimed, Err(e) if e.is_conditional_check_failed_exception()) {
            // Not enough room left for a lease: near the limit, count one request at a time.
            claimed = self.claim(&window, 1).await;
        }
        match claimed {
            Ok((counted, granted)) => {
                let unspent = granted - 1;
                // Grow the lease only while the window has room for the next one; near the limit,
                // stay at one token, so a claim is never refused for its size and then retried.
                let next = granted.saturating_mul(2).min(Self::max_lease(rule.limit));
                let next_claim = if rule.limit.saturating_sub(counted) >= next { next } else { 1 };
                let lease = Lease { window_start, window_end, unspent, counted, next_claim };
                self.store_lease(memo_key, lease, now_seconds);
                Ok(Some(allowed(rule.limit.saturating_sub(counted) + unspent)))
            }
            Err(e) if e.is_conditional_check_failed_exception() => {
                if let Ok(mut blocked) = self.blocked.lock() {
                    blocked.retain(|_, (until, _)| *until > now_seconds);
                    blocked.insert(memo_key, (window_end, rule.limit));
                }
                Ok(Some(refused))
            }
            Err(e) if self.fail_open => {
                tracing::warn!(error = %crate::error::error_chain(&e), "rate limiter unavailable; failing open");
                Ok(None)
            }
            Err(e) => Err(StoreError::from_sdk(e, "rate limit")),
        }
    }

    /// Spends one token of this container's lease for the window, if it holds one; returns the
    /// remaining count the caller is told.
    fn spend_leased(&self, memo_key: &str, window_start: i64, limit: u32) -> Option<u32> {
        let mut leases = self.leases.lock().ok()?;
        let lease = leases.get_mut(memo_key).filter(|lease| lease.window_start == window_start && lease.unspent > 0)?;
        lease.unspent -= 1;
        Some(limit.saturating_sub(lease.counted) + lease.unspent)
    }

    /// One token for a caller new to this container (or this window), more while it keeps coming.
    fn claim_size(&self, memo_key: &str, window_start: i64, limit: u32) -> u32 {
        let leases = self.leases.lock().ok();
        let next = leases
            .as_ref()
            .and_then(|leases| leases.get(memo_key))
            .filter(|lease| lease.window_start == window_start)
            .map_or(1, |lease| lease.next_claim);
        next.clamp(1, Self::max_lease(limit))
    }

    fn store_lease(&self, memo_key: String, lease: Lease, now_seconds: i64) {
        if let Ok(mut leases) = self.leases.lock() {
            // Leases of ended windows are worthless: drop them so the map stays as small as the traffic.
            leases.retain(|_, kept| kept.window_end > now_seconds);
            let merged = match leases.get(&memo_key) {
                // Concurrent claims in one container: keep every token claimed.
                Some(held) if held.window_start == lease.window_start => {
                    Lease { unspent: held.unspent + lease.unspent, counted: held.counted.max(lease.counted), ..lease }
                }
                // A claim that finished late for an earlier window never replaces a newer lease.
                Some(held) if held.window_start > lease.window_start => return,
                _ => lease,
            };
            leases.insert(memo_key, merged);
        }
    }

    /// Adds `tokens` to the window's count if they all fit under the limit; returns the new count
    /// and the tokens granted (all of them).
    async fn claim(&self, window: &Window<'_>, tokens: u32) -> Result<(u32, u32), UpdateItemError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::rate_window_key(window.group.as_str(), window.subject, window.start)))
            .update_expression("ADD #hits :tokens SET #expires_at = :expires")
            .condition_expression("attribute_not_exists(#hits) OR #hits <= :room")
            .expression_attribute_names("#hits", "hits")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":tokens", AttributeValue::N(tokens.to_string()))
            .expression_attribute_values(":room", AttributeValue::N((window.limit - tokens).to_string()))
            // Kept a minute past the window so a late request still finds its count.
            .expression_attribute_values(":expires", AttributeValue::N((window.end + 60).to_string()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| e.into_service_error())?;
        let counted = output
            .attributes
            .and_then(|attributes| attributes.get("hits").and_then(|v| v.as_n().ok()).cloned())
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(window.limit);
        Ok((counted, tokens))
    }

    fn is_blocked(&self, memo_key: &str, now_seconds: i64) -> bool {
        self.blocked.lock().is_ok_and(|blocked| blocked.get(memo_key).is_some_and(|(until, _)| *until > now_seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_and_rejects_nonsense() {
        let rules = RateRules::parse("user:write=20/60, anonymous:read=5/1").unwrap();
        assert_eq!(
            rules.rule(Audience::Role(Role::User), RouteGroup::Write),
            Some(Rule { limit: 20, window_seconds: 60 })
        );
        assert_eq!(rules.rule(Audience::Anonymous, RouteGroup::Read), Some(Rule { limit: 5, window_seconds: 1 }));
        assert_eq!(rules.rule(Audience::Role(Role::Admin), RouteGroup::Read), None);
        for bad in ["user:write=20", "root:read=1/1", "user:read=x/60", "user:read=1/0", "user=1/1"] {
            assert!(RateRules::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RateRules::parse("off").unwrap(), RateRules::off());
        assert!(RateRules::defaults().rule(Audience::Role(Role::User), RouteGroup::Read).is_some());
    }
}
