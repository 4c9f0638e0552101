//! Semantic search: text embeddings, and where an item's vector is filed in DynamoDB's vector index.

#[cfg(feature = "bedrock")]
pub mod bedrock;
mod choice;
mod embedder;
mod shelf;
mod titan;

pub use choice::TextEmbedder;
pub use embedder::{DIMENSIONS, EmbedError, Embedder, HashingEmbedder, dot, item_text};
pub use shelf::{DRAFTS, Filing, PUBLIC, Slice, VectorIndexConfig, visible_slices};
pub use titan::{TitanRequest, TitanResponse};
