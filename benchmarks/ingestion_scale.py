"""Ingestion time against corpus size, and a worker's peak memory against document size,
through the worker's own code path (the ingestion task's pipeline.ingest_queued, SQLite,
the default all-MiniLM-L6-v2 on its default backend).

    .venv/bin/python benchmarks/ingestion_scale.py [--corpus-mb 1 10] [--document-mb 0.1 1 4]
        [--one-per-task]

Documents are repeated real text: the Markdown guides in docs/ (about 136 KB), taken in
turn, cut at paragraph boundaries to the document size, each opened by a line naming its
copy (the same content twice would be refused as a duplicate). Corpus runs use documents
of 100 KB. Every measurement runs in a fresh process, as a worker is: the embedding model
is loaded first and not counted (it is a worker's start-up, not ingestion); then every
document is added (add_document(enqueue=False), as an upload of a folder queues them) and
the ingestion task's code runs for each in turn, as a worker takes its queue: the first
task goes on with the queued documents (CITEWISE_INGEST_BATCH_SECONDS), or with
--one-per-task (CITEWISE_INGEST_BATCH_SECONDS=0) each task ingests its own alone. Stage
seconds are the ingestion attempts' own (parse, chunk, embed, index). Peak memory is the
process's ru_maxrss, and its growth over the process with the model loaded.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_KB = 100

_RUN = r"""
import json, os, resource, sys, tempfile, time
from io import BytesIO
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/platform"]
os.environ.update({"CITEWISE_DATA_DIR": tempfile.mkdtemp(prefix="citewise-scale-"),
                   "DJANGO_SETTINGS_MODULE": "citewise.settings", "HF_HUB_OFFLINE": "1"})
os.environ.pop("DATABASE_URL", None)
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0, interactive=False)
from benchmarks.ingestion_scale import documents
from citewise.knowledge.models import Chunk, IngestionAttempt
from citewise.knowledge.permissions import SYSTEM
from citewise.knowledge.pipeline import ingest_queued
from citewise.knowledge.services import add_document, create_knowledge_base
from retrieval.embedder import get_embedder
get_embedder().embed_passages(["warm up"])
def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
with_model = rss_mib()
kb = create_knowledge_base(SYSTEM, name="Scale", slug="scale")
total_bytes, document_bytes = int(sys.argv[2]), int(sys.argv[3])
started = time.perf_counter()
texts = documents(total_bytes, document_bytes)
ids = [add_document(SYSTEM, kb, BytesIO(text.encode()), original_name=f"doc-{n}.md",
                    enqueue=False).document.pk for n, text in enumerate(texts)]
for document_id in ids:
    ingest_queued(document_id)
elapsed = time.perf_counter() - started
from citewise.knowledge.models import Document
statuses = list(Document.objects.filter(pk__in=ids).values_list("status", flat=True))
stages = {}
for attempt in IngestionAttempt.objects.all():
    for stage, seconds in (attempt.stage_seconds or {}).items():
        stages[stage] = stages.get(stage, 0.0) + seconds
print(json.dumps({"documents": len(statuses), "indexed": statuses.count("indexed"),
                  "chunks": Chunk.objects.count(), "seconds": elapsed,
                  "bytes": sum(len(t.encode()) for t in texts), "stages": stages,
                  "rss_with_model_mib": with_model,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def documents(total_bytes: int, document_bytes: int) -> list[str]:
    """Unique Markdown documents of about `document_bytes` each, `total_bytes` in all."""
    paragraphs = [p for path in sorted((ROOT / "docs").glob("*.md"))
                  for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    out, position = [], 0
    while sum(len(d.encode()) for d in out) < total_bytes:
        parts = [f"# Copy {len(out) + 1}"]
        size = len(parts[0])
        while size < document_bytes:
            paragraph = paragraphs[position % len(paragraphs)]
            position += 1
            parts.append(paragraph)
            size += len(paragraph.encode()) + 2
        out.append("\n\n".join(parts))
    return out


def run(total_bytes: int, document_bytes: int, *, one_per_task: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'platform'}"}
    if one_per_task:
        env["CITEWISE_INGEST_BATCH_SECONDS"] = "0"
    out = subprocess.run([sys.executable, "-c", _RUN, str(ROOT), str(total_bytes),
                          str(document_bytes)], check=True, capture_output=True, text=True,
                         env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus-mb", type=float, nargs="*", default=[1, 10])
    parser.add_argument("--document-mb", type=float, nargs="*", default=[0.1, 1, 4])
    parser.add_argument("--one-per-task", action="store_true",
                        help="each ingestion task ingests its own document alone "
                             "(CITEWISE_INGEST_BATCH_SECONDS=0)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average at the start "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    if args.corpus_mb:
        print("\n| corpus MB (asked / made) | documents | chunks | seconds | chunks/s | parse s "
              "| chunk s "
              "| embed s | index s | peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|---|",
              flush=True)
    for mb in args.corpus_mb:
        r = run(int(mb * 2**20), DOCUMENT_KB * 1024, one_per_task=args.one_per_task)
        s = r["stages"]
        print(f"| {mb:g} / {r['bytes'] / 2**20:.2f} | {r['documents']} "
              f"({r['indexed']} indexed) | {r['chunks']} "
              f"| {r['seconds']:.1f} | {r['chunks'] / r['seconds']:.1f} "
              f"| {s.get('parse', 0):.1f} | {s.get('chunk', 0):.1f} | {s.get('embed', 0):.1f} "
              f"| {s.get('index', 0):.1f} | {r['peak_mib']:.0f} |", flush=True)
    if args.document_mb:
        print("\n| one document MB (made) | chunks | seconds | RSS with the model MiB "
              "| peak RSS MiB "
              "| growth MiB |\n|---|---|---|---|---|---|", flush=True)
    for mb in args.document_mb:
        size = int(mb * 2**20)
        r = run(size, size)
        print(f"| {r['bytes'] / 2**20:.2f} | {r['chunks']} | {r['seconds']:.1f} "
              f"| {r['rss_with_model_mib']:.0f} "
              f"| {r['peak_mib']:.0f} | {r['peak_mib'] - r['rss_with_model_mib']:.0f} |",
              flush=True)
    print(f"\nload average at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
