//! The search use case: embed the query, ask DynamoDB's vector index for the nearest items the
//! caller may see, and return the winners as they are now.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::future::try_join_all;
use serde::Serialize;

use super::error::ServiceError;
use crate::domain::{FieldSet, ItemId, ItemStatus, ItemView, Principal};
use crate::repository::{DynamoVectorRepository, ItemRepository, Scored};
use crate::search::{TextEmbedder, visible_slices};

/// Matches scoring below this share no words or trigrams with the query, only hash collisions.
pub const MIN_SCORE: f32 = 0.1;

/// Winners asked beyond `limit`, so a few that changed since the index saw them (now hidden,
/// deleted) can drop out in the re-check without shortening the page.
const RECHECK_SPARE: usize = 10;

/// `SearchVectors` returns at most this many items per call (its `TopK` range is 1 to 100).
const MAX_TOP_K: usize = 100;

pub struct SearchQuery {
    pub text: String,
    pub status: Option<ItemStatus>,
    pub limit: usize,
}

#[derive(Serialize)]
pub struct ScoredItem {
    #[serde(flatten)]
    pub item: ItemView,
    pub score: f32,
}

pub struct SearchService<R> {
    items: R,
    vectors: DynamoVectorRepository,
    embedder: Arc<TextEmbedder>,
}

/// How many nearest items to ask each slice of the index for a page of `limit`.
pub fn top_k(limit: usize) -> usize {
    (limit + RECHECK_SPARE).min(MAX_TOP_K)
}

impl<R: ItemRepository> SearchService<R> {
    pub fn new(items: R, vectors: DynamoVectorRepository, embedder: Arc<TextEmbedder>) -> Self {
        Self { items, vectors, embedder }
    }

    /// Best matches first, each with its score; only items the caller may read.
    pub async fn search(&self, caller: &Principal, query: &SearchQuery) -> Result<Vec<ScoredItem>, ServiceError> {
        let vector = self
            .embedder
            .embed(&query.text)
            .await
            .map_err(|reason| ServiceError::Internal { context: "embed query", source: reason.into() })?;
        let top_k = top_k(query.limit);
        // Visibility is filtered inside each search: one call per slice the caller may see.
        let slices = visible_slices(caller, query.status);
        let found = try_join_all(slices.iter().map(|slice| self.vectors.search(&vector, slice, top_k))).await?;
        let hits = best_first(found.into_iter().flatten(), top_k);

        let ids: Vec<ItemId> = hits.iter().map(|hit| hit.id).collect();
        let mut items: HashMap<ItemId, ItemView> =
            self.items.get_many(&ids, FieldSet::all()).await?.into_iter().filter_map(|v| Some((v.id?, v))).collect();
        // The index lags the items (it is filled asynchronously): check the rules again on fresh data.
        let visible = |item: &ItemView| match (item.status, &item.owner_id) {
            (Some(status), Some(owner)) => {
                caller.can_see(status, owner) && query.status.is_none_or(|wanted| wanted == status)
            }
            _ => false,
        };
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let item = items.remove(&hit.id).filter(visible)?;
                Some(ScoredItem { item, score: hit.score })
            })
            .take(query.limit)
            .collect())
    }
}

/// Merges the slices' hits: each item once, at or above [`MIN_SCORE`], best first (ties by id,
/// so equal scores keep one order), at most `limit`.
fn best_first(hits: impl IntoIterator<Item = Scored>, limit: usize) -> Vec<Scored> {
    let mut seen = HashSet::new();
    let mut merged: Vec<Scored> =
        hits.into_iter().filter(|hit| hit.score >= MIN_SCORE && seen.insert(hit.id)).collect();
    merged.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    merged.truncate(limit);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn merged_hits_come_best_first_once_each() {
        let ids: Vec<ItemId> = (0..5).map(|n| ItemId::new(Timestamp::from_millis(1_700_000_000_000 + n))).collect();
        let hit = |n: usize, score: f32| Scored { id: ids[n], score };
        let public = [hit(1, 0.5), hit(2, 0.9), hit(3, 0.05)];
        let drafts = [hit(4, 0.7), hit(2, 0.9)];
        let merged = best_first(public.into_iter().chain(drafts), 10);
        assert_eq!(merged, [hit(2, 0.9), hit(4, 0.7), hit(1, 0.5)], "best first, no repeat, none below MIN_SCORE");
        assert_eq!(best_first([hit(1, 0.5), hit(2, 0.9)], 1), [hit(2, 0.9)]);
    }

    #[test]
    fn top_k_leaves_room_for_the_recheck_within_the_api_limit() {
        assert_eq!(top_k(1), 11);
        assert_eq!(top_k(50), 60);
        assert_eq!(top_k(95), MAX_TOP_K);
    }
}
