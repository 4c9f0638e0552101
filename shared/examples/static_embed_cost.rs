//! What `StaticEmbedder` costs: building it (once per container) and one embedding of a typical
//! item text, plus the similarities the issue quotes.
//!
//! `cargo run --release -p shared --example static_embed_cost`

use std::hint::black_box;
use std::time::Instant;

#[path = "support/hashing.rs"]
mod hashing;

use hashing::HashingEmbedder;
use shared::search::{Embedder, StaticEmbedder, dot, item_text};

const ROUNDS: u32 = 20_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let embedder = StaticEmbedder::builtin()?;
    println!("StaticEmbedder::builtin(): {:.2} ms (vocabulary parse; the table is not read)", ms(started));

    let text = item_text(
        "Ceramic coffee mug, 350 ml",
        "Stoneware mug with a matte glaze. Dishwasher and microwave safe; holds a large latte.",
    );
    println!("typical item text: {} chars", text.chars().count());
    let query = "oak desk lamp";
    for (what, input) in [("query", query), ("item", text.as_str())] {
        let static_ns = per_call(|| black_box(embedder.embed(black_box(input))));
        let hashing_ns = per_call(|| black_box(HashingEmbedder.embed(black_box(input))));
        println!(
            "{what} embedding: static {static_ns:.0} ns, hashing {hashing_ns:.0} ns ({ROUNDS} rounds each, one core)"
        );
    }

    for (query, near, far) in [("couch", "Leather sofa", "Desk lamp"), ("coffee cup", "Ceramic mug", "Garden hose")] {
        let q = embedder.embed(query);
        println!(
            "{query:?}: {near:?} {:.3}, {far:?} {:.3}",
            dot(&q, &embedder.embed(near)),
            dot(&q, &embedder.embed(far))
        );
    }
    Ok(())
}

fn per_call<T>(mut f: impl FnMut() -> T) -> f64 {
    for _ in 0..ROUNDS / 10 {
        f();
    }
    let started = Instant::now();
    for _ in 0..ROUNDS {
        f();
    }
    started.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
