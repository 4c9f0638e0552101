#!/usr/bin/env python3
"""The static word-piece embedding table distilled from all-MiniLM-L6-v2, and the file it ships in.

The distillation is model2vec's (distill_from_model with its defaults), done here in numpy without
torch: every vocabulary token goes through the model as [CLS] t [SEP] (mean pooled), the 384-dim
outputs are reduced by PCA to 256, and each row is weighted by SIF over a Zipf prior by vocabulary
order. A text's embedding is then the mean of its word-piece rows, L2-normalised
(shared/src/search/static_embedder.rs). infra/bench/relevance.py measures the same table.

  python infra/static_table.py MODEL_DIR OUT_FILE    # MODEL_DIR holds model.safetensors and vocab.txt

The file (read by shared/src/search/static_embedder.rs):
  magic  b"ITEMSEMB" (8 bytes)
  u32 LE format version (2), u32 LE rows (= lines of vocab.txt), u32 LE dims, u32 LE 0 (reserved)
  rows x (f32 LE scale, dims x i8): row i = token on line i of vocab.txt, value = scale x q

int8 with one scale per row (scale = max |row| / 127) halves the float16 table (7.9 instead of
15.6 MB in every package that embeds) and keeps rankings: cosine to the float32 row >= 0.9999, the
same first result for all 225 Cranfield queries (README, Search quality).
"""

from __future__ import annotations

import math
import re
import struct
import sys
from pathlib import Path

import numpy as np

MAGIC = b"ITEMSEMB"
FORMAT_VERSION = 2
DIMS = 256
HEADS, HEAD_SIZE, LAYERS, HIDDEN = 12, 32, 6, 384


def load_weights(path: Path) -> dict[str, np.ndarray]:
    """float32 weights, dense matrices transposed so that a layer is `x @ W + b`."""
    from safetensors.numpy import load_file

    w = {k: v.astype(np.float32) for k, v in load_file(str(path)).items()}
    for k in list(w):
        if k.endswith(".weight") and w[k].ndim == 2 and "embeddings" not in k:
            w[k] = np.ascontiguousarray(w[k].T)
    return w


def read_vocab(path: Path) -> list[str]:
    """Token ids are line numbers (the BERT convention; tokenizer.json says the same)."""
    return path.read_text(encoding="utf-8").split("\n")[:-1]


def _ln(x, g, b, eps=1e-12):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def hidden(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """BERT's last hidden states (6 layers, 12 heads, 384 hidden, erf GELU) in float32."""
    from scipy.special import erf

    batch, length = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _ln(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    bias = ((1.0 - mask) * -1e9)[:, None, None, :].astype(np.float32)

    def dense(t, name):
        return (t.reshape(-1, t.shape[-1]) @ w[name + ".weight"] + w[name + ".bias"]).reshape(batch, length, -1)

    def split(t):  # contiguous, so that the batched products below go to BLAS
        return np.ascontiguousarray(t.reshape(batch, length, HEADS, HEAD_SIZE).transpose(0, 2, 1, 3))

    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        q = split(dense(x, p + "attention.self.query"))
        k = split(dense(x, p + "attention.self.key"))
        v = split(dense(x, p + "attention.self.value"))
        scores = q @ np.ascontiguousarray(k.transpose(0, 1, 3, 2)) * (1.0 / math.sqrt(HEAD_SIZE)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        ctx = (scores / scores.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(0, 2, 1, 3).reshape(batch, length, HEADS * HEAD_SIZE)
        a = dense(ctx, p + "attention.output.dense")
        x = _ln(a + x, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = dense(x, p + "intermediate.dense")
        h = 0.5 * h * (1.0 + erf(h * (1.0 / math.sqrt(2.0))))
        o = dense(h, p + "output.dense")
        x = _ln(o + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


def pooled(w: dict[str, np.ndarray], seqs: list[list[int]], batch_size: int) -> np.ndarray:
    """Mean-pooled hidden states of each id sequence (batched by length, so padding stays small)."""
    out = np.zeros((len(seqs), HIDDEN), dtype=np.float32)
    order = np.argsort([len(s) for s in seqs])
    for start in range(0, len(seqs), batch_size):
        chunk = order[start:start + batch_size]
        length = max(len(seqs[i]) for i in chunk)
        ids = np.zeros((len(chunk), length), dtype=np.int64)
        mask = np.zeros((len(chunk), length), dtype=np.float32)
        for row, i in enumerate(chunk):
            ids[row, :len(seqs[i])] = seqs[i]
            mask[row, :len(seqs[i])] = 1.0
        h = hidden(w, ids, mask)
        out[chunk] = (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    return out


def static_table(w: dict[str, np.ndarray], vocab: list[str], dims: int = DIMS, sif: float = 1e-4):
    """(table rows x dims, PCA mean, PCA components); [unusedN] rows stay zero."""
    ids = {t: i for i, t in enumerate(vocab)}
    cls, sep = ids["[CLS]"], ids["[SEP]"]
    kept = sorted(i for t, i in ids.items() if not re.fullmatch(r"\[unused\d+\]", t))
    raw = pooled(w, [[cls, i, sep] for i in kept], 512)
    # PCA by eigendecomposition of the covariance, signs fixed by the largest score (model2vec).
    mean = raw.mean(0)
    centred = (raw - mean).astype(np.float64)
    _, vecs = np.linalg.eigh(centred.T @ centred / (len(raw) - 1))
    comps = vecs[:, ::-1][:, :dims].T
    scores = centred @ comps.T
    signs = np.sign(scores[np.argmax(np.abs(scores), axis=0), range(dims)])
    comps, scores = comps * signs[:, None], scores * signs
    inv_rank = 1.0 / np.arange(2, len(kept) + 2)
    weight = sif / (sif + inv_rank / inv_rank.sum())  # Zipf by vocabulary order, then SIF
    table = np.zeros((len(vocab), dims), dtype=np.float32)
    table[kept] = (scores * weight[:, None]).astype(np.float32)
    return table, mean.astype(np.float32), comps.astype(np.float32)


def quantise(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(scales rows, int8 rows x dims): row i is about scales[i] * q[i]; zero rows get scale 0."""
    peak = np.abs(table).max(axis=1)
    scales = (peak / 127.0).astype(np.float32)
    safe = np.where(scales > 0, scales, 1.0)[:, None]
    q = np.clip(np.rint(table / safe), -127, 127).astype(np.int8)
    return scales, q


def write_table(path: Path, table: np.ndarray) -> None:
    rows, dims = table.shape
    if not np.isfinite(table).all():
        raise SystemExit("the table has a value that is not finite")
    scales, q = quantise(table)
    record = np.dtype([("scale", "<f4"), ("q", "i1", (dims,))])
    packed = np.empty(rows, dtype=record)
    packed["scale"], packed["q"] = scales, q
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        f.write(MAGIC + struct.pack("<IIII", FORMAT_VERSION, rows, dims, 0))
        f.write(packed.tobytes())
    tmp.replace(path)  # never a half-written table under the real name


def main() -> int:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    model, out = Path(sys.argv[1]), Path(sys.argv[2])
    table, _, _ = static_table(load_weights(model / "model.safetensors"), read_vocab(model / "vocab.txt"))
    write_table(out, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
