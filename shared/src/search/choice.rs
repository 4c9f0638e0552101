//! The embedder a deployment runs: the in-process one, or (cargo feature `bedrock`) a hosted model.

use super::embedder::{DIMENSIONS, EmbedError, Embedder, HashingEmbedder};

/// The embedder a deployment uses, chosen by configuration (`EMBEDDER`). Switching embedders
/// changes every vector: see README, Search, for the migration.
pub enum TextEmbedder {
    /// In-process feature hashing: the default, and what tests and local runs use.
    Hashing(HashingEmbedder),
    /// Amazon Bedrock Titan Text Embeddings V2 (cargo feature `bedrock`).
    #[cfg(feature = "bedrock")]
    Bedrock(super::bedrock::BedrockEmbedder),
}

impl TextEmbedder {
    /// Names the embedder and its dimensions; stored with every vector, so a vector made by
    /// another embedder is replaced even at the same item version.
    pub fn id(&self) -> String {
        match self {
            TextEmbedder::Hashing(_) => format!("hashing/{DIMENSIONS}"),
            #[cfg(feature = "bedrock")]
            TextEmbedder::Bedrock(embedder) => format!("bedrock:{}/{DIMENSIONS}", embedder.model_id()),
        }
    }

    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        match self {
            TextEmbedder::Hashing(embedder) => Ok(embedder.embed(text)),
            #[cfg(feature = "bedrock")]
            TextEmbedder::Bedrock(embedder) => embedder.embed(text).await,
        }
    }
}
