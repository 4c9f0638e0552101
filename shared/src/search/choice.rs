//! The embedder a deployment runs: an in-process one, or (cargo feature `bedrock`) a hosted model.

use super::embedder::{DIMENSIONS, EmbedError, Embedder};
use super::static_embedder::StaticEmbedder;

/// The embedder a deployment uses, chosen by configuration (`EMBEDDER`). Switching embedders
/// changes every vector: see README, Search, for the migration.
pub enum TextEmbedder {
    /// In-process static word-piece embeddings distilled from all-MiniLM-L6-v2 (`EMBEDDER=static`):
    /// the default, and what tests and local runs use.
    Static(StaticEmbedder),
    /// Amazon Bedrock Titan Text Embeddings V2 (cargo feature `bedrock`).
    #[cfg(feature = "bedrock")]
    Bedrock(super::bedrock::BedrockEmbedder),
}

impl TextEmbedder {
    /// Names the embedder and its dimensions; stored with every vector, so a vector made by
    /// another embedder is replaced even at the same item version.
    pub fn id(&self) -> String {
        match self {
            TextEmbedder::Static(_) => format!("static-minilm-l6-i8/{DIMENSIONS}"),
            #[cfg(feature = "bedrock")]
            TextEmbedder::Bedrock(embedder) => format!("bedrock:{}/{DIMENSIONS}", embedder.model_id()),
        }
    }

    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        match self {
            TextEmbedder::Static(embedder) => Ok(embedder.embed(text)),
            #[cfg(feature = "bedrock")]
            TextEmbedder::Bedrock(embedder) => embedder.embed(text).await,
        }
    }
}
