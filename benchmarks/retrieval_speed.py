"""Search speed and memory at growing knowledge-base sizes: the vector index alone, and
the whole hybrid search (HybridSearcher: query embedding, FAISS, BM25, fusion, dedupe).

    .venv/bin/python benchmarks/retrieval_speed.py --sizes 10000 100000 [1000000]
        [--queries 200] [--nprobe N] [--torch-threads N]

Synthetic data, generated deterministically:
- vectors: 384-d unit vectors drawn around 2,000 random centres (embeddings of real text
  are clustered; uniformly random vectors are the worst case for any ANN index and are not
  what a knowledge base holds);
- texts: 120 content terms per chunk (what a 256-token chunk keeps after stop words),
  drawn from a 30,000-word pseudo-word vocabulary with Zipf frequencies (exponent 1.07,
  like English); queries of 3-6 terms of mid frequency (ranks 50-5,000), the kind of
  content words a question leaves after stop words. The BM25 term matrix is built
  directly from the drawn term ids (tokenizing a million synthetic chunks would take longer
  than everything measured); queries go through the production tokenizer.

Each size goes through the real stores (VectorStore build + save + reload, so the
exact/approximate switch is the production one, threshold 50,000; LexicalStore save +
reload). Recall@10 of the approximate vector index is measured against exact search. The
hybrid search is HybridSearcher.search with k=16 (ASK_TOP_K 6 + the 10 of slack the
product asks for) and a text lookup for dedupe, timed per stage through its `timer`; the
lookup (rebuilding a chunk's text from its terms, where the product reads the database:
its chunk_fetch stage, in answer_overhead.py) is left out of the times. "Without query
embedding" is the same search minus its query_embedding stage. On a shared machine wall
times mostly measure the queue for a core, so the search's CPU time on the calling thread
(time.thread_time, without query embedding) is reported too: all of that part's work runs
on the calling thread, so it is about what a quiet machine would take. Memory: a
fresh subprocess loads the embedding model, then both indexes, and searches once.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from retrieval.bm25 import Bm25Matrix
from retrieval.embedder import get_embedder
from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef, SearchOptions
from retrieval.lexical import LexicalStore
from retrieval.vector_store import VectorStore
from textproc.tokens import STOP_WORDS, tokenize

DIM = 384
VOCABULARY = 30_000
TERMS_PER_CHUNK = 120
ZIPF = 1.07
KB = "kb"


def clustered(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + \
            0.08 * rng.standard_normal((m, DIM)).astype(np.float32)
        out[start:start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def vocabulary(size: int = VOCABULARY) -> list[str]:
    """Pseudo-words the production tokenizer keeps as they are (no stemming, no stop
    words), so the index's terms and the queries' tokens meet."""
    rng = np.random.default_rng(7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: dict[str, None] = {}
    while len(words) < size:
        word = "".join(rng.choice(letters, rng.integers(4, 10)))
        if word not in STOP_WORDS and tokenize(word) == [word]:
            words[word] = None
    return list(words)


def term_matrix(n: int, rng: np.random.Generator) -> object:
    """(n, VOCABULARY) CSR matrix of term counts, Zipf-distributed term ids."""
    from scipy import sparse

    p = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF
    cdf = np.cumsum(p / p.sum())
    blocks = []
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        terms = np.searchsorted(cdf, rng.random((m, TERMS_PER_CHUNK)))
        rows = np.repeat(np.arange(m), TERMS_PER_CHUNK)
        block = sparse.csr_matrix((np.ones(rows.size, dtype=np.float32),
                                   (rows, terms.ravel())), shape=(m, VOCABULARY))
        block.sum_duplicates()
        blocks.append(block)
    return sparse.vstack(blocks, format="csr", dtype=np.float32)


def queries(count: int, words: list[str]) -> list[str]:
    rng = np.random.default_rng(3)
    return [" ".join(words[i] for i in rng.integers(50, 5_000, rng.integers(3, 7)))
            for _ in range(count)]


def exact_top10(vectors: np.ndarray, query_vectors: np.ndarray) -> np.ndarray:
    best_scores = np.full((len(query_vectors), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(query_vectors), 10), dtype=np.int64)
    for start in range(0, len(vectors), 100_000):  # bounded memory at 1M vectors
        scores = query_vectors @ vectors[start:start + 100_000].T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], 1)
        merged_ids = np.concatenate([best_ids, top + start], 1)
        keep = np.argsort(-merged_scores, axis=1)[:, :10]
        best_scores = np.take_along_axis(merged_scores, keep, 1)
        best_ids = np.take_along_axis(merged_ids, keep, 1)
    return best_ids


_LOAD_ONLY = """
import os, sys
sys.path.insert(0, sys.argv[2])
from retrieval.embedder import get_embedder
from retrieval.hybrid import HybridSearcher, KnowledgeBaseRef
from retrieval.lexical import LexicalStore
from retrieval.vector_store import VectorStore
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
start = rss()
get_embedder().embed_query("warm up")
import faiss, scipy.sparse  # noqa: F401  (library pages are not the indexes' memory)
with_model = rss()
searcher = HybridSearcher(VectorStore(sys.argv[1]), LexicalStore(sys.argv[1]))
searcher.search(sys.argv[3], [KnowledgeBaseRef(key="kb")])  # loads and caches both
print(start, with_model, rss())
"""


def process_memory(root: str, query: str) -> tuple[int, int, int]:
    """(bytes at start, with the embedding model loaded, with both indexes loaded and
    searched) of a fresh process: what a web process pays for search."""
    import subprocess

    repo = str(Path(__file__).resolve().parent.parent)
    out = subprocess.run([sys.executable, "-c", _LOAD_ONLY, root, repo, query],
                         check=True, capture_output=True, text=True).stdout
    start, with_model, loaded = map(int, out.split()[-3:])
    return start, with_model, loaded


class StageClock:
    """HybridSearcher's timer: seconds per stage of the current search."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)  # of the calling thread

    def clear(self) -> None:
        self.seconds.clear()
        self.cpu.clear()

    @contextmanager
    def __call__(self, stage: str):
        began, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - began
            self.cpu[stage] += time.thread_time() - cpu


