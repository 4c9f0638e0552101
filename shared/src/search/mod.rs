//! Semantic search: text embeddings, and where an item's vector is filed in DynamoDB's vector index.

#[cfg(feature = "bedrock")]
pub(crate) mod bedrock;
mod choice;
mod embedder;
mod shelf;
mod static_embedder;
#[cfg(any(feature = "bedrock", test))]
mod titan;
mod wordpiece;

pub use choice::TextEmbedder;
pub use embedder::{DIMENSIONS, Embedder, dot, item_text};
pub(crate) use shelf::visible_slices;
pub use shelf::{Filing, Slice, VectorIndexConfig};
pub use static_embedder::StaticEmbedder;
