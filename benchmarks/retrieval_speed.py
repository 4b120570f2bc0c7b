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
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 10), dtype=np.int64)
    for start in range(0, len(vectors), 100_000):  # bounded memory at 1M vectors
        scores = queries @ vectors[start:start + 100_000].T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
        merged_ids = np.concatenate([best_ids, top + start], 1)
        keep = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, keep, 1)
        best_ids = np.take_along_axis(merged_ids, keep, 1)
    return best_ids


_LOAD_ONLY = """
import os, sys, numpy as np
sys.path.insert(0, sys.argv[2])
from retrieval.vector_store import VectorStore
import faiss  # noqa: F401  (library pages are not the index's memory)
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = rss()
store = VectorStore(sys.argv[1])  # keeps the loaded index in its cache
store.search("kb", np.ones(int(sys.argv[3]), np.float32), 10, model="synthetic")
print(rss() - before)
"""


def loaded_rss_bytes(root: str) -> int:
    """Resident memory a fresh process gains by loading the index (what a web or worker
    process pays), measured in a subprocess so freed build buffers do not hide it."""
    import subprocess

    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", _LOAD_ONLY, root, repo, str(DIM)],
                         check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1])


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
        ram = loaded_rss_bytes(root)
        store = VectorStore(root, nprobe=nprobe)  # a fresh reader, as a web process has
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
          f" | {build:.1f} | {load:.2f} | {size / n:.0f} | {ram / n:.0f} "
          f"| {percentile_ms(latencies, 50):.2f} / "
          f"{percentile_ms(latencies, 95):.2f} | {percentile_ms(text_latencies, 50):.1f} / "
          f"{percentile_ms(text_latencies, 95):.1f} | {recall:.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    get_embedder().embed_query("warm up")
    print("| chunks | index | build s | load s | bytes/vector on disk | bytes/vector in RAM "
          "| search p50/p95 ms | embed+search p50/p95 ms | recall@10 vs exact |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for n in args.sizes:
        run(n, args.nprobe, args.queries)


if __name__ == "__main__":
    main()
