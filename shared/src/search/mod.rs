//! Semantic search: text embeddings and the per-container vector index the search route scores.

#[cfg(feature = "bedrock")]
pub mod bedrock;
mod choice;
mod embedder;
mod index;
mod titan;

pub use choice::TextEmbedder;
pub use embedder::{DIMENSIONS, EmbedError, Embedder, HashingEmbedder, item_text};
pub use index::{IndexEntry, Scored, VectorIndex};
pub use titan::{TitanRequest, TitanResponse};
