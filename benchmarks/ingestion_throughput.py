"""Ingestion throughput of the real pipeline functions, without Django or Celery.

    .venv/bin/python benchmarks/ingestion_throughput.py [--corpus /tmp/ingest-corpus/sample]
        [--backend torch|onnx|onnx-int8] [--cache-dir DIR] [--save-chunks FILE] [--json FILE]

For every document of the corpus (built by benchmarks/ingestion_corpus.py), what
citewise.knowledge.pipeline does, minus the database: parse_document -> chunk_document
(the embedder's count_tokens, 256 tokens, 32 overlap) -> Embedder.embed_passages in
batches of 32 -> VectorStore and LexicalStore upsert of that document's chunks into one
knowledge base in a temporary folder. Reports documents/s, pages/s, chunks/s, seconds
and share per stage, per format group, failures with their reasons, and peak memory
(ru_maxrss of this process, which includes the loaded model).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingestion.chunker import chunk_document
from ingestion.errors import IngestionError
from ingestion.parse import parse_document
from retrieval.embedder import BACKENDS, EmbedderConfig, get_embedder
from retrieval.lexical import LexicalStore
from retrieval.vector_store import VectorStore

STAGES = ("parse", "chunk", "embed", "index")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def documents(corpus: Path) -> list[dict[str, str]]:
    manifest = corpus / "manifest.json"
    if manifest.exists():
        return json.loads(manifest.read_text())
    return [{"group": p.parent.name, "file": str(p.relative_to(corpus))}
            for p in sorted(corpus.rglob("*")) if p.is_file()]


# A script read top to bottom: load, parse, chunk, embed, each timed.
def run(corpus: Path, config: EmbedderConfig, *, max_tokens: int, overlap: int,  # noqa: PLR0915
        batch_size: int) -> dict[str, Any]:
    began = time.perf_counter()
    embedder = get_embedder(config)
    load_seconds = time.perf_counter() - began
    rss_after_load = peak_rss_mib()
    folder = tempfile.TemporaryDirectory(prefix="ingest-bench-")
    vectors, lexical = VectorStore(folder.name), LexicalStore(folder.name)
    totals: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    groups: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    failures: list[dict[str, str]] = []
    chunks_out: list[dict[str, Any]] = []
    next_id = 1
    started = time.perf_counter()
    for item in documents(corpus):
        path, group = corpus / item["file"], item["group"]
        stats = groups[group]
        stats["documents"] += 1
        timings: dict[str, float] = {}
        drafts = []
        try:
            t0 = time.perf_counter()
            parsed = parse_document(path, path.name)
            t1 = time.perf_counter()
            drafts = chunk_document(parsed, embedder.count_tokens, max_tokens=max_tokens,
                                    overlap_tokens=overlap)
            t2 = time.perf_counter()
            timings["parse"], timings["chunk"] = t1 - t0, t2 - t1
            if not drafts:
                raise IngestionError("the document has no text to index")
            texts = [d.text for d in drafts]
            parts = [embedder.embed_passages(texts[i:i + batch_size])
                     for i in range(0, len(texts), batch_size)]
            embedded = np.vstack(parts)
            t3 = time.perf_counter()
            ids = np.arange(next_id, next_id + len(texts), dtype=np.int64)
            next_id += len(texts)
            vectors.upsert("kb", ids, embedded, model=embedder.model_name)
            lexical.upsert("kb", ids.tolist(), texts)
            t4 = time.perf_counter()
            timings["embed"], timings["index"] = t3 - t2, t4 - t3
        except IngestionError as error:
            failures.append({"file": item["file"], "reason": str(error)})
            stats["failed"] += 1
        except Exception as error:  # a parser bug: report it, keep measuring the rest
            failures.append({"file": item["file"],
                             "reason": f"unexpected {type(error).__name__}: {error}"})
            stats["failed"] += 1
        else:
            stats["indexed"] += 1
            stats["pages"] += parsed.page_count or 1
            stats["pdf_pages"] += parsed.page_count or 0
            stats["chunks"] += len(drafts)
            stats["tokens"] += sum(d.token_count for d in drafts)
            chunks_out.extend({"group": group, "file": item["file"], "text": t} for t in texts)
        for stage, seconds in timings.items():
            totals[stage] += seconds
            stats[stage] += seconds
        done = f"{len(drafts)} chunks" if "index" in timings else "failed"
        print(f"{time.perf_counter() - started:7.1f}s {item['file']} ({done}): "
              + " ".join(f"{k} {v:.2f}" for k, v in timings.items()), file=sys.stderr,
              flush=True)
    wall = time.perf_counter() - started
    folder.cleanup()
    indexed = {key: sum(g[key] for g in groups.values())
               for key in ("documents", "indexed", "failed", "pages", "pdf_pages", "chunks",
                           "tokens")}
    return {
        "backend": config.backend, "load_seconds": load_seconds, "wall_seconds": wall,
        "stage_seconds": totals, "groups": {k: dict(v) for k, v in groups.items()},
        "totals": indexed, "failures": failures, "rss_after_load_mib": rss_after_load,
        "peak_rss_mib": peak_rss_mib(), "chunks": chunks_out,
    }


def report(result: dict[str, Any]) -> str:
    t, wall, stages = result["totals"], result["wall_seconds"], result["stage_seconds"]
    staged = sum(stages.values())
    lines = [
        f"backend {result['backend']}: {t['documents']:.0f} documents ({t['indexed']:.0f} "
        f"indexed, {t['failed']:.0f} failed), {t['pages']:.0f} pages "
        f"({t['pdf_pages']:.0f} PDF pages + 1 per unpaginated document), {t['chunks']:.0f} "
        f"chunks, {t['tokens']:.0f} tokens in {wall:.1f}s (model load "
        f"{result['load_seconds']:.1f}s, not included)",
        f"throughput: {t['documents'] / wall:.2f} documents/s, {t['pages'] / wall:.2f} pages/s, "
        f"{t['chunks'] / wall:.1f} chunks/s",
        f"peak RSS {result['peak_rss_mib']:.0f} MiB (after model load "
        f"{result['rss_after_load_mib']:.0f} MiB)",
        "",
        "| stage | seconds | share |", "|---|---|---|",
        *(f"| {s} | {stages[s]:.1f} | {stages[s] / staged:.1%} |" for s in STAGES),
        "",
        "| group | docs | failed | pages | chunks | parse s | chunk s | embed s | index s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, g in sorted(result["groups"].items()):
        lines.append(f"| {name} | {g.get('documents', 0):.0f} | {g.get('failed', 0):.0f} | "
                     f"{g.get('pages', 0):.0f} | {g.get('chunks', 0):.0f} | "
                     + " | ".join(f"{g.get(s, 0):.1f}" for s in STAGES) + " |")
    if result["failures"]:
        lines += ["", "failures:"]
        lines += [f"- {f['file']}: {f['reason']}" for f in result["failures"]]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path,
                        default=Path(tempfile.gettempdir()) / "ingest-corpus" / "sample")
    parser.add_argument("--backend", choices=BACKENDS, default="torch")
    parser.add_argument("--cache-dir", default=None, help="ONNX export cache")
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--save-chunks", type=Path, help="write the chunk texts (JSON)")
    parser.add_argument("--json", type=Path, help="write the result (JSON, without chunks)")
    args = parser.parse_args()
    config = EmbedderConfig(backend=args.backend, cache_dir=args.cache_dir,
                            batch_size=args.batch_size)
    result = run(args.corpus, config, max_tokens=args.max_tokens, overlap=args.overlap,
                 batch_size=args.batch_size)
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} CPUs, load average {' '.join(load)} "
          "at the end")
    print(report(result))
    chunks = result.pop("chunks")
    if args.save_chunks:
        args.save_chunks.write_text(json.dumps(chunks, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