def ms(samples: list[float], p: float) -> float:
    return float(np.percentile(samples, p) * 1000)


def build(root: str, n: int, nprobe: int | None) -> dict:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vectors = clustered(n, rng, centres)
    ids = np.arange(n, dtype=np.int64)
    started = time.perf_counter()
    manifest = VectorStore(root, nprobe=nprobe).rebuild(KB, ids, vectors,
                                                        get_embedder().model_name)
    vector_build = time.perf_counter() - started
    words = vocabulary()
    tf = term_matrix(n, rng)
    started = time.perf_counter()
    # LexicalStore._save: the matrix is built from term ids, not texts (see the docstring).
    LexicalStore(root)._save(KB, Bm25Matrix(ids, tf, list(words)), source_version=None)
    lexical_build = time.perf_counter() - started
    return {"vectors": vectors, "centres": centres, "manifest": manifest, "tf": tf,
            "words": words, "vector_build": vector_build, "lexical_build": lexical_build}


def vector_row(root: str, n: int, built: dict, nprobe: int | None, count: int) -> str:
    manifest = built["manifest"]
    query_vectors = clustered(count, np.random.default_rng(1), built["centres"])
    store = VectorStore(root, nprobe=nprobe)  # a fresh reader, as a web process has
    started = time.perf_counter()
    store.search(KB, query_vectors[0], 10, model=get_embedder().model_name)  # load
    load = time.perf_counter() - started
    latencies, found = [], []
    for q in query_vectors:
        t0 = time.perf_counter()
        ids, _ = store.search(KB, q, 10, model=get_embedder().model_name)
        latencies.append(time.perf_counter() - t0)
        found.append(ids)
    truth = exact_top10(built["vectors"], query_vectors)
    recall = np.mean([len(set(f.tolist()) & set(t.tolist())) / 10
                      for f, t in zip(found, truth, strict=True)])
    size = os.path.getsize(Path(root) / KB / manifest["file"])
    params = (f" nlist={manifest['nlist']} nprobe={nprobe or manifest['nprobe']}"
              if "nlist" in manifest else "")
    return (f"| {n:,} | {manifest['index_type']}{params} | {built['vector_build']:.1f} "
            f"| {load:.2f} | {size / n:.0f} | {ms(latencies, 50):.2f} / "
            f"{ms(latencies, 95):.2f} | {recall:.3f} |")


