//! The embedder a deployment runs: the in-process one, or (cargo feature `bedrock`) a hosted model.

use super::embedder::{EmbedError, Embedder, HashingEmbedder};

/// The embedder a deployment uses, chosen by configuration (`EMBEDDER`). Switching embedders
/// changes every vector: reindex everything after a switch.
pub enum TextEmbedder {
    /// In-process feature hashing: the default, and what tests and local runs use.
    Hashing(HashingEmbedder),
    /// Amazon Bedrock Titan Text Embeddings V2 (cargo feature `bedrock`).
    #[cfg(feature = "bedrock")]
    Bedrock(super::bedrock::BedrockEmbedder),
}

impl TextEmbedder {
    pub async fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        match self {
            TextEmbedder::Hashing(embedder) => Ok(embedder.embed(text)),
            #[cfg(feature = "bedrock")]
            TextEmbedder::Bedrock(embedder) => embedder.embed(text).await,
        }
    }
}
