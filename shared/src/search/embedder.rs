//! Embedders turn text into unit-length vectors whose dot product measures similarity.
//!
//! The default, `StaticEmbedder` (static_embedder.rs), runs inside the function, offline and
//! deterministic, so tests and local runs rank reproducibly. A hosted model (Amazon Bedrock Titan
//! Text Embeddings V2, `bedrock.rs`) can replace it.

pub const DIMENSIONS: usize = 256;

pub trait Embedder: Send + Sync {
    fn embed(&self, text: &str) -> Vec<f32>;
}

/// Why a hosted model gave no embedding.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the embedding model could not be called")]
    Call(#[source] crate::error::BoxError),
    #[error("the embedding model answered with something else than an embedding")]
    Answer(#[source] crate::error::BoxError),
    #[error("the embedding has {0} dimensions, not {DIMENSIONS}")]
    Dimensions(usize),
}

/// The text of an item that search matches against.
pub fn item_text(name: &str, description: &str) -> String {
    format!("{name}\n{description}")
}

pub(super) fn normalise(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
