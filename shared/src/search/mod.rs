//! Semantic search: text embeddings and the per-container vector index the search route scores.

mod embedder;
mod index;

pub use embedder::{DIMENSIONS, Embedder, HashingEmbedder, TitanRequest, TitanResponse, item_text};
pub use index::{IndexEntry, Scored, VectorIndex};
