"""Embedding backends compared: passages/s on the ingestion corpus's chunks, agreement
with torch, and dense retrieval quality on python-faq.

    .venv/bin/python benchmarks/ingestion_embedding.py [--corpus DIR | --chunks CHUNKS.json]
        [--passages 1024] [--repeat 3] [--backends torch onnx onnx-int8] [--cache-dir DIR]

Passages: the chunks of the ingestion corpus (parse_document + chunk_document, 256 tokens,
32 overlap, as benchmarks/ingestion_throughput.py does; or its --save-chunks file),
`--passages` of them spread evenly. They are embedded as the pipeline does: consecutive
batches of 32 through embed_passages. Backends take turns, pass after pass, so a load
from other processes hits them alike; the best pass of each is reported. The first load of
an ONNX backend exports the model into the cache folder ("load" includes that export).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.retrieval_quality import Bench, python_faq
from retrieval.embedder import BACKENDS, EmbedderConfig, load_embedder


def spread(items: list[str], count: int) -> list[str]:
    if count >= len(items):
        return items
    step = len(items) / count
    return [items[int(i * step)] for i in range(count)]


def corpus_chunks(corpus: Path) -> list[str]:
    from benchmarks.ingestion_throughput import documents
    from ingestion.chunker import chunk_document
    from ingestion.errors import IngestionError
    from ingestion.parse import parse_document
    from retrieval.embedder import get_embedder

    count = get_embedder(EmbedderConfig()).count_tokens
    texts: list[str] = []
    for item in documents(corpus):
        try:
            parsed = parse_document(corpus / item["file"], Path(item["file"]).name)
        except IngestionError:
            continue
        texts += [d.text for d in chunk_document(parsed, count, max_tokens=256,
                                                 overlap_tokens=32)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=Path)
    parser.add_argument("--corpus", type=Path,
                        default=Path(tempfile.gettempdir()) / "ingest-corpus" / "sample")
    parser.add_argument("--passages", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--cache-dir", default=None,
                        help="ONNX export cache (default: a fresh temporary folder)")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    cache = args.cache_dir or tempfile.mkdtemp(prefix="onnx-cache-")
    if args.chunks:
        chunks = [c["text"] for c in json.loads(args.chunks.read_text())]
    else:
        chunks = corpus_chunks(args.corpus)
    texts = spread(chunks, args.passages)
    print(f"{len(texts)} passages (of {len(chunks)} corpus chunks, evenly spread), batches of "
          f"{args.batch_size}, best of {args.repeat}; ONNX cache {cache}")
    faq = None if args.skip_quality else python_faq()
    embedders, loads = {}, {}
    for backend in args.backends:
        config = EmbedderConfig(backend=backend, cache_dir=cache, batch_size=args.batch_size)
        began = time.perf_counter()
        embedders[backend] = load_embedder(config)
        loads[backend] = time.perf_counter() - began
        embedders[backend].embed_passages(texts[:args.batch_size])  # warm-up
    passes: dict[str, list[float]] = {b: [] for b in args.backends}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.repeat):
        for backend, embedder in embedders.items():
            began = time.perf_counter()
            vectors[backend] = np.vstack([embedder.embed_passages(texts[i:i + args.batch_size])
                                          for i in range(0, len(texts), args.batch_size)])
            passes[backend].append(time.perf_counter() - began)
    reference = vectors[args.backends[0]]
    rows = []
    for backend, embedder in embedders.items():
        best = min(passes[backend])
        cosines = (vectors[backend] * reference).sum(axis=1)
        row = {"backend": backend, "load_s": loads[backend], "seconds": best,
               "all_passes": passes[backend], "passages_per_s": len(texts) / best,
               "cos_mean": float(cosines.mean()), "cos_min": float(cosines.min()),
               "cos_p01": float(np.quantile(cosines, 0.01))}
        if faq is not None:
            bench = Bench(faq, embedder=embedder.config)
            bench_dense = bench.run(use_dense=True, use_lexical=False)
            bench_hybrid = bench.run(use_dense=True, use_lexical=True)
            row |= {"dense": vars(bench_dense), "hybrid": vars(bench_hybrid)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print("\n| backend | load s (first, incl. export) | passages/s | speed-up | cosine vs "
          "torch mean / min | python-faq dense R@5 | dense nDCG@10 | hybrid R@5 | "
          "hybrid nDCG@10 |\n|---|---|---|---|---|---|---|---|---|")
    base = rows[0]["passages_per_s"]
    for r in rows:
        quality = (f"{r['dense']['recall_at_5']:.3f} | {r['dense']['ndcg_at_10']:.3f} | "
                   f"{r['hybrid']['recall_at_5']:.3f} | {r['hybrid']['ndcg_at_10']:.3f}"
                   if "dense" in r else "- | - | - | -")
        print(f"| {r['backend']} | {r['load_s']:.1f} | {r['passages_per_s']:.1f} | "
              f"{r['passages_per_s'] / base:.2f}x | {r['cos_mean']:.4f} / {r['cos_min']:.4f} | "
              f"{quality} |")


if __name__ == "__main__":
    main()
