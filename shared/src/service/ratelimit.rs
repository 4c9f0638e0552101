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

use super::error::ServiceError;
use crate::domain::{Audience, RateOutcome, RateRules, RouteGroup, Timestamp};
use crate::repository::{ClaimError, DynamoRateWindows, RateWindow};

pub struct RateLimiter {
    windows: DynamoRateWindows,
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
            windows: DynamoRateWindows::new(client, table),
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
    ) -> Result<Option<RateOutcome>, ServiceError> {
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

        let window = RateWindow { group, subject, start: window_start, end: window_end, limit: rule.limit };
        let wanted = self.claim_size(&memo_key, window_start, rule.limit);
        let mut claimed = self.windows.claim(&window, wanted).await;
        if wanted > 1 && matches!(&claimed, Err(ClaimError::Full)) {
            // Not enough room left for a lease: near the limit, count one request at a time.
            claimed = self.windows.claim(&window, 1).await;
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
            Err(ClaimError::Full) => {
                if let Ok(mut blocked) = self.blocked.lock() {
                    blocked.retain(|_, (until, _)| *until > now_seconds);
                    blocked.insert(memo_key, (window_end, rule.limit));
                }
                Ok(Some(refused))
            }
            Err(ClaimError::Store(e)) if self.fail_open => {
                tracing::warn!(error = %crate::error::error_chain(&e), "rate limiter unavailable; failing open");
                Ok(None)
            }
            Err(ClaimError::Store(e)) => Err(e.into()),
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

    fn is_blocked(&self, memo_key: &str, now_seconds: i64) -> bool {
        self.blocked.lock().is_ok_and(|blocked| blocked.get(memo_key).is_some_and(|(until, _)| *until > now_seconds))
    }
}