def hybrid_row(root: str, n: int, built: dict, nprobe: int | None, count: int) -> str:
    tf, words = built["tf"], built["words"]

    clock = StageClock()

    def texts(keys):  # what the database would return: the chunk's terms, as text
        with clock("texts"):  # the product's chunk_fetch: not the search's own time
            return {key: " ".join(words[t] for t in tf[key[1]].indices) for key in keys}

    searcher = HybridSearcher(VectorStore(root, nprobe=nprobe), LexicalStore(root),
                              timer=clock)
    kb = [KnowledgeBaseRef(key=KB)]
    options = SearchOptions(k=16)
    asked = queries(count + 1, words)
    started = time.perf_counter()
    searcher.search(asked[0], kb, options=options, texts=texts)  # loads both indexes
    load = time.perf_counter() - started
    totals, without, cpu, stages = [], [], [], defaultdict(list)
    for query in asked[1:]:
        clock.clear()
        t0, c0 = time.perf_counter(), time.thread_time()
        searcher.search(query, kb, options=options, texts=texts)
        total = time.perf_counter() - t0
        cpu.append(time.thread_time() - c0 - clock.cpu["query_embedding"] - clock.cpu["texts"])
        total -= clock.seconds["texts"]
        totals.append(total)
        without.append(total - clock.seconds["query_embedding"])
        for stage in ("query_embedding", "vector_search", "lexical_search", "fusion",
                      "dedupe"):
            stages[stage].append(clock.seconds[stage])
    start, with_model, loaded = process_memory(root, asked[0])
    return (f"| {n:,} | {load:.2f} | {ms(without, 50):.1f} / {ms(without, 95):.1f} "
            f"| {ms(cpu, 50):.1f} / {ms(cpu, 95):.1f} "
            f"| {ms(totals, 50):.1f} / {ms(totals, 95):.1f} | "
            + " | ".join(f"{ms(stages[s], 50):.1f} / {ms(stages[s], 95):.1f}"
                         for s in ("query_embedding", "vector_search", "lexical_search",
                                   "fusion", "dedupe"))
            + f" | {start / 2**20:.0f} | {with_model / 2**20:.0f} "
              f"| {(loaded - with_model) / 2**20:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--nprobe", type=int, default=None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads(N) for the query embedding")
    args = parser.parse_args()
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    get_embedder().embed_query("warm up")
    print(f"load average at the start: {os.getloadavg()}", flush=True)
    vector_rows, hybrid_rows = [], []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as root:
            built = build(root, n, args.nprobe)
            vector_rows.append(vector_row(root, n, built, args.nprobe, args.queries))
            print(vector_rows[-1], flush=True)
            hybrid_rows.append(hybrid_row(root, n, built, args.nprobe, args.queries))
            print(hybrid_rows[-1], flush=True)
            del built
    print("\nVector index alone:\n"
          "| chunks | index | build s | load s | bytes/vector on disk "
          "| search p50/p95 ms | recall@10 vs exact |\n|---|---|---|---|---|---|---|")
    print("\n".join(vector_rows))
    print("\nHybrid search (HybridSearcher, k=16), ms p50 / p95:\n"
          "| chunks | load s (first search) | without query embedding "
          "| its CPU time | with query embedding "
          "| query embedding | vector search | lexical search | fusion | dedupe "
          "| process RSS at start MiB | with the model MiB | + both indexes MiB |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(hybrid_rows))
    print(f"\nload average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
