//! Embeds text with the service's own embedder, for offline measurements (infra/bench/relevance.py).
//!
//! Reads JSON lines on stdin and writes one JSON line per input on stdout, in order:
//!
//! - an item, `{"id": ..., "name": ..., "description": ...}`: the name and description are checked
//!   and normalised as an item write does (`ItemName::parse`, `Description::parse`), then embedded as
//!   the index worker does, `embed(item_text(name, description))`;
//! - a query, `{"id": ..., "text": ...}`: trimmed as `GET /api/items/search` does, then embedded.
//!
//! Output: `{"id": ..., "vector": [...]}` (`DIMENSIONS` numbers). A line that the service would
//! refuse stops the run with a message naming its id.
//!
//! `cargo run --release -p shared --example embed -- static < items.jsonl > vectors.jsonl`
//! (the embedder: `static`, the service's, or `hashing`, the baseline the service used before).

use std::io::{self, BufRead, BufWriter, Write};

use serde_json::{Value, json};
use shared::domain::{Description, ItemName};
#[path = "support/hashing.rs"]
mod hashing;

use hashing::HashingEmbedder;
use shared::search::{Embedder, StaticEmbedder, item_text};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let embedder: Box<dyn Embedder> = match std::env::args().nth(1).as_deref().unwrap_or("static") {
        "static" => Box::new(StaticEmbedder::builtin()?),
        "hashing" => Box::new(HashingEmbedder),
        other => return Err(format!("unknown embedder {other:?}: static or hashing").into()),
    };
    let stdin = io::stdin().lock();
    let mut out = BufWriter::new(io::stdout().lock());
    for (number, line) in stdin.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", number + 1))?;
        let id = record.get("id").cloned().unwrap_or(Value::Null);
        let text = match (record.get("text"), record.get("name")) {
            (Some(text), _) => text.as_str().ok_or_else(|| format!("{id}: text is not a string"))?.trim().to_owned(),
            (None, Some(name)) => {
                let name = name.as_str().ok_or_else(|| format!("{id}: name is not a string"))?;
                let description = record.get("description").and_then(Value::as_str).unwrap_or_default();
                let name = ItemName::parse(name).map_err(|e| format!("{id}: name refused: {e:?}"))?;
                let description =
                    Description::parse(description).map_err(|e| format!("{id}: description refused: {e:?}"))?;
                item_text(name.as_str(), description.as_str())
            }
            (None, None) => return Err(format!("{id}: neither text nor name").into()),
        };
        let vector = embedder.embed(&text);
        serde_json::to_writer(&mut out, &json!({ "id": id, "vector": vector }))?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
