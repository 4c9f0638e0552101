//! Keeping the search index in step with the items: publishing jobs after writes, the worker's
//! processing of one job, and the reconciler that re-enqueues whatever is still marked stale.

use std::sync::{Arc, OnceLock};

use super::error::ServiceError;
use crate::domain::{FieldSet, IndexJob, IndexOp, ItemId};
use crate::queue::IndexQueue;
use crate::repository::{DynamoVectorRepository, ItemRepository, ItemVector};
use crate::search::{DIMENSIONS, Filing, TextEmbedder, item_text};

/// How much of the invocation a reconcile leaves unused, to answer before the function times out.
const RECONCILE_RESERVE: std::time::Duration = std::time::Duration::from_secs(1);

pub struct Indexer<R> {
    items: R,
    vectors: DynamoVectorRepository,
    embedder: Arc<TextEmbedder>,
    queue: Option<Arc<IndexQueue>>,
}

impl<R: ItemRepository> Indexer<R> {
    pub fn new(
        items: R,
        vectors: DynamoVectorRepository,
        embedder: Arc<TextEmbedder>,
        queue: Option<Arc<IndexQueue>>,
    ) -> Self {
        Self { items, vectors, embedder, queue }
    }

    /// Indexes the item as it is now, whatever the job said: the store is the truth, so repeated,
    /// late or out-of-order jobs all converge on the newest version. A vector the index cannot take
    /// is an error (the job fails and is retried, then dead-lettered), never skipped: the item
    /// keeps its `index_pending` marker, so `reindex` finds it again.
    pub async fn process(&self, job: &IndexJob) -> Result<(), ServiceError> {
        let Some(view) = self.items.get(job.item_id, FieldSet::all()).await? else {
            self.vectors.put_tombstone(job.item_id).await?;
            return Ok(self.vectors.remove_tombstone(job.item_id).await?);
        };
        let (Some(name), Some(description), Some(status), Some(owner_id), Some(version)) =
            (view.name, view.description, view.status, view.owner_id, view.version)
        else {
            return Err(ServiceError::Internal { context: "index item", source: "item lacks fields".into() });
        };
        let vector = self
            .embedder
            .embed(&item_text(name.as_str(), description.as_str()))
            .await
            .map_err(|reason| ServiceError::Internal { context: "embed item", source: reason.into() })?;
        if vector.len() != DIMENSIONS {
            return Err(ServiceError::Internal {
                context: "embed item",
                source: format!("the embedder returned {} dimensions; the index takes {DIMENSIONS}", vector.len())
                    .into(),
            });
        }
        let filing = Filing::of(status, owner_id);
        let embedder = self.embedder.id();
        let entry = ItemVector {
            id: job.item_id,
            version: version.get(),
            embedder: &embedder,
            vector: &vector,
            filing: &filing,
        };
        self.vectors.put(&entry).await?;
        Ok(self.vectors.clear_pending(job.item_id, version.get()).await?)
    }

    /// Re-enqueues up to `limit` items whose index is stale; returns how many were enqueued.
    pub(crate) async fn reconcile(&self, limit: usize) -> Result<usize, ServiceError> {
        let queue = self.queue.as_ref().ok_or_else(|| ServiceError::Internal {
            context: "reindex needs INDEX_QUEUE_URL",
            source: "no index queue configured".into(),
        })?;
        let jobs: Vec<IndexJob> = self
            .vectors
            .pending(limit)
            .await?
            .into_iter()
            .map(|pending| IndexJob {
                item_id: pending.id,
                version: pending.version,
                op: if pending.deleted { IndexOp::Delete } else { IndexOp::Upsert },
                request_id: crate::scope::request_id(),
            })
            .collect();
        // Whatever is not sent before the deadline nears stays marked, for the next run.
        queue
            .enqueue_all(&jobs, RECONCILE_RESERVE)
            .await
            .map_err(|reason| ServiceError::Internal { context: "enqueue reindex jobs", source: reason.into() })
    }
}

/// Publishes index jobs after item writes. A failed send is logged, not returned: the write
/// already marked the item `index_pending`, which the reconciler turns into a job later.
/// The queue is opened on the first write, so a function that only reads never builds an SQS client.
pub struct IndexNotifier {
    queue: OnceLock<Option<Arc<IndexQueue>>>,
    open: Box<dyn Fn() -> Option<Arc<IndexQueue>> + Send + Sync>,
}

impl IndexNotifier {
    pub fn new(queue: Option<Arc<IndexQueue>>) -> Self {
        Self { queue: OnceLock::from(queue), open: Box::new(|| None) }
    }

    /// Opens the queue with `open` when the first job is sent.
    pub(crate) fn lazy(open: impl Fn() -> Option<Arc<IndexQueue>> + Send + Sync + 'static) -> Self {
        Self { queue: OnceLock::new(), open: Box::new(open) }
    }

    pub async fn notify(&self, item_id: ItemId, version: u64, op: IndexOp) {
        let Some(queue) = self.queue.get_or_init(|| (self.open)()) else { return };
        let job = IndexJob { item_id, version, op, request_id: crate::scope::request_id() };
        if let Err(reason) = queue.enqueue(&job).await {
            tracing::warn!(%item_id, version, reason = %crate::error::error_chain(&reason), "index job not sent; the reconciler will pick the item up");
        }
    }
}
