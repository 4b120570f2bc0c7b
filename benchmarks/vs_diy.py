"""Citewise's ingestion against the do-it-yourself LangChain pipeline: same documents, one
run, each pipeline in a cold process.

    .venv/bin/pip install -e ".[diy]"      # LangChain and its loaders (not Citewise's)
    .venv/bin/python benchmarks/vs_diy.py [--languages en ko] [--rounds 1] [--cache DIR]
        [--json FILE]

Corpus: the real Debian documents of benchmarks/debian_docs_corpus.py (HTML manuals, a
PDF, a DOCX and an XLSX in English; Korean LibreOffice help pages, a Korean PDF, DOCX and
XLSX), one folder per language. Questions: the same corpus's eval sets as
benchmarks/debian_docs.py (section headings, hand-written paraphrases and misspelled
ones); a hit is a passage of the gold document holding the evidence (its `holds`).

- DIY: what a team assembles in an afternoon. LangChain's loaders (BSHTMLLoader,
  PyPDFLoader, Docx2txtLoader, TextLoader; an XLSX is read with openpyxl, as LangChain's
  only Excel loader needs `unstructured`), RecursiveCharacterTextSplitter(1000, 200),
  all-MiniLM-L6-v2 from the packaged weights through sentence-transformers
  (langchain_comparison.minilm_embeddings), FAISS.from_documents, saved with save_local.
  One index per language folder.
- Citewise: `manage.py ingest FOLDER --kb SLUG --create --sync` per folder (the command's
  own code, through call_command), on a migrated, empty SQLite database: bounded parsing
  (OCR where needed), structure-aware chunking, the knowledge base's own model per
  language ("auto"), FAISS and BM25 (Korean morphology) indexes, database writes.

Each pipeline runs in a fresh interpreter (`--child`), timed from before the process is
started to the end of its last index write: imports and model loading count, as they do
for a user. The pipelines alternate (DIY first in odd rounds), so load from other
processes hits both alike. After the timed part, each child answers the questions
(Recall@1/@5, MRR) and Citewise's child measures the floor: its embedders embedding the
same chunk texts again, alone, in the same process (all in one call, best of two passes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "platform", ROOT / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

if TYPE_CHECKING:
    from debian_docs import Item

# Imports of this script stay light: Citewise's sandboxed parses are forked from a fork
# server, and multiprocessing runs the main script again (as __mp_main__) in each child.

KINDS = ("heading", "paraphrase", "typo")
SPLIT_CHARS, SPLIT_OVERLAP = 1000, 200
DIY_EXTRA = ("langchain_community", "langchain_text_splitters", "docx2txt")


# ----- shared -----------------------------------------------------------------------------

def peak_rss_mib() -> float:
    """Peak resident memory of this process or any child it waited for (the parse
    sandboxes), in MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # KiB on Linux


def page_count(path: Path) -> int:
    """PDF pages, else 1 (as benchmarks/ingestion_throughput.py counts)."""
    if path.suffix.lower() != ".pdf":
        return 1
    import pypdf

    return len(pypdf.PdfReader(str(path)).pages)


