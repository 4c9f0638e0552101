//! `StaticEmbedder`: a text is the mean of its word pieces' rows in a table distilled from
//! all-MiniLM-L6-v2 (infra/static_table.py), L2-normalised. Semantic ("couch" is near "sofa"), in
//! process, no transformer at query time: a lookup and an average per token.
//!
//! The table and its vocabulary are compiled into the binary (shared/build.rs includes them from
//! target/model/, made by infra/model.sh): nothing is read at cold start, and only the rows a text
//! touches are paged in.

use super::embedder::{DIMENSIONS, Embedder, normalise};
use super::wordpiece::{VocabError, WordPiece};

const BUILTIN_TABLE: &[u8] = include_bytes!(concat!(env!("STATIC_MODEL_DIR"), "/static-minilm-256.bin"));
const BUILTIN_VOCAB: &str = include_str!(concat!(env!("STATIC_MODEL_DIR"), "/vocab.txt"));

const MAGIC: &[u8; 8] = b"ITEMSEMB";
const FORMAT_VERSION: u32 = 2;
const HEADER_BYTES: usize = 24;
/// A row: its f32 scale, then `DIMENSIONS` int8 values (infra/static_table.py, format 2).
const ROW_BYTES: usize = 4 + DIMENSIONS;

pub struct StaticEmbedder {
    tokenizer: WordPiece<'static>,
    /// `rows × ROW_BYTES`; row i belongs to token id i.
    rows: &'static [u8],
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the embedding table is not in the expected format: {0}")]
    Table(&'static str),
    #[error("the embedding table has {table} rows but the vocabulary {vocab} tokens")]
    Rows { table: usize, vocab: usize },
    #[error("the embedding table has {0} dimensions, not {DIMENSIONS}")]
    Dimensions(usize),
    #[error("the vocabulary of the embedding table is unusable")]
    Vocab(#[from] VocabError),
}

impl StaticEmbedder {
    /// The table compiled into this binary. Parses the vocabulary (~30k tokens): build it once.
    pub fn builtin() -> Result<Self, ModelError> {
        Self::parse(BUILTIN_TABLE, BUILTIN_VOCAB)
    }

    pub fn parse(table: &'static [u8], vocab: &'static str) -> Result<Self, ModelError> {
        let (header, rows) =
            table.split_at_checked(HEADER_BYTES).ok_or(ModelError::Table("shorter than its header"))?;
        let field = |at: usize| u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]]);
        if &header[..8] != MAGIC {
            return Err(ModelError::Table("wrong magic"));
        }
        if field(8) != FORMAT_VERSION {
            return Err(ModelError::Table("unknown format version"));
        }
        let (count, dims) = (field(12) as usize, field(16) as usize);
        if dims != DIMENSIONS {
            return Err(ModelError::Dimensions(dims));
        }
        if count.checked_mul(ROW_BYTES) != Some(rows.len()) {
            return Err(ModelError::Table("length does not match its header"));
        }
        let tokenizer = WordPiece::parse(vocab)?;
        if tokenizer.len() != count {
            return Err(ModelError::Rows { table: count, vocab: tokenizer.len() });
        }
        Ok(StaticEmbedder { tokenizer, rows })
    }

    fn add_row(&self, id: u32, sum: &mut [f32]) {
        let start = id as usize * ROW_BYTES;
        // In range: parse checked rows == vocabulary size, and ids come from the vocabulary.
        let (scale, values) = self.rows[start..start + ROW_BYTES].split_at(4);
        let scale = f32::from_le_bytes([scale[0], scale[1], scale[2], scale[3]]);
        for (total, value) in sum.iter_mut().zip(values) {
            *total += scale * f32::from(*value as i8);
        }
    }
}

