//! The search use case: keep this container's vector index fresh, score, fetch the winners.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::Mutex;

use super::error::ServiceError;
use crate::domain::{FieldSet, ItemId, ItemStatus, ItemView, Principal};
use crate::repository::{DynamoVectorRepository, ItemRepository};
use crate::search::{TextEmbedder, VectorIndex};

/// Each refresh re-reads this far behind the newest change seen, absorbing GSI propagation delay
/// and clock skew between workers; re-applying a change is harmless (versions decide).
const OVERLAP_MS: i64 = 10_000;

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
    /// At most one refresh query per this interval: the freshness bound of a warm container.
    refresh_every: Duration,
    state: Mutex<IndexState>,
}

#[derive(Default)]
struct IndexState {
    index: VectorIndex,
    refreshed_at: Option<Instant>,
}

impl<R: ItemRepository> SearchService<R> {
    pub fn new(
        items: R,
        vectors: DynamoVectorRepository,
        embedder: Arc<TextEmbedder>,
        refresh_every: Duration,
    ) -> Self {
        Self { items, vectors, embedder, refresh_every, state: Mutex::new(IndexState::default()) }
    }

    /// Best matches first, each with its score; only items the caller may read.
    pub async fn search(&self, caller: &Principal, query: &SearchQuery) -> Result<Vec<ScoredItem>, ServiceError> {
        let vector = self
            .embedder
            .embed(&query.text)
            .await
            .map_err(|reason| ServiceError::Internal { context: "embed query", source: reason.into() })?;
        let scored = {
            let mut state = self.state.lock().await;
            self.refresh(&mut state).await?;
            state.index.search(&vector, caller, query.status, query.limit)
        };
        let ids: Vec<ItemId> = scored.iter().map(|hit| hit.id).collect();
        let mut items: HashMap<ItemId, ItemView> =
            self.items.get_many(&ids, FieldSet::all()).await?.into_iter().filter_map(|v| Some((v.id?, v))).collect();
        // The index may lag the items by the freshness bound: check the rules again on fresh data.
        Ok(scored
            .into_iter()
            .filter_map(|hit| {
                let item = items.remove(&hit.id)?;
                let visible = match (item.status, &item.owner_id) {
                    (Some(status), Some(owner)) => {
                        caller.can_see(status, owner) && query.status.is_none_or(|wanted| wanted == status)
                    }
                    _ => false,
                };
                visible.then_some(ScoredItem { item, score: hit.score })
            })
            .collect())
    }

    /// Loads everything on first use, then only what changed since the newest change seen.
    async fn refresh(&self, state: &mut IndexState) -> Result<(), ServiceError> {
        if state.refreshed_at.is_some_and(|at| at.elapsed() < self.refresh_every) {
            return Ok(());
        }
        let since = state.index.newest_change().map(|newest| newest - OVERLAP_MS);
        let started = Instant::now();
        let changes = self.vectors.changed_since(since).await?;
        let count = changes.len();
        state.index.apply(changes);
        state.refreshed_at = Some(Instant::now());
        tracing::debug!(
            full = since.is_none(),
            changes = count,
            indexed = state.index.len(),
            refresh_ms = started.elapsed().as_secs_f64() * 1000.0,
            "search index refreshed"
        );
        Ok(())
    }
}