def scores_of(items: list[Item], rankings: list[list[tuple[str, str]]],
              passages: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Recall@1/@5, nDCG@10, MRR per kind of question; a ranking is (document, text)
    pairs, best first; `passages` are all of the index's, for the ideal DCG."""
    from debian_docs import holds
    from retrieval_quality import Corpus, score

    result = {}
    for kind in KINDS:
        picked = [n for n, item in enumerate(items) if item.kind == kind]
        if not picked:
            continue
        mine = [items[n] for n in picked]
        ranked = [rankings[n] for n in picked]
        relevant = [sum(holds(item, *p) for p in passages) or 1 for item in mine]
        corpus = Corpus(kind, [], [i.question for i in mine],
                        lambda q, rank, ranked=ranked, mine=mine: holds(mine[q], *ranked[q][rank]),
                        relevant)
        result[kind] = asdict(score(corpus, [list(range(len(r))) for r in ranked]))
    return result


# ----- the DIY pipeline (child) -----------------------------------------------------------

def diy_load(path: Path) -> list[Any]:
    from langchain_community.document_loaders import (
        BSHTMLLoader,
        Docx2txtLoader,
        PyPDFLoader,
        TextLoader,
    )
    from langchain_core.documents import Document

    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        return BSHTMLLoader(str(path), open_encoding="utf-8").load()
    if suffix == ".pdf":
        return PyPDFLoader(str(path)).load()
    if suffix == ".docx":
        return Docx2txtLoader(str(path)).load()
    if suffix == ".xlsx":
        import openpyxl

        book = openpyxl.load_workbook(str(path), read_only=True, data_only=True)
        rows = ["\t".join("" if v is None else str(v) for v in row)
                for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]
        return [Document(page_content="\n".join(rows), metadata={"source": str(path)})]
    return TextLoader(str(path), autodetect_encoding=True).load()


def run_diy(folders: dict[str, Path], out: Path) -> dict[str, Any]:
    from langchain_community.vectorstores import FAISS
    from langchain_comparison import minilm_embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = minilm_embeddings()
    splitter = RecursiveCharacterTextSplitter(chunk_size=SPLIT_CHARS,
                                              chunk_overlap=SPLIT_OVERLAP)
    stores, counts, failed = {}, {}, []
    for language, folder in folders.items():
        documents = []
        for path in sorted(folder.iterdir()):
            try:
                loaded = diy_load(path)
            except Exception as error:  # a loader that gives up: the file is not indexed
                failed.append(f"{path.name}: {type(error).__name__}: {error}")
                continue
            for document in loaded:
                document.metadata["name"] = path.name
            documents += loaded
        chunks = splitter.split_documents(documents)
        stores[language] = FAISS.from_documents(chunks, embeddings)
        stores[language].save_local(str(out / f"faiss-{language}"))
        counts[language] = len(chunks)
    return {"stores": stores, "chunks": counts, "failed": failed}


def diy_quality(stores: dict[str, Any], items: dict[str, list[Item]]) -> dict[str, Any]:
    quality = {}
    for language, store in stores.items():
        passages = [(d.metadata["name"], d.page_content) for d in store.docstore._dict.values()]
        rankings = [[(d.metadata["name"], d.page_content)
                     for d in store.similarity_search(item.question, k=10)]
                    for item in items[language]]
        quality[language] = scores_of(items[language], rankings, passages)
    return quality


# ----- Citewise (child) -------------------------------------------------------------------

def run_citewise(folders: dict[str, Path]) -> dict[str, Any]:
    import django

    django.setup()
    from contextlib import suppress
    from io import StringIO

    from django.core.management import call_command

    summaries = {}
    for language, folder in folders.items():
        out = StringIO()
        with suppress(SystemExit):  # exits 1 when a file failed: listed in the summary
            call_command("ingest", str(folder), kb=f"diy-{language}", create=True, sync=True,
                         json=True, stdout=out)
        summaries[language] = json.loads(out.getvalue().strip().splitlines()[-1])
    return summaries


def citewise_facts(summaries: dict[str, Any]) -> dict[str, Any]:
    """Chunks, failures and per-stage seconds (the pipeline's own timings) per language."""
    from citewise.knowledge.models import Chunk, IngestionAttempt, KnowledgeBase

    facts = {}
    for language, summary in summaries.items():
        kb = KnowledgeBase.objects.get(slug=f"diy-{language}")
        stages: dict[str, float] = {}
        for timings in IngestionAttempt.objects.filter(
                document__knowledge_base=kb).values_list("stage_seconds", flat=True):
            for stage, seconds in (timings or {}).items():
                stages[stage] = round(stages.get(stage, 0.0) + seconds, 2)
        facts[language] = {"chunks": Chunk.objects.filter(knowledge_base=kb).count(),
                           "failed": summary["failed"], "model": kb.embedding_model,
                           "stage_seconds": stages}
    return facts


def citewise_quality(items: dict[str, list[Item]]) -> dict[str, Any]:
    from citewise.knowledge.models import Chunk, KnowledgeBase
    from citewise.knowledge.permissions import SYSTEM
    from citewise.knowledge.search import search

    quality = {}
    for language, questions in items.items():
        kb = KnowledgeBase.objects.get(slug=f"diy-{language}")
        chunks = {pk: (name, text) for pk, name, text in Chunk.objects.filter(
            knowledge_base=kb).values_list("pk", "document__original_name", "text")}
        rankings = [[chunks[p.chunk_id] for p in
                     search(SYSTEM, item.question, knowledge_bases=[kb], k=10)
                     if p.chunk_id in chunks] for item in questions]
        quality[language] = scores_of(questions, rankings, list(chunks.values()))
    return quality


def citewise_floor() -> dict[str, Any]:
    """Seconds the knowledge bases' own passage embedders (the bulk backend ingestion
    used) take to embed their chunks again, alone (same process, models loaded, best of
    two passes, all in one call: the embedder orders them by length and batches them by
    tokens, the least padding it can)."""
    from citewise.knowledge import indexing
    from citewise.knowledge.models import Chunk, KnowledgeBase

    floor = {}
    for kb in KnowledgeBase.objects.filter(slug__startswith="diy-").order_by("slug"):
        texts = list(Chunk.objects.filter(knowledge_base=kb).order_by("pk")
                     .values_list("text", flat=True))
        embedder = indexing.embedder_for(kb, bulk=True)
        passes = []
        for _ in range(2):
            began = time.perf_counter()
            embedder.embed_passages(texts)
            passes.append(time.perf_counter() - began)
        floor[kb.slug.removeprefix("diy-")] = {
            "seconds": round(min(passes), 2), "chunks": len(texts),
            "backend": getattr(embedder, "backend", "numpy"), "model": kb.embedding_model}
    return floor


def child(kind: str, work: Path) -> None:
    """One pipeline, cold: ingest, write the timing facts, then measure quality."""
    from debian_docs import Item

    plan = json.loads((work / "plan.json").read_text())
    folders = {lang: Path(p) for lang, p in plan["folders"].items()}
    items = {lang: [Item(**i) for i in rows] for lang, rows in plan["items"].items()}
    result: dict[str, Any] = {"kind": kind}
    if kind == "diy":
        built = run_diy(folders, work)
        result |= {"ingested_at": time.time(), "peak_rss_mib": peak_rss_mib(),
                   "chunks": built["chunks"], "failed": built["failed"]}
        result["quality"] = diy_quality(built["stores"], items)
    else:
        summaries = run_citewise(folders)
        result |= {"ingested_at": time.time(), "peak_rss_mib": peak_rss_mib(),
                   "torch_imported": "torch" in sys.modules}
        facts = citewise_facts(summaries)
        result |= {"chunks": {lang: f["chunks"] for lang, f in facts.items()},
                   "failed": [f for lang in facts for f in facts[lang]["failed"]],
                   "details": facts, "quality": citewise_quality(items),
                   "floor": citewise_floor()}
    (work / f"{kind}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1))


# ----- the parent: corpus, alternation, report --------------------------------------------

def prepare(languages: list[str], cache: Path, work: Path, limit: int | None) -> dict[str, Any]:
    """Build the corpora and their questions; `limit` keeps that many documents per
    language (and the questions about them), for a quick check of the script."""

    import debian_docs_corpus as corpus
    from debian_docs import hand_written, headings

    folders, items, documents, pages = {}, {}, 0, 0
    for language in languages:
        built = corpus.build(language, work / "corpus" / language, cache)
        for extra in sorted(built.folder.iterdir())[limit:] if limit else []:
            extra.unlink()
        kept = {p.name for p in built.folder.iterdir()}
        folders[language] = str(built.folder)
        questions = headings(built) + [i for i in hand_written(language)
                                       if i.kind in ("paraphrase", "typo")]
        items[language] = [asdict(i) for i in questions if i.document in kept]
        files = sorted(built.folder.iterdir())
        documents += len(files)
        pages += sum(page_count(f) for f in files)
    return {"folders": folders, "items": items, "documents": documents, "pages": pages}


def fresh_citewise_env(work: Path, run: int) -> dict[str, str]:
    """A new data directory with a migrated, empty database (migration is installation,
    not ingestion, so it is done before the timed process)."""
    data = work / f"citewise-data-{run}"
    env = {**os.environ, "CITEWISE_DATA_DIR": str(data),
           "DJANGO_SETTINGS_MODULE": "citewise.settings", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "CITEWISE_ENV": "development",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT),
                                          os.environ.get("PYTHONPATH", "")])}
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v", "0"],
                   env=env, check=True)
    # The ONNX graph is exported into the data directory on the model's first use, once
    # per installation: done here, untimed, and reported.
    began = time.perf_counter()
    subprocess.run([sys.executable, "-W", "ignore", "-c", PREPARE_MODEL], env=env, check=True)
    print(f"first use of the English model (ONNX export if any): "
          f"{time.perf_counter() - began:.1f} s, untimed", file=sys.stderr, flush=True)
    return env


