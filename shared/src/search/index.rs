//! The in-memory vector index of one search container.
//!
//! Loaded in full on first use, then refreshed incrementally: each refresh asks DynamoDB only for
//! vectors whose `changed_at` is newer than the newest one seen (less an overlap that absorbs GSI
//! propagation and clock skew), and applies them by version, so re-reading a change is harmless.
//! Scoring is exact (a dot product with every visible vector), so recall is 1 by construction.

use std::collections::HashMap;

use crate::domain::{ItemId, ItemStatus, OwnerId, Principal};

use super::embedder::dot;

#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub id: ItemId,
    pub version: u64,
    pub status: ItemStatus,
    pub owner_id: OwnerId,
    pub deleted: bool,
    pub vector: Vec<f32>,
    /// Milliseconds since the epoch when the worker wrote this vector.
    pub changed_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub id: ItemId,
    pub score: f32,
}

/// Matches scoring below this share no words or trigrams with the query, only hash collisions.
pub const MIN_SCORE: f32 = 0.1;

#[derive(Debug, Default)]
pub struct VectorIndex {
    entries: HashMap<ItemId, IndexEntry>,
    newest_change: Option<i64>,
}

impl VectorIndex {
    /// Applies changes; an entry only replaces one of a lower version.
    pub fn apply(&mut self, changes: impl IntoIterator<Item = IndexEntry>) {
        for change in changes {
            self.newest_change = Some(self.newest_change.map_or(change.changed_at, |n| n.max(change.changed_at)));
            match self.entries.get(&change.id) {
                Some(current) if current.version >= change.version => {}
                _ if change.deleted => {
                    // Keep a small tombstone so a late, older upsert cannot resurrect the item.
                    self.entries.insert(change.id, IndexEntry { vector: Vec::new(), ..change });
                }
                _ => {
                    self.entries.insert(change.id, change);
                }
            }
        }
    }

    pub fn newest_change(&self) -> Option<i64> {
        self.newest_change
    }

    /// Live (not deleted) entries.
    pub fn len(&self) -> usize {
        self.entries.values().filter(|entry| !entry.deleted).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `limit` best matches the caller may see, best first.
    pub fn search(&self, query: &[f32], caller: &Principal, status: Option<ItemStatus>, limit: usize) -> Vec<Scored> {
        let mut scored: Vec<Scored> = self
            .entries
            .values()
            .filter(|entry| !entry.deleted)
            .filter(|entry| status.is_none_or(|wanted| entry.status == wanted))
            .filter(|entry| caller.can_see(entry.status, &entry.owner_id))
            .map(|entry| Scored { id: entry.id, score: dot(query, &entry.vector) })
            .filter(|hit| hit.score >= MIN_SCORE)
            .collect();
        let by_score_desc = |a: &Scored, b: &Scored| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id));
        if scored.len() > limit && limit > 0 {
            scored.select_nth_unstable_by(limit - 1, by_score_desc);
            scored.truncate(limit);
        }
        scored.sort_by(by_score_desc);
        scored.truncate(limit);
        scored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Role, Timestamp};
    use crate::search::{Embedder, HashingEmbedder};

    fn entry(n: i64, text: &str, status: ItemStatus, owner: &str, version: u64) -> IndexEntry {
        IndexEntry {
            id: ItemId::new(Timestamp::from_millis(1_700_000_000_000 + n)),
            version,
            status,
            owner_id: OwnerId::new(owner),
            deleted: false,
            vector: HashingEmbedder.embed(text),
            changed_at: n,
        }
    }

    fn user(name: &str) -> Principal {
        Principal { user_id: OwnerId::new(name), role: Role::User, name: None }
    }

    #[test]
    fn best_match_comes_first_not_last() {
        let mut index = VectorIndex::default();
        let exact = entry(1, "desk lamp", ItemStatus::Active, "a", 1);
        index.apply([
            entry(2, "lamp shade", ItemStatus::Active, "a", 1),
            exact.clone(),
            entry(3, "desk", ItemStatus::Active, "a", 1),
        ]);
        let results = index.search(&HashingEmbedder.embed("desk lamp"), &user("z"), None, 3);
        assert_eq!(results[0].id, exact.id);
        assert!(results.windows(2).all(|pair| pair[0].score >= pair[1].score), "{results:?}");
    }

    #[test]
    fn hides_other_users_drafts_and_honours_status() {
        let mut index = VectorIndex::default();
        let draft = entry(1, "secret lamp", ItemStatus::Draft, "owner", 1);
        index.apply([draft.clone(), entry(2, "lamp", ItemStatus::Archived, "owner", 1)]);
        let query = HashingEmbedder.embed("lamp");
        assert_eq!(index.search(&query, &user("stranger"), None, 10).len(), 1);
        assert_eq!(index.search(&query, &user("owner"), None, 10).len(), 2);
        assert_eq!(index.search(&query, &user("owner"), Some(ItemStatus::Draft), 10)[0].id, draft.id);
    }

    #[test]
    fn older_versions_and_deleted_items_never_come_back() {
        let mut index = VectorIndex::default();
        let v2 = entry(1, "new name", ItemStatus::Active, "a", 2);
        let v1 = IndexEntry { version: 1, vector: HashingEmbedder.embed("old name"), ..v2.clone() };
        index.apply([v2.clone(), v1]);
        let found = index.search(&HashingEmbedder.embed("new name"), &user("z"), None, 1);
        assert!(found[0].score > 0.99, "still at version 2");
        index.apply([IndexEntry { deleted: true, version: u64::MAX, ..v2.clone() }, v2]);
        assert!(index.is_empty());
    }
}
