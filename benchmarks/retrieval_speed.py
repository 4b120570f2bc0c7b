"""Vector search speed and size at growing knowledge-base sizes.

    .venv/bin/python benchmarks/retrieval_speed.py --sizes 10000 100000 [1000000]

Synthetic 384-d unit vectors drawn around 2,000 random centres (embeddings of real text
are clustered; uniformly random vectors are the worst case for any ANN index and are not
what a knowledge base holds). Each size goes through the real VectorStore (build + save
+ reload), so the exact/approximate switch is the production one (threshold 50,000).
Recall@10 of the approximate index is measured against exact inner-product search.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.embedder import get_embedder
from retrieval.vector_store import VectorStore

DIM = 384


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + \
            0.08 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    result = []
    for q in queries:
        scores = vectors @ q
        top = np.argpartition(-scores, 10)[:10]
        result.append(top[np.argsort(-scores[top])])
    return np.asarray(result)


def percentile_ms(samples: list[float], p: float) -> float:
    return float(np.percentile(samples, p) * 1000)


def run(n: int, nprobe: int | None, queries: int) -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered(n, rng, centres)
    query_vectors = clustered(queries, np.random.default_rng(1), centres)
    with tempfile.TemporaryDirectory() as root:
        store = VectorStore(root, nprobe=nprobe)
        started = time.perf_counter()
        manifest = store.rebuild("kb", np.arange(n), vectors, "synthetic")
        build = time.perf_counter() - started
        size = os.path.getsize(Path(root) / "kb" / manifest["file"])
        started = time.perf_counter()
        store.search("kb", query_vectors[0], 10, model="synthetic")  # load
        load = time.perf_counter() - started
        latencies, found = [], []
        for q in query_vectors:
            t0 = time.perf_counter()
            ids, _ = store.search("kb", q, 10, model="synthetic")
            latencies.append(time.perf_counter() - t0)
            found.append(ids)
        truth = exact_top10(vectors, query_vectors)
        recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / 10
                          for f, t in zip(found, truth, strict=True)])
        embedder = get_embedder()
        text_latencies = []
        for i in range(min(queries, 50)):
            t0 = time.perf_counter()
            store.search("kb", embedder.embed_query(f"how do I reset my password {i}"), 10,
                         model="synthetic")
            text_latencies.append(time.perf_counter() - t0)
    params = (f" nlist={manifest['nlist']} nprobe={nprobe or manifest['nprobe']}"
              if "nlist" in manifest else "")
    print(f"| {n:,} | {manifest['index_type']}{params}"
          f" | {build:.1f} | {load:.2f} | {size / n:.0f} | {percentile_ms(latencies, 50):.2f} / "
          f"{percentile_ms(latencies, 95):.2f} | {percentile_ms(text_latencies, 50):.1f} / "
          f"{percentile_ms(text_latencies, 95):.1f} | {recall:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    get_embedder().embed_query("warm up")
    print("| chunks | index | build s | load s | bytes/vector on disk | search p50/p95 ms "
          "| embed+search p50/p95 ms | recall@10 vs exact |\n|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        run(n, args.nprobe, args.queries)


if __name__ == "__main__":
    main()