PREPARE_MODEL = """import django; django.setup()
from django.conf import settings
from citewise.knowledge.indexing import embedder_config
from citewise.knowledge.models import KnowledgeBase
from retrieval.embedder import load_embedder
load_embedder(embedder_config(KnowledgeBase(embedding_model=settings.EMBEDDING_MODEL)))
"""


def spawn(kind: str, work: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.time()
    subprocess.run([sys.executable, "-W", "ignore", __file__, "--child", kind,
                    "--work", str(work)], env=env, check=True)
    result = json.loads((work / f"{kind}.json").read_text())
    result["seconds"] = round(result["ingested_at"] - started, 1)
    return result


def _quality_rows(label: str, quality: dict[str, Any]) -> list[str]:
    rows = []
    for language, kinds in quality.items():
        for kind, s in kinds.items():
            rows.append(f"| {label} | {language} {kind} | {s['recall_at_1']:.3f} | "
                        f"{s['recall_at_5']:.3f} | {s['mrr']:.3f} |")
    return rows


def report(plan: dict[str, Any], runs: list[dict[str, dict[str, Any]]]) -> str:
    docs, pages = plan["documents"], plan["pages"]
    lines = [f"{docs} documents, {pages} pages (PDF pages + 1 per other document), "
             f"languages {', '.join(plan['folders'])}; load average at the end "
             f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {len(os.sched_getaffinity(0))} "
             "CPUs", "",
             "| round | pipeline | seconds (cold process) | documents/s | pages/s | chunks | "
             "chunks/s | peak RSS MiB | failed |", "|---|---|---|---|---|---|---|---|---|"]
    for n, run in enumerate(runs, 1):
        for kind in ("diy", "citewise"):
            r = run[kind]
            chunks = sum(r["chunks"].values())
            lines.append(f"| {n} | {kind} | {r['seconds']:.1f} | {docs / r['seconds']:.3f} | "
                         f"{pages / r['seconds']:.2f} | {chunks} | {chunks / r['seconds']:.2f} | "
                         f"{r['peak_rss_mib']:.0f} | {len(r['failed'])} |")
        ratio = run["diy"]["seconds"] / run["citewise"]["seconds"]
        lines.append(f"| {n} | **Citewise speed / DIY speed** | **{ratio:.2f}x** | | | | | "
                     f"{run['citewise']['peak_rss_mib'] / run['diy']['peak_rss_mib']:.2f}x "
                     "memory | |")
    last = runs[-1]
    floor = last["citewise"]["floor"]
    floor_s = sum(f["seconds"] for f in floor.values())
    stages: dict[str, float] = {}
    for facts in last["citewise"]["details"].values():
        for stage, seconds in facts["stage_seconds"].items():
            stages[stage] = stages.get(stage, 0.0) + seconds
    lines += ["", "Citewise stages (sum over documents, last round): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()),
              "Floor (the same chunks embedded again, alone, same process): "
              + ", ".join(f"{lang} {f['chunks']} chunks {f['seconds']:.1f} s "
                          f"({f['model']}, {f['backend']})" for lang, f in floor.items())
              + f"; whole cold ingestion / floor = "
              f"{last['citewise']['seconds'] / floor_s:.2f}x, pipeline stages / floor = "
              f"{sum(stages.values()) / floor_s:.2f}x; torch loaded by Citewise's process: "
              f"{last['citewise'].get('torch_imported')}",
              "", "| pipeline | question set | Recall@1 | Recall@5 | MRR |",
              "|---|---|---|---|---|",
              *_quality_rows("DIY (FAISS, MiniLM)", last["diy"]["quality"]),
              *_quality_rows("Citewise (hybrid search)", last["citewise"]["quality"])]
    for kind in ("diy", "citewise"):
        if last[kind]["failed"]:
            lines.append(f"\n{kind} failures: " + "; ".join(map(str, last[kind]["failed"])))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", nargs="+", default=["en", "ko"], choices=["en", "ko"])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--cache", type=Path, default=None,
                        help="Debian package cache (default: debian_docs_corpus's)")
    parser.add_argument("--json", type=Path, help="also write every number (JSON)")
    parser.add_argument("--limit", type=int, help="documents per language (a quick check)")
    parser.add_argument("--child", choices=["diy", "citewise"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.work)
        return
    import importlib.util

    missing = [m for m in DIY_EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        sys.exit(f"missing {', '.join(missing)}: pip install -e '.[diy]'")
    import debian_docs_corpus as corpus

    work = Path(tempfile.mkdtemp(prefix="vs-diy-"))
    plan = prepare(args.languages, args.cache or corpus.DEFAULT_CACHE, work, args.limit)
    (work / "plan.json").write_text(json.dumps(plan, ensure_ascii=False))
    runs = []
    for n in range(args.rounds):
        order = ("diy", "citewise") if n % 2 == 0 else ("citewise", "diy")
        run = {}
        for kind in order:
            env = fresh_citewise_env(work, n) if kind == "citewise" else dict(os.environ)
            run[kind] = spawn(kind, work, env)
            print(f"round {n + 1} {kind}: {run[kind]['seconds']:.1f} s", file=sys.stderr,
                  flush=True)
        runs.append(run)
    print(report(plan, runs))
    if args.json:
        args.json.write_text(json.dumps({"plan": {k: v for k, v in plan.items()
                                                  if k != "items"}, "runs": runs},
                                        ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
