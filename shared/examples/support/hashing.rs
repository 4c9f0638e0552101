//! The embedder the service used before `StaticEmbedder`: words and character trigrams feature-hashed
//! into 256 signed buckets, L2-normalised. Spelling, not meaning. Kept here, out of the service, as
//! the relevance bench's baseline (infra/bench/relevance.py, README: Search quality).

use shared::search::{DIMENSIONS, Embedder};

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
        let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|x| *x /= norm);
        }
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
