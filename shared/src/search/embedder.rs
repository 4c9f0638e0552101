//! Embedders turn text into unit-length vectors whose dot product measures similarity.
//!
//! The default, `HashingEmbedder`, runs inside the function with no model and no network: words
//! and character trigrams are hashed into a fixed number of signed buckets ("feature hashing") and
//! the result is L2-normalised. It is deterministic, so tests and local runs rank reproducibly.
//! A hosted model (Amazon Bedrock Titan Text Embeddings V2, `bedrock.rs`) can replace it.

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

#[derive(Debug, Clone, Copy, Default)]
pub struct HashingEmbedder;

/// Whole words carry most of the meaning; trigrams make near-misses ("lamps", "lmap") still score.
const WORD_WEIGHT: f32 = 1.0;
const TRIGRAM_WEIGHT: f32 = 0.35;

impl Embedder for HashingEmbedder {
    fn embed(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0.0_f32; DIMENSIONS];
        let lowered = text.to_lowercase();
        for word in lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            add_feature(&mut vector, b"w", word.as_bytes(), WORD_WEIGHT);
            let padded: Vec<char> = std::iter::once('^').chain(word.chars()).chain(std::iter::once('$')).collect();
            for trigram in padded.windows(3) {
                let trigram: String = trigram.iter().collect();
                add_feature(&mut vector, b"c", trigram.as_bytes(), TRIGRAM_WEIGHT);
            }
        }
        normalise(&mut vector);
        vector
    }
}

fn add_feature(vector: &mut [f32], namespace: &[u8], feature: &[u8], weight: f32) {
    let hash = fnv1a(namespace, feature);
    let bucket = (hash % DIMENSIONS as u64) as usize;
    // The sign bit spreads collisions so they cancel out on average instead of piling up.
    let sign = if hash >> 63 == 0 { 1.0 } else { -1.0 };
    vector[bucket] += sign * weight;
}

fn fnv1a(namespace: &[u8], feature: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in namespace.iter().chain(b":").chain(feature) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
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

#[cfg(test)]
mod tests {
    use super::*;

    fn similarity(a: &str, b: &str) -> f32 {
        dot(&HashingEmbedder.embed(a), &HashingEmbedder.embed(b))
    }

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let v = HashingEmbedder.embed("Desk lamp, warm white");
        assert_eq!(v.len(), DIMENSIONS);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-5);
        assert_eq!(v, HashingEmbedder.embed("Desk lamp, warm white"));
        assert!(HashingEmbedder.embed("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn shared_words_score_higher_than_unrelated_text() {
        let related = similarity("desk lamp", "Desk lamp with dimmer");
        let unrelated = similarity("desk lamp", "fountain pen ink");
        assert!(related > 0.5, "{related}");
        assert!(related > unrelated + 0.3, "{related} vs {unrelated}");
        assert!(similarity("lamps", "lamp") > similarity("lamps", "stapler"), "trigrams catch near-misses");
    }
}
