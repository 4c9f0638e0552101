//! Exponential backoff with full jitter (delay drawn uniformly from zero to the exponential cap),
//! the schedule AWS recommends for retrying throttled or partially processed requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Time kept free before the deadline for the retried call itself and the response.
const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    base: Duration,
    cap: Duration,
    attempts_left: u32,
    attempt: u32,
}

impl Backoff {
    pub fn new(base: Duration, cap: Duration, retries: u32) -> Self {
        Self { base, cap, attempts_left: retries, attempt: 0 }
    }

    /// The delay before the next retry, or `None` when the retries are used up or the delay (plus
    /// a margin for the retry itself) would run past the Lambda invocation's deadline.
    pub(crate) fn next_delay(&mut self) -> Option<Duration> {
        if self.attempts_left == 0 {
            return None;
        }
        self.attempts_left -= 1;
        let exponential = self.base.saturating_mul(1 << self.attempt.min(16));
        self.attempt += 1;
        let delay = random_up_to(exponential.min(self.cap));
        match crate::scope::deadline() {
            Some(deadline) if SystemTime::now() + delay + DEADLINE_MARGIN >= deadline => None,
            _ => Some(delay),
        }
    }
}

/// A number in `0..count` (0 when `count` is 0), different from call to call: enough to spread
/// concurrent callers over choices (e.g. a split item's stock counters).
pub(crate) fn spread_index(count: usize) -> usize {
    let nanos = random_up_to(Duration::from_nanos(u64::MAX >> 1)).as_nanos();
    match count {
        0 => 0,
        _ => (nanos % count as u128) as usize,
    }
}

/// Uniform in `[0, upper]`. Jitter only has to decorrelate callers, not resist prediction, so a
/// clock-seeded xorshift serves without a random-number crate.
fn random_up_to(upper: Duration) -> Duration {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let nanos = u64::try_from(upper.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(if nanos == 0 { 0 } else { x % (nanos + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_growing_cap_and_stop() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(35), 4);
        let caps = [10, 20, 35, 35];
        for cap in caps {
            let delay = backoff.next_delay().expect("a retry is left");
            assert!(delay <= Duration::from_millis(cap), "{delay:?} > {cap} ms");
        }
        assert_eq!(backoff.next_delay(), None);
    }

    #[tokio::test]
    async fn never_sleeps_past_the_invocation_deadline() {
        let near = crate::scope::Scope::traced(Some(SystemTime::now() + Duration::from_millis(100)), None, None);
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(10), 5);
        assert_eq!(crate::scope::within(near, async move { backoff.next_delay() }).await, None);
        let far = crate::scope::Scope::traced(Some(SystemTime::now() + Duration::from_secs(60)), None, None);
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_millis(10), 5);
        assert!(crate::scope::within(far, async move { backoff.next_delay() }).await.is_some());
    }

    #[test]
    fn jitter_spreads_delays() {
        let delays: std::collections::HashSet<_> =
            (0..50).map(|_| random_up_to(Duration::from_millis(100)).as_micros()).collect();
        assert!(delays.len() > 10, "full jitter should not repeat one value: {delays:?}");
    }
}
