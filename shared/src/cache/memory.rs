//! An in-container LRU cache with per-entry TTL. Each Lambda container has its own, so a write in
//! one container does not invalidate another's copy: entries can be stale for up to their TTL.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::Cache;

pub struct MemoryCache {
    capacity: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Last use → key: the first entry is the least recently used.
    recency: BTreeMap<u64, String>,
    tick: u64,
}

struct Entry {
    value: String,
    expires: Instant,
    used: u64,
}

impl MemoryCache {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), state: Mutex::new(State::default()) }
    }

    pub fn len(&self) -> usize {
        self.state.lock().map_or(0, |state| state.entries.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl State {
    fn touch(&mut self, key: &str) -> Option<&Entry> {
        self.tick += 1;
        let tick = self.tick;
        let entry = self.entries.get_mut(key)?;
        self.recency.remove(&entry.used);
        entry.used = tick;
        self.recency.insert(tick, key.to_owned());
        self.entries.get(key)
    }

    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.entries.remove(key) {
            self.recency.remove(&entry.used);
        }
    }
}

impl Cache for MemoryCache {
    async fn get(&self, key: &str) -> Option<String> {
        let mut state = self.state.lock().ok()?;
        let expired = state.entries.get(key).is_some_and(|entry| entry.expires <= Instant::now());
        if expired {
            state.remove(key);
            return None;
        }
        state.touch(key).map(|entry| entry.value.clone())
    }

    async fn set(&self, key: &str, value: String, ttl: Duration) {
        let Ok(mut state) = self.state.lock() else { return };
        state.remove(key);
        while state.entries.len() >= self.capacity {
            let Some((_, oldest)) = state.recency.pop_first() else { break };
            state.entries.remove(&oldest);
        }
        state.tick += 1;
        let used = state.tick;
        state.recency.insert(used, key.to_owned());
        state.entries.insert(key.to_owned(), Entry { value, expires: Instant::now() + ttl, used });
    }

    async fn delete(&self, key: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn evicts_the_least_recently_used() {
        let cache = MemoryCache::new(2);
        cache.set("a", "1".into(), MINUTE).await;
        cache.set("b", "2".into(), MINUTE).await;
        assert_eq!(cache.get("a").await.as_deref(), Some("1"), "a is now the most recent");
        cache.set("c", "3".into(), MINUTE).await;
        assert_eq!(cache.get("b").await, None, "b was least recently used");
        assert_eq!(cache.get("a").await.as_deref(), Some("1"));
        assert_eq!(cache.len(), 2);
    }

    #[tokio::test]
    async fn entries_expire_and_can_be_deleted() {
        let cache = MemoryCache::new(10);
        cache.set("short", "x".into(), Duration::from_millis(1)).await;
        cache.set("long", "y".into(), MINUTE).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(cache.get("short").await, None);
        cache.delete("long").await;
        assert!(cache.is_empty());
    }
}