impl Embedder for StaticEmbedder {
    fn embed(&self, text: &str) -> Vec<f32> {
        let mut vector = vec![0.0_f32; DIMENSIONS];
        let unknown = self.tokenizer.unknown();
        // The mean's divisor does not matter: normalising removes it.
        for id in self.tokenizer.ids(text).into_iter().filter(|id| *id != unknown) {
            self.add_row(id, &mut vector);
        }
        normalise(&mut vector);
        vector
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::dot;

    fn embedder() -> StaticEmbedder {
        StaticEmbedder::builtin().expect("the built-in table parses")
    }

    fn similarity(embedder: &StaticEmbedder, a: &str, b: &str) -> f32 {
        dot(&embedder.embed(a), &embedder.embed(b))
    }

    #[test]
    fn vectors_are_unit_length_deterministic_and_256_wide() {
        let embedder = embedder();
        let v = embedder.embed("Desk lamp, warm white");
        assert_eq!(v.len(), DIMENSIONS);
        assert!((dot(&v, &v) - 1.0).abs() < 1e-5);
        assert_eq!(v, embedder.embed("Desk lamp, warm white"));
        assert!(embedder.embed("").iter().all(|x| *x == 0.0));
    }

    #[test]
    fn ranks_by_meaning_not_by_shared_letters() {
        let embedder = embedder();
        let (sofa, lamp) =
            (similarity(&embedder, "couch", "Leather sofa"), similarity(&embedder, "couch", "Desk lamp"));
        assert!(sofa > lamp + 0.1, "couch: sofa {sofa}, lamp {lamp}");
        let (mug, hose) =
            (similarity(&embedder, "coffee cup", "Ceramic mug"), similarity(&embedder, "coffee cup", "Garden hose"));
        assert!(mug > hose + 0.1, "coffee cup: mug {mug}, hose {hose}");
    }

    /// A format-2 table of `rows`, each given as (scale, leading int8 values; the rest zero).
    fn table_of(rows: &[(f32, &[i8])]) -> &'static [u8] {
        let mut table = MAGIC.to_vec();
        for field in [FORMAT_VERSION, rows.len() as u32, DIMENSIONS as u32, 0] {
            table.extend(field.to_le_bytes());
        }
        for (scale, values) in rows {
            table.extend(scale.to_le_bytes());
            let mut row = [0_u8; DIMENSIONS];
            for (byte, value) in row.iter_mut().zip(values.iter()) {
                *byte = *value as u8;
            }
            table.extend(row);
        }
        Box::leak(table.into_boxed_slice())
    }

    #[test]
    fn a_text_is_the_normalised_sum_of_its_scaled_int8_rows() {
        let table = table_of(&[(0.0, &[]), (0.5, &[2, -4]), (2.0, &[1, 0, 1]), (9.0, &[127])]);
        let embedder = StaticEmbedder::parse(table, "[UNK]\nsofa\nleather\nunused\n").expect("parses");
        // sofa = (1, -2, 0), leather = (2, 0, 2); "leather sofa!" also has an unknown "!" (dropped).
        let v = embedder.embed("Leather SOFA !");
        let want = [3.0_f32, -2.0, 2.0].map(|x| x / 17.0_f32.sqrt());
        assert!(v[..3].iter().zip(want).all(|(got, want)| (got - want).abs() < 1e-6), "{:?}", &v[..3]);
        assert!(v[3..].iter().all(|x| *x == 0.0));
    }

    #[test]
    fn refuses_a_table_that_does_not_match_its_vocabulary() {
        let mut table = BUILTIN_TABLE[..HEADER_BYTES + 2 * ROW_BYTES].to_vec();
        table[12..16].copy_from_slice(&2_u32.to_le_bytes());
        let table: &'static [u8] = Box::leak(table.into_boxed_slice());
        assert!(matches!(StaticEmbedder::parse(table, "[UNK]\n"), Err(ModelError::Rows { table: 2, vocab: 1 })));
        assert!(matches!(StaticEmbedder::parse(&table[..20], "[UNK]\n"), Err(ModelError::Table(_))));
        assert!(matches!(StaticEmbedder::parse(&table[..HEADER_BYTES + 3], "[UNK]\n"), Err(ModelError::Table(_))));
        // Format 1 (float16 rows) is no longer read: a stale table fails the start, not the ranking.
        let mut float16 = table_of(&[(1.0, &[1])]).to_vec();
        float16[8..12].copy_from_slice(&1_u32.to_le_bytes());
        let float16: &'static [u8] = Box::leak(float16.into_boxed_slice());
        assert!(matches!(StaticEmbedder::parse(float16, "[UNK]\n"), Err(ModelError::Table("unknown format version"))));
    }
}
