//! Semantic search: text embeddings, and where an item's vector is filed in DynamoDB's vector index.

#[cfg(feature = "bedrock")]
pub mod bedrock;
mod choice;
mod embedder;
mod shelf;
mod static_embedder;
mod titan;
mod wordpiece;

pub use choice::TextEmbedder;
pub use embedder::{DIMENSIONS, EmbedError, Embedder, dot, item_text};
pub use shelf::{DRAFTS, Filing, PUBLIC, Slice, VectorIndexConfig, visible_slices};
pub use static_embedder::{ModelError, StaticEmbedder};
pub use titan::{TitanRequest, TitanResponse};
pub use wordpiece::{VocabError, WordPiece};
