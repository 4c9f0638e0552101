//! Semantic search: text embeddings and the per-container vector index the search route scores.

#[cfg(feature = "bedrock")]
pub mod bedrock;
mod embedder;
mod index;

pub use embedder::{DIMENSIONS, Embedder, HashingEmbedder, TextEmbedder, TitanRequest, TitanResponse, item_text};
pub use index::{IndexEntry, Scored, VectorIndex};
